/* ingest.c - the ingestor daemon: Home Assistant WebSocket in, Kafka out. */
#include "ingest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "backoff.h"
#include "ha_session.h"
#include "ha_url.h"
#include "ha_ws.h"
#include "hs_admin.h"
#include "hs_breaker.h"
#include "hs_event.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_recent.h"
#include "hs_time.h"
#include "memq.h"
#include "strlist.h"

#define LOOP_WAIT_MS 20
#define MEMQ_MAX_BYTES ((size_t)256 * 1024 * 1024)
#define KAFKA_STALL_MS 15000
#define STABLE_CONNECTION_MS 10000
#define SHUTDOWN_FLUSH_MS 3500
#define RECENT_CAPACITY 1000
/* Kafka's default message.max.bytes; a DLQ payload beyond it is cut. */
#define DLQ_PAYLOAD_MAX (900u * 1024)

enum { TAG_RAW = 0, TAG_DLQ = 1 };

/* Connection states shown in /health and /stats. */
typedef enum {
    HA_DISCONNECTED = 0,
    HA_CONNECTING,
    HA_AUTHENTICATING,
    HA_CONNECTED,
    HA_AUTH_REJECTED,
} ha_conn_state;

static const char *const ha_state_names[] = {"disconnected", "connecting", "authenticating",
                                             "connected", "auth_rejected"};

/* Counters the admin thread reads; written by the ingest thread. */
typedef struct {
    _Atomic uint64_t events_in;       /* events received from HA */
    _Atomic uint64_t events_out;      /* raw events Kafka acknowledged */
    _Atomic uint64_t errors;          /* every failure of any kind */
    _Atomic uint64_t dlq;             /* records handed to the DLQ topic */
    _Atomic uint64_t frames_invalid;  /* frames/messages that were not usable */
    _Atomic uint64_t events_invalid;  /* events hs_event_from_ha refused */
    _Atomic uint64_t reconnects;      /* connections lost after authentication */
    _Atomic uint64_t connect_attempts;
    _Atomic uint64_t connect_failures;
    _Atomic uint64_t pong_timeouts;
    _Atomic uint64_t produce_errors;  /* produce calls that failed */
    _Atomic uint64_t queue_full;      /* events parked because the queue was full */
    _Atomic uint64_t delivery_failed; /* delivery reports with an error */
    _Atomic uint64_t requeued;        /* failed deliveries put back in line */
    _Atomic uint64_t not_kept;        /* events that could be kept nowhere */
    _Atomic uint64_t memq_events;     /* gauge: events waiting in memory */
    _Atomic uint64_t memq_bytes;      /* gauge */
    _Atomic int64_t last_event_ns;    /* time_fired of the last event; INT64_MIN: none */
    _Atomic int64_t last_delivery_ok_ms;
    _Atomic int64_t last_delivery_fail_ms;
    _Atomic int64_t pending_since_ms; /* first produce after the queue was empty; 0: none */
    _Atomic int ha_state;
} ingest_stats;

struct ingest {
    struct ingestor_config *cfg;
    pthread_mutex_t lock; /* guards cfg's runtime rows and ha_version */
    bool lock_ready;
    char ha_version[64];

    ha_url url;
    strlist event_types;
    ha_session *session;
    ha_ws *ws;
    rd_kafka_t *rk;
    memq *memq;
    hs_recent *recent;
    hs_breaker *ha_breaker;
    hs_admin *admin;
    backoff backoff;
    uint64_t rand_state; /* xorshift64 state for the backoff jitter */

    int64_t started_ms;
    int64_t connect_started_ms;
    int64_t ready_since_ms;     /* when the current connection authenticated; 0: not */
    int64_t reconnect_at_ms;    /* next attempt; 0: now */
    bool authenticated_once;    /* HA accepted the token at least once */
    bool auth_rejected;         /* the current connection got auth_invalid */
    bool closing;               /* we asked the current connection to close */
    int exit_code;              /* -1 while running */
    uint64_t warn_budget_at;    /* rate limit of repeated warnings */
    unsigned warns_this_second;

    ingest_stats st;
};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void set_state(ingest *in, ha_conn_state s)
{
    atomic_store_explicit(&in->st.ha_state, (int)s, memory_order_relaxed);
}

