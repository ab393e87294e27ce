/* test-sink.c - unit tests for the writer's own homestream_stats records:
 * the sink publishes them on TOPIC_ENRICHED every STATS_INTERVAL_S with its
 * DLQ producer, and their delivery reports (delivered or failed) are
 * counted without being taken for DLQ records; against librdkafka's mock
 * cluster, with an InfluxDB that refuses connections. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hs_log.h"
#include "hs_time.h"
#include "sink.h"
#include "wconfig.h"

/* Kafka's ApiKey of Produce requests (rdkafka_mock.h takes the number). */
#define APIKEY_PRODUCE 0

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mock;
    wconfig cfg;
} fixture;

static const char *fake_getenv(const char *name, void *ud)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static void fixture_init(fixture *f, const char *stats_interval_s)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
    f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_ptr_nonnull(f->rk);
    f->mock = rd_kafka_mock_cluster_new(f->rk, 1);
    ck_assert_ptr_nonnull(f->mock);
    rd_kafka_mock_topic_create(f->mock, "enriched", 1, 1);
    rd_kafka_mock_topic_create(f->mock, "dlq", 1, 1);
    const char *kv[] = {"KAFKA_BROKERS",
                        rd_kafka_mock_cluster_bootstraps(f->mock),
                        "TOPIC_ENRICHED",
                        "enriched",
                        "TOPIC_DLQ",
                        "dlq",
                        "KAFKA_GROUP",
                        "test-sink",
                        "INFLUX_API_VERSION",
                        "1",
                        "INFLUX_URL",
                        "http://127.0.0.1:9",
                        "INFLUX_TIMEOUT_MS",
                        "500",
                        "ADMIN_ADDR",
                        "",
                        "SITE",
                        "lab",
                        "STATS_INTERVAL_S",
                        stats_interval_s,
                        NULL};
    memset(&f->cfg, 0, sizeof f->cfg);
    ck_assert_int_eq(hs_cfg_load(wconfig_vars, wconfig_nvars, &f->cfg, fake_getenv, kv,
                                 err, sizeof err),
                     0);
}

static void fixture_fini(fixture *f)
{
    hs_cfg_free(wconfig_vars, wconfig_nvars, &f->cfg);
    rd_kafka_mock_cluster_destroy(f->mock);
    rd_kafka_destroy(f->rk);
}

static json_int_t counter(sink *s, const char *name)
{
    json_t *st = sink_stats(s);
    json_int_t v = json_integer_value(json_object_get(st, name));
    json_decref(st);
    return v;
}

/* Steps the sink until the stats counter `name` reaches want, for at most
 * timeout_ms. Returns the counter's last value. */
static json_int_t step_until(sink *s, const char *name, json_int_t want, int timeout_ms)
{
    int64_t end = hs_now_mono_ms() + timeout_ms;
    json_int_t v = counter(s, name);
    while (v < want && hs_now_mono_ms() < end) {
        sink_step(s, 50);
        v = counter(s, name);
    }
    return v;
}

START_TEST(test_stats_record_delivered_and_consumed)
{
    fixture f;
    fixture_init(&f, "1");
    char err[512];
    sink *s = sink_new(&f.cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_ge(step_until(s, "stats_records_total", 1, 20000), 1);
    ck_assert_int_eq(counter(s, "stats_records_failed_total"), 0);
    /* The writer reads its own record back from TOPIC_ENRICHED. */
    ck_assert_int_ge(step_until(s, "events_in_total", 1, 20000), 1);
    ck_assert_int_eq(counter(s, "invalid_total"), 0);
    ck_assert_int_eq(counter(s, "dlq_total"), 0);
    ck_assert_int_eq(counter(s, "dlq_failed_total"), 0);
    sink_shutdown(s, 2000);
    sink_free(s);
    fixture_fini(&f);
}
END_TEST

/* Regression: the producer's delivery report took every msg_opaque for a
 * DLQ reference; a failed stats record must be counted, not requeued to the
 * DLQ or freed. */
START_TEST(test_stats_record_failure_counted)
{
    fixture f;
    fixture_init(&f, "1");
    rd_kafka_mock_push_request_errors(f.mock, APIKEY_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    char err[512];
    sink *s = sink_new(&f.cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_ge(step_until(s, "stats_records_failed_total", 1, 20000), 1);
    ck_assert_int_ge(counter(s, "errors_total"), 1);
    ck_assert_int_eq(counter(s, "dlq_total"), 0);
    ck_assert_int_eq(counter(s, "dlq_failed_total"), 0);
    /* The next interval's record goes through. */
    ck_assert_int_ge(step_until(s, "stats_records_total", 1, 20000), 1);
    sink_shutdown(s, 2000);
    sink_free(s);
    fixture_fini(&f);
}
END_TEST

START_TEST(test_stats_off_by_default)
{
    fixture f;
    fixture_init(&f, "0");
    char err[512];
    sink *s = sink_new(&f.cfg, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    int64_t end = hs_now_mono_ms() + 1500;
    while (hs_now_mono_ms() < end)
        sink_step(s, 50);
    ck_assert_int_eq(counter(s, "stats_records_total"), 0);
    ck_assert_int_eq(counter(s, "stats_records_failed_total"), 0);
    ck_assert_int_eq(counter(s, "events_in_total"), 0);
    sink_shutdown(s, 2000);
    sink_free(s);
    fixture_fini(&f);
}
END_TEST

static Suite *sink_suite(void)
{
    Suite *s = suite_create("sink");
    TCase *tc = tcase_create("stats");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_stats_record_delivered_and_consumed);
    tcase_add_test(tc, test_stats_record_failure_counted);
    tcase_add_test(tc, test_stats_off_by_default);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    hs_log_setup("writer", HS_LOG_ERROR, "text");
    SRunner *sr = srunner_create(sink_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
