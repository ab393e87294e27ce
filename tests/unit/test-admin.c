/* test-admin.c - the admin HTTP endpoint: routes, auth, errors, Prometheus. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "hs_admin.h"
#include "hs_log.h"

#define TOKEN "s3cret-admin-token"

/* What the fake stage was asked, and how it answers. The admin thread writes
 * these while serving a request; the test reads them after the reply. */
typedef struct {
    const char *status;
    bool stats_null;
    int recent_calls;
    int recent_limit;
    char recent_entity[128];
    bool recent_entity_null;
    int put_calls;
    char log_level[32];
} fake_stage;

static json_t *fake_health(void *ud)
{
    fake_stage *f = ud;
    return json_pack("{s:s, s:{s:s}}", "status", f->status, "kafka", "state", "up");
}

static json_t *fake_stats(void *ud)
{
    fake_stage *f = ud;
    if (f->stats_null)
        return NULL;
    return json_pack("{s:i, s:{s:{s:s}}}", "events_in_total", 7, "breakers", "influxdb",
                     "state", "open");
}

static json_t *fake_recent(void *ud, int limit, const char *entity_id)
{
    fake_stage *f = ud;
    f->recent_calls++;
    f->recent_limit = limit;
    f->recent_entity_null = entity_id == NULL;
    snprintf(f->recent_entity, sizeof f->recent_entity, "%s", entity_id ? entity_id : "");
    return json_pack("[{s:s}]", "entity_id", entity_id ? entity_id : "sensor.a");
}

static json_t *fake_config_get(void *ud)
{
    fake_stage *f = ud;
    return json_pack("{s:s, s:s}", "LOG_LEVEL", f->log_level, "ADMIN_TOKEN", "****oken");
}

static int fake_config_put(void *ud, json_t *body, char *err, size_t errlen)
{
    fake_stage *f = ud;
    f->put_calls++;
    const char *level = json_string_value(json_object_get(body, "LOG_LEVEL"));
    if (level == NULL || strcmp(level, "bogus") == 0) {
        snprintf(err, errlen, "LOG_LEVEL: must be one of debug|info|warn|error");
        return -1;
    }
    snprintf(f->log_level, sizeof f->log_level, "%s", level);
    return 0;
}

static fake_stage stage;
static hs_admin *admin;

static void start_admin(const char *token, bool with_optional)
{
    memset(&stage, 0, sizeof stage);
    stage.status = "ok";
    snprintf(stage.log_level, sizeof stage.log_level, "info");
    hs_admin_handlers h = {
        .health = fake_health,
        .stats = fake_stats,
        .recent = with_optional ? fake_recent : NULL,
        .config_get = fake_config_get,
        .config_put = with_optional ? fake_config_put : NULL,
        .ud = &stage,
    };
    char err[256];
    admin = hs_admin_start("127.0.0.1:0", "writer", token, &h, err, sizeof err);
    ck_assert_msg(admin != NULL, "start failed: %s", err);
    ck_assert_uint_ne(hs_admin_port(admin), 0);
}

static void setup_open(void)
{
    start_admin(NULL, true);
}

static void setup_token(void)
{
    start_admin(TOKEN, true);
}

static void setup_minimal(void)
{
    start_admin("", false);
}

static void teardown(void)
{
    hs_admin_stop(admin);
    admin = NULL;
}

/* ---- a tiny HTTP client ------------------------------------------------- */

