/* ingest.c - the ingestor daemon: Home Assistant WebSocket in, Kafka out. */
#include "ingest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backfill.h"
#include "gapfill.h"
#include "hs_event.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_mem.h"
#include "hs_statsrec.h"
#include "hs_time.h"
#include "ingest_int.h"

#define LOOP_WAIT_MS 20
#define STABLE_CONNECTION_MS 10000
#define SHUTDOWN_BUDGET_MS 3500
#define RECENT_CAPACITY 1000
#define LASTSEEN_MAX 200000
#define HELD_MAX 200000
/* The raw message buffer is kept between events up to this size. */
#define RAW_KEEP (256 * 1024)
/* A frame at least this large (a get_states or history answer, a registry
 * list, a coalesced burst of events) leaves freed memory in the heap: once
 * the connection has been quiet for TRIM_IDLE_MS, the buffers kept for the
 * next message are freed (ha_ws_trim), the recent events are packed
 * (hs_recent_pack) and freed memory goes back to the system (hs_mem_trim). */
#define TRIM_FRAME_BYTES (256 * 1024)
#define TRIM_IDLE_MS 1000
/* The final merge of a gap closing is produced in slices of at most this
 * long (in steps of MERGE_STEP items), with the connection read in between:
 * at 100,000 entities producing it takes many seconds, and Home Assistant
 * closes a client that falls 4096 messages behind. */
#define MERGE_SLICE_MS 50
#define MERGE_STEP 128
/* Reads of the connection between two slices, while data keeps coming. */
#define MERGE_READ_ROUNDS 32

/* Tags of the commands and subscriptions the ingest sends itself. */
enum {
    TAG_REG_LIST = 1,    /* + registry_kind */
    TAG_REG_EVENTS = 10, /* + registry_kind */
    TAG_GET_STATES = 20,
    TAG_HISTORY = 21,
    TAG_ENTITY_GET = 22, /* config/entity_registry/get after an update event */
};

const char *const ingest_ha_state_names[] = {
    "disconnected", "connecting", "authenticating", "connected", "auth_rejected"};
const char *const ingest_bf_state_names[] = {"idle", "get_states", "history",
                                             "waiting_for_recorder", "done"};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void set_state(ingest *in, ha_conn_state s)
{
    atomic_store_explicit(&in->st.ha_state, (int)s, memory_order_relaxed);
}

static void set_bf(ingest *in, bf_state s)
{
    in->bf = s;
    atomic_store_explicit(&in->st.bf, (int)s, memory_order_relaxed);
}

/* Lets through at most 20 repeated warnings per second. */
static bool warn_ok(ingest *in)
{
    int64_t sec = hs_now_mono_ms() / 1000;
    if (sec != in->warn_sec) {
        in->warn_sec = sec;
        in->warns = 0;
    }
    return in->warns++ < 20;
}

/* Sends what could not be used to the DLQ, with the reason. A payload too
 * large for Kafka keeps its first part (the record says so). */
static void dead_letter(ingest *in, const char *reason, const char *payload, size_t len)
{
    char *rec =
        hs_kafka_dlq_record_max("ingestor", reason, payload, len, HS_KAFKA_DLQ_MAX_BYTES);
    if (rec == NULL) {
        count(&in->st.errors);
        hs_error("ingest", "out of memory building a DLQ record (%s)", reason);
        return;
    }
    outbox_dlq(in->out, rec, strlen(rec));
    count(&in->st.dlq);
    free(rec);
}

