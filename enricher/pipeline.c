/* pipeline.c - the enricher's Kafka loop (see pipeline.h). */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "hs_mem.h"
#include "hs_offtrack.h"
#include "hs_recent.h"
#include "hs_time.h"
#include "presence.h"

#define COMPONENT "pipeline"
#define RECENT_CAPACITY 1000
#define BATCH_MAX 500         /* messages handled per step */
#define INFLIGHT_PAUSE 100000 /* outputs in flight that pause consumption */
#define RETRY_DELAY_MS 1000   /* pause before producing a failed message again */
#define PRODUCE_BLOCK_MS 1000 /* wait on a full local queue before retrying later */
#define ASSIGNMENT_CHECK_MS 1000
#define RATE_WINDOW_MS 5000
#define PROBE_INTERVAL_MS 10000 /* Kafka reachability probe */
#define PROBE_TIMEOUT_MS 500
#define STALL_MS 30000    /* no delivery report for this long with outputs in flight */
#define CLOSE_MIN_MS 1000 /* least time given to the consumer's close */
#define IDLE_TRIM_MS 2000 /* quiet time after which freed memory goes back */
/* Longest wait for input while outputs are in flight: their delivery
 * reports are served between waits. */
#define INFLIGHT_WAIT_MS 5

/* One consumed message whose offset waits for its outputs. */
typedef struct {
    int32_t partition;
    int64_t offset;
    uint32_t generation;
    int pending; /* outputs not yet delivered */
} input_ref;

typedef enum { OUT_ENRICHED, OUT_DLQ, OUT_PRESENCE, OUT_WEATHER, OUT_STATS } out_kind;

/* One produced message. Owns a copy of key and payload so it can be produced
 * again after a failed delivery. */
typedef struct out_msg {
    input_ref *in; /* NULL for records no input waits for */
    out_kind kind;
    char *key; /* NULL, or in the same allocation, after the struct */
    size_t keylen;
    char *payload;
    size_t len;
    /* OUT_ENRICHED: the raw payload, for the DLQ if too large, orig_len
     * bytes: in orig, or, when orig is NULL and orig_len is not 0, the first
     * orig_head bytes of payload followed by orig_tail (the fast path's
     * enriched text starts with the raw text, so its copy is saved). */
    char *orig;
    size_t orig_len;
    size_t orig_head;
    char orig_tail[8];
    int64_t retry_at_ms;
    struct out_msg *next; /* retry list */
} out_msg;

/* Assignment bookkeeping of one input partition. */
typedef struct {
    uint32_t generation;
    bool assigned; /* seen in the last assignment check or since */
    /* An offset done but not yet stored: delivery reports come in bursts,
     * and flush_offsets stores every partition's newest in one call. */
    bool store_due;
    int64_t store_next; /* the offset the group resumes from */
} part_state;

struct pipeline {
    char *topic_raw, *topic_enriched, *topic_dlq, *site;
    char *presence_file; /* NULL: presence is not saved */
    bool metric;
    bool tree_only;
    poller *poller;

    rd_kafka_t *producer;
    rd_kafka_topic_t *rkt_enriched, *rkt_dlq; /* held so a produce looks up no name */
    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_queue; /* the consumer's queue, for batch reads */
    bool stores_due;                  /* some part_state has store_due */
    bool delivered;                   /* a good delivery report since the last poll */
    pthread_mutex_t consumer_lock; /* guards consumer against the admin thread at close */
    bool consumer_lock_init;
    bool closed;

    hs_offtrack *offtrack;
    part_state *parts;
    size_t nparts;
    int64_t next_assignment_check_ms;
    bool paused;

    out_msg *retry_head, *retry_tail;
    uint64_t inflight_own;     /* outputs in flight that no input waits for */
    uint64_t failed_since_log; /* delivery failures not yet logged */
    int64_t last_fail_log_ms;
    presence *presence;
    uint64_t weather_version_sent;

    pthread_mutex_t presence_lock; /* guards presence_snap for other threads */
    bool presence_lock_init;
    json_t *presence_snap;

    /* The fast path's texts of the snapshots it attaches, made again only
     * when they change: presence_text is the dump of presence_text_of (a
     * reference held, so a new snapshot is never at the same address);
     * weather_text (NULL: null) is the weather object of the observation
     * weather_text_version at weather_text_age_s and weather_text_stale. */
    json_t *presence_text_of;
    char *presence_text;
    char *weather_text;
    bool weather_text_valid;
    uint64_t weather_text_version;
    int64_t weather_text_age_s;
    bool weather_text_stale;

    hs_recent *recent;
    atomic_bool fatal; /* the producer hit a fatal error */

    _Atomic uint64_t events_in, events_out, errors, dlq, presence_records,
        weather_records, stats_records, retries, inflight, kafka_errors, offsets_stored;
    _Atomic int64_t last_event_ns;       /* time_ns of the last event enriched; 0 none */
    _Atomic int64_t last_kafka_error_ms; /* monotonic; 0 none */
    _Atomic int64_t last_delivery_ms;    /* monotonic; 0 none */
    _Atomic int kafka_unreachable;       /* the last metadata probe failed */
    int64_t next_probe_ms;
    hs_mem_idle idle; /* messages are activity, every one heavy */

    /* Rates over the last RATE_WINDOW_MS, in milli-events per second. */
    _Atomic uint64_t in_rate_milli, out_rate_milli;
    int64_t rate_since_ms;
    uint64_t rate_in_base, rate_out_base;
};

static uint64_t ld(_Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* The counters have one writer, the thread of pipeline_step() (delivery
 * reports are served there too); other threads only read them. So a
 * relaxed load and store suffice, without a locked read-modify-write for
 * each of the several counts an event makes. */
static void inc(_Atomic uint64_t *a)
{
    atomic_store_explicit(a, ld(a) + 1, memory_order_relaxed);
}

static void dec(_Atomic uint64_t *a)
{
    atomic_store_explicit(a, ld(a) - 1, memory_order_relaxed);
}

static part_state *part_get(pipeline *p, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= p->nparts) {
        size_t n = (size_t)partition + 1;
        part_state *grown = realloc(p->parts, n * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + p->nparts, 0, (n - p->nparts) * sizeof *grown);
        p->parts = grown;
        p->nparts = n;
    }
    return &p->parts[partition];
}

