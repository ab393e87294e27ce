/* test-enrich-fast.c - the enricher's fast path (enrich_scan_raw,
 * enrich_scan_text) against the tree path it stands in for
 * (json_loadb, hs_event_validate_raw, enrich_fields, enrich_text): whatever
 * the fast path takes, it turns into the very bytes the tree path gives;
 * what the tree path sends to the DLQ, the fast path never takes; and the
 * usual messages do take the fast path. */
#include <check.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enrich.h"
#include "test_scale.h"
#include "hs_event.h"
#include "hs_jscan.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

#define PRESENCE                                                                         \
    "{\"anyone_home\":true,\"people_home\":1,\"people\":[{\"entity_id\":"                \
    "\"person.ann\",\"name\":\"Ann \\\"Å\\\"\",\"state\":\"home\",\"home\":true}]}"
#define WEATHER                                                                          \
    "{\"temperature\":3.5,\"humidity\":81.0,\"pressure\":null,\"wind_speed\":2.0,"       \
    "\"condition\":\"rainy\",\"provider\":\"open-meteo\",\"observed_at\":"               \
    "\"2026-11-21T22:45:00Z\",\"age_s\":218,\"stale\":false,\"units\":{"                 \
    "\"temperature\":\"°C\",\"pressure\":\"hPa\",\"wind_speed\":\"km/h\"}}"

/* The tree path's enriched text, or NULL when it sends raw to the DLQ.
 * *key receives the Kafka key it would use (the entity id or NULL). */
static char *tree_text(const char *raw_text, size_t raw_len, json_t *presence,
                       json_t *weather, bool metric, size_t *len, char *key,
                       size_t keycap)
{
    json_error_t e;
    json_t *raw = json_loadb(raw_text, raw_len, FLAGS, &e);
    char err[256];
    if (!raw)
        return NULL;
    if (hs_event_validate_raw(raw, err, sizeof err) != 0) {
        json_decref(raw);
        return NULL;
    }
    enrich_ctx ctx = {.presence = presence, .weather = weather, .metric = metric};
    json_t *fields = enrich_fields(raw, &ctx, err, sizeof err);
    char *text = NULL;
    if (fields)
        text = enrich_text(raw_text, raw_len, raw, fields, len);
    const char *id = json_string_value(json_object_get(raw, "entity_id"));
    snprintf(key, keycap, "%s", id ? id : "");
    json_decref(fields);
    json_decref(raw);
    return text;
}

/* Runs both paths on raw_text in the first variants of three contexts
 * (presence and weather; the same with UNITS=metric; neither). Returns
 * whether the fast path took it in the first. */
static bool compare_n(const char *what, const char *raw_text, size_t raw_len,
                      int variants)
{
    json_t *presence = NULL, *weather = NULL;
    char *ptext = NULL, *wtext = NULL;
    bool took_first = false;
    for (int variant = 0; variant < variants; variant++) {
        bool metric = variant == 1;
        enrich_scan s;
        int rc = enrich_scan_raw(raw_text, raw_len, metric, &s);
        if (variant == 0)
            took_first = rc == 0;
        if (rc != 0)
            continue;
        if (!presence) {
            presence = json_loads(PRESENCE, 0, NULL);
            weather = json_loads(WEATHER, 0, NULL);
            ck_assert(presence && weather);
            ptext = json_dumps(presence, JSON_COMPACT);
            wtext = json_dumps(weather, JSON_COMPACT);
        }
        json_t *p = variant == 2 ? NULL : presence;
        json_t *w = variant == 2 ? NULL : weather;
        size_t tlen = 0;
        char key[512];
        char *want = tree_text(raw_text, raw_len, p, w, metric, &tlen, key, sizeof key);
        ck_assert_msg(want != NULL, "%s: fast path took what the tree path rejects: %.*s",
                      what, (int)raw_len, raw_text);
        size_t flen = 0;
        char *got =
            enrich_scan_text(raw_text, &s, p ? ptext : NULL, w ? wtext : NULL, &flen);
        ck_assert_ptr_nonnull(got);
        ck_assert_uint_eq(flen, strlen(got));
        ck_assert_msg(flen == tlen && memcmp(got, want, tlen) == 0,
                      "%s (variant %d):\n got %s\nwant %s", what, variant, got, want);
        ck_assert_str_eq(s.entity_id, key);
        free(got);
        free(want);
    }
    free(ptext);
    free(wtext);
    json_decref(presence);
    json_decref(weather);
    return took_first;
}

