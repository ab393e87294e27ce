/* test-statsrec.c - unit tests for hs_statsrec: /stats as a `homestream` record. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "hs_statsrec.h"

/* One /stats + /health input and the fields the record must carry (NAN: the
 * field must be absent). */
static const struct {
    const char *stats;
    const char *health;
    const char *field;
    double want;
} cases[] = {
    {"{\"events_in_total\":5,\"events_out_total\":4}", "{\"status\":\"ok\"}", "events_in_total", 5},
    {"{\"events_in_total\":5,\"events_out_total\":4}", "{\"status\":\"ok\"}", "health", 0},
    {"{}", "{\"status\":\"degraded\"}", "health", 1},
    {"{}", "{\"status\":\"unhealthy\"}", "health", 2},
    {"{}", "{\"status\":\"weird\"}", "health", NAN},
    {"{\"ha\":{\"reconnects_total\":3}}", "{}", "reconnects_total", 3},
    {"{\"write_latency_ms\":{\"p50\":1.5,\"p99\":9.25}}", "{}", "write_latency_p99_ms", 9.25},
    {"{\"consumer_lag_total\":7,\"consumer_lag\":{\"0\":7}}", "{}", "consumer_lag", 7},
    {"{\"consumer_lag\":11}", "{}", "consumer_lag", 11},
    {"{\"kafka\":{\"spool\":{\"size_bytes\":4096},\"not_kept_total\":2}}", "{}", "spool_bytes", 4096},
    {"{\"kafka\":{\"spool\":{\"size_bytes\":4096},\"not_kept_total\":2}}", "{}", "spool_dropped_total", 2},
    {"{\"breakers\":{\"influxdb\":{\"state\":\"open\"}}}", "{}", "breaker_influxdb_state", 1},
    {"{\"breakers\":{\"home_assistant\":{\"state\":\"half_open\"}}}", "{}", "breaker_home_assistant_state", 2},
    {"{\"breakers\":{\"bad name!\":{\"state\":\"closed\"}}}", "{}", "breaker_bad_name__state", 0},
    {"{\"breakers\":{\"x\":{\"state\":\"sideways\"}}}", "{}", "breaker_x_state", NAN},
    {"{\"events_in_total\":\"5\"}", "{}", "events_in_total", NAN},
    {"{\"dlq_total\":true}", "{}", "dlq_total", 1},
};

START_TEST(test_fields)
{
    json_error_t jerr;
    json_t *stats = json_loads(cases[_i].stats, 0, &jerr);
    json_t *health = json_loads(cases[_i].health, 0, &jerr);
    ck_assert_ptr_nonnull(stats);
    ck_assert_ptr_nonnull(health);
    json_t *rec = hs_statsrec_build("writer", "home", 1234, stats, health);
    ck_assert_ptr_nonnull(rec);
    json_t *v = json_object_get(json_object_get(rec, "stats"), cases[_i].field);
    if (isnan(cases[_i].want)) {
        ck_assert_msg(v == NULL, "case %d: %s should be absent", _i, cases[_i].field);
    } else {
        ck_assert_msg(json_is_real(v), "case %d: %s missing or not a float", _i,
                      cases[_i].field);
        ck_assert_double_eq(json_real_value(v), cases[_i].want);
    }
    json_decref(rec);
    json_decref(stats);
    json_decref(health);
}
END_TEST

START_TEST(test_envelope)
{
    json_t *stats = json_object();
    json_t *health = json_object();
    json_t *rec = hs_statsrec_build("enricher", "cabin", 42, stats, health);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "schema")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "event_type")),
                     HS_STATSREC_EVENT_TYPE);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "stage")), "enricher");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "site")), "cabin");
    ck_assert(json_is_null(json_object_get(rec, "entity_id")));
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "time_ns")), 42);
    ck_assert_int_eq(json_object_size(json_object_get(rec, "stats")), 0);
    json_decref(rec);
    json_decref(stats);
    json_decref(health);
}
END_TEST

/* hs_statsrec_text: the same record as compact JSON; stats and health are
 * consumed, and a missing one gives no record. */
START_TEST(test_text)
{
    json_t *stats = json_pack("{s:i}", "events_in_total", 5);
    json_t *health = json_pack("{s:s}", "status", "degraded");
    ck_assert_ptr_nonnull(stats);
    ck_assert_ptr_nonnull(health);
    char *text = hs_statsrec_text("ingestor", "home", 7, stats, health);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "{\"schema\":1,\"event_type\":\"homestream_stats\",\"site\":"
                           "\"home\",\"stage\":\"ingestor\",\"entity_id\":null,"
                           "\"time_ns\":7,\"stats\":{\"events_in_total\":5.0,\"health\":1.0}}");
    free(text);

    ck_assert_ptr_null(hs_statsrec_text("ingestor", "home", 7, NULL, json_object()));
    ck_assert_ptr_null(hs_statsrec_text("ingestor", "home", 7, json_object(), NULL));
}
END_TEST

static Suite *statsrec_suite(void)
{
    Suite *s = suite_create("statsrec");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_fields, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_envelope);
    tcase_add_test(tc, test_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(statsrec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