static void out_free(out_msg *o)
{
    if (!o)
        return;
    free(o->payload);
    free(o->orig);
    free(o);
}

/* The input's offset is done: when its generation is current and that lets
 * the partition's committable point advance, the new point is noted for
 * flush_offsets. */
static void input_done(pipeline *p, input_ref *in)
{
    part_state *ps = (size_t)in->partition < p->nparts ? &p->parts[in->partition] : NULL;
    if (ps && ps->generation == in->generation && !p->closed) {
        int64_t next = 0;
        if (hs_offtrack_done(p->offtrack, p->topic_raw, in->partition, in->offset,
                             &next)) {
            ps->store_next = next;
            ps->store_due = true;
            p->stores_due = true;
        }
    }
    free(in);
}

/* Stores the offsets input_done noted, all partitions in one call (after
 * every poll of the producer, so before the next auto commit as before). A
 * partition that fails is logged at debug level: it was revoked meanwhile,
 * and its new owner starts from what was committed. */
static void flush_offsets(pipeline *p)
{
    if (!p->stores_due)
        return;
    p->stores_due = false;
    rd_kafka_topic_partition_list_t *list = NULL;
    for (size_t i = 0; i < p->nparts; i++) {
        part_state *ps = &p->parts[i];
        if (!ps->store_due)
            continue;
        ps->store_due = false;
        if (!list)
            list = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(list, p->topic_raw, (int32_t)i)->offset =
            ps->store_next;
    }
    if (!list || p->closed || !p->consumer) {
        if (list)
            rd_kafka_topic_partition_list_destroy(list);
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(p->consumer, list);
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            inc(&p->offsets_stored);
            continue;
        }
        hs_debug(COMPONENT, "storing offset %" PRId64 " of %s [%" PRId32 "]: %s",
                 tp->offset - 1, p->topic_raw, tp->partition,
                 rd_kafka_err2str(tp->err ? tp->err : e));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Serves the producer's delivery reports, waiting at most timeout_ms for
 * the first, then stores what they completed. The clock is read once per
 * poll that saw a good delivery, not once per report. */
static void poll_producer(pipeline *p, int timeout_ms)
{
    rd_kafka_poll(p->producer, timeout_ms);
    if (p->delivered) {
        p->delivered = false;
        atomic_store_explicit(&p->last_delivery_ms, hs_now_mono_ms(),
                              memory_order_relaxed);
    }
    flush_offsets(p);
}

/* Releases one output of its input; the input is done when none is left. */
static void out_release(pipeline *p, out_msg *o, bool delivered)
{
    input_ref *in = o->in;
    out_free(o);
    dec(&p->inflight);
    if (!in)
        p->inflight_own--;
    if (in && --in->pending == 0) {
        if (delivered)
            input_done(p, in);
        else
            free(in);
    }
}

static void retry_push(pipeline *p, out_msg *o)
{
    o->retry_at_ms = hs_now_mono_ms() + RETRY_DELAY_MS;
    o->next = NULL;
    if (p->retry_tail)
        p->retry_tail->next = o;
    else
        p->retry_head = o;
    p->retry_tail = o;
}

static const char *out_topic(const pipeline *p, const out_msg *o)
{
    return o->kind == OUT_DLQ ? p->topic_dlq : p->topic_enriched;
}

static void out_failed(pipeline *p, out_msg *o, rd_kafka_resp_err_t e);

/* Hands o to the producer, as hs_kafka_produce does but through the held
 * topic handle and without a copy of the payload: o owns it until its
 * delivery report (RD_KAFKA_MSG_F_COPY and F_FREE unset, so librdkafka
 * neither copies nor frees it; a failed delivery produces the same bytes
 * again). librdkafka copies the key. On a full local queue it serves
 * delivery reports and tries again for at most PRODUCE_BLOCK_MS. On a
 * synchronous failure o goes to the retry list or, for what can never fit,
 * the DLQ (see out_failed). */
static void out_produce(pipeline *p, out_msg *o)
{
    rd_kafka_topic_t *rkt = o->kind == OUT_DLQ ? p->rkt_dlq : p->rkt_enriched;
    int64_t deadline = 0;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(0),
            RD_KAFKA_V_KEY(o->key, o->keylen), RD_KAFKA_V_VALUE(o->payload, o->len),
            RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        int64_t now = hs_now_mono_ms();
        if (deadline == 0)
            deadline = now + PRODUCE_BLOCK_MS;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || now >= deadline) {
            out_failed(p, o, e);
            return;
        }
        /* Serving delivery reports is what frees room in the queue. */
        poll_producer(p, 10);
    }
}

/* Replaces an enriched message that Kafka will never take with a DLQ record
 * of its raw payload (cut to fit, see hs_kafka_dlq_record_max, since a raw
 * message that grew too large is usually too large itself); anything else
 * that can never be delivered is dropped with an error log and a count. */
static void out_undeliverable(pipeline *p, out_msg *o, rd_kafka_resp_err_t e)
{
    inc(&p->errors);
    if (o->kind == OUT_ENRICHED && !o->orig && o->orig_len > 0) {
        o->orig = malloc(o->orig_len);
        if (o->orig) {
            memcpy(o->orig, o->payload, o->orig_head);
            memcpy(o->orig + o->orig_head, o->orig_tail, o->orig_len - o->orig_head);
        }
    }
    if (o->kind == OUT_ENRICHED && o->orig) {
        char reason[200];
        snprintf(
            reason, sizeof reason,
            "enriched message of %zu bytes undeliverable (raw message %zu bytes): %s",
            o->len, o->orig_len, rd_kafka_err2str(e));
        char *rec = hs_kafka_dlq_record_max("enricher", reason, o->orig, o->orig_len,
                                            HS_KAFKA_DLQ_MAX_BYTES);
        if (rec) {
            free(o->payload);
            free(o->orig);
            o->orig = NULL;
            o->payload = rec;
            o->len = strlen(rec);
            o->kind = OUT_DLQ;
            hs_warn(COMPONENT, "%s; sending the raw message to %s", reason, p->topic_dlq);
            out_produce(p, o);
            return;
        }
    }
    hs_error(COMPONENT,
             "dropping a %s record of %zu bytes that Kafka refuses for good: %s",
             o->kind == OUT_DLQ ? "DLQ" : "enricher", o->len, rd_kafka_err2str(e));
    /* The input is released as handled: it can never go anywhere else. */
    out_release(p, o, true);
}

