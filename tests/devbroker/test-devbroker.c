/* test-devbroker.c - homestream-devbroker and shared/hs_kafka.c together:
 * start-up contract, fault injection, and the homestream producer/consumer
 * set-up against it. argv[1] is the path of homestream-devbroker. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"

static const char *devbroker_path;

/* A running devbroker. */
typedef struct {
    pid_t pid;
    int out_fd; /* its stdout */
    char bootstrap[512];
    unsigned control_port;
} broker_proc;

static broker_proc shared_broker;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads from fd until a newline or the deadline; returns the line length or
 * -1. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    while (n + 1 < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return -1;
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return (int)n;
        }
        n++;
    }
    return -1;
}

/* Starts the devbroker with args (NULL-terminated), extra environment
 * assignments (NULL-terminated, may be NULL) and a control port file. */
static void broker_start(broker_proc *b, const char *const *args, const char *const *env)
{
    char portfile[] = "/tmp/hs-devbroker-test-XXXXXX";
    int pfd = mkstemp(portfile);
    ck_assert_int_ge(pfd, 0);
    close(pfd);

    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    memset(b, 0, sizeof *b);
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        /* The control port is reported on stderr: keep it in a file. */
        int efd = open(portfile, O_WRONLY | O_TRUNC);
        if (efd >= 0)
            dup2(efd, STDERR_FILENO);
        const char *argv[32] = {devbroker_path, "--control-port", "0"};
        size_t n = 3;
        for (size_t i = 0; args != NULL && args[i] != NULL && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        execv(devbroker_path, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    b->out_fd = out[0];
    char line[512];
    ck_assert_msg(read_line(b->out_fd, line, sizeof line, 15000) > 0,
                  "no BOOTSTRAP line");
    ck_assert_msg(strncmp(line, "BOOTSTRAP=", 10) == 0, "first line: %s", line);
    snprintf(b->bootstrap, sizeof b->bootstrap, "%s", line + 10);

    /* "control server on 127.0.0.1:PORT" comes before BOOTSTRAP. */
    FILE *f = fopen(portfile, "r");
    ck_assert_ptr_nonnull(f);
    char l[512];
    while (fgets(l, sizeof l, f) != NULL) {
        const char *p = strstr(l, "control server on 127.0.0.1:");
        if (p != NULL)
            b->control_port = (unsigned)atoi(p + strlen("control server on 127.0.0.1:"));
    }
    fclose(f);
    unlink(portfile);
    ck_assert_uint_ne(b->control_port, 0);
}

/* Sends SIGTERM and returns the exit status (or -1 when it did not exit in
 * 8 s; then it is killed). Also reports whether stdout carried more. */
static int broker_stop(broker_proc *b, bool *extra_stdout)
{
    kill(b->pid, SIGTERM);
    int status = 0;
    int64_t deadline = now_ms() + 8000;
    pid_t r;
    while ((r = waitpid(b->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        usleep(20000);
    if (r == 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, &status, 0);
        close(b->out_fd);
        return -1;
    }
    if (extra_stdout != NULL) {
        char c;
        *extra_stdout = read(b->out_fd, &c, 1) > 0;
    }
    close(b->out_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf);
    size_t take = sz * n;
    if (have + take > 1023)
        take = 1023 - have;
    memcpy(buf + have, p, take);
    buf[have + take] = '\0';
    return sz * n;
}

/* One control request; returns the HTTP status, the body in out (1 KiB). */
static long control(const broker_proc *b, const char *method, const char *path,
                    const char *body, char *out)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", b->control_port, path);
    out[0] = '\0';
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    return status;
}

static void shared_start(void)
{
    static const char *const args[] = {
        "--topic", "t.roundtrip:3", "--topic", "t.faults:1", "--topic", "t.down:1", NULL};
    broker_start(&shared_broker, args, NULL);
}

static void shared_stop(void)
{
    broker_stop(&shared_broker, NULL);
}

/* Delivery reports, counted per outcome. */
typedef struct {
    int ok;
    int failed;
    rd_kafka_resp_err_t last_err;
    int wrong_opaque;
} dr_counts;

static void count_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_counts *c = opaque;
    if (m->_private != c)
        c->wrong_opaque++;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->ok++;
    } else {
        c->failed++;
        c->last_err = m->err;
    }
}

/* ---- start-up contract -------------------------------------------------- */

START_TEST(test_startup_contract)
{
    char file[] = "/tmp/hs-devbroker-bs-XXXXXX";
    int fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const char *args[] = {"--partitions",     "2",  "--topic", "extra.topic:5",
                          "--bootstrap-file", file, NULL};
    static const char *const env[] = {"TOPIC_RAW=custom.raw", NULL};
    broker_proc b;
    broker_start(&b, args, env);

    FILE *f = fopen(file, "r");
    ck_assert_ptr_nonnull(f);
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    unlink(file);
    char want[600];
    snprintf(want, sizeof want, "BOOTSTRAP=%s\n", b.bootstrap);
    ck_assert_str_eq(line, want);

    char body[1024];
    ck_assert_int_eq(control(&b, "GET", "/health", NULL, body), 200);
    json_t *h = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(h, "bootstrap")), b.bootstrap);
    json_decref(h);

    /* The topics exist with the partitions asked for. */
    char err[256];
    rd_kafka_t *p = hs_kafka_producer_new(b.bootstrap, NULL, NULL, NULL, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    const struct rd_kafka_metadata *md;
    ck_assert_int_eq(rd_kafka_metadata(p, 1, NULL, &md, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    static const struct {
        const char *name;
        int parts;
    } want_topics[] = {{"custom.raw", 2},
                       {"ha.events.enriched", 2},
                       {"ha.events.dlq", 2},
                       {"extra.topic", 5}};
    for (size_t i = 0; i < sizeof want_topics / sizeof want_topics[0]; i++) {
        int found = -1;
        for (int t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, want_topics[i].name) == 0)
                found = md->topics[t].partition_cnt;
        }
        ck_assert_msg(found == want_topics[i].parts, "%s has %d partitions",
                      want_topics[i].name, found);
    }
    for (int t = 0; t < md->topic_cnt; t++)
        ck_assert_str_ne(md->topics[t].topic, "ha.events.raw");
    rd_kafka_metadata_destroy(md);
    ck_assert_int_eq(hs_kafka_producer_close(p, 1000), 0);

    /* SIGTERM: exit 0 within the 5 s every homestream process keeps, and
     * nothing on stdout but the one line. */
    int64_t t0 = now_ms();
    bool extra = true;
    ck_assert_int_eq(broker_stop(&b, &extra), 0);
    ck_assert_int_lt(now_ms() - t0, 5000);
    ck_assert(!extra);
}
END_TEST

