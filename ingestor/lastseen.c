/* lastseen.c - per-entity last_updated of what was produced. */
#include "lastseen.h"
#include "strhash.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key; /* NULL: empty slot */
    int64_t ns;
} slot;

struct lastseen {
    slot *slots;
    size_t cap; /* power of two, at least twice count */
    size_t count, max;
};

lastseen *lastseen_new(size_t max_entities)
{
    lastseen *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->max = max_entities > 0 ? max_entities : 1;
    /* Start small (a power of two); grow() doubles on demand. */
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof(slot));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void lastseen_free(lastseen *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or the empty slot where it would go. */
static slot *find(const slot *slots, size_t cap, const char *key)
{
    size_t i = (size_t)strhash(key) & (cap - 1);
    for (;;) {
        const slot *s = &slots[i];
        if (s->key == NULL || strcmp(s->key, key) == 0)
            return (slot *)s;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(lastseen *m)
{
    size_t cap = m->cap * 2;
    slot *slots = calloc(cap, sizeof(slot));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != NULL)
            *find(slots, cap, m->slots[i].key) = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int64_t lastseen_get(const lastseen *m, const char *entity_id)
{
    const slot *s = find(m->slots, m->cap, entity_id);
    return s->key != NULL ? s->ns : INT64_MIN;
}

bool lastseen_is_new(const lastseen *m, const char *entity_id, int64_t ns)
{
    int64_t last = lastseen_get(m, entity_id);
    return last == INT64_MIN || ns > last;
}

int lastseen_note(lastseen *m, const char *entity_id, int64_t ns)
{
    slot *s = find(m->slots, m->cap, entity_id);
    if (s->key != NULL) {
        if (ns > s->ns)
            s->ns = ns;
        return 0;
    }
    if (m->count >= m->max)
        return -1;
    /* Keep the load factor at or below one half. */
    if ((m->count + 1) * 2 > m->cap) {
        if (grow(m) != 0)
            return -1;
        s = find(m->slots, m->cap, entity_id);
    }
    s->key = strdup(entity_id);
    if (s->key == NULL)
        return -1;
    s->ns = ns;
    m->count++;
    return 0;
}

size_t lastseen_count(const lastseen *m)
{
    return m->count;
}