static void out_failed(pipeline *p, out_msg *o, rd_kafka_resp_err_t e)
{
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
        e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE) {
        out_undeliverable(p, o, e);
        return;
    }
    inc(&p->errors);
    inc(&p->retries);
    /* One log line a second at most: a broker outage fails every message. */
    p->failed_since_log++;
    int64_t now = hs_now_mono_ms();
    if (now - p->last_fail_log_ms >= 1000) {
        hs_warn(COMPONENT,
                "%" PRIu64 " deliveries failed (last: %s to %s); producing them "
                "again after %d ms",
                p->failed_since_log, rd_kafka_err2str(e), out_topic(p, o),
                RETRY_DELAY_MS);
        p->failed_since_log = 0;
        p->last_fail_log_ms = now;
    }
    retry_push(p, o);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    pipeline *p = opaque;
    out_msg *o = msg->_private;
    if (!o)
        return;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->delivered = true; /* poll_producer records the time */
        switch (o->kind) {
        case OUT_ENRICHED:
            inc(&p->events_out);
            break;
        case OUT_DLQ:
            inc(&p->dlq);
            break;
        case OUT_PRESENCE:
            inc(&p->presence_records);
            break;
        case OUT_WEATHER:
            inc(&p->weather_records);
            break;
        case OUT_STATS:
            inc(&p->stats_records);
            break;
        }
        out_release(p, o, true);
        return;
    }
    if (p->closed || msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        /* Shutting down: the offset stays unstored, so the message replays. */
        out_release(p, o, false);
        return;
    }
    char errstr[256];
    if (rd_kafka_fatal_error(rk, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!p->fatal)
            hs_error(COMPONENT, "fatal producer error: %s", errstr);
        p->fatal = true;
        inc(&p->errors);
        out_release(p, o, false);
        return;
    }
    out_failed(p, o, msg->err);
}

/* Queues an output for in (which may be NULL). Takes ownership of payload
 * (malloc'd) in every case. orig[0..orig_len) (may be NULL) is kept for the
 * DLQ; when orig_head is not 0 the caller says payload starts with
 * orig[0..orig_head), and only the rest of orig is copied when it is
 * short. Returns 0, or -1 when out of memory. */
static int emit(pipeline *p, input_ref *in, out_kind kind, const char *key, char *payload,
                const void *orig, size_t orig_len, size_t orig_head)
{
    size_t keylen = key ? strlen(key) : 0;
    /* The key is kept right after the struct, in the same allocation. */
    out_msg *o = calloc(1, sizeof *o + (key ? keylen + 1 : 0));
    if (!o || !payload) {
        free(o);
        free(payload);
        return -1;
    }
    o->in = in;
    o->kind = kind;
    o->payload = payload;
    o->len = strlen(payload);
    if (key) {
        o->key = (char *)(o + 1);
        memcpy(o->key, key, keylen + 1);
        o->keylen = keylen;
    }
    if (orig && orig_head > 0 && orig_head <= orig_len &&
        orig_len - orig_head <= sizeof o->orig_tail && orig_head <= o->len) {
        o->orig_len = orig_len;
        o->orig_head = orig_head;
        memcpy(o->orig_tail, (const char *)orig + orig_head, orig_len - orig_head);
    } else if (orig) {
        o->orig = malloc(orig_len ? orig_len : 1);
        if (!o->orig) {
            out_free(o);
            return -1;
        }
        memcpy(o->orig, orig, orig_len);
        o->orig_len = orig_len;
    }
    if (in)
        in->pending++;
    else
        p->inflight_own++;
    inc(&p->inflight);
    out_produce(p, o);
    return 0;
}

/* Saves snap to the presence file through a temporary file and a rename,
 * so a crash never leaves half a file. A failure is logged, not fatal. */
static void save_presence(pipeline *p, json_t *snap)
{
    char tmp[4096];
    if (!p->presence_file ||
        snprintf(tmp, sizeof tmp, "%s.tmp", p->presence_file) >= (int)sizeof tmp)
        return;
    if (json_dump_file(snap, tmp, JSON_COMPACT) != 0 ||
        rename(tmp, p->presence_file) != 0) {
        inc(&p->errors);
        hs_warn(COMPONENT, "cannot save presence to %s: %s", p->presence_file,
                strerror(errno));
        unlink(tmp);
    }
}

/* Seeds presence from the presence file when there is one. */
static void load_presence(pipeline *p)
{
    if (!p->presence_file || access(p->presence_file, F_OK) != 0)
        return;
    json_error_t je;
    char err[256];
    json_t *saved = json_load_file(p->presence_file, 0, &je);
    int n = saved ? presence_restore(p->presence, saved, err, sizeof err) : -1;
    if (!saved)
        snprintf(err, sizeof err, "%s", je.text);
    if (n < 0)
        hs_warn(COMPONENT, "ignoring saved presence in %s: %s", p->presence_file, err);
    else
        hs_info(COMPONENT, "presence of %d people restored from %s", n, p->presence_file);
    json_decref(saved);
}

static void set_presence_snap(pipeline *p, json_t *snap)
{
    save_presence(p, snap);
    pthread_mutex_lock(&p->presence_lock);
    json_t *old = p->presence_snap;
    p->presence_snap = snap;
    pthread_mutex_unlock(&p->presence_lock);
    json_decref(old);
}

