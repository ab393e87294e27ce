/* fuzz-enrich.c - libFuzzer target: the enricher's raw -> enriched transform
 * (enricher/enrich.h), the presence machine (presence.h), the metric unit
 * conversion (units.h) and the weather parsers (weather.h), fed the way the
 * enricher's pipeline feeds them.
 *
 * The input is one Kafka message of ha.events.raw (or a JSON array of them,
 * fed in order). Properties: a message the pipeline would enrich (it parses
 * and passes hs_event_validate_raw) is either refused with a reason or
 * enriched into a message that keeps every raw member as it was, adds
 * time_ns (the instant of new_state.last_updated, else time_fired, which
 * formats and parses back to itself to the microsecond), value (a finite
 * number exactly when enrich_state_value accepts the state), unit and
 * device_class (the string
 * attributes, else null), presence and weather; the result is still a valid
 * raw message and serialises. The presence snapshot is always consistent
 * (people sorted, people_home counts the home entries, anyone_home says
 * whether there are any), a refused external document leaves it unchanged.
 * A finite value converted to metric stays finite (else the pipeline would
 * label the old number with the new unit). A weather answer that parses
 * always renders as JSON. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "enrich.h"
#include "fuzz_check.h"
#include "hs_event.h"
#include "hs_time.h"
#include "presence.h"
#include "units.h"
#include "weather.h"

#define NOW_NS 1763765318000000000LL

static void check_snapshot(presence *p)
{
    json_t *snap = presence_snapshot(p);
    FUZZ_CHECK(snap != NULL, "no snapshot");
    json_t *again = presence_snapshot(p);
    FUZZ_CHECK(again == snap, "two snapshots without an update differ");
    json_decref(again);
    const json_t *people = json_object_get(snap, "people");
    FUZZ_CHECK(json_is_array(people), "people is not an array");
    json_int_t home = 0;
    const char *prev = NULL;
    size_t i;
    const json_t *e;
    json_array_foreach(people, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "entity_id"));
        FUZZ_CHECK(id != NULL, "entry %zu without entity_id", i);
        FUZZ_CHECK(prev == NULL || strcmp(prev, id) < 0, "'%s' listed after '%s'", id,
                   prev);
        prev = id;
        const json_t *h = json_object_get(e, "home");
        FUZZ_CHECK(json_is_boolean(h), "entry %s without home flag", id);
        const char *st = json_string_value(json_object_get(e, "state"));
        if (strncmp(id, "external.", 9) != 0)
            FUZZ_CHECK(json_is_true(h) == (st != NULL && strcmp(st, "home") == 0),
                       "%s: home flag disagrees with state", id);
        home += json_is_true(h);
    }
    FUZZ_CHECK(json_integer_value(json_object_get(snap, "people_home")) == home,
               "people_home is not %lld", (long long)home);
    FUZZ_CHECK(json_is_true(json_object_get(snap, "anyone_home")) == (home > 0),
               "anyone_home");
    json_decref(snap);
}

static void check_value(const json_t *raw, const json_t *out)
{
    const json_t *ns = json_object_get(raw, "new_state");
    const json_t *state = json_object_get(ns, "state");
    double v = 0;
    bool numeric = json_is_object(ns) && json_is_string(state) &&
                   enrich_state_value(json_string_value(state), &v) == 0;
    const json_t *value = json_object_get(out, "value");
    if (!numeric) {
        FUZZ_CHECK(json_is_null(value), "value for a state that is not a number");
        return;
    }
    FUZZ_CHECK(json_is_number(value) && json_number_value(value) == v && isfinite(v),
               "value of state '%s'", json_string_value(state));
    const json_t *unit = json_object_get(out, "unit");
    if (json_is_string(unit)) {
        double m = v;
        const char *to = NULL;
        if (units_to_metric(json_string_value(unit), &m, &to) == 1)
            FUZZ_CHECK(isfinite(m) && to != NULL,
                       "%g %s becomes %g %s: the pipeline would keep the old number "
                       "under the new unit",
                       v, json_string_value(unit), m, to);
    }
}

static void check_attr_copy(const json_t *raw, const json_t *out, const char *name,
                            const char *attr)
{
    const json_t *a = json_object_get(
        json_object_get(json_object_get(raw, "new_state"), "attributes"), attr);
    const json_t *o = json_object_get(out, name);
    if (json_is_string(a))
        FUZZ_CHECK(json_equal(a, o), "%s is not the %s attribute", name, attr);
    else
        FUZZ_CHECK(json_is_null(o), "%s without a string %s attribute", name, attr);
}

static void check_enrich(const json_t *raw, presence *p, json_t *weather)
{
    const char *event_type = json_string_value(json_object_get(raw, "event_type"));
    const char *entity_id = json_string_value(json_object_get(raw, "entity_id"));
    const json_t *ns = json_object_get(raw, "new_state");
    if (strcmp(event_type, "state_changed") == 0 && presence_is_tracked(entity_id)) {
        json_t *before = presence_snapshot(p);
        int changed = presence_update(p, entity_id, ns);
        FUZZ_CHECK(changed >= 0 && changed <= 1, "presence_update %d", changed);
        json_t *after = presence_snapshot(p);
        FUZZ_CHECK(changed == 1 || json_equal(before, after),
                   "unreported presence change");
        json_decref(before);
        json_decref(after);
        check_snapshot(p);
    }
    json_t *snap = presence_snapshot(p);
    enrich_ctx ctx = {.presence = snap, .weather = weather};
    char err[256] = "";
    json_t *out = enrich_event(raw, &ctx, err, sizeof err);
    int64_t t = 0;
    char terr[256] = "";
    int trc = enrich_time_ns(raw, &t, terr, sizeof terr);
    if (out == NULL) {
        FUZZ_CHECK(err[0] != '\0', "refused without a reason");
        FUZZ_CHECK(trc != 0, "refused (%s) although the time is fine", err);
        json_decref(snap);
        return;
    }
    FUZZ_CHECK(trc == 0, "enriched although enrich_time_ns says: %s", terr);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)raw, key, v)
    {
        static const char *const added[] = {"time_ns",      "value",    "unit",
                                            "device_class", "presence", "weather"};
        bool replaced = false;
        for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
            replaced |= strcmp(key, added[i]) == 0;
        if (!replaced)
            FUZZ_CHECK(json_object_get(out, key) == v, "member %s changed", key);
    }
    const json_t *tn = json_object_get(out, "time_ns");
    FUZZ_CHECK(json_is_integer(tn) && json_integer_value(tn) == t, "time_ns");
    char iso[40];
    int64_t back = 0;
    if (hs_time_format_iso(t, iso, sizeof iso) == 0)
        FUZZ_CHECK(hs_time_parse_iso(iso, &back) == 0 &&
                       back == t - ((t % 1000) + 1000) % 1000,
                   "time %lld formats as %s and reads back as %lld", (long long)t, iso,
                   (long long)back);
    check_value(raw, out);
    check_attr_copy(raw, out, "unit", "unit_of_measurement");
    check_attr_copy(raw, out, "device_class", "device_class");
    FUZZ_CHECK(json_equal(json_object_get(out, "presence"), snap),
               "presence not attached");
    FUZZ_CHECK(weather != NULL ? json_object_get(out, "weather") == weather
                               : json_is_null(json_object_get(out, "weather")),
               "weather not attached");
    char verr[256] = "";
    FUZZ_CHECK(hs_event_validate_raw(out, verr, sizeof verr) == 0,
               "enriched message is no longer a valid raw message: %s", verr);
    char *text = json_dumps(out, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "enriched message does not serialise");
    free(text);
    json_decref(out);
    json_decref(snap);
}

static void check_state_value(const char *s)
{
    double v;
    if (enrich_state_value(s, &v) == 0)
        FUZZ_CHECK(isfinite(v), "'%s' gives %g", s, v);
}

static void check_weather(const uint8_t *data, size_t size, const json_t *root)
{
    weather_obs obs;
    char err[256];
    int rcs[3];
    weather_obs got[3];
    rcs[0] = weather_parse_owm((const char *)data, size, &got[0], err, sizeof err);
    rcs[1] = weather_parse_open_meteo((const char *)data, size, &got[1], err, sizeof err);
    rcs[2] =
        json_is_object(root) ? weather_from_entity(root, &got[2], err, sizeof err) : -1;
    for (int i = 0; i < 3; i++) {
        if (rcs[i] != 0)
            continue;
        obs = got[i];
        for (int metric = 0; metric < 2; metric++) {
            if (metric)
                weather_to_metric(&obs);
            json_t *j = weather_to_json(&obs, NOW_NS, metric == 1);
            FUZZ_CHECK(j != NULL,
                       "parsed observation (parser %d, metric %d) does not render", i,
                       metric);
            json_decref(j);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    check_weather(data, size, root);
    if (root == NULL)
        return 0;
    presence *p = presence_new();
    FUZZ_CHECK(p != NULL, "out of memory");
    json_t *weather = json_pack("{s:f, s:s, s:b}", "temperature", 4.5, "condition",
                                "rainy", "stale", 0);
    json_t *msgs = json_is_array(root) ? json_incref(root) : json_pack("[O]", root);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        char err[256] = "";
        const json_t *state = json_object_get(json_object_get(m, "new_state"), "state");
        if (json_is_string(state))
            check_state_value(json_string_value(state));
        if (hs_event_validate_raw(m, err, sizeof err) == 0)
            check_enrich(m, p, (i & 1) ? weather : NULL);
        /* The same document as a presence URL answer. */
        json_t *before = presence_snapshot(p);
        int rc = presence_set_external(p, m, err, sizeof err);
        json_t *after = presence_snapshot(p);
        FUZZ_CHECK(rc >= -1 && rc <= 1, "presence_set_external %d", rc);
        if (rc != 1)
            FUZZ_CHECK(json_equal(before, after), "presence changed though rc %d", rc);
        json_decref(before);
        json_decref(after);
        check_snapshot(p);
    }
    json_decref(msgs);
    json_decref(weather);
    presence_free(p);
    json_decref(root);
    return 0;
}
