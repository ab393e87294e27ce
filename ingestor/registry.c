/* registry.c - Home Assistant's area, device and entity registries. */
#include "registry.h"
#include "strhash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each registry is an open-addressing hash map from id to at most two
 * strings, kept in one allocation per entry: areas {area_id: name}, devices
 * {id: area_id, name} (name already resolved from name_by_user/name),
 * entities {entity_id: area_id, device_id}. As jansson objects the three took
 * about 1 KB per entity; this takes about a tenth of that. */
typedef struct {
    char *key;     /* the entry's block (key, then the values); NULL: empty slot */
    const char *a; /* inside the block, or NULL */
    const char *b; /* inside the block, or NULL */
} rentry;

typedef struct {
    rentry *slots;
    size_t cap; /* 0, or a power of two at least twice count */
    size_t count;
} rmap;

struct registry {
    rmap maps[3];
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

static void rmap_fini(rmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

/* The slot holding key, or the empty slot where it would go; cap > 0. */
static rentry *rmap_slot(const rentry *slots, size_t cap, const char *key)
{
    size_t i = (size_t)strhash(key) & (cap - 1);
    while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return (rentry *)&slots[i];
}

static const rentry *rmap_get(const rmap *m, const char *key)
{
    if (m->cap == 0 || key == NULL)
        return NULL;
    const rentry *e = rmap_slot(m->slots, m->cap, key);
    return e->key != NULL ? e : NULL;
}

/* Copies a string into the block at *at, advancing it; NULL stays NULL. */
static const char *put_str(char **at, const char *str, size_t len)
{
    if (str == NULL)
        return NULL;
    char *dst = *at;
    memcpy(dst, str, len + 1);
    *at += len + 1;
    return dst;
}

/* Sets key to (a, b), replacing an earlier entry of the same key. Returns 0
 * or -1 when out of memory. */
static int rmap_set(rmap *m, const char *key, const char *a, const char *b)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap != 0 ? m->cap * 2 : 64;
        rentry *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL)
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key != NULL)
                *rmap_slot(slots, cap, m->slots[i].key) = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t kl = strlen(key), al = a != NULL ? strlen(a) : 0,
           bl = b != NULL ? strlen(b) : 0;
    char *block = malloc(kl + al + bl + 3);
    if (block == NULL)
        return -1;
    char *at = block;
    put_str(&at, key, kl);
    rentry e = {block, put_str(&at, a, al), put_str(&at, b, bl)};
    rentry *slot = rmap_slot(m->slots, m->cap, key);
    if (slot->key != NULL)
        free(slot->key);
    else
        m->count++;
    *slot = e;
    return 0;
}

registry *registry_new(void)
{
    return calloc(1, sizeof(registry));
}

void registry_free(registry *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < 3; i++)
        rmap_fini(&r->maps[i]);
    free(r);
}

/* A non-empty string member, or NULL. */
static const char *str_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL && *s != '\0' ? s : NULL;
}

/* Adds the entry of one list element to m; an element without its id (or,
 * for an area, without a name) is skipped. Returns 0 or -1 when out of
 * memory. */
static int add_entry(rmap *m, registry_kind kind, const json_t *el)
{
    const char *id, *a, *b;
    switch (kind) {
    case REGISTRY_AREAS:
        id = str_member(el, "area_id");
        a = str_member(el, "name");
        if (id == NULL || a == NULL)
            return 0;
        return rmap_set(m, id, a, NULL);
    case REGISTRY_DEVICES:
        id = str_member(el, "id");
        b = str_member(el, "name_by_user");
        if (b == NULL)
            b = str_member(el, "name");
        if (id == NULL)
            return 0;
        return rmap_set(m, id, str_member(el, "area_id"), b);
    case REGISTRY_ENTITIES:
        id = str_member(el, "entity_id");
        if (id == NULL)
            return 0;
        return rmap_set(m, id, str_member(el, "area_id"), str_member(el, "device_id"));
    }
    return 0;
}

int registry_load(registry *r, registry_kind kind, const json_t *result, char *err,
                  size_t errlen)
{
    if (!json_is_array(result)) {
        snprintf(err, errlen, "%s did not return a list", list_commands[kind]);
        return -1;
    }
    rmap map = {0};
    size_t i;
    const json_t *el;
    json_array_foreach(result, i, el)
    {
        if (add_entry(&map, kind, el) != 0) {
            rmap_fini(&map);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    rmap_fini(&r->maps[kind]);
    r->maps[kind] = map;
    return (int)map.count;
}

void registry_lookup(const registry *r, const char *entity_id, const char **area,
                     const char **device)
{
    *area = NULL;
    *device = NULL;
    if (entity_id == NULL)
        return;
    const rentry *ent = rmap_get(&r->maps[REGISTRY_ENTITIES], entity_id);
    const rentry *dev = ent != NULL ? rmap_get(&r->maps[REGISTRY_DEVICES], ent->b) : NULL;
    if (dev != NULL)
        *device = dev->b;
    const char *area_id = ent != NULL ? ent->a : NULL;
    if (area_id == NULL && dev != NULL)
        area_id = dev->a;
    const rentry *ar = rmap_get(&r->maps[REGISTRY_AREAS], area_id);
    if (ar != NULL)
        *area = ar->a;
}

size_t registry_count(const registry *r, registry_kind kind)
{
    return r->maps[kind].count;
}