/* Emits the enricher's own record of event_type with body at time_ns. */
static int emit_own(pipeline *p, input_ref *in, const char *event_type, int64_t time_ns,
                    json_t *body)
{
    json_t *rec = enrich_own_record(p->site, event_type, time_ns, body);
    if (!rec)
        return -1;
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (text)
        hs_recent_push_text(p->recent, NULL, text, strlen(text));
    return emit(p, in, strcmp(event_type, "presence") == 0 ? OUT_PRESENCE : OUT_WEATHER,
                p->site, text, NULL, 0, 0);
}

int pipeline_publish_stats(pipeline *p, char *text)
{
    return emit(p, NULL, OUT_STATS, "enricher", text, NULL, 0, 0);
}

/* Sends the raw payload to the DLQ with reason, cut to fit when it is too
 * large for a Kafka message (see hs_kafka_dlq_record_max). */
static int to_dlq(pipeline *p, input_ref *in, const rd_kafka_message_t *m,
                  const char *reason)
{
    inc(&p->errors);
    hs_warn(COMPONENT, "%s [%" PRId32 "] offset %" PRId64 " to %s: %s", p->topic_raw,
            m->partition, m->offset, p->topic_dlq, reason);
    char *rec = hs_kafka_dlq_record_max("enricher", reason, m->payload, m->len,
                                        HS_KAFKA_DLQ_MAX_BYTES);
    char key[256];
    const char *k = p->site;
    if (m->key && m->key_len > 0 && m->key_len < sizeof key) {
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        if (strlen(key) == m->key_len)
            k = key;
    }
    return emit(p, in, OUT_DLQ, k, rec, NULL, 0, 0);
}

/* Registers offset as in flight, starting a new generation when the
 * partition went back (a rebalance handed it to us again). */
static int track(pipeline *p, int32_t partition, int64_t offset, uint32_t *generation)
{
    part_state *ps = part_get(p, partition);
    if (!ps)
        return -1;
    if (!ps->assigned) {
        ps->assigned = true;
        ps->generation++;
        ps->store_due = false;
        hs_offtrack_forget(p->offtrack, p->topic_raw, partition);
    }
    if (hs_offtrack_add(p->offtrack, p->topic_raw, partition, offset) != 0) {
        hs_info(COMPONENT,
                "%s [%" PRId32 "] restarts at offset %" PRId64 "; tracking it afresh",
                p->topic_raw, partition, offset);
        ps->generation++;
        ps->store_due = false;
        hs_offtrack_forget(p->offtrack, p->topic_raw, partition);
        if (hs_offtrack_add(p->offtrack, p->topic_raw, partition, offset) != 0)
            return -1;
    }
    *generation = ps->generation;
    return 0;
}

/* Forgets partitions no longer assigned. */
static void check_assignment(pipeline *p)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(p->consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a)
        return;
    for (size_t i = 0; i < p->nparts; i++) {
        if (!p->parts[i].assigned)
            continue;
        bool still = false;
        for (int k = 0; k < a->cnt && !still; k++)
            still = a->elems[k].partition == (int32_t)i &&
                    strcmp(a->elems[k].topic, p->topic_raw) == 0;
        if (!still) {
            hs_info(COMPONENT, "%s [%zu] revoked; forgetting its offsets in flight",
                    p->topic_raw, i);
            p->parts[i].assigned = false;
            p->parts[i].generation++;
            p->parts[i].store_due = false;
            hs_offtrack_forget(p->offtrack, p->topic_raw, (int32_t)i);
        }
    }
    /* Consumption stays paused across a rebalance while outputs pile up. */
    if (p->paused && a->cnt > 0)
        rd_kafka_pause_partitions(p->consumer, a);
    rd_kafka_topic_partition_list_destroy(a);
}

static void set_paused(pipeline *p, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(p->consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a)
        return;
    if (pause)
        rd_kafka_pause_partitions(p->consumer, a);
    else
        rd_kafka_resume_partitions(p->consumer, a);
    rd_kafka_topic_partition_list_destroy(a);
    p->paused = pause;
    hs_info(COMPONENT, "%s consumption (%" PRIu64 " outputs in flight)",
            pause ? "pausing" : "resuming", ld(&p->inflight));
}

/* The compact text of the current presence snapshot, or NULL when out of
 * memory. */
static const char *presence_text(pipeline *p)
{
    json_t *snap = presence_snapshot(p->presence);
    if (!snap)
        return NULL;
    if (snap == p->presence_text_of && p->presence_text) {
        json_decref(snap);
        return p->presence_text;
    }
    char *text = json_dumps(snap, JSON_COMPACT);
    if (!text) {
        json_decref(snap);
        return NULL;
    }
    free(p->presence_text);
    json_decref(p->presence_text_of);
    p->presence_text = text;
    p->presence_text_of = snap;
    return text;
}

/* The compact text of the weather object poller_weather would give at
 * now_ns into *text (NULL when there is none: JSON null) and its version
 * into *version (0 when none). Returns 0, or -1 when out of memory. */
static int weather_text(pipeline *p, int64_t now_ns, const char **text, uint64_t *version)
{
    weather_obs obs;
    bool stale = false;
    *text = NULL;
    if (poller_weather_parts(p->poller, now_ns, &obs, &stale, version) != 0)
        return 0;
    int64_t age = weather_age_s(&obs, now_ns);
    if (!p->weather_text_valid || p->weather_text_version != *version ||
        p->weather_text_age_s != age || p->weather_text_stale != stale) {
        json_t *w = weather_to_json(&obs, now_ns, stale);
        char *dump = w ? json_dumps(w, JSON_COMPACT) : NULL;
        json_decref(w);
        if (!dump)
            return -1;
        free(p->weather_text);
        p->weather_text = dump;
        p->weather_text_valid = true;
        p->weather_text_version = *version;
        p->weather_text_age_s = age;
        p->weather_text_stale = stale;
    }
    *text = p->weather_text;
    return 0;
}

