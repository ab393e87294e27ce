/* hs_mem.h - how a stage asks glibc's malloc to keep its idle memory small.
 *
 * librdkafka runs several threads per client (main, one per broker, the
 * consumer group's), and glibc gives threads that allocate at the same time
 * arenas of their own, each keeping what was freed in it. glibc also raises
 * its mmap and trim thresholds (up to 32 MB) after the first large buffer is
 * freed, so freed memory of a burst (a fetch response, a backfill) stays in
 * the heap for good. See docs/operations.md, "Memory". */
#ifndef HS_MEM_H
#define HS_MEM_H

#include <stdbool.h>
#include <stdint.h>

/* Limits malloc to HS_MEM_ARENA_MAX arenas and fixes the mmap and trim
 * thresholds at HS_MEM_THRESHOLD bytes, so large buffers go back to the
 * system when freed and the heap's top is trimmed. Call it first in main(),
 * before any thread starts. When the operator tunes malloc through the
 * environment (GLIBC_TUNABLES, MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_,
 * MALLOC_MMAP_THRESHOLD_) it changes nothing. Returns 0, or -1 when glibc
 * refused a setting (harmless: the stage runs with glibc's defaults). */
int hs_mem_tune(void);

/* While a stage drains a backlog, the fixed 128 KB thresholds make every
 * librdkafka fetch response (up to fetch.max.bytes, 16 MB in hs_kafka.c) a
 * fresh mmap: a page fault per 4 KB of messages, then a munmap.
 * hs_mem_backlog(true) raises both thresholds to HS_MEM_BACKLOG_THRESHOLD,
 * so freed responses stay in the heap for the next ones;
 * hs_mem_backlog(false), once the backlog is drained, puts them back, and
 * the caller gives the freed memory back (hs_mem_trim) when it returns
 * true. Calls that change nothing cost nothing. Process-wide; does nothing
 * when hs_mem_tune left malloc to the environment. Returns true when it
 * changed the thresholds. */
bool hs_mem_backlog(bool on);

/* Gives free memory inside the heap (not only at its top) back to the
 * system: call it once when the stage has gone idle after work, never per
 * message (it walks every free chunk of every arena). */
void hs_mem_trim(void);

/* When a stage gives memory back: after heavy work (a burst, a big frame)
 * once it has been quiet for a while. Zero-initialise; one per loop, used
 * from that loop's thread only. */
typedef struct {
    int64_t last_ms; /* monotonic time of the last activity */
    bool due;        /* heavy work since the last trim */
} hs_mem_idle;

/* Records activity at now_ms; heavy says it left freed memory worth giving
 * back. */
void hs_mem_idle_note(hs_mem_idle *t, int64_t now_ms, bool heavy);

/* True when heavy work was noted and nothing has been noted for quiet_ms:
 * the moment hs_mem_idle_trim trims. A stage frees or packs what it holds
 * itself then, before the trim gives the memory back. */
bool hs_mem_idle_due(const hs_mem_idle *t, int64_t now_ms, int64_t quiet_ms);

/* Calls hs_mem_trim once when hs_mem_idle_due; returns true when it did.
 * Cheap otherwise: call it from the loop as often as it turns. */
bool hs_mem_idle_trim(hs_mem_idle *t, int64_t now_ms, int64_t quiet_ms);

#define HS_MEM_ARENA_MAX 2
#define HS_MEM_THRESHOLD (128 * 1024)
#define HS_MEM_BACKLOG_THRESHOLD (32 * 1024 * 1024) /* glibc's largest */

#endif
