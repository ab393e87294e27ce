/* pipeline.h - the enricher's Kafka loop: consume raw, enrich, produce, and
 * store each input offset only once everything it caused is delivered.
 *
 * For every raw message the pipeline produces the enriched message (or a DLQ
 * record when the message is invalid) and, when the message changed who is
 * home or the weather, the enricher's own presence/weather record. The input
 * offset is done when all of those have good delivery reports; a failed
 * delivery is produced again after a pause (at-least-once, never dropped).
 * Per input partition, offsets are stored only up to the first one not yet
 * done (hs_offtrack), for all partitions in one rd_kafka_offsets_store
 * after each poll that served delivery reports, and committed by the
 * consumer's auto commit and at close.
 *
 * Rebalance: the consumer uses librdkafka's built-in assignment handling
 * (hs_kafka_consumer_new installs no rebalance callback; auto commit commits
 * what is stored before partitions are revoked) with the default eager
 * protocol: librdkafka 2.0.2's cooperative-sticky assignor aborts the
 * process on close (assertion in rd_kafka_sticky_assignor_state_destroy). The pipeline
 * compares the assignment once a second and forgets the in-flight tracking of partitions
 * it lost; a partition that comes back, or a message older than the last
 * one seen (a seek back after a rebalance), starts a new generation whose
 * offsets are tracked afresh, and late delivery reports of the previous
 * generation no longer store anything.
 *
 * pipeline_step() and pipeline_close() run on one thread; pipeline_stats(),
 * pipeline_health_kafka(), pipeline_recent() and pipeline_presence() may be
 * called from any thread. */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "poller.h"

typedef struct {
    const char *brokers;
    const char *group;
    const char *topic_raw;
    const char *topic_enriched;
    const char *topic_dlq;
    const char *site;
    bool metric;                       /* UNITS=metric */
    const char *presence_file;         /* PRESENCE_STATE_FILE, or NULL */
    poller *poller;                    /* borrowed; NULL: no weather, no presence URL */
    const char *const *consumer_extra; /* further librdkafka settings, or NULL */
    const char *const *producer_extra;
    bool tree_only; /* no fast path (see enrich.h): the benchmark's comparison */
} pipeline_opts;

typedef struct pipeline pipeline;

/* Creates the producer and the consumer (subscribed to topic_raw). The
 * strings of opts are copied. Returns NULL with a reason in err. */
pipeline *pipeline_new(const pipeline_opts *opts, char *err, size_t errlen);

/* One round: serves delivery reports, produces what waits for a retry,
 * consumes and handles up to a batch of messages, waiting at most
 * timeout_ms for the first. Returns 0, or -1 when the producer hit a fatal
 * error (the daemon must exit non-zero; nothing undelivered was stored). */
int pipeline_step(pipeline *p, int timeout_ms);

/* Clean shutdown within about timeout_ms (plus at most one second for the
 * consumer): stops consuming, waits for the outstanding deliveries (storing
 * their offsets), commits and closes the consumer, then the producer.
 * Returns the number of messages that were still undelivered (their offsets
 * were not stored). */
int pipeline_close(pipeline *p, int timeout_ms);

/* Frees everything; closes first when pipeline_close() was not called.
 * Accepts NULL and half-built pipelines. */
void pipeline_free(pipeline *p);

/* Queues text, a homestream_stats record (hs_statsrec.h), for topic_enriched
 * keyed by "enricher". Takes ownership of text (malloc'd, NUL-terminated) in
 * every case, NULL included. No input waits for the record, so its delivery
 * report stores no offset; a failed delivery counts in errors_total and
 * retries_total and is produced again like the presence and weather records
 * (one that Kafka refuses for good is dropped with an error log), and
 * stats_records_total counts the delivered ones. Call it from the thread of
 * pipeline_step(). Returns 0, or -1 when out of memory. */
int pipeline_publish_stats(pipeline *p, char *text);

/* Adds the stage counters to obj: events_in_total, events_out_total,
 * errors_total, dlq_total, last_event_time, presence_records_total,
 * weather_records_total, stats_records_total, retries_total, kafka_errors_total,
 * offsets_stored_total, inflight, events_in_per_s and events_out_per_s
 * (over the last 5 s), consumer_lag (sum of high watermark - position over
 * the assigned partitions, null when unknown). */
void pipeline_stats(pipeline *p, json_t *obj);

/* {"state":"ok"|"degraded"|"unhealthy", …} of the Kafka dependency. */
json_t *pipeline_health_kafka(pipeline *p);

/* The last enriched messages produced, as GET /events/recent wants them. */
json_t *pipeline_recent(pipeline *p, int limit, const char *entity_id);

/* The current presence snapshot (a new reference). */
json_t *pipeline_presence(pipeline *p);

#endif
