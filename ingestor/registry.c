/* registry.c - Home Assistant's area, device and entity registries. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>

/* Each registry is a JSON object keyed by id, so lookups are hash lookups:
 * areas {area_id: name}, devices {id: {"area_id","name"}} (name already
 * resolved from name_by_user/name), entities {entity_id: {"area_id",
 * "device_id"}}. */
struct registry {
    json_t *maps[3];
};

static const char *const list_commands[] = {
    "config/area_registry/list",
    "config/device_registry/list",
    "config/entity_registry/list",
};

static const char *const update_events[] = {
    "area_registry_updated",
    "device_registry_updated",
    "entity_registry_updated",
};

const char *registry_list_command(registry_kind kind)
{
    return list_commands[kind];
}

const char *registry_update_event(registry_kind kind)
{
    return update_events[kind];
}

registry *registry_new(void)
{
    registry *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    for (int i = 0; i < 3; i++) {
        r->maps[i] = json_object();
        if (r->maps[i] == NULL) {
            registry_free(r);
            return NULL;
        }
    }
    return r;
}

void registry_free(registry *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < 3; i++)
        json_decref(r->maps[i]);
    free(r);
}

/* A non-empty string member, or NULL. */
static const char *str_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL && *s != '\0' ? s : NULL;
}

/* Builds the map entry for one list element; NULL when it has no id. */
static json_t *entry_of(registry_kind kind, const json_t *el, const char **id)
{
    switch (kind) {
    case REGISTRY_AREAS: {
        *id = str_member(el, "area_id");
        const char *name = str_member(el, "name");
        return *id != NULL && name != NULL ? json_string(name) : NULL;
    }
    case REGISTRY_DEVICES: {
        *id = str_member(el, "id");
        const char *name = str_member(el, "name_by_user");
        if (name == NULL)
            name = str_member(el, "name");
        const char *area = str_member(el, "area_id");
        if (*id == NULL)
            return NULL;
        return json_pack("{s:s?, s:s?}", "area_id", area, "name", name);
    }
    case REGISTRY_ENTITIES: {
        *id = str_member(el, "entity_id");
        if (*id == NULL)
            return NULL;
        return json_pack("{s:s?, s:s?}", "area_id", str_member(el, "area_id"),
                         "device_id", str_member(el, "device_id"));
    }
    }
    return NULL;
}

int registry_load(registry *r, registry_kind kind, const json_t *result, char *err,
                  size_t errlen)
{
    if (!json_is_array(result)) {
        snprintf(err, errlen, "%s did not return a list", list_commands[kind]);
        return -1;
    }
    json_t *map = json_object();
    if (map == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    const json_t *el;
    json_array_foreach(result, i, el)
    {
        const char *id = NULL;
        json_t *entry = entry_of(kind, el, &id);
        if (entry != NULL && json_object_set_new(map, id, entry) != 0) {
            json_decref(map);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    json_decref(r->maps[kind]);
    r->maps[kind] = map;
    return (int)json_object_size(map);
}

void registry_lookup(const registry *r, const char *entity_id, const char **area,
                     const char **device)
{
    *area = NULL;
    *device = NULL;
    if (entity_id == NULL)
        return;
    const json_t *ent = json_object_get(r->maps[REGISTRY_ENTITIES], entity_id);
    const char *device_id = json_string_value(json_object_get(ent, "device_id"));
    const json_t *dev =
        device_id != NULL ? json_object_get(r->maps[REGISTRY_DEVICES], device_id) : NULL;
    *device = json_string_value(json_object_get(dev, "name"));
    const char *area_id = json_string_value(json_object_get(ent, "area_id"));
    if (area_id == NULL)
        area_id = json_string_value(json_object_get(dev, "area_id"));
    if (area_id != NULL)
        *area = json_string_value(json_object_get(r->maps[REGISTRY_AREAS], area_id));
}

size_t registry_count(const registry *r, registry_kind kind)
{
    return json_object_size(r->maps[kind]);
}
