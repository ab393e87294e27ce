/* hs_breaker.c - the circuit breaker every remote dependency sits behind.
 *
 * Decisions the header leaves open:
 * - A failure rate of 0 (or less), a window of 0 or a failure_threshold of 0
 *   disables that trigger.
 * - Outcomes recorded while open (calls admitted before the breaker opened)
 *   change nothing.
 * - A half-open trial that is never recorded would wedge the breaker, so a
 *   trial outstanding for longer than open_max_ms is presumed lost and
 *   another one is admitted.
 * - Closing resets the cool-down to open_base_ms and empties the window. */
#include "hs_breaker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Longest last_error kept; longer texts are cut. */
#define LAST_ERROR_MAX 512

struct hs_breaker {
    pthread_mutex_t lock;
    char *name;
    hs_breaker_opts opts;
    hs_breaker_state state;

    unsigned consecutive_failures;
    unsigned char *window; /* ring of opts.window outcomes, 1 = failure */
    unsigned win_head;     /* next slot to write */
    unsigned win_count;
    unsigned win_failures;

    int64_t cooldown_ms;   /* cool-down of the current or last open period */
    int64_t open_until_ms; /* when open: the first instant a trial may go out */
    bool trial_in_flight;
    int64_t trial_started_ms;
    unsigned trial_successes;

    uint64_t transitions;
    uint64_t opened_total;
    char *last_error;
};

void hs_breaker_opts_default(hs_breaker_opts *opts)
{
    opts->failure_threshold = 5;
    opts->window = 20;
    opts->min_calls = 10;
    opts->failure_rate = 0.5;
    opts->slow_call_ms = 0;
    opts->open_base_ms = 1000;
    opts->open_max_ms = 60000;
    opts->half_open_successes = 2;
}

hs_breaker *hs_breaker_new(const char *name, const hs_breaker_opts *opts)
{
    hs_breaker *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    if (opts != NULL)
        b->opts = *opts;
    else
        hs_breaker_opts_default(&b->opts);
    if (b->opts.open_base_ms < 0)
        b->opts.open_base_ms = 0;
    if (b->opts.open_max_ms < b->opts.open_base_ms)
        b->opts.open_max_ms = b->opts.open_base_ms;
    if (b->opts.half_open_successes == 0)
        b->opts.half_open_successes = 1;
    b->name = strdup(name != NULL ? name : "");
    b->window = calloc(b->opts.window > 0 ? b->opts.window : 1, 1);
    if (b->name == NULL || b->window == NULL || pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b->name);
        free(b->window);
        free(b);
        return NULL;
    }
    b->state = HS_BREAKER_CLOSED;
    b->cooldown_ms = b->opts.open_base_ms;
    return b;
}

void hs_breaker_free(hs_breaker *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->name);
    free(b->window);
    free(b->last_error);
    free(b);
}

static void window_reset(hs_breaker *b)
{
    b->win_head = 0;
    b->win_count = 0;
    b->win_failures = 0;
}

static void window_push(hs_breaker *b, bool failed)
{
    unsigned n = b->opts.window;
    if (n == 0)
        return;
    if (b->win_count == n)
        b->win_failures -= b->window[b->win_head];
    else
        b->win_count++;
    b->window[b->win_head] = failed ? 1 : 0;
    b->win_failures += failed ? 1u : 0u;
    b->win_head = (b->win_head + 1) % n;
}

static void set_state(hs_breaker *b, hs_breaker_state s)
{
    if (b->state == s)
        return;
    b->state = s;
    b->transitions++;
}

/* Opens the breaker for cooldown_ms from now. */
static void trip(hs_breaker *b, int64_t now_ms, int64_t cooldown_ms)
{
    b->cooldown_ms = cooldown_ms;
    b->open_until_ms = now_ms + cooldown_ms;
    b->trial_in_flight = false;
    b->trial_successes = 0;
    b->opened_total++;
    set_state(b, HS_BREAKER_OPEN);
}

/* Moves an open breaker whose cool-down has passed to half-open. */
static void advance(hs_breaker *b, int64_t now_ms)
{
    if (b->state == HS_BREAKER_OPEN && now_ms >= b->open_until_ms) {
        b->trial_in_flight = false;
        b->trial_successes = 0;
        set_state(b, HS_BREAKER_HALF_OPEN);
    }
}

