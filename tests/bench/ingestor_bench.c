/* ingestor_bench.c - how fast homestream-ingestor moves a WebSocket flood
 * into Kafka, compared with a bare receive loop in the same run.
 *
 * Usage: ingestor-bench <build dir> [events]   (KAFKA_BROKERS in the
 * environment: a running homestream-devbroker; ingestor_bench.sh starts one)
 *
 * 1. bare: homestream-hasim --rate 0 floods N state_changed events to a
 *    client made of the ingestor's own WebSocket and protocol layers
 *    (ha_ws + ha_session) that only counts them: the ceiling of receiving.
 * 2. ingestor: a fresh hasim floods N events to the real homestream-ingestor,
 *    which converts each and produces it to Kafka; the rate is taken from its
 *    /stats (first live event received to N events acknowledged by Kafka).
 * Printed: both rates in events/s and their ratio, and the CPU time each
 * side spent per event (on a shared machine the rates vary with the load;
 * the CPU time per event much less). A benchmark, not a test: it never fails
 * on slowness, only when it cannot run. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ha_session.h"
#include "ha_url.h"
#include "ha_ws.h"
#include "hs_log.h"
#include "hs_time.h"

extern char **environ;

typedef struct {
    pid_t pid;
    FILE *out; /* its stdout */
} child;

/* Starts argv with stdout on a pipe and the given extra environment. */
static int spawn(child *c, char *const argv[], char *const envp[])
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc =
        posix_spawn(&c->pid, argv[0], &fa, NULL, argv, envp != NULL ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        errno = rc;
        return -1;
    }
    c->out = fdopen(fds[0], "r");
    return c->out != NULL ? 0 : -1;
}

/* CPU seconds (user + system) a process has used so far, or -1. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15 (utime, stime) follow the command name in parentheses. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
               &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void stop(child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
    if (c->out != NULL)
        fclose(c->out);
    c->out = NULL;
}

/* Reads stdout lines until one starts with prefix; returns its value. */
static long wait_line(child *c, const char *prefix)
{
    char line[256];
    size_t n = strlen(prefix);
    while (fgets(line, sizeof(line), c->out) != NULL) {
        if (strncmp(line, prefix, n) == 0)
            return strtol(line + n, NULL, 10);
    }
    return -1;
}

static int start_hasim(child *c, const char *build, long events)
{
    char exe[1024], ev[32];
    snprintf(exe, sizeof(exe), "%s/tests/hasim/homestream-hasim", build);
    snprintf(ev, sizeof(ev), "%ld", events);
    char *argv[] = {exe,
                    "--port",
                    "0",
                    "--rate",
                    "0",
                    "--events",
                    ev,
                    "--token",
                    "bench-token",
                    "--recorder-commit-ms",
                    "0",
                    "--log-level",
                    "error",
                    NULL};
    if (spawn(c, argv, NULL) != 0) {
        fprintf(stderr, "ingestor-bench: cannot start %s: %s\n", exe, strerror(errno));
        return -1;
    }
    long port = wait_line(c, "LISTENING=");
    if (port <= 0) {
        fprintf(stderr, "ingestor-bench: hasim did not start\n");
        stop(c);
        return -1;
    }
    return (int)port;
}

/* --- 1. the bare receive loop ------------------------------------------- */

typedef struct {
    ha_ws *ws;
    ha_session *sess;
    long events, want;
    int64_t first_ms, last_ms;
    bool closed;
} bare;

static int b_send(void *ud, const char *text, size_t len)
{
    bare *b = ud;
    return ha_ws_send(b->ws, text, len);
}

static void b_count(bare *b)
{
    if (b->events++ == 0)
        b->first_ms = hs_now_mono_ms();
    if (b->events == b->want)
        b->last_ms = hs_now_mono_ms();
}

static void b_event(void *ud, int tag, const json_t *event)
{
    (void)tag;
    (void)event;
    b_count(ud);
}

/* Takes each event as the session hands it over, like the daemon, which
 * reads live state changes from their text: the loop does the session's
 * work and nothing after it. */
static int b_event_text(void *ud, int tag, const char *text, size_t n)
{
    (void)tag;
    (void)text;
    (void)n;
    b_count(ud);
    return 0;
}