typedef struct {
    long status;
    char *body;
    size_t len;
    char ctype[128];
    char www_auth[128];
    char allow[64];
    json_t *json; /* parsed body when it is JSON */
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    char *b = realloc(r->body, r->len + sz * n + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b + r->len, p, sz * n);
    r->body = b;
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static void copy_header(const char *line, size_t n, const char *name, char *out,
                        size_t outlen)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl > 0 && *v == ' ') {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, outlen, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    copy_header(p, sz * n, "Content-Type", r->ctype, sizeof r->ctype);
    copy_header(p, sz * n, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
    copy_header(p, sz * n, "Allow", r->allow, sizeof r->allow);
    return sz * n;
}

typedef struct {
    size_t left;
} chunk_source;

static size_t read_chunks(char *buf, size_t sz, size_t n, void *ud)
{
    chunk_source *src = ud;
    size_t want = sz * n < src->left ? sz * n : src->left;
    memset(buf, ' ', want);
    src->left -= want;
    return want;
}

/* Sends one request. header may be NULL. With chunked_len > 0 the body is
 * that many spaces sent with chunked transfer encoding (no length). */
static void http(const char *method, const char *path, const char *header,
                 const char *body, size_t chunked_len, reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", hs_admin_port(admin), path);
    struct curl_slist *hdrs = NULL;
    if (header != NULL)
        hdrs = curl_slist_append(hdrs, header);
    hdrs = curl_slist_append(hdrs, "Expect:");
    chunk_source src = {chunked_len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (chunked_len > 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_chunks);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (r->body != NULL && strncmp(r->ctype, "application/json", 16) == 0)
        r->json = json_loadb(r->body, r->len, 0, NULL);
}

static void reply_free(reply *r)
{
    free(r->body);
    json_decref(r->json);
}

/* Asserts the {"detail":{"code","message"}} error shape. */
static void assert_error(const reply *r, long status, const char *code)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(r->ctype, "application/json");
    ck_assert_ptr_nonnull(r->json);
    const json_t *d = json_object_get(r->json, "detail");
    ck_assert_str_eq(json_string_value(json_object_get(d, "code")), code);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(d, "message")));
}

/* ---- routes ------------------------------------------------------------- */

START_TEST(test_health_ok)
{
    reply r;
    http("GET", "/health", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    reply_free(&r);
}
END_TEST

static const struct {
    const char *status;
    long http;
} health_table[] = {
    {"ok", 200},
    {"degraded", 200},
    {"unhealthy", 503},
};

START_TEST(test_health_status_table)
{
    stage.status = health_table[_i].status;
    reply r;
    http("GET", "/health", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, health_table[_i].http);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")),
                     health_table[_i].status);
    reply_free(&r);
}
END_TEST

START_TEST(test_stats)
{
    reply r;
    http("GET", "/stats", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "events_in_total")), 7);
    reply_free(&r);
}
END_TEST

START_TEST(test_stats_handler_failure_is_500)
{
    stage.stats_null = true;
    reply r;
    http("GET", "/stats", NULL, NULL, 0, &r);
    assert_error(&r, 500, "INTERNAL_ERROR");
    reply_free(&r);
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_error(&r, 500, "INTERNAL_ERROR");
    reply_free(&r);
}
END_TEST

START_TEST(test_metrics)
{
    reply r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4");
    ck_assert_str_eq(r.body, "# TYPE homestream_writer_events_in_total counter\n"
                             "homestream_writer_events_in_total 7\n"
                             "# TYPE homestream_writer_breaker_state gauge\n"
                             "homestream_writer_breaker_state{breaker=\"influxdb\"} 1\n");
    reply_free(&r);
}
END_TEST

START_TEST(test_recent_defaults)
{
    reply r;
    http("GET", "/events/recent", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert(json_is_array(r.json));
    ck_assert_int_eq(stage.recent_calls, 1);
    ck_assert_int_eq(stage.recent_limit, 50);
    ck_assert(stage.recent_entity_null);
    reply_free(&r);
}
END_TEST

START_TEST(test_recent_entity)
{
    reply r;
    http("GET", "/events/recent?limit=5&entity_id=sensor.living_room", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(stage.recent_limit, 5);
    ck_assert(!stage.recent_entity_null);
    ck_assert_str_eq(stage.recent_entity, "sensor.living_room");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(r.json, 0), "entity_id")),
        "sensor.living_room");
    reply_free(&r);
    /* An empty entity_id means no filter. */
    http("GET", "/events/recent?entity_id=", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(stage.recent_entity_null);
    reply_free(&r);
}
END_TEST

