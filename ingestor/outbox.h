/* outbox.h - where the ingestor's records go: the Kafka producer, or, while
 * Kafka cannot take them, the disk spool.
 *
 * Records are handed to the producer without ever blocking. When its local
 * queue is full, a delivery failed, or Kafka looks unreachable (records in
 * flight and no delivery report for 15 s), records are parked: appended to
 * the spool in SPOOL_DIR (or, without a usable spool, kept in a bounded
 * memory queue). Once parked records exist, new ones queue behind them, so
 * order is kept; they are replayed in order when Kafka takes records again.
 * When even the spool is full, the record is counted as not kept, logged,
 * and /health turns degraded.
 *
 * The outbox also keeps the safe mark (see safemark.h) and stores it in
 * SPOOL_DIR/last_event_time at most once a second, after syncing the spool.
 *
 * Everything but outbox_stats_json() and outbox_health() runs on the
 * ingest thread; those two may be called from the admin thread. */
#ifndef INGESTOR_OUTBOX_H
#define INGESTOR_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct {
    const char *brokers;
    const char *topic_raw;
    const char *topic_dlq;
    const char *topic_stats; /* where outbox_stats() records go */
    const char *dlq_key;     /* key of DLQ records (the site) */
    const char *spool_dir;   /* NULL or "": no spool, memory only */
    uint64_t spool_max_bytes;
    size_t memq_max_events;
    const char *const *kafka_extra; /* extra librdkafka settings, or NULL */
} outbox_opts;

typedef struct outbox outbox;

/* Creates the producer and opens the spool. A spool that cannot be opened
 * is not fatal: the outbox logs why and runs on the memory queue. Returns
 * NULL with a reason in err when the producer cannot be created. */
outbox *outbox_new(const outbox_opts *opts, char *err, size_t errlen);

/* Destroys the producer and closes the spool without flushing: call
 * outbox_shutdown() first. Accepts NULL and a half-built outbox. */
void outbox_free(outbox *o);

/* Hands on a raw event whose time (new_state.last_updated, else
 * time_fired) is event_ns; key/payload are copied. */
void outbox_raw(outbox *o, const void *key, size_t keylen, const void *payload,
                size_t len, int64_t event_ns);

/* Hands on a DLQ record (as built by hs_kafka_dlq_record). */
void outbox_dlq(outbox *o, const void *record, size_t len);

/* Hands on a homestream_stats record (keyed by dlq_key, the site). */
void outbox_stats(outbox *o, const void *record, size_t len);

/* Serves delivery reports, replays parked records while Kafka takes them,
 * syncs the spool and stores the safe mark. Call it every loop turn. */
void outbox_poll(outbox *o, int64_t now_ms);

/* Shutdown within budget_ms: hands parked records to Kafka while it takes
 * them, flushes, then spools whatever is still undelivered and stores the
 * mark. Returns the number of records lost (neither delivered nor
 * spooled). */
uint64_t outbox_shutdown(outbox *o, int budget_ms);

/* The safe mark loaded at open or reached since (INT64_MIN: none). */
int64_t outbox_mark(const outbox *o);

/* The latest event time handed on in this process (INT64_MIN: none). */
int64_t outbox_last_handed(const outbox *o);

/* Raw events Kafka acknowledged. Thread-safe. */
uint64_t outbox_events_out(const outbox *o);

/* Errors of any kind counted by the outbox. Thread-safe. */
uint64_t outbox_errors(const outbox *o);

/* Dead letters the outbox made itself (events larger than Kafka accepts,
 * sent to the DLQ cut to fit). Thread-safe. */
uint64_t outbox_dlq_made(const outbox *o);

/* The "kafka" object of /stats. Thread-safe. */
json_t *outbox_stats_json(outbox *o, int64_t now_ms);

/* Kafka's state for /health ("ok", "unreachable", "failing") and whether
 * the outbox is degraded (records parked, or not kept recently).
 * Thread-safe; returns a new object {"state",...}. */
json_t *outbox_health(outbox *o, int64_t now_ms, bool *degraded);

#endif
