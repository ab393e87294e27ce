/* enricher_bench.c - how fast the enricher moves events, as a ratio to a
 * plain consumer->producer pass-through measured in the same run.
 *
 * Benchmark, not a test: it asserts nothing about speed. It needs a running
 * broker (KAFKA_BROKERS, e.g. homestream-devbroker started with
 * "--topic bench.pass:3 --topic bench.enriched:3 --topic bench.dlq:3";
 * tests/bench/enricher_bench.sh does all of it). It produces N raw events
 * (argv[1], default 10000: the dev broker keeps only about 5 MiB per
 * partition) to TOPIC_RAW, then
 *   1. pass-through: consumes them in a fresh group and produces each
 *      payload unchanged to bench.pass, until all delivery reports are in;
 *   2. enricher: runs the enricher's own pipeline (the daemon's code path
 *      without main.c) in another fresh group to bench.enriched, until it
 *      has delivered N enriched messages;
 * three times each, alternating, and prints the best rate of each and
 * enricher/pass-through, and the least CPU time each took (the whole
 * process, librdkafka's threads included, set-up and close included) per
 * million events: CPU time depends less than wall time on what else runs
 * on the machine. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_time.h"
#include "pipeline.h"

#define TIMEOUT_MS 60000
#define ROUNDS 3

typedef struct {
    uint64_t delivered, failed;
} counts;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    counts *c = opaque;
    if (msg->err)
        c->failed++;
    else
        c->delivered++;
}

/* A realistic raw event: a temperature sensor with HA's usual attributes. */
static int make_event(char *buf, size_t len, long i, const char *site)
{
    int64_t t = INT64_C(1795301318000000000) + (int64_t)i * 1000000;
    char iso[40];
    hs_time_format_iso(t, iso, sizeof iso);
    return snprintf(
        buf, len,
        "{\"schema\":1,\"site\":\"%s\",\"event_type\":\"state_changed\",\"origin\":"
        "\"LOCAL\","
        "\"entity_id\":\"sensor.room_%ld_temperature\",\"domain\":\"sensor\",\"object_"
        "id\":"
        "\"room_%ld_temperature\",\"time_fired\":\"%s\",\"new_state\":{\"state\":\"%ld.%"
        "ld\","
        "\"attributes\":{\"unit_of_measurement\":\"°C\",\"device_class\":\"temperature\","
        "\"state_class\":\"measurement\",\"friendly_name\":\"Room %ld temperature\"},"
        "\"last_changed\":\"%s\",\"last_updated\":\"%s\"},\"old_state\":{\"state\":\"20."
        "0\","
        "\"attributes\":{},\"last_changed\":\"%s\",\"last_updated\":\"%s\"},\"context\":{"
        "\"id\":"
        "\"01HXYZ%08ld\"},\"area\":\"Room %ld\",\"device\":\"Aqara "
        "TH\",\"ingested_at\":\"%s\","
        "\"backfill\":false}",
        site, i % 50, i % 50, iso, 15 + i % 10, i % 10, i % 50, iso, iso, iso, iso, i,
        i % 50, iso);
}

static int produce_input(const char *brokers, const char *topic, long n)
{
    char err[512];
    counts c = {0};
    rd_kafka_t *p = hs_kafka_producer_new(brokers, on_dr, &c, NULL, err, sizeof err);
    if (!p) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    char buf[2048], key[64];
    for (long i = 0; i < n; i++) {
        int len = make_event(buf, sizeof buf, i, "bench");
        int klen = snprintf(key, sizeof key, "sensor.room_%ld_temperature", i % 50);
        if (hs_kafka_produce(p, topic, key, (size_t)klen, buf, (size_t)len, NULL,
                             10000) != 0) {
            fprintf(stderr, "produce failed at %ld\n", i);
            hs_kafka_producer_close(p, 1000);
            return -1;
        }
        rd_kafka_poll(p, 0);
    }
    int left = hs_kafka_producer_close(p, 30000);
    return left == 0 && c.failed == 0 ? 0 : -1;
}

/* Consumes n messages of topic in group and produces them to out. Returns
 * the elapsed ms, or -1. */
static int64_t pass_through(const char *brokers, const char *group, const char *topic,
                            const char *out, long n)
{
    char err[512];
    counts c = {0};
    rd_kafka_t *p = hs_kafka_producer_new(brokers, on_dr, &c, NULL, err, sizeof err);
    rd_kafka_t *k =
        p ? hs_kafka_consumer_new(brokers, group, topic, NULL, err, sizeof err) : NULL;
    if (!p || !k) {
        fprintf(stderr, "pass-through: %s\n", err);
        hs_kafka_producer_close(p, 0);
        return -1;
    }
    int64_t start = 0, deadline = hs_now_mono_ms() + TIMEOUT_MS;
    long consumed = 0;
    while ((long)c.delivered < n && hs_now_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k, consumed < n ? 100 : 0);
        if (m) {
            if (!m->err) {
                if (start == 0)
                    start = hs_now_mono_ms();
                consumed++;
                hs_kafka_produce(p, out, m->key, m->key_len, m->payload, m->len, NULL,
                                 10000);
                hs_kafka_store_offset(k, rd_kafka_topic_name(m->rkt), m->partition,
                                      m->offset);
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(p, consumed < n ? 0 : 10);
    }
    int64_t elapsed = hs_now_mono_ms() - start;
    hs_kafka_consumer_close(k);
    hs_kafka_producer_close(p, 5000);
    if ((long)c.delivered < n) {
        fprintf(stderr, "pass-through: only %" PRIu64 " of %ld delivered\n", c.delivered,
                n);
        return -1;
    }
    return elapsed;
}

static int64_t stat_int(json_t *o, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(o, name));
}