static void dead_letter_json(ingest *in, const char *reason, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    dead_letter(in, reason, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
    free(text);
}

/* --- events ------------------------------------------------------------- */

/* Rebuilds the filter after PUT /config changed the lists. */
static void refresh_filter(ingest *in)
{
    unsigned gen = atomic_load_explicit(&in->cfg_gen, memory_order_acquire);
    if (gen == in->filter_gen)
        return;
    in->filter_gen = gen;
    const struct ingestor_config *c = in->cfg;
    filter f;
    pthread_mutex_lock(&in->lock);
    int rc =
        filter_init(&f, c->include_domains, c->include_entities, c->include_entity_globs,
                    c->exclude_domains, c->exclude_entities, c->exclude_entity_globs);
    pthread_mutex_unlock(&in->lock);
    if (rc != 0) {
        hs_error("ingest", "out of memory applying new filters; keeping the old ones");
        return;
    }
    filter_fini(&in->filt);
    in->filt = f;
    hs_info("ingest", "filters %s", filter_is_empty(&f) ? "cleared" : "changed");
}

/* Hands one raw message (text, len bytes) of entity_id (NULL when none)
 * with time t on to Kafka (or the spool) and the recent ring. */
static void emit_raw(ingest *in, const char *entity_id, const char *text, size_t len,
                     int64_t t, bool backfill)
{
    const char *key = entity_id != NULL ? entity_id : in->cfg->common.site;
    outbox_raw(in->out, key, strlen(key), text, len, t);
    int64_t last = atomic_load_explicit(&in->st.last_event_ns, memory_order_relaxed);
    if (t > last)
        atomic_store_explicit(&in->st.last_event_ns, t, memory_order_relaxed);
    if (backfill) {
        count(&in->st.backfilled);
        in->bf_count++;
    }
    hs_recent_push_text(in->recent, entity_id, text, len);
}

/* The event context for entity_id (NULL when none). */
static hs_event_ctx event_ctx(const ingest *in, const char *entity_id, bool backfill)
{
    const char *area = NULL, *device = NULL;
    registry_lookup(in->reg, entity_id, &area, &device);
    return (hs_event_ctx){
        .site = in->cfg->common.site,
        .area = area,
        .device = device,
        .ingested_at_ns = hs_now_wall_ns(),
        .backfill = backfill,
    };
}

static void refuse_event(ingest *in, const char *err)
{
    count(&in->st.events_invalid);
    count(&in->st.errors);
    if (warn_ok(in))
        hs_warn("ha", "event refused: %s", err);
}

/* Counts what the filters and the dedupe keep back; true for an event to
 * produce. */
static bool admitted(ingest *in, gap_verdict v)
{
    if (v == GAP_FILTERED)
        count(&in->st.filtered);
    else if (v == GAP_DUPLICATE)
        count(&in->st.deduped);
    return v == GAP_EMIT;
}

/* Filters, dedupes, converts and hands one HA event on. */
static void process_event(ingest *in, const json_t *ev, bool backfill)
{
    gap_info info;
    if (!admitted(in, gapfill_admit(in->seen, &in->filt, ev, &info)))
        return;
    hs_event_ctx ctx = event_ctx(in, info.entity_id, backfill);
    char err[256];
    json_t *msg = hs_event_from_ha(ev, &ctx, err, sizeof(err));
    if (msg == NULL) {
        refuse_event(in, err);
        dead_letter_json(in, err, ev);
        return;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        count(&in->st.errors);
        hs_error("ingest", "out of memory serialising an event; sent to the DLQ");
        dead_letter_json(in, "out of memory serialising the event", ev);
        json_decref(msg);
        return;
    }
    emit_raw(in, info.entity_id, text, strlen(text),
             info.has_time ? info.time_ns : ctx.ingested_at_ns, backfill);
    json_decref(msg);
    free(text);
}

/* process_event for a live state change read from its text (rawmsg): the
 * same verdicts, the same message, no JSON tree. */
static void process_state_text(ingest *in, const rawmsg_event *ev, const char *text,
                               size_t len)
{
    const char *entity_id = ev->entity_id;
    if (!admitted(in, gapfill_admit_state(in->seen, &in->filt, entity_id, ev->time_ns)))
        return;
    hs_event_ctx ctx = event_ctx(in, entity_id, false);
    if (rawmsg_write(ev, &ctx, &in->raw) != 0) {
        /* What hs_event_from_ha says of the same failure. */
        const char *err = "out of memory (or a string that is not valid UTF-8)";
        refuse_event(in, err);
        dead_letter(in, err, text, len);
        return;
    }
    emit_raw(in, entity_id, in->raw.p, in->raw.len, ev->time_ns, false);
    /* One huge event must not keep its buffer. */
    if (in->raw.cap > RAW_KEEP)
        rawmsg_buf_fini(&in->raw);
}

static void emit_cb(void *ud, const json_t *ev, bool backfill)
{
    process_event(ud, ev, backfill);
}

static void bad_cb(void *ud, const char *reason, const json_t *element)
{
    ingest *in = ud;
    count(&in->st.events_invalid);
    count(&in->st.errors);
    if (warn_ok(in))
        hs_warn("ha", "unusable state in a get_states/history answer: %s", reason);
    dead_letter_json(in, reason, element);
}

/* Processes the live events held back during gap closing, in order. */
static void release_held(ingest *in)
{
    size_t n = gap_store_count(in->held);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *text = gap_store_get(in->held, i, &len, NULL);
        json_error_t jerr;
        json_t *ev = json_loadb(text, len, 0, &jerr);
        if (ev != NULL) {
            process_event(in, ev, false);
        } else {
            count(&in->st.errors);
            hs_error("ingest", "cannot read a held event again: %s", jerr.text);
            dead_letter(in, "cannot read a held event again", text, len);
        }
        json_decref(ev);
    }
    gap_store_clear(in->held);
    atomic_store_explicit(&in->st.held, 0, memory_order_relaxed);
}

/* Keeps a live event (as text) until the gap is closed. */
/* Keeps a live event's text, with its time, until the gap is closed.
 * Returns 0, or -1 when out of memory. */