static const struct {
    const char *query;
    long status;
    int limit; /* expected limit when accepted */
} limit_table[] = {
    {"limit=1", 200, 1},    {"limit=1000", 200, 1000},
    {"limit=50", 200, 50},  {"limit=0", 400, 0},
    {"limit=1001", 400, 0}, {"limit=-1", 400, 0},
    {"limit=abc", 400, 0},  {"limit=5x", 400, 0},
    {"limit=", 400, 0},     {"limit=%2B5", 400, 0},
    {"limit=%205", 400, 0}, {"limit=99999999999999999999", 400, 0},
};

START_TEST(test_recent_limit_table)
{
    char path[128];
    snprintf(path, sizeof path, "/events/recent?%s", limit_table[_i].query);
    reply r;
    http("GET", path, NULL, NULL, 0, &r);
    if (limit_table[_i].status == 200) {
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(stage.recent_limit, limit_table[_i].limit);
    } else {
        assert_error(&r, limit_table[_i].status, "BAD_REQUEST");
        ck_assert_int_eq(stage.recent_calls, 0);
    }
    reply_free(&r);
}
END_TEST

START_TEST(test_config_get)
{
    reply r;
    http("GET", "/config", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "LOG_LEVEL")), "info");
    reply_free(&r);
}
END_TEST

START_TEST(test_config_put)
{
    reply r;
    http("PUT", "/config", NULL, "{\"LOG_LEVEL\":\"debug\"}", 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert_int_eq(stage.put_calls, 1);
    /* The answer is the new effective configuration. */
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "LOG_LEVEL")), "debug");
    reply_free(&r);
}
END_TEST

START_TEST(test_config_put_rejected)
{
    reply r;
    http("PUT", "/config", NULL, "{\"LOG_LEVEL\":\"bogus\"}", 0, &r);
    assert_error(&r, 400, "VALIDATION_ERROR");
    const char *msg =
        json_string_value(json_object_get(json_object_get(r.json, "detail"), "message"));
    ck_assert_str_eq(msg, "LOG_LEVEL: must be one of debug|info|warn|error");
    ck_assert_str_eq(stage.log_level, "info");
    reply_free(&r);
}
END_TEST

static const char *const bad_bodies[] = {
    "{\"LOG_LEVEL\":", "not json", "[1,2]", "\"text\"", "42", "{} {}", "",
};

START_TEST(test_config_put_bad_body_table)
{
    reply r;
    http("PUT", "/config", NULL, bad_bodies[_i], 0, &r);
    assert_error(&r, 400, "BAD_REQUEST");
    ck_assert_int_eq(stage.put_calls, 0);
    reply_free(&r);
}
END_TEST

/* Builds {"LOG_LEVEL":"warn","pad":"xxx…"} of exactly len bytes. */
static char *json_body_of_size(size_t len)
{
    const char *head = "{\"LOG_LEVEL\":\"warn\",\"pad\":\"";
    size_t hl = strlen(head);
    char *b = malloc(len + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, head, hl);
    memset(b + hl, 'x', len - hl - 2);
    memcpy(b + len - 2, "\"}", 2);
    b[len] = '\0';
    return b;
}

START_TEST(test_config_put_size_limit)
{
    reply r;
    char *b = json_body_of_size(64 * 1024);
    http("PUT", "/config", NULL, b, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(stage.log_level, "warn");
    reply_free(&r);
    free(b);

    b = json_body_of_size(64 * 1024 + 1);
    http("PUT", "/config", NULL, b, 0, &r);
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    ck_assert_int_eq(stage.put_calls, 1);
    reply_free(&r);
    free(b);
}
END_TEST

START_TEST(test_config_put_chunked_too_large)
{
    reply r;
    http("PUT", "/config", NULL, NULL, 200 * 1024, &r);
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    ck_assert_int_eq(stage.put_calls, 0);
    reply_free(&r);
}
END_TEST

/* A socket connected to the admin endpoint, with 10 s send and receive
 * timeouts so a server that stops answering fails the test, not hangs it. */
static int connect_admin(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)hs_admin_port(admin));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
}

