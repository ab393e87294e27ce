/* gapfill.c - closing the gap after a (re)connect. */
#include "gapfill.h"

#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "hs_jscan.h"
#include "hs_time.h"

gap_verdict gapfill_admit(lastseen *seen, const filter *f, const json_t *ev,
                          gap_info *info)
{
    gap_info local;
    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof(*info));
    const json_t *data = json_object_get(ev, "data");
    info->entity_id = json_string_value(json_object_get(data, "entity_id"));
    if (info->entity_id != NULL && !filter_match(f, info->entity_id))
        return GAP_FILTERED;
    const json_t *new_state = json_object_get(data, "new_state");
    if (json_is_object(new_state) &&
        backfill_state_time(new_state, &info->time_ns) == 0) {
        info->is_state = true;
        info->has_time = true;
    } else {
        const char *tf = json_string_value(json_object_get(ev, "time_fired"));
        info->has_time = tf != NULL && hs_time_parse_iso(tf, &info->time_ns) == 0;
    }
    if (info->is_state && info->entity_id != NULL)
        return gapfill_admit_state(seen, NULL, info->entity_id, info->time_ns);
    return GAP_EMIT;
}

gap_verdict gapfill_admit_state(lastseen *seen, const filter *f, const char *entity_id,
                                int64_t time_ns)
{
    if (f != NULL && !filter_match(f, entity_id))
        return GAP_FILTERED;
    if (!lastseen_is_new(seen, entity_id, time_ns))
        return GAP_DUPLICATE;
    lastseen_note(seen, entity_id, time_ns);
    return GAP_EMIT;
}

void gapfill_history(const json_t *result, gapfill_emit_fn emit, gapfill_bad_fn bad,
                     void *ud)
{
    const char *entity_id;
    const json_t *list;
    json_object_foreach((json_t *)result, entity_id, list)
    {
        if (!json_is_array(list)) {
            bad(ud, "history entry is not a list", list);
            continue;
        }
        json_t *prev = NULL;
        size_t i;
        const json_t *c;
        json_array_foreach(list, i, c)
        {
            char err[256];
            json_t *st = backfill_expand(entity_id, c, err, sizeof(err));
            if (st == NULL) {
                bad(ud, err, c);
                continue;
            }
            json_t *ev = backfill_event(st, prev, err, sizeof(err));
            if (ev != NULL) {
                emit(ud, ev, true);
                json_decref(ev);
            } else {
                bad(ud, err, c);
            }
            json_decref(prev);
            prev = st;
        }
        json_decref(prev);
    }
}

/* --- compact storage ---------------------------------------------------- */

/* Texts are packed into chunks of CHUNK_BYTES (a longer text gets a chunk of
 * its own), so that adding never moves what is stored. */
#define CHUNK_BYTES (256u * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    char data[];
} chunk;

typedef struct {
    const char *text;
    size_t len;
    int64_t t;
} stored;

struct gap_store {
    stored *items;
    size_t n, cap;
    chunk *chunks; /* newest first */
};

gap_store *gap_store_new(void)
{
    return calloc(1, sizeof(gap_store));
}

void gap_store_clear(gap_store *gs)
{
    while (gs->chunks != NULL) {
        chunk *c = gs->chunks;
        gs->chunks = c->next;
        free(c);
    }
    free(gs->items);
    gs->items = NULL;
    gs->n = gs->cap = 0;
}

void gap_store_free(gap_store *gs)
{
    if (gs == NULL)
        return;
    gap_store_clear(gs);
    free(gs);
}

int gap_store_add(gap_store *gs, int64_t time_ns, const char *text, size_t len)
{
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? gs->cap * 2 : 256;
        stored *p = realloc(gs->items, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        gs->items = p;
        gs->cap = cap;
    }
    chunk *c = gs->chunks;
    if (c == NULL || c->size - c->used < len + 1) {
        size_t size = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;
        c = malloc(sizeof(*c) + size);
        if (c == NULL)
            return -1;
        c->used = 0;
        c->size = size;
        /* A text with a chunk of its own goes behind the current one, which
         * stays open for the small ones. */
        if (size > CHUNK_BYTES && gs->chunks != NULL) {
            c->next = gs->chunks->next;
            gs->chunks->next = c;
        } else {
            c->next = gs->chunks;
            gs->chunks = c;
        }
    }
    char *dst = c->data + c->used;
    memcpy(dst, text, len);
    dst[len] = '\0';
    c->used += len + 1;
    gs->items[gs->n++] = (stored){dst, len, time_ns};
    return 0;
}

