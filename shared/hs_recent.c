/* hs_recent.c - a fixed ring of the last N events a stage handled.
 *
 * The ring shares the events with the stage (json_incref), so a stage must
 * not modify an event after pushing it: the admin thread may be dumping it. */
#include "hs_recent.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *entity_id; /* NULL when the event had none */
    json_t *event;   /* one reference held by the ring */
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

static void entry_clear(entry *e)
{
    free(e->entity_id);
    json_decref(e->event);
    e->entity_id = NULL;
    e->event = NULL;
}

void hs_recent_free(hs_recent *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->capacity; i++)
        entry_clear(&r->ring[i]);
    pthread_mutex_destroy(&r->lock);
    free(r->ring);
    free(r);
}

/* When the entity id cannot be copied (out of memory) the event is not kept:
 * a listing must never show an event under the wrong filter. */
void hs_recent_push(hs_recent *r, const char *entity_id, json_t *event)
{
    if (r == NULL || event == NULL || r->capacity == 0)
        return;
    char *id = NULL;
    if (entity_id != NULL && (id = strdup(entity_id)) == NULL)
        return;
    json_incref(event);
    pthread_mutex_lock(&r->lock);
    entry old = r->ring[r->next];
    r->ring[r->next].entity_id = id;
    r->ring[r->next].event = event;
    r->next = (r->next + 1) % r->capacity;
    if (r->count < r->capacity)
        r->count++;
    pthread_mutex_unlock(&r->lock);
    entry_clear(&old);
}

/* A limit below 1 means the whole ring. Returns NULL only when out of
 * memory. */
json_t *hs_recent_list(hs_recent *r, int limit, const char *entity_id)
{
    json_t *arr = json_array();
    if (arr == NULL || r == NULL)
        return arr;
    size_t want = limit < 1 || (size_t)limit > r->capacity ? r->capacity : (size_t)limit;
    pthread_mutex_lock(&r->lock);
    size_t got = 0;
    for (size_t i = 0; i < r->count && got < want; i++) {
        const entry *e = &r->ring[(r->next + r->capacity - 1 - i) % r->capacity];
        if (entity_id != NULL &&
            (e->entity_id == NULL || strcmp(e->entity_id, entity_id) != 0))
            continue;
        if (json_array_append(arr, e->event) < 0) {
            pthread_mutex_unlock(&r->lock);
            json_decref(arr);
            return NULL;
        }
        got++;
    }
    pthread_mutex_unlock(&r->lock);
    return arr;
}
