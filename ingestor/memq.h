/* memq.h - a bounded in-memory FIFO of Kafka records (key + payload).
 *
 * Holds events the producer could not take at once (local queue full,
 * delivery failed) until they can be produced again, in arrival order. It is
 * bounded by record count and by bytes so a long Kafka outage cannot exhaust
 * memory; a push beyond the bounds fails and the caller counts the loss.
 * Not thread-safe. */
#ifndef INGESTOR_MEMQ_H
#define INGESTOR_MEMQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct memq memq;

/* Returns NULL when out of memory. max_records and max_bytes must be > 0. */
memq *memq_new(size_t max_records, size_t max_bytes);
/* Frees every record. Accepts NULL. */
void memq_free(memq *q);

/* Appends a copy of key (may be NULL) and payload with the caller's tag
 * (e.g. which topic) and sequence number. Returns 0, or -1 when the queue is
 * full or out of memory (nothing is kept). */
int memq_push(memq *q, int tag, uint64_t seq, const void *key, size_t keylen,
              const void *payload, size_t len);

/* Points to the oldest record (owned by the queue, valid until it is
 * popped). Returns 0, or -1 when empty. *key is NULL for a record without. */
int memq_peek(const memq *q, int *tag, uint64_t *seq, const void **key, size_t *keylen,
              const void **payload, size_t *len);

/* Drops the oldest record (no-op when empty). */
void memq_pop(memq *q);

size_t memq_count(const memq *q);
/* Bytes held: sum of keys and payloads. */
size_t memq_bytes(const memq *q);

#endif