/* The fast path of handle(): the enriched text spliced straight from the
 * raw text (enrich_scan_raw, enrich_scan_text), with the snapshots' texts
 * made once per change. It leaves to the tree path every message it is
 * unsure of (see enrich.h), the entities that feed presence or the
 * weather, and the first message after a new weather observation (the
 * tree path sends the weather record). Returns 0 when it handled m, 1 when
 * the tree path must, -1 when out of memory. */
static int handle_fast(pipeline *p, input_ref *in, const rd_kafka_message_t *m)
{
    enrich_scan s;
    if (p->tree_only || !m->payload ||
        enrich_scan_raw(m->payload, m->len, p->metric, &s) != 0)
        return 1;
    const char *entity_id = s.has_entity_id ? s.entity_id : NULL;
    if (s.state_changed && (presence_is_tracked(entity_id) ||
                            (p->poller && poller_wants_entity(p->poller, entity_id))))
        return 1;
    const char *wtext = NULL;
    if (p->poller) {
        uint64_t version = 0;
        if (weather_text(p, hs_now_wall_ns(), &wtext, &version) != 0)
            return -1;
        if (wtext && version != p->weather_version_sent)
            return 1;
    }
    const char *ptext = presence_text(p);
    if (!ptext)
        return -1;
    atomic_store_explicit(&p->last_event_ns, s.time_ns, memory_order_relaxed);
    size_t text_len = 0;
    char *text = enrich_scan_text(m->payload, &s, ptext, wtext, &text_len);
    if (text)
        hs_recent_push_text(p->recent, entity_id, text, text_len);
    return emit(p, in, OUT_ENRICHED, entity_id ? entity_id : p->site, text, m->payload,
                m->len, s.head);
}

