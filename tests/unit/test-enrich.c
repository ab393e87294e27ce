/* test-enrich.c - the enricher's transform: state values, time, fields. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enrich.h"

typedef struct {
    const char *state;
    int rc;
    double value;
} value_case;

static const value_case value_cases[] = {
    /* HA's state_as_number word states. */
    {"on", 0, 1},
    {"locked", 0, 1},
    {"above_horizon", 0, 1},
    {"open", 0, 1},
    {"home", 0, 1},
    {"off", 0, 0},
    {"unlocked", 0, 0},
    {"below_horizon", 0, 0},
    {"closed", 0, 0},
    {"not_home", 0, 0},
    /* HA maps "unknown" to 0, homestream to no value: an unknown temperature
     * must not graph as 0. */
    {"unknown", -1, 0},
    {"Unknown", -1, 0},
    /* Words HA does not map: not numbers. */
    {"opening", -1, 0},
    {"closing", -1, 0},
    {"unavailable", -1, 0},
    {"ON", -1, 0},
    {"heat", -1, 0},
    {"idle", -1, 0},
    {"playing", -1, 0},
    /* Decimal literals. */
    {"21.5", 0, 21.5},
    {"-3", 0, -3},
    {"+4", 0, 4},
    {"0", 0, 0},
    {"007", 0, 7},
    {"1.", 0, 1},
    {".5", 0, 0.5},
    {"1e3", 0, 1000},
    {"2.5E-1", 0, 0.25},
    {"-0.0", 0, 0},
    /* Not numbers, however close. */
    {"", -1, 0},
    {"12abc", -1, 0},
    {" 1", -1, 0},
    {"1 ", -1, 0},
    {"0x10", -1, 0},
    {"nan", -1, 0},
    {"NaN", -1, 0},
    {"inf", -1, 0},
    {"-Infinity", -1, 0},
    {"1e999", -1, 0},
    {"1_000", -1, 0},
    {"1,5", -1, 0},
    {".", -1, 0},
    {"-", -1, 0},
    {"1e", -1, 0},
    {"1e+", -1, 0},
    {"e5", -1, 0},
    {"--1", -1, 0},
};

START_TEST(test_state_value)
{
    const value_case *c = &value_cases[_i];
    double v = -999;
    int rc = enrich_state_value(c->state, &v);
    ck_assert_msg(rc == c->rc, "state \"%s\": rc %d, expected %d", c->state, rc, c->rc);
    if (rc == 0)
        ck_assert_msg(v == c->value, "state \"%s\": %g, expected %g", c->state, v,
                      c->value);
    else
        ck_assert_msg(v == -999, "state \"%s\": output written on failure", c->state);
}
END_TEST

/* Decimal literals give exactly strtod's double, the sign of zero
 * included, whichever way enrich_state_value reads them: the short ones
 * without strtod, the long ones (more than 15 significant digits, a scale
 * beyond 10^22, an exponent) with it. */
static void expect_strtod(const char *text)
{
    double got = -999;
    ck_assert_msg(enrich_state_value(text, &got) == 0, "\"%s\" rejected", text);
    double want = strtod(text, NULL);
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "\"%s\": %.17g, strtod %.17g",
                  text, got, want);
}

