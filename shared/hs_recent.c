/* hs_recent.c - a fixed ring of the last N events a stage handled.
 *
 * Each slot is one allocation: the event's text, a NUL, then the entity id
 * and its NUL when there is one. A listing copies the slots it wants while
 * holding the lock and parses them after releasing it, so the stage thread
 * never waits for the parsing.
 *
 * hs_recent_pack() moves every slot into one deflate stream (the pack): the
 * same bytes, one after the other, each slot then naming its offset. Events
 * of one home repeat their member names and values, so the pack is several
 * times smaller than the slots. At most one pack exists; packing again
 * builds a new one from the old pack's slots and the newer ones, and a
 * pack whose every slot has been overwritten is freed. */
#include "hs_recent.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

typedef struct {
    char *buf;   /* text, '\0', entity id, '\0'; NULL when packed or empty */
    size_t off;  /* packed: where the same bytes start in the inflated pack */
    size_t len;  /* length of the text */
    bool packed; /* the bytes are in the pack */
    bool has_id; /* an entity id follows the text */
} entry;

typedef struct {
    unsigned char *z; /* the deflate stream (zlib format) */
    size_t zlen;
    size_t rawlen; /* bytes once inflated */
    size_t live;   /* slots whose bytes are in it */
} pack;

struct hs_recent {
    pthread_mutex_t lock;
    entry *ring;
    size_t capacity;
    size_t next; /* slot the next push writes */
    size_t count;
    pack *pack; /* NULL when no slot is packed */
};

static void pack_free(pack *p)
{
    if (p == NULL)
        return;
    free(p->z);
    free(p);
}

/* A capacity of 0 gives a ring that keeps nothing. */
hs_recent *hs_recent_new(size_t capacity)
{
    hs_recent *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->capacity = capacity;
    r->ring = calloc(capacity > 0 ? capacity : 1, sizeof *r->ring);
    if (r->ring == NULL || pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r->ring);
        free(r);
        return NULL;
    }
    return r;
}

void hs_recent_free(hs_recent *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->capacity; i++)
        free(r->ring[i].buf);
    pack_free(r->pack);
    pthread_mutex_destroy(&r->lock);
    free(r->ring);
    free(r);
}

/* The slot of the i-th oldest kept event (i < r->count). */
static entry *oldest(hs_recent *r, size_t i)
{
    return &r->ring[(r->next + r->capacity - r->count + i) % r->capacity];
}

/* The bytes of e (text, NUL, id, NUL): in its buffer, or at its offset in
 * the inflated pack, which the caller has inflated when e is packed. */
static const char *entry_bytes(const entry *e, const char *inflated)
{
    return e->packed ? inflated + e->off : e->buf;
}

/* The entity id stored after the text of e (bytes: entry_bytes), or NULL. */
static const char *entry_id(const entry *e, const char *bytes)
{
    return e->has_id ? bytes + e->len + 1 : NULL;
}

static size_t entry_size(const entry *e, const char *bytes)
{
    const char *id = entry_id(e, bytes);
    return e->len + 1 + (id != NULL ? strlen(id) + 1 : 0);
}

/* Forgets the slot's bytes before it is overwritten: its buffer is
 * returned (for the caller to free outside the lock), a packed slot leaves
 * the pack, and a pack no slot refers to any more is freed. */
static char *entry_drop(hs_recent *r, entry *e)
{
    char *old = e->buf;
    if (e->packed && --r->pack->live == 0) {
        pack_free(r->pack);
        r->pack = NULL;
    }
    *e = (entry){0};
    return old;
}

/* The pack inflated (r->pack->rawlen bytes), or NULL when there is no pack
 * or out of memory. Call with the lock held; free the result. */
static char *inflate_pack(const hs_recent *r)
{
    if (r->pack == NULL)
        return NULL;
    char *out = malloc(r->pack->rawlen > 0 ? r->pack->rawlen : 1);
    if (out == NULL)
        return NULL;
    uLongf n = (uLongf)r->pack->rawlen;
    if (uncompress((Bytef *)out, &n, r->pack->z, (uLong)r->pack->zlen) != Z_OK ||
        n != r->pack->rawlen) {
        free(out);
        return NULL;
    }
    return out;
}

/* When the slot cannot be allocated (out of memory) the event is not kept. */
void hs_recent_push_text(hs_recent *r, const char *entity_id, const char *text,
                         size_t len)
{
    if (r == NULL || text == NULL || r->capacity == 0)
        return;
    size_t idlen = entity_id != NULL ? strlen(entity_id) + 1 : 0;
    char *buf = malloc(len + 1 + idlen);
    if (buf == NULL)
        return;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (entity_id != NULL)
        memcpy(buf + len + 1, entity_id, idlen);
    pthread_mutex_lock(&r->lock);
    char *old = entry_drop(r, &r->ring[r->next]);
    r->ring[r->next] = (entry){.buf = buf, .len = len, .has_id = entity_id != NULL};
    r->next = (r->next + 1) % r->capacity;
    if (r->count < r->capacity)
        r->count++;
    pthread_mutex_unlock(&r->lock);
    free(old);
}

