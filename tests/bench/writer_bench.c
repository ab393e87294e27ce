/* writer_bench.c - homestream-writer-bench: how fast the writer moves points
 * from the dev broker into a real influxd, compared in the same run with a
 * direct bulk write of the very same line protocol into the same influxd.
 *
 *   homestream-writer-bench [EVENTS [ENTITIES]]     (defaults 120000, 200)
 *   homestream-writer-bench --backlog [EVENTS [ENTITIES]]  (300000, 2000)
 *   homestream-writer-bench --latency [SECONDS [RATE]]  (defaults 10, 1000/s)
 *
 * It starts influxd (Debian's, v1 API) in a temporary directory, the dev
 * broker (64 partitions, so its 5 MiB per partition retention holds every
 * event), produces EVENTS synthetic enriched events, runs the writer over
 * them twice (each time in a consumer group and a database of its own) and
 * times each run from its first written point to its last (points/s), and
 * counts its CPU seconds per million points over its second half of the
 * points, once warm (run_writer says why), from each thread's /proc
 * schedstat, the writer's without its admin thread, which answers the
 * benchmark's polls. It writes the same lines with
 * one keep-alive connection, in requests cut as the writer cuts its batches,
 * into another database (before and after the writer; the faster counts).
 * Last, it consumes the same messages once more with the writer's consumer
 * settings and no work per message, and prints that CPU per million (its
 * second half too): what librdkafka alone costs, a floor under the writer's.
 * With --backlog it does the same on a longer backlog and reports the
 * writer's CPU from its first point, its fetching and the first touch of
 * librdkafka's 64 MB pre-fetch queue included, for the worse of its two
 * runs: what a writer catching up after a long InfluxDB outage pays per
 * point. Its JSON is one object under "backlog". The dev broker keeps about
 * 5 MiB per partition and the stages key each event by its entity, so a
 * backlog this long needs many entities (2,000 by default: about 150 KB
 * each on a partition that holds some 30 of them).
 * With --latency it produces RATE events a second for SECONDS to the running
 * writer and reports the writer's kafka_to_influx_ms percentiles (from the
 * enqueueing producer's timestamp to InfluxDB's acknowledgement).
 * With --encode N [lean|full [ENTITIES]] (--encode-unfiltered alike) it
 * needs neither influxd nor a broker: it reads and encodes N of the same
 * events of ENTITIES entities (200; with "full", shaped as Home Assistant's
 * whole events: writer_gen_init_full) in-process, as the writer's poll
 * thread does (msgjson_parse_keyed with the ha schema's lineproto_filter
 * and skeletons keyed by entity_id, or
 * msgjson_parse building every member, then lineproto_encode_cached with a
 * shape cache, as the sink keeps one), and prints the time per event; count
 * its instructions with
 *   valgrind --tool=callgrind --toggle-collect=encode_one \
 *     build/writer/homestream-writer-bench --encode 2000 [full]
 * Prints one JSON object. A benchmark, not a test: nothing is asserted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "hs_kafka.h"
#include "hs_time.h"
#include "influx.h"
#include "lineproto.h"
#include "msgjson.h"
#include "wconfig.h"
#include "writer_gen.h"

/* Partitions of the dev broker's topics. It keeps about 5 MiB per
 * partition; the events' keys (their entity ids) spread 120,000 events of
 * 200 entities over 64 partitions at 3.7 MB in the fullest. */
#define BENCH_PARTITIONS "64"

/* A writer run gives up after this many seconds without a new point. */
#define STALL_S 60

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Starts argv with extra environment (NULL-terminated "K=V" list), stdout
 * to out_path. Returns the pid or -1. */
static pid_t spawn(char *const argv[], char *const env[], const char *out_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    for (size_t i = 0; env && env[i]; i++)
        putenv(env[i]);
    execv(argv[0], argv);
    _exit(127);
}

static void stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

typedef struct {
    char *data;
    size_t len;
} membuf;

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
    membuf *m = ud;
    char *d = realloc(m->data, m->len + s * n + 1);
    if (d == NULL)
        return 0;
    memcpy(d + m->len, p, s * n);
    m->data = d;
    m->len += s * n;
    d[m->len] = '\0';
    return s * n;
}

/* GET or POST (body non-NULL) url; returns the status, *out the body. */
static long http(const char *url, const char *body, char **out)
{
    CURL *c = curl_easy_init();
    membuf m = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (out)
        *out = m.data;
    else
        free(m.data);
    return status;
}

/* The CPU seconds of pid's threads whose name starts with prefix (NULL:
 * every thread), from each thread's /proc schedstat: nanoseconds on a CPU,
 * where /proc's stat counts clock ticks of 10 ms, too coarse for the
 * fraction of a second a benchmark run takes. Threads that have ended are
 * not counted; the writer's and influxd's live as long as they do. -1 when
 * pid is gone. The writer's admin thread ("MHD-single", libmicrohttpd's)
 * serves the benchmark's own /stats polling every 20 ms. */