static int hold_text(ingest *in, int64_t time_ns, const char *text, size_t len)
{
    if (gap_store_count(in->held) >= HELD_MAX) {
        hs_warn("ingest",
                "%d live events held while closing the gap; releasing them now "
                "(changes still missing from history may be skipped)",
                HELD_MAX);
        release_held(in);
    }
    if (gap_store_add(in->held, time_ns, text, len) != 0)
        return -1;
    atomic_store_explicit(&in->st.held, gap_store_count(in->held), memory_order_relaxed);
    return 0;
}

static void hold(ingest *in, const json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    if (text == NULL || hold_text(in, gapfill_event_time(ev), text, strlen(text)) != 0)
        process_event(in, ev, false);
    free(text);
}

/* --- gap closing -------------------------------------------------------- */

/* The gap is closed once its merge has been produced: the live events held
 * meanwhile (all newer than the merge's) follow, then live events flow. */
static void backfill_done(ingest *in)
{
    release_held(in);
    json_decref(in->bf_ids);
    in->bf_ids = NULL;
    set_bf(in, BF_DONE);
    hs_mem_idle_note(&in->idle, hs_now_mono_ms(), true);
    count(&in->st.backfills);
    hs_info("ingest", "gap closed (%s): %" PRIu64 " events recovered", in->merge_why,
            in->bf_count);
}

/* Produces the merge for at most budget_ms (in steps of MERGE_STEP items);
 * closes the gap when it is all out. */
static void merge_run(ingest *in, int64_t budget_ms)
{
    if (in->merge == NULL)
        return;
    int64_t until = hs_now_mono_ms() + budget_ms;
    size_t left;
    do {
        left = gapfill_merge_step(in->merge, MERGE_STEP, emit_cb, bad_cb, in);
    } while (left > 0 && hs_now_mono_ms() < until);
    if (left > 0)
        return;
    gapfill_merge_free(in->merge);
    in->merge = NULL;
    backfill_done(in);
}

/* Ends the gap closing (see gapfill.h for the order): the held live events
 * and the kept states are merged and produced, in slices when there are many
 * (live events arriving meanwhile are held on). */
static void backfill_finish(ingest *in, const char *why)
{
    in->merge_why = why;
    gap_store *held = gap_store_new(), *states = gap_store_new();
    gap_merge *m = NULL;
    if (held != NULL && states != NULL)
        m = gapfill_merge_new(in->held, in->bf_states, in->bf_from_ns);
    if (m == NULL) {
        /* Out of memory: the merge in one go, from the stores in place. */
        gap_store_free(held);
        gap_store_free(states);
        gapfill_finish_stored(in->held, in->bf_states, in->bf_from_ns, emit_cb, bad_cb,
                              in);
        backfill_done(in);
        return;
    }
    in->held = held;
    in->bf_states = states;
    atomic_store_explicit(&in->st.held, 0, memory_order_relaxed);
    in->merge = m;
    merge_run(in, MERGE_SLICE_MS);
}

typedef struct {
    const char *start;
    const json_t *ids;
} history_args;

static char *build_history(int64_t id, void *ud)
{
    history_args *a = ud;
    return ha_proto_history(id, a->start, NULL, a->ids);
}

static void send_history(ingest *in)
{
    char start[40];
    hs_time_format_iso(in->bf_from_ns, start, sizeof(start));
    history_args a = {start, in->bf_ids};
    in->bf_round++;
    in->bf_sent_ns = hs_now_wall_ns();
    if (ha_session_command_built(in->session, build_history, &a, TAG_HISTORY) < 0) {
        hs_warn("ingest", "cannot send the history query");
        return;
    }
    set_bf(in, BF_HISTORY);
    hs_debug("ingest", "history query %d from %s for %zu entities", in->bf_round, start,
             json_array_size(in->bf_ids));
}

/* One state of the get_states answer (its text, with its entity_id, NULL
 * when it has none that is a string, and its time): its entity is asked
 * history for, and it is kept (as text) for the final merge unless it is
 * older than the merge takes. */
static void on_state(ingest *in, const char *entity_id, int64_t t, const char *text,
                     size_t len)
{
    if (in->bf_ids != NULL && entity_id != NULL && filter_match(&in->filt, entity_id))
        json_array_append_new(in->bf_ids, json_string(entity_id));
    if (in->bf_from_ns != INT64_MIN && t < in->bf_from_ns)
        return;
    if (gap_store_add(in->bf_states, t, text, len) != 0) {
        count(&in->st.errors);
        hs_error("ingest", "out of memory keeping a get_states state; sent to the DLQ");
        dead_letter(in, "out of memory keeping the state for the gap closing", text, len);
    }
}