static const char *const bad_args[][3] = {
    {"--brokers", "0", NULL},    {"--partitions", "x", NULL},
    {"--topic", "nopart", NULL}, {"--topic", ":3", NULL},
    {"--topic", "t:0", NULL},    {"--control-port", "70000", NULL},
    {"--bogus", NULL, NULL},     {"stray", NULL, NULL},
};

START_TEST(test_bad_arguments_table)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        const char *argv[] = {devbroker_path, bad_args[_i][0], bad_args[_i][1], NULL};
        execv(devbroker_path, (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 2);
}
END_TEST

/* ---- control routes ----------------------------------------------------- */

static const struct {
    const char *method;
    const char *path;
    const char *body;
    long status;
} control_table[] = {
    {"GET", "/health", NULL, 200},
    {"POST", "/fault", "{\"api\":\"Metadata\",\"error\":\"NO_ERROR\",\"count\":1}", 200},
    {"POST", "/fault", "{\"api\":3,\"error\":0}", 200},
    {"POST", "/fault", "{\"api\":\"Nope\",\"error\":\"_TRANSPORT\"}", 400},
    {"POST", "/fault", "{\"api\":\"Produce\",\"error\":\"NO_SUCH_ERROR\"}", 400},
    {"POST", "/fault", "{\"api\":\"Produce\",\"error\":\"_TRANSPORT\",\"count\":0}", 400},
    {"POST", "/fault", "{\"error\":\"_TRANSPORT\"}", 400},
    {"POST", "/fault", "not json", 400},
    {"POST", "/fault/clear", "{\"api\":\"Metadata\"}", 200},
    {"POST", "/broker/rtt", "{}", 400},
    {"POST", "/broker/rtt", "{\"rtt_ms\":0}", 200},
    {"POST", "/broker/down", "{\"broker\":99}", 400},
    {"GET", "/fault", NULL, 405},
    {"GET", "/broker/up", NULL, 405},
    {"POST", "/health", NULL, 405},
    {"GET", "/nope", NULL, 404},
    {"POST", "/broker/sideways", NULL, 404},
};

