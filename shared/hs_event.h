/* hs_event.h - Home Assistant events as homestream's raw message (schema 1).
 *
 * Pure functions: no I/O, no clock (the caller passes ingested_at), so they
 * are unit-tested and fuzzed directly. */
#ifndef HS_EVENT_H
#define HS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define HS_EVENT_SCHEMA 1

/* Context the ingestor adds to every event. Strings are borrowed. */
typedef struct {
    const char *site;        /* required */
    const char *area;        /* NULL when unknown */
    const char *device;      /* NULL when unknown */
    int64_t ingested_at_ns;  /* wall clock when the ingestor read it */
    bool backfill;           /* true when recovered from history */
} hs_event_ctx;

/* Builds the raw message from the `event` object of an HA WebSocket "event"
 * message ({"event_type","data","origin","time_fired","context"}). For
 * state_changed, data.entity_id, data.new_state and data.old_state are lifted
 * to the top level with domain and object_id split off the entity id; other
 * event types keep their data under "data" and have entity_id only when data
 * has one. Returns a new object, or NULL with a reason in err when the event
 * is not an object, lacks event_type, or has a malformed entity_id. */
json_t *hs_event_from_ha(const json_t *ha_event, const hs_event_ctx *ctx, char *err,
                         size_t errlen);

/* Checks that msg is a schema 1 raw message: schema == 1, event_type and site
 * strings; for state_changed an entity_id of the form domain.object_id and a
 * new_state that is an object or null. Returns 0, or -1 with a reason. */
int hs_event_validate_raw(const json_t *msg, char *err, size_t errlen);

/* Splits "domain.object_id". Writes up to domain_len bytes (NUL included).
 * Returns a pointer to object_id inside entity_id, or NULL when entity_id is
 * not of that form (exactly one '.', both sides [a-z0-9_] and non-empty). */
const char *hs_event_split_entity(const char *entity_id, char *domain, size_t domain_len);

#endif