void hs_recent_push(hs_recent *r, const char *entity_id, json_t *event)
{
    if (r == NULL || event == NULL || r->capacity == 0)
        return;
    char *text = json_dumps(event, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return;
    hs_recent_push_text(r, entity_id, text, strlen(text));
    free(text);
}

/* Copies of the texts of the newest matching slots, at most want of them,
 * newest first, into texts (want slots) with their lengths in lens. Returns
 * how many, or -1 when out of memory (nothing is left allocated). */
static long copy_matching(hs_recent *r, size_t want, const char *entity_id, char **texts,
                          size_t *lens)
{
    long got = 0;
    pthread_mutex_lock(&r->lock);
    char *inflated = NULL; /* the pack, once a wanted slot is in it */
    for (size_t i = 0; i < r->count && (size_t)got < want; i++) {
        const entry *e = oldest(r, r->count - 1 - i);
        if (e->packed && inflated == NULL && (inflated = inflate_pack(r)) == NULL)
            goto fail;
        const char *bytes = entry_bytes(e, inflated);
        const char *id = entry_id(e, bytes);
        if (entity_id != NULL && (id == NULL || strcmp(id, entity_id) != 0))
            continue;
        char *copy = malloc(e->len + 1);
        if (copy == NULL)
            goto fail;
        memcpy(copy, bytes, e->len + 1);
        texts[got] = copy;
        lens[got] = e->len;
        got++;
    }
    pthread_mutex_unlock(&r->lock);
    free(inflated);
    return got;
fail:
    pthread_mutex_unlock(&r->lock);
    free(inflated);
    while (got > 0)
        free(texts[--got]);
    return -1;
}

/* A limit below 1 means the whole ring. */
json_t *hs_recent_list(hs_recent *r, int limit, const char *entity_id)
{
    json_t *arr = json_array();
    if (arr == NULL || r == NULL || r->capacity == 0)
        return arr;
    size_t want = limit < 1 || (size_t)limit > r->capacity ? r->capacity : (size_t)limit;
    char **texts = malloc(want * sizeof *texts);
    size_t *lens = malloc(want * sizeof *lens);
    long got = texts != NULL && lens != NULL
                   ? copy_matching(r, want, entity_id, texts, lens)
                   : -1;
    bool failed = got < 0;
    for (long i = 0; i < got; i++) {
        json_t *ev =
            failed ? NULL
                   : json_loadb(texts[i], lens[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (ev != NULL && json_array_append_new(arr, ev) < 0)
            failed = true;
        free(texts[i]);
    }
    free(texts);
    free(lens);
    if (failed) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* Builds the new pack's bytes: every kept slot's bytes, oldest first,
 * setting each slot's offset into them. Returns the buffer (size in *n), or
 * NULL when out of memory or the old pack cannot be read. */
static char *gather(hs_recent *r, const char *inflated, size_t *offs, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < r->count; i++) {
        const entry *e = oldest(r, i);
        total += entry_size(e, entry_bytes(e, inflated));
    }
    char *raw = malloc(total > 0 ? total : 1);
    if (raw == NULL)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < r->count; i++) {
        const entry *e = oldest(r, i);
        const char *bytes = entry_bytes(e, inflated);
        size_t size = entry_size(e, bytes);
        memcpy(raw + at, bytes, size);
        offs[i] = at;
        at += size;
    }
    *n = total;
    return raw;
}

void hs_recent_pack(hs_recent *r)
{
    if (r == NULL || r->capacity == 0)
        return;
    pthread_mutex_lock(&r->lock);
    bool loose = false; /* a slot pushed since the last pack */
    for (size_t i = 0; i < r->count && !loose; i++)
        loose = !oldest(r, i)->packed;
    char *inflated = NULL;
    size_t *offs = NULL;
    size_t rawlen = 0;
    char *raw = NULL;
    unsigned char *z = NULL;
    uLongf zlen = 0;
    pack *p = NULL;
    if (!loose || (r->pack != NULL && (inflated = inflate_pack(r)) == NULL) ||
        (offs = malloc(r->count * sizeof *offs)) == NULL ||
        (raw = gather(r, inflated, offs, &rawlen)) == NULL)
        goto out;
    zlen = compressBound((uLong)rawlen);
    z = malloc(zlen);
    p = malloc(sizeof *p);
    /* A pack that saves nothing is not kept. */
    if (z == NULL || p == NULL || compress2(z, &zlen, (const Bytef *)raw, (uLong)rawlen,
                                            Z_DEFAULT_COMPRESSION) != Z_OK ||
        zlen >= rawlen)
        goto out;
    unsigned char *fit = realloc(z, zlen > 0 ? zlen : 1);
    if (fit != NULL)
        z = fit;
    *p = (pack){.z = z, .zlen = zlen, .rawlen = rawlen, .live = r->count};
    for (size_t i = 0; i < r->count; i++) {
        entry *e = oldest(r, i);
        free(e->buf);
        *e = (entry){.off = offs[i], .len = e->len, .packed = true, .has_id = e->has_id};
    }
    pack_free(r->pack);
    r->pack = p;
    z = NULL;
    p = NULL;
out:
    pthread_mutex_unlock(&r->lock);
    free(p);
    free(z);
    free(raw);
    free(offs);
    free(inflated);
}