/* Lets through at most 20 repeated warnings per second. */
static bool warn_ok(ingest *in)
{
    uint64_t sec = (uint64_t)(hs_now_mono_ms() / 1000);
    if (sec != in->warn_budget_at) {
        in->warn_budget_at = sec;
        in->warns_this_second = 0;
    }
    return in->warns_this_second++ < 20;
}

static const char *topic_of(const ingest *in, int tag)
{
    return tag == TAG_DLQ ? in->cfg->common.topic_dlq : in->cfg->common.topic_raw;
}

static void update_memq_gauges(ingest *in)
{
    atomic_store_explicit(&in->st.memq_events, memq_count(in->memq), memory_order_relaxed);
    atomic_store_explicit(&in->st.memq_bytes, memq_bytes(in->memq), memory_order_relaxed);
}

/* Parks a record in memory; counts and logs it when even that is full. */
static void park(ingest *in, int tag, const void *key, size_t keylen, const void *payload,
                 size_t len)
{
    if (memq_push(in->memq, tag, key, keylen, payload, len) != 0) {
        count(&in->st.not_kept);
        count(&in->st.errors);
        if (warn_ok(in))
            hs_error("kafka",
                     "in-memory queue full (%zu events): a %s record was not kept",
                     memq_count(in->memq), topic_of(in, tag));
    }
    update_memq_gauges(in);
}

/* Hands one record to the producer without blocking. Returns 0 when the
 * producer took it or when it can never be produced (counted and logged),
 * -1 when it should be retried later. */
static int try_produce(ingest *in, int tag, const void *key, size_t keylen,
                       const void *payload, size_t len)
{
    int rc = hs_kafka_produce(in->rk, topic_of(in, tag), key, keylen, payload, len, NULL, 0);
    if (rc == 0) {
        int64_t expected = 0;
        atomic_compare_exchange_strong(&in->st.pending_since_ms, &expected,
                                       hs_now_mono_ms());
        return 0;
    }
    if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        count(&in->st.queue_full);
        return -1;
    }
    count(&in->st.produce_errors);
    count(&in->st.errors);
    if (rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        count(&in->st.not_kept);
        hs_error("kafka", "a %zu byte record for %s is larger than Kafka accepts; not kept",
                 len, topic_of(in, tag));
        return 0;
    }
    if (warn_ok(in))
        hs_warn("kafka", "produce to %s failed: %s; will retry", topic_of(in, tag),
                rd_kafka_err2str((rd_kafka_resp_err_t)rc));
    return -1;
}

/* Produces, or parks the record behind those already waiting (order kept). */
static void emit(ingest *in, int tag, const void *key, size_t keylen, const void *payload,
                 size_t len)
{
    if (memq_count(in->memq) == 0 && try_produce(in, tag, key, keylen, payload, len) == 0)
        return;
    park(in, tag, key, keylen, payload, len);
}

/* Moves parked records to the producer while it takes them. */
static void drain(ingest *in)
{
    int tag;
    const void *key, *payload;
    size_t keylen, len;
    bool moved = false;
    while (memq_peek(in->memq, &tag, &key, &keylen, &payload, &len) == 0) {
        if (try_produce(in, tag, key, keylen, payload, len) != 0)
            break;
        memq_pop(in->memq);
        moved = true;
    }
    if (moved)
        update_memq_gauges(in);
}

/* Sends what could not be used to the DLQ, with the reason. */
static void dead_letter(ingest *in, const char *reason, const char *payload, size_t len)
{
    char why[512];
    if (len > DLQ_PAYLOAD_MAX) {
        snprintf(why, sizeof(why), "%s (payload of %zu bytes cut to its first %u)", reason,
                 len, DLQ_PAYLOAD_MAX);
        reason = why;
        len = DLQ_PAYLOAD_MAX;
    }
    char *rec = hs_kafka_dlq_record("ingestor", reason, payload, len);
    if (rec == NULL) {
        count(&in->st.not_kept);
        count(&in->st.errors);
        hs_error("ingest", "out of memory building a DLQ record (%s)", reason);
        return;
    }
    const char *site = in->cfg->common.site;
    emit(in, TAG_DLQ, site, strlen(site), rec, strlen(rec));
    count(&in->st.dlq);
    free(rec);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    ingest *in = opaque;
    (void)rk;
    int64_t now = hs_now_mono_ms();
    bool dlq = strcmp(rd_kafka_topic_name(msg->rkt), in->cfg->common.topic_dlq) == 0;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store_explicit(&in->st.last_delivery_ok_ms, now, memory_order_relaxed);
        if (!dlq)
            count(&in->st.events_out);
    } else {
        atomic_store_explicit(&in->st.last_delivery_fail_ms, now, memory_order_relaxed);
        count(&in->st.delivery_failed);
        count(&in->st.errors);
        if (warn_ok(in))
            hs_warn("kafka", "delivery to %s failed: %s; queued again",
                    rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
        count(&in->st.requeued);
        park(in, dlq ? TAG_DLQ : TAG_RAW, msg->key, msg->key_len, msg->payload, msg->len);
    }
}

