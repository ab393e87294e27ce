/* outq.h - a connection's queue of outgoing WebSocket messages (FIFO). */
#ifndef HASIM_OUTQ_H
#define HASIM_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outq_item {
    struct outq_item *next;
    int64_t not_before_us; /* monotonic time before which it must not be sent */
    bool alone;            /* send in a frame of its own, never coalesced */
    bool is_event;         /* an event message (counts for the fault options) */
    size_t len;
    char data[]; /* the message text, len bytes and a NUL */
} outq_item;

typedef struct {
    outq_item *head, *tail;
    size_t count;
    size_t bytes;
} outq;

void outq_init(outq *q);
/* Frees every queued item. */
void outq_fini(outq *q);
/* Appends a copy of the n bytes at parts[0..nparts) concatenated. Returns 0,
 * or -1 when out of memory. */
int outq_push(outq *q, const char *const *parts, const size_t *lens, int nparts,
              int64_t not_before_us, bool alone, bool is_event);
/* Inserts a copy of text at the front of the queue. Returns 0 or -1. */
int outq_push_front(outq *q, const char *text, size_t n, bool alone);
/* Removes and returns the first item (the caller frees it), or NULL. */
outq_item *outq_pop(outq *q);

#endif
