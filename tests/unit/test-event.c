/* test-event.c - unit tests for hs_event: HA events to raw messages,
 * validation and entity id splitting. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hs_event.h"

/* 2026-11-21T22:48:38.123456+00:00 */
#define INGESTED_NS INT64_C(1795301318123456000)

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s: %s", e.text, text);
    return j;
}

static const char *const state_changed_text =
    "{\"event_type\":\"state_changed\","
    "\"data\":{\"entity_id\":\"sensor.living_room_temperature\","
    "\"old_state\":{\"entity_id\":\"sensor.living_room_temperature\",\"state\":\"21.4\","
    "\"attributes\":{},\"last_changed\":\"2026-11-21T22:40:00+00:00\","
    "\"last_updated\":\"2026-11-21T22:40:00+00:00\"},"
    "\"new_state\":{\"entity_id\":\"sensor.living_room_temperature\",\"state\":\"21.5\","
    "\"attributes\":{\"unit_of_measurement\":\"\\u00b0C\",\"device_class\":"
    "\"temperature\","
    "\"friendly_name\":\"Living "
    "room\"},\"last_changed\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"last_updated\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"context\":{\"id\":\"01ABC\",\"parent_id\":null,\"user_id\":null}}},"
    "\"origin\":\"LOCAL\",\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"context\":{\"id\":\"01ABC\",\"parent_id\":null,\"user_id\":null}}";

START_TEST(test_state_changed)
{
    json_t *ha = parse(state_changed_text);
    hs_event_ctx ctx = {.site = "home",
                        .area = "Living Room",
                        .device = "Aqara TH",
                        .ingested_at_ns = INGESTED_NS,
                        .backfill = false};
    char err[128] = "";
    json_t *msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);

    /* The exact message of DESIGN.md section 2, keys in that order. */
    static const char *const keys[] = {
        "schema",  "site",      "event_type", "origin",      "entity_id",
        "domain",  "object_id", "time_fired", "new_state",   "old_state",
        "context", "area",      "device",     "ingested_at", "backfill"};
    ck_assert_uint_eq(json_object_size(msg), sizeof keys / sizeof keys[0]);
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(msg, key, val)
    {
        ck_assert_str_eq(key, keys[k]);
        k++;
    }
    ck_assert_int_eq(json_integer_value(json_object_get(msg, "schema")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "site")), "home");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "event_type")),
                     "state_changed");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "origin")), "LOCAL");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "entity_id")),
                     "sensor.living_room_temperature");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "domain")), "sensor");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "object_id")),
                     "living_room_temperature");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "time_fired")),
                     "2026-11-21T22:48:38.123456+00:00");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "area")), "Living Room");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "device")), "Aqara TH");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "ingested_at")),
                     "2026-11-21T22:48:38.123456+00:00");
    ck_assert(json_is_false(json_object_get(msg, "backfill")));

    /* States and context are copied exactly as HA sent them. */
    const json_t *data = json_object_get(ha, "data");
    ck_assert(json_equal(json_object_get(msg, "new_state"),
                         json_object_get(data, "new_state")));
    ck_assert(json_equal(json_object_get(msg, "old_state"),
                         json_object_get(data, "old_state")));
    ck_assert(
        json_equal(json_object_get(msg, "context"), json_object_get(ha, "context")));
    ck_assert_int_eq(hs_event_validate_raw(msg, err, sizeof err), 0);

    /* The message owns its copies: freeing the input leaves it intact. */
    json_t *new_state = json_object_get(msg, "new_state");
    json_decref(ha);
    ck_assert_str_eq(json_string_value(json_object_get(new_state, "state")), "21.5");
    json_decref(msg);
}
END_TEST

/* Creation (old_state null), removal (new_state null) and a missing state. */
static const struct {
    const char *data;
    bool new_null, old_null;
} null_states[] = {
    {"{\"entity_id\":\"light.kitchen\",\"old_state\":null,\"new_state\":{\"state\":"
     "\"on\"}}",
     false, true},
    {"{\"entity_id\":\"light.kitchen\",\"old_state\":{\"state\":\"on\"},\"new_state\":"
     "null}",
     true, false},
    {"{\"entity_id\":\"light.kitchen\",\"new_state\":{\"state\":\"on\"}}", false, true},
    {"{\"entity_id\":\"light.kitchen\"}", true, true},
};

