/* server.c - the Home Assistant WebSocket API server of homestream-hasim. */
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "history.h"
#include "home.h"
#include "hs_log.h"
#include "hs_time.h"
#include "jbuf.h"
#include "outq.h"

#define COMPONENT "hasim"
#define WS_PATH "/api/websocket"
/* websocket_api/const.py */
#define PENDING_MSG_PEAK 1024
#define PENDING_MSG_PEAK_TIME_US (INT64_C(10) * 1000000)
#define MAX_PENDING_MSG 4096
/* aiohttp's default max_msg_size. */
#define MAX_INCOMING (4u * 1024 * 1024)
#define AUTH_TIMEOUT_US (INT64_C(10) * 1000000)
/* At --rate 0 the stream never lets a subscriber's queue grow past this, so
 * that no subscriber trips HA's pending-message limits; without subscribers
 * it emits FAST_BATCH events per loop pass. */
#define FAST_HIGH_WATER 1000
#define FAST_BATCH 2048
/* At --rate 0, a full subscriber queue pauses the stream until the queue has
 * drained to FAST_LOW_WATER (on_writeable resumes it); the stream also looks
 * again after FAST_RECHECK_US in case no write comes (a stalled client). */
#define FAST_LOW_WATER (FAST_HIGH_WATER / 2)
#define FAST_RECHECK_US 20000
/* lws sleeps in poll() with a timeout in whole milliseconds, rounded down:
 * a timer less than this far away is waited for in server_service(). */
#define SUB_MS_US 1000
#define SLEEP_MIN_US 50

typedef struct sub {
    struct sub *next;
    int64_t id;
    char *event_type; /* "*" matches every event type */
} sub;

typedef enum { PHASE_AUTH, PHASE_COMMAND, PHASE_CLOSING } phase;

/* Per-connection state; lws allocates it zeroed and frees it. */
typedef struct conn {
    struct conn *next, *prev;
    struct lws *wsi;
    bool inited;
    phase ph;
    int64_t last_id;
    bool coalesce;
    sub *subs;
    outq q;
    jbuf rx;
    bool rx_binary;
    bool rx_too_big;
    jbuf frame;
    int64_t events_sent;
    int64_t stalled_until;
    int64_t peak_since;
    bool close_after_flush; /* send what is queued, then close normally */
    int64_t last_rx;        /* when the client last sent anything */
    bool want_ping;         /* a heartbeat ping is due */
    int64_t ping_sent;      /* when the unanswered ping went out, or 0 */
    lws_sorted_usec_list_t sul_wake;
    lws_sorted_usec_list_t sul_auth;
} conn;

struct server {
    hasim_opts o;
    FILE *out;
    FILE *events_log;
    struct lws_protocols protocols[2];
    struct lws_context *ctx;
    home *home;
    history *hist;
    conn *conns;
    int64_t auth_attempts;
    /* the stream */
    bool gen_running;
    bool gen_waiting;   /* --rate 0: paused until a full queue drains */
    int64_t gen_due_us; /* monotonic time of the next generator pass */
    bool done;
    int64_t gen_t0;
    int64_t emitted;
    int64_t emitted_at_t0;
    lws_sorted_usec_list_t sul_gen;
    lws_sorted_usec_list_t sul_commit;
    lws_sorted_usec_list_t sul_house;
    jbuf scratch;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- sending ------------------------------------------------------------- */

static void conn_kill(conn *c, const char *why)
{
    if (c->ph == PHASE_CLOSING && c->close_after_flush == false)
        return;
    hs_warn(COMPONENT, "closing connection: %s", why);
    c->ph = PHASE_CLOSING;
    c->close_after_flush = false;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Queues a message; applies HA's pending-message limits (http.py
 * _send_message): a client MAX_PENDING_MSG behind is closed at once, one more
 * than PENDING_MSG_PEAK behind for PENDING_MSG_PEAK_TIME is closed later. */
static void conn_sendv(conn *c, const char *const *parts, const size_t *lens, int n,
                       int64_t not_before, bool is_event)
{
    if (c->ph == PHASE_CLOSING)
        return;
    size_t before = c->q.count;
    if (before >= MAX_PENDING_MSG) {
        conn_kill(c, "client unable to keep up with pending messages (max pending)");
        return;
    }
    if (outq_push(&c->q, parts, lens, n, not_before, false, is_event) < 0) {
        conn_kill(c, "out of memory");
        return;
    }
    if (before <= PENDING_MSG_PEAK)
        c->peak_since = 0;
    else if (c->peak_since == 0)
        c->peak_since = mono_us();
    if (c->stalled_until == 0)
        lws_callback_on_writable(c->wsi);
}

static void conn_send(conn *c, const char *text, size_t len)
{
    conn_sendv(c, &text, &len, 1, 0, false);
}

static void send_result_raw(conn *c, int64_t id, const char *raw, size_t raw_len,
                            int64_t not_before)
{
    char head[64];
    int hl = snprintf(head, sizeof head,
                      "{\"id\":%lld,\"type\":\"result\",\"success\":true,"
                      "\"result\":",
                      (long long)id);
    const char *parts[3] = {head, raw, "}"};
    size_t lens[3] = {(size_t)hl, raw_len, 1};
    conn_sendv(c, parts, lens, 3, not_before, false);
}

static void send_result_null(conn *c, int64_t id)
{
    send_result_raw(c, id, "null", 4, 0);
}

/* An error result; id_json is the id as JSON text ("null" when absent). */
static void send_error_idjson(conn *c, const char *id_json, const char *code,
                              const char *message)
{
    jbuf b;
    jbuf_init(&b, 0);
    jbuf_puts(&b, "{\"id\":");
    jbuf_puts(&b, id_json);
    jbuf_puts(&b, ",\"type\":\"result\",\"success\":false,\"error\":{\"code\":");
    jbuf_put_jcstr(&b, code);
    jbuf_puts(&b, ",\"message\":");
    jbuf_put_jcstr(&b, message);
    jbuf_puts(&b, "}}");
    if (!jbuf_failed(&b))
        conn_send(c, b.data, b.len);
    jbuf_fini(&b);
}

static void send_error(conn *c, int64_t id, const char *code, const char *message)
{
    char idj[24];
    snprintf(idj, sizeof idj, "%lld", (long long)id);
    send_error_idjson(c, idj, code, message);
}

/* Sends a message built in s->scratch as the result of id. */
static void send_scratch_result(server *s, conn *c, int64_t id, int64_t not_before)
{
    if (jbuf_failed(&s->scratch)) {
        send_error(c, id, "unknown_error", "Unknown error");
    } else {
        send_result_raw(c, id, s->scratch.data, s->scratch.len, not_before);
    }
    jbuf_reset(&s->scratch);
}

static void broadcast(server *s, const char *event_type, const rstr *event)
{
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->ph != PHASE_COMMAND)
            continue;
        for (sub *u = c->subs; u != NULL; u = u->next) {
            if (strcmp(u->event_type, "*") != 0 && strcmp(u->event_type, event_type) != 0)
                continue;
            char head[48];
            int hl =
                snprintf(head, sizeof head,
                         "{\"id\":%lld,\"type\":\"event\",\"event\":", (long long)u->id);
            const char *parts[3] = {head, event->data, "}"};
            size_t lens[3] = {(size_t)hl, event->len, 1};
            conn_sendv(c, parts, lens, 3, 0, true);
        }
    }
}

