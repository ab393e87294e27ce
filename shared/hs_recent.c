/* hs_recent.c - a fixed ring of the last N events a stage handled.
 *
 * Each slot is one allocation: the event's text, a NUL, then the entity id
 * and its NUL when there is one. A listing copies the slots it wants while
 * holding the lock and parses them after releasing it, so the stage thread
 * never waits for the parsing. */
#include "hs_recent.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;   /* text, '\0', entity id, '\0'; NULL when the slot is empty */
    size_t len;  /* length of the text */
    bool has_id; /* an entity id follows the text */
} entry;

struct hs_recent {
    pthread_mutex_t lock;
    entry *ring;
    size_t capacity;
    size_t next; /* slot the next push writes */
    size_t count;
};

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
    pthread_mutex_destroy(&r->lock);
    free(r->ring);
    free(r);
}

/* The entity id stored after the text of e, or NULL. */
static const char *entry_id(const entry *e)
{
    return e->has_id ? e->buf + e->len + 1 : NULL;
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
    char *old = r->ring[r->next].buf;
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
    for (size_t i = 0; i < r->count && (size_t)got < want; i++) {
        const entry *e = &r->ring[(r->next + r->capacity - 1 - i) % r->capacity];
        const char *id = entry_id(e);
        if (entity_id != NULL && (id == NULL || strcmp(id, entity_id) != 0))
            continue;
        char *copy = malloc(e->len + 1);
        if (copy == NULL) {
            pthread_mutex_unlock(&r->lock);
            while (got > 0)
                free(texts[--got]);
            return -1;
        }
        memcpy(copy, e->buf, e->len + 1);
        texts[got] = copy;
        lens[got] = e->len;
        got++;
    }
    pthread_mutex_unlock(&r->lock);
    return got;
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