/* Runs both paths on raw_text in every context. */
static bool compare(const char *what, const char *raw_text, size_t raw_len)
{
    return compare_n(what, raw_text, raw_len, 3);
}

#define HEAD(type, entity)                                                               \
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"" type "\",\"origin\":"            \
    "\"LOCAL\",\"entity_id\":\"" entity "\",\"domain\":\"sensor\",\"object_id\":\"t\","  \
    "\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\","
#define TAIL                                                                             \
    ",\"context\":{\"id\":\"01HXYZ\",\"parent_id\":null,\"user_id\":null},\"area\":"     \
    "\"Kitchen\",\"device\":null,\"ingested_at\":\"2026-11-21T22:48:38.200000Z\","       \
    "\"backfill\":false}"
#define STATE(state, attrs)                                                              \
    "\"new_state\":{\"entity_id\":\"sensor.t\",\"state\":" state                         \
    ",\"attributes\":" attrs                                                             \
    ",\"last_changed\":\"2026-11-21T22:48:38.000001+00:00\",\"last_updated\":"           \
    "\"2026-11-21T22:48:38.000002+00:00\",\"context\":{\"id\":\"01HXYZ\"}},"             \
    "\"old_state\":{\"state\":\"20.0\",\"attributes\":{}}"
#define SC(entity, state, attrs) HEAD("state_changed", entity) STATE(state, attrs) TAIL

