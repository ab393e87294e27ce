/* backfill.h - turns get_states and history answers into HA events (pure).
 *
 * After a (re)connect the ingestor recovers the state changes it missed from
 * get_states (current states) and history/history_during_period (every
 * change since the last event it produced). Both are turned into the
 * "event" objects subscribe_events would have delivered, so the same
 * conversion (hs_event_from_ha) and the same dedupe apply. */
#ifndef INGESTOR_BACKFILL_H
#define INGESTOR_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Builds {"event_type":"state_changed","data":{"entity_id","new_state",
 * "old_state"},"origin":"LOCAL","time_fired":<new last_updated>,"context"}
 * from a full state object (as get_states lists them) and the previous one
 * (NULL for none: old_state null). Returns a new object, or NULL with a
 * reason in err when new_state lacks entity_id or last_updated. */
json_t *backfill_event(const json_t *new_state, const json_t *old_state, char *err,
                       size_t errlen);

/* Expands one compressed history state ({"s","a","lu","lc"}, times in float
 * seconds; "lc" absent when equal to "lu") of entity_id into a full state
 * object with ISO 8601 times as HA writes them (microseconds, no fraction
 * when they are zero). Returns a new object, or NULL with a reason in err. */
json_t *backfill_expand(const char *entity_id, const json_t *compressed, char *err,
                        size_t errlen);

/* The last_updated of a full state object as ns. Returns 0, or -1. */
int backfill_state_time(const json_t *state, int64_t *ns);

/* Float seconds since the epoch (HA's compressed times) as ns, rounded to
 * the microsecond HA keeps. */
int64_t backfill_seconds_to_ns(double seconds);

#endif
