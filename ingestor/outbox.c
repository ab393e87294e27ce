/* outbox.c - the Kafka producer, the disk spool and the safe mark. */
#include "outbox.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_time.h"
#include "memq.h"
#include "safemark.h"
#include "spool.h"
#include "watermark.h"

#define MEMQ_MAX_BYTES ((size_t)256 * 1024 * 1024)
#define SEGMENT_BYTES ((uint64_t)8 * 1024 * 1024)
#define KAFKA_STALL_MS 15000
#define REPLAY_MAX_IN_FLIGHT 20000
#define SYNC_EVERY_MS 1000
#define NOT_KEPT_DEGRADED_MS 60000

enum { TAG_RAW = 0, TAG_DLQ = 1, TAG_STATS = 2 };

struct outbox {
    rd_kafka_t *rk;
    char *topic_raw, *topic_dlq, *topic_stats, *dlq_key, *spool_dir;
    spool *spool;
    memq *memq;
    safemark *mark;
    int64_t last_handed_ns;
    int64_t stored_mark_ns;
    int64_t last_sync_ms;
    bool spool_dirty;
    int64_t warn_sec;
    unsigned warns;

    /* Read by the admin thread. */
    _Atomic uint64_t events_out, dlq_out, produce_errors, queue_full, delivery_failed,
        requeued, not_kept, spooled, replayed, errors, dlq_made;
    _Atomic uint64_t parked, parked_bytes, spool_corrupt;
    _Atomic int64_t last_ok_ms, last_fail_ms, pending_since_ms, last_not_kept_ms;
    _Atomic int unreachable;
    bool spool_enabled;
};

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

static bool warn_ok(outbox *o)
{
    int64_t sec = hs_now_mono_ms() / 1000;
    if (sec != o->warn_sec) {
        o->warn_sec = sec;
        o->warns = 0;
    }
    return o->warns++ < 10;
}

static const char *topic_of(const outbox *o, int tag)
{
    return tag == TAG_DLQ     ? o->topic_dlq
           : tag == TAG_STATS ? o->topic_stats
                              : o->topic_raw;
}

static int tag_of(const outbox *o, const char *topic)
{
    if (strcmp(topic, o->topic_dlq) == 0)
        return TAG_DLQ;
    if (strcmp(topic, o->topic_raw) != 0 && strcmp(topic, o->topic_stats) == 0)
        return TAG_STATS;
    return TAG_RAW;
}

static uint64_t parked_count(const outbox *o)
{
    return (o->spool != NULL ? spool_records(o->spool) : 0) + memq_count(o->memq);
}

static void update_gauges(outbox *o)
{
    uint64_t bytes = memq_bytes(o->memq);
    if (o->spool != NULL) {
        bytes += spool_bytes(o->spool);
        atomic_store_explicit(&o->spool_corrupt, spool_corrupt(o->spool),
                              memory_order_relaxed);
    }
    atomic_store_explicit(&o->parked, parked_count(o), memory_order_relaxed);
    atomic_store_explicit(&o->parked_bytes, bytes, memory_order_relaxed);
}

static void lost(outbox *o, int tag, size_t len, const char *why)
{
    add(&o->not_kept, 1);
    add(&o->errors, 1);
    atomic_store_explicit(&o->last_not_kept_ms, hs_now_mono_ms(), memory_order_relaxed);
    if (warn_ok(o))
        hs_error("outbox", "a %zu byte %s record was not kept: %s", len, topic_of(o, tag),
                 why);
}

/* Parks one record: the spool when there is one (then it is safe), else the
 * memory queue (then its seq stays in flight). */