/* --- Home Assistant session callbacks ----------------------------------- */

static int sess_send(void *ud, const char *text, size_t len)
{
    ingest *in = ud;
    return ha_ws_send(in->ws, text, len);
}

static void sess_ready(void *ud, const char *ha_version)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    in->ready_since_ms = now;
    in->authenticated_once = true;
    set_state(in, HA_CONNECTED);
    hs_breaker_success(in->ha_breaker, now, now - in->connect_started_ms);
    pthread_mutex_lock(&in->lock);
    snprintf(in->ha_version, sizeof(in->ha_version), "%s",
             ha_version != NULL ? ha_version : "");
    pthread_mutex_unlock(&in->lock);
    hs_info("ha", "authenticated to Home Assistant %s at %s:%d; subscribing to %s",
            ha_version != NULL ? ha_version : "(unknown version)", in->url.host, in->url.port,
            in->event_types.n == 0 ? "all events" : in->cfg->ha_event_types);
}

static void sess_event(void *ud, int tag, const json_t *event)
{
    ingest *in = ud;
    (void)tag;
    count(&in->st.events_in);
    hs_event_ctx ctx = {
        .site = in->cfg->common.site,
        .area = NULL,
        .device = NULL,
        .ingested_at_ns = hs_now_wall_ns(),
        .backfill = false,
    };
    char err[256];
    json_t *msg = hs_event_from_ha(event, &ctx, err, sizeof(err));
    if (msg == NULL) {
        count(&in->st.events_invalid);
        count(&in->st.errors);
        char *text = json_dumps(event, JSON_COMPACT | JSON_ENCODE_ANY);
        if (warn_ok(in))
            hs_warn("ha", "event refused: %s", err);
        dead_letter(in, err, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
        free(text);
        return;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        count(&in->st.not_kept);
        count(&in->st.errors);
        hs_error("ingest", "out of memory serialising an event");
        json_decref(msg);
        return;
    }
    const char *entity_id = json_string_value(json_object_get(msg, "entity_id"));
    const char *key = entity_id != NULL ? entity_id : in->cfg->common.site;
    emit(in, TAG_RAW, key, strlen(key), text, strlen(text));
    int64_t fired;
    const char *tf = json_string_value(json_object_get(msg, "time_fired"));
    if (tf != NULL && hs_time_parse_iso(tf, &fired) == 0)
        atomic_store_explicit(&in->st.last_event_ns, fired, memory_order_relaxed);
    hs_recent_push(in->recent, entity_id, msg);
    json_decref(msg);
    free(text);
}

static void sess_result(void *ud, int64_t id, int tag, const ha_msg *msg)
{
    ingest *in = ud;
    if (msg->success)
        return;
    count(&in->st.errors);
    const char *what = tag == HA_TAG_SUBSCRIBE  ? "subscribe_events"
                       : tag == HA_TAG_FEATURES ? "supported_features"
                                                : "command";
    hs_error("ha", "%s (id %" PRId64 ") failed: %s: %s", what, id,
             msg->error_code != NULL ? msg->error_code : "error",
             msg->message != NULL ? msg->message : "no message");
}

static void sess_invalid(void *ud, const char *reason, const char *payload, size_t len)
{
    ingest *in = ud;
    count(&in->st.frames_invalid);
    count(&in->st.errors);
    if (warn_ok(in))
        hs_warn("ha", "unusable message from Home Assistant (%zu bytes): %s", len, reason);
    dead_letter(in, reason, payload, len);
}

/* --- WebSocket callbacks ------------------------------------------------ */

/* Asks the connection to close; ws_closed() follows. */
static void close_connection(ingest *in)
{
    in->closing = true;
    ha_ws_close(in->ws);
}

static void ws_opened(void *ud)
{
    ingest *in = ud;
    set_state(in, HA_AUTHENTICATING);
    in->auth_rejected = false;
    ha_session_start(in->session, hs_now_mono_ms());
    hs_debug("ws", "WebSocket open to %s:%d%s", in->url.host, in->url.port, in->url.path);
}

static void ws_message(void *ud, const char *buf, size_t len)
{
    ingest *in = ud;
    const char *why = NULL;
    int rc = ha_session_on_frame(in->session, buf, len, hs_now_mono_ms(), &why);
    if (rc == HA_SESSION_AUTH_INVALID) {
        in->auth_rejected = true;
        set_state(in, HA_AUTH_REJECTED);
        hs_breaker_set_last_error(in->ha_breaker, "auth_invalid");
        hs_error("ha",
                 "Home Assistant refused the access token in HA_TOKEN: %s%s",
                 why != NULL ? why : "auth_invalid",
                 in->authenticated_once ? " (it was accepted before; retrying)" : "");
        close_connection(in);
    } else if (rc == HA_SESSION_DEAD) {
        hs_warn("ha", "cannot send to Home Assistant; reconnecting");
        close_connection(in);
    }
}

static void ws_oversize(void *ud, size_t size, const char *prefix, size_t prefix_len)
{
    ingest *in = ud;
    char reason[160];
    snprintf(reason, sizeof(reason),
             "message of %zu bytes exceeds the size limit; only its start is kept", size);
    sess_invalid(in, reason, prefix, prefix_len);
}

static void ws_closed(void *ud, const char *reason)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    bool was_ready = ha_session_get_state(in->session) == HA_SESS_READY;
    ha_session_stop(in->session);
    in->closing = false;
    if (in->auth_rejected) {
        hs_breaker_failure(in->ha_breaker, now);
        if (!in->authenticated_once) {
            in->exit_code = INGEST_EXIT_AUTH;
            return;
        }
    } else if (was_ready) {
        count(&in->st.reconnects);
        set_state(in, HA_DISCONNECTED);
        hs_warn("ha", "connection to Home Assistant lost: %s", reason);
        if (now - in->ready_since_ms >= STABLE_CONNECTION_MS)
            backoff_reset(&in->backoff);
    } else {
        count(&in->st.connect_failures);
        count(&in->st.errors);
        set_state(in, HA_DISCONNECTED);
        hs_breaker_failure(in->ha_breaker, now);
        hs_breaker_set_last_error(in->ha_breaker, reason);
        hs_warn("ha", "cannot connect to Home Assistant at %s:%d: %s", in->url.host,
                in->url.port, reason);
    }
    if (in->auth_rejected)
        set_state(in, HA_AUTH_REJECTED);
    in->ready_since_ms = 0;
    int64_t delay = backoff_next(&in->backoff);
    in->reconnect_at_ms = now + delay;
    hs_info("ha", "reconnecting in %" PRId64 " ms", delay);
}