size_t gap_store_count(const gap_store *gs)
{
    return gs->n;
}

const char *gap_store_get(const gap_store *gs, size_t i, size_t *len, int64_t *time_ns)
{
    if (len != NULL)
        *len = gs->items[i].len;
    if (time_ns != NULL)
        *time_ns = gs->items[i].t;
    return gs->items[i].text;
}

/* --- the final merge ---------------------------------------------------- */

int64_t gapfill_event_time(const json_t *ev)
{
    const json_t *new_state = json_object_get(json_object_get(ev, "data"), "new_state");
    int64_t t;
    if (json_is_object(new_state) && backfill_state_time(new_state, &t) == 0)
        return t;
    const char *tf = json_string_value(json_object_get(ev, "time_fired"));
    return tf != NULL && hs_time_parse_iso(tf, &t) == 0 ? t : INT64_MIN;
}

int64_t gapfill_state_time(const json_t *state)
{
    int64_t t;
    return backfill_state_time(state, &t) == 0 ? t : INT64_MIN;
}

/* Longest last_updated text read by gapfill_state_peek (HA writes 32
 * bytes); a longer one is left to the parse. */
#define PEEK_TIME_MAX 64

static bool key_is(const char *key, size_t keylen, const char *s)
{
    size_t n = strlen(s);
    return keylen == n && memcmp(key, s, n) == 0;
}

int gapfill_state_peek(const char *text, size_t len, char *eid, size_t eidcap,
                       bool *has_eid, int64_t *time_ns)
{
    static const char nul_escape[] = "\\u0000";
    *has_eid = false;
    *time_ns = INT64_MIN;
    if (eidcap == 0)
        return -1;
    eid[0] = '\0';
    /* jansson refuses "\u0000" where hs_jscan takes it. */
    if (len >= sizeof(nul_escape) - 1 &&
        memmem(text, len, nul_escape, sizeof(nul_escape) - 1) != NULL)
        return -1;
    hs_jscan_iter it;
    if (hs_jscan_iter_document(&it, text, len) != 0)
        return -1;
    const char *key;
    size_t keylen, n;
    hs_jscan_value v;
    int rc;
    while ((rc = hs_jscan_iter_next(&it, &key, &keylen, &v)) == 1) {
        if (key_is(key, keylen, "entity_id") && v.type == HS_JSCAN_STRING) {
            if (v.escaped || hs_jscan_string(&v, eid, eidcap, &n) != 0)
                return -1;
            *has_eid = true;
        } else if (key_is(key, keylen, "last_updated") && v.type == HS_JSCAN_STRING) {
            char t[PEEK_TIME_MAX];
            if (v.escaped || hs_jscan_string(&v, t, sizeof(t), &n) != 0)
                return -1;
            int64_t ns;
            if (hs_time_parse_iso(t, &ns) == 0)
                *time_ns = ns;
        }
    }
    if (rc != 0) {
        *has_eid = false;
        eid[0] = '\0';
        *time_ns = INT64_MIN;
        return -1;
    }
    return 0;
}

/* One candidate of the final merge: item `order` of held, then of states. */
typedef struct {
    int64_t t;    /* its time; INT64_MIN when it has none */
    size_t order; /* held events first, then states, each in given order */
} item;

struct gap_merge {
    gap_store *held, *states;
    item *items;
    size_t n, next;
};

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

gap_merge *gapfill_merge_new(gap_store *held, gap_store *states, int64_t from_ns)
{
    gap_merge *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    size_t cap = held->n + states->n;
    m->items = cap > 0 ? malloc(cap * sizeof(item)) : NULL;
    if (cap > 0 && m->items == NULL) {
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < held->n; i++)
        m->items[m->n++] = (item){held->items[i].t, i};
    for (size_t i = 0; i < states->n; i++) {
        int64_t t = states->items[i].t;
        /* A state without a valid last_updated has t INT64_MIN. */
        if (from_ns != INT64_MIN && t < from_ns)
            continue;
        m->items[m->n++] = (item){t, held->n + i};
    }
    if (m->n > 1)
        qsort(m->items, m->n, sizeof(item), cmp_item);
    m->held = held;
    m->states = states;
    return m;
}