/* ---- the stream ---------------------------------------------------------- */

static void gen_tick(lws_sorted_usec_list_t *sul);

/* Schedules the generator's next pass in us microseconds. */
static void gen_schedule(server *s, int64_t us)
{
    s->gen_due_us = mono_us() + us;
    lws_sul_schedule(s->ctx, 0, &s->sul_gen, gen_tick, (lws_usec_t)us);
}

static void stream_start(server *s)
{
    if (s->gen_running || s->done)
        return;
    s->gen_running = true;
    s->gen_t0 = mono_us();
    s->emitted_at_t0 = s->emitted;
    hs_info(COMPONENT, "event stream started (rate %g/s, events %lld)", s->o.rate,
            (long long)s->o.events);
    gen_schedule(s, 1);
}

static int record_state(server *s, int entity)
{
    home_state st;
    home_get(s->home, entity, &st);
    if (history_add(s->hist, entity, &st) < 0)
        return -1;
    if (s->o.recorder_commit_ms == 0)
        history_commit(s->hist);
    return 0;
}

static int emit_one(server *s)
{
    home_change ch;
    if (home_step(s->home, wall_us(), &ch) < 0)
        return -1;
    int rc = record_state(s, ch.entity);
    if (ch.registry_event != NULL)
        broadcast(s, "entity_registry_updated", ch.registry_event);
    if (s->events_log != NULL) {
        fwrite(ch.event->data, 1, ch.event->len, s->events_log);
        fputc('\n', s->events_log);
        if (fflush(s->events_log) != 0 && rc == 0) {
            hs_error(COMPONENT, "cannot write the events log: %s", strerror(errno));
            rc = -1;
        }
    }
    broadcast(s, "state_changed", ch.event);
    rstr_unref(ch.event);
    rstr_unref(ch.registry_event);
    s->emitted++;
    return rc;
}

/* The longest queue of a subscribed connection, or -1 without any. */
static long longest_queue(const server *s)
{
    long longest = -1;
    for (const conn *c = s->conns; c != NULL; c = c->next)
        if (c->ph == PHASE_COMMAND && c->subs != NULL && (long)c->q.count > longest)
            longest = (long)c->q.count;
    return longest;
}

static void gen_tick(lws_sorted_usec_list_t *sul)
{
    server *s = lws_container_of(sul, server, sul_gen);
    s->gen_waiting = false;
    if (!s->gen_running)
        return;
    int64_t now = mono_us();
    int64_t budget;
    int64_t next;
    if (s->o.rate > 0) {
        double due = (double)(now - s->gen_t0) / 1e6 * s->o.rate;
        budget = (int64_t)due - (s->emitted - s->emitted_at_t0);
        if (budget > 5000)
            budget = 5000;
        double interval = 1e6 / s->o.rate;
        next = (int64_t)(interval < 1000 ? 1000 : interval > 50000 ? 50000 : interval);
    } else {
        long q = longest_queue(s);
        budget = q < 0 ? FAST_BATCH : FAST_HIGH_WATER - q;
        next = 1;
        if (budget <= 0) {
            s->gen_waiting = true;
            next = FAST_RECHECK_US;
        }
    }
    for (int64_t i = 0; i < budget; i++) {
        if (s->o.events > 0 && s->emitted >= s->o.events)
            break;
        if (emit_one(s) < 0) {
            hs_error(COMPONENT, "event generation failed; the stream stops");
            s->gen_running = false;
            return;
        }
    }
    if (s->o.events > 0 && s->emitted >= s->o.events) {
        s->gen_running = false;
        s->done = true;
        fprintf(s->out, "DONE=%lld\n", (long long)s->emitted);
        fflush(s->out);
        hs_info(COMPONENT, "all %lld events emitted; still serving",
                (long long)s->emitted);
        return;
    }
    gen_schedule(s, next);
}

