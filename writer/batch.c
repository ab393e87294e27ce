/* batch.c - the writer's batch of line-protocol points and their Kafka messages. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

/* Payload copies go into blocks of this size (a larger payload gets a
 * block of its own). A cleared batch keeps up to KEEP_BLOCKS of them
 * (4 MiB, most of a full batch of ~860-byte payloads) for the next fill,
 * rather than freeing and allocating again some 40 blocks a batch. */
#define BLOCK_BYTES (64 * 1024)
#define KEEP_BLOCKS 64

struct batch_block {
    batch_block *next;
    size_t cap, used;
    unsigned char data[];
};

void batch_init(batch *b, const batch_limits *limits)
{
    memset(b, 0, sizeof *b);
    b->limits = *limits;
    lineproto_buf_init(&b->text);
    lineproto_buf_init(&b->keys);
}

static void free_chain(batch_block *p)
{
    while (p != NULL) {
        batch_block *next = p->next;
        free(p);
        p = next;
    }
}

/* Moves the blocks in use to the spare ones, up to KEEP_BLOCKS of
 * BLOCK_BYTES; frees the others. */
static void recycle_blocks(batch *b)
{
    batch_block *p = b->blocks;
    b->blocks = NULL;
    while (p != NULL) {
        batch_block *next = p->next;
        if (p->cap == BLOCK_BYTES && b->nspare < KEEP_BLOCKS) {
            p->used = 0;
            p->next = b->spare;
            b->spare = p;
            b->nspare++;
        } else {
            free(p);
        }
        p = next;
    }
}

void batch_fini(batch *b)
{
    if (b == NULL)
        return;
    free_chain(b->blocks);
    free_chain(b->spare);
    free(b->e);
    free(b->plan);
    lineproto_buf_fini(&b->text);
    lineproto_buf_fini(&b->keys);
    memset(b, 0, sizeof *b);
}

void batch_clear(batch *b)
{
    b->n = 0;
    recycle_blocks(b);
    b->nplan = 0;
    lineproto_buf_truncate(&b->text, 0);
    lineproto_buf_truncate(&b->keys, 0);
    b->first_ms = 0;
}

void batch_release(batch *b)
{
    if (b->n > 0)
        return;
    batch_limits limits = b->limits;
    batch_fini(b);
    batch_init(b, &limits);
}

/* A block with room for n more bytes at the head of the chain in use: a
 * spare one when n fits in BLOCK_BYTES, else a new one. NULL when out of
 * memory. */
static batch_block *new_block(batch *b, size_t n)
{
    batch_block *k;
    if (n <= BLOCK_BYTES && b->spare != NULL) {
        k = b->spare;
        b->spare = k->next;
        b->nspare--;
    } else {
        size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
        k = malloc(sizeof *k + cap);
        if (k == NULL)
            return NULL;
        k->cap = cap;
        k->used = 0;
    }
    k->next = b->blocks;
    b->blocks = k;
    return k;
}

/* A copy of n bytes of p in the batch's blocks, or NULL for no bytes, or
 * when out of memory (then *ok is set false). */
static void *store_bytes(batch *b, const void *p, size_t n, bool *ok)
{
    if (p == NULL || n == 0)
        return NULL;
    batch_block *k = b->blocks;
    if (k == NULL || k->cap - k->used < n) {
        k = new_block(b, n);
        if (k == NULL) {
            *ok = false;
            return NULL;
        }
    }
    void *c = k->data + k->used;
    memcpy(c, p, n);
    k->used += n;
    return c;
}

/* Copies n bytes, a call to memcpy only past 32: keys are entity ids of
 * some 20 bytes, for which the call and its size checks cost as much as
 * the copy. */