static int64_t enrich_run(const char *brokers, const char *group, const char *topic,
                          long n)
{
    char err[512];
    pipeline_opts o = {
        .brokers = brokers,
        .group = group,
        .topic_raw = topic,
        .topic_enriched = "bench.enriched",
        .topic_dlq = "bench.dlq",
        .site = "bench",
    };
    pipeline *p = pipeline_new(&o, err, sizeof err);
    if (!p) {
        fprintf(stderr, "pipeline: %s\n", err);
        return -1;
    }
    int64_t start = 0, deadline = hs_now_mono_ms() + TIMEOUT_MS;
    int64_t out = 0;
    while (out < n && hs_now_mono_ms() < deadline) {
        if (pipeline_step(p, 100) != 0)
            break;
        json_t *s = json_object();
        pipeline_stats(p, s);
        if (start == 0 && stat_int(s, "events_in_total") > 0)
            start = hs_now_mono_ms();
        out = stat_int(s, "events_out_total");
        json_decref(s);
    }
    int64_t elapsed = hs_now_mono_ms() - start;
    pipeline_close(p, 5000);
    pipeline_free(p);
    if (out < n) {
        fprintf(stderr, "enricher: only %" PRId64 " of %ld delivered\n", out, n);
        return -1;
    }
    return elapsed;
}

/* CPU seconds the whole process has used so far. */
static double process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *brokers = getenv("KAFKA_BROKERS");
    const char *topic = getenv("TOPIC_RAW") ? getenv("TOPIC_RAW") : "ha.events.raw";
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    if (!brokers || n <= 0) {
        fprintf(stderr, "usage: KAFKA_BROKERS=host:port %s [events]\n", argv[0]);
        return 2;
    }
    hs_log_setup("bench", HS_LOG_WARN, "text");

    printf("producing %ld raw events to %s\n", n, topic);
    fflush(stdout);
    if (produce_input(brokers, topic, n) != 0)
        return 1;
    /* The machine is shared: alternate the two and keep each one's best of
     * ROUNDS, so a burst of load elsewhere does not decide the ratio. */
    int64_t pass_ms = 0, enrich_ms = 0;
    double pass_cpu = 0, enrich_cpu = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char g1[64], g2[64];
        snprintf(g1, sizeof g1, "bench-pass-%ld-%d", (long)getpid(), r);
        snprintf(g2, sizeof g2, "bench-enrich-%ld-%d", (long)getpid(), r);
        double c0 = process_cpu_s();
        int64_t pm = pass_through(brokers, g1, topic, "bench.pass", n);
        double c1 = process_cpu_s();
        int64_t em = enrich_run(brokers, g2, topic, n);
        double c2 = process_cpu_s();
        if (pm <= 0 || em <= 0)
            return 1;
        printf("round %d: pass-through %" PRId64 " ms (cpu %.2f s), enricher %" PRId64
               " ms (cpu %.2f s)\n",
               r + 1, pm, c1 - c0, em, c2 - c1);
        if (r == 0 || c1 - c0 < pass_cpu)
            pass_cpu = c1 - c0;
        if (r == 0 || c2 - c1 < enrich_cpu)
            enrich_cpu = c2 - c1;
        fflush(stdout);
        if (pass_ms == 0 || pm < pass_ms)
            pass_ms = pm;
        if (enrich_ms == 0 || em < enrich_ms)
            enrich_ms = em;
    }
    double pass_rate = n * 1000.0 / (double)pass_ms;
    double enrich_rate = n * 1000.0 / (double)enrich_ms;
    printf("pass-through: %ld events in %" PRId64 " ms = %.0f events/s (best of %d)\n", n,
           pass_ms, pass_rate, ROUNDS);
    printf("enricher:     %ld events in %" PRId64 " ms = %.0f events/s (best of %d)\n", n,
           enrich_ms, enrich_rate, ROUNDS);
    printf("ratio enricher/pass-through: %.2f\n", enrich_rate / pass_rate);
    printf("cpu per million events: pass-through %.1f s, enricher %.1f s (least of %d)\n",
           pass_cpu * 1e6 / (double)n, enrich_cpu * 1e6 / (double)n, ROUNDS);
    return 0;
}
