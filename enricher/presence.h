/* presence.h - who is home, as a pure state machine fed from the stream.
 *
 * The rule. Every state_changed event of a person.* or device_tracker.*
 * entity updates that entity's entry (a null new_state removes it). The
 * people listed are the person.* entities when at least one is known, else
 * the device_tracker.* entities (a house without person entities still gets
 * presence from its trackers; once a person appears, trackers, which HA
 * already folds into persons, stop counting). Entries from an external
 * source (the PRESENCE_URL document, presence_set_external) are always
 * listed too. An entry is home when its state is exactly "home"; zone names
 * ("work") and "not_home", "unknown", "unavailable" are not home.
 *
 * The snapshot is {"anyone_home":bool,"people_home":n,"people":[{"entity_id",
 * "name","state","home"}…]} sorted by entity_id; name is the entity's
 * friendly_name attribute, else its object id. It changes when an entry is
 * added, removed, or its name, state or home flag changes.
 *
 * After a restart the machine starts empty and is rebuilt from the stream
 * (the consumer resumes at its committed offset, so it sees every change
 * from then on, and the ingestor's backfill after a reconnect re-sends
 * states). With PRESENCE_STATE_FILE the daemon also saves every new
 * snapshot and seeds the machine from it at start (presence_restore), so
 * presence is known before the next person.* event arrives.
 * Not thread-safe; the snapshot objects it returns are immutable and may be
 * shared across threads once returned. */
#ifndef PRESENCE_H
#define PRESENCE_H

#include <stdbool.h>

#include <jansson.h>

typedef struct presence presence;

/* Returns an empty machine, or NULL when out of memory. */
presence *presence_new(void);
void presence_free(presence *p);

/* True for entity ids presence_update() cares about. */
bool presence_is_tracked(const char *entity_id);

/* Feeds one event's entity_id and new_state (an object, or NULL/json null
 * when the entity was removed). Returns 1 when the snapshot changed, 0 when
 * it did not (including untracked entities), -1 when out of memory (the
 * entry may then be updated while the snapshot still shows the old view). */
int presence_update(presence *p, const char *entity_id, const json_t *new_state);

/* Replaces all external entries with the people of doc, which is either
 * {"people":[…]} or a bare array of objects {"name":string, "home":bool,
 * "state":string (optional), "id":string (optional)}; each becomes the entry
 * "external.<id or name>" (its state "home"/"not_home" when none is given).
 * Returns 1 when the snapshot changed, 0 when not, -1 with a reason in err
 * when doc has another shape (the machine is then unchanged). */
int presence_set_external(presence *p, const json_t *doc, char *err, size_t errlen);

/* Seeds an empty machine from a snapshot saved earlier: every entry of its
 * "people" array whose entity_id starts with person., device_tracker. or
 * external. and that has string name and state. Returns the number of
 * entries restored, or -1 with a reason in err when snap has another shape
 * or memory runs out (the machine is then emptied again). */
int presence_restore(presence *p, const json_t *snap, char *err, size_t errlen);

/* The current snapshot with a new reference for the caller (never NULL but
 * when out of memory). Calls between updates return the same object. */
json_t *presence_snapshot(presence *p);

#endif