/* --- the loop ----------------------------------------------------------- */

static void maybe_connect(ingest *in, int64_t now)
{
    if (ha_ws_is_active(in->ws) || now < in->reconnect_at_ms)
        return;
    if (!hs_breaker_allow(in->ha_breaker, now)) {
        int64_t wait = hs_breaker_retry_in_ms(in->ha_breaker, now);
        in->reconnect_at_ms = now + (wait > 0 ? wait : 100);
        return;
    }
    count(&in->st.connect_attempts);
    in->connect_started_ms = now;
    if (!in->auth_rejected)
        set_state(in, HA_CONNECTING);
    hs_debug("ha", "connecting to %s://%s:%d%s", in->url.tls ? "wss" : "ws", in->url.host,
             in->url.port, in->url.path);
    ha_ws_connect(in->ws);
}

static void check_kafka_idle(ingest *in)
{
    if (rd_kafka_outq_len(in->rk) == 0)
        atomic_store_explicit(&in->st.pending_since_ms, 0, memory_order_relaxed);
}

int ingest_run(ingest *in, volatile sig_atomic_t *stop)
{
    in->exit_code = -1;
    hs_info("ingest", "started: Home Assistant %s://%s:%d%s, Kafka %s, topic %s",
            in->url.tls ? "wss" : "ws", in->url.host, in->url.port, in->url.path,
            in->cfg->common.kafka_brokers, in->cfg->common.topic_raw);
    while (!*stop && in->exit_code < 0) {
        int64_t now = hs_now_mono_ms();
        maybe_connect(in, now);
        if (!in->closing && ha_ws_is_active(in->ws) &&
            ha_session_tick(in->session, now) == HA_SESSION_DEAD) {
            count(&in->st.pong_timeouts);
            count(&in->st.errors);
            hs_warn("ha", "Home Assistant did not answer within %" PRId64
                          " s; reconnecting", in->cfg->ha_pong_timeout_s);
            close_connection(in);
        }
        int64_t wait = ha_session_next_tick_in(in->session, now);
        if (!ha_ws_is_active(in->ws) && in->reconnect_at_ms - now < wait)
            wait = in->reconnect_at_ms - now;
        if (wait > LOOP_WAIT_MS)
            wait = LOOP_WAIT_MS;
        if (wait < 0)
            wait = 0;
        if (ha_ws_service(in->ws, (int)wait) != 0)
            hs_warn("ws", "libwebsockets service failed");
        rd_kafka_poll(in->rk, 0);
        drain(in);
        check_kafka_idle(in);
    }
    bool auth_exit = in->exit_code == INGEST_EXIT_AUTH;
    if (auth_exit)
        hs_error("ingest", "exiting: fix HA_TOKEN (or HA_TOKEN_FILE) and restart");
    else
        hs_info("ingest", "stopping: flushing %zu parked and %d in-flight records",
                memq_count(in->memq), rd_kafka_outq_len(in->rk));

    /* Hand parked records to the producer for as long as the budget allows,
     * then flush. */
    int64_t deadline = hs_now_mono_ms() + SHUTDOWN_FLUSH_MS;
    while (memq_count(in->memq) > 0 && hs_now_mono_ms() < deadline) {
        drain(in);
        rd_kafka_poll(in->rk, 10);
    }
    int64_t left = deadline - hs_now_mono_ms();
    rd_kafka_resp_err_t ferr = rd_kafka_flush(in->rk, (int)(left > 100 ? left : 100));
    rd_kafka_poll(in->rk, 0);
    size_t parked = memq_count(in->memq);
    int inflight = rd_kafka_outq_len(in->rk);
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR || parked > 0 || inflight > 0)
        hs_error("ingest", "stopped with %zu parked and %d undelivered records (lost)", parked,
                 inflight);
    else
        hs_info("ingest", "stopped cleanly: everything delivered");
    return auth_exit ? INGEST_EXIT_AUTH : INGEST_EXIT_OK;
}