static double threads_cpu_seconds(pid_t pid, const char *prefix)
{
    char dirpath[64], path[600], buf[256];
    snprintf(dirpath, sizeof dirpath, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dirpath);
    if (d == NULL)
        return -1;
    unsigned long long ns = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (prefix != NULL) {
            snprintf(path, sizeof path, "%s/%s/comm", dirpath, e->d_name);
            FILE *f = fopen(path, "r");
            if (f == NULL)
                continue;
            bool match = fgets(buf, sizeof buf, f) != NULL &&
                         strncmp(buf, prefix, strlen(prefix)) == 0;
            fclose(f);
            if (!match)
                continue;
        }
        snprintf(path, sizeof path, "%s/%s/schedstat", dirpath, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long run = 0;
        if (f != NULL) {
            if (fscanf(f, "%llu", &run) == 1)
                ns += run;
            fclose(f);
        }
    }
    closedir(d);
    return (double)ns / 1e9;
}

static double cpu_seconds(pid_t pid)
{
    return threads_cpu_seconds(pid, NULL);
}

/* This process's CPU seconds, every thread's, ended ones included. */
static double own_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The writer's /stats as JSON, or NULL. */
static json_t *fetch_stats(int admin_port)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", admin_port);
    json_t *j = NULL;
    if (http(url, NULL, &body) == 200)
        j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

/* points_written_total from the writer's /stats; *batches its batches. */
static int64_t points_written(int admin_port, int64_t *batches)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", admin_port);
    if (http(url, NULL, &body) != 200) {
        free(body);
        return -1;
    }
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    int64_t v = (int64_t)json_integer_value(json_object_get(j, "points_written_total"));
    *batches = (int64_t)json_integer_value(json_object_get(j, "batches_total"));
    json_decref(j);
    return v;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static double now_s(void)
{
    return (double)hs_now_mono_ms() / 1000.0;
}

/* The default of one of the writer's integer settings (wconfig.c). */
static long writer_default(const char *name)
{
    for (size_t i = 0; i < wconfig_nvars; i++)
        if (strcmp(wconfig_vars[i].name, name) == 0 && wconfig_vars[i].def != NULL)
            return atol(wconfig_vars[i].def);
    return 0;
}

/* One direct write of lines (events of them, line_end[i] the end of line i)
 * into database db, cut into requests as the writer cuts its batches under
 * load (batch.h: a request ends before a line that would take it past
 * max_bytes, or at max_points). Returns points/s; *requests and *failures
 * count the requests and those not answered 204. */
static double direct_write(const char *base, const char *db, const char *text,
                           const size_t *line_end, long events, long max_points,
                           long max_bytes, long *requests, long *failures)
{
    char err[256];
    influx_opts io = {.api_version = 1, .url = base, .db = db, .timeout_ms = 60000};
    influx *ix = influx_new(&io, err, sizeof err);
    if (ix == NULL)
        return 0;
    double d0 = now_s();
    size_t start = 0;
    long i = 0;
    while (i < events) {
        long last = i; /* the request is lines [i, last] */
        while (last + 1 < events && last + 1 - i < max_points &&
               line_end[last + 1] - start <= (size_t)max_bytes)
            last++;
        size_t end = line_end[last];
        influx_result res;
        if (influx_write(ix, text + start, end - start, &res) != 0 || res.status != 204)
            (*failures)++;
        (*requests)++;
        start = end;
        i = last + 1;
    }
    double d1 = now_s();
    influx_free(ix);
    return d1 > d0 ? (double)events / (d1 - d0) : 0;
}

/* Starts the writer against the bench's broker and influxd (database db). */
static pid_t spawn_writer(const char *writer_bin, const char *bootstrap, const char *base,
                          int admin_port, const char *db, const char *group,
                          const char *log_path)
{
    static char e1[700], e2[300], e3[64], e4[64], e5[64], e6[64], e7[96];
    snprintf(e1, sizeof e1, "KAFKA_BROKERS=%s", bootstrap);
    snprintf(e2, sizeof e2, "INFLUX_URL=%s", base);
    snprintf(e3, sizeof e3, "ADMIN_ADDR=127.0.0.1:%d", admin_port);
    snprintf(e4, sizeof e4, "INFLUX_API_VERSION=1");
    snprintf(e5, sizeof e5, "INFLUX_DB=%s", db);
    snprintf(e6, sizeof e6, "LOG_LEVEL=warn");
    snprintf(e7, sizeof e7, "KAFKA_GROUP=%s", group);
    char *wenv[] = {e1, e2, e3, e4, e5, e6, e7, NULL};
    char *wargv[] = {(char *)writer_bin, NULL};
    return spawn(wargv, wenv, log_path);
}