START_TEST(test_state_value_strtod)
{
    static const char *const fixed[] = {
        "0.1",
        "0.3",
        "-0.0",
        "-0",
        "+0.0",
        "0.000",
        "1.",
        ".5",
        "-.5",
        "123456789012345",
        "1234567890123456",
        "12345678901234567890",
        "999999999999999.9",
        "0.1234567890123456",
        "9007199254740993",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
        "1.0000000000000000000001",
        "4.35",
        "1e22",
        "1e-5",
        "0.30000000000000004",
        "21.5",
        "1015.9166",
        "-40.0",
        "00000000000000000001.5",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        expect_strtod(fixed[i]);
    /* Random literals: up to 24 digits, the point anywhere or nowhere, a
     * sign, sometimes an exponent. */
    uint64_t state = 0x2545F4914F6CDD1Du;
    char text[64];
    for (int i = 0; i < 5000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint64_t r = state;
        size_t o = 0;
        if (r % 3 == 0)
            text[o++] = r % 2 ? '-' : '+';
        r /= 3;
        int ndigits = 1 + (int)(r % 24);
        r /= 24;
        int point = (int)(r % (uint64_t)(ndigits + 2)) - 1; /* -1: no point */
        r /= (uint64_t)(ndigits + 2);
        uint64_t d = state * 0x9E3779B97F4A7C15u;
        for (int k = 0; k < ndigits; k++) {
            if (k == point)
                text[o++] = '.';
            text[o++] = (char)('0' + (k < 2 && r % 4 == 0 ? 0 : d % 10));
            d = d / 10 + (d % 7) * 0x100000000u;
        }
        if (point == ndigits)
            text[o++] = '.';
        if (r % 16 == 1)
            o += (size_t)snprintf(text + o, sizeof text - o, "e%d", (int)(d % 41) - 20);
        text[o] = '\0';
        expect_strtod(text);
    }
}
END_TEST

START_TEST(test_state_value_null)
{
    double v = 0;
    ck_assert_int_eq(enrich_state_value(NULL, &v), -1);
}
END_TEST

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s: %s", e.text, text);
    return j;
}

#define RAW_HEAD                                                                         \
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"state_changed\",\"origin\":"       \
    "\"LOCAL\","                                                                         \
    "\"entity_id\":\"sensor.t\",\"domain\":\"sensor\",\"object_id\":\"t\","              \
    "\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\","

typedef struct {
    const char *name;
    const char *raw;
    const char *expect; /* the added fields, as a JSON object; NULL: enrich fails */
    const char *err;    /* substring of the error when it fails */
} event_case;

static const event_case event_cases[] = {
    {"numeric sensor with unit and device class",
     RAW_HEAD "\"new_state\":{\"state\":\"21.5\",\"attributes\":{\"unit_of_measurement\":"
              "\"°C\",\"device_class\":\"temperature\"},\"last_changed\":"
              "\"2026-11-21T22:48:38.000001+00:00\",\"last_updated\":"
              "\"2026-11-21T22:48:38.000002+00:00\"},\"old_state\":null}",
     "{\"time_ns\":1795301318000002000,\"value\":21.5,\"unit\":\"°C\","
     "\"device_class\":\"temperature\"}",
     NULL},
    {"switch on, no attributes",
     RAW_HEAD
     "\"new_state\":{\"state\":\"on\",\"last_updated\":\"2026-11-21T22:48:38Z\"}}",
     "{\"time_ns\":1795301318000000000,\"value\":1.0,\"unit\":null,\"device_class\":"
     "null}",
     NULL},
    {"text state gives null value",
     RAW_HEAD
     "\"new_state\":{\"state\":\"opening\",\"attributes\":{\"unit_of_measurement\":5},"
     "\"last_updated\":\"2026-11-21T22:48:38.5+00:00\"}}",
     "{\"time_ns\":1795301318500000000,\"value\":null,\"unit\":null,\"device_class\":"
     "null}",
     NULL},
    {"temperature going unknown gives null value, not 0",
     RAW_HEAD "\"new_state\":{\"state\":\"unknown\",\"attributes\":{"
              "\"unit_of_measurement\":\"°C\",\"device_class\":\"temperature\"},"
              "\"last_updated\":\"2026-11-21T22:48:38Z\"}}",
     "{\"time_ns\":1795301318000000000,\"value\":null,\"unit\":\"°C\","
     "\"device_class\":\"temperature\"}",
     NULL},
    {"state not a string gives null value",
     RAW_HEAD "\"new_state\":{\"state\":21,\"last_updated\":\"2026-11-21T22:48:38Z\"}}",
     "{\"time_ns\":1795301318000000000,\"value\":null,\"unit\":null,\"device_class\":"
     "null}",
     NULL},
    {"removed entity uses time_fired",
     RAW_HEAD "\"new_state\":null,\"old_state\":{\"state\":\"1\"}}",
     "{\"time_ns\":1795301318123456000,\"value\":null,\"unit\":null,\"device_class\":"
     "null}",
     NULL},
    {"other event type uses time_fired",
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"call_service\","
     "\"time_fired\":\"2026-11-21T23:48:38.123456+01:00\",\"data\":{}}",
     "{\"time_ns\":1795301318123456000,\"value\":null,\"unit\":null,\"device_class\":"
     "null}",
     NULL},
    {"bad last_updated",
     RAW_HEAD "\"new_state\":{\"state\":\"1\",\"last_updated\":\"yesterday\"}}", NULL,
     "new_state.last_updated is not an ISO 8601 timestamp"},
    {"missing last_updated", RAW_HEAD "\"new_state\":{\"state\":\"1\"}}", NULL,
     "new_state.last_updated is missing"},
    {"missing time_fired",
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"call_service\"}", NULL,
     "time_fired is missing"},
};