static void commit_tick(lws_sorted_usec_list_t *sul)
{
    server *s = lws_container_of(sul, server, sul_commit);
    history_commit(s->hist);
    lws_sul_schedule(s->ctx, 0, &s->sul_commit, commit_tick,
                     (lws_usec_t)s->o.recorder_commit_ms * 1000);
}

static void house_tick(lws_sorted_usec_list_t *sul)
{
    server *s = lws_container_of(sul, server, sul_house);
    int64_t now = mono_us();
    int64_t hb = s->o.heartbeat_s * 1000000;
    for (conn *c = s->conns; c != NULL; c = c->next) {
        if (c->ph == PHASE_CLOSING)
            continue;
        /* http.py _check_write_peak: still PENDING_MSG_PEAK behind when the
         * timer fires closes the client; otherwise the timer is done. */
        if (c->peak_since != 0 && now - c->peak_since >= PENDING_MSG_PEAK_TIME_US) {
            c->peak_since = 0;
            if (c->q.count >= PENDING_MSG_PEAK) {
                conn_kill(c, "client unable to keep up with pending messages (peak)");
                continue;
            }
        }
        /* aiohttp's heartbeat: a ping after heartbeat seconds of silence,
         * and the connection is dropped when no pong comes within half of
         * that. */
        if (hb <= 0)
            continue;
        if (c->ping_sent != 0 && now - c->ping_sent >= hb / 2) {
            conn_kill(c, "no pong to the heartbeat ping");
        } else if (c->ping_sent == 0 && !c->want_ping && now - c->last_rx >= hb) {
            c->want_ping = true;
            lws_callback_on_writable(c->wsi);
        }
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_house, house_tick, 100000);
}

/* ---- command validation (voluptuous-like messages) ------------------------ */

typedef enum { F_STR, F_POS_INT, F_BOOL, F_STR_LIST, F_FEATURES } ftype;

typedef struct {
    const char *name;
    ftype type;
    bool required;
} field;

/* Python's repr() of a JSON value, enough for error messages. */
static void py_repr(const json_t *v, jbuf *b)
{
    if (v == NULL || json_is_null(v)) {
        jbuf_puts(b, "None");
    } else if (json_is_true(v)) {
        jbuf_puts(b, "True");
    } else if (json_is_false(v)) {
        jbuf_puts(b, "False");
    } else if (json_is_integer(v)) {
        jbuf_put_i64(b, (int64_t)json_integer_value(v));
    } else if (json_is_real(v)) {
        jbuf_put_double(b, json_real_value(v));
    } else if (json_is_string(v)) {
        jbuf_putc(b, '\'');
        jbuf_put(b, json_string_value(v), json_string_length(v));
        jbuf_putc(b, '\'');
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (t != NULL) {
            jbuf_puts(b, t);
            free(t);
        }
    }
}

static bool field_ok(ftype t, const json_t *v)
{
    switch (t) {
    case F_STR:
        return json_is_string(v);
    case F_POS_INT:
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case F_BOOL:
        return json_is_boolean(v);
    case F_STR_LIST: {
        if (!json_is_array(v))
            return false;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                return false;
        return true;
    }
    case F_FEATURES: {
        if (!json_is_object(v))
            return false;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!json_is_integer(x))
                return false;
        }
        return true;
    }
    }
    return false;
}

static const char *const type_words[] = {[F_STR] = "expected str",
                                         [F_POS_INT] = "expected int",
                                         [F_BOOL] = "expected bool",
                                         [F_STR_LIST] = "expected a list",
                                         [F_FEATURES] = "expected a dictionary"};

/* Checks msg against the command's fields (plus "id" and "type"). Returns
 * true, or false with HA's humanized message in err. */
static bool validate(const json_t *msg, const field *fields, jbuf *err)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)msg, key, val)
    {
        if (strcmp(key, "id") == 0 || strcmp(key, "type") == 0)
            continue;
        const field *f = fields;
        while (f != NULL && f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        if (f == NULL || f->name == NULL) {
            jbuf_puts(err, "extra keys not allowed @ data['");
            jbuf_puts(err, key);
            jbuf_puts(err, "']. Got ");
            py_repr(val, err);
            return false;
        }
        if (!field_ok(f->type, val)) {
            jbuf_puts(err, type_words[f->type]);
            jbuf_puts(err, " for dictionary value @ data['");
            jbuf_puts(err, key);
            jbuf_puts(err, "']. Got ");
            py_repr(val, err);
            return false;
        }
    }
    for (const field *f = fields; f != NULL && f->name != NULL; f++) {
        if (f->required && json_object_get(msg, f->name) == NULL) {
            jbuf_puts(err, "required key not provided @ data['");
            jbuf_puts(err, f->name);
            jbuf_puts(err, "']. Got None");
            return false;
        }
    }
    return true;
}

static bool opt_bool(const json_t *msg, const char *key, bool def)
{
    const json_t *v = json_object_get(msg, key);
    return v != NULL ? json_is_true(v) : def;
}

/* ---- commands ------------------------------------------------------------- */

typedef void (*cmd_fn)(server *s, conn *c, const json_t *msg, int64_t id);

static void cmd_ping(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)s;
    (void)msg;
    char t[64];
    int n = snprintf(t, sizeof t, "{\"id\":%lld,\"type\":\"pong\"}", (long long)id);
    conn_send(c, t, (size_t)n);
}

static void cmd_supported_features(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)s;
    c->coalesce =
        json_object_get(json_object_get(msg, "features"), "coalesce_messages") != NULL;
    send_result_null(c, id);
}