static void produce_generated(rd_kafka_t *rk, writer_gen *g)
{
    char *text = writer_gen_next(g);
    json_t *j = json_loads(text, 0, NULL);
    const char *key = json_string_value(json_object_get(j, "entity_id"));
    hs_kafka_produce(rk, "ha.events.enriched", key, strlen(key), text, strlen(text), NULL,
                     10000);
    json_decref(j);
    free(text);
}

/* --latency: events at a steady rate; the writer's own measure of the time
 * from Kafka's append to InfluxDB's acknowledgement, per point. */
static int run_latency(const char *bootstrap, const char *writer_bin, const char *base,
                       int admin_port, const char *dir, int seconds, int rate)
{
    char err[256], path[4200];
    rd_kafka_t *rk = hs_kafka_producer_new(bootstrap, NULL, NULL, NULL, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/writer.log", dir);
    pid_t writer = spawn_writer(writer_bin, bootstrap, base, admin_port, "bench_pipe",
                                "homestream-writer", path);
    writer_gen g;
    writer_gen_init(&g, 200, hs_now_wall_ns());
    int64_t batches = 0;
    /* warm up until the writer has joined its group and written */
    for (int i = 0; i < 600 && points_written(admin_port, &batches) < 1; i++) {
        if (i % 50 == 0) {
            produce_generated(rk, &g);
            rd_kafka_flush(rk, 1000);
        }
        usleep(50000);
    }
    int64_t base_points = points_written(admin_port, &batches);
    long total = (long)seconds * rate;
    double start = now_s();
    for (long sent = 0; sent < total; sent++) {
        double due = start + (double)sent / rate;
        double now = now_s();
        if (now < due)
            usleep((useconds_t)((due - now) * 1e6));
        produce_generated(rk, &g);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 10000);
    for (int i = 0; i < 600 && points_written(admin_port, &batches) < base_points + total;
         i++)
        usleep(50000);
    json_t *st = fetch_stats(admin_port);
    json_t *d = json_object_get(st, "kafka_to_influx_ms");
    json_t *w = json_object_get(st, "write_latency_ms");
    printf("{\"mode\":\"latency\",\"rate\":%d,\"seconds\":%d,\"points\":%" PRId64
           ",\"batches\":%" PRId64 ",\"kafka_to_influx_ms\":{\"p50\":%.1f,\"p90\":%.1f,"
           "\"p99\":%.1f},\"write_ms\":{\"p50\":%.1f,\"p99\":%.1f}}\n",
           rate, seconds, points_written(admin_port, &batches) - base_points, batches,
           json_number_value(json_object_get(d, "p50")),
           json_number_value(json_object_get(d, "p90")),
           json_number_value(json_object_get(d, "p99")),
           json_number_value(json_object_get(w, "p50")),
           json_number_value(json_object_get(w, "p99")));
    json_decref(st);
    stop(writer);
    hs_kafka_producer_close(rk, 1000);
    return 0;
}

/* The floor under the writer's CPU: consumes the EVENTS enriched messages
 * again, in a group of its own, with the writer's consumer settings
 * (hs_kafka_consumer_new, as sink.c makes it) and no work per message.
 * Returns this process's CPU seconds (all threads, librdkafka's included)
 * over the second half of the messages, as the writer's CPU is counted
 * (run_writer), and sets *whole to those from its first message on (with
 * its fetching of the whole topic); -1 when they did not all come within
 * 120 s. */
static double bare_consume(const char *bootstrap, long events, double *whole)
{
    char err[256];
    rd_kafka_t *c = hs_kafka_consumer_new(bootstrap, "bench-bare-consume",
                                          "ha.events.enriched", NULL, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "bare consume: %s\n", err);
        return -1;
    }
    long got = 0;
    double cpu_first = -1, cpu0 = -1, cpu1 = -1, t_end = now_s() + 120;
    *whole = -1;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c);
    while (q != NULL && got < events && now_s() < t_end) {
        /* As the writer reads (sink.c, take_message). */
        rd_kafka_message_t *ms[64];
        size_t k = hs_kafka_consume_some(c, q, 100, ms, 64);
        for (size_t x = 0; x < k; x++) {
            if (ms[x]->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (got == 0)
                    cpu_first = own_cpu_seconds();
                if (got == events / 2)
                    cpu0 = own_cpu_seconds();
                got++;
                if (got == events)
                    cpu1 = own_cpu_seconds();
            }
            rd_kafka_message_destroy(ms[x]);
        }
    }
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    hs_kafka_consumer_close(c);
    if (got != events || cpu0 < 0)
        return -1;
    *whole = cpu1 - cpu_first;
    return cpu1 - cpu0; /* the second half's */
}

/* One message (keyed key, as the stages key theirs) through the writer's
 * reading and encoding, as the sink's handle_message does it (a declined
 * text would go to jansson there; the benchmark's events never are; without
 * a filter every member is built, and no skeleton is used). Returns
 * lineproto_encode_cached's result. */
