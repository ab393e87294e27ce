/* registry.h - Home Assistant's area, device and entity registries (pure).
 *
 * Loaded from the results of config/area_registry/list,
 * config/device_registry/list and config/entity_registry/list, and used to
 * name the area and device of an entity: the entity's own area, else its
 * device's area (by area name); the device's name_by_user, else its name.
 * Each load replaces that registry as a whole. Not thread-safe. */
#ifndef INGESTOR_REGISTRY_H
#define INGESTOR_REGISTRY_H

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