START_TEST(test_control_table)
{
    char body[1024];
    long status = control(&shared_broker, control_table[_i].method,
                          control_table[_i].path, control_table[_i].body, body);
    ck_assert_msg(status == control_table[_i].status, "%s %s: %ld %s",
                  control_table[_i].method, control_table[_i].path, status, body);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_msg(json_is_object(j), "not a JSON object: %s", body);
    if (status != 200)
        ck_assert(json_is_string(json_object_get(j, "error")));
    json_decref(j);
}
END_TEST

/* ---- hs_kafka against the devbroker ------------------------------------- */

#define ROUNDTRIP_N 300

START_TEST(test_produce_consume_commit)
{
    char err[256];
    dr_counts dr = {0};
    rd_kafka_t *p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, NULL,
                                          err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (int i = 0; i < ROUNDTRIP_N; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "sensor.k%d", i % 7);
        snprintf(val, sizeof val, "%d", i);
        ck_assert_int_eq(hs_kafka_produce(p, "t.roundtrip", key, strlen(key), val,
                                          strlen(val), &dr, 1000),
                         0);
        rd_kafka_poll(p, 0);
    }
    ck_assert_int_eq(hs_kafka_producer_close(p, 10000), 0);
    ck_assert_int_eq(dr.ok, ROUNDTRIP_N);
    ck_assert_int_eq(dr.failed, 0);
    ck_assert_int_eq(dr.wrong_opaque, 0);

    rd_kafka_t *c = hs_kafka_consumer_new(shared_broker.bootstrap, "test-roundtrip",
                                          "t.roundtrip", NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    static bool seen[ROUNDTRIP_N];
    int key_partition[7] = {-1, -1, -1, -1, -1, -1, -1};
    int got = 0;
    int64_t deadline = now_ms() + 30000;
    while (got < ROUNDTRIP_N && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (m == NULL)
            continue;
        ck_assert_msg(m->err == 0, "consume: %s", rd_kafka_message_errstr(m));
        char val[32];
        snprintf(val, sizeof val, "%.*s", (int)m->len, (const char *)m->payload);
        int i = atoi(val);
        ck_assert(i >= 0 && i < ROUNDTRIP_N && !seen[i]);
        seen[i] = true;
        /* The key decides the partition. */
        int k = i % 7;
        ck_assert(key_partition[k] == -1 || key_partition[k] == m->partition);
        key_partition[k] = m->partition;
        ck_assert_int_eq(hs_kafka_store_offset(c, rd_kafka_topic_name(m->rkt),
                                               m->partition, m->offset),
                         0);
        got++;
        rd_kafka_message_destroy(m);
    }
    ck_assert_int_eq(got, ROUNDTRIP_N);
    hs_kafka_consumer_close(c);

    /* The close committed every stored offset: offset+1 per partition. */
    c = hs_kafka_consumer_new(shared_broker.bootstrap, "test-roundtrip", "t.roundtrip",
                              NULL, err, sizeof err);
    ck_assert_ptr_nonnull(c);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(3);
    for (int32_t i = 0; i < 3; i++)
        rd_kafka_topic_partition_list_add(parts, "t.roundtrip", i);
    ck_assert_int_eq(rd_kafka_committed(c, parts, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t total = 0;
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].offset > 0)
            total += parts->elems[i].offset;
    }
    ck_assert_int_eq(total, ROUNDTRIP_N);
    rd_kafka_topic_partition_list_destroy(parts);
    hs_kafka_consumer_close(c);
}
END_TEST

