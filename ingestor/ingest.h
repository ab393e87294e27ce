/* ingest.h - the ingestor daemon: Home Assistant WebSocket in, Kafka out.
 *
 * One thread runs everything that touches the WebSocket and the producer:
 * lws service, rd_kafka_poll() for delivery reports, timers (pings,
 * reconnect backoff) and the retry of events the producer could not take.
 * The admin endpoint runs in its own thread and reads only atomics and
 * what the ingest lock guards. */
#ifndef INGESTOR_INGEST_H
#define INGESTOR_INGEST_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

typedef struct ingest ingest;

/* Exit statuses ingest_run() returns. */
enum {
    INGEST_EXIT_OK = 0,
    INGEST_EXIT_FAILURE = 1,
    INGEST_EXIT_AUTH = 2, /* Home Assistant refused HA_TOKEN */
};

/* Sets up the producer, the WebSocket client and the admin endpoint from
 * cfg. cfg stays owned by the caller and must outlive the ingest; the
 * runtime-changeable settings in it are then only touched under the ingest
 * lock (PUT /config). Returns NULL with a reason in err. */
ingest *ingest_new(struct ingestor_config *cfg, char *err, size_t errlen);

/* Runs until *stop becomes non-zero, then flushes and returns
 * INGEST_EXIT_OK; returns INGEST_EXIT_AUTH when Home Assistant refused the
 * token before any successful authentication in this process. */
int ingest_run(ingest *in, volatile sig_atomic_t *stop);

/* Stops the admin endpoint and frees everything. Accepts NULL and a
 * half-built ingest. */
void ingest_free(ingest *in);

#endif
