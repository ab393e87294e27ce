/* sink.h - the writer's loop: enriched events from Kafka into InfluxDB.
 *
 * One thread (the caller of sink_step) consumes TOPIC_ENRICHED, encodes each
 * message as line protocol into an accumulating batch, and sends a batch
 * when it is full, when its oldest point waited FLUSH_INTERVAL_MS, or as
 * soon as the consumer has nothing more queued. The HTTP request itself runs
 * on a second thread the sink owns, so consuming and encoding the next batch
 * go on while InfluxDB answers; every decision on the answer is taken back
 * on the polling thread. A batch being written is
 * held apart from the accumulating one until InfluxDB took all of it, so at
 * most two batches are in memory; while the held one cannot be written
 * (breaker open, auth failure) or the next one is full, the assigned
 * partitions are paused and Kafka keeps the data.
 *
 * Offsets are stored only for messages whose point InfluxDB accepted, that
 * went to the DLQ (after the DLQ delivery report), or that map to no point;
 * per partition never past one still in flight (hs_offtrack).
 *
 * The stats, health and recent functions may be called from any thread. */
#ifndef SINK_H
#define SINK_H

#include <signal.h>
#include <stddef.h>

#include <jansson.h>

#include "wconfig.h"

typedef struct sink sink;

/* Connects the consumer (group KAFKA_GROUP on TOPIC_ENRICHED), the DLQ
 * producer and the InfluxDB client. cfg must stay alive and unchanged (but
 * for runtime settings) until sink_free. Returns NULL with a reason in err. */
sink *sink_new(const wconfig *cfg, char *err, size_t errlen);

/* While *stop is non-zero, a write in progress is abandoned (its points stay
 * uncommitted) so the loop can see the stop. sink_shutdown turns this off
 * for its own last writes. */
void sink_set_stop_flag(sink *s, const volatile sig_atomic_t *stop);

/* Stops, then frees. Accepts NULL and a sink that was never run. */
void sink_free(sink *s);

/* One turn of the loop: writes what is due, then polls Kafka for at most
 * max_wait_ms (less when a write falls due earlier). */
void sink_step(sink *s, int max_wait_ms);

/* Clean stop within about deadline_ms: writes what is held if InfluxDB
 * takes it, waits for DLQ deliveries, stores offsets, and closes the
 * consumer (committing). Safe to call twice. */
void sink_shutdown(sink *s, int deadline_ms);

/* New JSON objects for the admin endpoint (see writer/README.md). */
json_t *sink_stats(sink *s);
json_t *sink_health(sink *s);
json_t *sink_recent(sink *s, int limit, const char *entity_id);

#endif
