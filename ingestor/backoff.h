/* backoff.h - exponential reconnect backoff with full jitter (pure).
 *
 * The n-th consecutive failure (n counted from 0) waits a uniformly random
 * time in [0, min(max_ms, base_ms * 2^n)] ("full jitter"), so many clients
 * that lost the same server do not come back in lockstep. The random source
 * is injected so tests are deterministic. */
#ifndef INGESTOR_BACKOFF_H
#define INGESTOR_BACKOFF_H

#include <stdint.h>

/* Returns a uniformly distributed 64-bit random number; ud is the caller's. */
typedef uint64_t (*backoff_rand_fn)(void *ud);

typedef struct {
    int64_t base_ms;  /* ceiling of the first delay, > 0 */
    int64_t max_ms;   /* cap of the ceiling, >= base_ms */
    unsigned attempt; /* consecutive failures so far */
    backoff_rand_fn rand;
    void *rand_ud;
} backoff;

/* Initialises b with attempt 0. rand may be NULL for a default generator
 * (random(3) based; not for cryptography). */
void backoff_init(backoff *b, int64_t base_ms, int64_t max_ms, backoff_rand_fn rand,
                  void *rand_ud);

/* The ceiling the next delay is drawn below: min(max_ms, base_ms * 2^attempt). */
int64_t backoff_ceiling(const backoff *b);

/* Draws the delay before the next attempt, in [0, backoff_ceiling(b)], and
 * counts one more failure. */
int64_t backoff_next(backoff *b);

/* Forgets the failures (call once a connection has proven good). */
void backoff_reset(backoff *b);

#endif
