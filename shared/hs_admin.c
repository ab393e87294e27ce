/* hs_admin.c - the admin HTTP endpoint every stage runs (libmicrohttpd). */
#include "hs_admin.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "hs_log.h"

#define ADMIN_BODY_MAX (64 * 1024)
/* A body over ADMIN_BODY_MAX but within this is read and dropped before the
 * 413 goes out. Answering first and closing on unread data makes the kernel
 * reset the connection, and a client still sending loses the answer. Beyond
 * this, a declared length is refused from the headers and an undeclared one
 * gets the connection closed: draining it would be free work for anyone. */
#define ADMIN_DRAIN_MAX (1024 * 1024)
/* Seconds of silence after which a connection is closed; well under the 5 s
 * a container health check waits (deploy/docker-compose.yml). */
#define ADMIN_IDLE_TIMEOUT_S 3
#define RECENT_DEFAULT 50
#define RECENT_MAX 1000
#define PROM_MAX_DEPTH 32

struct hs_admin {
    struct MHD_Daemon *daemon;
    char *stage;
    char *token; /* NULL: no authentication */
    size_t token_len;
    hs_admin_handlers h;
    unsigned port;
    /* While `capturing`, libmicrohttpd's log lines are also kept in
     * last_error so hs_admin_start can say why the start failed. */
    pthread_mutex_t log_lock;
    bool capturing;
    char last_error[512];
};

/* ---- growable string ---------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_append(strbuf *sb, const char *s, size_t n)
{
    if (sb->oom)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap != 0 ? sb->cap : 256;
        while (sb->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(sb->data, cap);
        if (p == NULL) {
            sb->oom = true;
            return;
        }
        sb->data = p;
        sb->cap = cap;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

static void sb_puts(strbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

/* Returns the string (owned by the caller), or NULL when out of memory. An
 * empty buffer yields "". */
static char *sb_finish(strbuf *sb)
{
    if (!sb->oom && sb->data == NULL)
        sb_append(sb, "", 0);
    if (sb->oom) {
        free(sb->data);
        return NULL;
    }
    return sb->data;
}

/* ---- Prometheus rendering ----------------------------------------------- */

typedef struct {
    char *name;   /* full metric name */
    char *labels; /* "" or `a="x",b="y"` */
    char value[48];
    bool counter;
} prom_sample;

typedef struct {
    const char *prefix; /* "homestream_<stage>" */
    prom_sample *v;
    size_t n, cap;
    bool oom;
} prom_ctx;

/* Appends key to sb with every character outside [a-zA-Z0-9_] as '_'. */
static void sb_put_sanitized(strbuf *sb, const char *key)
{
    for (const char *p = key; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_';
        sb_append(sb, ok ? &c : "_", 1);
    }
}

/* Appends a label value escaped as the exposition format wants it. */
static void sb_put_label_value(strbuf *sb, const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\\')
            sb_puts(sb, "\\\\");
        else if (*p == '"')
            sb_puts(sb, "\\\"");
        else if (*p == '\n')
            sb_puts(sb, "\\n");
        else
            sb_append(sb, p, 1);
    }
}

/* Returns path + "_" + sanitized key (just the key when path is empty) as a
 * malloc'd string, or NULL when out of memory. */
static char *path_join(const char *path, const char *key)
{
    strbuf sb = {0};
    if (path[0] != '\0') {
        sb_puts(&sb, path);
        sb_puts(&sb, "_");
    }
    sb_put_sanitized(&sb, key);
    return sb_finish(&sb);
}

/* Returns labels extended by name="value", or NULL when out of memory. */
static char *labels_add(const char *labels, const char *name, const char *value)
{
    strbuf sb = {0};
    sb_puts(&sb, labels);
    if (labels[0] != '\0')
        sb_puts(&sb, ",");
    sb_puts(&sb, name);
    sb_puts(&sb, "=\"");
    sb_put_label_value(&sb, value);
    sb_puts(&sb, "\"");
    return sb_finish(&sb);
}

