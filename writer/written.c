/* written.c - the writer's last points written, kept raw until they are asked for. */
#include "written.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "msgjson.h"

/* A slot's buffer grows to the largest point it held; one over this size is
 * given back when a point less than a quarter of it comes, so a burst of
 * huge points does not pin capacity times their size. */
#define SLOT_KEEP_BYTES (16 * 1024)

/* Where a slot's key and line are: gen 0 in its own buffer (a copy), else
 * in the memory of the generation gen: the held batch's (lent_gen) or the
 * lines taken over from the batch before (adopted_gen). */
#define GEN_COPY 0

typedef struct {
    const char *key; /* key_len bytes (none when 0) */
    const char *line;
    size_t key_len, line_len;
    uint64_t gen;
    bool kept; /* false: out of memory for its copy, left out */
    int32_t partition;
    int64_t offset;
    char *buf; /* a copy: the key's bytes, then the line's */
    size_t cap;
} slot;

struct written {
    pthread_mutex_t lock;
    slot *slots;
    size_t capacity;
    size_t next;         /* the slot the next point goes to */
    size_t count;        /* points kept, at most capacity */
    batch_lines adopted; /* the lines and keys taken over from a batch */
    uint64_t lent_gen, adopted_gen;
    size_t nlent, nadopted; /* points kept of each */
};