static void send_all(int s, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(s, p, len, MSG_NOSIGNAL);
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Reads one whole answer (headers and Content-Length bytes of body) into buf
 * and returns its length. */
static size_t read_answer(int s, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            ck_assert_ptr_nonnull(cl);
            size_t want = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
            if (len >= want)
                return len;
        }
        ck_assert_uint_lt(len, cap - 1);
        ssize_t n = recv(s, buf + len, cap - 1 - len, 0);
        ck_assert_msg(n > 0, "recv after %zu bytes: %s", len,
                      n == 0 ? "closed" : strerror(errno));
        len += (size_t)n;
    }
}

/* A body a little over the limit is read through before the 413, so the
 * answer cannot be lost to a reset while the client still sends, and the
 * connection stays open for the next request. */
START_TEST(test_config_put_over_limit_is_drained)
{
    int s = connect_admin();
    char *b = json_body_of_size(64 * 1024 + 1);
    const char *head = "PUT /config HTTP/1.1\r\nHost: test\r\n"
                       "Content-Type: application/json\r\nContent-Length: 65537\r\n\r\n";
    send_all(s, head, strlen(head));
    send_all(s, b, 64 * 1024 + 1);
    free(b);
    char buf[4096];
    read_answer(s, buf, sizeof buf);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413", 12) == 0, "answer: %s", buf);
    ck_assert(strstr(buf, "PAYLOAD_TOO_LARGE") != NULL);
    const char *get = "GET /health HTTP/1.1\r\nHost: test\r\n\r\n";
    send_all(s, get, strlen(get));
    read_answer(s, buf, sizeof buf);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "answer: %s", buf);
    close(s);
    ck_assert_int_eq(stage.put_calls, 0);
}
END_TEST

/* A declared length over the drain limit is refused from the headers alone:
 * the answer comes without the client sending any of the body. */
START_TEST(test_config_put_declared_too_large)
{
    int s = connect_admin();
    const char *req =
        "PUT /config HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
    send_all(s, req, strlen(req));
    char buf[1024];
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    close(s);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 413", 12) == 0, "answer: %s", buf);
    ck_assert(strstr(buf, "PAYLOAD_TOO_LARGE") != NULL);
    ck_assert_int_eq(stage.put_calls, 0);
}
END_TEST

/* A chunked body that never ends is not read forever: past the drain limit
 * the connection is closed, long before 64 MiB have gone in. */
