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
 * get_states snapshot taken before them) would be lost if produced after.
 *
 * What waits for the merge (the held live events and the get_states states,
 * up to a few hundred thousand of each) is kept compactly in a gap_store:
 * each item as its JSON text plus the time the merge orders it by, parsed
 * again only when it is produced. The merge itself can be run in steps
 * (gapfill_merge_step), so that the owner keeps reading its connection
 * while a large one is produced. */
#ifndef INGESTOR_GAPFILL_H
#define INGESTOR_GAPFILL_H

#include <stdbool.h>
#include <stddef.h>
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

/* gapfill_admit for a state change already read: entity_id and its new
 * state's last_updated (f NULL: no filter applies). */
gap_verdict gapfill_admit_state(lastseen *seen, const filter *f, const char *entity_id,
                                int64_t time_ns);

/* Called with each event to hand on (borrowed for the call), and with each
 * element that cannot be turned into one (reason, the element). */
typedef void (*gapfill_emit_fn)(void *ud, const json_t *ev, bool backfill);
typedef void (*gapfill_bad_fn)(void *ud, const char *reason, const json_t *element);

/* The time the merge orders a live event by: new_state.last_updated, else
 * time_fired, else INT64_MIN. */
int64_t gapfill_event_time(const json_t *ev);

/* The last_updated of a state object (as get_states lists them), or
 * INT64_MIN when it has none that parses. */
int64_t gapfill_state_time(const json_t *state);

/* Reads from the text of a state object (an element of a get_states
 * answer), without building a tree, what the gap closing needs of it: its
 * entity_id and its time (gapfill_state_time). Returns 0 with *has_eid
 * (false when entity_id is missing or not a string; then eid is "") and
 * eid filled (NUL-terminated), and *time_ns set; or -1 when the text is to
 * be parsed instead: it is not valid JSON, or is JSON the strict scanner
 * leaves to jansson (hs_jscan.h), or holds "\u0000", or its entity_id or
 * last_updated is written with escapes or does not fit (eidcap). */
int gapfill_state_peek(const char *text, size_t len, char *eid, size_t eidcap,
                       bool *has_eid, int64_t *time_ns);

/* Items as text with their times, in the order added. */
typedef struct gap_store gap_store;

/* Returns NULL when out of memory. */
gap_store *gap_store_new(void);
/* Accepts NULL. */
void gap_store_free(gap_store *gs);
/* Copies text (len bytes) in. Returns 0, or -1 when out of memory. */
int gap_store_add(gap_store *gs, int64_t time_ns, const char *text, size_t len);
size_t gap_store_count(const gap_store *gs);
/* Item i (< count): its NUL-terminated text, valid until the store is
 * cleared or freed; *len and *time_ns (either may be NULL) are filled. */
const char *gap_store_get(const gap_store *gs, size_t i, size_t *len, int64_t *time_ns);
/* Empties the store and gives its memory back. */
void gap_store_clear(gap_store *gs);

/* A merge of held events and states in progress. */
typedef struct gap_merge gap_merge;

/* Orders the held live events (texts of HA event objects, timed with
 * gapfill_event_time) and the states of a get_states result (texts of
 * state objects, timed with gapfill_state_time) whose time is at or after
 * from_ns (every state when from_ns is INT64_MIN) as gapfill_finish()
 * describes. Takes held and states over on success (they are freed with the
 * merge); returns NULL when out of memory, and then they stay the
 * caller's. */
gap_merge *gapfill_merge_new(gap_store *held, gap_store *states, int64_t from_ns);
/* Accepts NULL. */
void gapfill_merge_free(gap_merge *m);

/* Passes the next (at most max) items to emit in merge order: a held event
 * parsed again (backfill false), a state turned into an event (backfill
 * true); an item that cannot be turned into an event goes to bad. Returns
 * how many items are still to come. */
size_t gapfill_merge_step(gap_merge *m, size_t max, gapfill_emit_fn emit,
                          gapfill_bad_fn bad, void *ud);

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

/* The same for held events and states kept in stores (left empty). */
void gapfill_finish_stored(gap_store *held, gap_store *states, int64_t from_ns,
                           gapfill_emit_fn emit, gapfill_bad_fn bad, void *ud);

#endif
