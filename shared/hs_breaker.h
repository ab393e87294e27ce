/* hs_breaker.h - the circuit breaker every remote dependency sits behind.
 *
 * closed -> open after `failure_threshold` consecutive failures, or when the
 * failure rate over the last `window` calls reaches `failure_rate` (once at
 * least `min_calls` are in the window); a call slower than `slow_call_ms`
 * counts as a failure. open -> half-open once the cool-down has passed; the
 * cool-down starts at `open_base_ms` and doubles on every re-open up to
 * `open_max_ms`. half-open lets one trial call at a time through and closes
 * after `half_open_successes` good ones; a failed trial re-opens.
 *
 * The clock is injected: every call takes now_ms (a monotonic millisecond
 * count), so tests need no sleeping. All functions are thread-safe (the admin
 * thread reads state while a stage thread records). */
#ifndef HS_BREAKER_H
#define HS_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

typedef enum {
    HS_BREAKER_CLOSED = 0,
    HS_BREAKER_OPEN = 1,
    HS_BREAKER_HALF_OPEN = 2,
} hs_breaker_state;

typedef struct {
    unsigned failure_threshold;   /* consecutive failures to open; default 5 */
    unsigned window;              /* sliding window size in calls; default 20 */
    unsigned min_calls;           /* calls needed before the rate applies; default 10 */
    double failure_rate;          /* 0..1; default 0.5 */
    int64_t slow_call_ms;         /* 0 disables; default 0 */
    int64_t open_base_ms;         /* first cool-down; default 1000 */
    int64_t open_max_ms;          /* cap of the cool-down; default 60000 */
    unsigned half_open_successes; /* good trials to close; default 2 */
} hs_breaker_opts;

typedef struct hs_breaker hs_breaker;

/* Fills opts with the defaults above. */
void hs_breaker_opts_default(hs_breaker_opts *opts);

/* Creates a closed breaker named `name` (copied). opts may be NULL for the
 * defaults. Returns NULL only when out of memory. */
hs_breaker *hs_breaker_new(const char *name, const hs_breaker_opts *opts);
void hs_breaker_free(hs_breaker *b);

/* May a call go out now? In open state, false until the cool-down ends, then
 * the breaker turns half-open and admits one trial at a time. */
bool hs_breaker_allow(hs_breaker *b, int64_t now_ms);

/* Records the outcome of a call that allow() admitted. */
void hs_breaker_record(hs_breaker *b, int64_t now_ms, bool success, int64_t duration_ms);
static inline void hs_breaker_success(hs_breaker *b, int64_t now_ms, int64_t duration_ms);
static inline void hs_breaker_failure(hs_breaker *b, int64_t now_ms);

hs_breaker_state hs_breaker_get_state(hs_breaker *b, int64_t now_ms);
const char *hs_breaker_state_name(hs_breaker_state s);
const char *hs_breaker_name(const hs_breaker *b);

/* Milliseconds until an open breaker admits a trial (0 when not open). */
int64_t hs_breaker_retry_in_ms(hs_breaker *b, int64_t now_ms);

/* {"name","state","consecutive_failures","failure_rate","transitions",
 *  "opened_total","retry_in_ms","last_error"} as a new object. */
json_t *hs_breaker_to_json(hs_breaker *b, int64_t now_ms);

/* Keeps a short text describing the last failure for /health (copied). */
void hs_breaker_set_last_error(hs_breaker *b, const char *error);

static inline void hs_breaker_success(hs_breaker *b, int64_t now_ms, int64_t duration_ms)
{
    hs_breaker_record(b, now_ms, true, duration_ms);
}

static inline void hs_breaker_failure(hs_breaker *b, int64_t now_ms)
{
    hs_breaker_record(b, now_ms, false, 0);
}

#endif