static __attribute__((noinline)) int
encode_one(msgjson_doc *doc, const char *text, size_t len, const char *key,
           const lineproto_opts *lo, const msgjson_filter *filter, msgjson_skels *skels,
           lineproto_cache *cache, lineproto_buf *out)
{
    lineproto_info info;
    char err[256];
    lineproto_buf_truncate(out, 0);
    int rc = filter != NULL
                 ? msgjson_parse_keyed(doc, text, len, filter, skels, key, strlen(key))
                 : msgjson_parse(doc, text, len);
    if (rc != 0)
        return -1;
    return lineproto_encode_cached(doc, lo, cache, out, &info, err, sizeof err);
}

/* --encode N: see the top of this file. */
static int run_encode(long events, bool filtered, bool full, unsigned entities)
{
    writer_gen g;
    if (full)
        writer_gen_init_full(&g, entities, 1700000000000000000LL);
    else
        writer_gen_init(&g, entities, 1700000000000000000LL);
    if (events < 1)
        events = 1;
    char **texts = calloc((size_t)events, sizeof *texts);
    char **keys = calloc((size_t)events, sizeof *keys);
    long made = 0;
    size_t bytes = 0;
    for (; texts != NULL && keys != NULL && made < events; made++) {
        texts[made] = writer_gen_next(&g);
        json_t *j = texts[made] != NULL ? json_loads(texts[made], 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(j, "entity_id"));
        keys[made] = id != NULL ? strdup(id) : NULL;
        json_decref(j);
        if (keys[made] == NULL) {
            free(texts[made]);
            break;
        }
        bytes += strlen(texts[made]);
    }
    if (made < events) {
        for (long k = 0; k < made; k++) {
            free(texts[k]);
            free(keys[k]);
        }
        free(texts);
        free(keys);
        return 1;
    }
    lineproto_opts lo = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filter = filtered ? lineproto_filter(&lo) : NULL;
    msgjson_doc doc;
    msgjson_init(&doc);
    lineproto_buf out;
    lineproto_buf_init(&out);
    lineproto_cache *cache = lineproto_cache_new();
    msgjson_skels *skels = msgjson_skels_new();
    long failed = cache == NULL || skels == NULL ? events : 0;
    size_t line_bytes = 0;
    double t0 = now_s();
    for (long i = 0; i < events && failed == 0; i++) {
        if (encode_one(&doc, texts[i], strlen(texts[i]), keys[i], &lo, filter, skels,
                       cache, &out) != 0)
            failed++;
        line_bytes += out.len;
    }
    double t1 = now_s();
    uint64_t hits = 0, misses = 0, kept = 0, skel_hits = 0, skel_misses = 0,
             skel_made = 0;
    size_t skel_bytes = 0;
    if (cache != NULL)
        lineproto_cache_counts(cache, &hits, &misses, &kept);
    if (skels != NULL)
        msgjson_skels_counts(skels, &skel_hits, &skel_misses, &skel_made, &skel_bytes);
    printf("{\"mode\":\"encode\",\"filtered\":%s,\"full\":%s,\"entities\":%u,"
           "\"events\":%ld,"
           "\"json_bytes\":%zu,\"line_bytes\":%zu,\"ns_per_event\":%.0f,\"failed\":%ld,"
           "\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64
           ",\"skeleton_hits\":%" PRIu64 ",\"skeleton_misses\":%" PRIu64
           ",\"skeleton_bytes\":%zu}\n",
           filtered ? "true" : "false", full ? "true" : "false", entities, events, bytes,
           line_bytes, events > 0 ? (t1 - t0) * 1e9 / (double)events : 0, failed, hits,
           misses, skel_hits, skel_misses, skel_bytes);
    for (long i = 0; i < events; i++) {
        free(texts[i]);
        free(keys[i]);
    }
    free(texts);
    free(keys);
    msgjson_fini(&doc);
    lineproto_buf_fini(&out);
    lineproto_cache_free(cache);
    msgjson_skels_free(skels);
    return failed == 0 ? 0 : 1;
}

/* One run of the writer over the EVENTS messages, in a consumer group and
 * a database of its own, timed from its first written point to its last.
 * Its CPU figures are over its second half of the events (warm, see
 * run_writer), the _whole ones from its first written point. */
typedef struct {
    double points_per_s;
    double cpu_per_m; /* the writer's CPU per million points, admin thread not counted */
    double admin_per_m;  /* its admin thread's, answering the benchmark's polls */
    double influx_per_m; /* influxd's over the same time */
    double cpu_whole_per_m, influx_whole_per_m;
    int64_t first, done, batches;
} writer_round;

/* A CPU reading of the writer (without its admin thread), its admin thread
 * and influxd, with the points written then. */
typedef struct {
    double t, cpu, admin, influx;
    int64_t points;
} cpu_mark;

static cpu_mark mark(pid_t writer, pid_t influxd, int64_t points)
{
    cpu_mark m = {.t = now_s(), .points = points};
    m.admin = threads_cpu_seconds(writer, "MHD");
    m.cpu = cpu_seconds(writer) - m.admin;
    m.influx = cpu_seconds(influxd);
    return m;
}