/* --- admin views -------------------------------------------------------- */

static json_t *iso_or_null(int64_t ns)
{
    char buf[40];
    if (ns == INT64_MIN || hs_time_format_iso(ns, buf, sizeof(buf)) != 0)
        return json_null();
    return json_string(buf);
}

static const char *kafka_state(ingest *in, int64_t now)
{
    int64_t ok = atomic_load_explicit(&in->st.last_delivery_ok_ms, memory_order_relaxed);
    int64_t fail = atomic_load_explicit(&in->st.last_delivery_fail_ms, memory_order_relaxed);
    int64_t since = atomic_load_explicit(&in->st.pending_since_ms, memory_order_relaxed);
    if (fail > ok)
        return "failing";
    int64_t progress = ok > since ? ok : since;
    if (rd_kafka_outq_len(in->rk) > 0 && since > 0 && now - progress > KAFKA_STALL_MS)
        return "unreachable";
    return "ok";
}

static json_t *view_health(void *ud)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    int ha = atomic_load_explicit(&in->st.ha_state, memory_order_relaxed);
    const char *ks = kafka_state(in, now);
    const char *status = "ok";
    if (ha != HA_CONNECTED || strcmp(ks, "ok") != 0 || get(&in->st.memq_events) > 0)
        status = "degraded";
    if (ha == HA_AUTH_REJECTED)
        status = "unhealthy";
    json_t *ha_dep = json_pack("{s:s, s:s, s:o}", "state", ha_state_names[ha], "url_host",
                               in->url.host, "breaker",
                               hs_breaker_to_json(in->ha_breaker, now));
    json_t *kafka_dep = json_pack("{s:s, s:i, s:I, s:I}", "state", ks, "in_flight",
                                  rd_kafka_outq_len(in->rk), "queued_in_memory",
                                  (json_int_t)get(&in->st.memq_events), "not_kept_total",
                                  (json_int_t)get(&in->st.not_kept));
    return json_pack("{s:s, s:s, s:{s:o, s:o}}", "status", status, "stage", "ingestor",
                     "dependencies", "home_assistant", ha_dep, "kafka", kafka_dep);
}