START_TEST(test_fault_retriable_then_permanent)
{
    char body[1024];
    char err[256];
    dr_counts dr = {0};
    rd_kafka_t *p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, NULL,
                                          err, sizeof err);
    ck_assert_ptr_nonnull(p);
    /* Retriable errors are retried by the producer: nothing is lost. */
    ck_assert_int_eq(
        control(&shared_broker, "POST", "/fault",
                "{\"api\":\"Produce\",\"error\":\"NOT_ENOUGH_REPLICAS\",\"count\":3}",
                body),
        200);
    ck_assert_int_eq(hs_kafka_produce(p, "t.faults", "k", 1, "a", 1, &dr, 0), 0);
    ck_assert_int_eq(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(dr.ok, 1);
    ck_assert_int_eq(dr.failed, 0);
    /* A permanent error comes back in the delivery report. */
    ck_assert_int_eq(
        control(
            &shared_broker, "POST", "/fault",
            "{\"api\":\"Produce\",\"error\":\"RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE\"}",
            body),
        200);
    ck_assert_int_eq(hs_kafka_produce(p, "t.faults", "k", 1, "b", 1, &dr, 0), 0);
    ck_assert_int_eq(hs_kafka_producer_close(p, 10000), 0);
    ck_assert_int_eq(dr.failed, 1);
    ck_assert_int_eq(dr.last_err, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
}
END_TEST

START_TEST(test_broker_down_purges_on_close)
{
    char body[1024];
    char err[256];
    dr_counts dr = {0};
    ck_assert_int_eq(control(&shared_broker, "POST", "/broker/down", NULL, body), 200);
    rd_kafka_t *p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, NULL,
                                          err, sizeof err);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "x", 1, &dr, 0), 0);
    /* Undelivered messages are counted and reported (purged) before the
     * handle goes away. */
    ck_assert_int_eq(hs_kafka_producer_close(p, 300), 3);
    ck_assert_int_eq(dr.failed, 3);
    ck_assert(dr.last_err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
              dr.last_err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
    ck_assert_int_eq(control(&shared_broker, "POST", "/broker/up", NULL, body), 200);

    /* Up again: delivery works. */
    dr = (dr_counts){0};
    p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, NULL, err,
                              sizeof err);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "y", 1, &dr, 0), 0);
    ck_assert_int_eq(hs_kafka_producer_close(p, 10000), 0);
    ck_assert_int_eq(dr.ok, 1);
}
END_TEST

START_TEST(test_queue_full_blocks_then_fails)
{
    char err[256];
    char body[1024];
    dr_counts dr = {0};
    static const char *const extra[] = {"queue.buffering.max.messages", "2", NULL};
    ck_assert_int_eq(control(&shared_broker, "POST", "/broker/down", NULL, body), 200);
    rd_kafka_t *p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, extra,
                                          err, sizeof err);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "1", 1, &dr, 0), 0);
    ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "2", 1, &dr, 0), 0);
    ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "3", 1, &dr, 0),
                     RD_KAFKA_RESP_ERR__QUEUE_FULL);
    int64_t t0 = now_ms();
    ck_assert_int_eq(hs_kafka_produce(p, "t.down", "k", 1, "3", 1, &dr, 200),
                     RD_KAFKA_RESP_ERR__QUEUE_FULL);
    ck_assert_int_ge(now_ms() - t0, 200);
    ck_assert_int_eq(hs_kafka_producer_close(p, 100), 2);
    ck_assert_int_eq(control(&shared_broker, "POST", "/broker/up", NULL, body), 200);
}
END_TEST

/* ---- hs_kafka without a broker ------------------------------------------ */

START_TEST(test_config_errors_name_the_setting)
{
    char err[256] = "";
    static const char *const bad[] = {"linger.ms", "not-a-number", NULL};
    ck_assert_ptr_null(
        hs_kafka_producer_new("127.0.0.1:1", NULL, NULL, bad, err, sizeof err));
    ck_assert_msg(strstr(err, "linger.ms") != NULL, "%s", err);
    static const char *const unknown[] = {"no.such.setting", "1", NULL};
    ck_assert_ptr_null(
        hs_kafka_consumer_new("127.0.0.1:1", "g", "t", unknown, err, sizeof err));
    ck_assert_msg(strstr(err, "no.such.setting") != NULL, "%s", err);
    static const char *const odd[] = {"linger.ms", NULL};
    ck_assert_ptr_null(
        hs_kafka_producer_new("127.0.0.1:1", NULL, NULL, odd, err, sizeof err));
    ck_assert_msg(strstr(err, "linger.ms") != NULL, "%s", err);
    ck_assert_ptr_null(
        hs_kafka_consumer_new("127.0.0.1:1", "", "t", NULL, err, sizeof err));
    ck_assert_ptr_null(
        hs_kafka_consumer_new("127.0.0.1:1", "g", NULL, NULL, err, sizeof err));
    ck_assert_ptr_null(hs_kafka_producer_new("", NULL, NULL, NULL, err, sizeof err));
    hs_kafka_consumer_close(NULL);
    ck_assert_int_eq(hs_kafka_producer_close(NULL, 10), 0);
}
END_TEST

