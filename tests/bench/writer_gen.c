/* writer_gen.c - deterministic synthetic enriched events. */
#include "writer_gen.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "hs_time.h"

void writer_gen_init(writer_gen *g, unsigned entities, int64_t start_ns)
{
    g->entities = entities ? entities : 1;
    g->time_ns = start_ns;
    g->n = 0;
    g->rng = 2463534242u;
    g->full = false;
}

void writer_gen_init_full(writer_gen *g, unsigned entities, int64_t start_ns)
{
    writer_gen_init(g, entities, start_ns);
    g->full = true;
}

static uint32_t rnd(writer_gen *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 17;
    g->rng ^= g->rng << 5;
    return g->rng;
}

/* A context as HA writes it: a 26-character ULID-like id, no parent, no
 * user. */
static json_t *context(writer_gen *g)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char id[27];
    for (int i = 0; i < 26; i++)
        id[i] = alphabet[rnd(g) % 32];
    id[26] = '\0';
    return json_pack("{s:s,s:n,s:n}", "id", id, "parent_id", "user_id");
}

/* Makes ev (a lean event of entity) whole: see writer_gen_init_full. */
static void make_full(writer_gen *g, json_t *ev, const char *entity, const char *iso)
{
    json_t *ns = json_object_get(ev, "new_state");
    json_object_set_new(ns, "entity_id", json_string(entity));
    json_object_set_new(ns, "last_reported", json_string(iso));
    json_object_set_new(ns, "context", context(g));
    json_t *old = json_deep_copy(ns);
    json_object_set_new(old, "state", json_string("unavailable"));
    json_object_set_new(old, "context", context(g));
    json_object_set_new(ev, "old_state", old);
    json_object_set_new(ev, "context", context(g));
}

char *writer_gen_next(writer_gen *g)
{
    unsigned idx = (unsigned)(g->n % g->entities);
    unsigned kind = idx % 5;
    static const char *const areas[] = {"Living Room", "Kitchen", "Bedroom", "Office"};
    char entity[64], state[32];
    json_t *attrs = json_object();
    json_t *value = json_null();
    json_t *unit = json_null();
    json_t *dc = json_null();
    switch (kind) {
    case 0:
        snprintf(entity, sizeof entity, "sensor.temperature_%u", idx);
        snprintf(state, sizeof state, "%.1f", 15.0 + (double)(rnd(g) % 150) / 10.0);
        json_object_set_new(attrs, "unit_of_measurement",
                            json_string("\xC2\xB0"
                                        "C"));
        json_object_set_new(attrs, "device_class", json_string("temperature"));
        json_object_set_new(attrs, "state_class", json_string("measurement"));
        json_object_set_new(attrs, "friendly_name", json_sprintf("Temperature %u", idx));
        value = json_real(atof(state));
        unit = json_string("\xC2\xB0"
                           "C");
        dc = json_string("temperature");
        break;
    case 1:
        snprintf(entity, sizeof entity, "sensor.humidity_%u", idx);
        snprintf(state, sizeof state, "%u", 30 + rnd(g) % 50);
        json_object_set_new(attrs, "unit_of_measurement", json_string("%"));
        json_object_set_new(attrs, "device_class", json_string("humidity"));
        json_object_set_new(attrs, "friendly_name", json_sprintf("Humidity %u", idx));
        value = json_real(atof(state));
        unit = json_string("%");
        dc = json_string("humidity");
        break;
    case 2:
        snprintf(entity, sizeof entity, "binary_sensor.motion_%u", idx);
        snprintf(state, sizeof state, "%s", rnd(g) % 2 ? "on" : "off");
        json_object_set_new(attrs, "device_class", json_string("motion"));
        json_object_set_new(attrs, "friendly_name", json_sprintf("Motion %u", idx));
        value = json_real(state[1] == 'n' ? 1.0 : 0.0);
        dc = json_string("motion");
        break;
    case 3:
        snprintf(entity, sizeof entity, "light.lamp_%u", idx);
        snprintf(state, sizeof state, "%s", rnd(g) % 2 ? "on" : "off");
        json_object_set_new(attrs, "brightness", json_integer(rnd(g) % 256));
        json_object_set_new(attrs, "color_mode", json_string("brightness"));
        json_object_set_new(attrs, "supported_color_modes",
                            json_pack("[s]", "brightness"));
        json_object_set_new(attrs, "friendly_name", json_sprintf("Lamp %u", idx));
        value = json_real(state[1] == 'n' ? 1.0 : 0.0);
        break;
    default:
        snprintf(entity, sizeof entity, "sensor.power_%u", idx);
        snprintf(state, sizeof state, "%u.%u", rnd(g) % 3000, rnd(g) % 10);
        json_object_set_new(attrs, "unit_of_measurement", json_string("W"));
        json_object_set_new(attrs, "device_class", json_string("power"));
        json_object_set_new(attrs, "friendly_name", json_sprintf("Power %u", idx));
        value = json_real(atof(state));
        unit = json_string("W");
        dc = json_string("power");
        break;
    }
    char iso[40];
    hs_time_format_iso(g->time_ns, iso, sizeof iso);
    const char *dot = entity;
    while (*dot != '.')
        dot++;
    json_t *ev = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:s#,s:s,s:s,s:{s:s,s:o,s:s,s:s},s:n,s:{s:s},s:s,s:n,s:s,s:"
        "b,"
        "s:I,s:o,s:o,s:o,s:{s:f,s:i,s:f,s:s,s:s,s:n,s:i,s:b},s:{s:b,s:i,s:[]}}",
        "schema", 1, "site", "home", "event_type", "state_changed", "origin", "LOCAL",
        "entity_id", entity, "domain", entity, (int)(dot - entity), "object_id", dot + 1,
        "time_fired", iso, "new_state", "state", state, "attributes", attrs,
        "last_changed", iso, "last_updated", iso, "old_state", "context", "id", "01HGEN",
        "area", areas[idx % 4], "device", "ingested_at", iso, "backfill", 0, "time_ns",
        (json_int_t)g->time_ns, "value", value, "unit", unit, "device_class", dc,
        "weather", "temperature", 7.5, "humidity", 81, "pressure", 1012.3, "condition",
        "cloudy", "provider", "open-meteo", "observed_at", "age_s", 120, "stale", 0,
        "presence", "anyone_home", 1, "people_home", 2, "people");
    if (ev != NULL && g->full)
        make_full(g, ev, entity, iso);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    g->time_ns += 1000000;
    g->n++;
    return text;
}
