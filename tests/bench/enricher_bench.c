/* enricher_bench.c - how fast the enricher moves events, as a ratio to a
 * plain consumer->producer pass-through measured in the same run.
 *
 * Benchmark, not a test: it asserts nothing about speed. It needs a running
 * broker (KAFKA_BROKERS) with the topics tests/bench/enricher_bench.sh
 * creates, sized so that the dev broker (about 5 MiB per partition) drops
 * nothing. It produces N raw events (argv[1], default 100000, about 1.3 KB
 * each, of ENTITIES entities so that the keyed messages spread evenly over
 * the partitions) to TOPIC_RAW, then
 *   1. pass-through: consumes them in a fresh group and produces each
 *      payload unchanged to bench.pass.<round>, until all delivery reports
 *      are in;
 *   2. enricher: runs the enricher's own pipeline (the daemon's code path
 *      without main.c) in another fresh group to bench.enriched.<round>,
 *      until it has delivered N enriched messages;
 * three times each, alternating, and once more the enricher with its fast
 * path off (pipeline_opts.tree_only, to bench.tree.1), and prints the best
 * rate of each, enricher/pass-through, and the least CPU time each took
 * (the whole process, librdkafka's threads included, set-up and close
 * included) per million events: CPU time depends less than wall time on
 * what else runs on the machine. It also prints the least CPU time of the
 * loop's own thread (consume, transform, produce, delivery reports; not
 * librdkafka's threads) per million events: the one core of the target
 * ("events/s on one core"); a million over it bounds the rate the loop
 * reaches with a core to itself. Both sides use the same librdkafka
 * settings, those of hs_kafka_producer_new and hs_kafka_consumer_new
 * without extras, which the daemon uses too. A second argument,
 * bench.pass, bench.enriched or bench.tree, runs only that side (for a
 * profiler).
 *
 * With "--transform tree|fast N" it needs no broker: it runs the
 * enricher's transform alone N times over the same raw events, the tree
 * path (json_loadb, hs_event_validate_raw, enrich_fields, enrich_text) or
 * the fast path (enrich_scan_raw, enrich_scan_text), for
 *   valgrind --tool=callgrind --toggle-collect=transform_one_tree
 *   (or transform_one_fast) build/enricher/enricher-bench --transform tree N
 * whose instruction count over N is the transform's cost per event. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "enrich.h"
#include "hs_event.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_time.h"
#include "pipeline.h"

#define TIMEOUT_MS 60000
#define ROUNDS 3 /* enricher_bench.sh creates the output topics of each */
/* Distinct entities, so the keyed messages spread evenly over the
 * partitions (with 50 some partitions held 4 entities' events and the dev
 * broker dropped the oldest). */
