/* test-registry.c - registry: naming the area and device of an entity. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

static json_t *j(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
    return v;
}

/* Loads list element by element from the elements' texts
 * (registry_load_add_text), as a streamed list result is read. */
static int load_text(registry *r, registry_kind kind, const json_t *list)
{
    registry_load_begin(r, kind);
    size_t i;
    const json_t *el;
    json_array_foreach(list, i, el)
    {
        char *text = json_dumps(el, JSON_COMPACT);
        ck_assert_ptr_nonnull(text);
        ck_assert_int_eq(registry_load_add_text(r, kind, text, strlen(text)), 0);
        free(text);
    }
    return registry_load_end(r, kind, true);
}

static int load(registry *r, registry_kind kind, const json_t *list, bool text)
{
    char err[128];
    return text ? load_text(r, kind, list) : registry_load(r, kind, list, err, sizeof(err));
}

static registry *loaded_by(bool text)
{
    registry *r = registry_new();
    json_t *areas = j("[{\"area_id\":\"living\",\"name\":\"Living Room\"},"
                      "{\"area_id\":\"kitchen\",\"name\":\"Kitchen\"},"
                      "{\"name\":\"no id\"}]");
    json_t *devices = j("[{\"id\":\"d1\",\"area_id\":\"kitchen\",\"name\":\"Aqara TH\","
                        "\"name_by_user\":null},"
                        "{\"id\":\"d2\",\"area_id\":null,\"name\":\"Plug\","
                        "\"name_by_user\":\"Coffee plug\"},"
                        "{\"id\":\"d3\",\"area_id\":\"gone\",\"name\":\"X\"}]");
    json_t *entities =
        j("[{\"entity_id\":\"sensor.t\",\"area_id\":null,\"device_id\":\"d1\"},"
          "{\"entity_id\":\"sensor.own\",\"area_id\":\"living\","
          "\"device_id\":\"d1\"},"
          "{\"entity_id\":\"switch.p\",\"area_id\":null,\"device_id\":\"d2\"},"
          "{\"entity_id\":\"light.loose\",\"area_id\":\"living\","
          "\"device_id\":null},"
          "{\"entity_id\":\"sensor.d3\",\"device_id\":\"d3\"}]");
    ck_assert_int_eq(load(r, REGISTRY_AREAS, areas, text), 2);
    ck_assert_int_eq(load(r, REGISTRY_DEVICES, devices, text), 3);
    ck_assert_int_eq(load(r, REGISTRY_ENTITIES, entities, text), 5);
    json_decref(areas);
    json_decref(devices);
    json_decref(entities);
    return r;
}

static registry *loaded(void)
{
    return loaded_by(false);
}

static const struct {
    const char *entity, *area, *device;
} lookups[] = {
    {"sensor.t", "Kitchen", "Aqara TH"},       /* area from the device */
    {"sensor.own", "Living Room", "Aqara TH"}, /* the entity's own area wins */
    {"switch.p", NULL, "Coffee plug"},         /* name_by_user wins */
    {"light.loose", "Living Room", NULL},
    {"sensor.d3", NULL, "X"}, /* area id unknown */
    {"sensor.unknown", NULL, NULL},
};

START_TEST(test_lookup)
{
    registry *r = loaded_by(_i >= (int)(sizeof(lookups) / sizeof(lookups[0])));
    _i %= (int)(sizeof(lookups) / sizeof(lookups[0]));
    const char *area, *device;
    registry_lookup(r, lookups[_i].entity, &area, &device);
    if (lookups[_i].area == NULL)
        ck_assert_ptr_null(area);
    else
        ck_assert_str_eq(area, lookups[_i].area);
    if (lookups[_i].device == NULL)
        ck_assert_ptr_null(device);
    else
        ck_assert_str_eq(device, lookups[_i].device);
    registry_free(r);
}
END_TEST

/* The text path decodes escapes as the parse does, and leaves what it is
 * not sure of to the parse (1); a commit of false keeps the old registry. */