static void cmd_subscribe_events(server *s, conn *c, const json_t *msg, int64_t id)
{
    const json_t *et = json_object_get(msg, "event_type");
    sub *u = calloc(1, sizeof *u);
    if (u != NULL)
        u->event_type = strdup(et != NULL ? json_string_value(et) : "*");
    if (u == NULL || u->event_type == NULL) {
        free(u);
        send_error(c, id, "unknown_error", "Unknown error");
        return;
    }
    u->id = id;
    /* Listeners fire in the order they subscribed. */
    sub **tail = &c->subs;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = u;
    send_result_null(c, id);
    if (s->o.start_on_subscribe && !s->o.start_on_signal &&
        (strcmp(u->event_type, "*") == 0 || strcmp(u->event_type, "state_changed") == 0))
        stream_start(s);
}

static void cmd_unsubscribe_events(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)s;
    int64_t want = (int64_t)json_integer_value(json_object_get(msg, "subscription"));
    for (sub **p = &c->subs; *p != NULL; p = &(*p)->next) {
        if ((*p)->id == want) {
            sub *u = *p;
            *p = u->next;
            free(u->event_type);
            free(u);
            send_result_null(c, id);
            return;
        }
    }
    send_error(c, id, "not_found", "Subscription not found.");
}

static void cmd_get_states(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)msg;
    home_states_json(s->home, &s->scratch);
    int64_t nb =
        s->o.slow_get_states_ms > 0 ? mono_us() + s->o.slow_get_states_ms * 1000 : 0;
    send_scratch_result(s, c, id, nb);
}

static void cmd_get_config(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)msg;
    home_config_json(s->home, &s->scratch);
    send_scratch_result(s, c, id, 0);
}

static void cmd_areas(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)msg;
    home_areas_json(s->home, &s->scratch);
    send_scratch_result(s, c, id, 0);
}

static void cmd_devices(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)msg;
    home_devices_json(s->home, &s->scratch);
    send_scratch_result(s, c, id, 0);
}

static void cmd_entities(server *s, conn *c, const json_t *msg, int64_t id)
{
    (void)msg;
    home_entities_json(s->home, &s->scratch);
    send_scratch_result(s, c, id, 0);
}

/* entity_registry.py websocket_get_entity. */
static void cmd_entity_get(server *s, conn *c, const json_t *msg, int64_t id)
{
    const char *entity_id = json_string_value(json_object_get(msg, "entity_id"));
    if (home_entity_json(s->home, entity_id, &s->scratch) != 0) {
        send_error(c, id, "not_found", "Entity not found");
        return;
    }
    send_scratch_result(s, c, id, 0);
}

/* Parses a time as dt_util.parse_datetime would; naive times are UTC (the
 * simulated home's time zone). Returns 0 and sets *us, or -1. */
static int parse_time(const char *text, int64_t *us)
{
    int64_t ns;
    if (hs_time_parse_iso(text, &ns) == 0) {
        *us = ns >= 0 ? ns / 1000 : -((-ns + 999) / 1000);
        return 0;
    }
    char tmp[96];
    if (strlen(text) + 7 > sizeof tmp)
        return -1;
    snprintf(tmp, sizeof tmp, "%s+00:00", text);
    if (hs_time_parse_iso(tmp, &ns) == 0) {
        *us = ns / 1000;
        return 0;
    }
    return -1;
}

static void cmd_history(server *s, conn *c, const json_t *msg, int64_t id)
{
    int64_t start, end = 0;
    if (parse_time(json_string_value(json_object_get(msg, "start_time")), &start) < 0) {
        send_error(c, id, "invalid_start_time", "Invalid start_time");
        return;
    }
    const json_t *end_v = json_object_get(msg, "end_time");
    bool has_end = end_v != NULL && json_string_length(end_v) > 0;
    if (has_end && parse_time(json_string_value(end_v), &end) < 0) {
        send_error(c, id, "invalid_end_time", "Invalid end_time");
        return;
    }
    if (start > wall_us()) {
        send_result_raw(c, id, "{}", 2, 0);
        return;
    }
    const json_t *ids = json_object_get(msg, "entity_ids");
    int n = ids != NULL ? (int)json_array_size(ids) : home_count(s->home);
    if (ids != NULL && n == 0) {
        /* recorder: get_significant_states raises ValueError, which the
         * websocket API reports as an unknown error. */
        send_error(c, id, "unknown_error", "Unknown error");
        return;
    }
    if (ids == NULL)
        hs_warn(COMPONENT, "history_during_period without entity_ids: real HA answers "
                           "invalid_format (it is required since 2023)");
    int *idx = calloc((size_t)n + 1, sizeof *idx);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    size_t *dlen = calloc((size_t)n + 1, sizeof *dlen);
    if (idx == NULL || names == NULL || dlen == NULL) {
        free(idx);
        free(names);
        free(dlen);
        send_error(c, id, "unknown_error", "Unknown error");
        return;
    }
    int m = 0;
    bool bad = false;
    for (int i = 0; i < n; i++) {
        if (ids != NULL) {
            const char *eid = json_string_value(json_array_get(ids, (size_t)i));
            int k = home_find(s->home, eid);
            if (k < 0 && !home_valid_entity_id(eid)) {
                bad = true;
                break;
            }
            idx[m] = k;
            names[m] = eid;
            const char *dot = strchr(eid, '.');
            dlen[m] = dot != NULL ? (size_t)(dot - eid) : strlen(eid);
            m++;
        } else if (home_present(s->home, i)) {
            home_state st;
            home_get(s->home, i, &st);
            idx[m] = i;
            names[m] = st.entity_id;
            dlen[m] = st.domain_len;
            m++;
        }
    }
    if (bad) {
        send_error(c, id, "invalid_entity_ids", "Invalid entity_ids");
    } else if (has_end && !history_has_states_before(s->hist, end)) {
        send_result_raw(c, id, "{}", 2, 0);
    } else {
        history_query q = {
            .start_us = start,
            .has_end = has_end,
            .end_us = end,
            .include_start_time_state = opt_bool(msg, "include_start_time_state", true),
            .significant_changes_only = opt_bool(msg, "significant_changes_only", true),
            .minimal_response = opt_bool(msg, "minimal_response", false),
            .no_attributes = opt_bool(msg, "no_attributes", false),
            .n = m,
            .entity = idx,
            .entity_id = names,
            .domain_len = dlen,
        };
        history_query_json(s->hist, &q, &s->scratch);
        send_scratch_result(s, c, id, 0);
    }
    free(idx);
    free(names);
    free(dlen);
}