/* Handles one consumed message. Returns -1 only when out of memory. */
static int handle(pipeline *p, const rd_kafka_message_t *m)
{
    inc(&p->events_in);
    input_ref *in = calloc(1, sizeof *in);
    if (!in)
        return -1;
    in->partition = m->partition;
    in->offset = m->offset;
    if (track(p, m->partition, m->offset, &in->generation) != 0) {
        free(in);
        return -1;
    }
    /* pending starts at 1 for this function, so no delivery report can
     * finish the input before all its outputs are queued. */
    in->pending = 1;

    int rc = handle_fast(p, in, m);
    json_t *raw = NULL;
    if (rc <= 0)
        goto done;
    rc = 0;
    json_error_t jerr;
    raw = json_loadb(m->payload ? m->payload : "", m->len,
                     JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    char err[256];
    if (!raw) {
        char reason[300];
        snprintf(reason, sizeof reason, "not JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        rc = to_dlq(p, in, m, reason);
        goto done;
    }
    if (hs_event_validate_raw(raw, err, sizeof err) != 0) {
        rc = to_dlq(p, in, m, err);
        goto done;
    }

    const char *entity_id = json_string_value(json_object_get(raw, "entity_id"));
    const char *event_type = json_string_value(json_object_get(raw, "event_type"));
    bool state_changed = event_type && strcmp(event_type, "state_changed") == 0;
    const json_t *new_state = json_object_get(raw, "new_state");

    if (state_changed && presence_is_tracked(entity_id)) {
        int changed = presence_update(p->presence, entity_id, new_state);
        if (changed < 0) {
            rc = -1;
            goto done;
        }
        if (changed) {
            json_t *snap = presence_snapshot(p->presence);
            set_presence_snap(p, json_incref(snap));
            int64_t t = 0;
            if (enrich_time_ns(raw, &t, err, sizeof err) != 0)
                t = hs_now_wall_ns();
            rc = emit_own(p, in, "presence", t, snap);
            json_decref(snap);
            if (rc != 0)
                goto done;
        }
    }
    if (state_changed && p->poller && poller_wants_entity(p->poller, entity_id) &&
        json_is_object(new_state))
        poller_offer_entity(p->poller, new_state, hs_now_wall_ns());

    uint64_t wversion = 0;
    json_t *weather =
        p->poller ? poller_weather(p->poller, hs_now_wall_ns(), &wversion) : NULL;
    if (weather && wversion != p->weather_version_sent) {
        p->weather_version_sent = wversion;
        int64_t t = poller_weather_observed_ns(p->poller);
        rc = emit_own(p, in, "weather", t ? t : hs_now_wall_ns(), weather);
        if (rc != 0) {
            json_decref(weather);
            goto done;
        }
    }
    json_t *snap = presence_snapshot(p->presence);
    enrich_ctx ctx = {.presence = snap, .weather = weather, .metric = p->metric};
    json_t *fields = enrich_fields(raw, &ctx, err, sizeof err);
    json_decref(snap);
    json_decref(weather);
    if (!fields) {
        rc = to_dlq(p, in, m, err);
        goto done;
    }
    atomic_store_explicit(&p->last_event_ns,
                          (int64_t)json_integer_value(json_object_get(fields, "time_ns")),
                          memory_order_relaxed);
    /* The raw text with the new members spliced in: dumping the whole
     * message again was a third of the enricher's work. */
    size_t text_len = 0;
    char *text = enrich_text(m->payload, m->len, raw, fields, &text_len);
    json_decref(fields);
    if (text)
        hs_recent_push_text(p->recent, entity_id, text, text_len);
    rc = emit(p, in, OUT_ENRICHED, entity_id ? entity_id : p->site, text, m->payload,
              m->len, 0);

done:
    json_decref(raw);
    if (--in->pending == 0)
        input_done(p, in);
    return rc;
}

/* Produces what waits in the retry list and is due. */
static void retry_due(pipeline *p)
{
    int64_t now = hs_now_mono_ms();
    while (p->retry_head && p->retry_head->retry_at_ms <= now) {
        out_msg *o = p->retry_head;
        p->retry_head = o->next;
        if (!p->retry_head)
            p->retry_tail = NULL;
        o->next = NULL;
        out_produce(p, o);
    }
}

/* Picks up a presence document from the presence URL. */
static int take_presence(pipeline *p)
{
    json_t *doc = p->poller ? poller_take_presence(p->poller) : NULL;
    if (!doc)
        return 0;
    char err[256];
    int changed = presence_set_external(p->presence, doc, err, sizeof err);
    json_decref(doc);
    if (changed < 0) {
        hs_warn(COMPONENT, "presence document rejected: %s", err);
        poller_presence_rejected(p->poller, err);
        return 0;
    }
    if (changed) {
        json_t *snap = presence_snapshot(p->presence);
        set_presence_snap(p, json_incref(snap));
        int rc = emit_own(p, NULL, "presence", hs_now_wall_ns(), snap);
        json_decref(snap);
        return rc;
    }
    return 0;
}

/* Emits a weather record when a fetched observation is newer than the last
 * one sent, even while no events flow. */
static int weather_idle(pipeline *p)
{
    if (!p->poller)
        return 0;
    uint64_t version = 0;
    json_t *w = poller_weather(p->poller, hs_now_wall_ns(), &version);
    int rc = 0;
    if (w && version != p->weather_version_sent) {
        p->weather_version_sent = version;
        int64_t t = poller_weather_observed_ns(p->poller);
        rc = emit_own(p, NULL, "weather", t ? t : hs_now_wall_ns(), w);
    }
    json_decref(w);
    return rc;
}

/* Asks the cluster for metadata every PROBE_INTERVAL_MS, waiting at most
 * PROBE_TIMEOUT_MS, so /health can say when Kafka is out of reach (without
 * an error callback librdkafka only logs broker failures). */
static void probe_kafka(pipeline *p, int64_t now)
{
    if (now < p->next_probe_ms)
        return;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(p->producer, 0, NULL, &md, PROBE_TIMEOUT_MS);
    if (md)
        rd_kafka_metadata_destroy(md);
    int was = atomic_exchange(&p->kafka_unreachable, e != RD_KAFKA_RESP_ERR_NO_ERROR);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && !was)
        hs_warn(COMPONENT, "Kafka is out of reach: %s", rd_kafka_err2str(e));
    else if (e == RD_KAFKA_RESP_ERR_NO_ERROR && was)
        hs_info(COMPONENT, "Kafka is reachable again");
    p->next_probe_ms = hs_now_mono_ms() + PROBE_INTERVAL_MS;
}

/* Refreshes the event rates once per RATE_WINDOW_MS. */
static void update_rates(pipeline *p, int64_t now)
{
    if (p->rate_since_ms == 0) {
        p->rate_since_ms = now;
        return;
    }
    int64_t elapsed = now - p->rate_since_ms;
    if (elapsed < RATE_WINDOW_MS)
        return;
    uint64_t in = ld(&p->events_in), out = ld(&p->events_out);
    atomic_store_explicit(&p->in_rate_milli,
                          (in - p->rate_in_base) * 1000000 / (uint64_t)elapsed,
                          memory_order_relaxed);
    atomic_store_explicit(&p->out_rate_milli,
                          (out - p->rate_out_base) * 1000000 / (uint64_t)elapsed,
                          memory_order_relaxed);
    p->rate_in_base = in;
    p->rate_out_base = out;
    p->rate_since_ms = now;
}

int pipeline_step(pipeline *p, int timeout_ms)
{
    if (p->fatal)
        return -1;
    poll_producer(p, 0);
    retry_due(p);
    if (take_presence(p) != 0 || weather_idle(p) != 0)
        return -1;

    int64_t now = hs_now_mono_ms();
    update_rates(p, now);
    probe_kafka(p, now);
    if (now >= p->next_assignment_check_ms) {
        check_assignment(p);
        p->next_assignment_check_ms = now + ASSIGNMENT_CHECK_MS;
    }
    uint64_t inflight = ld(&p->inflight);
    if (!p->paused && inflight >= INFLIGHT_PAUSE)
        set_paused(p, true);
    else if (p->paused && inflight < INFLIGHT_PAUSE / 2)
        set_paused(p, false);

    /* With outputs in flight the wait for input is short, so that their
     * delivery reports (which store the input offsets, count events_out
     * and free the messages) are served within a few ms of arriving, not
     * after a whole timeout_ms of quiet input. */
    int wait_ms = timeout_ms;
    if (wait_ms > INFLIGHT_WAIT_MS && ld(&p->inflight) > 0)
        wait_ms = INFLIGHT_WAIT_MS;
    rd_kafka_message_t *batch[BATCH_MAX];
    size_t consumed =
        hs_kafka_consume_some(p->consumer, p->consumer_queue, wait_ms, batch, BATCH_MAX);
    if (consumed == 0) {
        /* Once the input has been quiet for IDLE_TRIM_MS after a burst,
         * the recent events are packed and the memory the burst freed goes
         * back to the system. */
        int64_t quiet_now = hs_now_mono_ms();
        if (hs_mem_idle_due(&p->idle, quiet_now, IDLE_TRIM_MS))
            hs_recent_pack(p->recent);
        hs_mem_idle_trim(&p->idle, quiet_now, IDLE_TRIM_MS);
    }
    for (size_t i = 0; i < consumed; i++) {
        rd_kafka_message_t *m = batch[i];
        int rc = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                inc(&p->kafka_errors);
                atomic_store_explicit(&p->last_kafka_error_ms, hs_now_mono_ms(),
                                      memory_order_relaxed);
                if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                    atomic_store_explicit(&p->kafka_unreachable, 1, memory_order_relaxed);
                hs_warn(COMPONENT, "consumer: %s", rd_kafka_message_errstr(m));
            }
        } else {
            rc = handle(p, m);
        }
        rd_kafka_message_destroy(m);
        if (rc != 0) {
            /* The rest of the batch is not handled, so nothing of it is
             * stored: it is consumed again after the restart. */
            while (++i < consumed)
                rd_kafka_message_destroy(batch[i]);
            hs_error(COMPONENT, "out of memory handling a message");
            p->fatal = true;
            return -1;
        }
        /* Delivery reports every 16 messages (and after the batch): each
         * poll takes the producer's queue lock, once per message was a
         * few per cent of the enricher's CPU. */
        if (i % 16 == 15)
            poll_producer(p, 0);
    }
    /* Messages are activity, every one heavy; once per batch is enough for
     * a quiet time of seconds, and saves a clock read per message. */
    if (consumed > 0)
        hs_mem_idle_note(&p->idle, hs_now_mono_ms(), true);
    poll_producer(p, 0);
    return p->fatal ? -1 : 0;
}

