/* hs_offtrack.c - which Kafka offsets may be committed.
 *
 * Each partition keeps its in-flight offsets in a ring buffer in the order
 * they were added, which is increasing offset order, with a done flag each.
 * Finishing the oldest entry pops every done entry at the head; the new head
 * (or the last popped offset + 1) is the commit point. Lookups are O(1) when
 * the offsets are contiguous and a binary search over the ring when Kafka
 * left gaps (compaction, transaction markers). A partition is found through
 * an open-addressing index on its number (a stage reads one or two topics
 * of up to some hundred partitions, and looks one up per message twice).
 * Each topic's name is copied once, and its partitions point at that copy,
 * so a caller passing the copy (hs_offtrack_topic) is matched by pointer. */
#include "hs_offtrack.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *topic; /* one of the tracker's topics */
    int32_t partition;
    int64_t *offsets; /* ring of cap entries, head at `head`, `count` used */
    unsigned char *done;
    size_t cap; /* a power of two, or 0 before the first add */
    size_t head;
    size_t count;
    bool has_last; /* an offset has been added since the partition was created */
    int64_t last_added;
} part;

struct hs_offtrack {
    part *parts;
    size_t nparts;
    size_t cap;
    /* icap slots (a power of two, at least twice nparts once a part
     * exists), each 0 or a part's index + 1, probed linearly from the
     * partition number. */
    uint32_t *index;
    size_t icap;
    uint64_t pending;
    char **topics; /* every topic seen, each once; freed with the tracker */
    size_t ntopics, topics_cap;
};

hs_offtrack *hs_offtrack_new(void)
{
    return calloc(1, sizeof(hs_offtrack));
}

static void part_fini(part *p)
{
    free(p->offsets);
    free(p->done);
}

void hs_offtrack_free(hs_offtrack *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        part_fini(&t->parts[i]);
    free(t->parts);
    free(t->index);
    for (size_t i = 0; i < t->ntopics; i++)
        free(t->topics[i]);
    free(t->topics);
    free(t);
}

/* A topic stays until the tracker goes: a forgotten partition's topic
 * usually comes back with the next assignment, and a stage reads a few. */
const char *hs_offtrack_topic(hs_offtrack *t, const char *topic)
{
    if (t == NULL || topic == NULL)
        return NULL;
    for (size_t i = 0; i < t->ntopics; i++)
        if (t->topics[i] == topic || strcmp(t->topics[i], topic) == 0)
            return t->topics[i];
    if (t->ntopics == t->topics_cap) {
        size_t ncap = t->topics_cap ? t->topics_cap * 2 : 4;
        char **nt = realloc(t->topics, ncap * sizeof *nt);
        if (nt == NULL)
            return NULL;
        t->topics = nt;
        t->topics_cap = ncap;
    }
    char *copy = strdup(topic);
    if (copy == NULL)
        return NULL;
    t->topics[t->ntopics++] = copy;
    return copy;
}

static size_t index_home(const hs_offtrack *t, int32_t partition)
{
    return (uint32_t)partition & (t->icap - 1);
}

static void index_put(hs_offtrack *t, size_t i)
{
    size_t h = index_home(t, t->parts[i].partition);
    while (t->index[h] != 0)
        h = (h + 1) & (t->icap - 1);
    t->index[h] = (uint32_t)i + 1;
}

/* Puts every part into the index, whose slots are all empty. */
static void index_fill(hs_offtrack *t)
{
    for (size_t i = 0; i < t->nparts; i++)
        index_put(t, i);
}

/* Refills the index with every part, in icap slots; -1 when out of memory
 * (the old index then stays). */
static int index_rebuild(hs_offtrack *t, size_t icap)
{
    uint32_t *index = calloc(icap, sizeof *index);
    if (index == NULL)
        return -1;
    free(t->index);
    t->index = index;
    t->icap = icap;
    index_fill(t);
    return 0;
}

static part *find_part(const hs_offtrack *t, const char *topic, int32_t partition)
{
    if (t->icap == 0)
        return NULL;
    for (size_t h = index_home(t, partition);; h = (h + 1) & (t->icap - 1)) {
        uint32_t k = t->index[h];
        if (k == 0)
            return NULL;
        part *p = &t->parts[k - 1];
        if (p->partition == partition &&
            (p->topic == topic || strcmp(p->topic, topic) == 0))
            return p;
    }
}