static const struct {
    const char *payload;
    size_t len;
    const char *key;  /* "payload" or "payload_base64" */
    const char *want; /* the value, as UTF-8 text or base64 */
    size_t want_len;
} dlq_table[] = {
    {"{\"a\":1}", 7, "payload", "{\"a\":1}", 7},
    {"", 0, "payload", "", 0},
    {"a\0b", 3, "payload", "a\0b", 3}, /* NUL is valid UTF-8 */
    {"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, "payload",
     "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10},
    {"\xf4\x8f\xbf\xbf", 4, "payload", "\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
    {"\xff", 1, "payload_base64", "/w==", 4},
    {"\xc0\x80", 2, "payload_base64", "wIA=", 4},             /* overlong NUL */
    {"\xe0\x80\xaf", 3, "payload_base64", "4ICv", 4},         /* overlong '/' */
    {"\xf0\x80\x80\xaf", 4, "payload_base64", "8ICArw==", 8}, /* overlong '/' */
    {"\xed\xa0\x80", 3, "payload_base64", "7aCA", 4},         /* surrogate */
    {"\xf4\x90\x80\x80", 4, "payload_base64", "9JCAgA==", 8}, /* > U+10FFFF */
    {"ab\xc3", 3, "payload_base64", "YWLD", 4},               /* truncated */
    {"\x80x", 2, "payload_base64", "gHg=", 4},                /* lone continuation */
};

START_TEST(test_dlq_record_table)
{
    char *text = hs_kafka_dlq_record("writer", "InfluxDB said no", dlq_table[_i].payload,
                                     dlq_table[_i].len);
    ck_assert_ptr_nonnull(text);
    json_error_t jerr;
    json_t *rec = json_loads(text, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(rec != NULL, "%s: %s", text, jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "stage")), "writer");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "error")),
                     "InfluxDB said no");
    const char *at = json_string_value(json_object_get(rec, "at"));
    ck_assert_ptr_nonnull(at);
    ck_assert_int_eq(strlen(at), 32);
    ck_assert_str_eq(at + 26, "+00:00");
    const json_t *v = json_object_get(rec, dlq_table[_i].key);
    ck_assert_msg(json_is_string(v), "%s lacks %s", text, dlq_table[_i].key);
    ck_assert_uint_eq(json_string_length(v), dlq_table[_i].want_len);
    ck_assert(memcmp(json_string_value(v), dlq_table[_i].want, dlq_table[_i].want_len) ==
              0);
    ck_assert_uint_eq(json_object_size(rec), 4);
    json_decref(rec);
    free(text);
}
END_TEST

START_TEST(test_dlq_record_hostile_error_text)
{
    char *text = hs_kafka_dlq_record("wri\xfftr", "bad \xc0 byte\n\"quoted\"", "x", 1);
    ck_assert_ptr_nonnull(text);
    json_t *rec = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(rec);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "stage")),
                     "wri\xef\xbf\xbdtr");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "error")),
                     "bad \xef\xbf\xbd byte\n\"quoted\"");
    json_decref(rec);
    free(text);
    text = hs_kafka_dlq_record(NULL, NULL, NULL, 0);
    ck_assert_ptr_nonnull(text);
    rec = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "payload")), "");
    json_decref(rec);
    free(text);
}
END_TEST

/* ---- hs_kafka_dlq_record_max ------------------------------------------- */

enum { GEN_ASCII, GEN_MULTIBYTE, GEN_ESCAPES, GEN_NUL, GEN_INVALID, GEN_INVALID_LAST };

/* A payload of len bytes: ASCII letters; "é€😀x" repeated (len a multiple
 * of 10 keeps it valid UTF-8); characters JSON escapes ('"', '\\', '\n',
 * 0x01) and 'a'; "a\0" repeated; bytes that are not UTF-8; or letters with
 * a last byte 0xff. */
static unsigned char *make_payload(int gen, size_t len)
{
    static const char multibyte[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x";
    static const char escapes[] = "\"\\\n\001a";
    unsigned char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++) {
        switch (gen) {
        case GEN_MULTIBYTE:
            p[i] = (unsigned char)multibyte[i % 10];
            break;
        case GEN_ESCAPES:
            p[i] = (unsigned char)escapes[i % 5];
            break;
        case GEN_NUL:
            p[i] = i % 2 ? 0 : 'a';
            break;
        case GEN_INVALID:
            p[i] = (unsigned char)(i * 7 + 0x80);
            break;
        default:
            p[i] = (unsigned char)('a' + i % 26);
        }
    }
    if (gen == GEN_INVALID_LAST && len > 0)
        p[len - 1] = 0xff;
    return p;
}