START_TEST(test_null_states)
{
    json_t *ha =
        json_pack("{s:s, s:o, s:s}", "event_type", "state_changed", "data",
                  parse(null_states[_i].data), "time_fired", "2026-11-21T22:48:38+00:00");
    hs_event_ctx ctx = {.site = "home", .ingested_at_ns = INGESTED_NS, .backfill = true};
    char err[128] = "";
    json_t *msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);
    ck_assert_int_eq(json_is_null(json_object_get(msg, "new_state")),
                     null_states[_i].new_null);
    ck_assert_int_eq(json_is_null(json_object_get(msg, "old_state")),
                     null_states[_i].old_null);
    ck_assert(json_is_object(json_object_get(msg, "new_state")) ||
              null_states[_i].new_null);
    ck_assert(json_is_true(json_object_get(msg, "backfill")));
    /* Unknown area, device, origin and context are null, not missing. */
    ck_assert(json_is_null(json_object_get(msg, "area")));
    ck_assert(json_is_null(json_object_get(msg, "device")));
    ck_assert(json_is_null(json_object_get(msg, "origin")));
    ck_assert(json_is_null(json_object_get(msg, "context")));
    ck_assert_int_eq(hs_event_validate_raw(msg, err, sizeof err), 0);
    json_decref(msg);
    json_decref(ha);
}
END_TEST

START_TEST(test_other_event_types)
{
    hs_event_ctx ctx = {.site = "cabin", .ingested_at_ns = 0};
    char err[128] = "";

    /* call_service: data kept under "data", no entity at the top level even
     * though service_data names some. */
    json_t *ha =
        parse("{\"event_type\":\"call_service\",\"data\":{\"domain\":\"light\","
              "\"service\":\"turn_on\",\"service_data\":{\"entity_id\":"
              "[\"light.a\",\"light.b\"]}},\"origin\":\"LOCAL\","
              "\"time_fired\":\"2026-11-21T22:48:38+00:00\",\"context\":{\"id\":\"x\"}}");
    json_t *msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "event_type")),
                     "call_service");
    ck_assert(json_equal(json_object_get(msg, "data"), json_object_get(ha, "data")));
    ck_assert_ptr_null(json_object_get(msg, "entity_id"));
    ck_assert_ptr_null(json_object_get(msg, "new_state"));
    ck_assert_str_eq(json_string_value(json_object_get(msg, "site")), "cabin");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "ingested_at")),
                     "1970-01-01T00:00:00.000000+00:00");
    ck_assert_int_eq(hs_event_validate_raw(msg, err, sizeof err), 0);
    json_decref(msg);
    json_decref(ha);

    /* An event whose data names one entity gets it lifted too. */
    ha = parse(
        "{\"event_type\":\"entity_registry_updated\",\"data\":{\"action\":\"update\","
        "\"entity_id\":\"sensor.new_name\"}}");
    msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);
    ck_assert_str_eq(json_string_value(json_object_get(msg, "entity_id")),
                     "sensor.new_name");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "domain")), "sensor");
    ck_assert_str_eq(json_string_value(json_object_get(msg, "object_id")), "new_name");
    ck_assert(json_equal(json_object_get(msg, "data"), json_object_get(ha, "data")));
    json_decref(msg);
    json_decref(ha);

    /* A malformed data.entity_id of another event type stays in data only. */
    ha = parse(
        "{\"event_type\":\"logbook_entry\",\"data\":{\"entity_id\":\"Not An Id\"}}");
    msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);
    ck_assert_ptr_null(json_object_get(msg, "entity_id"));
    ck_assert(json_equal(json_object_get(msg, "data"), json_object_get(ha, "data")));
    json_decref(msg);
    json_decref(ha);

    /* No data at all: an empty object. */
    ha = parse("{\"event_type\":\"homeassistant_started\"}");
    msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg != NULL, "%s", err);
    ck_assert(json_is_object(json_object_get(msg, "data")));
    ck_assert_uint_eq(json_object_size(json_object_get(msg, "data")), 0);
    json_decref(msg);
    json_decref(ha);
}
END_TEST

