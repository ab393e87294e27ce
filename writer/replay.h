/* replay.h - `homestream-writer --replay-dlq`: re-drives the writer's DLQ
 * records into TOPIC_ENRICHED once the user fixed what made InfluxDB reject
 * them (a field type conflict, a wrong retention policy, ...).
 *
 * It reads TOPIC_DLQ in its own consumer group "<KAFKA_GROUP>-dlq-replay"
 * from that group's committed offset (the earliest the first time), takes
 * every record whose stage is "writer", and produces its original payload
 * (payload, or payload_base64 decoded) back to TOPIC_ENRICHED keyed by the
 * payload's entity_id (else the site). Offsets are stored only after the
 * re-driven message was delivered, so running it twice never replays a
 * record twice, and a crash replays rather than loses. Records of other
 * stages, records whose payload was cut to fit the DLQ
 * ("payload_truncated":true, see hs_kafka_dlq_record_max), and records it
 * cannot read, are skipped and counted. It stops when it has reached the end
 * of every partition (or on the stop flag). */
#ifndef REPLAY_H
#define REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "wconfig.h"

typedef struct {
    uint64_t read;      /* DLQ records read */
    uint64_t replayed;  /* produced back and delivered */
    uint64_t skipped;   /* other stages' records, and the truncated ones */
    uint64_t truncated; /* of skipped: payload cut to fit the DLQ, not replayable */
    uint64_t invalid;   /* records that could not be read */
    uint64_t failed;    /* produce or delivery failures */
} replay_result;

/* Extracts the original payload of a DLQ record. Returns 0 with a malloc'd
 * *payload (and its length), 1 when the record belongs to another stage,
 * 2 when it is the stage's but its payload was truncated (only its first
 * part was kept, so it cannot be replayed), or -1 when it is not a DLQ
 * record. *payload is set only when 0 is returned. Exposed for unit tests. */
int replay_extract(const void *record, size_t len, const char *stage, char **payload,
                   size_t *payload_len);

/* Runs the replay; idle_ms bounds how long it waits at the end of the topic
 * for partitions to report their end. Returns 0 when everything read was
 * handled, -1 with a reason in err otherwise (setup failure, or failures
 * counted in out). */
int replay_dlq_run(const wconfig *cfg, volatile sig_atomic_t *stop, int idle_ms,
                   replay_result *out, char *err, size_t errlen);

#endif
