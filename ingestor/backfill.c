/* backfill.c - turns get_states and history answers into HA events. */
#include "backfill.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hs_time.h"

int64_t backfill_seconds_to_ns(double seconds)
{
    return (int64_t)llround(seconds * 1e6) * 1000;
}

int backfill_state_time(const json_t *state, int64_t *ns)
{
    const char *lu = json_string_value(json_object_get(state, "last_updated"));
    return lu != NULL && hs_time_parse_iso(lu, ns) == 0 ? 0 : -1;
}

json_t *backfill_event(const json_t *new_state, const json_t *old_state, char *err,
                       size_t errlen)
{
    const char *entity_id = json_string_value(json_object_get(new_state, "entity_id"));
    const json_t *lu = json_object_get(new_state, "last_updated");
    int64_t ns;
    if (entity_id == NULL) {
        snprintf(err, errlen, "state has no entity_id");
        return NULL;
    }
    if (backfill_state_time(new_state, &ns) != 0) {
        snprintf(err, errlen, "state of %.200s has no valid last_updated", entity_id);
        return NULL;
    }
    const json_t *context = json_object_get(new_state, "context");
    json_t *ev = json_pack(
        "{s:s, s:{s:s, s:O, s:O}, s:s, s:O, s:O}", "event_type", "state_changed", "data",
        "entity_id", entity_id, "new_state", new_state, "old_state",
        old_state != NULL ? old_state : json_null(), "origin", "LOCAL", "time_fired", lu,
        "context", json_is_object(context) ? context : json_null());
    if (ev == NULL)
        snprintf(err, errlen, "out of memory");
    return ev;
}

/* Formats like Python's datetime.isoformat(), as HA does: microseconds,
 * but no fraction at all when they are zero. */
static int format_ha_time(int64_t ns, char *buf, size_t len)
{
    if (hs_time_format_iso(ns, buf, len) != 0)
        return -1;
    char *frac = strchr(buf, '.');
    if (frac != NULL && strncmp(frac, ".000000", 7) == 0)
        memmove(frac, frac + 7, strlen(frac + 7) + 1);
    return 0;
}

json_t *backfill_expand(const char *entity_id, const json_t *compressed, char *err,
                        size_t errlen)
{
    const json_t *s = json_object_get(compressed, "s");
    const json_t *a = json_object_get(compressed, "a");
    const json_t *lu = json_object_get(compressed, "lu");
    const json_t *lc = json_object_get(compressed, "lc");
    if (!json_is_string(s) || !json_is_number(lu) ||
        (lc != NULL && !json_is_number(lc))) {
        snprintf(err, errlen, "history state of %.200s lacks \"s\" or \"lu\"", entity_id);
        return NULL;
    }
    char lu_iso[40], lc_iso[40];
    int64_t lu_ns = backfill_seconds_to_ns(json_number_value(lu));
    int64_t lc_ns = lc != NULL ? backfill_seconds_to_ns(json_number_value(lc)) : lu_ns;
    if (format_ha_time(lu_ns, lu_iso, sizeof(lu_iso)) != 0 ||
        format_ha_time(lc_ns, lc_iso, sizeof(lc_iso)) != 0) {
        snprintf(err, errlen, "history time of %.200s out of range", entity_id);
        return NULL;
    }
    json_t *attrs = json_is_object(a) ? json_incref((json_t *)a) : json_object();
    json_t *st =
        json_pack("{s:s, s:O, s:o, s:s, s:s}", "entity_id", entity_id, "state", s,
                  "attributes", attrs, "last_changed", lc_iso, "last_updated", lu_iso);
    if (st == NULL)
        snprintf(err, errlen, "out of memory");
    return st;
}