static const field f_none[] = {{NULL, F_STR, false}};
static const field f_features[] = {{"features", F_FEATURES, true}, {NULL, F_STR, false}};
static const field f_entity_get[] = {{"entity_id", F_STR, true}, {NULL, F_STR, false}};
static const field f_subscribe[] = {{"event_type", F_STR, false}, {NULL, F_STR, false}};
static const field f_unsubscribe[] = {{"subscription", F_POS_INT, true},
                                      {NULL, F_STR, false}};
static const field f_history[] = {
    {"start_time", F_STR, true},
    {"end_time", F_STR, false},
    {"entity_ids", F_STR_LIST, true},
    {"include_start_time_state", F_BOOL, false},
    {"significant_changes_only", F_BOOL, false},
    {"minimal_response", F_BOOL, false},
    {"no_attributes", F_BOOL, false},
    {NULL, F_STR, false},
};
static const field f_history_lenient[] = {
    {"start_time", F_STR, true},
    {"end_time", F_STR, false},
    {"entity_ids", F_STR_LIST, false},
    {"include_start_time_state", F_BOOL, false},
    {"significant_changes_only", F_BOOL, false},
    {"minimal_response", F_BOOL, false},
    {"no_attributes", F_BOOL, false},
    {NULL, F_STR, false},
};

typedef struct {
    const char *type;
    cmd_fn fn;
    const field *fields;
} command;

static const command commands[] = {
    {"ping", cmd_ping, f_none},
    {"supported_features", cmd_supported_features, f_features},
    {"subscribe_events", cmd_subscribe_events, f_subscribe},
    {"unsubscribe_events", cmd_unsubscribe_events, f_unsubscribe},
    {"get_states", cmd_get_states, f_none},
    {"get_config", cmd_get_config, f_none},
    {"config/area_registry/list", cmd_areas, f_none},
    {"config/device_registry/list", cmd_devices, f_none},
    {"config/entity_registry/list", cmd_entities, f_none},
    {"config/entity_registry/get", cmd_entity_get, f_entity_get},
    {"history/history_during_period", cmd_history, f_history},
};

/* connection.py ActiveConnection.async_handle, for one message. */
static void handle_command(server *s, conn *c, const json_t *msg)
{
    const json_t *idv = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
    const json_t *tv = json_is_object(msg) ? json_object_get(msg, "type") : NULL;
    if (!json_is_object(msg) || !json_is_integer(idv) || json_integer_value(idv) == 0 ||
        !json_is_string(tv) || json_string_length(tv) == 0) {
        hs_warn(COMPONENT, "received invalid command");
        char *idj = NULL;
        if (json_is_object(msg))
            idj = idv != NULL ? json_dumps(idv, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        send_error_idjson(c,
                          idj != NULL           ? idj
                          : json_is_object(msg) ? "null"
                                                : "0",
                          "invalid_format", "Message incorrectly formatted.");
        free(idj);
        return;
    }
    int64_t id = (int64_t)json_integer_value(idv);
    if (id <= c->last_id) {
        send_error(c, id, "id_reuse", "Identifier values have to increase.");
        return;
    }
    const char *type = json_string_value(tv);
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].type, type) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        hs_info(COMPONENT, "received unknown command: %s", type);
        send_error(c, id, "unknown_command", "Unknown command.");
        return;
    }
    const field *fields = cmd->fields;
    if (cmd->fn == cmd_history && !s->o.strict_history)
        fields = f_history_lenient;
    jbuf err;
    jbuf_init(&err, 0);
    if (validate(msg, fields, &err))
        cmd->fn(s, c, msg, id);
    else
        send_error(c, id, "invalid_format", err.data != NULL ? err.data : "invalid");
    jbuf_fini(&err);
    c->last_id = id;
}