START_TEST(test_add_text)
{
    registry *r = registry_new();
    registry_load_begin(r, REGISTRY_AREAS);
    const char *ok = "{\"area_id\":\"caf\\u00e9\",\"name\":\"Caf\\u00e9 \\\"1\\\"\"}";
    ck_assert_int_eq(registry_load_add_text(r, REGISTRY_AREAS, ok, strlen(ok)), 0);
    static const char *const parse[] = {
        "{\"area_id\":\"a\",\"area_id\":\"b\",\"name\":\"x\"}",
        "{\"area_id\":\"a\\u0000\",\"name\":\"x\"}",
        "{\"area_id\":\"a\",\"name\":}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof(parse) / sizeof(parse[0]); i++)
        ck_assert_int_eq(registry_load_add_text(r, REGISTRY_AREAS, parse[i], strlen(parse[i])),
                         1);
    ck_assert_int_eq(registry_load_end(r, REGISTRY_AREAS, true), 1);
    json_t *ents = j("[{\"entity_id\":\"s.x\",\"area_id\":\"caf\\u00e9\"}]");
    ck_assert_int_eq(load_text(r, REGISTRY_ENTITIES, ents), 1);
    json_decref(ents);
    const char *area, *device;
    registry_lookup(r, "s.x", &area, &device);
    ck_assert_str_eq(area, "Caf\u00e9 \"1\"");
    registry_load_begin(r, REGISTRY_ENTITIES);
    ck_assert_int_eq(registry_load_end(r, REGISTRY_ENTITIES, false), -1);
    ck_assert_uint_eq(registry_count(r, REGISTRY_ENTITIES), 1);
    registry_free(r);
}
END_TEST

START_TEST(test_reload_replaces)
{
    registry *r = loaded();
    char err[128];
    json_t *areas = j("[{\"area_id\":\"kitchen\",\"name\":\"Cuisine\"}]");
    ck_assert_int_eq(registry_load(r, REGISTRY_AREAS, areas, err, sizeof(err)), 1);
    json_decref(areas);
    const char *area, *device;
    registry_lookup(r, "sensor.t", &area, &device);
    ck_assert_str_eq(area, "Cuisine");
    registry_lookup(r, "sensor.own", &area, &device);
    ck_assert_ptr_null(area);
    ck_assert_uint_eq(registry_count(r, REGISTRY_AREAS), 1);

    /* Not a list: refused, the old registry stays. */
    json_t *bad = j("{\"a\":1}");
    ck_assert_int_eq(registry_load(r, REGISTRY_DEVICES, bad, err, sizeof(err)), -1);
    ck_assert(strstr(err, "device_registry") != NULL);
    json_decref(bad);
    ck_assert_uint_eq(registry_count(r, REGISTRY_DEVICES), 3);
    registry_lookup(r, NULL, &area, &device);
    ck_assert_ptr_null(area);
    registry_free(r);
    registry_free(NULL);
}
END_TEST

/* Many entries (the map grows), a repeated id (the later entry wins and
 * counts once), entries without their id skipped. */
START_TEST(test_many_and_repeated)
{
    registry *r = registry_new();
    char err[128];
    json_t *devs = json_array();
    json_t *ents = json_array();
    for (int i = 0; i < 5000; i++) {
        char id[32], dev[32], name[32];
        snprintf(id, sizeof(id), "sensor.s%d", i);
        snprintf(dev, sizeof(dev), "dev%d", i % 700);
        snprintf(name, sizeof(name), "Device %d", i % 700);
        json_array_append_new(ents,
                              json_pack("{s:s, s:s}", "entity_id", id, "device_id", dev));
        if (i < 700)
            json_array_append_new(devs, json_pack("{s:s, s:s, s:s}", "id", dev, "name",
                                                  name, "area_id", "hall"));
    }
    json_array_append_new(
        ents, json_pack("{s:s, s:s}", "entity_id", "sensor.s7", "area_id", "attic"));
    json_array_append_new(ents, json_pack("{s:s}", "area_id", "attic"));
    json_array_append_new(ents, json_pack("{s:s}", "entity_id", ""));
    json_t *areas = j("[{\"area_id\":\"hall\",\"name\":\"Hall\"},"
                      "{\"area_id\":\"attic\",\"name\":\"Attic\"},"
                      "{\"area_id\":\"nameless\"}]");
    ck_assert_int_eq(registry_load(r, REGISTRY_AREAS, areas, err, sizeof(err)), 2);
    ck_assert_int_eq(registry_load(r, REGISTRY_DEVICES, devs, err, sizeof(err)), 700);
    ck_assert_int_eq(registry_load(r, REGISTRY_ENTITIES, ents, err, sizeof(err)), 5000);
    const char *area, *device;
    registry_lookup(r, "sensor.s4999", &area, &device);
    ck_assert_str_eq(area, "Hall");
    ck_assert_str_eq(device, "Device 99");
    registry_lookup(r, "sensor.s7", &area, &device);
    ck_assert_str_eq(area, "Attic");
    ck_assert_ptr_null(device);
    registry_lookup(r, "sensor.s5000", &area, &device);
    ck_assert_ptr_null(area);
    ck_assert_ptr_null(device);
    json_decref(areas);
    json_decref(devs);
    json_decref(ents);
    registry_free(r);
}
END_TEST

/* Single entities set and removed between loads, as the ingestor does on
 * entity_registry_updated: the area and device follow the new entry, a
 * removed id is unknown, and every other id stays reachable however the
 * removals reshuffle the hash map's probe runs. */
START_TEST(test_update_and_remove)
{
    registry *r = registry_new();
    char err[128];
    json_t *areas = j("[{\"area_id\":\"hall\",\"name\":\"Hall\"},"
                      "{\"area_id\":\"attic\",\"name\":\"Attic\"}]");
    json_t *devs = j("[{\"id\":\"d1\",\"name\":\"Plug\",\"area_id\":\"hall\"}]");
    ck_assert_int_eq(registry_load(r, REGISTRY_AREAS, areas, err, sizeof(err)), 2);
    ck_assert_int_eq(registry_load(r, REGISTRY_DEVICES, devs, err, sizeof(err)), 1);
    enum { N = 3000 };
    json_t *ents = json_array();
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "sensor.s%d", i);
        json_array_append_new(ents, json_pack("{s:s, s:s}", "entity_id", id, "area_id", "hall"));
    }
    ck_assert_int_eq(registry_load(r, REGISTRY_ENTITIES, ents, err, sizeof(err)), N);

    /* A new entity, then the same one moved to a device and another area. */
    json_t *e = j("{\"entity_id\":\"light.new\",\"area_id\":null,\"device_id\":\"d1\","
                  "\"aliases\":[],\"name\":null}");
    ck_assert_int_eq(registry_update_entity(r, e), 1);
    json_decref(e);
    const char *area, *device;
    registry_lookup(r, "light.new", &area, &device);
    ck_assert_str_eq(area, "Hall");
    ck_assert_str_eq(device, "Plug");
    e = j("{\"entity_id\":\"light.new\",\"area_id\":\"attic\",\"device_id\":null}");
    ck_assert_int_eq(registry_update_entity(r, e), 1);
    json_decref(e);
    registry_lookup(r, "light.new", &area, &device);
    ck_assert_str_eq(area, "Attic");
    ck_assert_ptr_null(device);
    ck_assert_uint_eq(registry_count(r, REGISTRY_ENTITIES), N + 1);
    e = j("{\"area_id\":\"attic\"}");
    ck_assert_int_eq(registry_update_entity(r, e), 0);
    json_decref(e);
    ck_assert_uint_eq(registry_count(r, REGISTRY_ENTITIES), N + 1);

    /* Remove every third entity (and one unknown id): the others keep
     * their entries. */
    registry_remove_entity(r, "sensor.none");
    registry_remove_entity(r, NULL);
    for (int i = 0; i < N; i += 3) {
        char id[32];
        snprintf(id, sizeof(id), "sensor.s%d", i);
        registry_remove_entity(r, id);
    }
    ck_assert_uint_eq(registry_count(r, REGISTRY_ENTITIES), N + 1 - (N + 2) / 3);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "sensor.s%d", i);
        registry_lookup(r, id, &area, &device);
        if (i % 3 == 0)
            ck_assert_msg(area == NULL, "%s still known", id);
        else
            ck_assert_msg(area != NULL && strcmp(area, "Hall") == 0, "%s lost", id);
    }
    registry_lookup(r, "light.new", &area, &device);
    ck_assert_str_eq(area, "Attic");
    /* Removed ids can come back. */
    e = j("{\"entity_id\":\"sensor.s3\",\"area_id\":\"attic\"}");
    ck_assert_int_eq(registry_update_entity(r, e), 1);
    json_decref(e);
    registry_lookup(r, "sensor.s3", &area, &device);
    ck_assert_str_eq(area, "Attic");
    json_decref(areas);
    json_decref(devs);
    json_decref(ents);
    registry_free(r);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(registry_list_command(REGISTRY_ENTITIES),
                     "config/entity_registry/list");
    ck_assert_str_eq(registry_update_event(REGISTRY_AREAS), "area_registry_updated");
    ck_assert_str_eq(registry_update_event(REGISTRY_DEVICES), "device_registry_updated");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_lookup, 0, 2 * (int)(sizeof(lookups) / sizeof(lookups[0])));
    tcase_add_test(tc, test_add_text);
    tcase_add_test(tc, test_reload_replaces);
    tcase_add_test(tc, test_many_and_repeated);
    tcase_add_test(tc, test_update_and_remove);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