/* Messages the fast path must take. */
static const char *const common[] = {
    SC("sensor.t", "\"21.5\"",
       "{\"unit_of_measurement\":\"°C\",\"device_class\":\"temperature\","
       "\"state_class\":\"measurement\",\"friendly_name\":\"Küche\"}"),
    SC("sensor.t", "\"70\"",
       "{\"unit_of_measurement\":\"°F\",\"device_class\":\"temperature\"}"),
    SC("sensor.w", "\"12.25\"", "{\"unit_of_measurement\":\"mph\"}"),
    SC("sensor.p", "\"29.92\"", "{\"unit_of_measurement\":\"inHg\"}"),
    SC("sensor.big", "\"1e300\"", "{\"unit_of_measurement\":\"°F\"}"),
    SC("sensor.tiny", "\"-0.000001\"", "{\"unit_of_measurement\":\"W\"}"),
    SC("sensor.n", "\"-3\"", "{}"),
    SC("sensor.n", "\"+4\"", "{}"),
    SC("sensor.n", "\".5\"", "{}"),
    SC("sensor.n", "\"0.1\"", "{}"),
    SC("sensor.n", "\"123456789.123456789\"", "{}"),
    SC("binary_sensor.door", "\"on\"", "{\"device_class\":\"door\"}"),
    SC("switch.heater", "\"off\"",
       "{\"friendly_name\":\"Heater\",\"icon\":\"mdi:fire\"}"),
    SC("lock.front", "\"locked\"", "{}"),
    SC("cover.garage", "\"open\"", "{\"current_position\":100}"),
    SC("sun.sun", "\"above_horizon\"", "{\"elevation\":12.5,\"rising\":false}"),
    SC("sensor.t", "\"unknown\"", "{\"unit_of_measurement\":\"°C\"}"),
    SC("sensor.t", "\"unavailable\"", "{\"unit_of_measurement\":\"°F\"}"),
    SC("sensor.t", "\"\"", "{}"),
    SC("sensor.t", "\"Küche \\\"Süd\\\" \\u00e9\\ud83d\\ude00\"", "{}"),
    SC("sensor.t", "\"\\u0031\\u0032\"", "{\"unit_of_measurement\":\"mph\"}"),
    SC("sensor.t", "\"2\\u0000x\"", "{}"),
    /* The entity id as the tree path reads it, up to the NUL. */
    HEAD("state_changed", "sensor.t\\u0000x") STATE("\"1\"", "{}") TAIL,
    SC("sensor.t", "21", "{\"unit_of_measurement\":\"°C\"}"),
    SC("sensor.t", "null", "{\"unit_of_measurement\":5,\"device_class\":[1,2]}"),
    SC("sensor.t", "\"5\"", "null"),
    SC("sensor.t", "\"5\"", "[\"unit_of_measurement\"]"),
    SC("media_player.tv", "\"playing\"",
       "{\"media_title\":\"Ä \\\"quoted\\\" title\\n\",\"volume_level\":0.35,"
       "\"source_list\":[\"HDMI 1\",\"TV\"],\"nested\":{\"a\":{\"b\":[{},[]]}}}"),
    HEAD("state_changed",
         "sensor.gone") "\"new_state\":null,\"old_state\":{\"state\":\"1\"}" TAIL,
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"call_service\",\"origin\":"
    "\"LOCAL\","
    "\"time_fired\":\"2026-11-21T23:48:38.123456+01:00\",\"data\":{\"domain\":\"light\"},"
    "\"context\":null,\"area\":null,\"device\":null,\"ingested_at\":"
    "\"2026-11-21T22:48:38Z\",\"backfill\":true}",
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"automation_triggered\","
    "\"entity_id\":\"automation.x\",\"time_fired\":\"2026-11-21T22:48:38Z\",\"data\":{}}",
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"custom\",\"new_state\":{"
    "\"state\":\"7\",\"last_updated\":\"2026-11-21T22:48:38Z\"}}",
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"custom\",\"new_state\":\"text\","
    "\"time_fired\":\"2026-11-21T22:48:38Z\"}",
    " \n" SC("sensor.t", "\"1\"", "{}") " \r\n\t",
    "{ \"schema\" : 1 , \"site\" : \"h\" , \"event_type\" : \"state_changed\" , "
    "\"entity_id\" : \"sensor.t\" , \"new_state\" : { \"state\" : \"1.5\" , "
    "\"attributes\" : { \"unit_of_measurement\" : \"°F\" } , \"last_updated\" : "
    "\"2026-11-21T22:48:38Z\" } }",
};

/* Messages the tree path turns into something the fast path leaves to it:
 * it sends them to the DLQ, or writes them in a way the fast path does not
 * reproduce. compare() checks the fast path does not take them wrongly;
 * the ones marked here must not be taken at all. */