bool hs_breaker_allow(hs_breaker *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    advance(b, now_ms);
    bool ok = false;
    switch (b->state) {
    case HS_BREAKER_CLOSED:
        ok = true;
        break;
    case HS_BREAKER_OPEN:
        ok = false;
        break;
    case HS_BREAKER_HALF_OPEN:
        if (b->trial_in_flight && now_ms - b->trial_started_ms > b->opts.open_max_ms)
            b->trial_in_flight = false;
        if (!b->trial_in_flight) {
            b->trial_in_flight = true;
            b->trial_started_ms = now_ms;
            ok = true;
        }
        break;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

static bool rate_exceeded(const hs_breaker *b)
{
    const hs_breaker_opts *o = &b->opts;
    if (o->window == 0 || o->failure_rate <= 0.0)
        return false;
    unsigned need = o->min_calls > 0 ? o->min_calls : 1;
    if (b->win_count < need)
        return false;
    return (double)b->win_failures >= o->failure_rate * (double)b->win_count;
}

void hs_breaker_record(hs_breaker *b, int64_t now_ms, bool success, int64_t duration_ms)
{
    pthread_mutex_lock(&b->lock);
    advance(b, now_ms);
    bool failed =
        !success || (b->opts.slow_call_ms > 0 && duration_ms > b->opts.slow_call_ms);
    switch (b->state) {
    case HS_BREAKER_CLOSED:
        window_push(b, failed);
        b->consecutive_failures = failed ? b->consecutive_failures + 1 : 0;
        if ((b->opts.failure_threshold > 0 &&
             b->consecutive_failures >= b->opts.failure_threshold) ||
            rate_exceeded(b))
            trip(b, now_ms, b->opts.open_base_ms);
        break;
    case HS_BREAKER_OPEN:
        break;
    case HS_BREAKER_HALF_OPEN:
        b->trial_in_flight = false;
        if (failed) {
            b->consecutive_failures++;
            int64_t next = b->cooldown_ms > b->opts.open_max_ms / 2 ? b->opts.open_max_ms
                                                                    : b->cooldown_ms * 2;
            if (next < b->opts.open_base_ms)
                next = b->opts.open_base_ms;
            trip(b, now_ms, next);
        } else if (++b->trial_successes >= b->opts.half_open_successes) {
            b->consecutive_failures = 0;
            b->cooldown_ms = b->opts.open_base_ms;
            window_reset(b);
            set_state(b, HS_BREAKER_CLOSED);
        }
        break;
    }
    pthread_mutex_unlock(&b->lock);
}

hs_breaker_state hs_breaker_get_state(hs_breaker *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    advance(b, now_ms);
    hs_breaker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

const char *hs_breaker_state_name(hs_breaker_state s)
{
    switch (s) {
    case HS_BREAKER_CLOSED:
        return "closed";
    case HS_BREAKER_OPEN:
        return "open";
    case HS_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

const char *hs_breaker_name(const hs_breaker *b)
{
    return b->name;
}

static int64_t retry_in_locked(const hs_breaker *b, int64_t now_ms)
{
    if (b->state != HS_BREAKER_OPEN || now_ms >= b->open_until_ms)
        return 0;
    return b->open_until_ms - now_ms;
}

int64_t hs_breaker_retry_in_ms(hs_breaker *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    advance(b, now_ms);
    int64_t r = retry_in_locked(b, now_ms);
    pthread_mutex_unlock(&b->lock);
    return r;
}

json_t *hs_breaker_to_json(hs_breaker *b, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    advance(b, now_ms);
    double rate = b->win_count > 0 ? (double)b->win_failures / (double)b->win_count : 0.0;
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:f, s:I, s:I, s:I, s:s?}", "name", b->name, "state",
                  hs_breaker_state_name(b->state), "consecutive_failures",
                  (json_int_t)b->consecutive_failures, "failure_rate", rate,
                  "transitions", (json_int_t)b->transitions, "opened_total",
                  (json_int_t)b->opened_total, "retry_in_ms",
                  (json_int_t)retry_in_locked(b, now_ms), "last_error", b->last_error);
    pthread_mutex_unlock(&b->lock);
    return o;
}

/* A copy of error of at most LAST_ERROR_MAX bytes that JSON can carry: when
 * the text is not valid UTF-8, every byte outside ASCII becomes '?'. */
static char *json_safe_copy(const char *error)
{
    size_t len = strnlen(error, LAST_ERROR_MAX);
    char *copy = strndup(error, len);
    if (copy == NULL)
        return NULL;
    json_t *probe = json_string(copy);
    if (probe == NULL) {
        for (char *p = copy; *p != '\0'; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
    }
    json_decref(probe);
    return copy;
}

void hs_breaker_set_last_error(hs_breaker *b, const char *error)
{
    char *copy = error != NULL ? json_safe_copy(error) : NULL;
    pthread_mutex_lock(&b->lock);
    free(b->last_error);
    b->last_error = copy;
    pthread_mutex_unlock(&b->lock);
}