/* Events that must be refused, with a word the reason must contain. */
static const struct {
    const char *event;
    const char *reason;
} bad_events[] = {
    {"[1,2]", "not a JSON object"},
    {"\"state_changed\"", "not a JSON object"},
    {"{\"data\":{}}", "event_type"},
    {"{\"event_type\":\"\"}", "event_type"},
    {"{\"event_type\":5}", "event_type"},
    {"{\"event_type\":\"x\",\"data\":[]}", "data"},
    {"{\"event_type\":\"state_changed\",\"data\":{}}", "entity_id"},
    {"{\"event_type\":\"state_changed\"}", "entity_id"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":7}}", "entity_id"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor\"}}",
     "malformed"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"Sensor.x\"}}",
     "malformed"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.a.b\"}}",
     "malformed"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.\"}}",
     "malformed"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.x\","
     "\"new_state\":\"on\"}}",
     "new_state"},
    {"{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.x\","
     "\"new_state\":null,\"old_state\":[1]}}",
     "old_state"},
};

START_TEST(test_bad_events)
{
    json_t *ha = parse(bad_events[_i].event);
    hs_event_ctx ctx = {.site = "home"};
    char err[128] = "";
    json_t *msg = hs_event_from_ha(ha, &ctx, err, sizeof err);
    ck_assert_msg(msg == NULL, "accepted %s", bad_events[_i].event);
    ck_assert_msg(strstr(err, bad_events[_i].reason) != NULL,
                  "%s: reason '%s' lacks '%s'", bad_events[_i].event, err,
                  bad_events[_i].reason);
    json_decref(ha);
}
END_TEST

START_TEST(test_missing_site)
{
    json_t *ha = parse(state_changed_text);
    hs_event_ctx ctx = {.site = NULL};
    char err[128] = "";
    ck_assert_ptr_null(hs_event_from_ha(ha, &ctx, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "site"));
    ck_assert_ptr_null(hs_event_from_ha(ha, NULL, err, sizeof err));
    ck_assert_ptr_null(hs_event_from_ha(NULL, &ctx, NULL, 0));
    json_decref(ha);
}
END_TEST

static const struct {
    const char *id;
    const char *domain; /* NULL: the id is rejected */
    const char *object_id;
} entities[] = {
    {"sensor.living_room_temperature", "sensor", "living_room_temperature"},
    {"light.kitchen", "light", "kitchen"},
    {"binary_sensor.door_2", "binary_sensor", "door_2"},
    {"sensor.0x00158d0001", "sensor", "0x00158d0001"},
    {"a.b", "a", "b"},
    /* HA never creates these, but the charset is right: accepted. */
    {"sensor._x_", "sensor", "_x_"},
    {"_.x", "_", "x"},
    {"", NULL, NULL},
    {".", NULL, NULL},
    {"sensor", NULL, NULL},
    {"sensor.", NULL, NULL},
    {".x", NULL, NULL},
    {"sensor.x.y", NULL, NULL},
    {"sensor..x", NULL, NULL},
    {"Sensor.x", NULL, NULL},
    {"sensor.X", NULL, NULL},
    {"sensor.a-b", NULL, NULL},
    {"sensor.a b", NULL, NULL},
    {"sensor.x ", NULL, NULL},
    {" sensor.x", NULL, NULL},
    {"sensor.t\xc3\xa9l\xc3\xa9", NULL, NULL},
    {"sensor.x\n", NULL, NULL},
};

START_TEST(test_split_entity)
{
    char domain[64];
    const char *obj = hs_event_split_entity(entities[_i].id, domain, sizeof domain);
    if (entities[_i].domain == NULL) {
        ck_assert_msg(obj == NULL, "accepted '%s'", entities[_i].id);
        return;
    }
    ck_assert_msg(obj != NULL, "rejected '%s'", entities[_i].id);
    ck_assert_str_eq(domain, entities[_i].domain);
    ck_assert_str_eq(obj, entities[_i].object_id);
    /* The object id points into the entity id. */
    ck_assert_ptr_eq(obj, entities[_i].id + strlen(entities[_i].domain) + 1);
    /* Checking the form only. */
    ck_assert_ptr_eq(hs_event_split_entity(entities[_i].id, NULL, 0), obj);
}
END_TEST