static void park(outbox *o, int tag, uint64_t seq, const void *key, size_t keylen,
                 const void *payload, size_t len)
{
    if (o->spool != NULL && memq_count(o->memq) == 0) {
        char err[256];
        int rc = spool_append(o->spool, tag, key, keylen, payload, len, err, sizeof(err));
        if (rc == 0) {
            o->spool_dirty = true;
            add(&o->spooled, 1);
            if (seq != 0)
                safemark_done(o->mark, seq);
            update_gauges(o);
            return;
        }
        if (rc == -1) {
            lost(o, tag, len, "the spool is full (SPOOL_MAX_MB)");
            if (seq != 0)
                safemark_done(o->mark, seq);
            update_gauges(o);
            return;
        }
        add(&o->errors, 1);
        if (warn_ok(o))
            hs_error("outbox", "spool write failed (%s); keeping records in memory", err);
    }
    if (memq_push(o->memq, tag, seq, key, keylen, payload, len) != 0) {
        lost(o, tag, len, "the in-memory queue is full");
        if (seq != 0)
            safemark_done(o->mark, seq);
    }
    update_gauges(o);
}

static void emit(outbox *o, int tag, uint64_t seq, const void *key, size_t keylen,
                 const void *payload, size_t len);

/* Tries the producer. Returns 0 when it took the record or the record can
 * never be produced (counted), -1 to retry later. */
static int try_produce(outbox *o, int tag, uint64_t seq, const void *key, size_t keylen,
                       const void *payload, size_t len)
{
    int rc = hs_kafka_produce(o->rk, topic_of(o, tag), key, keylen, payload, len,
                              (void *)(uintptr_t)seq, 0);
    if (rc == 0) {
        int64_t none = 0;
        atomic_compare_exchange_strong(&o->pending_since_ms, &none, hs_now_mono_ms());
        return 0;
    }
    if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        add(&o->queue_full, 1);
        return -1;
    }
    add(&o->produce_errors, 1);
    add(&o->errors, 1);
    if (rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        lost(o, tag, len, "larger than Kafka accepts");
        if (seq != 0)
            safemark_done(o->mark, seq);
        /* Leave a trace in Kafka too: its start, in the DLQ. */
        char *rec =
            tag == TAG_RAW
                ? hs_kafka_dlq_record_max("ingestor", "event larger than Kafka accepts",
                                          payload, len, HS_KAFKA_DLQ_MAX_BYTES)
                : NULL;
        if (rec != NULL) {
            add(&o->dlq_made, 1);
            emit(o, TAG_DLQ, 0, o->dlq_key, strlen(o->dlq_key), rec, strlen(rec));
            free(rec);
        }
        return 0;
    }
    if (warn_ok(o))
        hs_warn("outbox", "produce to %s failed: %s; parked", topic_of(o, tag),
                rd_kafka_err2str((rd_kafka_resp_err_t)rc));
    return -1;
}

static bool kafka_unreachable(const outbox *o)
{
    return atomic_load_explicit(&((outbox *)o)->unreachable, memory_order_relaxed) != 0;
}

static void emit(outbox *o, int tag, uint64_t seq, const void *key, size_t keylen,
                 const void *payload, size_t len)
{
    if (parked_count(o) == 0 && !kafka_unreachable(o) &&
        try_produce(o, tag, seq, key, keylen, payload, len) == 0)
        return;
    park(o, tag, seq, key, keylen, payload, len);
}

void outbox_raw(outbox *o, const void *key, size_t keylen, const void *payload,
                size_t len, int64_t event_ns)
{
    uint64_t seq = safemark_add(o->mark, event_ns);
    if (event_ns > o->last_handed_ns)
        o->last_handed_ns = event_ns;
    emit(o, TAG_RAW, seq, key, keylen, payload, len);
}

void outbox_dlq(outbox *o, const void *record, size_t len)
{
    emit(o, TAG_DLQ, 0, o->dlq_key, strlen(o->dlq_key), record, len);
}

