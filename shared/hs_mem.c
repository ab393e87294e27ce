/* hs_mem.c - how a stage asks glibc's malloc to keep its idle memory small. */
#include "hs_mem.h"

#include <malloc.h>
#include <stdlib.h>

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
    if (env_tuned())
        return 0;
    int ok = mallopt(M_ARENA_MAX, HS_MEM_ARENA_MAX);
    ok &= mallopt(M_MMAP_THRESHOLD, HS_MEM_THRESHOLD);
    ok &= mallopt(M_TRIM_THRESHOLD, HS_MEM_THRESHOLD);
    return ok == 1 ? 0 : -1;
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
