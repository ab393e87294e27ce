/* test-outbox.c - outbox: produce, spool while Kafka is down, replay after a
 * restart, and the safe mark; against librdkafka's mock cluster. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hs_log.h"
#include "hs_time.h"
#include "outbox.h"
#include "watermark.h"

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char dir[64];

static void setup(void)
{
    char err[256];
    hs_log_setup("test", HS_LOG_ERROR, "text");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_ptr_nonnull(mock_rk);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    ck_assert_ptr_nonnull(mock);
    rd_kafka_mock_topic_create(mock, "raw", 3, 1);
    rd_kafka_mock_topic_create(mock, "dlq", 1, 1);
    rd_kafka_mock_topic_create(mock, "stats", 1, 1);
    snprintf(dir, sizeof(dir), "/tmp/hs-test-outbox-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static outbox *open_outbox(const char *spool_dir)
{
    /* Fail fast against a broker that is down, so the test does not wait
     * for librdkafka's defaults. */
    static const char *const extra[] = {"message.timeout.ms", "60000", NULL};
    outbox_opts o = {
        .brokers = rd_kafka_mock_cluster_bootstraps(mock),
        .topic_raw = "raw",
        .topic_dlq = "dlq",
        .topic_stats = "stats",
        .dlq_key = "home",
        .spool_dir = spool_dir,
        .spool_max_bytes = 16u * 1024 * 1024,
        .memq_max_events = 1000,
        .kafka_extra = extra,
    };
    char err[256];
    outbox *ob = outbox_new(&o, err, sizeof(err));
    ck_assert_msg(ob != NULL, "%s", err);
    return ob;
}

static void send_events(outbox *ob, int from, int to, int64_t base_ns)
{
    for (int i = from; i < to; i++) {
        char key[32], payload[64];
        int kl = snprintf(key, sizeof(key), "sensor.e%d", i % 5);
        int pl = snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        outbox_raw(ob, key, (size_t)kl, payload, (size_t)pl, base_ns + i * 1000LL);
    }
}

/* Event times are whole microseconds, as HA's (the stored mark keeps µs). */
#define T0 1763765318000000000LL
#define T(i) (T0 + (i)*1000LL)

/* Polls until want_out raw events were delivered or timeout_ms passes. */
static bool poll_until(outbox *ob, uint64_t want_out, int timeout_ms)
{
    int64_t deadline = hs_now_mono_ms() + timeout_ms;
    while (hs_now_mono_ms() < deadline) {
        outbox_poll(ob, hs_now_mono_ms());
        if (outbox_events_out(ob) >= want_out)
            return true;
        usleep(10000);
    }
    return false;
}

START_TEST(test_delivers_and_marks)
{
    outbox *ob = open_outbox(dir);
    ck_assert_int_eq(outbox_mark(ob), INT64_MIN);
    send_events(ob, 0, 200, T0);
    ck_assert(poll_until(ob, 200, 20000));
    ck_assert_int_eq(outbox_mark(ob), T(199));
    ck_assert_int_eq(outbox_last_handed(ob), T(199));
    const char *dlq_rec = "{\"stage\":\"ingestor\"}";
    const char *stats_rec = "{\"event_type\":\"homestream_stats\"}";
    outbox_dlq(ob, dlq_rec, strlen(dlq_rec));
    outbox_stats(ob, stats_rec, strlen(stats_rec));
    /* Both delivered, neither counted as a raw event. */
    int64_t deadline = hs_now_mono_ms() + 10000;
    json_t *st = NULL;
    while (hs_now_mono_ms() < deadline) {
        outbox_poll(ob, hs_now_mono_ms());
        json_decref(st);
        st = outbox_stats_json(ob, hs_now_mono_ms());
        if (json_integer_value(json_object_get(st, "in_flight")) == 0)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(st, "in_flight")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "dlq_delivered_total")), 1);
    json_decref(st);
    ck_assert_uint_eq(outbox_events_out(ob), 200);
    ck_assert_uint_eq(outbox_shutdown(ob, 3000), 0);
    outbox_free(ob);
    /* The mark is on disk for the next start. */
    int64_t ns;
    char err[256];
    ck_assert_int_eq(watermark_load(dir, &ns, err, sizeof(err)), 0);
    ck_assert_int_eq(ns, T(199));
}
END_TEST

START_TEST(test_spools_when_down_and_replays_after_restart)
{
    rd_kafka_mock_broker_set_down(mock, 1);
    outbox *ob = open_outbox(dir);
    send_events(ob, 0, 300, T0);
    for (int i = 0; i < 20; i++) {
        outbox_poll(ob, hs_now_mono_ms());
        usleep(10000);
    }
    ck_assert_uint_eq(outbox_events_out(ob), 0);
    /* Shutdown with Kafka down: everything goes to the spool, nothing lost,
     * and the mark covers it (spooled records are safe). */
    ck_assert_uint_eq(outbox_shutdown(ob, 300), 0);
    ck_assert_int_eq(outbox_mark(ob), T(299));
    json_t *st = outbox_stats_json(ob, hs_now_mono_ms());
    ck_assert_int_eq(json_integer_value(json_object_get(st, "parked")), 300);
    json_decref(st);
    outbox_free(ob);

    rd_kafka_mock_broker_set_up(mock, 1);
    ob = open_outbox(dir);
    ck_assert_int_eq(outbox_mark(ob), T(299));
    /* New events queue behind the replayed ones. */
    send_events(ob, 300, 310, T0);
    ck_assert(poll_until(ob, 310, 30000));
    st = outbox_stats_json(ob, hs_now_mono_ms());
    ck_assert_int_eq(json_integer_value(json_object_get(st, "parked")), 0);
    ck_assert_int_ge(json_integer_value(json_object_get(st, "replayed_total")), 300);
    json_decref(st);
    bool degraded = true;
    json_t *h = outbox_health(ob, hs_now_mono_ms(), &degraded);
    ck_assert(!degraded);
    ck_assert_str_eq(json_string_value(json_object_get(h, "state")), "ok");
    json_decref(h);
    ck_assert_uint_eq(outbox_shutdown(ob, 3000), 0);
    outbox_free(ob);
}
END_TEST

START_TEST(test_without_spool_loses_and_says_so)
{
    rd_kafka_mock_broker_set_down(mock, 1);
    outbox *ob = open_outbox("/proc/hs-no-such-dir");
    send_events(ob, 0, 20, 1);
    bool degraded = false;
    json_t *h = outbox_health(ob, hs_now_mono_ms(), &degraded);
    ck_assert(degraded); /* no spool */
    ck_assert(json_is_false(json_object_get(h, "spool_enabled")));
    json_decref(h);
    /* Kafka down at shutdown and nowhere to spool: counted as lost. */
    ck_assert_uint_eq(outbox_shutdown(ob, 200), 20);
    outbox_free(ob);
    rd_kafka_mock_broker_set_up(mock, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_delivers_and_marks);
    tcase_add_test(tc, test_spools_when_down_and_replays_after_restart);
    tcase_add_test(tc, test_without_spool_loses_and_says_so);
    tcase_set_timeout(tc, 90);
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
