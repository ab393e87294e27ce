/* home.h - the simulated home: areas, devices, entities, their current states
 * and the deterministic generator of state changes.
 *
 * Everything is a pure function of the seed and of the clock values the
 * caller passes in (microseconds since the epoch), so the same seed and the
 * same clock give byte-identical output. Every text this module produces is
 * JSON exactly as Home Assistant serialises it. */
#ifndef HASIM_HOME_H
#define HASIM_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"
#include "rstr.h"

/* The Home Assistant version the simulator claims to be. */
#define HASIM_HA_VERSION "2026.11.0"

typedef struct home home;

typedef struct {
    uint64_t seed;
    int entities;      /* entities of the generated home, >= 1 */
    int late_entities; /* of those, how many appear only while the stream runs;
                          -1 picks the default (entities / 10, at most 8) */
    int large_kb;      /* > 0 adds sensor.hasim_large_attributes with this many
                          KB of attributes (it never changes) */
} home_opts;

/* One entity's current state, as the recorder stores it. The strings are
 * owned by the home; take a reference to keep them. */
typedef struct {
    const char *entity_id;
    size_t domain_len; /* entity_id[0..domain_len) is the domain */
    rstr *state;       /* raw state text (not JSON-escaped) */
    rstr *attrs;       /* attributes as a JSON object text */
    int64_t last_changed_us;
    int64_t last_updated_us;
} home_state;

/* What one generator step produced. The rstr are new references owned by the
 * caller, who must rstr_unref them. */
typedef struct {
    int entity;           /* index of the entity that changed */
    rstr *event;          /* the state_changed event object, as HA sends it */
    rstr *registry_event; /* an entity_registry_updated event fired just before,
                             when a new entity appeared; else NULL */
} home_change;

/* Builds the home and sets every initially present entity's first state at
 * consecutive microseconds from now_us. Returns NULL with a reason in err. */
home *home_new(const home_opts *opts, int64_t now_us, char *err, size_t errlen);
void home_free(home *h);

/* Number of entity slots (present or not yet) and whether slot i exists yet. */
int home_count(const home *h);
bool home_present(const home *h, int i);
/* The current state of a present entity. */
void home_get(const home *h, int i, home_state *out);
/* Index of a present entity by entity_id, or -1. */
int home_find(const home *h, const char *entity_id);
/* The last last_updated the home handed out (every state written so far is at
 * or before it). */
int64_t home_last_us(const home *h);

/* Changes one entity. now_us is the wall clock; the new last_updated is
 * max(now_us, previous last_updated + 1), so it strictly increases both per
 * entity and over the whole home. Returns 0, or -1 when out of memory. */
int home_step(home *h, int64_t now_us, home_change *out);

/* Append result payloads (the value of "result") to b. */
void home_states_json(const home *h, jbuf *b);   /* get_states */
void home_config_json(const home *h, jbuf *b);   /* get_config */
void home_areas_json(const home *h, jbuf *b);    /* config/area_registry/list */
void home_devices_json(const home *h, jbuf *b);  /* config/device_registry/list */
void home_entities_json(const home *h, jbuf *b); /* config/entity_registry/list */
/* config/entity_registry/get: the entry of a present entity_id, extended;
 * returns 0, or -1 (b unchanged) when there is none. */
int home_entity_json(const home *h, const char *entity_id, jbuf *b);

/* True when entity_id matches HA's valid_entity_id(). */
bool home_valid_entity_id(const char *entity_id);

#endif
