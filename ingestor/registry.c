/* registry.c - Home Assistant's area, device and entity registries. */
#include "registry.h"
#include "hs_jscan.h"
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
    rmap loading[3];      /* registries being loaded element by element */
    bool load_failed[3]; /* an add to loading ran out of memory */
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

/* Removes key, when present, shifting the entries after it in its probe
 * run back so every remaining key stays reachable from its home slot. */
static void rmap_remove(rmap *m, const char *key)
{
    if (m->cap == 0)
        return;
    rentry *slot = rmap_slot(m->slots, m->cap, key);
    if (slot->key == NULL)
        return;
    free(slot->key);
    size_t hole = (size_t)(slot - m->slots);
    m->slots[hole] = (rentry){NULL, NULL, NULL};
    m->count--;
    for (size_t i = (hole + 1) & (m->cap - 1); m->slots[i].key != NULL;
         i = (i + 1) & (m->cap - 1)) {
        size_t home = (size_t)strhash(m->slots[i].key) & (m->cap - 1);
        /* The entry at i may move into the hole unless its home slot lies
         * cyclically in (hole, i]: then the hole is not on its probe path. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        m->slots[hole] = m->slots[i];
        m->slots[i] = (rentry){NULL, NULL, NULL};
        hole = i;
    }
}

registry *registry_new(void)
{
    return calloc(1, sizeof(registry));
}

void registry_free(registry *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < 3; i++) {
        rmap_fini(&r->maps[i]);
        rmap_fini(&r->loading[i]);
    }
    free(r);
}

/* A non-empty string member, or NULL. */
static const char *str_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL && *s != '\0' ? s : NULL;
}

/* Adds one entry from the members of a list element: for areas
 * (area_id, name), for devices (id, name_by_user, name, area_id), for
 * entities (entity_id, area_id, device_id); each a non-empty string or
 * NULL. An element without its id (or, for an area, without a name) is
 * skipped. Returns 0 or -1 when out of memory. */
static int add_fields(rmap *m, registry_kind kind, const char *const *f)
{
    switch (kind) {
    case REGISTRY_AREAS:
        if (f[0] == NULL || f[1] == NULL)
            return 0;
        return rmap_set(m, f[0], f[1], NULL);
    case REGISTRY_DEVICES:
        if (f[0] == NULL)
            return 0;
        return rmap_set(m, f[0], f[3], f[1] != NULL ? f[1] : f[2]);
    case REGISTRY_ENTITIES:
        if (f[0] == NULL)
            return 0;
        return rmap_set(m, f[0], f[1], f[2]);
    }
    return 0;
}

/* The members add_fields() takes, per kind, in its order. */
static const char *const field_names[3][4] = {
    [REGISTRY_AREAS] = {"area_id", "name", NULL, NULL},
    [REGISTRY_DEVICES] = {"id", "name_by_user", "name", "area_id"},
    [REGISTRY_ENTITIES] = {"entity_id", "area_id", "device_id", NULL},
};

static int add_entry(rmap *m, registry_kind kind, const json_t *el)
{
    const char *f[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4 && field_names[kind][i] != NULL; i++)
        f[i] = str_member(el, field_names[kind][i]);
    return add_fields(m, kind, f);
}

void registry_load_begin(registry *r, registry_kind kind)
{
    rmap_fini(&r->loading[kind]);
    r->load_failed[kind] = false;
}

int registry_load_add(registry *r, registry_kind kind, const json_t *element)
{
    if (r->load_failed[kind])
        return -1;
    if (add_entry(&r->loading[kind], kind, element) != 0) {
        r->load_failed[kind] = true;
        rmap_fini(&r->loading[kind]);
        return -1;
    }
    return 0;
}

/* Longest member text registry_load_add_text() reads; a longer one is left
 * to the parse. */
#define FIELD_MAX 1024

int registry_load_add_text(registry *r, registry_kind kind, const char *text, size_t len)
{
    if (r->load_failed[kind])
        return -1;
    /* jansson refuses "\u0000" where hs_jscan takes it. */
    if (len >= 6 && memmem(text, len, "\\u0000", 6) != NULL)
        return 1;
    hs_jscan_iter it;
    if (hs_jscan_iter_document(&it, text, len) != 0)
        return 1;
    char buf[4][FIELD_MAX];
    const char *f[4] = {NULL, NULL, NULL, NULL};
    const char *key;
    size_t keylen, n;
    hs_jscan_value v;
    int rc;
    while ((rc = hs_jscan_iter_next(&it, &key, &keylen, &v)) == 1) {
        if (v.type != HS_JSCAN_STRING)
            continue;
        for (int i = 0; i < 4 && field_names[kind][i] != NULL; i++) {
            const char *name = field_names[kind][i];
            if (keylen != strlen(name) || memcmp(key, name, keylen) != 0)
                continue;
            if (hs_jscan_string(&v, buf[i], sizeof(buf[i]), &n) != 0)
                return 1;
            f[i] = n > 0 ? buf[i] : NULL;
        }
    }
    if (rc != 0)
        return 1;
    if (add_fields(&r->loading[kind], kind, f) != 0) {
        r->load_failed[kind] = true;
        rmap_fini(&r->loading[kind]);
        return -1;
    }
    return 0;
}

int registry_load_end(registry *r, registry_kind kind, bool commit)
{
    if (!commit || r->load_failed[kind]) {
        rmap_fini(&r->loading[kind]);
        r->load_failed[kind] = false;
        return -1;
    }
    rmap_fini(&r->maps[kind]);
    r->maps[kind] = r->loading[kind];
    memset(&r->loading[kind], 0, sizeof(rmap));
    return (int)r->maps[kind].count;
}

int registry_load(registry *r, registry_kind kind, const json_t *result, char *err,
                  size_t errlen)
{
    if (!json_is_array(result)) {
        snprintf(err, errlen, "%s did not return a list", list_commands[kind]);
        return -1;
    }
    registry_load_begin(r, kind);
    size_t i;
    const json_t *el;
    json_array_foreach(result, i, el)
    {
        if (registry_load_add(r, kind, el) != 0) {
            registry_load_end(r, kind, false);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return registry_load_end(r, kind, true);
}

int registry_update_entity(registry *r, const json_t *entry)
{
    if (str_member(entry, "entity_id") == NULL)
        return 0;
    return add_entry(&r->maps[REGISTRY_ENTITIES], REGISTRY_ENTITIES, entry) == 0 ? 1 : -1;
}

void registry_remove_entity(registry *r, const char *entity_id)
{
    if (entity_id != NULL)
        rmap_remove(&r->maps[REGISTRY_ENTITIES], entity_id);
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
