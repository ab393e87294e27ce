/* hs_kafka.h - librdkafka producer and consumer set up the homestream way.
 *
 * Producers are idempotent with acks=all and deliver a report for every
 * message. Consumers join a group with auto commit of *stored* offsets only
 * (enable.auto.offset.store=false): a stage stores an offset once the message
 * is safely handed on, so a crash replays rather than loses. */
#ifndef HS_KAFKA_H
#define HS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Called from rd_kafka_poll() for every produced message. msg->_private is
 * the msg_opaque given to hs_kafka_produce(). */
typedef void (*hs_kafka_dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* Creates an idempotent producer for `brokers`. extra is NULL or a
 * NULL-terminated list of key, value pairs of further librdkafka settings.
 * Returns NULL with a reason in err. */
rd_kafka_t *hs_kafka_producer_new(const char *brokers, hs_kafka_dr_fn dr, void *opaque,
                                  const char *const *extra, char *err, size_t errlen);

/* Creates a consumer in `group` subscribed to `topic`, reading from the
 * earliest offset when the group has none. extra as above. The caller must
 * poll with rd_kafka_consumer_poll() and close with hs_kafka_consumer_close().
 * Returns NULL with a reason in err. */
rd_kafka_t *hs_kafka_consumer_new(const char *brokers, const char *group, const char *topic,
                                  const char *const *extra, char *err, size_t errlen);

/* Reads up to max (at least 1) messages of consumer rk into msgs: the first
 * with rd_kafka_consumer_poll, waiting up to wait_ms (it also serves the
 * consumer's events and rebalances), then what else is queued behind it
 * in one call without waiting (rd_kafka_consume_batch_queue on q, the
 * consumer's queue from rd_kafka_queue_get_consumer), which takes the
 * queue's lock once per message but skips rd_kafka_consumer_poll's work
 * per call. Returns how many, 0 when none came; the caller destroys each. */
size_t hs_kafka_consume_some(rd_kafka_t *rk, rd_kafka_queue_t *q, int wait_ms,
                             rd_kafka_message_t **msgs, size_t max);

/* Produces a copy of payload (and key) to topic. On a full local queue it
 * polls and retries for at most block_ms (0: not at all). Returns 0, or the
 * rd_kafka_resp_err_t (negative or positive, never 0) on failure. */
int hs_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *payload, size_t len, void *msg_opaque, int block_ms);

/* Stores offset+1 for (topic, partition) so the next auto commit includes it. */
int hs_kafka_store_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t offset);

/* Commits stored offsets synchronously, closes the consumer and destroys it.
 * Accepts NULL. */
void hs_kafka_consumer_close(rd_kafka_t *rk);

/* Flushes outstanding messages for at most timeout_ms and destroys the
 * producer. Returns the number of messages still undelivered. Accepts NULL. */
int hs_kafka_producer_close(rd_kafka_t *rk, int timeout_ms);

/* Builds a DLQ record {"stage","error","at","payload"}. The payload stays
 * untouched: the original bytes as a JSON string when they are valid UTF-8,
 * else as "payload_base64" instead. Returns a malloc'd JSON text, or NULL
 * when out of memory. */
char *hs_kafka_dlq_record(const char *stage, const char *error, const void *payload,
                          size_t len);

/* The DLQ limit the stages use: below librdkafka's (and Kafka's) default
 * message.max.bytes of 1000000, with room for the key and headers. */
#define HS_KAFKA_DLQ_MAX_BYTES 900000

/* Builds the same record as hs_kafka_dlq_record, but never longer than
 * max_bytes (the JSON text, without its terminating NUL), so it can always
 * be produced. When the whole record fits, it is exactly what
 * hs_kafka_dlq_record gives. Otherwise:
 *  - the payload keeps only its first part: as "payload", cut on a UTF-8
 *    character boundary, when the payload is valid UTF-8, else as
 *    "payload_base64" of its first bytes; and the record gains
 *    "payload_truncated":true and "payload_bytes":<the original length>;
 *  - an error text longer than max_bytes / 4 (escaped) is cut to that
 *    length, ending in "..." (and when it alone was too long, the payload
 *    stays whole, without the two members above).
 * The kept part is as long as max_bytes allows. Returns a malloc'd JSON
 * text, or NULL when out of memory or when max_bytes cannot hold even the
 * record with an empty payload (about 200 bytes plus the cut error; use a
 * max_bytes of a few KB at least). */
char *hs_kafka_dlq_record_max(const char *stage, const char *error, const void *payload,
                              size_t len, size_t max_bytes);

#endif
