/* gapfill.c - closing the gap after a (re)connect. */
#include "gapfill.h"

#include <stdlib.h>
#include <string.h>

#include "backfill.h"
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
    if (info->is_state && info->entity_id != NULL) {
        if (!lastseen_is_new(seen, info->entity_id, info->time_ns))
            return GAP_DUPLICATE;
        lastseen_note(seen, info->entity_id, info->time_ns);
    }
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

/* One candidate of the final merge. */
typedef struct {
    int64_t t;    /* its time; INT64_MIN when it has none */
    size_t order; /* held events first, then states, each in given order */
    const json_t *ev;
    json_t *owned; /* the event built from a state, NULL for held ones */
    bool backfill;
} item;

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int64_t item_time(const json_t *ev)
{
    const json_t *new_state = json_object_get(json_object_get(ev, "data"), "new_state");
    int64_t t;
    if (json_is_object(new_state) && backfill_state_time(new_state, &t) == 0)
        return t;
    const char *tf = json_string_value(json_object_get(ev, "time_fired"));
    return tf != NULL && hs_time_parse_iso(tf, &t) == 0 ? t : INT64_MIN;
}

void gapfill_finish(const json_t *held, const json_t *states, int64_t from_ns,
                    gapfill_emit_fn emit, gapfill_bad_fn bad, void *ud)
{
    size_t cap = json_array_size(held) + json_array_size(states);
    item *items = cap > 0 ? calloc(cap, sizeof(item)) : NULL;
    size_t n = 0, i;
    const json_t *el;
    if (cap > 0 && items == NULL) {
        /* Out of memory: no merge, but nothing is dropped either. */
        json_array_foreach(held, i, el)
        {
            emit(ud, el, false);
        }
        return;
    }
    json_array_foreach(held, i, el)
    {
        items[n] = (item){item_time(el), n, el, NULL, false};
        n++;
    }
    json_array_foreach(states, i, el)
    {
        int64_t t;
        if (from_ns != INT64_MIN && (backfill_state_time(el, &t) != 0 || t < from_ns))
            continue;
        char err[256];
        json_t *ev = backfill_event(el, NULL, err, sizeof(err));
        if (ev == NULL) {
            bad(ud, err, el);
            continue;
        }
        items[n] = (item){item_time(ev), n, ev, ev, true};
        n++;
    }
    if (n > 1)
        qsort(items, n, sizeof(item), cmp_item);
    for (i = 0; i < n; i++) {
        emit(ud, items[i].ev, items[i].backfill);
        json_decref(items[i].owned);
    }
    free(items);
}
