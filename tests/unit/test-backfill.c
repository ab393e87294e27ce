/* test-backfill.c - backfill: get_states and history answers as HA events. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "hs_event.h"

static json_t *j(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
    return v;
}

START_TEST(test_event_from_state)
{
    json_t *st = j("{\"entity_id\":\"sensor.t\",\"state\":\"21.5\",\"attributes\":"
                   "{\"unit_of_measurement\":\"°C\"},\"last_changed\":"
                   "\"2026-11-21T22:48:38.123456+00:00\",\"last_updated\":"
                   "\"2026-11-21T22:48:38.123456+00:00\",\"context\":{\"id\":\"c1\"}}");
    char err[128];
    json_t *ev = backfill_event(st, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "event_type")),
                     "state_changed");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "time_fired")),
                     "2026-11-21T22:48:38.123456+00:00");
    json_t *data = json_object_get(ev, "data");
    ck_assert(json_is_null(json_object_get(data, "old_state")));
    ck_assert(json_equal(json_object_get(data, "new_state"), st));
    /* It converts like a live event, marked as backfill. */
    hs_event_ctx ctx = {.site = "home", .ingested_at_ns = 1, .backfill = true};
    json_t *raw = hs_event_from_ha(ev, &ctx, err, sizeof(err));
    ck_assert_msg(raw != NULL, "%s", err);
    ck_assert_str_eq(json_string_value(json_object_get(raw, "entity_id")), "sensor.t");
    ck_assert(json_is_true(json_object_get(raw, "backfill")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(raw, "context"), "id")), "c1");
    json_decref(raw);
    json_decref(ev);

    int64_t ns;
    ck_assert_int_eq(backfill_state_time(st, &ns), 0);
    ck_assert_int_eq(ns % 1000, 0);
    json_decref(st);
}
END_TEST

START_TEST(test_event_refuses)
{
    char err[128];
    json_t *no_id = j("{\"state\":\"1\",\"last_updated\":\"2026-11-21T22:48:38+00:00\"}");
    ck_assert_ptr_null(backfill_event(no_id, NULL, err, sizeof(err)));
    json_t *no_time = j("{\"entity_id\":\"sensor.x\",\"state\":\"1\"}");
    ck_assert_ptr_null(backfill_event(no_time, NULL, err, sizeof(err)));
    ck_assert(strstr(err, "last_updated") != NULL);
    json_decref(no_id);
    json_decref(no_time);
}
END_TEST

START_TEST(test_expand_compressed)
{
    char err[128];
    /* 1763765318.123456 s = 2025-11-21T22:48:38.123456Z */
    json_t *c =
        j("{\"s\":\"on\",\"a\":{\"friendly_name\":\"Lamp\"},\"lu\":1763765318.123456}");
    json_t *st = backfill_expand("light.lamp", c, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_str_eq(json_string_value(json_object_get(st, "entity_id")), "light.lamp");
    ck_assert_str_eq(json_string_value(json_object_get(st, "state")), "on");
    ck_assert_str_eq(json_string_value(json_object_get(st, "last_updated")),
                     "2025-11-21T22:48:38.123456+00:00");
    ck_assert_str_eq(json_string_value(json_object_get(st, "last_changed")),
                     "2025-11-21T22:48:38.123456+00:00");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "attributes"),
                                                       "friendly_name")),
                     "Lamp");
    json_decref(st);
    json_decref(c);

    c = j("{\"s\":\"off\",\"lu\":1763765318.5,\"lc\":1763765300}");
    /* lu keeps its fraction, padded to microseconds. */
    st = backfill_expand("light.lamp", c, err, sizeof(err));
    ck_assert_str_eq(json_string_value(json_object_get(st, "last_changed")),
                     "2025-11-21T22:48:20+00:00"); /* as isoformat() */
    ck_assert_uint_eq(json_object_size(json_object_get(st, "attributes")), 0);
    json_decref(st);
    json_decref(c);

    const char *bad[] = {"{\"a\":{}}", "{\"s\":1,\"lu\":1}", "{\"s\":\"x\"}",
                         "{\"s\":\"x\",\"lu\":\"1\"}",
                         "{\"s\":\"x\",\"lu\":1,\"lc\":\"2\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = j(bad[i]);
        ck_assert_ptr_null(backfill_expand("light.lamp", c, err, sizeof(err)));
        json_decref(c);
    }
}
END_TEST

START_TEST(test_seconds_to_ns)
{
    ck_assert_int_eq(backfill_seconds_to_ns(1763765318.123456), 1763765318123456000LL);
    ck_assert_int_eq(backfill_seconds_to_ns(0.0000005), 1000); /* rounds to the µs */
    ck_assert_int_eq(backfill_seconds_to_ns(1.0), 1000000000LL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("backfill");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_event_from_state);
    tcase_add_test(tc, test_event_refuses);
    tcase_add_test(tc, test_expand_compressed);
    tcase_add_test(tc, test_seconds_to_ns);
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