/* Per million points between two marks into *cpu, *admin, *db (influxd's); false
 * when no point was written between them. */
static bool per_million(const cpu_mark *a, const cpu_mark *b, double *cpu, double *admin,
                        double *db)
{
    double m = (double)(b->points - a->points) / 1e6;
    if (m <= 0 || b->cpu < a->cpu)
        return false;
    *cpu = (b->cpu - a->cpu) / m;
    *admin = (b->admin - a->admin) / m;
    *db = (b->influx - a->influx) / m;
    return true;
}

/* Runs the writer over the topic in a consumer group and database of its
 * own until it has written events points (or made no progress for
 * STALL_S). Its rate counts from its first written point to its last; its
 * CPU from the point where half the events are written. A writer that
 * starts on a backlog pre-fetches past librdkafka's 64 MB queue limit (a
 * fetch brings up to 1 MB per partition) into pages it touches for the
 * first time: by the middle of this run the whole topic is in memory, so
 * the second half counts the writer's work without Kafka's fetching (the
 * bare-consume floor is counted alike). The figures from the first point,
 * fetching included, are printed too; see docs/performance.md. */
static writer_round run_writer(const char *writer_bin, const char *bootstrap,
                               const char *base, int admin_port, const char *dir,
                               pid_t influxd, long events, int round)
{
    char db[32], group[64], path[4200];
    snprintf(db, sizeof db, "bench_pipe_%d", round);
    snprintf(group, sizeof group, "bench-writer-%d", round);
    snprintf(path, sizeof path, "%s/writer-%d.log", dir, round);
    char q[96], url[256];
    snprintf(q, sizeof q, "q=CREATE DATABASE %s", db);
    snprintf(url, sizeof url, "%s/query", base);
    http(url, q, NULL);
    writer_round w = {.cpu_per_m = -1,
                      .admin_per_m = -1,
                      .influx_per_m = -1,
                      .cpu_whole_per_m = -1,
                      .influx_whole_per_m = -1};
    pid_t writer = spawn_writer(writer_bin, bootstrap, base, admin_port, db, group, path);
    cpu_mark m0 = {0}, mhalf = {0}, m1 = {0};
    double t_progress = now_s();
    int64_t last = -1;
    while (now_s() - t_progress < STALL_S) {
        w.done = points_written(admin_port, &w.batches);
        if (w.done != last) {
            last = w.done;
            t_progress = now_s();
        }
        if (w.done > 0 && m0.t == 0)
            m0 = mark(writer, influxd, w.done);
        if (w.done >= events / 2 && mhalf.t == 0)
            mhalf = mark(writer, influxd, w.done);
        if (w.done >= events) {
            m1 = mark(writer, influxd, w.done);
            break;
        }
        usleep(20000);
    }
    stop(writer);
    if (m1.t == 0) {
        fprintf(stderr,
                "writer run %d: %" PRId64 " of %ld points written, then none "
                "for %d s\n",
                round, w.done, events, STALL_S);
        return w;
    }
    w.first = m0.points;
    if (m1.t > m0.t && m1.points > m0.points)
        w.points_per_s = (double)(m1.points - m0.points) / (m1.t - m0.t);
    /* The writer's CPU without its admin thread's: that thread answers the
     * benchmark's own /stats polls (every 20 ms), which nobody makes of a
     * writer in use. */
    double admin_whole;
    if (!per_million(&m0, &m1, &w.cpu_whole_per_m, &admin_whole, &w.influx_whole_per_m))
        w.cpu_whole_per_m = w.influx_whole_per_m = -1;
    if (!per_million(&mhalf, &m1, &w.cpu_per_m, &w.admin_per_m, &w.influx_per_m))
        w.cpu_per_m = w.admin_per_m = w.influx_per_m = -1;
    return w;
}

/* The writer's CPU as a share of influxd's in round w, or a large number
 * when either was not measured. */
static double cpu_share(const writer_round *w)
{
    return w->cpu_per_m >= 0 && w->influx_per_m > 0 ? w->cpu_per_m / w->influx_per_m
                                                    : 1e9;
}

/* r's CPU from its first point as a share of influxd's, -1 when unknown. */
static double whole_share(const writer_round *r)
{
    return r->influx_whole_per_m > 0 && r->cpu_whole_per_m >= 0
               ? r->cpu_whole_per_m / r->influx_whole_per_m
               : -1;
}

/* --backlog's report: both runs from their first points, then the JSON.
 * over_direct is the faster run's rate over the direct write's. */