/* Decodes standard padded base64; returns a malloc'd buffer of *n bytes. */
static unsigned char *base64_decode(const char *s, size_t slen, size_t *n)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ck_assert_uint_eq(slen % 4, 0);
    unsigned char *out = malloc(slen / 4 * 3 + 1);
    ck_assert_ptr_nonnull(out);
    size_t o = 0;
    bool bad = false; /* checked once at the end: ck_assert is slow in a loop */
    for (size_t i = 0; i < slen; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *at = s[i + k] == '=' ? NULL : strchr(tbl, s[i + k]);
            bad |= s[i + k] != '=' && (at == NULL || s[i + k] == '\0');
            pad += at == NULL;
            v = v << 6 | (at != NULL ? (uint32_t)(at - tbl) : 0);
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    ck_assert_msg(!bad, "not base64");
    *n = o;
    return out;
}

typedef struct {
    const char *name;
    int gen;
    size_t len;
    size_t error_len; /* 0: a short error text, else this many 'e's */
    size_t max_bytes;
    const char *key; /* "payload" or "payload_base64" */
    bool truncated;
    size_t slack; /* a cut record is at least max_bytes - slack long */
} dlq_max_case;

static const dlq_max_case dlq_max_table[] = {
    {"small payload, whole", GEN_ASCII, 1000, 0, HS_KAFKA_DLQ_MAX_BYTES, "payload", false,
     0},
    {"empty payload, whole", GEN_ASCII, 0, 0, 300, "payload", false, 0},
    {"3 MB of ASCII", GEN_ASCII, 3000000, 0, HS_KAFKA_DLQ_MAX_BYTES, "payload", true, 0},
    {"3 MB of 2-4 byte characters", GEN_MULTIBYTE, 3000000, 0, HS_KAFKA_DLQ_MAX_BYTES,
     "payload", true, 3},
    {"1 MB of escaped characters", GEN_ESCAPES, 1000000, 0, HS_KAFKA_DLQ_MAX_BYTES,
     "payload", true, 5},
    {"under max_bytes raw, over it escaped", GEN_ESCAPES, 500000, 0,
     HS_KAFKA_DLQ_MAX_BYTES, "payload", true, 5},
    {"NUL bytes, escaped as \\u0000", GEN_NUL, 400000, 0, HS_KAFKA_DLQ_MAX_BYTES,
     "payload", true, 5},
    {"2 MB not UTF-8", GEN_INVALID, 2000000, 0, HS_KAFKA_DLQ_MAX_BYTES, "payload_base64",
     true, 3},
    {"600 KB not UTF-8 fits as base64", GEN_INVALID, 600000, 0, HS_KAFKA_DLQ_MAX_BYTES,
     "payload_base64", false, 0},
    {"700 KB not UTF-8, its base64 does not fit", GEN_INVALID, 700000, 0,
     HS_KAFKA_DLQ_MAX_BYTES, "payload_base64", true, 3},
    {"1.5 MB of letters and one bad last byte", GEN_INVALID_LAST, 1500000, 0,
     HS_KAFKA_DLQ_MAX_BYTES, "payload_base64", true, 3},
    {"a small max_bytes", GEN_ASCII, 10000, 0, 4096, "payload", true, 0},
    {"a huge error, a small payload", GEN_ASCII, 100, 2000000, HS_KAFKA_DLQ_MAX_BYTES,
     "payload", false, 0},
    {"a huge error and a huge payload", GEN_MULTIBYTE, 2000000, 2000000,
     HS_KAFKA_DLQ_MAX_BYTES, "payload", true, 3},
};