static void b_invalid(void *ud, const char *reason, const char *payload, size_t len)
{
    (void)ud;
    (void)payload;
    fprintf(stderr, "ingestor-bench: bare client: unusable message (%zu bytes): %s\n",
            len, reason);
}

static void b_opened(void *ud)
{
    bare *b = ud;
    ha_session_start(b->sess, hs_now_mono_ms());
}

static void b_message(void *ud, const char *buf, size_t len)
{
    bare *b = ud;
    ha_session_on_frame(b->sess, buf, len, hs_now_mono_ms(), NULL);
}

static void b_oversize(void *ud, size_t size, const char *prefix, size_t prefix_len)
{
    (void)ud;
    (void)prefix;
    (void)prefix_len;
    fprintf(stderr, "ingestor-bench: bare client: %zu byte message skipped\n", size);
}

static void b_closed(void *ud, const char *reason)
{
    bare *b = ud;
    b->closed = true;
    if (b->events < b->want)
        fprintf(stderr, "ingestor-bench: bare client: connection closed: %s\n", reason);
}

static double run_bare(const char *build, long events, double *cpu_us)
{
    child h = {0};
    int port = start_hasim(&h, build, events);
    if (port < 0)
        return -1;
    char url[128], err[256];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/api/websocket", port);
    bare b = {.want = events};
    const char *types[] = {"state_changed"};
    ha_session_opts so = {
        .token = "bench-token", .event_types = types, .n_event_types = 1};
    ha_session_cbs sc = {
        .send = b_send,
        .event = b_event,
        .event_text = b_event_text,
        .invalid = b_invalid,
        .ud = &b};
    ha_ws_opts wo = {0};
    ha_ws_cbs wc = {.opened = b_opened,
                    .message = b_message,
                    .oversize = b_oversize,
                    .closed = b_closed,
                    .ud = &b};
    double rate = -1;
    if (ha_url_parse(url, &wo.url, err, sizeof(err)) != 0)
        goto out;
    b.sess = ha_session_new(&so, &sc);
    b.ws = ha_ws_new(&wo, &wc, err, sizeof(err));
    if (b.sess == NULL || b.ws == NULL) {
        fprintf(stderr, "ingestor-bench: %s\n", err);
        goto out;
    }
    double cpu0 = self_cpu_s();
    ha_ws_connect(b.ws);
    int64_t deadline = hs_now_mono_ms() + 120000;
    while (b.events < events && !b.closed && hs_now_mono_ms() < deadline)
        ha_ws_service(b.ws, 20);
    if (b.events >= events && b.last_ms > b.first_ms) {
        rate = (double)(events - 1) * 1000.0 / (double)(b.last_ms - b.first_ms);
        *cpu_us = (self_cpu_s() - cpu0) * 1e6 / (double)events;
    }
out:
    ha_ws_free(b.ws);
    ha_session_free(b.sess);
    stop(&h);
    return rate;
}

/* --- 2. the real ingestor ----------------------------------------------- */

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    json_t **acc = ud;
    size_t n = size * nmemb;
    json_t *s = *acc;
    char *joined = NULL;
    size_t old = s != NULL ? json_string_length(s) : 0;
    joined = malloc(old + n + 1);
    if (joined == NULL)
        return 0;
    if (old > 0)
        memcpy(joined, json_string_value(s), old);
    memcpy(joined + old, ptr, n);
    joined[old + n] = '\0';
    json_decref(s);
    *acc = json_stringn(joined, old + n);
    free(joined);
    return n;
}