written *written_new(size_t capacity)
{
    written *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->capacity = capacity > 0 ? capacity : 1;
    w->slots = calloc(w->capacity, sizeof *w->slots);
    if (w->slots == NULL) {
        free(w);
        return NULL;
    }
    lineproto_buf_init(&w->adopted.text);
    lineproto_buf_init(&w->adopted.keys);
    w->adopted_gen = 1;
    w->lent_gen = 2;
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

/* Frees the slots' buffers and the lines taken over; no point may be kept. */
static void release_memory(written *w)
{
    for (size_t i = 0; i < w->capacity; i++) {
        free(w->slots[i].buf);
        w->slots[i].buf = NULL;
        w->slots[i].cap = 0;
    }
    lineproto_buf_fini(&w->adopted.text);
    lineproto_buf_fini(&w->adopted.keys);
}

void written_free(written *w)
{
    if (w == NULL)
        return;
    release_memory(w);
    free(w->slots);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The slot for the next point; the oldest point kept goes when capacity
 * are kept. */
static slot *next_slot(written *w)
{
    slot *s = &w->slots[w->next];
    if (w->count < w->capacity)
        w->count++;
    else if (s->gen == w->lent_gen)
        w->nlent--;
    else if (s->gen == w->adopted_gen)
        w->nadopted--;
    w->next = (w->next + 1) % w->capacity;
    return s;
}

/* Makes s's buffer hold at least need bytes; false when out of memory. */
static bool slot_room(slot *s, size_t need)
{
    if (s->buf != NULL && s->cap >= need &&
        !(s->cap > SLOT_KEEP_BYTES && need < s->cap / 4))
        return true;
    size_t cap = need < 256 ? 256 : need;
    char *b = realloc(s->buf, cap);
    if (b == NULL)
        return s->buf != NULL && s->cap >= need;
    s->buf = b;
    s->cap = cap;
    return true;
}

/* Copies key and line into s's own buffer. They may be what s points at,
 * in a batch's memory, never in that buffer. */
static void slot_copy(slot *s, const char *key, size_t key_len, const char *line,
                      size_t line_len)
{
    s->gen = GEN_COPY;
    s->kept = slot_room(s, key_len + line_len);
    if (!s->kept)
        return;
    if (key_len > 0)
        memcpy(s->buf, key, key_len);
    if (line_len > 0)
        memcpy(s->buf + key_len, line, line_len);
    s->key = s->buf;
    s->key_len = key_len;
    s->line = s->buf + key_len;
    s->line_len = line_len;
}

void written_keep(written *w, const void *key, size_t key_len, int32_t partition,
                  int64_t offset, const char *line, size_t line_len)
{
    if (key == NULL)
        key_len = 0;
    pthread_mutex_lock(&w->lock);
    slot *s = next_slot(w);
    s->partition = partition;
    s->offset = offset;
    slot_copy(s, key, key_len, line, line_len);
    pthread_mutex_unlock(&w->lock);
}

void written_keep_range(written *w, const batch *b, batch_range r)
{
    size_t hi = r.hi < b->n ? r.hi : b->n;
    if (r.lo >= hi)
        return;
    size_t lo = hi - r.lo > w->capacity ? hi - w->capacity : r.lo;
    pthread_mutex_lock(&w->lock);
    for (size_t i = lo; i < hi; i++) {
        const batch_entry *e = &b->e[i];
        slot *s = next_slot(w);
        s->key = batch_key(b, e);
        s->key_len = e->key_len;
        s->line = b->text.data + e->line_off;
        s->line_len = e->line_len > 0 ? e->line_len - 1 : 0;
        s->partition = e->partition;
        s->offset = e->offset;
        s->gen = w->lent_gen;
        s->kept = true;
        w->nlent++;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Copies the points kept in the lines taken over into their slots, newest
 * first: they sit right before those lent, or copied after them. */
static void copy_adopted(written *w)
{
    size_t left = w->nadopted;
    for (size_t i = 0; left > 0 && i < w->count; i++) {
        slot *s = &w->slots[(w->next + w->capacity - 1 - i) % w->capacity];
        if (s->gen != w->adopted_gen)
            continue;
        slot_copy(s, s->key, s->key_len, s->line, s->line_len);
        left--;
    }
    w->nadopted = 0;
}

void written_adopt(written *w, batch *b)
{
    pthread_mutex_lock(&w->lock);
    if (w->nlent > 0) {
        copy_adopted(w);
        batch_swap_lines(b, &w->adopted);
        w->adopted_gen = w->lent_gen;
        w->lent_gen++;
        w->nadopted = w->nlent;
        w->nlent = 0;
    }
    pthread_mutex_unlock(&w->lock);
}

/* s as the JSON text the ring keeps, into t: false when its key or line is
 * not UTF-8 or out of memory. */
static bool slot_json(const slot *s, lineproto_buf *t)
{
    lineproto_buf_truncate(t, 0);
    int rc = lineproto_buf_append(t, "{\"entity_id\":", 13);
    rc |= msgjson_dump_string(s->key_len > 0 ? s->key : "", s->key_len, t);
    rc |= lineproto_buf_append(t, ",\"partition\":", 13);
    rc |= lineproto_append_int(t, s->partition);
    rc |= lineproto_buf_append(t, ",\"offset\":", 10);
    rc |= lineproto_append_int(t, s->offset);
    rc |= lineproto_buf_append(t, ",\"line\":", 8);
    rc |= msgjson_dump_string(s->line_len > 0 ? s->line : "", s->line_len, t);
    rc |= lineproto_buf_append(t, "}", 1);
    return rc == 0;
}

void written_flush(written *w, hs_recent *r, bool release)
{
    lineproto_buf t;
    lineproto_buf_init(&t);
    pthread_mutex_lock(&w->lock);
    size_t first = (w->next + w->capacity - w->count) % w->capacity;
    for (size_t i = 0; i < w->count; i++) {
        const slot *s = &w->slots[(first + i) % w->capacity];
        if (!s->kept || !slot_json(s, &t))
            continue;
        /* The ring filters by entity id as a C string: up to 255 bytes of
         * the key, none when it has none. */
        char id[256];
        size_t n = s->key_len < sizeof id - 1 ? s->key_len : sizeof id - 1;
        if (n > 0)
            memcpy(id, s->key, n);
        id[n] = '\0';
        hs_recent_push_text(r, id[0] ? id : NULL, t.data, t.len);
    }
    w->count = 0;
    w->nlent = 0;
    w->nadopted = 0;
    if (release)
        release_memory(w);
    pthread_mutex_unlock(&w->lock);
    lineproto_buf_fini(&t);
}

size_t written_pending(written *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->count;
    pthread_mutex_unlock(&w->lock);
    return n;
}