void outbox_stats(outbox *o, const void *record, size_t len)
{
    emit(o, TAG_STATS, 0, o->dlq_key, strlen(o->dlq_key), record, len);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    outbox *o = opaque;
    (void)rk;
    uint64_t seq = (uint64_t)(uintptr_t)msg->_private;
    int tag = tag_of(o, rd_kafka_topic_name(msg->rkt));
    int64_t now = hs_now_mono_ms();
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store_explicit(&o->last_ok_ms, now, memory_order_relaxed);
        if (tag == TAG_RAW)
            add(&o->events_out, 1);
        else if (tag == TAG_DLQ)
            add(&o->dlq_out, 1);
        if (seq != 0)
            safemark_done(o->mark, seq);
        return;
    }
    bool purged = msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                  msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
    if (!purged) {
        atomic_store_explicit(&o->last_fail_ms, now, memory_order_relaxed);
        add(&o->delivery_failed, 1);
        add(&o->errors, 1);
        if (warn_ok(o))
            hs_warn("outbox", "delivery to %s failed: %s; parked for a retry",
                    rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
    }
    add(&o->requeued, 1);
    park(o, tag, seq, msg->key, msg->key_len, msg->payload, msg->len);
}

/* Replays parked records, oldest first, while Kafka takes them. */
static void replay(outbox *o)
{
    if (kafka_unreachable(o))
        return;
    int tag;
    uint64_t seq;
    const void *key, *payload;
    size_t keylen, len;
    bool moved = false;
    while (rd_kafka_outq_len(o->rk) < REPLAY_MAX_IN_FLIGHT) {
        if (memq_peek(o->memq, &tag, &seq, &key, &keylen, &payload, &len) == 0) {
            if (try_produce(o, tag, seq, key, keylen, payload, len) != 0)
                break;
            memq_pop(o->memq);
        } else if (o->spool != NULL &&
                   spool_peek(o->spool, &tag, &key, &keylen, &payload, &len) == 0) {
            /* Spooled records are safe already: no seq to track. */
            if (try_produce(o, tag, 0, key, keylen, payload, len) != 0)
                break;
            spool_pop(o->spool);
        } else {
            break;
        }
        add(&o->replayed, 1);
        moved = true;
    }
    if (moved)
        update_gauges(o);
}

static void update_unreachable(outbox *o, int64_t now)
{
    int64_t ok = atomic_load_explicit(&o->last_ok_ms, memory_order_relaxed);
    int64_t since = atomic_load_explicit(&o->pending_since_ms, memory_order_relaxed);
    int was = atomic_load_explicit(&o->unreachable, memory_order_relaxed);
    int is = 0;
    if (rd_kafka_outq_len(o->rk) == 0) {
        atomic_store_explicit(&o->pending_since_ms, 0, memory_order_relaxed);
    } else if (since > 0) {
        int64_t progress = ok > since ? ok : since;
        is = now - progress > KAFKA_STALL_MS;
    }
    if (is != was) {
        atomic_store_explicit(&o->unreachable, is, memory_order_relaxed);
        if (is)
            hs_warn("outbox",
                    "Kafka delivered nothing for %d s with %d records in flight; "
                    "new records go to the spool",
                    KAFKA_STALL_MS / 1000, rd_kafka_outq_len(o->rk));
        else
            hs_info("outbox",
                    "Kafka delivers again; replaying %" PRIu64 " parked records",
                    parked_count(o));
    }
}

static void store_mark(outbox *o)
{
    char err[256];
    if (o->spool != NULL && o->spool_dirty) {
        if (spool_sync(o->spool, err, sizeof(err)) != 0) {
            add(&o->errors, 1);
            if (warn_ok(o))
                hs_error("outbox", "%s", err);
            return;
        }
        o->spool_dirty = false;
    }
    int64_t mark = safemark_time(o->mark);
    if (o->spool_enabled && mark != INT64_MIN && mark != o->stored_mark_ns) {
        if (watermark_store(o->spool_dir, mark, err, sizeof(err)) != 0) {
            add(&o->errors, 1);
            if (warn_ok(o))
                hs_error("outbox", "cannot store the last event time: %s", err);
            return;
        }
        o->stored_mark_ns = mark;
    }
}

void outbox_poll(outbox *o, int64_t now_ms)
{
    rd_kafka_poll(o->rk, 0);
    update_unreachable(o, now_ms);
    replay(o);
    if (now_ms - o->last_sync_ms >= SYNC_EVERY_MS) {
        o->last_sync_ms = now_ms;
        store_mark(o);
    }
}