static void print_backlog(const writer_round rounds[2], long events, unsigned entities,
                          double over_direct, double bare_whole_per_m)
{
    const writer_round *worse =
        whole_share(&rounds[1]) > whole_share(&rounds[0]) ? &rounds[1] : &rounds[0];
    printf("writer on a backlog (%ld events of %u entities, from its first point, "
           "fetching included)\n",
           events, entities);
    for (int r = 0; r < 2; r++)
        printf("  run %d: %.0f points per second; cpu %.2f s per million points, "
               "influxd's %.2f: %.3f\n",
               r + 1, rounds[r].points_per_s, rounds[r].cpu_whole_per_m,
               rounds[r].influx_whole_per_m, whole_share(&rounds[r]));
    printf("  the worse run's writer/influxd cpu: %.3f; writer/direct (the faster run): "
           "%.3f; librdkafka alone from its first message: %.2f s per million\n",
           whole_share(worse), over_direct, bare_whole_per_m);
    printf("{\"backlog\":{\"events\":%ld,\"entities\":%u,"
           "\"writer_cpu_s_per_million_points_whole_run\":%.2f,"
           "\"influxd_cpu_s_per_million_points_whole_run\":%.2f,"
           "\"writer_over_influxd_cpu_whole_run\":%.3f,"
           "\"writer_over_influxd_cpu_whole_run_runs\":[%.3f,%.3f],"
           "\"writer_over_direct\":%.3f,"
           "\"bare_consume_cpu_s_per_million_whole_run\":%.2f,"
           "\"writer_reached\":[%" PRId64 ",%" PRId64 "]}}\n",
           events, entities, worse->cpu_whole_per_m, worse->influx_whole_per_m,
           whole_share(worse), whole_share(&rounds[0]), whole_share(&rounds[1]),
           over_direct, bare_whole_per_m, rounds[0].done, rounds[1].done);
}