void gapfill_merge_free(gap_merge *m)
{
    if (m == NULL)
        return;
    gap_store_free(m->held);
    gap_store_free(m->states);
    free(m->items);
    free(m);
}

/* An item whose text does not parse (only when out of memory: the texts
 * were valid JSON when stored) goes to bad as a string. */
static void bad_text(gapfill_bad_fn bad, void *ud, const char *why, const char *text,
                     size_t len)
{
    json_t *s = json_stringn(text, len);
    bad(ud, why, s);
    json_decref(s);
}

size_t gapfill_merge_step(gap_merge *m, size_t max, gapfill_emit_fn emit,
                          gapfill_bad_fn bad, void *ud)
{
    for (size_t k = 0; k < max && m->next < m->n; k++) {
        size_t order = m->items[m->next++].order;
        bool is_state = order >= m->held->n;
        const stored *s =
            is_state ? &m->states->items[order - m->held->n] : &m->held->items[order];
        json_error_t jerr;
        json_t *v = json_loadb(s->text, s->len, JSON_DECODE_ANY, &jerr);
        if (v == NULL) {
            bad_text(bad, ud, is_state ? "cannot read a kept state again"
                                       : "cannot read a held event again",
                     s->text, s->len);
            continue;
        }
        if (!is_state) {
            emit(ud, v, false);
            json_decref(v);
            continue;
        }
        char err[256];
        json_t *ev = backfill_event(v, NULL, err, sizeof(err));
        if (ev != NULL)
            emit(ud, ev, true);
        else
            bad(ud, err, v);
        json_decref(ev);
        json_decref(v);
    }
    return m->n - m->next;
}

void gapfill_finish_stored(gap_store *held, gap_store *states, int64_t from_ns,
                           gapfill_emit_fn emit, gapfill_bad_fn bad, void *ud)
{
    gap_store *h = gap_store_new(), *s = gap_store_new();
    gap_merge *m = NULL;
    if (h != NULL && s != NULL) {
        /* The merge takes over the contents; the callers' stores stay. */
        *h = *held;
        *s = *states;
        m = gapfill_merge_new(h, s, from_ns);
        if (m != NULL) {
            memset(held, 0, sizeof(*held));
            memset(states, 0, sizeof(*states));
        }
    }
    if (m == NULL) {
        /* Out of memory: no merge, but no held event is dropped either. */
        free(h);
        free(s);
        for (size_t i = 0; i < held->n; i++) {
            json_error_t jerr;
            json_t *ev = json_loadb(held->items[i].text, held->items[i].len,
                                    JSON_DECODE_ANY, &jerr);
            if (ev != NULL)
                emit(ud, ev, false);
            else
                bad_text(bad, ud, "cannot read a held event again", held->items[i].text,
                         held->items[i].len);
            json_decref(ev);
        }
        gap_store_clear(held);
        gap_store_clear(states);
        return;
    }
    while (gapfill_merge_step(m, SIZE_MAX, emit, bad, ud) > 0)
        ;
    gapfill_merge_free(m);
}

/* Adds the text of v to gs with time t. */
static int store_json(gap_store *gs, const json_t *v, int64_t t)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return -1;
    int rc = gap_store_add(gs, t, text, strlen(text));
    free(text);
    return rc;
}

void gapfill_finish(const json_t *held, const json_t *states, int64_t from_ns,
                    gapfill_emit_fn emit, gapfill_bad_fn bad, void *ud)
{
    gap_store *h = gap_store_new(), *s = gap_store_new();
    size_t i;
    const json_t *el;
    bool ok = h != NULL && s != NULL;
    json_array_foreach(held, i, el)
    {
        if (!ok || store_json(h, el, gapfill_event_time(el)) != 0) {
            ok = false;
            break;
        }
    }
    json_array_foreach(states, i, el)
    {
        if (!ok || store_json(s, el, gapfill_state_time(el)) != 0) {
            ok = false;
            break;
        }
    }
    if (ok) {
        gapfill_finish_stored(h, s, from_ns, emit, bad, ud);
    } else {
        /* Out of memory: no merge, but nothing held is dropped either. */
        json_array_foreach(held, i, el)
        {
            emit(ud, el, false);
        }
    }
    gap_store_free(h);
    gap_store_free(s);
}