/* Formats a double with the fewest digits that read back the same. */
static void format_real(double d, char *out, size_t outlen)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* Records one sample; a second sample with the same name and labels (two
 * keys that sanitize alike) is dropped, as Prometheus rejects duplicates. */
static void prom_emit(prom_ctx *ctx, const char *path, const char *labels,
                      const char *value)
{
    if (ctx->oom)
        return;
    strbuf name = {0};
    sb_puts(&name, ctx->prefix);
    sb_puts(&name, "_");
    sb_puts(&name, path);
    char *n = sb_finish(&name);
    char *l = strdup(labels);
    if (n == NULL || l == NULL)
        goto oom;
    for (size_t i = 0; i < ctx->n; i++) {
        if (strcmp(ctx->v[i].name, n) == 0 && strcmp(ctx->v[i].labels, l) == 0) {
            free(n);
            free(l);
            return;
        }
    }
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap != 0 ? ctx->cap * 2 : 32;
        prom_sample *v = realloc(ctx->v, cap * sizeof *v);
        if (v == NULL)
            goto oom;
        ctx->v = v;
        ctx->cap = cap;
    }
    prom_sample *s = &ctx->v[ctx->n++];
    s->name = n;
    s->labels = l;
    snprintf(s->value, sizeof s->value, "%s", value);
    size_t len = strlen(n);
    s->counter = len >= 6 && strcmp(n + len - 6, "_total") == 0;
    return;
oom:
    free(n);
    free(l);
    ctx->oom = true;
}