static json_t *view_stats(void *ud)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    ingest_stats *st = &in->st;
    int ha = atomic_load_explicit(&st->ha_state, memory_order_relaxed);
    pthread_mutex_lock(&in->lock);
    json_t *version = json_string(in->ha_version);
    pthread_mutex_unlock(&in->lock);
    json_t *ha_obj = json_pack(
        "{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "state", ha_state_names[ha],
        "ha_version", version, "reconnects_total", (json_int_t)get(&st->reconnects),
        "connect_attempts_total", (json_int_t)get(&st->connect_attempts),
        "connect_failures_total", (json_int_t)get(&st->connect_failures),
        "pong_timeouts_total", (json_int_t)get(&st->pong_timeouts),
        "frames_invalid_total", (json_int_t)get(&st->frames_invalid),
        "events_invalid_total", (json_int_t)get(&st->events_invalid));
    json_t *kafka_obj = json_pack(
        "{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "state", kafka_state(in, now),
        "in_flight", rd_kafka_outq_len(in->rk), "produce_errors_total",
        (json_int_t)get(&st->produce_errors), "queue_full_total",
        (json_int_t)get(&st->queue_full), "delivery_failed_total",
        (json_int_t)get(&st->delivery_failed), "requeued_total",
        (json_int_t)get(&st->requeued), "queued_in_memory", (json_int_t)get(&st->memq_events),
        "queued_in_memory_bytes", (json_int_t)get(&st->memq_bytes), "not_kept_total",
        (json_int_t)get(&st->not_kept));
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:o}, s:o, s:o}", "stage", "ingestor",
        "site", in->cfg->common.site, "uptime_s", (json_int_t)((now - in->started_ms) / 1000),
        "events_in_total", (json_int_t)get(&st->events_in), "events_out_total",
        (json_int_t)get(&st->events_out), "errors_total", (json_int_t)get(&st->errors),
        "dlq_total", (json_int_t)get(&st->dlq), "last_event_time",
        iso_or_null(atomic_load_explicit(&st->last_event_ns, memory_order_relaxed)),
        "breakers", "home_assistant", hs_breaker_to_json(in->ha_breaker, now), "ha", ha_obj,
        "kafka", kafka_obj);
}

static json_t *view_recent(void *ud, int limit, const char *entity_id)
{
    ingest *in = ud;
    return hs_recent_list(in->recent, limit, entity_id);
}

static json_t *view_config(void *ud)
{
    ingest *in = ud;
    pthread_mutex_lock(&in->lock);
    json_t *j = hs_cfg_to_json(ingestor_config_vars, ingestor_config_nvars, in->cfg);
    pthread_mutex_unlock(&in->lock);
    return j;
}

/* Renders a JSON scalar as the text hs_cfg_set() takes. Returns 0, or -1
 * for arrays, objects and null. */
static int scalar_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return snprintf(buf, len, "%s", json_string_value(v)) < (int)len ? 0 : -1;
    if (json_is_integer(v))
        return snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), 0;
    if (json_is_real(v))
        return snprintf(buf, len, "%.17g", json_real_value(v)), 0;
    if (json_is_boolean(v))
        return snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false"), 0;
    return -1;
}

static int view_config_put(void *ud, json_t *body, char *err, size_t errlen)
{
    ingest *in = ud;
    if (!json_is_object(body)) {
        snprintf(err, errlen, "body must be a JSON object of NAME: value");
        return -1;
    }
    /* Validate everything on a scratch struct first: all or nothing. */
    struct ingestor_config scratch;
    memset(&scratch, 0, sizeof(scratch));
    const char *name;
    json_t *v;
    char text[4096];
    int rc = 0;
    json_object_foreach(body, name, v)
    {
        if (scalar_text(v, text, sizeof(text)) != 0) {
            snprintf(err, errlen, "%s: value must be a string, number or boolean", name);
            rc = -1;
            break;
        }
        if (hs_cfg_set(ingestor_config_vars, ingestor_config_nvars, &scratch, name, text, true,
                       err, errlen) != 0) {
            rc = -1;
            break;
        }
    }
    hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &scratch);
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&in->lock);
    json_object_foreach(body, name, v)
    {
        scalar_text(v, text, sizeof(text));
        hs_cfg_set(ingestor_config_vars, ingestor_config_nvars, in->cfg, name, text, true, err,
                   errlen);
    }
    hs_log_level level;
    if (hs_log_level_parse(in->cfg->common.log_level, &level) == 0)
        hs_log_set_level(level);
    pthread_mutex_unlock(&in->lock);
    return 0;
}

