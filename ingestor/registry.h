/* registry.h - Home Assistant's area, device and entity registries (pure).
 *
 * Loaded from the results of config/area_registry/list,
 * config/device_registry/list and config/entity_registry/list, and used to
 * name the area and device of an entity: the entity's own area, else its
 * device's area (by area name); the device's name_by_user, else its name.
 * Each load replaces that registry as a whole; single entities of the
 * entity registry can be set or removed between loads. Not thread-safe. */
#ifndef INGESTOR_REGISTRY_H
#define INGESTOR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct registry registry;

typedef enum {
    REGISTRY_AREAS = 0,
    REGISTRY_DEVICES = 1,
    REGISTRY_ENTITIES = 2,
} registry_kind;

/* Returns NULL when out of memory. */
registry *registry_new(void);
/* Accepts NULL. */
void registry_free(registry *r);

/* Replaces one registry from a list result (a JSON array of objects).
 * Entries without their id are skipped. Returns the number of entries kept,
 * or -1 with a reason in err when result is not an array (the old registry
 * stays). */
int registry_load(registry *r, registry_kind kind, const json_t *result, char *err,
                  size_t errlen);

/* The same, element by element, for a list read as it arrives
 * (ha_stream.h): registry_load_begin() starts a new registry of that kind
 * beside the one in use, registry_load_add() adds one list element to it
 * (an element without its id is skipped), and registry_load_end() puts it
 * in place (commit true; returns the number of entries) or drops it (commit
 * false, or an add that ran out of memory before: returns -1 and the old
 * registry stays). A begin drops a load of the same kind still open.
 * registry_load_add() returns 0, or -1 when out of memory. */
void registry_load_begin(registry *r, registry_kind kind);
int registry_load_add(registry *r, registry_kind kind, const json_t *element);
int registry_load_end(registry *r, registry_kind kind, bool commit);

/* As registry_load_add() for the JSON text of one element, read without
 * building a tree. Returns 0, -1 when out of memory, or 1 when the text is
 * to be parsed and passed to registry_load_add() instead: it is not valid
 * JSON, or is JSON the strict scanner leaves to jansson (hs_jscan.h), or
 * holds "\u0000", or a member it reads is over 1 KB. */
int registry_load_add_text(registry *r, registry_kind kind, const char *text, size_t len);

/* Puts one entity's entry in place, replacing the one it had, from the
 * answer of config/entity_registry/get (an object with entity_id and,
 * optionally, area_id and device_id). An entity-registry load still open
 * is not changed. Returns 1 when set, 0 when entry has no entity_id
 * (nothing changes), -1 when out of memory (the old entry stays). */
int registry_update_entity(registry *r, const json_t *entry);

/* Forgets one entity's entry (HA removed it, or renamed it away from this
 * id); an unknown id changes nothing. */
void registry_remove_entity(registry *r, const char *entity_id);

/* Sets *area and *device to the names for entity_id, or NULL when unknown.
 * The strings belong to the registry and stay valid until the next load. */
void registry_lookup(const registry *r, const char *entity_id, const char **area,
                     const char **device);

/* Entries held per registry. */
size_t registry_count(const registry *r, registry_kind kind);

/* The list command for a registry ("config/area_registry/list", ...) and the
 * event that says it changed ("area_registry_updated", ...). */
const char *registry_list_command(registry_kind kind);
const char *registry_update_event(registry_kind kind);

#endif