pipeline *pipeline_new(const pipeline_opts *o, char *err, size_t errlen)
{
    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->topic_raw = strdup(o->topic_raw);
    p->topic_enriched = strdup(o->topic_enriched);
    p->topic_dlq = strdup(o->topic_dlq);
    p->site = strdup(o->site);
    p->metric = o->metric;
    p->tree_only = o->tree_only;
    p->poller = o->poller;
    p->offtrack = hs_offtrack_new();
    p->presence = presence_new();
    p->recent = hs_recent_new(RECENT_CAPACITY);
    if (!p->topic_raw || !p->topic_enriched || !p->topic_dlq || !p->site ||
        !p->offtrack || !p->presence || !p->recent) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&p->presence_lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        goto fail;
    }
    p->presence_lock_init = true;
    if (pthread_mutex_init(&p->consumer_lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        goto fail;
    }
    p->consumer_lock_init = true;
    if (o->presence_file && o->presence_file[0]) {
        p->presence_file = strdup(o->presence_file);
        if (!p->presence_file) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        load_presence(p);
    }
    p->presence_snap = presence_snapshot(p->presence);
    p->producer =
        hs_kafka_producer_new(o->brokers, on_delivery, p, o->producer_extra, err, errlen);
    if (!p->producer)
        goto fail;
    p->rkt_enriched = rd_kafka_topic_new(p->producer, p->topic_enriched, NULL);
    p->rkt_dlq = rd_kafka_topic_new(p->producer, p->topic_dlq, NULL);
    if (!p->rkt_enriched || !p->rkt_dlq) {
        snprintf(err, errlen, "kafka topic: %s", rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    p->consumer = hs_kafka_consumer_new(o->brokers, o->group, o->topic_raw,
                                        o->consumer_extra, err, errlen);
    if (!p->consumer)
        goto fail;
    p->consumer_queue = rd_kafka_queue_get_consumer(p->consumer);
    if (!p->consumer_queue) {
        snprintf(err, errlen, "kafka: the consumer has no queue");
        goto fail;
    }
    return p;
fail:
    pipeline_free(p);
    return NULL;
}

static void *close_consumer_thread(void *arg)
{
    hs_kafka_consumer_close(arg);
    return NULL;
}

/* Commits and closes the consumer, but waits for that at most budget_ms: a
 * group coordinator that never answers (a rebalance stuck on a member that
 * left, an unreachable broker) must not hold the daemon past its shutdown
 * deadline. When the time is up the close is left running on its own
 * thread and abandoned with the process; what was stored but not yet
 * committed (at most one auto-commit interval) is then consumed again on
 * restart. */
static void close_consumer_bounded(rd_kafka_t *c, int64_t budget_ms)
{
    pthread_t t;
    if (pthread_create(&t, NULL, close_consumer_thread, c) != 0) {
        hs_kafka_consumer_close(c);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += budget_ms / 1000;
    ts.tv_nsec += (budget_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
        hs_warn(COMPONENT,
                "the consumer did not close within %" PRId64 " ms; leaving without "
                "it (offsets stored since the last auto commit are consumed again "
                "on restart)",
                budget_ms);
        pthread_detach(t);
    }
}

int pipeline_close(pipeline *p, int timeout_ms)
{
    if (!p || p->closed)
        return 0;
    int64_t start = hs_now_mono_ms();
    int64_t deadline = start + timeout_ms;
    int64_t deliveries_deadline = start + timeout_ms * 2 / 3;
    /* Deliveries first: their reports store offsets while the consumer is
     * still open. Failed ones are produced again meanwhile. The consumer's
     * close gets the last third of the time. */
    if (p->producer) {
        while (hs_now_mono_ms() < deliveries_deadline && ld(&p->inflight) > 0 &&
               !p->fatal) {
            retry_due(p);
            poll_producer(p, 50);
        }
    }
    int left = (int)ld(&p->inflight);
    int left_own = (int)p->inflight_own;
    p->closed = true;
    if (p->consumer) {
        pthread_mutex_lock(&p->consumer_lock);
        rd_kafka_t *c = p->consumer;
        p->consumer = NULL;
        pthread_mutex_unlock(&p->consumer_lock);
        /* The queue handle holds a reference the close would wait for. */
        if (p->consumer_queue)
            rd_kafka_queue_destroy(p->consumer_queue);
        p->consumer_queue = NULL;
        int64_t budget = deadline - hs_now_mono_ms();
        close_consumer_bounded(c, budget > CLOSE_MIN_MS ? budget : CLOSE_MIN_MS);
    }
    if (p->producer) {
        /* The messages in flight hold their own references to the topics. */
        if (p->rkt_enriched)
            rd_kafka_topic_destroy(p->rkt_enriched);
        if (p->rkt_dlq)
            rd_kafka_topic_destroy(p->rkt_dlq);
        p->rkt_enriched = p->rkt_dlq = NULL;
        hs_kafka_producer_close(p->producer, 0);
        p->producer = NULL;
    }
    while (p->retry_head) {
        out_msg *o = p->retry_head;
        p->retry_head = o->next;
        out_release(p, o, false);
    }
    p->retry_tail = NULL;
    if (left > left_own)
        hs_warn(COMPONENT,
                "%d messages undelivered at shutdown; their offsets were not "
                "stored, so they are consumed again on restart",
                left - left_own);
    if (left_own > 0)
        hs_warn(COMPONENT,
                "%d presence, weather or stats records that no input waits for were "
                "undelivered at shutdown and are lost",
                left_own);
    return left;
}

void pipeline_free(pipeline *p)
{
    if (!p)
        return;
    pipeline_close(p, 0);
    hs_offtrack_free(p->offtrack);
    presence_free(p->presence);
    hs_recent_free(p->recent);
    json_decref(p->presence_snap);
    json_decref(p->presence_text_of);
    free(p->presence_text);
    free(p->weather_text);
    free(p->parts);
    if (p->presence_lock_init)
        pthread_mutex_destroy(&p->presence_lock);
    if (p->consumer_lock_init)
        pthread_mutex_destroy(&p->consumer_lock);
    free(p->topic_raw);
    free(p->topic_enriched);
    free(p->topic_dlq);
    free(p->site);
    free(p->presence_file);
    free(p);
}

/* Sum over the assigned partitions of high watermark - position, or -1
 * when unknown. */
static int64_t consumer_lag(pipeline *p)
{
    int64_t lag = -1;
    pthread_mutex_lock(&p->consumer_lock);
    rd_kafka_topic_partition_list_t *a = NULL;
    if (p->consumer &&
        rd_kafka_assignment(p->consumer, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
        if (rd_kafka_position(p->consumer, a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < a->cnt; i++) {
                int64_t lo = 0, hi = 0;
                if (rd_kafka_get_watermark_offsets(p->consumer, a->elems[i].topic,
                                                   a->elems[i].partition, &lo,
                                                   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                    hi < 0)
                    continue;
                int64_t pos = a->elems[i].offset >= 0 ? a->elems[i].offset : lo;
                if (lag < 0)
                    lag = 0;
                if (hi > pos)
                    lag += hi - pos;
            }
        }
        rd_kafka_topic_partition_list_destroy(a);
    }
    pthread_mutex_unlock(&p->consumer_lock);
    return lag;
}

void pipeline_stats(pipeline *p, json_t *obj)
{
    int64_t last = atomic_load_explicit(&p->last_event_ns, memory_order_relaxed);
    char iso[40];
    json_t *last_j = json_null();
    if (last != 0 && hs_time_format_iso(last, iso, sizeof iso) == 0) {
        json_decref(last_j);
        last_j = json_string(iso);
    }
    int64_t lag = consumer_lag(p);
    json_object_set_new(obj, "events_in_total",
                        json_integer((json_int_t)ld(&p->events_in)));
    json_object_set_new(obj, "events_out_total",
                        json_integer((json_int_t)ld(&p->events_out)));
    json_object_set_new(obj, "errors_total", json_integer((json_int_t)ld(&p->errors)));
    json_object_set_new(obj, "dlq_total", json_integer((json_int_t)ld(&p->dlq)));
    json_object_set_new(obj, "last_event_time", last_j);
    json_object_set_new(obj, "presence_records_total",
                        json_integer((json_int_t)ld(&p->presence_records)));
    json_object_set_new(obj, "weather_records_total",
                        json_integer((json_int_t)ld(&p->weather_records)));
    json_object_set_new(obj, "stats_records_total",
                        json_integer((json_int_t)ld(&p->stats_records)));
    json_object_set_new(obj, "retries_total", json_integer((json_int_t)ld(&p->retries)));
    json_object_set_new(obj, "kafka_errors_total",
                        json_integer((json_int_t)ld(&p->kafka_errors)));
    json_object_set_new(obj, "offsets_stored_total",
                        json_integer((json_int_t)ld(&p->offsets_stored)));
    json_object_set_new(obj, "inflight", json_integer((json_int_t)ld(&p->inflight)));
    json_object_set_new(obj, "events_in_per_s",
                        json_real((double)ld(&p->in_rate_milli) / 1000));
    json_object_set_new(obj, "events_out_per_s",
                        json_real((double)ld(&p->out_rate_milli) / 1000));
    json_object_set_new(obj, "consumer_lag", lag >= 0 ? json_integer(lag) : json_null());
}

json_t *pipeline_health_kafka(pipeline *p)
{
    int64_t now = hs_now_mono_ms();
    int64_t last_err =
        atomic_load_explicit(&p->last_kafka_error_ms, memory_order_relaxed);
    int64_t last_ok = atomic_load_explicit(&p->last_delivery_ms, memory_order_relaxed);
    bool unreachable =
        atomic_load_explicit(&p->kafka_unreachable, memory_order_relaxed) != 0;
    uint64_t inflight = ld(&p->inflight);
    const char *state = "ok";
    const char *detail = NULL;
    /* Kafka trouble is "degraded", not "unhealthy": restarting the enricher
     * does not bring Kafka back, and nothing is lost while it waits. Only a
     * fatal producer error, which needs a restart, is unhealthy. */
    if (p->fatal) {
        state = "unhealthy";
        detail = "fatal producer error";
    } else if (unreachable) {
        state = "degraded";
        detail = "Kafka is out of reach";
    } else if (inflight > 0 && last_ok != 0 && now - last_ok > STALL_MS) {
        state = "degraded";
        detail = "no delivery report for 30 s with messages in flight";
    } else if (last_err != 0 && now - last_err < 30000 && last_err > last_ok) {
        state = "degraded";
        detail = "recent consumer errors";
    }
    json_t *o =
        json_pack("{s:s, s:I, s:I}", "state", state, "inflight", (json_int_t)inflight,
                  "errors_total", (json_int_t)ld(&p->kafka_errors));
    if (o && detail)
        json_object_set_new(o, "detail", json_string(detail));
    return o;
}

json_t *pipeline_recent(pipeline *p, int limit, const char *entity_id)
{
    return hs_recent_list(p->recent, limit, entity_id);
}

json_t *pipeline_presence(pipeline *p)
{
    pthread_mutex_lock(&p->presence_lock);
    json_t *s = json_incref(p->presence_snap);
    pthread_mutex_unlock(&p->presence_lock);
    return s;
}
