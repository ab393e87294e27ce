/* hs_mem.c - how a stage asks glibc's malloc to keep its idle memory small. */
#include "hs_mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Whether hs_mem_tune fixed the thresholds (so hs_mem_backlog may move
 * them), and whether they are raised for a backlog now. */
static atomic_bool tuned;
static atomic_bool raised;

/* True when the operator set any of glibc's malloc knobs in the environment:
 * their choice wins over ours. */
static int env_tuned(void)
{
    static const char *const names[] = {"GLIBC_TUNABLES", "MALLOC_ARENA_MAX",
                                        "MALLOC_TRIM_THRESHOLD_",
                                        "MALLOC_MMAP_THRESHOLD_"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (getenv(names[i]) != NULL)
            return 1;
    }
    return 0;
}

/* mallopt returns 1 on success. Setting M_MMAP_THRESHOLD (or M_TRIM_THRESHOLD)
 * turns glibc's dynamic threshold off, which is the point. */
int hs_mem_tune(void)
{
    if (env_tuned()) {
        atomic_store(&tuned, false);
        return 0;
    }
    int ok = mallopt(M_ARENA_MAX, HS_MEM_ARENA_MAX);
    ok &= mallopt(M_MMAP_THRESHOLD, HS_MEM_THRESHOLD);
    ok &= mallopt(M_TRIM_THRESHOLD, HS_MEM_THRESHOLD);
    atomic_store(&tuned, ok == 1);
    atomic_store(&raised, false);
    return ok == 1 ? 0 : -1;
}

/* mallopt may be called while other threads allocate: it sets the values
 * under the main arena's lock, and glibc itself moves them at run time. */
bool hs_mem_backlog(bool on)
{
    if (!atomic_load(&tuned) || atomic_exchange(&raised, on) == on)
        return false;
    int t = on ? HS_MEM_BACKLOG_THRESHOLD : HS_MEM_THRESHOLD;
    (void)mallopt(M_MMAP_THRESHOLD, t);
    (void)mallopt(M_TRIM_THRESHOLD, t);
    return true;
}

void hs_mem_trim(void)
{
    malloc_trim(0);
}

void hs_mem_idle_note(hs_mem_idle *t, int64_t now_ms, bool heavy)
{
    t->last_ms = now_ms;
    if (heavy)
        t->due = true;
}

bool hs_mem_idle_due(const hs_mem_idle *t, int64_t now_ms, int64_t quiet_ms)
{
    return t->due && now_ms - t->last_ms >= quiet_ms;
}

bool hs_mem_idle_trim(hs_mem_idle *t, int64_t now_ms, int64_t quiet_ms)
{
    if (!hs_mem_idle_due(t, now_ms, quiet_ms))
        return false;
    t->due = false;
    hs_mem_trim();
    return true;
}
