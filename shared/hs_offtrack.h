/* hs_offtrack.h - which Kafka offsets may be committed.
 *
 * A stage hands messages on out of order (delivery reports come back per
 * output partition; InfluxDB batches finish whole). Per input partition the
 * tracker keeps the offsets in flight and says the highest offset below which
 * everything is done, so a commit never passes a gap. Not thread-safe: use it
 * from the stage's poll thread. */
#ifndef HS_OFFTRACK_H
#define HS_OFFTRACK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hs_offtrack hs_offtrack;

hs_offtrack *hs_offtrack_new(void);
void hs_offtrack_free(hs_offtrack *t);

/* The tracker's own copy of topic (made on first use, kept until
 * hs_offtrack_free), or NULL when out of memory. Every call below takes any
 * string equal to a topic; given this copy, it finds the topic's partitions
 * by comparing the pointer rather than the text (a call per message). */
const char *hs_offtrack_topic(hs_offtrack *t, const char *topic);

/* Registers an offset as in flight. Offsets of one partition must be added
 * in increasing order. Returns 0, or -1 when out of memory. */
int hs_offtrack_add(hs_offtrack *t, const char *topic, int32_t partition, int64_t offset);

/* Marks an in-flight offset done. If that lets the partition's committable
 * point advance, returns true and sets *commit_next to the offset the group
 * should resume from (the lowest offset still in flight, or last done + 1). */
bool hs_offtrack_done(hs_offtrack *t, const char *topic, int32_t partition,
                      int64_t offset, int64_t *commit_next);

/* Forgets a partition (revoked in a rebalance). */
void hs_offtrack_forget(hs_offtrack *t, const char *topic, int32_t partition);

/* Offsets in flight across all partitions. */
uint64_t hs_offtrack_pending(const hs_offtrack *t);

#endif