int main(int argc, char **argv)
{
    if (argc > 1 &&
        (strcmp(argv[1], "--encode") == 0 || strcmp(argv[1], "--encode-unfiltered") == 0))
        return run_encode(argc > 2 ? atol(argv[2]) : 2000,
                          strcmp(argv[1], "--encode") == 0,
                          argc > 3 && strcmp(argv[3], "full") == 0,
                          argc > 4 && atoi(argv[4]) > 0 ? (unsigned)atoi(argv[4]) : 200);
    bool latency_mode = argc > 1 && strcmp(argv[1], "--latency") == 0;
    int lat_seconds = latency_mode && argc > 2 ? atoi(argv[2]) : 10;
    int lat_rate = latency_mode && argc > 3 ? atoi(argv[3]) : 1000;
    bool backlog = argc > 1 && strcmp(argv[1], "--backlog") == 0;
    int a0 = backlog ? 2 : 1; /* the first of EVENTS and ENTITIES */
    long events = !latency_mode && argc > a0 ? atol(argv[a0]) : backlog ? 300000 : 120000;
    unsigned entities = !latency_mode && argc > a0 + 1 ? (unsigned)atoi(argv[a0 + 1])
                        : backlog                      ? 2000
                                                       : 200;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return 1;
    self[sl] = '\0';
    *strrchr(self, '/') = '\0'; /* build/writer */
    char writer_bin[4200], broker_bin[4200];
    snprintf(writer_bin, sizeof writer_bin, "%s/homestream-writer", self);
    snprintf(broker_bin, sizeof broker_bin, "%s/../tests/devbroker/homestream-devbroker",
             self);

    char dir[] = "/tmp/hs-writer-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    int http_port = free_port(), rpc_port = free_port(), admin_port = free_port();
    char conf[4200], path[4200];
    snprintf(conf, sizeof conf, "%s/influxd.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(
        f,
        "reporting-disabled = true\nbind-address = \"127.0.0.1:%d\"\n"
        "[meta]\n  dir = \"%s/meta\"\n[data]\n  dir = \"%s/data\"\n  wal-dir = "
        "\"%s/wal\"\n"
        "  query-log-enabled = false\n[http]\n  bind-address = \"127.0.0.1:%d\"\n"
        "  log-enabled = false\n  max-body-size = 0\n[monitor]\n  store-enabled = false\n"
        "[subscriber]\n  enabled = false\n[continuous_queries]\n  enabled = false\n",
        rpc_port, dir, dir, dir, http_port);
    fclose(f);
    char *influx_argv[] = {"/usr/bin/influxd", "run", "-config", conf, NULL};
    snprintf(path, sizeof path, "%s/influxd.log", dir);
    pid_t influxd = spawn(influx_argv, NULL, path);
    char base[64], url[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", http_port);
    snprintf(url, sizeof url, "%s/ping", base);
    for (int i = 0; i < 300 && http(url, NULL, NULL) != 204; i++)
        usleep(100000);
    snprintf(url, sizeof url, "%s/query", base);
    http(url, "q=CREATE DATABASE bench_pipe", NULL);
    http(url, "q=CREATE DATABASE bench_direct", NULL);
    http(url, "q=CREATE DATABASE bench_direct_after", NULL);

    snprintf(path, sizeof path, "%s/broker.out", dir);
    char *broker_argv[] = {broker_bin, "--partitions", BENCH_PARTITIONS, NULL};
    pid_t broker = spawn(broker_argv, NULL, path);
    char bootstrap[600] = "";
    for (int i = 0; i < 200 && bootstrap[0] == '\0'; i++) {
        usleep(50000);
        FILE *b = fopen(path, "r");
        char line[512];
        while (b && fgets(line, sizeof line, b))
            if (strncmp(line, "BOOTSTRAP=", 10) == 0) {
                line[strcspn(line, "\r\n")] = '\0';
                snprintf(bootstrap, sizeof bootstrap, "%s", line + 10);
            }
        if (b)
            fclose(b);
    }
    if (bootstrap[0] == '\0') {
        fprintf(stderr, "no BOOTSTRAP from the dev broker\n");
        stop(broker);
        stop(influxd);
        return 1;
    }
    if (latency_mode) {
        int rc = run_latency(bootstrap, writer_bin, base, admin_port, dir,
                             lat_seconds > 0 ? lat_seconds : 10,
                             lat_rate > 0 ? lat_rate : 1000);
        stop(broker);
        stop(influxd);
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        curl_global_cleanup();
        return rc;
    }

    /* Produce, and encode the same events for the direct write. The topic
     * is loaded in large producer batches: the dev broker (librdkafka's mock
     * cluster) answers a Fetch with one producer batch per partition, where
     * a real Kafka returns up to max.partition.fetch.bytes, so small batches
     * from this loop would limit the writer's reads, not the writer. */
    char err[256];
    static const char *const preload[] = {"linger.ms", "100", "batch.num.messages",
                                          "10000", NULL};
    rd_kafka_t *rk =
        hs_kafka_producer_new(bootstrap, NULL, NULL, preload, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "producer: %s\n", err);
        stop(broker);
        stop(influxd);
        return 1;
    }
    writer_gen g;
    writer_gen_init(&g, entities, 1700000000000000000LL);
    lineproto_opts lo = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    lineproto_buf lines;
    lineproto_buf_init(&lines);
    size_t *line_end = malloc((size_t)events * sizeof *line_end);
    for (long i = 0; i < events; i++) {
        char *text = writer_gen_next(&g);
        json_t *j = json_loads(text, 0, NULL);
        const char *key = json_string_value(json_object_get(j, "entity_id"));
        lineproto_info info;
        lineproto_encode(j, &lo, &lines, &info, err, sizeof err);
        line_end[i] = lines.len;
        hs_kafka_produce(rk, "ha.events.enriched", key, strlen(key), text, strlen(text),
                         NULL, 10000);
        json_decref(j);
        free(text);
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
    }
    hs_kafka_producer_close(rk, 60000);

    /* The ceiling: the same lines straight into the same influxd, in the
     * requests the writer makes under load, once before the writer and
     * once after it (influxd's speed drifts as it compacts what it holds);
     * the faster of the two counts. */
    long max_points = writer_default("BATCH_MAX_POINTS");
    long max_bytes = writer_default("BATCH_MAX_BYTES");
    long requests = 0, failures = 0;
    double dcpu0 = cpu_seconds(influxd);
    double direct_before =
        direct_write(base, "bench_direct", lines.data, line_end, events, max_points,
                     max_bytes, &requests, &failures);
    double dcpu1 = cpu_seconds(influxd);

    /* The writer, twice (influxd, like the direct write, runs faster one
     * time than another): the faster run's rate counts, and the CPU figures
     * of the run whose CPU was the smaller share of influxd's. */
    writer_round rounds[2];
    for (int r = 0; r < 2; r++)
        rounds[r] = run_writer(writer_bin, bootstrap, base, admin_port, dir, influxd,
                               events, r + 1);
    const writer_round *fast =
        rounds[1].points_per_s > rounds[0].points_per_s ? &rounds[1] : &rounds[0];
    const writer_round *lean =
        cpu_share(&rounds[1]) < cpu_share(&rounds[0]) ? &rounds[1] : &rounds[0];

    long requests_after = 0;
    double dcpu2 = cpu_seconds(influxd);
    double direct_after =
        direct_write(base, "bench_direct_after", lines.data, line_end, events, max_points,
                     max_bytes, &requests_after, &failures);
    double dcpu3 = cpu_seconds(influxd);

    double bare_whole = -1;
    double bare_cpu = bare_consume(bootstrap, events, &bare_whole);
    long bare_counted = events - events / 2;
    double bare_per_m =
        bare_cpu >= 0 && bare_counted > 0 ? bare_cpu / ((double)bare_counted / 1e6) : -1;
    double bare_whole_per_m = bare_whole >= 0 ? bare_whole / ((double)events / 1e6) : -1;

    double pipe_pts = fast->points_per_s;
    double direct_pts = direct_before > direct_after ? direct_before : direct_after;
    double cpu_per_m = lean->cpu_per_m, admin_per_m = lean->admin_per_m;
    double influx_pipe = lean->influx_per_m;
    int64_t batches = fast->batches, done = fast->done;
    double influx_direct =
        events > 0 ? (dcpu1 - dcpu0 + dcpu3 - dcpu2) / (2 * (double)events / 1e6) : -1;
    if (backlog) {
        print_backlog(rounds, events, entities,
                      direct_pts > 0 ? pipe_pts / direct_pts : 0, bare_whole_per_m);
        goto out;
    }
    /* Lines for tests/bench/run.sh's report, then the same as JSON. */
    printf("writer (dev broker -> influxd, %ld events, %" PRId64
           " batches, the faster of two runs): %.0f points/s\n",
           events, batches, pipe_pts);
    for (int r = 0; r < 2; r++)
        printf("  writer run %d: %.0f points per second; over its second half of the "
               "points (warm) cpu %.2f s per million points, influxd's %.2f; from its "
               "first point (with its warm-up) cpu %.2f, influxd's %.2f\n",
               r + 1, rounds[r].points_per_s, rounds[r].cpu_per_m, rounds[r].influx_per_m,
               rounds[r].cpu_whole_per_m, rounds[r].influx_whole_per_m);
    /* No ':' before the rate: tests/bench/e2e_report.py takes the label up
     * to the first one. */
    printf("direct bulk write (same lines, same influxd, requests cut as the writer cuts "
           "its batches, at most %ld points and %ld bytes each, %ld requests, the "
           "faster of one write before the writer and one after it): %.0f points/s\n",
           max_points, max_bytes, requests, direct_pts);
    printf(
        "  the two direct writes, before the writer and after it: %.0f and %.0f points "
        "per second; the writer made %.0f points per request on average\n",
        direct_before, direct_after,
        batches > 0 ? (double)(done > 0 ? done : 0) / (double)batches : 0);
    printf("ratio writer/direct: %.3f\n", direct_pts > 0 ? pipe_pts / direct_pts : 0);
    printf(
        "writer cpu (of the run where it was the smaller share of influxd's, over its "
        "second half of the points): %.2f s per million points; influxd cpu: %.2f s per "
        "million points while the writer wrote, %.2f during the direct write; "
        "writer/influxd %.3f (from the writer's first point, warm-up included: %.3f)\n",
        cpu_per_m, influx_pipe, influx_direct,
        influx_pipe > 0 && cpu_per_m >= 0 ? cpu_per_m / influx_pipe : -1,
        lean->influx_whole_per_m > 0 && lean->cpu_whole_per_m >= 0
            ? lean->cpu_whole_per_m / lean->influx_whole_per_m
            : -1);
    printf("not counted in the writer's cpu: its admin thread answering this benchmark's "
           "/stats polls every 20 ms, %.2f s per million points\n",
           admin_per_m);
    printf("consuming the same messages as the writer reads them, with its consumer "
           "settings and no work per message (librdkafka alone, its second half): %.2f s "
           "cpu per million, "
           "%.0f %% of influxd's "
           "while the writer wrote; from its first message, with its fetching of the "
           "whole topic: %.2f\n",
           bare_per_m,
           influx_pipe > 0 && bare_per_m >= 0 ? 100 * bare_per_m / influx_pipe : -1,
           bare_whole_per_m);
    printf("{\"events\":%ld,\"entities\":%u,\"bytes_line_protocol\":%zu,"
           "\"direct_request_max_points\":%ld,\"direct_request_max_bytes\":%ld,"
           "\"direct_rate_before_writer\":%.0f,\"direct_rate_after_writer\":%.0f,"
           "\"writer_points_per_s\":%.0f,\"direct_points_per_s\":%.0f,"
           "\"writer_over_direct\":%.3f,\"writer_cpu_s_per_million_points\":%.2f,"
           "\"influxd_cpu_s_per_million_points\":%.2f,"
           "\"influxd_cpu_s_per_million_points_direct\":%.2f,"
           "\"writer_admin_cpu_s_per_million_points\":%.2f,"
           "\"writer_cpu_s_per_million_points_whole_run\":%.2f,"
           "\"influxd_cpu_s_per_million_points_whole_run\":%.2f,"
           "\"bare_consume_cpu_s_per_million\":%.2f,"
           "\"bare_consume_cpu_s_per_million_whole_run\":%.2f,"
           "\"writer_reached\":%" PRId64 ",\"writer_batches\":%" PRId64
           ",\"direct_failures\":%ld}\n",
           events, entities, lines.len, max_points, max_bytes, direct_before,
           direct_after, pipe_pts, direct_pts, direct_pts > 0 ? pipe_pts / direct_pts : 0,
           cpu_per_m, influx_pipe, influx_direct, admin_per_m, lean->cpu_whole_per_m,
           lean->influx_whole_per_m, bare_per_m, bare_whole_per_m, done, batches,
           failures);
out:
    stop(broker);
    stop(influxd);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    lineproto_buf_fini(&lines);
    free(line_end);
    curl_global_cleanup();
    return 0;
}
