/* batch.c - the writer's batch of line-protocol points and their Kafka messages. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

void batch_init(batch *b, const batch_limits *limits)
{
    memset(b, 0, sizeof *b);
    b->limits = *limits;
    lineproto_buf_init(&b->text);
}

static void free_entries(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->e[i].payload);
        free(b->e[i].key);
    }
    b->n = 0;
}

void batch_fini(batch *b)
{
    if (b == NULL)
        return;
    free_entries(b);
    free(b->e);
    free(b->plan);
    lineproto_buf_fini(&b->text);
    memset(b, 0, sizeof *b);
}

void batch_clear(batch *b)
{
    free_entries(b);
    b->nplan = 0;
    lineproto_buf_truncate(&b->text, 0);
    b->first_ms = 0;
}

static void *dup_bytes(const void *p, size_t n, bool *ok)
{
    if (p == NULL || n == 0)
        return NULL;
    void *c = malloc(n);
    if (c == NULL)
        *ok = false;
    else
        memcpy(c, p, n);
    return c;
}

int batch_add_encoded(batch *b, size_t line_off, int32_t partition, int64_t offset,
                      const void *payload, size_t payload_len, const void *key,
                      size_t key_len, int64_t now_ms)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        batch_entry *e = realloc(b->e, cap * sizeof *e);
        if (e == NULL) {
            lineproto_buf_truncate(&b->text, line_off);
            return -1;
        }
        b->e = e;
        b->cap = cap;
    }
    bool ok = true;
    batch_entry *e = &b->e[b->n];
    e->partition = partition;
    e->offset = offset;
    e->line_off = line_off;
    e->line_len = b->text.len - line_off;
    e->payload = dup_bytes(payload, payload_len, &ok);
    e->payload_len = e->payload ? payload_len : 0;
    e->key = dup_bytes(key, key_len, &ok);
    e->key_len = e->key ? key_len : 0;
    e->ts_ms = -1;
    if (!ok) {
        free(e->payload);
        free(e->key);
        lineproto_buf_truncate(&b->text, line_off);
        return -1;
    }
    if (b->n == 0)
        b->first_ms = now_ms;
    b->n++;
    return 0;
}

bool batch_full(const batch *b)
{
    return b->n > 0 &&
           (b->n >= b->limits.max_points || b->text.len >= b->limits.max_bytes);
}

bool batch_would_overflow(const batch *b, size_t line_len)
{
    return b->n > 0 && b->text.len + line_len > b->limits.max_bytes;
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

typedef struct {
    int32_t partition;
    int64_t next;
} commit_point;

void batch_mark_done(const batch *b, batch_range r, hs_offtrack *t, const char *topic,
                     batch_commit_fn fn, void *ud)
{
    /* Few partitions: a small array of the latest point per partition. */
    commit_point pts[64];
    size_t npts = 0;
    for (size_t i = r.lo; i < r.hi && i < b->n; i++) {
        const batch_entry *e = &b->e[i];
        int64_t next;
        if (!hs_offtrack_done(t, topic, e->partition, e->offset, &next))
            continue;
        size_t k = 0;
        while (k < npts && pts[k].partition != e->partition)
            k++;
        if (k == npts) {
            if (npts == sizeof pts / sizeof pts[0]) {
                fn(ud, e->partition, next); /* table full: report at once */
                continue;
            }
            pts[npts++].partition = e->partition;
        }
        pts[k].next = next;
    }
    for (size_t k = 0; k < npts; k++)
        fn(ud, pts[k].partition, pts[k].next);
}
