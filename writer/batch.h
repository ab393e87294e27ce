/* batch.h - the writer's batch of line-protocol points and their Kafka
 * messages, with the rules for when to flush and how to split a rejected one.
 *
 * Pure: the clock is passed in (monotonic milliseconds) and nothing here
 * does I/O, so the flush and split rules are unit-tested directly. Not
 * thread-safe; the writer's poll thread owns it.
 *
 * Every entry is one Kafka message that produced one line. The lines sit
 * back to back in one text buffer, so any run of entries [lo, hi) is one
 * contiguous request body. A write goes through a plan: a stack of ranges,
 * starting with the whole batch; a rejected range is split in halves until
 * single points are left, which the caller sends to the DLQ. */
#ifndef BATCH_H
#define BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_offtrack.h"
#include "lineproto.h"

typedef struct {
    int32_t partition;
    int64_t offset;
    size_t line_off; /* where its line starts in the batch text */
    size_t line_len; /* including the '\n' */
    void *payload;   /* a copy of the message value, for the DLQ (in the batch) */
    size_t payload_len;
    size_t key_off; /* where a copy of the message key starts in the batch's keys */
    size_t key_len; /* 0: no key (batch_key gives NULL) */
    int64_t ts_ms;  /* the Kafka message timestamp, -1 until the caller sets it */
} batch_entry;

typedef struct {
    size_t lo, hi; /* entries [lo, hi) */
} batch_range;

typedef struct {
    size_t max_points; /* flush when this many points are held */
    size_t max_bytes;  /* flush before the text would pass this size */
    int64_t flush_ms;  /* flush when the oldest point waited this long */
} batch_limits;

/* A block of the batch's copies of payloads: entries point into blocks,
 * which never move, so adding an entry allocates only when a block fills
 * up. */
typedef struct batch_block batch_block;

typedef struct {
    batch_limits limits;
    lineproto_buf text;
    lineproto_buf keys;  /* the entries' keys, back to back */
    batch_block *blocks; /* in use, newest first */
    batch_block *spare;  /* emptied by batch_clear, for the next fill */
    size_t nspare;
    batch_entry *e;
    size_t n, cap;
    int64_t first_ms;  /* when the oldest entry was added */
    batch_range *plan; /* stack of ranges still to write; top is last */
    size_t nplan, plan_cap;
} batch;

void batch_init(batch *b, const batch_limits *limits);
/* Frees everything; accepts a zeroed or half-used batch. */
void batch_fini(batch *b);
/* Drops every entry and the plan; keeps the memory for reuse (of the
 * payload copies, up to 4 MiB of blocks). */
void batch_clear(batch *b);
/* Frees the memory an empty batch keeps for reuse (it stays usable, with
 * its limits); a batch with entries is left alone. */
void batch_release(batch *b);

/* Appends one entry whose line is the last line_len bytes of b->text (the
 * caller encoded it there with lineproto_encode). payload and key are
 * copied. Returns 0, or -1 when out of memory (the line is then removed). */
int batch_add_encoded(batch *b, size_t line_off, int32_t partition, int64_t offset,
                      const void *payload, size_t payload_len, const void *key,
                      size_t key_len, int64_t now_ms);

/* The key of entry e of b, NULL when it has none. */
static inline const void *batch_key(const batch *b, const batch_entry *e)
{
    return e->key_len > 0 ? b->keys.data + e->key_off : NULL;
}

/* The memory a batch's lines and keys are in, apart from the batch. */
typedef struct {
    lineproto_buf text;
    lineproto_buf keys;
} batch_lines;

/* Swaps b's text and keys with *lines, whose buffers come back empty: what
 * b's entries pointed into stays where it is, now in *lines, while b fills
 * again. Clear b next (its entries point nowhere). */
void batch_swap_lines(batch *b, batch_lines *lines);

/* True when the batch holds max_points, or its text reached max_bytes. */
bool batch_full(const batch *b);
/* True when the batch is not empty and its text is past max_bytes: a line
 * just written at the end of the text and not added yet belongs in the
 * next batch then. */
bool batch_text_over(const batch *b);
/* True when the batch is not empty and its oldest point waited flush_ms. */
bool batch_due(const batch *b, int64_t now_ms);
/* Milliseconds until batch_due turns true (0 when due, -1 when empty). */
int64_t batch_due_in(const batch *b, int64_t now_ms);

/* The body of a range: a pointer into the text and its length. */
const char *batch_range_text(const batch *b, batch_range r, size_t *len);

/* Starts the write plan with the whole batch. Returns 0 or -1 (OOM). */
int batch_plan_start(batch *b);
/* The range to write next, false when the plan is done. */
bool batch_plan_peek(const batch *b, batch_range *r);
/* The top range was written: pops it. */
void batch_plan_pop(batch *b);
/* The top range was rejected. A range of one entry is popped and returned
 * as true (the caller sends that entry to the DLQ); a longer one is
 * replaced by its two halves, the first half on top, and false returned.
 * Returns -1 when out of memory (plan unchanged). */
int batch_plan_split(batch *b);

/* Called when an entry's offset may be stored: partition, the offset the
 * group resumes from (hs_offtrack's commit_next). */
typedef void (*batch_commit_fn)(void *ud, int32_t partition, int64_t commit_next);

/* Marks the entries of r done in t (topic is the consumed topic) and calls
 * fn for every partition whose committable point advanced, with the last
 * such point. */
void batch_mark_done(const batch *b, batch_range r, hs_offtrack *t, const char *topic,
                     batch_commit_fn fn, void *ud);

#endif