/* The same for a parsed state. */
static void on_state_json(ingest *in, const json_t *st, const char *text, size_t len)
{
    on_state(in, json_string_value(json_object_get(st, "entity_id")),
             gapfill_state_time(st), text, len);
}

/* Every state of the get_states answer is in: history next, or the end. */
static void on_states_done(ingest *in)
{
    hs_debug("ingest", "get_states: %zu states kept for the gap closing",
             gap_store_count(in->bf_states));
    if (in->bf_from_ns == INT64_MIN) {
        backfill_finish(in, "first start: current states only");
        return;
    }
    if (json_array_size(in->bf_ids) == 0) {
        backfill_finish(in, "no entity passes the filters");
        return;
    }
    send_history(in);
}

static void on_states(ingest *in, const ha_msg *m)
{
    if (!m->success || !json_is_array(m->result)) {
        count(&in->st.errors);
        hs_error("ha",
                 "get_states failed: %s; the gap since the last event may stay open",
                 m->message != NULL ? m->message : "no list returned");
        backfill_finish(in, "get_states failed");
        return;
    }
    size_t i;
    const json_t *st;
    json_array_foreach(m->result, i, st)
    {
        char *text = json_dumps(st, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL) {
            count(&in->st.errors);
            hs_error("ingest", "out of memory keeping a get_states state");
            continue;
        }
        on_state_json(in, st, text, strlen(text));
        free(text);
    }
    on_states_done(in);
}

/* The settle time: history holds everything up to the resubscription once
 * the recorder committed after it. */
static int64_t settle_ns(const ingest *in)
{
    return (in->cfg->ha_recorder_commit_s * 1000 + 1000) * 1000000LL;
}

static void on_history(ingest *in, const ha_msg *m)
{
    if (!m->success || !json_is_object(m->result)) {
        count(&in->st.errors);
        hs_error("ha", "history/history_during_period failed: %s: %s",
                 m->error_code != NULL ? m->error_code : "error",
                 m->message != NULL ? m->message : "no result");
        backfill_finish(in, "history failed");
        return;
    }
    gapfill_history(m->result, emit_cb, bad_cb, in);
    if (in->bf_sent_ns >= in->bf_resub_ns + settle_ns(in)) {
        backfill_finish(in, "history caught up");
        return;
    }
    /* The recorder has not committed past the resubscription yet: ask again
     * once it has. */
    int64_t wait_ms = (in->bf_resub_ns + settle_ns(in) - hs_now_wall_ns()) / 1000000;
    in->bf_next_ms = hs_now_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    set_bf(in, BF_WAIT);
}

/* The gap closing begins with the subscriptions: live events are held from
 * here on; get_states goes out with the registry lists (send_get_states). */
static void backfill_start(ingest *in)
{
    gap_store_clear(in->bf_states);
    json_decref(in->bf_ids);
    in->bf_ids = json_array();
    in->bf_round = 0;
    in->bf_count = 0;
    in->bf_resub_ns = hs_now_wall_ns();
    int64_t handed = outbox_last_handed(in->out);
    int64_t mark = outbox_mark(in->out);
    in->bf_from_ns = handed != INT64_MIN ? handed : mark;
    set_bf(in, BF_STATES);
}

static void send_get_states(ingest *in)
{
    if (ha_session_command(in->session, "get_states", NULL, TAG_GET_STATES) < 0) {
        hs_warn("ingest", "cannot send get_states");
        set_bf(in, BF_IDLE);
    }
}

/* --- registries --------------------------------------------------------- */

static void request_registry(ingest *in, registry_kind kind)
{
    if (in->reg_pending[kind] >= 0) {
        in->reg_again[kind] = true;
        return;
    }
    in->reg_again[kind] = false;
    in->reg_pending[kind] = ha_session_command(in->session, registry_list_command(kind),
                                               NULL, TAG_REG_LIST + (int)kind);
}

/* A registry list has been loaded (n entries), or not (n < 0, why in err). */
static void registry_loaded(ingest *in, registry_kind kind, int n, const char *err)
{
    in->reg_pending[kind] = -1;
    if (n < 0) {
        count(&in->st.errors);
        hs_warn("ha", "%s (areas and devices stay as they were)", err);
    } else {
        count(&in->st.registry_loads);
        hs_debug("ha", "%s: %d entries", registry_list_command(kind), n);
    }
    if (in->reg_again[kind])
        request_registry(in, kind);
}

static void on_registry(ingest *in, registry_kind kind, const ha_msg *m)
{
    char err[256];
    if (!m->success) {
        snprintf(err, sizeof(err), "%s failed: %s", registry_list_command(kind),
                 m->message != NULL ? m->message : "error");
        registry_loaded(in, kind, -1, err);
        return;
    }
    int n = registry_load(in->reg, kind, m->result, err, sizeof(err));
    registry_loaded(in, kind, n, err);
}

