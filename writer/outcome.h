/* outcome.h - what the writer does with InfluxDB's answer to a write.
 *
 * Pure: the classifier, the Retry-After parser and the backoff take the
 * status, headers, clock and randomness as arguments.
 *
 *   OK     2xx: the points are stored; their offsets may be committed.
 *   RETRY  429, 5xx, 408, timeouts, refused or broken connections: write the
 *          same range again later (Retry-After honoured, else backoff).
 *   DROP   400 and 422 (InfluxDB rejected points), 413 (body too large):
 *          split the range; a single point left is sent to the DLQ.
 *   FATAL  401, 403, 404 and other 4xx: the configuration is wrong (token,
 *          database, bucket); /health turns unhealthy, retries are slow
 *          (30 s) and nothing is committed until a write succeeds. */
#ifndef OUTCOME_H
#define OUTCOME_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    OUTCOME_OK = 0,
    OUTCOME_RETRY,
    OUTCOME_DROP,
    OUTCOME_FATAL,
} outcome_kind;

/* Slow retry period while FATAL, in ms. */
#define OUTCOME_FATAL_RETRY_MS 30000
/* Backoff bounds for RETRY, in ms. */
#define OUTCOME_BACKOFF_MIN_MS 100
#define OUTCOME_BACKOFF_MAX_MS 30000
/* A Retry-After longer than this is capped (ms). */
#define OUTCOME_RETRY_AFTER_MAX_MS 300000

/* Classifies an HTTP status; status 0 means no answer (transport error). */
outcome_kind outcome_classify(long status);
const char *outcome_name(outcome_kind k);

/* Parses a Retry-After value: delta seconds ("120") or an HTTP date
 * ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 and asctime forms too), relative
 * to now_wall_s (seconds since the epoch). A date in the past gives 0.
 * Sets *delay_ms (capped at OUTCOME_RETRY_AFTER_MAX_MS). Returns 0, or -1
 * when value is not one of those forms. */
int outcome_parse_retry_after(const char *value, int64_t now_wall_s, int64_t *delay_ms);

/* Exponential backoff with jitter for the attempt-th consecutive failure
 * (0 for the first): base = 100 ms * 2^attempt capped at 30 s, result in
 * [base/2, base] chosen by rnd (any 32-bit random number). */
int64_t outcome_backoff_ms(unsigned attempt, uint32_t rnd);

/* Extracts InfluxDB's error text from a response body: the "error" member
 * (v1), the "message" member (v2/v3), else the body itself trimmed. Writes
 * at most outlen-1 bytes and NUL-terminates. */
void outcome_error_text(const char *body, size_t len, char *out, size_t outlen);

#endif
