/* backoff.c - exponential reconnect backoff with full jitter. */
#include "backoff.h"

#include <stdlib.h>

static uint64_t default_rand(void *ud)
{
    (void)ud;
    uint64_t r = (uint64_t)random();
    return (r << 31) ^ (uint64_t)random();
}

void backoff_init(backoff *b, int64_t base_ms, int64_t max_ms, backoff_rand_fn rand,
                  void *rand_ud)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
    b->rand = rand != NULL ? rand : default_rand;
    b->rand_ud = rand_ud;
}

int64_t backoff_ceiling(const backoff *b)
{
    int64_t ceiling = b->base_ms;
    for (unsigned i = 0; i < b->attempt && ceiling < b->max_ms; i++)
        ceiling = ceiling > b->max_ms / 2 ? b->max_ms : ceiling * 2;
    return ceiling < b->max_ms ? ceiling : b->max_ms;
}

int64_t backoff_next(backoff *b)
{
    int64_t ceiling = backoff_ceiling(b);
    if (b->attempt < 64)
        b->attempt++;
    return (int64_t)(b->rand(b->rand_ud) % (uint64_t)(ceiling + 1));
}

void backoff_reset(backoff *b)
{
    b->attempt = 0;
}