START_TEST(test_config_put_endless_body_is_cut)
{
    int s = connect_admin();
    const char *head = "PUT /config HTTP/1.1\r\nHost: test\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    send_all(s, head, strlen(head));
    enum { CHUNK = 64 * 1024 };
    static char chunk[CHUNK + 16];
    int hl = snprintf(chunk, sizeof chunk, "%x\r\n", CHUNK);
    memset(chunk + hl, ' ', CHUNK);
    memcpy(chunk + hl + CHUNK, "\r\n", 2);
    size_t chunk_len = (size_t)hl + CHUNK + 2, sent = 0;
    int err = 0;
    while (sent < 64u * 1024 * 1024) {
        ssize_t n = send(s, chunk, chunk_len, MSG_NOSIGNAL);
        if (n < 0) {
            err = errno;
            break;
        }
        sent += (size_t)n;
    }
    close(s);
    ck_assert_msg(err == EPIPE || err == ECONNRESET, "after %zu bytes: %s", sent,
                  err == 0 ? "all sent" : strerror(err));
    ck_assert_int_eq(stage.put_calls, 0);
    reply r;
    http("GET", "/health", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

static const char *const unknown_paths[] = {
    "/", "/nope", "/health/", "/stats/x", "/events", "/events/recent/1", "/HEALTH",
};

START_TEST(test_not_found_table)
{
    reply r;
    http("GET", unknown_paths[_i], NULL, NULL, 0, &r);
    assert_error(&r, 404, "NOT_FOUND");
    reply_free(&r);
}
END_TEST

static const struct {
    const char *method;
    const char *path;
    const char *allow;
} wrong_methods[] = {
    {"POST", "/health", "GET, HEAD"},      {"DELETE", "/stats", "GET, HEAD"},
    {"PUT", "/metrics", "GET, HEAD"},      {"POST", "/events/recent", "GET, HEAD"},
    {"POST", "/config", "GET, HEAD, PUT"}, {"DELETE", "/config", "GET, HEAD, PUT"},
};

START_TEST(test_method_not_allowed_table)
{
    reply r;
    http(wrong_methods[_i].method, wrong_methods[_i].path, NULL, NULL, 0, &r);
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    ck_assert_str_eq(r.allow, wrong_methods[_i].allow);
    reply_free(&r);
}
END_TEST

/* Without the optional handlers: /events/recent is 404, PUT /config 405. */
START_TEST(test_optional_handlers_absent)
{
    reply r;
    http("GET", "/events/recent", NULL, NULL, 0, &r);
    assert_error(&r, 404, "NOT_FOUND");
    reply_free(&r);
    http("PUT", "/config", NULL, "{\"LOG_LEVEL\":\"debug\"}", 0, &r);
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    ck_assert_str_eq(r.allow, "GET, HEAD");
    reply_free(&r);
    /* An empty token means no authentication. */
    http("GET", "/stats", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

/* ---- authentication ----------------------------------------------------- */

static const struct {
    const char *header;
    long status;
} auth_table[] = {
    {NULL, 401},
    {"Authorization: Bearer " TOKEN, 200},
    {"Authorization: bearer " TOKEN, 200},
    {"X-API-Key: " TOKEN, 200},
    {"x-api-key: " TOKEN, 200},
    {"Authorization: Bearer wrong", 401},
    {"Authorization: Bearer " TOKEN "x", 401},
    {"Authorization: Bearer s3cret-admin-toke", 401},
    {"Authorization: Bearer ", 401},
    {"Authorization: Basic " TOKEN, 401},
    {"Authorization: " TOKEN, 401},
    {"X-API-Key: wrong", 401},
    {"X-API-Key: S3CRET-ADMIN-TOKEN", 401},
};

START_TEST(test_auth_table)
{
    static const char *const paths[] = {"/stats", "/metrics", "/events/recent",
                                        "/config"};
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        reply r;
        http("GET", paths[p], auth_table[_i].header, NULL, 0, &r);
        if (auth_table[_i].status == 401) {
            assert_error(&r, 401, "UNAUTHORIZED");
            ck_assert_str_eq(r.www_auth, "Bearer realm=\"homestream\"");
        } else {
            ck_assert_msg(r.status == 200, "%s with %s: %ld", paths[p],
                          auth_table[_i].header, r.status);
        }
        reply_free(&r);
    }
}
END_TEST

START_TEST(test_auth_health_open)
{
    reply r;
    http("GET", "/health", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    http("GET", "/health", "Authorization: Bearer wrong", NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

START_TEST(test_auth_before_routing)
{
    /* Without the token an unknown route or a PUT is 401, not 404/405, and
     * the body is never handed to the stage. */
    reply r;
    http("GET", "/nope", NULL, NULL, 0, &r);
    assert_error(&r, 401, "UNAUTHORIZED");
    reply_free(&r);
    http("PUT", "/config", "X-API-Key: wrong", "{\"LOG_LEVEL\":\"debug\"}", 0, &r);
    assert_error(&r, 401, "UNAUTHORIZED");
    ck_assert_int_eq(stage.put_calls, 0);
    reply_free(&r);
    http("PUT", "/config", "X-API-Key: " TOKEN, "{\"LOG_LEVEL\":\"debug\"}", 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(stage.put_calls, 1);
    reply_free(&r);
}
END_TEST

/* ---- start-up ----------------------------------------------------------- */

static const hs_admin_handlers plain_handlers = {
    .health = fake_health,
    .stats = fake_stats,
    .config_get = fake_config_get,
    .ud = &stage,
};

static const char *const bad_addrs[] = {
    "",
    "8081",
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:70000",
    "127.0.0.1:80a",
    "[::1]8081",
    "[::1",
    "::1:8081",
    "127.0.0.1:-1",
    "no.such.host.invalid:0",
};

START_TEST(test_start_bad_addr_table)
{
    char err[256] = "";
    hs_admin *a =
        hs_admin_start(bad_addrs[_i], "writer", NULL, &plain_handlers, err, sizeof err);
    ck_assert_msg(a == NULL, "%s was accepted", bad_addrs[_i]);
    ck_assert_msg(err[0] != '\0', "no reason for %s", bad_addrs[_i]);
}
END_TEST

START_TEST(test_start_requires_handlers)
{
    char err[256] = "";
    hs_admin_handlers h = plain_handlers;
    h.stats = NULL;
    ck_assert_ptr_null(
        hs_admin_start("127.0.0.1:0", "writer", NULL, &h, err, sizeof err));
    ck_assert(err[0] != '\0');
}
END_TEST

START_TEST(test_start_port_in_use)
{
    char err[256] = "";
    hs_admin *a =
        hs_admin_start("127.0.0.1:0", "writer", NULL, &plain_handlers, err, sizeof err);
    ck_assert_ptr_nonnull(a);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", hs_admin_port(a));
    err[0] = '\0';
    hs_admin *b = hs_admin_start(addr, "writer", NULL, &plain_handlers, err, sizeof err);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err, "cannot listen on") != NULL, "err: %s", err);
    hs_admin_stop(a);
    hs_admin_stop(NULL);
}
END_TEST

static bool ipv6_loopback_available(void)
{
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    if (s < 0)
        return false;
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    bool ok = bind(s, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(s);
    return ok;
}

/* Each form of address starts and answers on the loopback address given. */
static const struct {
    const char *addr;
    const char *connect_host;
    bool needs_v6;
} good_addrs[] = {
    {"127.0.0.1:0", "127.0.0.1", false}, {"localhost:0", "localhost", false},
    {":0", "127.0.0.1", false},          {"0.0.0.0:0", "127.0.0.1", false},
    {"[::1]:0", "[::1]", true},          {":0", "[::1]", true},
    {"[::]:0", "127.0.0.1", true},
};

START_TEST(test_start_addr_forms_table)
{
    if (good_addrs[_i].needs_v6 && !ipv6_loopback_available())
        return;
    char err[256] = "";
    hs_admin *a = hs_admin_start(good_addrs[_i].addr, "writer", NULL, &plain_handlers,
                                 err, sizeof err);
    ck_assert_msg(a != NULL, "%s: %s", good_addrs[_i].addr, err);
    stage.status = "ok";
    char url[128];
    snprintf(url, sizeof url, "http://%s:%u/health", good_addrs[_i].connect_host,
             hs_admin_port(a));
    CURL *c = curl_easy_init();
    reply r;
    memset(&r, 0, sizeof r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    free(r.body);
    hs_admin_stop(a);
    ck_assert_msg(rc == CURLE_OK, "%s via %s: %s", good_addrs[_i].addr, url,
                  curl_easy_strerror(rc));
    ck_assert_int_eq(status, 200);
}
END_TEST

/* ---- Prometheus rendering ----------------------------------------------- */

static const struct {
    const char *stage;
    const char *json;
    const char *text;
} prom_table[] = {
    /* numbers, booleans; counters by the _total suffix */
    {"writer", "{\"events_in_total\":5,\"lag\":2.5,\"connected\":true,\"paused\":false}",
     "# TYPE homestream_writer_events_in_total counter\n"
     "homestream_writer_events_in_total 5\n"
     "# TYPE homestream_writer_lag gauge\n"
     "homestream_writer_lag 2.5\n"
     "# TYPE homestream_writer_connected gauge\n"
     "homestream_writer_connected 1\n"
     "# TYPE homestream_writer_paused gauge\n"
     "homestream_writer_paused 0\n"},
    /* nested objects join their keys with '_' */
    {"ingestor", "{\"kafka\":{\"produced_total\":3,\"errors\":{\"timeout\":1}}}",
     "# TYPE homestream_ingestor_kafka_produced_total counter\n"
     "homestream_ingestor_kafka_produced_total 3\n"
     "# TYPE homestream_ingestor_kafka_errors_timeout gauge\n"
     "homestream_ingestor_kafka_errors_timeout 1\n"},
    /* breakers keyed by name: a label, state as a number, strings skipped;
     * samples of one family grouped under one TYPE line */
    {"writer",
     "{\"breakers\":{\"influxdb\":{\"name\":\"influxdb\",\"state\":\"open\","
     "\"opened_total\":2,\"last_error\":\"HTTP 500\"},"
     "\"weather\":{\"state\":\"half-open\",\"opened_total\":0}}}",
     "# TYPE homestream_writer_breaker_state gauge\n"
     "homestream_writer_breaker_state{breaker=\"influxdb\"} 1\n"
     "homestream_writer_breaker_state{breaker=\"weather\"} 2\n"
     "# TYPE homestream_writer_breaker_opened_total counter\n"
     "homestream_writer_breaker_opened_total{breaker=\"influxdb\"} 2\n"
     "homestream_writer_breaker_opened_total{breaker=\"weather\"} 0\n"},
    /* breakers as an array of hs_breaker_to_json objects: labelled by name */
    {"enricher",
     "{\"breakers\":[{\"name\":\"weather\",\"state\":\"closed\"},"
     "{\"name\":\"presence\",\"state\":\"half_open\"},{\"state\":\"open\"}]}",
     "# TYPE homestream_enricher_breaker_state gauge\n"
     "homestream_enricher_breaker_state{breaker=\"weather\"} 0\n"
     "homestream_enricher_breaker_state{breaker=\"presence\"} 2\n"
     "homestream_enricher_breaker_state{breaker=\"2\"} 1\n"},
    /* a breaker given by its state alone */
    {"writer", "{\"breakers\":{\"influxdb\":\"open\"}}",
     "# TYPE homestream_writer_breaker_state gauge\n"
     "homestream_writer_breaker_state{breaker=\"influxdb\"} 1\n"},
    /* a breaker object under a singular "breaker" key keeps its path */
    {"writer", "{\"influx\":{\"breaker\":{\"state\":\"open\"}}}",
     "# TYPE homestream_writer_influx_breaker_state gauge\n"
     "homestream_writer_influx_breaker_state 1\n"},
    /* partitions become a label, nested under a group label */
    {"writer",
     "{\"partitions\":{\"ha.events.enriched/0\":{\"lag\":4},\"ha.events.enriched/1\":"
     "{\"lag\":0}},\"partitions_total\":2}",
     "# TYPE homestream_writer_partition_lag gauge\n"
     "homestream_writer_partition_lag{partition=\"ha.events.enriched/0\"} 4\n"
     "homestream_writer_partition_lag{partition=\"ha.events.enriched/1\"} 0\n"
     "# TYPE homestream_writer_partitions_total counter\n"
     "homestream_writer_partitions_total 2\n"},
    {"writer", "{\"partitions\":[{\"partition\":3,\"lag\":7}]}",
     "# TYPE homestream_writer_partition_lag gauge\n"
     "homestream_writer_partition_lag{partition=\"3\"} 7\n"},
    {"writer", "{\"breakers\":{\"kafka\":{\"partitions\":{\"0\":{\"lag\":1}}}}}",
     "# TYPE homestream_writer_breaker_partition_lag gauge\n"
     "homestream_writer_breaker_partition_lag{breaker=\"kafka\",partition=\"0\"} 1\n"},
    /* characters outside [a-zA-Z0-9_] become '_', in the stage too */
    {"my-stage", "{\"rate-1m\":1,\"a.b\":{\"c d\":2}}",
     "# TYPE homestream_my_stage_rate_1m gauge\n"
     "homestream_my_stage_rate_1m 1\n"
     "# TYPE homestream_my_stage_a_b_c_d gauge\n"
     "homestream_my_stage_a_b_c_d 2\n"},
    /* two keys that sanitize alike: the first wins */
    {"s", "{\"a-b\":1,\"a_b\":2}", "# TYPE homestream_s_a_b gauge\nhomestream_s_a_b 1\n"},
    /* strings, nulls and arrays are skipped, "state" only counts in a breaker */
    {"s", "{\"status\":\"ok\",\"x\":null,\"arr\":[1,2],\"state\":\"open\"}", ""},
    {"s", "{}", ""},
    {"s", "[1,2,3]", ""},
    /* label values escaped */
    {"s", "{\"breakers\":{\"a\\\"b\\\\c\\nd\":{\"state\":\"closed\"}}}",
     "# TYPE homestream_s_breaker_state gauge\n"
     "homestream_s_breaker_state{breaker=\"a\\\"b\\\\c\\nd\"} 0\n"},
    /* reals in the shortest form that reads back exactly */
    {"s",
     "{\"r\":0.1,\"big\":1e20,\"neg\":-3,\"tiny\":1.5e-7,\"third\":0.3333333333333333}",
     "# TYPE homestream_s_r gauge\nhomestream_s_r 0.1\n"
     "# TYPE homestream_s_big gauge\nhomestream_s_big 1e+20\n"
     "# TYPE homestream_s_neg gauge\nhomestream_s_neg -3\n"
     "# TYPE homestream_s_tiny gauge\nhomestream_s_tiny 1.5e-07\n"
     "# TYPE homestream_s_third gauge\nhomestream_s_third 0.3333333333333333\n"},
};

START_TEST(test_prometheus_table)
{
    json_error_t jerr;
    json_t *stats = json_loads(prom_table[_i].json, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(stats != NULL, "bad test JSON: %s", jerr.text);
    char *text = hs_admin_prometheus(prom_table[_i].stage, stats);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, prom_table[_i].text);
    free(text);
    json_decref(stats);
}
END_TEST

START_TEST(test_prometheus_deep_nesting_is_bounded)
{
    json_t *root = json_object();
    json_t *cur = root;
    for (int i = 0; i < 200; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "n", next);
        cur = next;
    }
    json_object_set_new(cur, "v", json_integer(1));
    char *text = hs_admin_prometheus("s", root);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "");
    free(text);
    json_decref(root);
}
END_TEST

#define TABLE_LEN(t) ((int)(sizeof(t) / sizeof((t)[0])))

static Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");

    TCase *tc = tcase_create("routes");
    tcase_add_checked_fixture(tc, setup_open, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_health_ok);
    tcase_add_loop_test(tc, test_health_status_table, 0, TABLE_LEN(health_table));
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_stats_handler_failure_is_500);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_recent_defaults);
    tcase_add_test(tc, test_recent_entity);
    tcase_add_loop_test(tc, test_recent_limit_table, 0, TABLE_LEN(limit_table));
    tcase_add_test(tc, test_config_get);
    tcase_add_test(tc, test_config_put);
    tcase_add_test(tc, test_config_put_rejected);
    tcase_add_loop_test(tc, test_config_put_bad_body_table, 0, TABLE_LEN(bad_bodies));
    tcase_add_test(tc, test_config_put_size_limit);
    tcase_add_test(tc, test_config_put_chunked_too_large);
    tcase_add_test(tc, test_config_put_over_limit_is_drained);
    tcase_add_test(tc, test_config_put_declared_too_large);
    tcase_add_test(tc, test_config_put_endless_body_is_cut);
    tcase_add_loop_test(tc, test_not_found_table, 0, TABLE_LEN(unknown_paths));
    tcase_add_loop_test(tc, test_method_not_allowed_table, 0, TABLE_LEN(wrong_methods));
    suite_add_tcase(s, tc);

    tc = tcase_create("minimal");
    tcase_add_checked_fixture(tc, setup_minimal, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_optional_handlers_absent);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, setup_token, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_auth_table, 0, TABLE_LEN(auth_table));
    tcase_add_test(tc, test_auth_health_open);
    tcase_add_test(tc, test_auth_before_routing);
    suite_add_tcase(s, tc);

    tc = tcase_create("start");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_start_bad_addr_table, 0, TABLE_LEN(bad_addrs));
    tcase_add_test(tc, test_start_requires_handlers);
    tcase_add_test(tc, test_start_port_in_use);
    tcase_add_loop_test(tc, test_start_addr_forms_table, 0, TABLE_LEN(good_addrs));
    suite_add_tcase(s, tc);

    tc = tcase_create("prometheus");
    tcase_add_loop_test(tc, test_prometheus_table, 0, TABLE_LEN(prom_table));
    tcase_add_test(tc, test_prometheus_deep_nesting_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    hs_log_setup("test-admin", HS_LOG_ERROR, "text");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