static void copy_short(char *to, const char *from, size_t n)
{
    if (n > 32) {
        memcpy(to, from, n);
    } else if (n >= 16) {
        memcpy(to, from, 16); /* two overlapping 16-byte moves */
        memcpy(to + n - 16, from + n - 16, 16);
    } else if (n >= 8) {
        memcpy(to, from, 8);
        memcpy(to + n - 8, from + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            to[i] = from[i];
    }
}

/* Appends the n bytes of key (n > 0) to the batch's keys; false when out
 * of memory (the keys unchanged). */
static bool store_key(batch *b, const void *key, size_t n)
{
    lineproto_buf *k = &b->keys;
    if (k->cap - k->len <= n && lineproto_buf_reserve(k, n) < 0)
        return false;
    copy_short(k->data + k->len, key, n);
    k->len += n;
    k->data[k->len] = '\0'; /* as every lineproto_buf */
    return true;
}

/* Room for one more entry; -1 when out of memory. */
static int grow_entries(batch *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    batch_entry *e = realloc(b->e, cap * sizeof *e);
    if (e == NULL)
        return -1;
    b->e = e;
    b->cap = cap;
    return 0;
}

int batch_add_encoded(batch *b, size_t line_off, int32_t partition, int64_t offset,
                      const void *payload, size_t payload_len, const void *key,
                      size_t key_len, int64_t now_ms)
{
    if (key == NULL)
        key_len = 0;
    bool ok = b->n < b->cap || grow_entries(b) == 0;
    void *copy = ok ? store_bytes(b, payload, payload_len, &ok) : NULL;
    size_t key_off = b->keys.len;
    if (ok && key_len > 0)
        ok = store_key(b, key, key_len);
    if (!ok) {
        /* A payload stored before the key failed stays unused in its block
         * until the batch is cleared. */
        lineproto_buf_truncate(&b->text, line_off);
        return -1;
    }
    batch_entry *e = &b->e[b->n];
    e->partition = partition;
    e->offset = offset;
    e->line_off = line_off;
    e->line_len = b->text.len - line_off;
    e->payload = copy;
    e->payload_len = copy ? payload_len : 0;
    e->key_off = key_off;
    e->key_len = key_len;
    e->ts_ms = -1;
    if (b->n == 0)
        b->first_ms = now_ms;
    b->n++;
    return 0;
}

void batch_swap_lines(batch *b, batch_lines *lines)
{
    batch_lines mine = {b->text, b->keys};
    b->text = lines->text;
    b->keys = lines->keys;
    *lines = mine;
    lineproto_buf_truncate(&b->text, 0);
    lineproto_buf_truncate(&b->keys, 0);
}

bool batch_full(const batch *b)
{
    return b->n > 0 &&
           (b->n >= b->limits.max_points || b->text.len >= b->limits.max_bytes);
}

bool batch_text_over(const batch *b)
{
    return b->n > 0 && b->text.len > b->limits.max_bytes;
}

bool batch_due(const batch *b, int64_t now_ms)
{
    return b->n > 0 && now_ms - b->first_ms >= b->limits.flush_ms;
}

int64_t batch_due_in(const batch *b, int64_t now_ms)
{
    if (b->n == 0)
        return -1;
    int64_t left = b->first_ms + b->limits.flush_ms - now_ms;
    return left > 0 ? left : 0;
}

const char *batch_range_text(const batch *b, batch_range r, size_t *len)
{
    if (r.lo >= r.hi || r.hi > b->n) {
        *len = 0;
        return "";
    }
    const batch_entry *last = &b->e[r.hi - 1];
    *len = last->line_off + last->line_len - b->e[r.lo].line_off;
    return b->text.data + b->e[r.lo].line_off;
}

static int plan_push(batch *b, batch_range r)
{
    if (b->nplan == b->plan_cap) {
        size_t cap = b->plan_cap ? b->plan_cap * 2 : 16;
        batch_range *p = realloc(b->plan, cap * sizeof *p);
        if (p == NULL)
            return -1;
        b->plan = p;
        b->plan_cap = cap;
    }
    b->plan[b->nplan++] = r;
    return 0;
}

int batch_plan_start(batch *b)
{
    b->nplan = 0;
    if (b->n == 0)
        return 0;
    return plan_push(b, (batch_range){0, b->n});
}

bool batch_plan_peek(const batch *b, batch_range *r)
{
    if (b->nplan == 0)
        return false;
    *r = b->plan[b->nplan - 1];
    return true;
}

void batch_plan_pop(batch *b)
{
    if (b->nplan > 0)
        b->nplan--;
}

int batch_plan_split(batch *b)
{
    if (b->nplan == 0)
        return -1;
    batch_range r = b->plan[b->nplan - 1];
    if (r.hi - r.lo <= 1) {
        b->nplan--;
        return 1;
    }
    size_t mid = r.lo + (r.hi - r.lo) / 2;
    /* The first half goes on top so points keep their order; the second
     * half takes the rejected range's slot. */
    if (plan_push(b, (batch_range){r.lo, mid}) < 0)
        return -1;
    b->plan[b->nplan - 2] = (batch_range){mid, r.hi};
    return 0;
}

/* The latest commit point of each partition met in a range. Few
 * partitions: up to MARK_POINTS of them, found through the one met last
 * (a fetch hands out runs of one partition) or an open-addressed index on
 * the number, twice as large. */
#define MARK_POINTS 64
#define MARK_INDEX (2 * MARK_POINTS)

typedef struct {
    int32_t partition;
    int64_t next;
} commit_point;

typedef struct {
    commit_point pts[MARK_POINTS];
    size_t n;
    size_t last;                     /* the point met last, when n > 0 */
    unsigned char index[MARK_INDEX]; /* 0, or a point's position + 1 */
} commit_points;

/* The point of partition in c, added when new; NULL when c is full. */
static commit_point *commit_point_of(commit_points *c, int32_t partition)
{
    if (c->n > 0 && c->pts[c->last].partition == partition)
        return &c->pts[c->last];
    size_t h = (uint32_t)partition % MARK_INDEX;
    while (c->index[h] != 0 && c->pts[c->index[h] - 1].partition != partition)
        h = (h + 1) % MARK_INDEX;
    if (c->index[h] == 0) {
        if (c->n == MARK_POINTS)
            return NULL;
        c->pts[c->n].partition = partition;
        c->index[h] = (unsigned char)++c->n;
    }
    c->last = c->index[h] - 1u;
    return &c->pts[c->last];
}

void batch_mark_done(const batch *b, batch_range r, hs_offtrack *t, const char *topic,
                     batch_commit_fn fn, void *ud)
{
    commit_points c;
    c.n = 0;
    memset(c.index, 0, sizeof c.index);
    for (size_t i = r.lo; i < r.hi && i < b->n; i++) {
        const batch_entry *e = &b->e[i];
        int64_t next;
        if (!hs_offtrack_done(t, topic, e->partition, e->offset, &next))
            continue;
        commit_point *p = commit_point_of(&c, e->partition);
        if (p == NULL)
            fn(ud, e->partition, next); /* table full: report at once */
        else
            p->next = next;
    }
    for (size_t k = 0; k < c.n; k++)
        fn(ud, c.pts[k].partition, c.pts[k].next);
}