static part *get_or_add_part(hs_offtrack *t, const char *topic, int32_t partition)
{
    part *p = find_part(t, topic, partition);
    if (p != NULL)
        return p;
    if (t->nparts == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        part *np = realloc(t->parts, ncap * sizeof *np);
        if (np == NULL)
            return NULL;
        t->parts = np;
        t->cap = ncap;
    }
    if (2 * (t->nparts + 1) > t->icap && index_rebuild(t, t->icap ? t->icap * 2 : 16) < 0)
        return NULL;
    const char *copy = hs_offtrack_topic(t, topic);
    if (copy == NULL)
        return NULL;
    p = &t->parts[t->nparts];
    memset(p, 0, sizeof *p);
    p->topic = copy;
    p->partition = partition;
    index_put(t, t->nparts++);
    return p;
}

/* Doubles the ring, keeping the entries in order from index 0. */
static int part_grow(part *p)
{
    size_t ncap = p->cap ? p->cap * 2 : 64;
    int64_t *offs = malloc(ncap * sizeof *offs);
    unsigned char *done = malloc(ncap);
    if (offs == NULL || done == NULL) {
        free(offs);
        free(done);
        return -1;
    }
    for (size_t i = 0; i < p->count; i++) {
        size_t j = (p->head + i) & (p->cap - 1);
        offs[i] = p->offsets[j];
        done[i] = p->done[j];
    }
    free(p->offsets);
    free(p->done);
    p->offsets = offs;
    p->done = done;
    p->cap = ncap;
    p->head = 0;
    return 0;
}

static size_t slot(const part *p, size_t i)
{
    return (p->head + i) & (p->cap - 1);
}

/* Offsets added out of order (not greater than the last one added to the
 * partition) are refused with -1 as well: after seeking back, a stage must
 * forget the partition first. */
int hs_offtrack_add(hs_offtrack *t, const char *topic, int32_t partition, int64_t offset)
{
    if (t == NULL || topic == NULL)
        return -1;
    part *p = get_or_add_part(t, topic, partition);
    if (p == NULL)
        return -1;
    if (p->has_last && offset <= p->last_added)
        return -1;
    if (p->count == p->cap && part_grow(p) < 0)
        return -1;
    size_t s = slot(p, p->count);
    p->offsets[s] = offset;
    p->done[s] = 0;
    p->count++;
    p->has_last = true;
    p->last_added = offset;
    t->pending++;
    return 0;
}

/* Index (from the head) of offset in the ring, or -1 when it is not there. */
static long long find_index(const part *p, int64_t offset)
{
    if (p->count == 0)
        return -1;
    int64_t first = p->offsets[slot(p, 0)];
    if (offset < first || offset > p->offsets[slot(p, p->count - 1)])
        return -1;
    /* Contiguous offsets: the entry sits exactly offset - first places on. */
    uint64_t guess = (uint64_t)(offset - first);
    if (guess < p->count && p->offsets[slot(p, (size_t)guess)] == offset)
        return (long long)guess;
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = p->offsets[slot(p, mid)];
        if (v == offset)
            return (long long)mid;
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool hs_offtrack_done(hs_offtrack *t, const char *topic, int32_t partition,
                      int64_t offset, int64_t *commit_next)
{
    if (t == NULL || topic == NULL)
        return false;
    part *p = find_part(t, topic, partition);
    if (p == NULL)
        return false;
    long long idx = find_index(p, offset);
    if (idx < 0 || p->done[slot(p, (size_t)idx)])
        return false;
    p->done[slot(p, (size_t)idx)] = 1;
    t->pending--;
    if (idx != 0)
        return false;
    int64_t last = offset;
    while (p->count > 0 && p->done[p->head]) {
        last = p->offsets[p->head];
        p->head = (p->head + 1) & (p->cap - 1);
        p->count--;
    }
    if (commit_next != NULL)
        *commit_next = p->count > 0 ? p->offsets[p->head] : last + 1;
    return true;
}

void hs_offtrack_forget(hs_offtrack *t, const char *topic, int32_t partition)
{
    if (t == NULL || topic == NULL)
        return;
    part *p = find_part(t, topic, partition);
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->count; i++)
        if (!p->done[slot(p, i)])
            t->pending--;
    part_fini(p);
    size_t idx = (size_t)(p - t->parts);
    t->parts[idx] = t->parts[t->nparts - 1];
    t->nparts--;
    /* The last part moved into the gap: index every part again, in place
     * (a rebalance's rare path; no memory is needed). */
    memset(t->index, 0, t->icap * sizeof *t->index);
    index_fill(t);
}

uint64_t hs_offtrack_pending(const hs_offtrack *t)
{
    return t != NULL ? t->pending : 0;
}
