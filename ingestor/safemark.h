/* safemark.h - up to which event time everything handed on is safe (pure).
 *
 * Every raw event handed to the producer gets a sequence number together
 * with its time; it becomes safe once Kafka acknowledged it or it was
 * written to the disk spool. The mark is the latest event time among the
 * events numbered below the oldest one not yet safe: after a restart,
 * history from the mark on recovers everything that might have been lost.
 * Not thread-safe. */
#ifndef INGESTOR_SAFEMARK_H
#define INGESTOR_SAFEMARK_H

#include <stddef.h>
#include <stdint.h>

typedef struct safemark safemark;

/* initial_ns: the mark before any event (INT64_MIN for none). Returns NULL
 * when out of memory. */
safemark *safemark_new(int64_t initial_ns);
/* Accepts NULL. */
void safemark_free(safemark *m);

/* Registers an event of time event_ns as in flight. Returns its sequence
 * number (>= 1), or 0 when out of memory (the event is then not tracked:
 * the caller should treat it as safe only when it is). */
uint64_t safemark_add(safemark *m, int64_t event_ns);

/* Marks seq safe. Unknown or repeated numbers are ignored. */
void safemark_done(safemark *m, uint64_t seq);

/* The current mark, INT64_MIN when there is none yet. */
int64_t safemark_time(const safemark *m);

/* Events in flight. */
size_t safemark_pending(const safemark *m);

#endif