START_TEST(test_dlq_record_max_table)
{
    const dlq_max_case *c = &dlq_max_table[_i];
    unsigned char *payload = make_payload(c->gen, c->len);
    char *error = NULL;
    if (c->error_len > 0) {
        error = malloc(c->error_len + 1);
        ck_assert_ptr_nonnull(error);
        memset(error, 'e', c->error_len);
        error[c->error_len] = '\0';
    }
    char *text = hs_kafka_dlq_record_max("enricher", error ? error : "too large", payload,
                                         c->len, c->max_bytes);
    ck_assert_msg(text != NULL, "%s: NULL", c->name);
    size_t tlen = strlen(text);
    ck_assert_msg(tlen <= c->max_bytes, "%s: %zu bytes, max %zu", c->name, tlen,
                  c->max_bytes);
    json_error_t jerr;
    json_t *rec = json_loads(text, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(rec != NULL, "%s: %s", c->name, jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "stage")), "enricher");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(rec, "at"))), 32);

    const char *err_text = json_string_value(json_object_get(rec, "error"));
    ck_assert_ptr_nonnull(err_text);
    if (error) {
        size_t el = strlen(err_text);
        ck_assert_msg(el <= c->max_bytes / 4 && el > c->max_bytes / 4 - 4,
                      "%s: error cut to %zu bytes", c->name, el);
        ck_assert_str_eq(err_text + el - 3, "...");
        ck_assert(memcmp(err_text, error, el - 3) == 0);
    } else {
        ck_assert_str_eq(err_text, "too large");
    }

    const json_t *v = json_object_get(rec, c->key);
    ck_assert_msg(json_is_string(v), "%s: no %s in %.200s", c->name, c->key, text);
    size_t got_len;
    unsigned char *got;
    if (strcmp(c->key, "payload") == 0) {
        got_len = json_string_length(v);
        got = malloc(got_len + 1);
        ck_assert_ptr_nonnull(got);
        memcpy(got, json_string_value(v), got_len);
    } else {
        got = base64_decode(json_string_value(v), json_string_length(v), &got_len);
    }
    ck_assert_msg(got_len <= c->len && memcmp(got, payload, got_len) == 0,
                  "%s: the payload kept is not the start of the original", c->name);
    const json_t *trunc = json_object_get(rec, "payload_truncated");
    const json_t *bytes = json_object_get(rec, "payload_bytes");
    if (c->truncated) {
        ck_assert_msg(json_is_true(trunc), "%s: payload_truncated", c->name);
        ck_assert_msg(json_is_integer(bytes) &&
                          (size_t)json_integer_value(bytes) == c->len,
                      "%s: payload_bytes", c->name);
        ck_assert_msg(got_len < c->len, "%s: nothing cut", c->name);
        /* As much as fits is kept. */
        ck_assert_msg(tlen + c->slack >= c->max_bytes, "%s: %zu bytes of %zu used",
                      c->name, tlen, c->max_bytes);
        ck_assert_uint_eq(json_object_size(rec), 6);
    } else {
        ck_assert_msg(trunc == NULL && bytes == NULL, "%s: marked as cut", c->name);
        ck_assert_uint_eq(got_len, c->len);
        ck_assert_uint_eq(json_object_size(rec), 4);
    }
    free(got);
    json_decref(rec);
    free(text);
    free(error);
    free(payload);
}
END_TEST

/* The cut starts exactly where the whole record stops fitting. */
START_TEST(test_dlq_record_max_boundary)
{
    unsigned char *payload = make_payload(GEN_MULTIBYTE, 5000);
    char *whole = hs_kafka_dlq_record("writer", "rejected", payload, 5000);
    ck_assert_ptr_nonnull(whole);
    size_t wlen = strlen(whole);
    char *text = hs_kafka_dlq_record_max("writer", "rejected", payload, 5000, wlen);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), wlen);
    ck_assert_ptr_null(strstr(text, "payload_truncated"));
    free(text);
    text = hs_kafka_dlq_record_max("writer", "rejected", payload, 5000, wlen - 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_le(strlen(text), wlen - 1);
    json_t *rec = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(rec);
    ck_assert(json_is_true(json_object_get(rec, "payload_truncated")));
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "payload_bytes")), 5000);
    /* Cut on a character boundary of "é€😀x" (json_loads also refuses a
     * string with half a character), and the start of the original. */
    const json_t *kept = json_object_get(rec, "payload");
    size_t klen = json_string_length(kept);
    ck_assert_msg(klen % 10 == 0 || klen % 10 == 2 || klen % 10 == 5 || klen % 10 == 9,
                  "cut inside a character at %zu", klen);
    ck_assert(klen < 5000 && memcmp(json_string_value(kept), payload, klen) == 0);
    json_decref(rec);
    free(text);
    free(whole);
    free(payload);
}
END_TEST