/* entity_registry_updated {action, entity_id[, old_entity_id]}: the one
 * entity's entry is asked for (config/entity_registry/get) instead of the
 * whole list, which in a home of 100,000 entities is tens of MB queued in
 * front of the events that follow it. The whole list is read again, as for
 * the other registries, while a load of it is under way (its answer may
 * predate the change) and when the event says too little. */
static void on_entity_registry_event(ingest *in, const json_t *event)
{
    const json_t *data = json_object_get(event, "data");
    const char *action = json_string_value(json_object_get(data, "action"));
    const char *entity_id = json_string_value(json_object_get(data, "entity_id"));
    const char *old_id = json_string_value(json_object_get(data, "old_entity_id"));
    if (action == NULL || entity_id == NULL || in->reg_pending[REGISTRY_ENTITIES] >= 0) {
        request_registry(in, REGISTRY_ENTITIES);
        return;
    }
    registry_remove_entity(in->reg, old_id);
    if (strcmp(action, "remove") == 0) {
        registry_remove_entity(in->reg, entity_id);
        return;
    }
    json_t *args = json_pack("{s:s}", "entity_id", entity_id);
    if (args == NULL || ha_session_command(in->session, "config/entity_registry/get", args,
                                           TAG_ENTITY_GET) < 0)
        request_registry(in, REGISTRY_ENTITIES);
    json_decref(args);
}

/* The answer to config/entity_registry/get. A failure (the entity went
 * away meanwhile, or an HA without the command) reads the whole list. */
static void on_entity_get(ingest *in, const ha_msg *m)
{
    int rc = m->success ? registry_update_entity(in->reg, m->result) : -1;
    if (rc == 1) {
        count(&in->st.registry_entity_updates);
        return;
    }
    hs_debug("ha", "config/entity_registry/get: %s; reading the whole entity registry",
             m->message != NULL ? m->message : "no usable entry");
    request_registry(in, REGISTRY_ENTITIES);
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
    hs_info("ha", "authenticated to Home Assistant %s at %s:%d; subscribed to %s",
            ha_version != NULL ? ha_version : "(unknown version)", in->url.host,
            in->url.port,
            in->event_types.n == 0 ? "all events" : in->cfg->ha_event_types);
    backfill_start(in);
    for (int k = 0; k < 3; k++) {
        in->reg_pending[k] = -1;
        request_registry(in, (registry_kind)k);
        json_t *f =
            json_pack("{s:s}", "event_type", registry_update_event((registry_kind)k));
        ha_session_command(in->session, "subscribe_events", f, TAG_REG_EVENTS + k);
        json_decref(f);
    }
    send_get_states(in);
}

static void sess_event(void *ud, int tag, const json_t *event)
{
    ingest *in = ud;
    if (tag == TAG_REG_EVENTS + REGISTRY_ENTITIES) {
        on_entity_registry_event(in, event);
        return;
    }
    if (tag >= TAG_REG_EVENTS && tag < TAG_REG_EVENTS + 3) {
        request_registry(in, (registry_kind)(tag - TAG_REG_EVENTS));
        return;
    }
    count(&in->st.events_in);
    if (in->bf != BF_DONE && in->bf != BF_IDLE)
        hold(in, event);
    else
        process_event(in, event, false);
}

/* Live state changes of the configured subscription, read without a JSON
 * tree: produced, or held as they came while the gap closes. Everything
 * else (registry events, other event types, anything rawmsg declines)
 * takes sess_event. */
static int sess_event_text(void *ud, int tag, const char *text, size_t n)
{
    ingest *in = ud;
    if (tag != HA_TAG_SUBSCRIBE)
        return -1;
    rawmsg_event ev;
    if (rawmsg_scan(text, n, &ev) != 0 || !ev.has_time)
        return -1;
    bool holding = in->bf != BF_DONE && in->bf != BF_IDLE;
    if (holding && hold_text(in, ev.time_ns, text, n) != 0)
        return -1;
    count(&in->st.events_in);
    if (!holding)
        process_state_text(in, &ev, text, n);
    return 0;
}