/* Emits a JSON number or boolean; returns false for other types. */
static bool prom_emit_scalar(prom_ctx *ctx, const char *path, const char *labels,
                             const json_t *v)
{
    char value[48];
    if (json_is_integer(v))
        snprintf(value, sizeof value, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        format_real(json_real_value(v), value, sizeof value);
    else if (json_is_boolean(v))
        snprintf(value, sizeof value, "%d", json_is_true(v) ? 1 : 0);
    else
        return false;
    prom_emit(ctx, path, labels, value);
    return true;
}

/* The number of a breaker state name, or -1. */
static int breaker_state_number(const char *s)
{
    if (strcmp(s, "closed") == 0)
        return 0;
    if (strcmp(s, "open") == 0)
        return 1;
    if (strcmp(s, "half-open") == 0 || strcmp(s, "half_open") == 0)
        return 2;
    return -1;
}

static void prom_walk(prom_ctx *ctx, const json_t *obj, const char *skip,
                      const char *path, const char *labels, bool in_breaker, int depth);

/* Renders one value found at path (the sanitized key path so far). key is
 * its own key, used for the breaker "state" rule. */
static void prom_value(prom_ctx *ctx, const char *key, const json_t *v, const char *path,
                       const char *labels, bool in_breaker, int depth)
{
    if (json_is_object(v)) {
        prom_walk(ctx, v, NULL, path, labels, in_breaker, depth + 1);
    } else if (json_is_string(v)) {
        int st = breaker_state_number(json_string_value(v));
        if (in_breaker && strcmp(key, "state") == 0 && st >= 0) {
            /* st is 0, 1 or 2: a one-digit sample. */
            const char num[2] = {(char)('0' + st), '\0'};
            prom_emit(ctx, path, labels, num);
        }
    } else {
        prom_emit_scalar(ctx, path, labels, v);
    }
}

/* Renders the members of a "breakers" or "partitions" group: each member
 * (an object member, or an element of an array) gets a label `label` whose
 * value is its key, else its "name" or "partition" member (which then is not
 * rendered as a sample itself), else its index. */
static void prom_group(prom_ctx *ctx, const json_t *group, const char *path,
                       const char *labels, const char *label, bool breakers, int depth)
{
    size_t n = json_is_array(group) ? json_array_size(group) : 0;
    void *it = json_is_object(group) ? json_object_iter((json_t *)group) : NULL;
    for (size_t i = 0; it != NULL || i < n; i++) {
        const json_t *member;
        char lv[64];
        const char *lvalue = lv;
        const char *id_key = NULL;
        if (it != NULL) {
            lvalue = json_object_iter_key(it);
            member = json_object_iter_value(it);
            it = json_object_iter_next((json_t *)group, it);
        } else {
            member = json_array_get(group, i);
            id_key = json_object_get(member, "name") != NULL ? "name" : "partition";
            const json_t *id = json_object_get(member, id_key);
            if (json_is_string(id)) {
                lvalue = json_string_value(id);
            } else if (json_is_integer(id)) {
                snprintf(lv, sizeof lv, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
            } else {
                snprintf(lv, sizeof lv, "%zu", i);
                id_key = NULL;
            }
        }
        char *l = labels_add(labels, label, lvalue);
        if (l == NULL) {
            ctx->oom = true;
            return;
        }
        if (json_is_string(member) && breakers) {
            /* "breakers":{"influxdb":"open"} reads as that breaker's state. */
            char *p = path_join(path, "state");
            if (p == NULL)
                ctx->oom = true;
            else
                prom_value(ctx, "state", member, p, l, true, depth);
            free(p);
        } else if (json_is_object(member)) {
            prom_walk(ctx, member, id_key, path, l, breakers, depth + 1);
        } else {
            prom_value(ctx, label, member, path, l, breakers, depth);
        }
        free(l);
    }
}

/* Renders every member of obj but the one named skip (may be NULL). */
static void prom_walk(prom_ctx *ctx, const json_t *obj, const char *skip,
                      const char *path, const char *labels, bool in_breaker, int depth)
{
    if (depth > PROM_MAX_DEPTH)
        return;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (ctx->oom)
            return;
        if (skip != NULL && strcmp(key, skip) == 0)
            continue;
        bool breakers = strcmp(key, "breakers") == 0;
        bool partitions = strcmp(key, "partitions") == 0;
        bool group = (breakers || partitions) && (json_is_object(v) || json_is_array(v));
        const char *comp = group ? (breakers ? "breaker" : "partition") : key;
        char *p = path_join(path, comp);
        if (p == NULL) {
            ctx->oom = true;
            return;
        }
        if (group)
            prom_group(ctx, v, p, labels, comp, breakers, depth + 1);
        else
            prom_value(ctx, key, v, p, labels, in_breaker || strcmp(key, "breaker") == 0,
                       depth);
        free(p);
    }
}

char *hs_admin_prometheus(const char *stage, const json_t *stats)
{
    strbuf prefix = {0};
    sb_puts(&prefix, "homestream_");
    sb_put_sanitized(&prefix, stage != NULL ? stage : "");
    char *pre = sb_finish(&prefix);
    if (pre == NULL)
        return NULL;

    prom_ctx ctx = {.prefix = pre};
    if (json_is_object(stats))
        prom_walk(&ctx, stats, NULL, "", "", false, 0);

    strbuf out = {0};
    bool *done = calloc(ctx.n + 1, sizeof *done);
    if (done == NULL)
        ctx.oom = true;
    /* Families in order of first appearance, each with its TYPE line and
     * then all its samples, as the exposition format requires. */
    for (size_t i = 0; i < ctx.n && !ctx.oom; i++) {
        if (done[i])
            continue;
        sb_puts(&out, "# TYPE ");
        sb_puts(&out, ctx.v[i].name);
        sb_puts(&out, ctx.v[i].counter ? " counter\n" : " gauge\n");
        for (size_t j = i; j < ctx.n; j++) {
            if (done[j] || strcmp(ctx.v[j].name, ctx.v[i].name) != 0)
                continue;
            done[j] = true;
            sb_puts(&out, ctx.v[j].name);
            if (ctx.v[j].labels[0] != '\0') {
                sb_puts(&out, "{");
                sb_puts(&out, ctx.v[j].labels);
                sb_puts(&out, "}");
            }
            sb_puts(&out, " ");
            sb_puts(&out, ctx.v[j].value);
            sb_puts(&out, "\n");
        }
    }
    free(done);
    for (size_t i = 0; i < ctx.n; i++) {
        free(ctx.v[i].name);
        free(ctx.v[i].labels);
    }
    free(ctx.v);
    free(pre);
    if (ctx.oom) {
        free(out.data);
        return NULL;
    }
    return sb_finish(&out);
}

/* ---- HTTP --------------------------------------------------------------- */

/* Per-request state: the body read so far. */
typedef struct {
    strbuf body;
    size_t dropped; /* bytes of an oversized body read and dropped */
    bool too_large;
} admin_request;

/* Queues a response with a malloc'd body, which it takes. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *ctype, char *body, const char *hdr,
                               const char *hdr_value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (hdr != NULL)
        MHD_add_response_header(r, hdr, hdr_value);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
                                     const char *code, const char *message,
                                     const char *hdr, const char *hdr_value)
{
    json_t *j = json_pack("{s:{s:s, s:s}}", "detail", "code", code, "message", message);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return MHD_NO;
    return respond(conn, status, "application/json", text, hdr, hdr_value);
}

/* Answers a handler's JSON (taking the reference); NULL means the handler
 * failed, answered 500. */
static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status,
                                    json_t *j)
{
    if (j == NULL)
        return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                             "the stage could not build the answer", NULL, NULL);
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (text == NULL)
        return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                             "out of memory", NULL, NULL);
    return respond(conn, status, "application/json", text, NULL, NULL);
}