START_TEST(test_dlq_record_max_too_small_and_hostile)
{
    /* Not even the record with an empty payload fits in 64 bytes. */
    ck_assert_ptr_null(hs_kafka_dlq_record_max("writer", "x", "abc", 3, 64));
    ck_assert_ptr_null(hs_kafka_dlq_record_max("writer", "x", "abc", 3, 0));
    /* NULL payload and error, as hs_kafka_dlq_record. */
    char *text = hs_kafka_dlq_record_max(NULL, NULL, NULL, 5, 1000);
    ck_assert_ptr_nonnull(text);
    json_t *rec = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "payload")), "");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "error")), "");
    json_decref(rec);
    free(text);
    /* An error text with invalid UTF-8 is sanitised before it is cut. */
    char error[3000];
    memset(error, 'q', sizeof error - 1);
    error[0] = '\xff';
    error[sizeof error - 1] = '\0';
    text = hs_kafka_dlq_record_max("writer", error, "abc", 3, 2000);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_le(strlen(text), 2000);
    rec = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(rec);
    const char *e = json_string_value(json_object_get(rec, "error"));
    ck_assert(strncmp(e, "\xef\xbf\xbdqqq", 6) == 0);
    ck_assert_uint_eq(strlen(e), 500);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "payload")), "abc");
    json_decref(rec);
    free(text);
}
END_TEST

/* A record cut to HS_KAFKA_DLQ_MAX_BYTES is delivered; the whole one is
 * refused by the producer before it leaves (message.max.bytes). */
START_TEST(test_dlq_record_max_is_delivered)
{
    char err[256];
    dr_counts dr = {0};
    size_t len = 3 * 1024 * 1024 / 2;
    unsigned char *payload = make_payload(GEN_ASCII, len);
    char *whole = hs_kafka_dlq_record("enricher", "too large", payload, len);
    char *cut = hs_kafka_dlq_record_max("enricher", "too large", payload, len,
                                        HS_KAFKA_DLQ_MAX_BYTES);
    ck_assert_ptr_nonnull(whole);
    ck_assert_ptr_nonnull(cut);
    rd_kafka_t *p = hs_kafka_producer_new(shared_broker.bootstrap, count_dr, &dr, NULL,
                                          err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_int_eq(hs_kafka_produce(p, "t.dlq", "k", 1, whole, strlen(whole), &dr, 0),
                     RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    ck_assert_int_eq(hs_kafka_produce(p, "t.dlq", "sensor.some_long_entity_id", 26, cut,
                                      strlen(cut), &dr, 1000),
                     0);
    ck_assert_int_eq(hs_kafka_producer_close(p, 10000), 0);
    ck_assert_int_eq(dr.ok, 1);
    ck_assert_int_eq(dr.failed, 0);
    free(cut);
    free(whole);
    free(payload);
}
END_TEST

#define TABLE_LEN(t) ((int)(sizeof(t) / sizeof((t)[0])))

static Suite *devbroker_suite(void)
{
    Suite *s = suite_create("devbroker");
    TCase *tc = tcase_create("process");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_startup_contract);
    tcase_add_loop_test(tc, test_bad_arguments_table, 0, TABLE_LEN(bad_args));
    suite_add_tcase(s, tc);

    tc = tcase_create("shared broker");
    tcase_add_unchecked_fixture(tc, shared_start, shared_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, test_control_table, 0, TABLE_LEN(control_table));
    tcase_add_test(tc, test_produce_consume_commit);
    tcase_add_test(tc, test_fault_retriable_then_permanent);
    tcase_add_test(tc, test_broker_down_purges_on_close);
    tcase_add_test(tc, test_queue_full_blocks_then_fails);
    tcase_add_test(tc, test_dlq_record_max_is_delivered);
    suite_add_tcase(s, tc);

    tc = tcase_create("pure");
    tcase_add_test(tc, test_config_errors_name_the_setting);
    tcase_add_loop_test(tc, test_dlq_record_table, 0, TABLE_LEN(dlq_table));
    tcase_add_test(tc, test_dlq_record_hostile_error_text);
    tcase_add_loop_test(tc, test_dlq_record_max_table, 0, TABLE_LEN(dlq_max_table));
    tcase_add_test(tc, test_dlq_record_max_boundary);
    tcase_add_test(tc, test_dlq_record_max_too_small_and_hostile);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-homestream-devbroker\n", argv[0]);
        return 2;
    }
    devbroker_path = argv[1];
    hs_log_setup("test-devbroker", HS_LOG_ERROR, "text");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(devbroker_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