/* GET /stats; returns the parsed object or NULL. */
static json_t *get_stats(CURL *curl, const char *url)
{
    json_t *body = NULL;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    CURLcode rc = curl_easy_perform(curl);
    json_t *stats = NULL;
    if (rc == CURLE_OK && body != NULL)
        stats = json_loads(json_string_value(body), 0, NULL);
    json_decref(body);
    return stats;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static json_int_t stat_int(const json_t *stats, const char *key)
{
    return json_integer_value(json_object_get(stats, key));
}

static double run_ingestor(const char *build, long events, const char *brokers,
                           double *cpu_us)
{
    child h = {0};
    int port = start_hasim(&h, build, events);
    if (port < 0)
        return -1;
    int admin = free_port();
    char spool[] = "/tmp/hs-ingestor-bench-XXXXXX";
    if (admin < 0 || mkdtemp(spool) == NULL) {
        stop(&h);
        return -1;
    }
    char e_url[128], e_kafka[512], e_admin[64], e_spool[128], e_topic[64];
    snprintf(e_url, sizeof(e_url), "HA_URL=ws://127.0.0.1:%d/api/websocket", port);
    snprintf(e_kafka, sizeof(e_kafka), "KAFKA_BROKERS=%s", brokers);
    snprintf(e_admin, sizeof(e_admin), "ADMIN_ADDR=127.0.0.1:%d", admin);
    snprintf(e_spool, sizeof(e_spool), "SPOOL_DIR=%s", spool);
    snprintf(e_topic, sizeof(e_topic), "TOPIC_RAW=bench.ingestor.%d", (int)getpid());
    char *envp[] = {e_url,
                    e_kafka,
                    e_admin,
                    e_spool,
                    e_topic,
                    "HA_TOKEN=bench-token",
                    "LOG_LEVEL=warn",
                    "HA_RECORDER_COMMIT_S=0",
                    NULL};
    char exe[1024];
    snprintf(exe, sizeof(exe), "%s/ingestor/homestream-ingestor", build);
    char *argv[] = {exe, NULL};
    child ing = {0};
    double rate = -1;
    if (spawn(&ing, argv, envp) != 0) {
        fprintf(stderr, "ingestor-bench: cannot start %s: %s\n", exe, strerror(errno));
        stop(&h);
        return -1;
    }
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", admin);
    CURL *curl = curl_easy_init();
    int64_t first_ms = 0, done_ms = 0, deadline = hs_now_mono_ms() + 180000;
    while (curl != NULL && hs_now_mono_ms() < deadline) {
        json_t *st = get_stats(curl, url);
        int64_t now = hs_now_mono_ms();
        if (st != NULL) {
            json_int_t in = stat_int(st, "events_in_total");
            json_int_t out = stat_int(st, "events_out_total");
            json_int_t back = stat_int(st, "backfilled_total");
            if (first_ms == 0 && in > 0)
                first_ms = now;
            json_decref(st);
            if (in >= events && out >= events + back) {
                done_ms = now;
                break;
            }
        }
        usleep(20000);
    }
    if (done_ms > first_ms && first_ms > 0) {
        rate = (double)events * 1000.0 / (double)(done_ms - first_ms);
        /* Includes its start and the startup states: small next to N. */
        *cpu_us = proc_cpu_s(ing.pid) * 1e6 / (double)events;
    } else
        fprintf(stderr, "ingestor-bench: the ingestor did not deliver %ld events\n",
                events);
    curl_easy_cleanup(curl);
    stop(&ing);
    stop(&h);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
    if (system(cmd) != 0)
        fprintf(stderr, "ingestor-bench: could not remove %s\n", spool);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <build dir> [events]\n", argv[0]);
        return 2;
    }
    const char *build = argv[1];
    long events = argc > 2 ? strtol(argv[2], NULL, 10) : 50000;
    const char *brokers = getenv("KAFKA_BROKERS");
    if (events < 100 || brokers == NULL || brokers[0] == '\0') {
        fprintf(stderr, "ingestor-bench: need events >= 100 and KAFKA_BROKERS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    hs_log_setup("ingestor-bench", HS_LOG_ERROR, "text");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    double bare_cpu = -1, ing_cpu = -1;
    double bare_rate = run_bare(build, events, &bare_cpu);
    double ing_rate = run_ingestor(build, events, brokers, &ing_cpu);
    curl_global_cleanup();
    printf("ingestor benchmark: %ld state_changed events, hasim --rate 0, loopback\n",
           events);
    printf("  bare receive loop (ha_ws + ha_session, no Kafka): %10.0f events/s\n",
           bare_rate);
    printf("  homestream-ingestor into Kafka (devbroker):       %10.0f events/s\n",
           ing_rate);
    if (bare_rate > 0 && ing_rate > 0)
        printf("  ratio ingestor / bare: %.2f\n", ing_rate / bare_rate);
    printf("  cpu per event: bare receive loop %.1f us, ingestor %.1f us\n", bare_cpu,
           ing_cpu);
    return bare_rate > 0 && ing_rate > 0 ? 0 : 1;
}