/* auth.py AuthPhase.async_handle. */
static void handle_auth(server *s, conn *c, const json_t *msg)
{
    jbuf err;
    jbuf_init(&err, 0);
    bool ok_format = false;
    if (!json_is_object(msg)) {
        jbuf_puts(&err, "expected a dictionary");
    } else {
        const json_t *t = json_object_get(msg, "type");
        const char *key;
        json_t *val;
        ok_format = true;
        json_object_foreach((json_t *)msg, key, val)
        {
            if (strcmp(key, "type") != 0 && strcmp(key, "access_token") != 0 &&
                strcmp(key, "api_password") != 0) {
                jbuf_puts(&err, "extra keys not allowed @ data['");
                jbuf_puts(&err, key);
                jbuf_puts(&err, "']. Got ");
                py_repr(val, &err);
                ok_format = false;
                break;
            }
            if (strcmp(key, "type") != 0 && !json_is_string(val)) {
                jbuf_puts(&err, "expected str for dictionary value @ data['");
                jbuf_puts(&err, key);
                jbuf_puts(&err, "']. Got ");
                py_repr(val, &err);
                ok_format = false;
                break;
            }
        }
        if (ok_format && t == NULL) {
            jbuf_puts(&err, "required key not provided @ data['type']. Got None");
            ok_format = false;
        } else if (ok_format &&
                   !(json_is_string(t) && strcmp(json_string_value(t), "auth") == 0)) {
            jbuf_puts(&err, "value must be one of ['auth'] for dictionary value @ "
                            "data['type']. Got ");
            py_repr(t, &err);
            ok_format = false;
        } else if (ok_format && json_object_get(msg, "access_token") != NULL &&
                   json_object_get(msg, "api_password") != NULL) {
            jbuf_puts(&err, "two or more values in the same group of exclusion 'auth' @ "
                            "data[<auth>]");
            ok_format = false;
        }
    }
    jbuf out;
    jbuf_init(&out, 0);
    if (!ok_format) {
        jbuf text;
        jbuf_init(&text, 0);
        jbuf_puts(&text, "Auth message incorrectly formatted: ");
        if (err.data != NULL)
            jbuf_put(&text, err.data, err.len);
        jbuf_puts(&out, "{\"type\":\"auth_invalid\",\"message\":");
        if (text.data != NULL)
            jbuf_put_jstr(&out, text.data, text.len);
        jbuf_putc(&out, '}');
        if (jbuf_failed(&text))
            out.failed = true;
        jbuf_fini(&text);
        hs_warn(COMPONENT, "auth message incorrectly formatted");
    } else {
        const json_t *tok = json_object_get(msg, "access_token");
        s->auth_attempts++;
        bool good = tok != NULL && strcmp(json_string_value(tok), s->o.token) == 0 &&
                    json_string_length(tok) == strlen(s->o.token);
        if (good && s->auth_attempts <= s->o.auth_fail_first) {
            hs_info(COMPONENT, "rejecting auth attempt %lld of the first %lld (fault)",
                    (long long)s->auth_attempts, (long long)s->o.auth_fail_first);
            good = false;
        }
        if (good) {
            jbuf_puts(&out,
                      "{\"type\":\"auth_ok\",\"ha_version\":\"" HASIM_HA_VERSION "\"}");
            c->ph = PHASE_COMMAND;
            lws_sul_cancel(&c->sul_auth);
        } else {
            jbuf_puts(&out,
                      "{\"type\":\"auth_invalid\",\"message\":\"Invalid access token or "
                      "password\"}");
        }
    }
    if (!jbuf_failed(&out))
        conn_send(c, out.data, out.len);
    if (c->ph == PHASE_AUTH) {
        c->ph = PHASE_CLOSING;
        c->close_after_flush = true;
        lws_callback_on_writable(c->wsi);
    }
    jbuf_fini(&out);
    jbuf_fini(&err);
}