uint64_t outbox_shutdown(outbox *o, int budget_ms)
{
    int64_t deadline = hs_now_mono_ms() + budget_ms;
    /* Let a reachable Kafka take the parked records first. */
    while (parked_count(o) > 0 && !kafka_unreachable(o) && hs_now_mono_ms() < deadline) {
        replay(o);
        rd_kafka_poll(o->rk, 10);
        update_unreachable(o, hs_now_mono_ms());
    }
    int64_t left = deadline - hs_now_mono_ms();
    if (rd_kafka_outq_len(o->rk) > 0 && !kafka_unreachable(o))
        rd_kafka_flush(o->rk, (int)(left > 0 ? left : 0));
    /* What is still undelivered comes back through the delivery report as
     * purged, and is parked (spooled) there. */
    rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(o->rk, 0);
    uint64_t lost_count = 0;
    if (o->spool != NULL) {
        /* Move what sits in memory to the spool. */
        int tag;
        uint64_t seq;
        const void *key, *payload;
        size_t keylen, len;
        char err[256];
        while (memq_peek(o->memq, &tag, &seq, &key, &keylen, &payload, &len) == 0) {
            if (spool_append(o->spool, tag, key, keylen, payload, len, err,
                             sizeof(err)) == 0) {
                if (seq != 0)
                    safemark_done(o->mark, seq);
                o->spool_dirty = true;
            } else {
                lost_count++;
                lost(o, tag, len, "the spool cannot take it at shutdown");
            }
            memq_pop(o->memq);
        }
    } else {
        lost_count += memq_count(o->memq);
        if (memq_count(o->memq) > 0)
            hs_error("outbox", "%zu records were only in memory (no spool) and are lost",
                     memq_count(o->memq));
    }
    store_mark(o);
    update_gauges(o);
    return lost_count;
}

/* Creates the parents of dir (mkdir -p without the last component); errors
 * surface when the spool opens dir itself. */
static void make_parents(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
}