/* Compares the presented token with the configured one in time that depends
 * only on the configured token's length. */
static bool token_matches(const hs_admin *a, const char *given)
{
    if (given == NULL)
        return false;
    size_t glen = strlen(given);
    unsigned char diff = glen != a->token_len;
    for (size_t i = 0; i < a->token_len; i++) {
        unsigned char g = i < glen ? (unsigned char)given[i] : 0;
        diff |= g ^ (unsigned char)a->token[i];
    }
    return diff == 0;
}

static bool authorized(const hs_admin *a, struct MHD_Connection *conn)
{
    if (a->token == NULL)
        return true;
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");
    if (key != NULL && token_matches(a, key))
        return true;
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        return token_matches(a, auth);
    }
    return false;
}

typedef enum {
    ROUTE_NONE,
    ROUTE_HEALTH,
    ROUTE_STATS,
    ROUTE_METRICS,
    ROUTE_RECENT,
    ROUTE_CONFIG
} route;

static route route_of(const char *url)
{
    static const struct {
        const char *path;
        route r;
    } routes[] = {
        {"/health", ROUTE_HEALTH},   {"/stats", ROUTE_STATS},
        {"/metrics", ROUTE_METRICS}, {"/events/recent", ROUTE_RECENT},
        {"/config", ROUTE_CONFIG},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) == 0)
            return routes[i].r;
    }
    return ROUTE_NONE;
}

/* Checks what can be decided from the request line and headers alone:
 * route, method, token and a declared body size. Returns 0 when the request
 * may proceed, else the HTTP status and fills code/message/allow. */
static unsigned precheck(const hs_admin *a, struct MHD_Connection *conn, const char *url,
                         const char *method, const char **code, const char **message,
                         const char **allow)
{
    route r = route_of(url);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool put = strcmp(method, "PUT") == 0;
    *allow = NULL;
    if (r != ROUTE_HEALTH && !authorized(a, conn)) {
        *code = "UNAUTHORIZED";
        *message = "a valid token is required (Authorization: Bearer or X-API-Key)";
        return MHD_HTTP_UNAUTHORIZED;
    }
    if (r == ROUTE_NONE || (r == ROUTE_RECENT && a->h.recent == NULL)) {
        *code = "NOT_FOUND";
        *message = "no such route";
        return MHD_HTTP_NOT_FOUND;
    }
    bool put_ok = r == ROUTE_CONFIG && a->h.config_put != NULL;
    if (!(get || (put && put_ok))) {
        *code = "METHOD_NOT_ALLOWED";
        *message = "method not allowed on this route";
        *allow = put_ok ? "GET, HEAD, PUT" : "GET, HEAD";
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strtoull(cl, NULL, 10) > ADMIN_DRAIN_MAX) {
        *code = "PAYLOAD_TOO_LARGE";
        *message = "the body is over 64 KiB";
        return MHD_HTTP_CONTENT_TOO_LARGE;
    }
    return 0;
}