/* One complete WebSocket message from the client. Returns -1 to close. */
static int handle_message(server *s, conn *c)
{
    if (c->ph == PHASE_CLOSING)
        return 0;
    if (c->rx_binary) {
        /* http.py: binary frames go to registered binary handlers (we have
         * none); an empty one, or any in the auth phase, disconnects. */
        if (c->ph == PHASE_AUTH || c->rx.len < 1) {
            hs_warn(COMPONENT, "disconnecting: received invalid binary message");
            c->ph = PHASE_CLOSING;
            c->close_after_flush = true;
            lws_callback_on_writable(c->wsi);
        } else {
            hs_warn(COMPONENT, "received binary message for non-existing handler %d",
                    (unsigned char)c->rx.data[0]);
        }
        return 0;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(c->rx.data != NULL ? c->rx.data : "", c->rx.len,
                             JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (msg == NULL) {
        /* http.py: "Received invalid JSON." ends the connection after the
         * queued messages are written. */
        hs_warn(COMPONENT, "disconnecting: received invalid JSON (%s)", jerr.text);
        c->ph = PHASE_CLOSING;
        c->close_after_flush = true;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->ph == PHASE_AUTH) {
        handle_auth(s, c, msg);
    } else if (json_is_array(msg)) {
        for (size_t i = 0; i < json_array_size(msg); i++)
            handle_command(s, c, json_array_get(msg, i));
    } else {
        handle_command(s, c, msg);
    }
    json_decref(msg);
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static void wake_cb(lws_sorted_usec_list_t *sul)
{
    conn *c = lws_container_of(sul, conn, sul_wake);
    c->stalled_until = 0;
    if (c->wsi != NULL)
        lws_callback_on_writable(c->wsi);
}

static void auth_timeout_cb(lws_sorted_usec_list_t *sul)
{
    conn *c = lws_container_of(sul, conn, sul_auth);
    if (c->ph == PHASE_AUTH) {
        hs_warn(COMPONENT,
                "disconnecting: did not receive auth message within 10 seconds");
        c->ph = PHASE_CLOSING;
        c->close_after_flush = true;
        lws_callback_on_writable(c->wsi);
    }
}

/* How many more events may go out before a fault option triggers. */
static int64_t events_room(const server *s, const conn *c)
{
    int64_t room = INT64_MAX;
    const int64_t every[3] = {s->o.drop_after, s->o.stall_ms > 0 ? s->o.stall_every : 0,
                              s->o.bad_frame_every};
    for (int i = 0; i < 3; i++) {
        if (every[i] > 0) {
            int64_t r = every[i] - c->events_sent % every[i];
            if (r < room)
                room = r;
        }
    }
    return room;
}

/* Applies the fault options after events were sent. Returns -1 to drop. */
static int after_events(server *s, conn *c, int64_t before)
{
    int64_t now_sent = c->events_sent;
    if (now_sent == before)
        return 0;
    if (s->o.drop_after > 0 && now_sent % s->o.drop_after == 0) {
        hs_info(COMPONENT, "dropping connection after %lld events (fault)",
                (long long)now_sent);
        return -1;
    }
    if (s->o.bad_frame_every > 0 && now_sent % s->o.bad_frame_every == 0) {
        static const char bad[] =
            "{\"id\":1,\"type\":\"event\",\"event\":{\"event_type\":"
            "\"state_changed\",\"data\":{\"entity_id\":\"sensor.hasim_"
            "bad_frame\",\"old_st";
        if (outq_push_front(&c->q, bad, sizeof bad - 1, true) < 0)
            return -1;
    }
    if (s->o.stall_ms > 0 && s->o.stall_every > 0 && now_sent % s->o.stall_every == 0) {
        c->stalled_until = mono_us() + s->o.stall_ms * 1000;
        lws_sul_schedule(s->ctx, 0, &c->sul_wake, wake_cb,
                         (lws_usec_t)s->o.stall_ms * 1000);
    }
    return 0;
}

/* LWS_CALLBACK_SERVER_WRITEABLE: sends queued messages, coalesced into JSON
 * arrays when the client asked for it, until the socket would block. */
static int on_writeable(server *s, conn *c)
{
    int64_t now = mono_us();
    if (c->stalled_until != 0 && now < c->stalled_until)
        return 0;
    if (c->want_ping) {
        unsigned char ping[LWS_PRE + 4];
        memcpy(ping + LWS_PRE, "hbt!", 4);
        if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
            return -1;
        c->want_ping = false;
        c->ping_sent = now;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    for (int frames = 0; frames < 16; frames++) {
        if (c->q.head == NULL) {
            if (c->close_after_flush) {
                lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
                return -1;
            }
            return 0;
        }
        if (c->q.head->not_before_us > now) {
            lws_sul_schedule(s->ctx, 0, &c->sul_wake, wake_cb,
                             (lws_usec_t)(c->q.head->not_before_us - now));
            return 0;
        }
        if (frames > 0 && lws_send_pipe_choked(c->wsi))
            break;
        jbuf *f = &c->frame;
        jbuf_reset(f);
        int64_t before = c->events_sent;
        int64_t room = events_room(s, c);
        outq_item *it = outq_pop(&c->q);
        bool alone = it->alone || !c->coalesce || c->q.head == NULL || c->q.head->alone ||
                     c->q.head->not_before_us > now || (it->is_event && room <= 1);
        if (alone) {
            jbuf_put(f, it->data, it->len);
            if (it->is_event)
                c->events_sent++;
            free(it);
        } else {
            int n = 0;
            jbuf_putc(f, '[');
            for (;;) {
                if (n > 0)
                    jbuf_putc(f, ',');
                jbuf_put(f, it->data, it->len);
                if (it->is_event) {
                    c->events_sent++;
                    room--;
                }
                free(it);
                n++;
                outq_item *nx = c->q.head;
                if (n >= s->o.coalesce_max || nx == NULL || nx->alone ||
                    nx->not_before_us > now || room <= 0 || (nx->is_event && room < 1))
                    break;
                it = outq_pop(&c->q);
            }
            jbuf_putc(f, ']');
        }
        if (jbuf_failed(f))
            return -1;
        int w = lws_write(c->wsi, (unsigned char *)f->data, f->len, LWS_WRITE_TEXT);
        if (w < (int)f->len) {
            hs_info(COMPONENT, "write to client failed (client gone)");
            return -1;
        }
        if (after_events(s, c, before) < 0)
            return -1;
        if (c->stalled_until != 0)
            return 0;
    }
    if (c->q.head != NULL || c->close_after_flush)
        lws_callback_on_writable(c->wsi);
    /* A flood paused for this queue resumes once it has drained. */
    if (s->gen_waiting && c->subs != NULL && c->q.count <= FAST_LOW_WATER) {
        s->gen_waiting = false;
        gen_schedule(s, 0);
    }
    return 0;
}

/* ---- the lws protocol callback ------------------------------------------- */

static void conn_cleanup(server *s, conn *c)
{
    if (!c->inited)
        return;
    lws_sul_cancel(&c->sul_wake);
    lws_sul_cancel(&c->sul_auth);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    while (c->subs != NULL) {
        sub *u = c->subs;
        c->subs = u->next;
        free(u->event_type);
        free(u);
    }
    outq_fini(&c->q);
    jbuf_fini(&c->rx);
    jbuf_fini(&c->frame);
    c->inited = false;
    c->wsi = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    server *s = proto != NULL ? proto->user : NULL;
    conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[256];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 ||
            strcmp(uri, WS_PATH) != 0) {
            hs_warn(COMPONENT, "rejecting WebSocket upgrade for another path");
            return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->inited = true;
        c->ph = PHASE_AUTH;
        c->last_rx = mono_us();
        outq_init(&c->q);
        jbuf_init(&c->rx, 0);
        jbuf_init(&c->frame, LWS_PRE);
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        hs_info(COMPONENT, "client connected");
        static const char req[] =
            "{\"type\":\"auth_required\",\"ha_version\":\"" HASIM_HA_VERSION "\"}";
        conn_send(c, req, sizeof req - 1);
        lws_sul_schedule(s->ctx, 0, &c->sul_auth, auth_timeout_cb, AUTH_TIMEOUT_US);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c->inited) {
            c->ping_sent = 0;
            c->last_rx = mono_us();
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c->inited)
            return -1;
        c->last_rx = mono_us();
        if (lws_is_first_fragment(wsi)) {
            jbuf_reset(&c->rx);
            c->rx_binary = lws_frame_is_binary(wsi);
            c->rx_too_big = false;
        }
        if (c->rx.len + len > MAX_INCOMING)
            c->rx_too_big = true;
        if (!c->rx_too_big)
            jbuf_put(&c->rx, in, len);
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            return 0;
        if (c->rx_too_big || jbuf_failed(&c->rx)) {
            hs_warn(COMPONENT, "disconnecting: message too big");
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
            return -1;
        }
        return handle_message(s, c);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->inited)
            return -1;
        if (c->ph == PHASE_CLOSING && !c->close_after_flush)
            return -1;
        return on_writeable(s, c);
    case LWS_CALLBACK_CLOSED:
        if (c != NULL && c->inited)
            hs_info(COMPONENT, "client disconnected");
        if (c != NULL)
            conn_cleanup(s, c);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void lws_log_to_hs(int level, const char *line)
{
    size_t n = strlen(line);
    char tmp[512];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, line, n);
    while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
        n--;
    tmp[n] = '\0';
    if (level & LLL_ERR)
        hs_error("lws", "%s", tmp);
    else
        hs_warn("lws", "%s", tmp);
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

server *server_new(const hasim_opts *opts, FILE *out, char *err, size_t errlen)
{
    server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->o = *opts;
    s->out = out;
    jbuf_init(&s->scratch, 0);
    if (s->o.coalesce_max < 1)
        s->o.coalesce_max = INT_MAX;

    int64_t now = wall_us();
    home_opts ho = {.seed = opts->seed,
                    .entities = opts->entities,
                    .late_entities = opts->late_entities,
                    .large_kb = opts->huge_states_kb};
    s->home = home_new(&ho, now, err, errlen);
    if (s->home == NULL) {
        server_free(s);
        return NULL;
    }
    s->hist = history_new(home_count(s->home), (size_t)opts->history_max, now - 1);
    if (s->hist == NULL) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    for (int i = 0; i < home_count(s->home); i++) {
        if (home_present(s->home, i) && record_state(s, i) < 0) {
            snprintf(err, errlen, "out of memory");
            server_free(s);
            return NULL;
        }
    }
    if (opts->events_log != NULL) {
        s->events_log = fopen(opts->events_log, "a");
        if (s->events_log == NULL) {
            snprintf(err, errlen, "cannot open --events-log %s: %s", opts->events_log,
                     strerror(errno));
            server_free(s);
            return NULL;
        }
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_hs);
    s->protocols[0] = (struct lws_protocols){
        .name = "homeassistant",
        .callback = callback,
        .per_session_data_size = sizeof(conn),
        .rx_buffer_size = 65536,
        .user = s,
        .tx_packet_size = 1024 * 1024,
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = opts->port;
    info.iface = opts->host;
    info.protocols = s->protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.gid = -1;
    info.uid = -1;
    s->ctx = lws_create_context(&info);
    if (s->ctx == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d", opts->host, opts->port);
        server_free(s);
        return NULL;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "default");
    int port = vh != NULL ? lws_get_vhost_listen_port(vh) : -1;
    if (port <= 0) {
        snprintf(err, errlen, "cannot listen on %s:%d", opts->host, opts->port);
        server_free(s);
        return NULL;
    }
    if (opts->port_file != NULL && write_port_file(opts->port_file, port) < 0) {
        snprintf(err, errlen, "cannot write --port-file %s: %s", opts->port_file,
                 strerror(errno));
        server_free(s);
        return NULL;
    }
    hs_info(COMPONENT, "listening on ws://%s:%d%s with %d entities", opts->host, port,
            WS_PATH, home_count(s->home));
    fprintf(out, "LISTENING=%d\n", port);
    fflush(out);

    if (opts->recorder_commit_ms > 0)
        lws_sul_schedule(s->ctx, 0, &s->sul_commit, commit_tick,
                         (lws_usec_t)opts->recorder_commit_ms * 1000);
    else
        history_commit(s->hist);
    lws_sul_schedule(s->ctx, 0, &s->sul_house, house_tick, 100000);
    if (!opts->start_on_subscribe && !opts->start_on_signal)
        stream_start(s);
    return s;
}

void server_start_stream(server *s)
{
    stream_start(s);
}

void server_end_stream(server *s)
{
    if (s->done)
        return;
    s->gen_running = false; /* gen_tick stops at its next turn */
    s->done = true;
    fprintf(s->out, "DONE=%lld\n", (long long)s->emitted);
    fflush(s->out);
    hs_info(COMPONENT, "stream ended on request after %lld events; still serving",
            (long long)s->emitted);
}

/* lws_service() polls with its next timer's distance in whole milliseconds,
 * rounded down, so the last fraction of a millisecond before a timer is spent
 * polling with a zero timeout again and again: at --rate 1000, whose timer
 * fires every millisecond, that busy loop took most of a core. The
 * generator's timer, the only frequent one, is therefore slept for here. */
int server_service(server *s)
{
    if (s->gen_running && !s->gen_waiting) {
        int64_t wait = s->gen_due_us - mono_us();
        if (wait >= SLEEP_MIN_US && wait < SUB_MS_US) {
            struct timespec ts = {0, (long)wait * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return lws_service(s->ctx, 0) < 0 ? -1 : 0;
}

void server_free(server *s)
{
    if (s == NULL)
        return;
    if (s->ctx != NULL) {
        lws_sul_cancel(&s->sul_gen);
        lws_sul_cancel(&s->sul_commit);
        lws_sul_cancel(&s->sul_house);
        lws_context_destroy(s->ctx);
    }
    if (s->events_log != NULL)
        fclose(s->events_log);
    history_free(s->hist);
    home_free(s->home);
    jbuf_fini(&s->scratch);
    free(s);
}