/* --- lifecycle ---------------------------------------------------------- */

/* xorshift64: good enough for jitter, seeded per process so instances that
 * lost the same server do not retry in lockstep. */
static uint64_t jitter_rand(void *ud)
{
    uint64_t *x = ud;
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)hs_now_wall_ns() ^ ((uint64_t)getpid() << 32);
    return seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

ingest *ingest_new(struct ingestor_config *cfg, char *err, size_t errlen)
{
    ingest *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->cfg = cfg;
    in->started_ms = hs_now_mono_ms();
    in->exit_code = -1;
    atomic_init(&in->st.last_event_ns, INT64_MIN);
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create a mutex");
        goto fail;
    }
    in->lock_ready = true;

    char why[256];
    if (ha_url_parse(cfg->ha_url, &in->url, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "HA_URL: %s", why);
        goto fail;
    }
    if (strlist_split(&in->event_types, cfg->ha_event_types) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (strlist_has(&in->event_types, "*"))
        strlist_fini(&in->event_types);

    ha_session_opts so = {
        .token = cfg->ha_token,
        .event_types = (const char *const *)in->event_types.items,
        .n_event_types = in->event_types.n,
        .ping_interval_ms = cfg->ha_ping_interval_s * 1000,
        .pong_timeout_ms = cfg->ha_pong_timeout_s * 1000,
    };
    ha_session_cbs sc = {
        .send = sess_send,
        .ready = sess_ready,
        .event = sess_event,
        .result = sess_result,
        .invalid = sess_invalid,
        .ud = in,
    };
    in->session = ha_session_new(&so, &sc);
    in->memq = memq_new((size_t)cfg->memq_max_events, MEMQ_MAX_BYTES);
    in->recent = hs_recent_new(RECENT_CAPACITY);
    in->ha_breaker = hs_breaker_new("home_assistant", NULL);
    if (in->session == NULL || in->memq == NULL || in->recent == NULL ||
        in->ha_breaker == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    in->rand_state = random_seed();
    backoff_init(&in->backoff, 1000, cfg->ha_reconnect_max_s * 1000, jitter_rand,
                 &in->rand_state);

    in->rk = hs_kafka_producer_new(cfg->common.kafka_brokers, on_delivery, in, NULL, err,
                                   errlen);
    if (in->rk == NULL)
        goto fail;

    ha_ws_opts wo = {
        .url = in->url,
        .ca_file = cfg->ha_ca_file,
        .tls_insecure = cfg->ha_tls_insecure,
        .max_message = 0,
    };
    ha_ws_cbs wc = {
        .opened = ws_opened,
        .message = ws_message,
        .oversize = ws_oversize,
        .closed = ws_closed,
        .ud = in,
    };
    in->ws = ha_ws_new(&wo, &wc, err, errlen);
    if (in->ws == NULL)
        goto fail;

    if (cfg->common.admin_addr != NULL && cfg->common.admin_addr[0] != '\0') {
        hs_admin_handlers h = {
            .health = view_health,
            .stats = view_stats,
            .recent = view_recent,
            .config_get = view_config,
            .config_put = view_config_put,
            .ud = in,
        };
        char aerr[256];
        in->admin = hs_admin_start(cfg->common.admin_addr, "ingestor", cfg->common.admin_token,
                                   &h, aerr, sizeof(aerr));
        if (in->admin == NULL) {
            snprintf(err, errlen, "ADMIN_ADDR %s: %s", cfg->common.admin_addr, aerr);
            goto fail;
        }
        hs_info("admin", "admin endpoint on %s", cfg->common.admin_addr);
    }
    return in;
fail:
    ingest_free(in);
    return NULL;
}

void ingest_free(ingest *in)
{
    if (in == NULL)
        return;
    /* The admin thread reads everything below: stop it first. */
    hs_admin_stop(in->admin);
    ha_ws_free(in->ws);
    if (in->rk != NULL)
        rd_kafka_destroy(in->rk);
    ha_session_free(in->session);
    memq_free(in->memq);
    hs_recent_free(in->recent);
    hs_breaker_free(in->ha_breaker);
    strlist_fini(&in->event_types);
    if (in->lock_ready)
        pthread_mutex_destroy(&in->lock);
    free(in);
}