/* Parses the limit query argument: absent means the default; anything but
 * an integer in 1..RECENT_MAX is an error (-1). */
static int parse_limit(const char *s)
{
    if (s == NULL)
        return RECENT_DEFAULT;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > RECENT_MAX)
        return -1;
    return (int)v;
}

static enum MHD_Result put_config(hs_admin *a, struct MHD_Connection *conn,
                                  const admin_request *rq)
{
    if (rq->too_large)
        return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "PAYLOAD_TOO_LARGE",
                             "the body is over 64 KiB", NULL, NULL);
    json_error_t jerr;
    json_t *body =
        rq->body.len > 0 ? json_loadb(rq->body.data, rq->body.len, 0, &jerr) : NULL;
    if (!json_is_object(body)) {
        char msg[256];
        if (rq->body.len == 0)
            snprintf(msg, sizeof msg, "the body must be a JSON object; it is empty");
        else if (body == NULL)
            snprintf(msg, sizeof msg, "the body is not JSON: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        else
            snprintf(msg, sizeof msg, "the body must be a JSON object");
        json_decref(body);
        return respond_error(conn, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", msg, NULL, NULL);
    }
    char err[256] = "";
    int rc = a->h.config_put(a->h.ud, body, err, sizeof err);
    json_decref(body);
    if (rc != 0)
        return respond_error(conn, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR",
                             err[0] != '\0' ? err : "invalid configuration", NULL, NULL);
    hs_info("admin", "configuration changed through PUT /config");
    return respond_json(conn, MHD_HTTP_OK, a->h.config_get(a->h.ud));
}

/* Answers a request that passed precheck, once its body is complete. */
static enum MHD_Result dispatch(hs_admin *a, struct MHD_Connection *conn, const char *url,
                                const char *method, const admin_request *rq)
{
    switch (route_of(url)) {
    case ROUTE_HEALTH: {
        json_t *h = a->h.health(a->h.ud);
        const char *status = json_string_value(json_object_get(h, "status"));
        bool unhealthy = h == NULL || status == NULL || strcmp(status, "unhealthy") == 0;
        if (h == NULL)
            return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "INTERNAL_ERROR",
                                 "the stage could not report its health", NULL, NULL);
        return respond_json(conn, unhealthy ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                            h);
    }
    case ROUTE_STATS:
        return respond_json(conn, MHD_HTTP_OK, a->h.stats(a->h.ud));
    case ROUTE_METRICS: {
        json_t *s = a->h.stats(a->h.ud);
        char *text = s != NULL ? hs_admin_prometheus(a->stage, s) : NULL;
        json_decref(s);
        if (text == NULL)
            return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                 "could not render the metrics", NULL, NULL);
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, NULL, NULL);
    }
    case ROUTE_RECENT: {
        int limit = parse_limit(
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit"));
        if (limit < 0)
            return respond_error(conn, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                 "limit must be an integer from 1 to 1000", NULL, NULL);
        const char *entity =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity_id");
        if (entity != NULL && entity[0] == '\0')
            entity = NULL;
        return respond_json(conn, MHD_HTTP_OK, a->h.recent(a->h.ud, limit, entity));
    }
    case ROUTE_CONFIG:
        if (strcmp(method, "PUT") == 0)
            return put_config(a, conn, rq);
        return respond_json(conn, MHD_HTTP_OK, a->h.config_get(a->h.ud));
    case ROUTE_NONE:
        break;
    }
    return respond_error(conn, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such route", NULL,
                         NULL);
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     const char *version, const char *upload_data,
                                     size_t *upload_data_size, void **con_cls)
{
    hs_admin *a = cls;
    admin_request *rq = *con_cls;
    if (rq == NULL) {
        rq = calloc(1, sizeof *rq);
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        const char *code, *message, *allow;
        unsigned status = precheck(a, conn, url, method, &code, &message, &allow);
        if (status != 0) {
            hs_debug("admin", "%s %s -> %u %s", method, url, status, code);
            return respond_error(
                conn, status, code, message,
                status == MHD_HTTP_UNAUTHORIZED ? MHD_HTTP_HEADER_WWW_AUTHENTICATE
                : allow != NULL                 ? MHD_HTTP_HEADER_ALLOW
                                                : NULL,
                status == MHD_HTTP_UNAUTHORIZED ? "Bearer realm=\"homestream\"" : allow);
        }
        hs_debug("admin", "%s %s", method, url);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* A body that outgrows the limit is read and dropped, up to
         * ADMIN_DRAIN_MAX, and the answer is 413. */
        if (rq->too_large || rq->body.len + *upload_data_size > ADMIN_BODY_MAX) {
            rq->too_large = true;
            rq->dropped += *upload_data_size;
            if (rq->body.len + rq->dropped > ADMIN_DRAIN_MAX) {
                hs_warn("admin", "%s %s: body over %d bytes, connection closed", method,
                        url, ADMIN_DRAIN_MAX);
                return MHD_NO;
            }
        } else {
            sb_append(&rq->body, upload_data, *upload_data_size);
            if (rq->body.oom)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(a, conn, url, method, rq);
}

static void admin_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    admin_request *rq = *con_cls;
    if (rq != NULL) {
        free(rq->body.data);
        free(rq);
    }
    *con_cls = NULL;
}

static void admin_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Routes libmicrohttpd's messages into hs_log (component "admin"). */
static void admin_log(void *cls, const char *fmt, va_list ap)
{
    hs_admin *a = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pthread_mutex_lock(&a->log_lock);
    if (a->capturing)
        snprintf(a->last_error, sizeof a->last_error, "%s", msg);
    pthread_mutex_unlock(&a->log_lock);
    hs_warn("admin", "%s", msg);
}

/* Splits addr into host (NULL for all interfaces) and port. Returns 0, or -1
 * with a reason. */
static int parse_addr(const char *addr, char *host, size_t hostlen, bool *any,
                      uint16_t *port, char *err, size_t errlen)
{
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "admin address %s: expected [ipv6]:port", addr);
            return -1;
        }
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
            snprintf(err, errlen,
                     "admin address %s: expected host:port, [ipv6]:port or :port", addr);
            return -1;
        }
        hl = (size_t)(colon - addr);
    }
    if (hl >= hostlen) {
        snprintf(err, errlen, "admin address %s: host too long", addr);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *any = hl == 0;

    const char *p = colon + 1;
    unsigned long v = 0;
    if (*p == '\0' || strlen(p) > 5) {
        snprintf(err, errlen, "admin address %s: bad port", addr);
        return -1;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            snprintf(err, errlen, "admin address %s: bad port", addr);
            return -1;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535) {
        snprintf(err, errlen, "admin address %s: port out of range", addr);
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

/* Starts libmicrohttpd on one socket address. */
static struct MHD_Daemon *start_on(hs_admin *a, const struct sockaddr *sa, uint16_t port,
                                   bool dual_stack)
{
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (sa->sa_family == AF_INET6)
        flags |= dual_stack ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    /* An idle connection is dropped after ADMIN_IDLE_TIMEOUT_S: with the
     * connection limit reached by clients that never finish a request, a
     * health check waits at most that long (tests/hostile, slow clients). */
    return MHD_start_daemon(
        flags, port, NULL, NULL, admin_handler, a, MHD_OPTION_EXTERNAL_LOGGER, admin_log,
        a, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED, admin_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)ADMIN_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
}

/* ":port" listens on every interface: IPv6 and IPv4 through one dual-stack
 * socket, or IPv4 only where IPv6 is unavailable. */
static int listen_on(hs_admin *a, const char *addr, char *err, size_t errlen)
{
    char host[256];
    bool any;
    uint16_t port;
    if (parse_addr(addr, host, sizeof host, &any, &port, err, errlen) < 0)
        return -1;

    if (any) {
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        s6.sin6_addr = in6addr_any;
        s6.sin6_port = htons(port);
        a->daemon = start_on(a, (struct sockaddr *)&s6, port, true);
        if (a->daemon == NULL) {
            struct sockaddr_in s4;
            memset(&s4, 0, sizeof s4);
            s4.sin_family = AF_INET;
            s4.sin_addr.s_addr = htonl(INADDR_ANY);
            s4.sin_port = htons(port);
            a->daemon = start_on(a, (struct sockaddr *)&s4, port, false);
        }
    } else {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        char portstr[8];
        snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
        int gai = getaddrinfo(host, portstr, &hints, &res);
        if (gai != 0) {
            snprintf(err, errlen, "admin address %s: %s", addr, gai_strerror(gai));
            return -1;
        }
        for (struct addrinfo *ai = res; ai != NULL && a->daemon == NULL;
             ai = ai->ai_next) {
            bool v6any =
                ai->ai_family == AF_INET6 &&
                IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
            a->daemon = start_on(a, ai->ai_addr, port, v6any);
        }
        freeaddrinfo(res);
    }
    if (a->daemon == NULL) {
        pthread_mutex_lock(&a->log_lock);
        snprintf(err, errlen, "admin endpoint cannot listen on %s: %s", addr,
                 a->last_error[0] != '\0' ? a->last_error : "start failed");
        pthread_mutex_unlock(&a->log_lock);
        return -1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info != NULL && info->port != 0 ? info->port : port;
    return 0;
}

hs_admin *hs_admin_start(const char *addr, const char *stage, const char *token,
                         const hs_admin_handlers *handlers, char *err, size_t errlen)
{
    if (addr == NULL || addr[0] == '\0' || handlers == NULL || handlers->health == NULL ||
        handlers->stats == NULL || handlers->config_get == NULL) {
        snprintf(err, errlen,
                 "admin endpoint: an address and the health, stats and "
                 "config_get handlers are required");
        return NULL;
    }
    hs_admin *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "admin endpoint: out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->log_lock, NULL);
    a->h = *handlers;
    a->stage = strdup(stage != NULL ? stage : "");
    if (token != NULL && token[0] != '\0') {
        a->token = strdup(token);
        a->token_len = strlen(token);
    }
    if (a->stage == NULL || (token != NULL && token[0] != '\0' && a->token == NULL)) {
        snprintf(err, errlen, "admin endpoint: out of memory");
        hs_admin_stop(a);
        return NULL;
    }
    a->capturing = true;
    int rc = listen_on(a, addr, err, errlen);
    pthread_mutex_lock(&a->log_lock);
    a->capturing = false;
    pthread_mutex_unlock(&a->log_lock);
    if (rc < 0) {
        hs_admin_stop(a);
        return NULL;
    }
    hs_info("admin", "admin endpoint listening on %s (port %u)%s", addr, a->port,
            a->token != NULL ? ", token required" : "");
    return a;
}

unsigned hs_admin_port(const hs_admin *admin)
{
    return admin != NULL ? admin->port : 0;
}

void hs_admin_stop(hs_admin *admin)
{
    if (admin == NULL)
        return;
    if (admin->daemon != NULL)
        MHD_stop_daemon(admin->daemon);
    if (admin->token != NULL) {
        /* The token is a secret: do not leave it in freed memory. */
        volatile char *t = admin->token;
        for (size_t i = 0; i < admin->token_len; i++)
            t[i] = '\0';
    }
    free(admin->token);
    free(admin->stage);
    pthread_mutex_destroy(&admin->log_lock);
    free(admin);
}