outbox *outbox_new(const outbox_opts *opts, char *err, size_t errlen)
{
    outbox *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    o->last_handed_ns = INT64_MIN;
    o->stored_mark_ns = INT64_MIN;
    o->topic_raw = strdup(opts->topic_raw);
    o->topic_dlq = strdup(opts->topic_dlq);
    o->topic_stats =
        strdup(opts->topic_stats != NULL ? opts->topic_stats : opts->topic_raw);
    o->dlq_key = strdup(opts->dlq_key);
    o->memq =
        memq_new(opts->memq_max_events > 0 ? opts->memq_max_events : 1, MEMQ_MAX_BYTES);
    if (o->topic_raw == NULL || o->topic_dlq == NULL || o->dlq_key == NULL ||
        o->memq == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int64_t mark = INT64_MIN;
    if (opts->spool_dir != NULL && opts->spool_dir[0] != '\0') {
        o->spool_dir = strdup(opts->spool_dir);
        char why[512];
        spool *sp = NULL;
        if (o->spool_dir != NULL) {
            make_parents(o->spool_dir);
            sp = spool_open(opts->spool_dir, opts->spool_max_bytes, SEGMENT_BYTES, why,
                            sizeof(why));
        }
        if (sp == NULL) {
            hs_error("outbox",
                     "SPOOL_DIR %s cannot be used (%s): running without a disk spool; "
                     "events survive a Kafka outage only in memory",
                     opts->spool_dir, o->spool_dir != NULL ? why : "out of memory");
        } else {
            o->spool = sp;
            o->spool_enabled = true;
            int rc = watermark_load(opts->spool_dir, &mark, why, sizeof(why));
            if (rc < 0) {
                hs_warn("outbox", "ignoring the stored last event time: %s", why);
                mark = INT64_MIN;
            } else if (rc == 1) {
                mark = INT64_MIN;
            }
            if (spool_records(sp) > 0)
                hs_info("outbox",
                        "the spool holds %" PRIu64 " records (%" PRIu64
                        " bytes) from before; replaying them",
                        spool_records(sp), spool_bytes(sp));
        }
    }
    o->mark = safemark_new(mark);
    if (o->mark == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    o->stored_mark_ns = mark;
    o->rk = hs_kafka_producer_new(opts->brokers, on_delivery, o, opts->kafka_extra, err,
                                  errlen);
    if (o->rk == NULL)
        goto fail;
    update_gauges(o);
    return o;
fail:
    outbox_free(o);
    return NULL;
}

void outbox_free(outbox *o)
{
    if (o == NULL)
        return;
    if (o->rk != NULL) {
        /* No delivery report may reach a half-freed outbox. */
        rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(o->rk, 0);
        rd_kafka_destroy(o->rk);
    }
    spool_close(o->spool);
    memq_free(o->memq);
    safemark_free(o->mark);
    free(o->topic_raw);
    free(o->topic_dlq);
    free(o->topic_stats);
    free(o->dlq_key);
    free(o->spool_dir);
    free(o);
}

int64_t outbox_mark(const outbox *o)
{
    return safemark_time(o->mark);
}

int64_t outbox_last_handed(const outbox *o)
{
    return o->last_handed_ns;
}

uint64_t outbox_events_out(const outbox *o)
{
    return get(&o->events_out);
}

uint64_t outbox_errors(const outbox *o)
{
    return get(&o->errors);
}

uint64_t outbox_dlq_made(const outbox *o)
{
    return get(&o->dlq_made);
}

static const char *state_name(outbox *o, int64_t now)
{
    int64_t ok = atomic_load_explicit(&o->last_ok_ms, memory_order_relaxed);
    int64_t fail = atomic_load_explicit(&o->last_fail_ms, memory_order_relaxed);
    (void)now;
    if (kafka_unreachable(o))
        return "unreachable";
    if (fail > ok)
        return "failing";
    return "ok";
}

json_t *outbox_stats_json(outbox *o, int64_t now_ms)
{
    return json_pack(
        "{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:b, s:I, s:I, s:I, "
        "s:I}}",
        "state", state_name(o, now_ms), "in_flight", rd_kafka_outq_len(o->rk),
        "dlq_delivered_total", (json_int_t)get(&o->dlq_out), "produce_errors_total",
        (json_int_t)get(&o->produce_errors), "queue_full_total",
        (json_int_t)get(&o->queue_full), "delivery_failed_total",
        (json_int_t)get(&o->delivery_failed), "requeued_total",
        (json_int_t)get(&o->requeued), "parked", (json_int_t)get(&o->parked),
        "parked_bytes", (json_int_t)get(&o->parked_bytes), "replayed_total",
        (json_int_t)get(&o->replayed), "not_kept_total", (json_int_t)get(&o->not_kept),
        "spool", "enabled", o->spool_enabled, "records", (json_int_t)get(&o->parked),
        "size_bytes", (json_int_t)get(&o->parked_bytes), "spooled_total",
        (json_int_t)get(&o->spooled), "corrupt_total",
        (json_int_t)get(&o->spool_corrupt));
}

json_t *outbox_health(outbox *o, int64_t now_ms, bool *degraded)
{
    const char *state = state_name(o, now_ms);
    int64_t nk = atomic_load_explicit(&o->last_not_kept_ms, memory_order_relaxed);
    bool recent_loss = nk > 0 && now_ms - nk < NOT_KEPT_DEGRADED_MS;
    *degraded = strcmp(state, "ok") != 0 || get(&o->parked) > 0 || recent_loss ||
                !o->spool_enabled;
    return json_pack("{s:s, s:i, s:I, s:b, s:I, s:b}", "state", state, "in_flight",
                     rd_kafka_outq_len(o->rk), "parked", (json_int_t)get(&o->parked),
                     "spool_enabled", o->spool_enabled, "not_kept_total",
                     (json_int_t)get(&o->not_kept), "losing_events", recent_loss);
}
