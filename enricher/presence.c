/* presence.c - who is home, as a pure state machine (see presence.h). */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_PERSON, KIND_TRACKER, KIND_EXTERNAL } entry_kind;

typedef struct {
    char *entity_id;
    char *name;
    char *state;
    entry_kind kind;
} entry;

struct presence {
    entry *entries; /* sorted by entity_id */
    size_t n, cap;
    json_t *snap; /* the current snapshot; never NULL after presence_new */
};

static void entry_fini(entry *e)
{
    free(e->entity_id);
    free(e->name);
    free(e->state);
}

static json_t *build_snapshot(const presence *p)
{
    bool have_person = false;
    for (size_t i = 0; i < p->n; i++)
        have_person |= p->entries[i].kind == KIND_PERSON;

    json_t *people = json_array();
    if (!people)
        return NULL;
    json_int_t home_count = 0;
    for (size_t i = 0; i < p->n; i++) {
        const entry *e = &p->entries[i];
        if (e->kind == KIND_TRACKER && have_person)
            continue;
        bool home = strcmp(e->state, "home") == 0;
        home_count += home;
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "entity_id", e->entity_id, "name",
                              e->name, "state", e->state, "home", home);
        if (!o || json_array_append_new(people, o) != 0) {
            json_decref(people);
            return NULL;
        }
    }
    return json_pack("{s:b, s:I, s:o}", "anyone_home", home_count > 0, "people_home",
                     home_count, "people", people);
}

presence *presence_new(void)
{
    presence *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->snap = build_snapshot(p);
    if (!p->snap) {
        presence_free(p);
        return NULL;
    }
    return p;
}

void presence_free(presence *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        entry_fini(&p->entries[i]);
    free(p->entries);
    json_decref(p->snap);
    free(p);
}

bool presence_is_tracked(const char *entity_id)
{
    return entity_id && (strncmp(entity_id, "person.", 7) == 0 ||
                         strncmp(entity_id, "device_tracker.", 15) == 0);
}

/* Index of entity_id, or where it would be inserted (*found false). */
static size_t find(const presence *p, const char *entity_id, bool *found)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->entries[mid].entity_id, entity_id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void remove_at(presence *p, size_t i)
{
    entry_fini(&p->entries[i]);
    memmove(&p->entries[i], &p->entries[i + 1], (p->n - i - 1) * sizeof(entry));
    p->n--;
}

/* Sets (inserting when needed) the entry entity_id. Takes nothing; copies. */
static int upsert(presence *p, const char *entity_id, const char *name, const char *state,
                  entry_kind kind)
{
    char *n = strdup(name), *s = strdup(state);
    if (!n || !s) {
        free(n);
        free(s);
        return -1;
    }
    bool found = false;
    size_t i = find(p, entity_id, &found);
    if (found) {
        entry *e = &p->entries[i];
        free(e->name);
        free(e->state);
        e->name = n;
        e->state = s;
        e->kind = kind;
        return 0;
    }
    char *id = strdup(entity_id);
    if (id && p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        entry *grown = realloc(p->entries, ncap * sizeof(entry));
        if (grown) {
            p->entries = grown;
            p->cap = ncap;
        }
    }
    if (!id || p->n == p->cap) {
        free(id);
        free(n);
        free(s);
        return -1;
    }
    memmove(&p->entries[i + 1], &p->entries[i], (p->n - i) * sizeof(entry));
    p->entries[i] = (entry){.entity_id = id, .name = n, .state = s, .kind = kind};
    p->n++;
    return 0;
}

/* Rebuilds the snapshot; returns 1 when it differs from the previous one. */
static int refresh(presence *p)
{
    json_t *snap = build_snapshot(p);
    if (!snap)
        return -1;
    if (json_equal(snap, p->snap)) {
        json_decref(snap);
        return 0;
    }
    json_decref(p->snap);
    p->snap = snap;
    return 1;
}

int presence_update(presence *p, const char *entity_id, const json_t *new_state)
{
    if (!presence_is_tracked(entity_id))
        return 0;
    entry_kind kind = entity_id[0] == 'p' ? KIND_PERSON : KIND_TRACKER;

    if (!json_is_object(new_state)) {
        bool found = false;
        size_t i = find(p, entity_id, &found);
        if (!found)
            return 0;
        remove_at(p, i);
        return refresh(p);
    }
    const char *state = json_string_value(json_object_get(new_state, "state"));
    if (!state)
        state = "unknown";
    const char *name = json_string_value(
        json_object_get(json_object_get(new_state, "attributes"), "friendly_name"));
    if (!name)
        name = strchr(entity_id, '.') + 1;
    if (upsert(p, entity_id, name, state, kind) != 0)
        return -1;
    return refresh(p);
}

int presence_set_external(presence *p, const json_t *doc, char *err, size_t errlen)
{
    const json_t *people = json_is_object(doc) ? json_object_get(doc, "people") : doc;
    if (!json_is_array(people)) {
        snprintf(err, errlen, "expected an array of people or {\"people\":[...]}");
        return -1;
    }
    size_t i;
    const json_t *person;
    json_array_foreach(people, i, person)
    {
        const json_t *name = json_object_get(person, "name");
        const json_t *home = json_object_get(person, "home");
        const json_t *state = json_object_get(person, "state");
        const json_t *id = json_object_get(person, "id");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            !json_is_boolean(home) || (state && !json_is_string(state)) ||
            (id && !json_is_string(id))) {
            snprintf(
                err, errlen,
                "person %zu needs a non-empty string \"name\" and a boolean \"home\"", i);
            return -1;
        }
    }
    for (size_t k = p->n; k-- > 0;) {
        if (p->entries[k].kind == KIND_EXTERNAL)
            remove_at(p, k);
    }
    json_array_foreach(people, i, person)
    {
        const char *name = json_string_value(json_object_get(person, "name"));
        const char *id = json_string_value(json_object_get(person, "id"));
        const char *state = json_string_value(json_object_get(person, "state"));
        bool home = json_is_true(json_object_get(person, "home"));
        /* The home flag is the document's word; a state that disagrees is
         * replaced so that "home" stays equivalent to state == "home". */
        if (!state || (strcmp(state, "home") == 0) != home)
            state = home ? "home" : "not_home";
        char eid[256];
        snprintf(eid, sizeof eid, "external.%s", id ? id : name);
        if (upsert(p, eid, name, state, KIND_EXTERNAL) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return refresh(p);
}

json_t *presence_snapshot(presence *p)
{
    return json_incref(p->snap);
}

int presence_restore(presence *p, const json_t *snap, char *err, size_t errlen)
{
    const json_t *people = json_object_get(snap, "people");
    if (!json_is_array(people)) {
        snprintf(err, errlen, "saved presence has no \"people\" array");
        return -1;
    }
    int restored = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(people, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "entity_id"));
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *state = json_string_value(json_object_get(e, "state"));
        if (!id || !name || !state)
            continue;
        entry_kind kind;
        if (strncmp(id, "person.", 7) == 0 && id[7])
            kind = KIND_PERSON;
        else if (strncmp(id, "device_tracker.", 15) == 0 && id[15])
            kind = KIND_TRACKER;
        else if (strncmp(id, "external.", 9) == 0 && id[9])
            kind = KIND_EXTERNAL;
        else
            continue;
        if (upsert(p, id, name, state, kind) != 0)
            goto oom;
        restored++;
    }
    if (refresh(p) < 0)
        goto oom;
    return restored;
oom:
    for (size_t k = p->n; k-- > 0;)
        remove_at(p, k);
    refresh(p);
    snprintf(err, errlen, "out of memory");
    return -1;
}