START_TEST(test_enrich_event)
{
    const event_case *c = &event_cases[_i];
    json_t *raw = load(c->raw);
    json_t *before = json_deep_copy(raw);
    json_t *presence = load("{\"anyone_home\":true,\"people_home\":1,\"people\":[]}");
    json_t *weather = load("{\"temperature\":3.5,\"stale\":false}");
    enrich_ctx ctx = {.presence = presence, .weather = weather};
    char err[256] = "";

    json_t *out = enrich_event(raw, &ctx, err, sizeof err);
    if (!c->expect) {
        ck_assert_msg(out == NULL, "%s: expected failure", c->name);
        ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\"", c->name, err);
    } else {
        ck_assert_msg(out != NULL, "%s: failed: %s", c->name, err);
        json_t *expect = load(c->expect);
        const char *key;
        json_t *v;
        json_object_foreach(expect, key, v)
        {
            json_t *got = json_object_get(out, key);
            char *g = json_dumps(got, JSON_ENCODE_ANY);
            ck_assert_msg(got && json_equal(got, v), "%s: %s = %s", c->name, key,
                          g ? g : "(missing)");
            free(g);
        }
        ck_assert_msg(json_is_integer(json_object_get(out, "time_ns")),
                      "%s: time_ns type", c->name);
        ck_assert(json_equal(json_object_get(out, "presence"), presence));
        ck_assert(json_equal(json_object_get(out, "weather"), weather));
        /* Every raw field is still there, unchanged. */
        json_object_foreach(before, key, v)
        {
            ck_assert_msg(json_equal(json_object_get(out, key), v),
                          "%s: field %s changed", c->name, key);
        }
        ck_assert_int_eq(json_object_size(out), json_object_size(before) + 6);
        json_decref(expect);
        json_decref(out);
    }
    /* The input is never modified. */
    ck_assert_msg(json_equal(raw, before), "%s: raw modified", c->name);
    json_decref(raw);
    json_decref(before);
    json_decref(presence);
    json_decref(weather);
}
END_TEST

/* enrich_text of raw's own text gives the message enrich_event builds: the
 * same value, members in the same order. */