START_TEST(test_split_entity_small_buffer)
{
    char domain[7];
    /* "sensor" and its NUL fit in exactly 7 bytes; "binary_sensor" does not. */
    ck_assert_ptr_nonnull(hs_event_split_entity("sensor.x", domain, sizeof domain));
    ck_assert_str_eq(domain, "sensor");
    ck_assert_ptr_null(hs_event_split_entity("binary_sensor.x", domain, sizeof domain));
    ck_assert_ptr_null(hs_event_split_entity(NULL, domain, sizeof domain));
}
END_TEST

/* Raw messages that fail validation, with a word of the reason. */
static const struct {
    const char *msg;
    const char *reason;
} bad_raw[] = {
    {"[]", "object"},
    {"{\"event_type\":\"x\",\"site\":\"home\"}", "schema"},
    {"{\"schema\":2,\"event_type\":\"x\",\"site\":\"home\"}", "schema"},
    {"{\"schema\":\"1\",\"event_type\":\"x\",\"site\":\"home\"}", "schema"},
    {"{\"schema\":1.0,\"event_type\":\"x\",\"site\":\"home\"}", "schema"},
    {"{\"schema\":1,\"site\":\"home\"}", "event_type"},
    {"{\"schema\":1,\"event_type\":\"\",\"site\":\"home\"}", "event_type"},
    {"{\"schema\":1,\"event_type\":\"x\"}", "site"},
    {"{\"schema\":1,\"event_type\":\"x\",\"site\":null}", "site"},
    {"{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\",\"new_state\":"
     "null}",
     "entity_id"},
    {"{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\","
     "\"entity_id\":\"sensor\",\"new_state\":null}",
     "entity_id"},
    {"{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\","
     "\"entity_id\":\"sensor.x\"}",
     "new_state"},
    {"{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\","
     "\"entity_id\":\"sensor.x\",\"new_state\":\"21\"}",
     "new_state"},
};

START_TEST(test_validate_bad)
{
    json_t *msg = parse(bad_raw[_i].msg);
    char err[128] = "";
    ck_assert_msg(hs_event_validate_raw(msg, err, sizeof err) == -1, "accepted %s",
                  bad_raw[_i].msg);
    ck_assert_msg(strstr(err, bad_raw[_i].reason) != NULL, "%s: reason '%s' lacks '%s'",
                  bad_raw[_i].msg, err, bad_raw[_i].reason);
    json_decref(msg);
}
END_TEST

START_TEST(test_validate_good)
{
    static const char *const good[] = {
        "{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\","
        "\"entity_id\":\"sensor.x\",\"new_state\":null}",
        "{\"schema\":1,\"event_type\":\"state_changed\",\"site\":\"home\","
        "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"1\"},\"extra\":true}",
        "{\"schema\":1,\"event_type\":\"weather\",\"site\":\"\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *msg = parse(good[i]);
        char err[128] = "";
        ck_assert_msg(hs_event_validate_raw(msg, err, sizeof err) == 0, "%s: %s", good[i],
                      err);
        json_decref(msg);
    }
    ck_assert_int_eq(hs_event_validate_raw(NULL, NULL, 0), -1);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_state_changed);
    tcase_add_loop_test(tc, test_null_states, 0,
                        sizeof null_states / sizeof null_states[0]);
    tcase_add_test(tc, test_other_event_types);
    tcase_add_loop_test(tc, test_bad_events, 0, sizeof bad_events / sizeof bad_events[0]);
    tcase_add_test(tc, test_missing_site);
    tcase_add_loop_test(tc, test_split_entity, 0, sizeof entities / sizeof entities[0]);
    tcase_add_test(tc, test_split_entity_small_buffer);
    tcase_add_loop_test(tc, test_validate_bad, 0, sizeof bad_raw / sizeof bad_raw[0]);
    tcase_add_test(tc, test_validate_good);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(event_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