#define ENTITIES 10000

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
        site, i % ENTITIES, i % ENTITIES, iso, 15 + i % 10, i % 10, i % ENTITIES, iso,
        iso, iso, iso, i, i % 50, iso);
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
        int klen = snprintf(key, sizeof key, "sensor.room_%ld_temperature", i % ENTITIES);
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
                          const char *out_topic, bool tree_only, long n)
{
    char err[512];
    pipeline_opts o = {
        .brokers = brokers,
        .group = group,
        .topic_raw = topic,
        .topic_enriched = out_topic,
        .topic_dlq = "bench.dlq",
        .tree_only = tree_only,
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

#define PRESENCE_TEXT                                                                    \
    "{\"anyone_home\":true,\"people_home\":1,\"people\":[{\"entity_id\":\"person.ann\"," \
    "\"name\":\"Ann\",\"state\":\"home\",\"home\":true}]}"

/* One event through the tree path. Returns the enriched text's length, 0
 * when it failed. */
__attribute__((noinline)) static size_t transform_one_tree(const char *raw_text,
                                                           size_t len, json_t *presence)
{
    json_error_t e;
    char err[256];
    json_t *raw = json_loadb(raw_text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!raw || hs_event_validate_raw(raw, err, sizeof err) != 0) {
        json_decref(raw);
        return 0;
    }
    enrich_ctx ctx = {.presence = presence};
    json_t *fields = enrich_fields(raw, &ctx, err, sizeof err);
    size_t out = 0;
    char *text = fields ? enrich_text(raw_text, len, raw, fields, &out) : NULL;
    free(text);
    json_decref(fields);
    json_decref(raw);
    return text ? out : 0;
}

/* One event through the fast path, as transform_one_tree. */
__attribute__((noinline)) static size_t
transform_one_fast(const char *raw_text, size_t len, const char *presence)
{
    enrich_scan s;
    if (enrich_scan_raw(raw_text, len, false, &s) != 0)
        return 0;
    size_t out = 0;
    char *text = enrich_scan_text(raw_text, &s, presence, NULL, &out);
    free(text);
    return text ? out : 0;
}

/* --transform tree|fast N: the transform alone over N events (see the top
 * of the file). */
static int transform_only(const char *which, long n)
{
    enum { DISTINCT = 1000 };
    static char events[DISTINCT][2048];
    static size_t lens[DISTINCT];
    bool fast = strcmp(which, "fast") == 0;
    if (!fast && strcmp(which, "tree") != 0) {
        fprintf(stderr, "--transform takes tree or fast\n");
        return 2;
    }
    for (long i = 0; i < DISTINCT; i++)
        lens[i] = (size_t)make_event(events[i], sizeof events[i], i, "bench");
    json_t *presence = json_loads(PRESENCE_TEXT, 0, NULL);
    size_t bytes = 0;
    long failed = 0;
    for (long i = 0; i < n; i++) {
        const char *ev = events[i % DISTINCT];
        size_t len = lens[i % DISTINCT];
        size_t out = fast ? transform_one_fast(ev, len, PRESENCE_TEXT)
                          : transform_one_tree(ev, len, presence);
        bytes += out;
        failed += out == 0;
    }
    json_decref(presence);
    printf("%s path: %ld events, %zu bytes out, %ld failed\n", which, n, bytes, failed);
    return failed == 0 ? 0 : 1;
}

/* CPU seconds the whole process has used so far. */
static double process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this thread has used so far: the consume, transform and
 * produce loop of either side, without librdkafka's threads. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--transform") == 0)
        return transform_only(argv[2], strtol(argv[3], NULL, 10));
    const char *brokers = getenv("KAFKA_BROKERS");
    const char *topic = getenv("TOPIC_RAW") ? getenv("TOPIC_RAW") : "ha.events.raw";
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    /* A third argument, bench.pass, bench.enriched or bench.tree, runs only
     * that side (for a profiler); nothing is compared then. */
    const char *only = argc > 2 ? argv[2] : NULL;
    if (!brokers || n <= 0) {
        fprintf(stderr,
                "usage: KAFKA_BROKERS=host:port %s [events "
                "[bench.pass|bench.enriched|bench.tree]]\n",
                argv[0]);
        return 2;
    }
    hs_log_setup("bench", HS_LOG_WARN, "text");

    printf("producing %ld raw events to %s\n", n, topic);
    fflush(stdout);
    int64_t produce_start = hs_now_mono_ms();
    if (produce_input(brokers, topic, n) != 0)
        return 1;
    printf("produced in %" PRId64 " ms\n", hs_now_mono_ms() - produce_start);
    fflush(stdout);
    /* The machine is shared: alternate pass-through and enricher and keep
     * each one's best of ROUNDS, so a burst of load elsewhere does not
     * decide the ratio. The tree path only, for comparison, runs in the
     * first round alone (it is the slow one; tests/bench/run.sh gives a
     * stage benchmark 150 s). Each run writes to topics of its own (see
     * enricher_bench.sh). */
    enum { PASS, FAST, TREE, KINDS };
    static const char *const names[KINDS] = {"pass-through", "enricher",
                                             "enricher (tree path only)"};
    static const char *const outs[KINDS] = {"bench.pass", "bench.enriched", "bench.tree"};
    int64_t best_ms[KINDS] = {0};
    double best_cpu[KINDS] = {0}, best_loop[KINDS] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        printf("round %d:", r + 1);
        for (int k = 0; k < KINDS; k++) {
            if (only ? strcmp(only, outs[k]) != 0 : k == TREE && r > 0)
                continue;
            char group[64], out[64];
            snprintf(group, sizeof group, "bench-%s-%ld-%d", outs[k], (long)getpid(), r);
            snprintf(out, sizeof out, "%s.%d", outs[k], r + 1);
            double c0 = process_cpu_s(), l0 = thread_cpu_s();
            int64_t ms = k == PASS ? pass_through(brokers, group, topic, out, n)
                                   : enrich_run(brokers, group, topic, out, k == TREE, n);
            double cpu = process_cpu_s() - c0, loop = thread_cpu_s() - l0;
            if (ms <= 0)
                return 1;
            printf("%s %s %" PRId64 " ms (cpu %.2f s)", k && !only ? "," : "", names[k],
                   ms, cpu);
            if (r == 0 || ms < best_ms[k])
                best_ms[k] = ms;
            if (r == 0 || cpu < best_cpu[k])
                best_cpu[k] = cpu;
            if (r == 0 || loop < best_loop[k])
                best_loop[k] = loop;
        }
        printf("\n");
        fflush(stdout);
    }
    if (only)
        return 0;
    double rate[KINDS];
    for (int k = 0; k < KINDS; k++) {
        rate[k] = n * 1000.0 / (double)best_ms[k];
        /* "label: ..." as tests/bench/e2e_report.py reads a rate. */
        char label[40], runs[16] = "one run";
        snprintf(label, sizeof label, "%s:", names[k]);
        if (k != TREE)
            snprintf(runs, sizeof runs, "best of %d", ROUNDS);
        printf("%-27s %ld events in %" PRId64 " ms = %.0f events/s (%s)\n", label, n,
               best_ms[k], rate[k], runs);
    }
    printf("ratio enricher/pass-through: %.2f (tree path only: %.2f)\n",
           rate[FAST] / rate[PASS], rate[TREE] / rate[PASS]);
    printf("cpu per million events: pass-through %.1f s, enricher %.1f s (least of %d), "
           "tree path only %.1f s\n",
           best_cpu[PASS] * 1e6 / (double)n, best_cpu[FAST] * 1e6 / (double)n, ROUNDS,
           best_cpu[TREE] * 1e6 / (double)n);
    printf("loop thread cpu per million events: pass-through %.1f s, enricher %.1f s "
           "(least of %d), tree path only %.1f s\n",
           best_loop[PASS] * 1e6 / (double)n, best_loop[FAST] * 1e6 / (double)n, ROUNDS,
           best_loop[TREE] * 1e6 / (double)n);
    return 0;
}