static const char *const others[] = {
    "",
    "[]",
    "{}",
    "{\"schema\":2,\"site\":\"h\",\"event_type\":\"x\",\"time_fired\":\"2026-11-21T22:48:"
    "38Z\"}",
    "{\"schema\":1.0,\"site\":\"h\",\"event_type\":\"x\",\"time_fired\":\"2026-11-21T22:"
    "48:38Z\"}",
    "{\"schema\":1,\"site\":3,\"event_type\":\"x\",\"time_fired\":\"2026-11-21T22:48:"
    "38Z\"}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"\",\"time_fired\":\"2026-11-21T22:48:"
    "38Z\"}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"\\u0000x\",\"time_fired\":\"2026-11-"
    "21T22:48:38Z\"}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"x\"}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"x\",\"time_fired\":\"soon\"}",
    HEAD("state_changed", "Sensor.T") STATE("\"1\"", "{}") TAIL,
    HEAD("state_changed", "sensor.t.u") STATE("\"1\"", "{}") TAIL,
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\",\"entity_id\":"
    "\"sensor.t\"}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\",\"entity_id\":"
    "\"sensor.t\","
    "\"new_state\":5}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\",\"entity_id\":7,"
    "\"new_state\":null}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\",\"entity_id\":"
    "\"sensor.t\","
    "\"new_state\":{\"state\":\"1\"}}",
    "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\",\"entity_id\":"
    "\"sensor.t\","
    "\"new_state\":{\"state\":\"1\",\"last_updated\":5}}",
    SC("sensor.t", "\"1\"", "{\"unit_of_measurement\":\"\\u00b0C\"}"),
    SC("sensor.t", "\"1\"", "{\"device_class\":\"temp\\/x\"}"),
    SC("sensor.t", "\"1\"", "{\"a\":1,\"a\":2}"),
    HEAD("state_changed", "sensor.t") "\"value\":3," STATE("\"1\"", "{}") TAIL,
    HEAD("state_changed", "sensor.t") "\"weather\":null," STATE("\"1\"", "{}") TAIL,
    HEAD("state_changed", "sensor.t") "\"schema\":1," STATE("\"1\"", "{}") TAIL,
    SC("sensor.t", "\"1\"", "{\"n\":1e999}"),
    SC("sensor.t", "\"1\"", "{\"n\":123456789012345678901}"),
    SC("sensor.t", "\"1\"", "{\"s\":\"\\ud800\"}"),
    SC("sensor.t", "\"1\"", "{\"s\":\"\xc0\xaf\"}"),
    SC("sensor.t", "\"1\"", "{}") "x",
};

START_TEST(test_common)
{
    const char *t = common[_i];
    ck_assert_msg(compare("common", t, strlen(t)), "fast path declined: %s", t);
}
END_TEST

START_TEST(test_others)
{
    const char *t = others[_i];
    ck_assert_msg(!compare("other", t, strlen(t)), "fast path took: %s", t);
}
END_TEST

/* Times before the epoch and far ahead, whichever path takes them, give
 * the same text. */
START_TEST(test_times)
{
    static const char *const times[] = {"1969-12-31T23:59:59.5Z", "1900-01-01T00:00:00Z",
                                        "2262-04-11T23:47:16Z", "9999-12-31T23:59:59Z",
                                        "1970-01-01T00:00:00Z"};
    char text[512];
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int n = snprintf(text, sizeof text,
                         "{\"schema\":1,\"site\":\"h\",\"event_type\":\"state_changed\","
                         "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\","
                         "\"last_updated\":\"%s\"}}",
                         times[i]);
        compare(times[i], text, (size_t)n);
    }
}
END_TEST

/* Deep nesting: beyond the scanner's limit the tree path decides (and
 * beyond jansson's, 2048, it rejects the message). */
START_TEST(test_deep)
{
    static const int depths[] = {5, HS_JSCAN_MAX_DEPTH - 1, HS_JSCAN_MAX_DEPTH, 40, 2100};
    static char buf[8192];
    for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        int d = depths[k];
        size_t o = (size_t)snprintf(buf, sizeof buf,
                                    "%s\"deep\":", HEAD("state_changed", "sensor.t"));
        for (int i = 0; i < d; i++)
            buf[o++] = '[';
        for (int i = 0; i < d; i++)
            buf[o++] = ']';
        o += (size_t)snprintf(buf + o, sizeof buf - o, ",%s}", STATE("\"1\"", "{}"));
        ck_assert_uint_lt(o, sizeof buf - 1);
        ck_assert_int_eq(compare("deep", buf, o), d < HS_JSCAN_MAX_DEPTH);
    }
}
END_TEST

/* Prefixes of some common messages and one-byte changes of them into
 * bytes that matter to JSON: the fast path takes none the tree path
 * rejects, and writes the same bytes for the ones it takes. */
