/* safemark.c - up to which event time everything handed on is safe. */
#include "safemark.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    int64_t ns;
    bool done;
} entry;

/* A ring of the entries from the oldest unsafe sequence number (base) on. */
struct safemark {
    entry *ring;
    size_t cap, head, count; /* entry of seq base + i at (head + i) % cap */
    uint64_t base;           /* sequence number of the ring's first entry */
    int64_t mark;
};

safemark *safemark_new(int64_t initial_ns)
{
    safemark *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->cap = 1024;
    m->ring = calloc(m->cap, sizeof(entry));
    if (m->ring == NULL) {
        free(m);
        return NULL;
    }
    m->base = 1;
    m->mark = initial_ns;
    return m;
}

void safemark_free(safemark *m)
{
    if (m == NULL)
        return;
    free(m->ring);
    free(m);
}

static int grow(safemark *m)
{
    size_t cap = m->cap * 2;
    entry *ring = malloc(cap * sizeof(entry));
    if (ring == NULL)
        return -1;
    for (size_t i = 0; i < m->count; i++)
        ring[i] = m->ring[(m->head + i) % m->cap];
    free(m->ring);
    m->ring = ring;
    m->cap = cap;
    m->head = 0;
    return 0;
}

uint64_t safemark_add(safemark *m, int64_t event_ns)
{
    if (m->count == m->cap && grow(m) != 0)
        return 0;
    m->ring[(m->head + m->count) % m->cap] = (entry){event_ns, false};
    m->count++;
    return m->base + m->count - 1;
}

void safemark_done(safemark *m, uint64_t seq)
{
    if (seq < m->base || seq >= m->base + m->count)
        return;
    m->ring[(m->head + (size_t)(seq - m->base)) % m->cap].done = true;
    while (m->count > 0 && m->ring[m->head].done) {
        if (m->ring[m->head].ns > m->mark)
            m->mark = m->ring[m->head].ns;
        m->head = (m->head + 1) % m->cap;
        m->count--;
        m->base++;
    }
}

int64_t safemark_time(const safemark *m)
{
    return m->mark;
}

size_t safemark_pending(const safemark *m)
{
    return m->count;
}