static void sess_result(void *ud, int64_t id, int tag, const ha_msg *msg)
{
    ingest *in = ud;
    if (tag >= TAG_REG_LIST && tag < TAG_REG_LIST + 3) {
        on_registry(in, (registry_kind)(tag - TAG_REG_LIST), msg);
        return;
    }
    if (tag == TAG_GET_STATES) {
        on_states(in, msg);
        return;
    }
    if (tag == TAG_HISTORY) {
        on_history(in, msg);
        return;
    }
    if (tag == TAG_ENTITY_GET) {
        on_entity_get(in, msg);
        return;
    }
    if (msg->success)
        return;
    count(&in->st.errors);
    const char *what = tag == HA_TAG_SUBSCRIBE  ? "subscribe_events"
                       : tag == HA_TAG_FEATURES ? "supported_features"
                       : tag >= TAG_REG_EVENTS  ? "subscribe_events (registry updates)"
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
        hs_warn("ha", "unusable message from Home Assistant (%zu bytes): %s", len,
                reason);
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
    int64_t now = hs_now_mono_ms();
    hs_mem_idle_note(&in->idle, now, len >= TRIM_FRAME_BYTES);
    int rc = ha_session_on_frame(in->session, buf, len, now, &why);
    if (rc == HA_SESSION_AUTH_INVALID) {
        in->auth_rejected = true;
        set_state(in, HA_AUTH_REJECTED);
        hs_breaker_set_last_error(in->ha_breaker, "auth_invalid");
        hs_error("ha", "Home Assistant refused the access token in HA_TOKEN: %s%s",
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

/* A frame over the streaming threshold that is not well formed. */
static void ws_malformed(void *ud, const char *reason, const char *text, size_t len)
{
    char why[256];
    snprintf(why, sizeof(why), "%s (only its start is kept)", reason);
    sess_invalid(ud, why, text, len);
}

static bool is_registry_tag(int tag)
{
    return tag >= TAG_REG_LIST && tag < TAG_REG_LIST + 3;
}

/* The get_states answer the gap closing waits for, and the registry lists,
 * are read element by element when they are large (ha_stream.h): one state
 * or registry entry in memory at a time. */
static bool ws_wants_elements(void *ud, int64_t id)
{
    ingest *in = ud;
    int tag = ha_session_pending_tag(in->session, id);
    if (tag == TAG_GET_STATES && in->bf == BF_STATES) {
        in->stream_tag = tag;
        return true;
    }
    if (is_registry_tag(tag) && in->reg_pending[tag - TAG_REG_LIST] == id) {
        in->stream_tag = tag;
        registry_load_begin(in->reg, (registry_kind)(tag - TAG_REG_LIST));
        return true;
    }
    return false;
}

/* One entry of a registry list read element by element. */
static void registry_element(ingest *in, const char *text, size_t len)
{
    registry_kind kind = (registry_kind)(in->stream_tag - TAG_REG_LIST);
    int rc = registry_load_add_text(in->reg, kind, text, len);
    if (rc <= 0) {
        if (rc < 0 && warn_ok(in))
            hs_error("ingest", "out of memory loading %s", registry_list_command(kind));
        return;
    }
    json_error_t jerr;
    json_t *el = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (el == NULL) {
        char why[256];
        snprintf(why, sizeof(why), "entry of %s is not valid JSON: %s",
                 registry_list_command(kind), jerr.text);
        sess_invalid(in, why, text, len);
        return;
    }
    if (registry_load_add(in->reg, kind, el) != 0 && warn_ok(in))
        hs_error("ingest", "out of memory loading %s", registry_list_command(kind));
    json_decref(el);
}

static void ws_element(void *ud, int64_t id, const char *text, size_t len)
{
    ingest *in = ud;
    (void)id;
    hs_mem_idle_note(&in->idle, hs_now_mono_ms(), true);
    if (is_registry_tag(in->stream_tag)) {
        registry_element(in, text, len);
        return;
    }
    char eid[256];
    bool has_eid;
    int64_t t;
    if (gapfill_state_peek(text, len, eid, sizeof(eid), &has_eid, &t) == 0) {
        on_state(in, has_eid ? eid : NULL, t, text, len);
        return;
    }
    json_error_t jerr;
    json_t *st = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (st == NULL) {
        char why[256];
        snprintf(why, sizeof(why), "state in the get_states answer is not valid JSON: %s",
                 jerr.text);
        count(&in->st.events_invalid);
        count(&in->st.errors);
        if (warn_ok(in))
            hs_warn("ha", "unusable state in a get_states/history answer: %s", why);
        dead_letter(in, why, text, len);
        return;
    }
    on_state_json(in, st, text, len);
    json_decref(st);
}

static void ws_element_oversize(void *ud, int64_t id, size_t size, const char *prefix,
                                size_t prefix_len)
{
    ingest *in = ud;
    (void)id;
    char why[160];
    if (is_registry_tag(in->stream_tag)) {
        snprintf(why, sizeof(why),
                 "entry of %zu bytes in %s exceeds the size limit; only its start is kept",
                 size, registry_list_command((registry_kind)(in->stream_tag - TAG_REG_LIST)));
        sess_invalid(in, why, prefix, prefix_len);
        return;
    }
    snprintf(why, sizeof(why),
             "state of %zu bytes in the get_states answer exceeds the size limit; only "
             "its start is kept",
             size);
    count(&in->st.events_invalid);
    count(&in->st.errors);
    hs_warn("ha", "%s", why);
    dead_letter(in, why, prefix, prefix_len);
}

static void ws_elements_end(void *ud, int64_t id, const char *error)
{
    ingest *in = ud;
    ha_session_take_result(in->session, id);
    if (is_registry_tag(in->stream_tag)) {
        registry_kind kind = (registry_kind)(in->stream_tag - TAG_REG_LIST);
        in->stream_tag = 0;
        char err[256];
        int n = registry_load_end(in->reg, kind, error == NULL);
        snprintf(err, sizeof(err), "%s answer %s", registry_list_command(kind),
                 error != NULL ? error : "could not be kept (out of memory)");
        registry_loaded(in, kind, n, err);
        return;
    }
    in->stream_tag = 0;
    if (error != NULL) {
        count(&in->st.errors);
        hs_error("ha", "the get_states answer is broken (%s); going on with the %zu "
                 "states read",
                 error, gap_store_count(in->bf_states));
    }
    on_states_done(in);
}

static void ws_closed(void *ud, const char *reason)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    /* A merge under way holds states already read: it is produced first. */
    merge_run(in, INT64_MAX / 2);
    bool was_ready = ha_session_get_state(in->session) == HA_SESS_READY;
    ha_session_stop(in->session);
    in->closing = false;
    if (in->bf != BF_DONE && in->bf != BF_IDLE)
        hs_warn("ingest",
                "connection lost while closing the gap; it is retried on the next "
                "connection");
    set_bf(in, BF_IDLE);
    gap_store_clear(in->bf_states);
    if (in->auth_rejected) {
        hs_breaker_failure(in->ha_breaker, now);
        if (!in->authenticated_once) {
            in->exit_code = INGEST_EXIT_AUTH;
            return;
        }
        set_state(in, HA_AUTH_REJECTED);
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
    in->ready_since_ms = 0;
    int64_t delay = backoff_next(&in->backoff);
    in->reconnect_at_ms = now + delay;
    hs_info("ha", "reconnecting in %" PRId64 " ms", delay);
}

/* --- the loop ----------------------------------------------------------- */

/* Puts the stage's own statistics on TOPIC_ENRICHED (hs_statsrec.h). */
static void publish_stats(ingest *in, int64_t now)
{
    if (in->next_stats_ms == 0 || now < in->next_stats_ms)
        return;
    in->next_stats_ms = now + in->cfg->stats_interval_s * 1000;
    json_t *stats = ingest_stats_view(in);
    json_t *health = ingest_health_view(in);
    char *text = hs_statsrec_text("ingestor", in->cfg->common.site, hs_now_wall_ns(), stats,
                                  health);
    if (text != NULL)
        outbox_stats(in->out, text, strlen(text));
    else
        hs_warn("ingest", "out of memory building the homestream_stats record");
    free(text);
}

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

int ingest_run(ingest *in, volatile sig_atomic_t *stop)
{
    in->exit_code = -1;
    char mark[40] = "none";
    if (outbox_mark(in->out) != INT64_MIN)
        hs_time_format_iso(outbox_mark(in->out), mark, sizeof(mark));
    hs_info("ingest",
            "started: Home Assistant %s://%s:%d%s, Kafka %s, topic %s, "
            "last safe event time %s",
            in->url.tls ? "wss" : "ws", in->url.host, in->url.port, in->url.path,
            in->cfg->common.kafka_brokers, in->cfg->common.topic_raw, mark);
    while (!*stop && in->exit_code < 0) {
        int64_t now = hs_now_mono_ms();
        refresh_filter(in);
        maybe_connect(in, now);
        if (!in->closing && ha_ws_is_active(in->ws) &&
            ha_session_tick(in->session, now) == HA_SESSION_DEAD) {
            count(&in->st.pong_timeouts);
            count(&in->st.errors);
            hs_warn("ha",
                    "Home Assistant did not answer within %" PRId64 " s; reconnecting",
                    in->cfg->ha_pong_timeout_s);
            close_connection(in);
        }
        if (in->bf == BF_WAIT && now >= in->bf_next_ms)
            send_history(in);
        merge_run(in, MERGE_SLICE_MS);
        publish_stats(in, now);
        int64_t wait = ha_session_next_tick_in(in->session, now);
        if (!ha_ws_is_active(in->ws) && in->reconnect_at_ms - now < wait)
            wait = in->reconnect_at_ms - now;
        if (wait > LOOP_WAIT_MS)
            wait = LOOP_WAIT_MS;
        if (wait < 0)
            wait = 0;
        if (in->merge == NULL) {
            if (ha_ws_service(in->ws, (int)wait) != 0)
                hs_warn("ws", "libwebsockets service failed");
        } else {
            /* Between slices of a merge, everything the connection has
             * (a wait of 0 would let lws sleep until its next own timer). */
            for (int round = 0; round < MERGE_READ_ROUNDS; round++) {
                unsigned long long before = ha_ws_received_bytes(in->ws);
                if (ha_ws_service(in->ws, 1) != 0)
                    hs_warn("ws", "libwebsockets service failed");
                if (ha_ws_received_bytes(in->ws) == before)
                    break;
            }
        }
        now = hs_now_mono_ms();
        outbox_poll(in->out, now);
        if (hs_mem_idle_due(&in->idle, now, TRIM_IDLE_MS)) {
            ha_ws_trim(in->ws);
            hs_recent_pack(in->recent);
        }
        hs_mem_idle_trim(&in->idle, now, TRIM_IDLE_MS);
    }
    bool auth_exit = in->exit_code == INGEST_EXIT_AUTH;
    if (auth_exit)
        hs_error("ingest", "exiting: fix HA_TOKEN (or HA_TOKEN_FILE) and restart");
    else
        hs_info("ingest", "stopping");
    /* A merge under way is produced; live events held for a gap closing that
     * cannot finish now go out as they are. */
    merge_run(in, INT64_MAX / 2);
    release_held(in);
    uint64_t lost = outbox_shutdown(in->out, SHUTDOWN_BUDGET_MS);
    if (lost > 0)
        hs_error("ingest", "stopped; %" PRIu64 " records could be kept nowhere (lost)",
                 lost);
    else
        hs_info("ingest", "stopped cleanly: every record delivered or spooled");
    return auth_exit ? INGEST_EXIT_AUTH : INGEST_EXIT_OK;
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
    in->next_stats_ms =
        cfg->stats_interval_s > 0 ? in->started_ms + cfg->stats_interval_s * 1000 : 0;
    in->exit_code = -1;
    atomic_init(&in->st.last_event_ns, INT64_MIN);
    for (int k = 0; k < 3; k++)
        in->reg_pending[k] = -1;
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
    if (strlist_split(&in->event_types, cfg->ha_event_types) != 0 ||
        filter_init(&in->filt, cfg->include_domains, cfg->include_entities,
                    cfg->include_entity_globs, cfg->exclude_domains,
                    cfg->exclude_entities, cfg->exclude_entity_globs) != 0) {
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
        .event_text = sess_event_text,
        .result = sess_result,
        .invalid = sess_invalid,
        .ud = in,
    };
    in->session = ha_session_new(&so, &sc);
    in->recent = hs_recent_new(RECENT_CAPACITY);
    in->ha_breaker = hs_breaker_new("home_assistant", NULL);
    in->reg = registry_new();
    in->seen = lastseen_new(LASTSEEN_MAX);
    in->held = gap_store_new();
    in->bf_states = gap_store_new();
    if (in->session == NULL || in->recent == NULL || in->ha_breaker == NULL ||
        in->reg == NULL || in->seen == NULL || in->held == NULL ||
        in->bf_states == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    in->rand_state = random_seed();
    backoff_init(&in->backoff, 1000, cfg->ha_reconnect_max_s * 1000, jitter_rand,
                 &in->rand_state);

    outbox_opts oo = {
        .brokers = cfg->common.kafka_brokers,
        .topic_raw = cfg->common.topic_raw,
        .topic_dlq = cfg->common.topic_dlq,
        .topic_stats = cfg->common.topic_enriched,
        .dlq_key = cfg->common.site,
        .spool_dir = cfg->spool_dir,
        .spool_max_bytes = (uint64_t)cfg->spool_max_mb * 1024 * 1024,
        .memq_max_events = (size_t)cfg->memq_max_events,
        .kafka_extra = NULL,
    };
    in->out = outbox_new(&oo, err, errlen);
    if (in->out == NULL)
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
        .malformed = ws_malformed,
        .wants_elements = ws_wants_elements,
        .element = ws_element,
        .element_oversize = ws_element_oversize,
        .elements_end = ws_elements_end,
    };
    in->ws = ha_ws_new(&wo, &wc, err, errlen);
    if (in->ws == NULL)
        goto fail;
    if (ingest_admin_start(in, err, errlen) != 0)
        goto fail;
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
    outbox_free(in->out);
    ha_session_free(in->session);
    hs_recent_free(in->recent);
    hs_breaker_free(in->ha_breaker);
    registry_free(in->reg);
    lastseen_free(in->seen);
    rawmsg_buf_fini(&in->raw);
    gapfill_merge_free(in->merge);
    gap_store_free(in->held);
    gap_store_free(in->bf_states);
    json_decref(in->bf_ids);
    filter_fini(&in->filt);
    strlist_fini(&in->event_types);
    if (in->lock_ready)
        pthread_mutex_destroy(&in->lock);
    free(in);
}