START_TEST(test_mutations)
{
    static const char bytes[] = {'"', '\\', '}', ',', '1', 'e', '\x80', '\0'};
    static const size_t picks[] = {0, 11, 19, 26};
    char buf[2048];
    size_t taken = 0;
    for (size_t c = 0; c < sizeof picks / sizeof picks[0]; c++) {
        const char *m = common[picks[c]];
        size_t n = strlen(m);
        ck_assert_uint_lt(n, sizeof buf);
        for (size_t cut = 0; cut < n; cut += 5)
            compare_n("prefix", m, cut, 1);
        /* Three of the bytes at each position, the next three at the next. */
        for (size_t at = test_first(c); at < n; at += test_stride()) {
            for (size_t j = 0; j < 3; j++) {
                memcpy(buf, m, n);
                buf[at] = bytes[(at * 3 + j) % sizeof bytes];
                taken += compare_n("mutation", buf, n, 1);
            }
        }
    }
    ck_assert_uint_gt(taken, 0);
}
END_TEST

/* enrich_real_text writes every real as jansson does. */
static void expect_real(double v)
{
    char want[64], got[64];
    json_t *real = json_real(v);
    ck_assert_ptr_nonnull(real);
    size_t wn = json_dumpb(real, want, sizeof want, JSON_ENCODE_ANY);
    json_decref(real);
    ck_assert_uint_lt(wn, sizeof want);
    want[wn] = '\0';
    size_t gn = enrich_real_text(v, got, sizeof got);
    ck_assert_msg(gn == wn && strcmp(got, want) == 0, "%.17g: got %s, want %s", v, got,
                  want);
}

START_TEST(test_real_text)
{
    static const double fixed[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        0.1,
        0.2,
        0.3,
        1.1,
        21.5,
        21.3,
        15.3,
        -3.25,
        100.0,
        1e-5,
        9.9999999999999991e-06,
        1e-4,
        0.001,
        0.00012345,
        123456.789,
        1e15,
        1e16,
        9999999999999998.0,
        1e17,
        99999999999999999.0,
        123456789012345678.0,
        9.1e18,
        9.2e18,
        9.3e18,
        1e19,
        1e300,
        -1e300,
        5e-324,
        1.7976931348623157e308,
        16.09344,
        1015.916600001,
        21.111111111111111,
        0.30000000000000004,
        4503599627370496.5,
        /* Exact ties at the 18th digit: printf rounds them to even. */
        1000000000000000.25,
        1000000000000000.75,
        2000000000000001.25,
        -1234567890123456.75,
        9007199254740993.0,
        2.5,
        0.125,
        1e-3 * 3,
        70.0 - 32.0,
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        expect_real(fixed[i]);
    /* Decimal states as Home Assistant writes them, converted as
     * UNITS=metric would, and random doubles over the fast range and
     * beyond. */
    char text[64];
    for (int i = -20000; i <= 20000; i += 13) {
        snprintf(text, sizeof text, "%d.%02d", i / 100, abs(i % 100));
        double v = strtod(text, NULL);
        expect_real(v);
        expect_real((v - 32.0) * 5.0 / 9.0);
        expect_real(v * 1.609344);
        expect_real(v * 33.8638866667);
    }
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 10000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        /* An exponent between 2^-24 and 2^70, random mantissa and sign. */
        double m = (double)(state >> 11) / 9007199254740992.0;
        int e = (int)(state % 95) - 24;
        double v = ldexp(0.5 + m / 2, e);
        expect_real((state & 1) ? -v : v);
    }
}
END_TEST

static Suite *fast_suite(void)
{
    Suite *s = suite_create("enrich-fast");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_common, 0, sizeof common / sizeof common[0]);
    tcase_add_loop_test(tc, test_others, 0, sizeof others / sizeof others[0]);
    tcase_add_test(tc, test_deep);
    tcase_add_test(tc, test_real_text);
    tcase_add_test(tc, test_times);
    tcase_add_test(tc, test_mutations);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fast_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
