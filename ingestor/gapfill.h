/* gapfill.h - closing the gap after a (re)connect: which events go out, and
 * in which order (pure).
 *
 * After a connect the ingestor has three sources for the same changes:
 * history (every change since the safe mark, as far as the recorder has
 * committed), the live events that arrived since the resubscription (held
 * back meanwhile), and get_states (the current state of every entity).
 * History goes out first, as it arrives (it is older than anything held).
 * At the end, the held live events and the current states are merged in
 * time order (a live event before a state of the same instant). A state
 * change is admitted only when its last_updated is after the last one
 * produced for its entity (lastseen), so overlaps between the sources are
 * dropped; producing in time order is what keeps that rule from dropping a
 * real change: a newer state produced first would make older live changes
 * look like duplicates, and a state older than the live changes (a
 * get_states snapshot taken before them) would be lost if produced after. */
#ifndef INGESTOR_GAPFILL_H
#define INGESTOR_GAPFILL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "filter.h"
#include "lastseen.h"

typedef enum {
    GAP_EMIT = 0,  /* produce it */
    GAP_FILTERED,  /* the include/exclude filters drop it */
    GAP_DUPLICATE, /* a change at or before the entity's last produced one */
} gap_verdict;

/* What gapfill_admit() found out about an event. */
typedef struct {
    const char *entity_id; /* data.entity_id, NULL when none (borrowed) */
    bool is_state;         /* it carries a new_state with a valid last_updated */
    bool has_time;         /* time below is valid */
    int64_t time_ns;       /* new_state.last_updated, else time_fired */
} gap_info;

/* Decides whether the HA event ev goes out. On GAP_EMIT for a state change
 * the time is recorded in seen (so the same change is not admitted twice).
 * info may be NULL. */
gap_verdict gapfill_admit(lastseen *seen, const filter *f, const json_t *ev,
                          gap_info *info);

/* Called with each event to hand on (borrowed for the call), and with each
 * element that cannot be turned into one (reason, the element). */
typedef void (*gapfill_emit_fn)(void *ud, const json_t *ev, bool backfill);
typedef void (*gapfill_bad_fn)(void *ud, const char *reason, const json_t *element);

/* Turns a history/history_during_period result ({entity_id: [compressed
 * states]}) into state_changed events, each entity's in order with the
 * previous state as old_state, and passes them to emit. */
void gapfill_history(const json_t *result, gapfill_emit_fn emit, gapfill_bad_fn bad,
                     void *ud);

/* The end of a gap closing: the held live events (emitted with backfill
 * false) and the states of the get_states result whose last_updated is at
 * or after from_ns (every state when from_ns is INT64_MIN; emitted as
 * events with backfill true), merged in time order; at equal times held
 * events come first; each source keeps its own order among equals. */
void gapfill_finish(const json_t *held, const json_t *states, int64_t from_ns,
                    gapfill_emit_fn emit, gapfill_bad_fn bad, void *ud);

#endif