static void expect_text_matches(const char *name, const char *raw_text, size_t raw_len)
{
    json_error_t e;
    json_t *raw =
        json_loadb(raw_text, raw_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    ck_assert_msg(raw != NULL, "%s: bad test JSON: %s", name, e.text);
    json_t *presence = load("{\"anyone_home\":true,\"people_home\":1,\"people\":[\"a\"]}");
    enrich_ctx ctx = {.presence = presence};
    char err[256] = "";
    json_t *fields = enrich_fields(raw, &ctx, err, sizeof err);
    json_t *out = enrich_event(raw, &ctx, err, sizeof err);
    ck_assert_msg(fields && out, "%s: %s", name, err);
    size_t len = 0;
    char *text = enrich_text(raw_text, raw_len, raw, fields, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    json_t *back = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    ck_assert_msg(back != NULL, "%s: not JSON: %s: %s", name, e.text, text);
    char *want = json_dumps(out, JSON_COMPACT);
    char *got = json_dumps(back, JSON_COMPACT);
    ck_assert_msg(strcmp(want, got) == 0, "%s:\n got %s\nwant %s", name, got, want);
    free(want);
    free(got);
    free(text);
    json_decref(back);
    json_decref(out);
    json_decref(fields);
    json_decref(presence);
    json_decref(raw);
}

START_TEST(test_enrich_text_cases)
{
    const event_case *c = &event_cases[_i];
    if (c->expect)
        expect_text_matches(c->name, c->raw, strlen(c->raw));
}
END_TEST

#define NEW_STATE                                                                        \
    "\"new_state\":{\"state\":\"on\",\"attributes\":{},\"last_changed\":"                \
    "\"2026-11-21T22:48:38+00:00\",\"last_updated\":\"2026-11-21T22:48:38+00:00\"}"

/* Spacing and escapes of the raw text, and a raw message that already has a
 * member enrich adds (replaced in place, so the whole message is dumped). */
static const char *const text_cases[] = {
    RAW_HEAD NEW_STATE "}",
    " \n" RAW_HEAD NEW_STATE "} \r\n\t",
    "{ \"schema\" : 1 ,\n \"entity_id\" : \"light.\\u00e9\\u0000x\\\"\" , " NEW_STATE " }",
    RAW_HEAD "\"value\":\"old\",\"unit\":null," NEW_STATE "}",
    RAW_HEAD NEW_STATE ",\"weather\":{\"stale\":true}}",
};

START_TEST(test_enrich_text_spacing)
{
    expect_text_matches(text_cases[_i], text_cases[_i], strlen(text_cases[_i]));
}
END_TEST

/* An empty raw object takes the members without a leading comma; fields
 * with no members leave the message as raw's dump. */
START_TEST(test_enrich_text_edges)
{
    json_t *raw = load("{}");
    json_t *fields = load("{\"value\":1}");
    size_t len = 0;
    char *text = enrich_text("{ }", 3, raw, fields, &len);
    ck_assert_str_eq(text, "{ \"value\":1}");
    free(text);
    json_t *none = json_object();
    json_t *raw2 = load("{\"a\":1}");
    text = enrich_text("{ \"a\" : 1 }", 11, raw2, none, &len);
    ck_assert_str_eq(text, "{\"a\":1}");
    ck_assert_uint_eq(len, 7);
    free(text);
    json_decref(none);
    json_decref(raw2);
    json_decref(fields);
    json_decref(raw);
}
END_TEST

START_TEST(test_enrich_null_ctx)
{
    json_t *raw = load(RAW_HEAD "\"new_state\":{\"state\":\"on\","
                                "\"last_updated\":\"2026-11-21T22:48:38Z\"}}");
    char err[128];
    enrich_ctx ctx = {0};
    json_t *out = enrich_event(raw, &ctx, err, sizeof err);
    ck_assert_ptr_nonnull(out);
    ck_assert(json_is_null(json_object_get(out, "weather")));
    ck_assert(json_is_null(json_object_get(out, "presence")));
    json_decref(out);
    json_decref(raw);
}
END_TEST

START_TEST(test_enrich_not_object)
{
    json_t *raw = json_array();
    char err[128] = "";
    ck_assert_ptr_null(enrich_event(raw, NULL, err, sizeof err));
    ck_assert_str_eq(err, "message is not a JSON object");
    json_decref(raw);
}
END_TEST

START_TEST(test_own_record)
{
    json_t *body = load("{\"anyone_home\":false,\"people_home\":0,\"people\":[]}");
    json_t *rec =
        enrich_own_record("cabin", "presence", INT64_C(1795301318123456000), body);
    ck_assert_ptr_nonnull(rec);
    json_t *expect = load("{\"schema\":1,\"site\":\"cabin\",\"event_type\":\"presence\","
                          "\"entity_id\":null,\"time_fired\":"
                          "\"2026-11-21T22:48:38.123456+00:00\",\"time_ns\":"
                          "1795301318123456000,\"presence\":{\"anyone_home\":false,"
                          "\"people_home\":0,\"people\":[]}}");
    char *g = json_dumps(rec, 0);
    ck_assert_msg(json_equal(rec, expect), "got %s", g);
    free(g);
    json_decref(expect);
    json_decref(rec);
    json_decref(body);
}
END_TEST

typedef struct {
    const char *state;
    const char *unit;
    bool metric;
    const char *expect; /* {"value":…, "unit":…} */
} metric_case;

static const metric_case metric_cases[] = {
    {"212", "°F", true, "{\"value\":100.0,\"unit\":\"°C\"}"},
    {"212", "°F", false, "{\"value\":212.0,\"unit\":\"°F\"}"},
    {"10", "mph", true, "{\"value\":16.09344,\"unit\":\"km/h\"}"},
    {"30", "inHg", true, "{\"value\":1015.916600001,\"unit\":\"hPa\"}"},
    {"21", "°C", true, "{\"value\":21.0,\"unit\":\"°C\"}"},
    /* No number, no conversion: the unit stays as given. */
    {"unavailable", "°F", true, "{\"value\":null,\"unit\":\"°F\"}"},
    {"unknown", "°F", true, "{\"value\":null,\"unit\":\"°F\"}"},
};

START_TEST(test_metric)
{
    const metric_case *c = &metric_cases[_i];
    char text[512];
    snprintf(text, sizeof text,
             RAW_HEAD "\"new_state\":{\"state\":\"%s\",\"attributes\":{"
                      "\"unit_of_measurement\":\"%s\"},\"last_updated\":"
                      "\"2026-11-21T22:48:38Z\"}}",
             c->state, c->unit);
    json_t *raw = load(text);
    json_t *expect = load(c->expect);
    enrich_ctx ctx = {.metric = c->metric};
    char err[128];
    json_t *out = enrich_event(raw, &ctx, err, sizeof err);
    ck_assert_ptr_nonnull(out);
    json_t *v = json_object_get(out, "value");
    json_t *ev = json_object_get(expect, "value");
    if (json_is_null(ev))
        ck_assert(json_is_null(v));
    else
        ck_assert_msg(fabs(json_number_value(v) - json_number_value(ev)) < 1e-6,
                      "%s %s: %g", c->state, c->unit, json_number_value(v));
    ck_assert_str_eq(json_string_value(json_object_get(out, "unit")),
                     json_string_value(json_object_get(expect, "unit")));
    /* new_state keeps HA's own unit. */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(out, "new_state"), "attributes"),
                         "unit_of_measurement")),
                     c->unit);
    json_decref(out);
    json_decref(expect);
    json_decref(raw);
}
END_TEST

static Suite *enrich_suite(void)
{
    Suite *s = suite_create("enrich");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_state_value, 0,
                        sizeof value_cases / sizeof value_cases[0]);
    tcase_add_test(tc, test_state_value_null);
    tcase_add_test(tc, test_state_value_strtod);
    tcase_add_loop_test(tc, test_enrich_event, 0,
                        sizeof event_cases / sizeof event_cases[0]);
    tcase_add_loop_test(tc, test_enrich_text_cases, 0,
                        sizeof event_cases / sizeof event_cases[0]);
    tcase_add_loop_test(tc, test_enrich_text_spacing, 0,
                        sizeof text_cases / sizeof text_cases[0]);
    tcase_add_test(tc, test_enrich_text_edges);
    tcase_add_test(tc, test_enrich_null_ctx);
    tcase_add_test(tc, test_enrich_not_object);
    tcase_add_test(tc, test_own_record);
    tcase_add_loop_test(tc, test_metric, 0, sizeof metric_cases / sizeof metric_cases[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(enrich_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
