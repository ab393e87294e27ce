/* sink.c - the writer's loop: enriched events from Kafka into InfluxDB. */
#include "sink.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "hs_breaker.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_mem.h"
#include "hs_offtrack.h"
#include "hs_recent.h"
#include "hs_statsrec.h"
#include "hs_time.h"
#include "influx.h"
#include "latency.h"
#include "lineproto.h"
#include "msgjson.h"
#include "outcome.h"
#include "written.h"

#define COMPONENT "sink"
#define RECENT_CAPACITY 1000
#define LATENCY_WINDOW 1024
#define MAX_POLL_PER_STEP 2000
/* Messages taken from librdkafka in one call (hs_kafka_consume_some). */
#define TAKE_MAX 64
#define MAX_WRITES_PER_STEP 64
/* The JSON reader keeps its buffers between messages up to this size (a
 * ~1.3 KB message takes a few KB); a larger message's are released. */
#define DOC_KEEP_BYTES (256 * 1024)
#define IDLE_TRIM_MS 2000 /* quiet time after which a burst's memory goes back */
/* A step that takes this many messages is draining a backlog; the backlog
 * is over once the queue is found empty BACKLOG_END_MS after the last such
 * step (see hs_mem_backlog). */
#define BACKLOG_STEP 256
#define BACKLOG_END_MS 1000
#define LAG_REFRESH_MS 1000
#define PAUSE_REFRESH_MS 1000
/* How long the next batch may wait, full, for the write before it, before
 * the partitions are paused so the consumer can keep polling. */
#define FULL_WAIT_PAUSE_MS 10000
#define KAFKA_ERROR_DEGRADED_MS 30000

/* What a DLQ message's delivery report needs to finish the original. */
typedef struct {
    int32_t partition;
    int64_t offset;
    int tries;
} dlq_ref;

typedef struct {
    atomic_uint_fast64_t events_in;
    atomic_uint_fast64_t points_written;
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t dlq;
    atomic_uint_fast64_t dlq_failed;
    atomic_uint_fast64_t stats_records;        /* homestream_stats delivered */
    atomic_uint_fast64_t stats_records_failed; /* not built, produced or delivered */
    atomic_uint_fast64_t batches;
    atomic_uint_fast64_t bytes;
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t invalid;
    atomic_uint_fast64_t skipped;
    atomic_uint_fast64_t dropped_fields;
    atomic_uint_fast64_t splits;
    atomic_int_fast64_t last_event_ns; /* INT64_MIN until the first event */
    atomic_uint_fast64_t held_points;
    atomic_uint_fast64_t acc_points;
    atomic_bool paused;
    atomic_bool fatal;
    atomic_bool retrying;
} sink_counters;

/* The one write in flight on the HTTP thread. The poll thread fills it and
 * sets pending; the HTTP thread runs it and sets done; both under mu. While
 * a write is pending or running, the poll thread leaves the held batch and
 * the InfluxDB client alone. */
typedef struct {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool mu_ready; /* mu and cv initialised */
    bool pending;
    bool quit;
    atomic_bool done;
    const char *body;
    size_t len;
    batch_range r;
    int rc;
    influx_result res;
    int64_t t0, t1;
} write_job;

struct sink {
    const wconfig *cfg;
    char *topic_in;
    char *topic_dlq;
    lineproto_opts lp;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    hs_offtrack *track;
    const char *track_topic; /* topic_in as track's own copy: found by pointer */
    hs_breaker *breaker;
    influx *ix;
    latency *lat;   /* InfluxDB write durations */
    latency *delay; /* Kafka append to InfluxDB acknowledgement, per point */
    hs_recent *recent;
    written *written; /* points written, kept raw until listed */
    batch acc;        /* filling */
    batch out;        /* being written (held) */
    bool held;
    bool inflight; /* the HTTP thread holds a range of `out` */
    write_job job;
    rd_kafka_queue_t *queue; /* the consumer's queue, for reads in batches */
    /* Messages read from librdkafka and not handled yet (handled first at
     * the next step): a read takes up to TAKE_MAX at once. */
    rd_kafka_message_t *taken[TAKE_MAX];
    size_t ntaken, itaken;
    bool queue_empty;
    int64_t next_attempt_ms;
    unsigned attempt;
    int64_t next_pause_refresh_ms;
    int64_t full_since_ms; /* when acc became full while out was held; -1 */
    int64_t next_lag_ms;
    uint32_t rng;
    bool closed;
    atomic_bool closing;     /* DLQ reports free their refs without requeueing */
    msgjson_doc doc;         /* the message being encoded, reused */
    lineproto_cache *shapes; /* the ha schema's lines per entity; NULL: none */
    msgjson_skels *skels;    /* each entity's last text, to read its next; NULL: none */
    hs_mem_idle idle;        /* messages are activity, every one heavy */
    int64_t backlog_ms;      /* the last step that drained a backlog (monotonic) */
    int64_t start_ms;
    atomic_int dlq_inflight;
    int64_t next_stats_ms; /* monotonic; 0: no homestream_stats records */
    /* Its address is the msg_opaque of homestream_stats records, so the
     * producer's delivery report tells them from DLQ records. */
    char stats_marker;
    sink_counters c;

    pthread_mutex_t lock; /* guards the fields below */
    long last_status;
    char last_error[512];
    char kafka_error[256];
    int64_t kafka_error_ms;
    json_t *lag; /* {"<partition>": lag} */
    int64_t lag_total;
};

/* ---- small helpers ----------------------------------------------------- */

static void inc(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static uint32_t next_rand(sink *s)
{
    uint32_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x ? x : 0x9E3779B9u;
    return s->rng;
}

static void set_last(sink *s, long status, const char *error)
{
    pthread_mutex_lock(&s->lock);
    s->last_status = status;
    snprintf(s->last_error, sizeof s->last_error, "%s", error ? error : "");
    pthread_mutex_unlock(&s->lock);
}

/* Stores the offset the group resumes from for one partition. */
static void store_commit(void *ud, int32_t partition, int64_t commit_next)
{
    sink *s = ud;
    if (s->consumer == NULL)
        return;
    int rc = hs_kafka_store_offset(s->consumer, s->topic_in, partition, commit_next - 1);
    if (rc != 0)
        hs_debug(COMPONENT, "offset store for %s[%" PRId32 "] at %" PRId64 " failed: %s",
                 s->topic_in, partition, commit_next,
                 rd_kafka_err2str((rd_kafka_resp_err_t)rc));
}

static void mark_one_done(sink *s, int32_t partition, int64_t offset)
{
    int64_t next;
    if (hs_offtrack_done(s->track, s->track_topic, partition, offset, &next))
        store_commit(s, partition, next);
}

/* ---- DLQ --------------------------------------------------------------- */

/* The delivery report of a homestream_stats record: counted, never an
 * offset or a DLQ reference. */
static void stats_report(sink *s, const rd_kafka_message_t *msg)
{
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        inc(&s->c.stats_records, 1);
        return;
    }
    if (atomic_load(&s->closing)) {
        hs_debug(COMPONENT, "homestream_stats record dropped at shutdown: %s",
                 rd_kafka_err2str(msg->err));
        return;
    }
    inc(&s->c.stats_records_failed, 1);
    inc(&s->c.errors, 1);
    hs_warn(COMPONENT, "homestream_stats record not delivered to %s: %s", s->topic_in,
            rd_kafka_err2str(msg->err));
}

/* The producer's delivery report: msg_opaque is a dlq_ref for DLQ records,
 * &s->stats_marker for homestream_stats records. */
static void dlq_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    sink *s = opaque;
    if (msg->_private == &s->stats_marker) {
        stats_report(s, msg);
        return;
    }
    dlq_ref *ref = msg->_private;
    if (ref == NULL)
        return;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && atomic_load(&s->closing)) {
        atomic_fetch_sub(&s->dlq_inflight, 1);
        free(ref);
        return;
    }
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        inc(&s->c.dlq, 1);
        mark_one_done(s, ref->partition, ref->offset);
        atomic_fetch_sub(&s->dlq_inflight, 1);
        free(ref);
        return;
    }
    /* Not delivered: produce the same record again, so the original's
     * offset is never stored without it reaching the DLQ. */
    hs_warn(COMPONENT,
            "DLQ delivery failed for %s[%" PRId32 "]@%" PRId64 ": %s; retrying",
            s->topic_in, ref->partition, ref->offset, rd_kafka_err2str(msg->err));
    ref->tries++;
    int rc = hs_kafka_produce(rk, s->topic_dlq, msg->key, msg->key_len, msg->payload,
                              msg->len, ref, 0);
    if (rc != 0) {
        hs_error(COMPONENT,
                 "cannot requeue DLQ record for %s[%" PRId32 "]@%" PRId64
                 ": %s; its offset stays uncommitted",
                 s->topic_in, ref->partition, ref->offset,
                 rd_kafka_err2str((rd_kafka_resp_err_t)rc));
        inc(&s->c.dlq_failed, 1);
        inc(&s->c.errors, 1);
        atomic_fetch_sub(&s->dlq_inflight, 1);
        free(ref);
    }
}

/* Sends one original message to the DLQ with the reason. Its offset is
 * marked done by the delivery report. */
static void dlq_send(sink *s, int32_t partition, int64_t offset, const void *key,
                     size_t keylen, const void *payload, size_t len, const char *reason)
{
    char *rec = hs_kafka_dlq_record_max("writer", reason, payload ? payload : "", len,
                                        HS_KAFKA_DLQ_MAX_BYTES);
    dlq_ref *ref = malloc(sizeof *ref);
    int rc = -1;
    if (rec != NULL && ref != NULL) {
        ref->partition = partition;
        ref->offset = offset;
        ref->tries = 0;
        atomic_fetch_add(&s->dlq_inflight, 1);
        rc = hs_kafka_produce(s->producer, s->topic_dlq, key, keylen, rec, strlen(rec),
                              ref, 1000);
        if (rc != 0)
            atomic_fetch_sub(&s->dlq_inflight, 1);
    }
    if (rc != 0) {
        hs_error(COMPONENT,
                 "cannot produce DLQ record for %s[%" PRId32 "]@%" PRId64
                 " (%s); its offset stays uncommitted",
                 s->topic_in, partition, offset,
                 rc > 0 || rc < -1 ? rd_kafka_err2str((rd_kafka_resp_err_t)rc)
                                   : "out of memory");
        inc(&s->c.dlq_failed, 1);
        inc(&s->c.errors, 1);
        free(ref);
    } else {
        hs_warn(COMPONENT, "to DLQ: %s[%" PRId32 "]@%" PRId64 ": %s", s->topic_in,
                partition, offset, reason);
    }
    free(rec);
}

/* ---- pausing ----------------------------------------------------------- */

static void apply_pause(sink *s, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(s->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts == NULL)
        return;
    if (parts->cnt > 0) {
        rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(s->consumer, parts)
                                      : rd_kafka_resume_partitions(s->consumer, parts);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            hs_warn(COMPONENT, "%s partitions: %s", pause ? "pause" : "resume",
                    rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* True while the next batch is full and waits for the write before it: the
 * stage then stops taking messages (they wait in librdkafka's bounded
 * queue). Tracks since when, for update_pause. */
static bool acc_waiting(sink *s, int64_t now)
{
    bool full = s->held && batch_full(&s->acc);
    if (!full)
        s->full_since_ms = -1;
    else if (s->full_since_ms < 0)
        s->full_since_ms = now;
    return full;
}

/* Pauses while the held batch cannot go out and the breaker is not closed,
 * or InfluxDB refuses our credentials, or the next batch has waited, full,
 * for FULL_WAIT_PAUSE_MS. A full next batch behind a write in progress is
 * not a reason by itself: pausing drops what librdkafka has pre-fetched and
 * resuming fetches it again, which halved the writer's throughput whenever
 * it encoded faster than InfluxDB wrote. Paused, the consumer keeps polling
 * so the group keeps the member (max.poll.interval.ms). */
static void update_pause(sink *s, int64_t now)
{
    bool long_full = acc_waiting(s, now) && now - s->full_since_ms >= FULL_WAIT_PAUSE_MS;
    bool want = s->held && (long_full ||
                            hs_breaker_get_state(s->breaker, now) != HS_BREAKER_CLOSED ||
                            atomic_load(&s->c.fatal));
    bool paused = atomic_load(&s->c.paused);
    if (want && (!paused || now >= s->next_pause_refresh_ms)) {
        /* Re-applied every second: a rebalance may have assigned more. */
        apply_pause(s, true);
        if (!paused)
            hs_warn(COMPONENT, "pausing consumption: InfluxDB is not taking writes");
        atomic_store(&s->c.paused, true);
        s->next_pause_refresh_ms = now + PAUSE_REFRESH_MS;
    } else if (!want && paused) {
        apply_pause(s, false);
        atomic_store(&s->c.paused, false);
        hs_info(COMPONENT, "resuming consumption");
    }
}

/* ---- writing ----------------------------------------------------------- */

/* Records, per point written, how long ago Kafka appended its message. */
static void note_delays(sink *s, const batch *b, batch_range r)
{
    int64_t now_ms = hs_now_wall_ns() / 1000000;
    for (size_t i = r.lo; i < r.hi; i++)
        if (b->e[i].ts_ms > 0)
            latency_add(s->delay, (double)(now_ms - b->e[i].ts_ms));
}

/* Acts on the answer to the write of range r of the held batch (len body
 * bytes, sent from t0 to t1 in monotonic ms). Returns the outcome. */
static outcome_kind complete_write(sink *s, batch_range r, size_t len, int rc,
                                   const influx_result *resp, int64_t t0, int64_t t1)
{
    influx_result res = *resp;
    outcome_kind kind = rc < 0 ? OUTCOME_RETRY : outcome_classify(res.status);
    double ms = res.seconds > 0 ? res.seconds * 1000.0 : (double)(t1 - t0);
    if (kind == OUTCOME_OK || kind == OUTCOME_DROP)
        hs_breaker_success(s->breaker, t1, t1 - t0);
    else
        hs_breaker_failure(s->breaker, t1);
    if (rc == 0 && res.status == 0)
        hs_breaker_set_last_error(s->breaker, res.error);
    else if (kind != OUTCOME_OK && kind != OUTCOME_DROP) {
        char e[600];
        snprintf(e, sizeof e, "HTTP %ld: %s", res.status, res.error);
        hs_breaker_set_last_error(s->breaker, e);
    }
    set_last(s, res.status, kind == OUTCOME_OK ? "" : res.error);

    switch (kind) {
    case OUTCOME_OK:
        latency_add(s->lat, ms);
        note_delays(s, &s->out, r);
        inc(&s->c.points_written, r.hi - r.lo);
        inc(&s->c.batches, 1);
        inc(&s->c.bytes, len);
        atomic_store(&s->c.fatal, false);
        atomic_store(&s->c.retrying, false);
        s->attempt = 0;
        /* Lent until the batch is done (finish_if_done). */
        written_keep_range(s->written, &s->out, r);
        batch_mark_done(&s->out, r, s->track, s->track_topic, store_commit, s);
        batch_plan_pop(&s->out);
        s->next_attempt_ms = t1;
        break;
    case OUTCOME_DROP: {
        s->attempt = 0;
        atomic_store(&s->c.fatal, false);
        int sp = batch_plan_split(&s->out);
        if (sp == 1) {
            const batch_entry *e = &s->out.e[r.lo];
            char reason[700];
            snprintf(reason, sizeof reason, "InfluxDB rejected the point (HTTP %ld): %s",
                     res.status, res.error[0] ? res.error : "no reason given");
            inc(&s->c.rejected, 1);
            dlq_send(s, e->partition, e->offset, batch_key(&s->out, e), e->key_len,
                     e->payload, e->payload_len, reason);
        } else if (sp == 0) {
            inc(&s->c.splits, 1);
            hs_debug(COMPONENT, "HTTP %ld for %zu points: splitting (%s)", res.status,
                     r.hi - r.lo, res.error);
        } else {
            s->next_attempt_ms = t1 + outcome_backoff_ms(s->attempt++, next_rand(s));
            return OUTCOME_RETRY;
        }
        s->next_attempt_ms = t1;
        break;
    }
    case OUTCOME_RETRY: {
        int64_t delay = -1;
        if (res.retry_after[0] != '\0') {
            int64_t d;
            if (outcome_parse_retry_after(res.retry_after, (int64_t)time(NULL), &d) == 0)
                delay = d;
        }
        if (delay < 0)
            delay = outcome_backoff_ms(s->attempt, next_rand(s));
        s->attempt++;
        s->next_attempt_ms = t1 + delay;
        inc(&s->c.retries, 1);
        inc(&s->c.errors, 1);
        atomic_store(&s->c.retrying, true);
        hs_warn(
            COMPONENT, "write of %zu points failed (%s%ld: %s); retry in %" PRId64 " ms",
            r.hi - r.lo, res.status ? "HTTP " : "status ", res.status, res.error, delay);
        break;
    }
    case OUTCOME_FATAL:
        s->attempt++;
        s->next_attempt_ms = t1 + OUTCOME_FATAL_RETRY_MS;
        inc(&s->c.retries, 1);
        inc(&s->c.errors, 1);
        atomic_store(&s->c.fatal, true);
        atomic_store(&s->c.retrying, true);
        hs_error(COMPONENT,
                 "InfluxDB refused the write (HTTP %ld: %s): check INFLUX_URL, the "
                 "database/bucket and the credentials; retrying in %d s",
                 res.status, res.error, OUTCOME_FATAL_RETRY_MS / 1000);
        break;
    }
    return kind;
}

/* Writes the top range of the held batch on this thread and acts on the
 * answer (the shutdown path; the HTTP thread must be idle). */
static outcome_kind write_once(sink *s)
{
    batch_range r;
    if (!batch_plan_peek(&s->out, &r))
        return OUTCOME_OK;
    size_t len;
    const char *body = batch_range_text(&s->out, r, &len);
    influx_result res;
    int64_t t0 = hs_now_mono_ms();
    int rc = influx_write(s->ix, body, len, &res);
    return complete_write(s, r, len, rc, &res, t0, hs_now_mono_ms());
}

static void *http_thread(void *arg)
{
    sink *s = arg;
    write_job *j = &s->job;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->pending && !j->quit)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->quit)
            break;
        const char *body = j->body;
        size_t len = j->len;
        pthread_mutex_unlock(&j->mu);
        influx_result res;
        int64_t t0 = hs_now_mono_ms();
        int rc = influx_write(s->ix, body, len, &res);
        int64_t t1 = hs_now_mono_ms();
        pthread_mutex_lock(&j->mu);
        j->res = res;
        j->rc = rc;
        j->t0 = t0;
        j->t1 = t1;
        j->pending = false;
        atomic_store(&j->done, true);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Hands the top range of the held batch to the HTTP thread. */
static void submit_write(sink *s)
{
    batch_range r;
    if (!batch_plan_peek(&s->out, &r))
        return;
    write_job *j = &s->job;
    pthread_mutex_lock(&j->mu);
    j->r = r;
    j->body = batch_range_text(&s->out, r, &j->len);
    atomic_store(&j->done, false);
    j->pending = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    s->inflight = true;
}

/* Waits, with j->mu held, until the write in flight is done or wait_ms
 * have passed. */
static void wait_done_locked(write_job *j, int wait_ms)
{
    if (atomic_load(&j->done) || wait_ms <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!atomic_load(&j->done))
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) != 0)
            break;
}

/* Waits up to wait_ms for the write in flight to end, without acting on
 * it (reap_write does): the caller reaps it at once, so the next write
 * starts when this one ends rather than at the next tick of a poll. */
static void await_write(sink *s, int wait_ms)
{
    pthread_mutex_lock(&s->job.mu);
    wait_done_locked(&s->job, wait_ms);
    pthread_mutex_unlock(&s->job.mu);
}

/* When the write in flight has finished (waiting at most wait_ms for it),
 * acts on it and returns true with its outcome in *kind. */
static bool reap_write(sink *s, int wait_ms, outcome_kind *kind)
{
    write_job *j = &s->job;
    if (!s->inflight)
        return false;
    pthread_mutex_lock(&j->mu);
    wait_done_locked(j, wait_ms);
    bool done = atomic_load(&j->done);
    influx_result res;
    batch_range r = j->r;
    size_t len = j->len;
    int rc = j->rc;
    int64_t t0 = j->t0, t1 = j->t1;
    if (done) {
        res = j->res;
        atomic_store(&j->done, false);
    }
    pthread_mutex_unlock(&j->mu);
    if (!done)
        return false;
    s->inflight = false;
    *kind = complete_write(s, r, len, rc, &res, t0, t1);
    return true;
}

static void finish_if_done(sink *s)
{
    batch_range r;
    if (s->held && !batch_plan_peek(&s->out, &r)) {
        /* The points written stay listed from the batch's lines, taken over
         * by written before the batch fills again. */
        written_adopt(s->written, &s->out);
        batch_clear(&s->out);
        s->held = false;
        atomic_store(&s->c.held_points, 0);
    }
}

/* Moves the accumulating batch to the held slot and starts its plan. */
static void start_write(sink *s, int64_t now)
{
    batch tmp = s->out;
    s->out = s->acc;
    s->acc = tmp;
    if (batch_plan_start(&s->out) < 0) {
        /* Out of memory for a 16-entry stack: try again next turn. */
        batch tmp2 = s->out;
        s->out = s->acc;
        s->acc = tmp2;
        return;
    }
    s->held = true;
    s->next_attempt_ms = now;
    atomic_store(&s->c.held_points, s->out.n);
    atomic_store(&s->c.acc_points, 0);
}

/* Moves writes along without blocking: acts on a finished write, starts the
 * next range when one is due, at most budget times. */
static void drive_writes(sink *s, int budget)
{
    int64_t now = hs_now_mono_ms();
    while (budget-- > 0) {
        if (s->inflight) {
            outcome_kind k;
            if (!reap_write(s, 0, &k))
                return;
            now = hs_now_mono_ms();
            if (k == OUTCOME_RETRY || k == OUTCOME_FATAL)
                return;
        }
        finish_if_done(s);
        if (!s->held) {
            if (s->acc.n == 0 ||
                !(batch_full(&s->acc) || batch_due(&s->acc, now) || s->queue_empty))
                return;
            start_write(s, now);
            if (!s->held)
                return;
        }
        if (now < s->next_attempt_ms)
            return;
        if (!hs_breaker_allow(s->breaker, now)) {
            int64_t in = hs_breaker_retry_in_ms(s->breaker, now);
            s->next_attempt_ms = now + (in > 10 ? in : 10);
            return;
        }
        submit_write(s);
    }
}

/* ---- consuming --------------------------------------------------------- */

static void note_kafka_error(sink *s, const char *text)
{
    int64_t now = hs_now_mono_ms();
    pthread_mutex_lock(&s->lock);
    bool same = strcmp(s->kafka_error, text) == 0 && now - s->kafka_error_ms < 10000;
    snprintf(s->kafka_error, sizeof s->kafka_error, "%s", text);
    s->kafka_error_ms = now;
    pthread_mutex_unlock(&s->lock);
    if (!same)
        hs_warn(COMPONENT, "kafka: %s", text);
}

/* Reads m's JSON into s->doc: msgjson_parse_filtered on the payload,
 * building only the members the schema reads (lineproto_filter), through
 * the skeleton of m's key (its entity_id) when there is one; when it
 * declines, on a copy with the payload's "\\u0000" escapes made U+FFFD (the
 * DLQ keeps the original), then jansson for what msgjson still declines, so
 * a text jansson refuses gets jansson's explanation in err. (msgjson
 * declines every text with a "\\u0000" escape in a string, skipped or
 * not, so trying the payload first changes no result.) Returns 0, or -1
 * with err set. */
static int read_message(sink *s, const rd_kafka_message_t *m, char *err, size_t errlen)
{
    const char *text = m->payload ? m->payload : "";
    const msgjson_filter *filter = lineproto_filter(&s->lp);
    int rc =
        msgjson_parse_keyed(&s->doc, text, m->len, filter, s->skels, m->key, m->key_len);
    if (rc == 0)
        return 0;
    char *copy = NULL;
    if (rc == -1 && memmem(text, m->len, "\\u0000", 6) != NULL) {
        copy = malloc(m->len);
        if (copy == NULL) {
            snprintf(err, errlen, "invalid JSON: out of memory");
            return -1;
        }
        memcpy(copy, text, m->len);
        lineproto_scrub_nul_escapes(copy, m->len);
        text = copy;
        rc = msgjson_parse_filtered(&s->doc, text, m->len, filter);
    }
    if (rc == -1) {
        json_error_t jerr;
        json_t *msg = json_loadb(text, m->len, 0, &jerr);
        if (msg == NULL) {
            snprintf(err, errlen, "invalid JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        } else {
            rc = msgjson_from_json(&s->doc, msg);
            json_decref(msg);
            if (rc == -1)
                snprintf(err, errlen, "invalid JSON: nested too deeply");
        }
    }
    if (rc == -2)
        snprintf(err, errlen, "invalid JSON: out of memory");
    free(copy);
    return rc < 0 ? -1 : 0;
}

static void handle_message(sink *s, rd_kafka_message_t *m, int64_t now)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            note_kafka_error(s, rd_kafka_message_errstr(m));
        return;
    }
    inc(&s->c.events_in, 1);
    int32_t part = m->partition;
    int64_t off = m->offset;
    if (hs_offtrack_add(s->track, s->track_topic, part, off) < 0) {
        /* Re-delivered after a rebalance or seek: start the partition over. */
        hs_offtrack_forget(s->track, s->track_topic, part);
        if (hs_offtrack_add(s->track, s->track_topic, part, off) < 0) {
            hs_error(COMPONENT, "out of memory tracking offsets");
            inc(&s->c.errors, 1);
            return;
        }
    }
    char err[256];
    if (read_message(s, m, err, sizeof err) < 0) {
        inc(&s->c.invalid, 1);
        dlq_send(s, part, off, m->key, m->key_len, m->payload, m->len, err);
        return;
    }
    /* The line is written straight at the end of the accumulating batch's
     * text (the encoder takes back what it wrote when it fails). */
    size_t line_off = s->acc.text.len;
    lineproto_info info;
    int rc = lineproto_encode_cached(&s->doc, &s->lp, s->shapes, &s->acc.text, &info, err,
                                     sizeof err);
    if (info.time_ns != INT64_MIN)
        atomic_store(&s->c.last_event_ns, (int_fast64_t)info.time_ns);
    msgjson_trim(&s->doc, DOC_KEEP_BYTES);
    inc(&s->c.dropped_fields, info.dropped_fields);
    if (rc < 0 || info.points == 0)
        lineproto_buf_truncate(&s->acc.text, line_off);
    if (rc < 0) {
        inc(&s->c.invalid, 1);
        dlq_send(s, part, off, m->key, m->key_len, m->payload, m->len, err);
        return;
    }
    if (info.points == 0) {
        inc(&s->c.skipped, 1);
        hs_debug(COMPONENT, "%s[%" PRId32 "]@%" PRId64 " skipped: %s", s->topic_in, part,
                 off, info.skip_reason ? info.skip_reason : "");
        mark_one_done(s, part, off);
        return;
    }
    int move_rc = 0;
    if (batch_text_over(&s->acc) && !s->held) {
        /* The line belongs in the next batch: start writing this one, then
         * move the line from the end of its text (now the held batch's) to
         * the new accumulating batch. */
        size_t line_len = s->acc.text.len - line_off;
        start_write(s, now);
        if (s->held) {
            size_t to = s->acc.text.len;
            move_rc =
                lineproto_buf_append(&s->acc.text, s->out.text.data + line_off, line_len);
            lineproto_buf_truncate(&s->out.text, line_off);
            line_off = to;
        }
        drive_writes(s, MAX_WRITES_PER_STEP);
    }
    if (move_rc < 0 || batch_add_encoded(&s->acc, line_off, part, off, m->payload, m->len,
                                         m->key, m->key_len, now) < 0) {
        lineproto_buf_truncate(&s->acc.text, line_off);
        /* Leave the offset in flight: it is never committed past, and the
         * message comes back after a restart. */
        hs_error(COMPONENT, "out of memory batching %s[%" PRId32 "]@%" PRId64,
                 s->topic_in, part, off);
        inc(&s->c.errors, 1);
        return;
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    s->acc.e[s->acc.n - 1].ts_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
    atomic_store(&s->c.acc_points, s->acc.n);
}

static void refresh_lag(sink *s)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(s->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts == NULL)
        return;
    rd_kafka_position(s->consumer, parts);
    json_t *lag = json_object();
    int64_t total = 0;
    for (int i = 0; lag != NULL && i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo = 0, hi = 0;
        if (rd_kafka_get_watermark_offsets(s->consumer, p->topic, p->partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        int64_t pos = p->offset >= 0 ? p->offset : lo;
        int64_t l = hi - pos;
        if (l < 0)
            l = 0;
        char key[16];
        snprintf(key, sizeof key, "%" PRId32, p->partition);
        json_object_set_new(lag, key, json_integer(l));
        total += l;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    pthread_mutex_lock(&s->lock);
    json_decref(s->lag);
    s->lag = lag;
    s->lag_total = total;
    pthread_mutex_unlock(&s->lock);
}

/* Puts the writer's own statistics, built from what GET /stats and
 * GET /health return, on TOPIC_ENRICHED keyed "writer" every
 * STATS_INTERVAL_S (hs_statsrec.h). Never blocks: a full producer queue
 * counts the record as failed. */
static void publish_stats(sink *s, int64_t now)
{
    if (s->next_stats_ms == 0 || now < s->next_stats_ms)
        return;
    s->next_stats_ms = now + s->cfg->stats_interval_s * 1000;
    json_t *stats = sink_stats(s);
    json_t *health = sink_health(s);
    char *text =
        hs_statsrec_text("writer", s->cfg->common.site, hs_now_wall_ns(), stats, health);
    int rc = -1;
    if (text != NULL)
        rc = hs_kafka_produce(s->producer, s->topic_in, "writer", 6, text, strlen(text),
                              &s->stats_marker, 0);
    if (rc != 0) {
        inc(&s->c.stats_records_failed, 1);
        inc(&s->c.errors, 1);
        hs_warn(COMPONENT, "cannot produce the homestream_stats record: %s",
                text == NULL ? "out of memory"
                             : rd_kafka_err2str((rd_kafka_resp_err_t)rc));
    }
    free(text);
}

/* Once the input has been quiet for IDLE_TRIM_MS after messages, and no
 * batch is held or filling: the buffers the burst grew (the batches' text,
 * keys, entries and payload copies, the reader's document, the raw recent
 * points and the lines written took over) are freed, the recent points are
 * packed (hs_recent_pack), then glibc gives free memory back to the system
 * (hs_mem.h). They grow again with the next message. */
static void trim_when_idle(sink *s, int64_t now)
{
    if (s->held || s->inflight || s->acc.n > 0 ||
        !hs_mem_idle_due(&s->idle, now, IDLE_TRIM_MS))
        return;
    batch_release(&s->acc);
    batch_release(&s->out);
    msgjson_fini(&s->doc);
    msgjson_skels_clear(s->skels);
    lineproto_cache_clear(s->shapes);
    written_flush(s->written, s->recent, true);
    hs_recent_pack(s->recent);
    hs_mem_backlog(false);
    hs_mem_idle_trim(&s->idle, now, IDLE_TRIM_MS);
}

/* The next message to handle: one taken earlier, else the first of up to
 * TAKE_MAX taken from librdkafka (waiting up to wait_ms for the first).
 * NULL when none came. */
static rd_kafka_message_t *take_message(sink *s, int wait_ms)
{
    if (s->itaken == s->ntaken) {
        s->itaken = 0;
        s->ntaken =
            hs_kafka_consume_some(s->consumer, s->queue, wait_ms, s->taken, TAKE_MAX);
        if (s->ntaken == 0)
            return NULL;
    }
    return s->taken[s->itaken++];
}

/* Destroys the messages taken and not handled: not stored, they are read
 * again after a restart. */
static void drop_taken(sink *s)
{
    while (s->itaken < s->ntaken)
        rd_kafka_message_destroy(s->taken[s->itaken++]);
    s->ntaken = s->itaken = 0;
}

void sink_step(sink *s, int max_wait_ms)
{
    if (s->closed)
        return;
    rd_kafka_poll(s->producer, 0);
    drive_writes(s, MAX_WRITES_PER_STEP);
    int64_t now = hs_now_mono_ms();
    update_pause(s, now);
    publish_stats(s, now);
    if (now >= s->next_lag_ms) {
        refresh_lag(s);
        s->next_lag_ms = now + LAG_REFRESH_MS;
    }

    int64_t wait = max_wait_ms;
    if (s->held && !s->inflight && s->next_attempt_ms - now < wait)
        wait = s->next_attempt_ms - now;
    if (!s->held && s->acc.n > 0)
        wait = 0; /* write as soon as nothing more is queued */
    if (s->inflight && wait > 2)
        wait = 2; /* look for the write's end often */
    if (wait < 0)
        wait = 0;
    if (acc_waiting(s, now) && !atomic_load(&s->c.paused)) {
        /* The next batch is full: leave messages in librdkafka's queue until
         * the write ends, instead of growing the batch or pausing. A write in
         * flight is waited for itself, so the next starts as it ends. */
        if (s->inflight) {
            await_write(s, (int)wait);
            rd_kafka_poll(s->producer, 0);
        } else if (wait > 0) {
            rd_kafka_poll(s->producer, (int)wait);
        }
        drive_writes(s, MAX_WRITES_PER_STEP);
        return;
    }
    s->queue_empty = false;
    int consumed = 0;
    for (int i = 0; i < MAX_POLL_PER_STEP; i++) {
        rd_kafka_message_t *m = take_message(s, i == 0 ? (int)wait : 0);
        if (m == NULL) {
            s->queue_empty = true;
            if (i == 0)
                trim_when_idle(s, hs_now_mono_ms());
            break;
        }
        consumed++;
        if (i % 16 == 0)
            now = hs_now_mono_ms(); /* fresh enough: 16 messages take well under 1 ms */
        handle_message(s, m, now);
        rd_kafka_message_destroy(m);
        if (batch_full(&s->acc) || (s->inflight && atomic_load(&s->job.done)))
            break;
    }
    /* Once per step is enough for a quiet time of seconds. */
    if (consumed > 0)
        hs_mem_idle_note(&s->idle, now, true);
    /* While draining a backlog, freed fetch responses stay in the heap for
     * the next ones instead of each being mapped and faulted in afresh;
     * once it is drained they go back (hs_mem.h). */
    if (consumed >= BACKLOG_STEP) {
        s->backlog_ms = now;
        hs_mem_backlog(true);
    } else if (s->queue_empty && now - s->backlog_ms >= BACKLOG_END_MS &&
               hs_mem_backlog(false)) {
        hs_mem_trim();
    }
    drive_writes(s, MAX_WRITES_PER_STEP);
}

/* ---- lifecycle --------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

sink *sink_new(const wconfig *cfg, char *err, size_t errlen)
{
    sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->cfg = cfg;
    s->start_ms = hs_now_mono_ms();
    s->full_since_ms = -1;
    s->next_stats_ms =
        cfg->stats_interval_s > 0 ? s->start_ms + cfg->stats_interval_s * 1000 : 0;
    s->rng = (uint32_t)hs_now_wall_ns() ^ 0xA5A5A5A5u;
    if (s->rng == 0)
        s->rng = 1;
    atomic_store(&s->c.last_event_ns, INT64_MIN);
    msgjson_init(&s->doc);
    s->shapes = lineproto_cache_new(); /* without it lines are encoded in full */
    s->skels = msgjson_skels_new();    /* without it texts are read in full */
    batch_limits lim = {(size_t)cfg->batch_max_points, (size_t)cfg->batch_max_bytes,
                        cfg->flush_interval_ms};
    batch_init(&s->acc, &lim);
    batch_init(&s->out, &lim);
    s->topic_in = dup_or_null(cfg->common.topic_enriched);
    s->topic_dlq = dup_or_null(cfg->common.topic_dlq);
    if (s->topic_in == NULL || s->topic_dlq == NULL) {
        snprintf(err, errlen, "out of memory");
        sink_free(s);
        return NULL;
    }
    if (lineproto_schema_parse(cfg->influx_schema, &s->lp.schema) < 0 ||
        lineproto_mattr_parse(cfg->influx_measurement_attr, &s->lp.measurement_attr) <
            0) {
        snprintf(err, errlen, "INFLUX_SCHEMA or INFLUX_MEASUREMENT_ATTR: unknown value");
        sink_free(s);
        return NULL;
    }
    s->lp.default_measurement = cfg->default_measurement;
    s->lp.override_measurement = cfg->influx_override_measurement;

    s->track = hs_offtrack_new();
    s->track_topic = hs_offtrack_topic(s->track, s->topic_in);
    s->lat = latency_new(LATENCY_WINDOW);
    s->delay = latency_new(LATENCY_WINDOW * 8);
    s->recent = hs_recent_new(RECENT_CAPACITY);
    s->written = written_new(RECENT_CAPACITY);
    s->breaker = hs_breaker_new("influxdb", NULL);
    if (s->track == NULL || s->track_topic == NULL || s->lat == NULL ||
        s->delay == NULL || s->recent == NULL || s->written == NULL ||
        s->breaker == NULL) {
        snprintf(err, errlen, "out of memory");
        sink_free(s);
        return NULL;
    }
    influx_opts io = {
        .api_version = atoi(cfg->influx_api_version ? cfg->influx_api_version : "2"),
        .url = cfg->influx_url,
        .db = cfg->influx_db,
        .rp = cfg->influx_rp,
        .user = cfg->influx_user,
        .password = cfg->influx_password,
        .org = cfg->influx_org,
        .bucket = cfg->influx_bucket,
        .token = cfg->influx_token,
        .gzip = cfg->influx_gzip,
        .timeout_ms = (long)cfg->influx_timeout_ms,
    };
    char why[256];
    s->ix = influx_new(&io, why, sizeof why);
    if (s->ix == NULL) {
        snprintf(err, errlen, "InfluxDB client: %s", why);
        sink_free(s);
        return NULL;
    }
    pthread_mutex_init(&s->job.mu, NULL);
    pthread_cond_init(&s->job.cv, NULL);
    s->job.mu_ready = true;
    if (pthread_create(&s->job.thread, NULL, http_thread, s) != 0) {
        snprintf(err, errlen, "cannot start the HTTP thread");
        sink_free(s);
        return NULL;
    }
    s->job.started = true;
    s->producer = hs_kafka_producer_new(cfg->common.kafka_brokers, dlq_report, s, NULL,
                                        why, sizeof why);
    if (s->producer == NULL) {
        snprintf(err, errlen, "DLQ producer: %s", why);
        sink_free(s);
        return NULL;
    }
    s->consumer = hs_kafka_consumer_new(cfg->common.kafka_brokers, cfg->kafka_group,
                                        s->topic_in, NULL, why, sizeof why);
    if (s->consumer == NULL) {
        snprintf(err, errlen, "consumer: %s", why);
        sink_free(s);
        return NULL;
    }
    s->queue = rd_kafka_queue_get_consumer(s->consumer);
    if (s->queue == NULL) {
        snprintf(err, errlen, "consumer: no queue");
        sink_free(s);
        return NULL;
    }
    return s;
}

void sink_set_stop_flag(sink *s, const volatile sig_atomic_t *stop)
{
    influx_set_abort_flag(s->ix, stop);
}

/* Purges what the DLQ producer still holds; the purged reports free their
 * refs (closing is set, so nothing is requeued). */
static void drop_undelivered(sink *s)
{
    atomic_store(&s->closing, true);
    if (s->producer == NULL)
        return;
    rd_kafka_purge(s->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(s->producer, 200);
}

void sink_shutdown(sink *s, int deadline_ms)
{
    if (s == NULL || s->closed || s->consumer == NULL)
        return;
    int64_t end = hs_now_mono_ms() + deadline_ms;
    /* A write in flight ends within about a second once the stop flag is
     * set (or at its timeout); act on it before anything else. */
    outcome_kind k0;
    while (s->inflight && hs_now_mono_ms() < end - 1500)
        reap_write(s, 100, &k0);
    if (s->inflight)
        hs_warn(COMPONENT, "a write is still in flight at shutdown; its points stay "
                           "uncommitted");
    else
        influx_set_abort_flag(s->ix, NULL);
    /* Write what is held and accumulated, one try each, while time allows;
     * what does not make it stays uncommitted and is read again. */
    s->queue_empty = true;
    for (int guard = 0; guard < 100000 && !s->inflight; guard++) {
        int64_t now = hs_now_mono_ms();
        if (now > end - 1500)
            break;
        finish_if_done(s);
        if (!s->held) {
            if (s->acc.n == 0)
                break;
            start_write(s, now);
        }
        if (s->next_attempt_ms > now + 50 || !hs_breaker_allow(s->breaker, now))
            break;
        /* A write may not outlast the deadline. */
        long budget = (long)(end - 1000 - now);
        if (budget < (long)s->cfg->influx_timeout_ms)
            influx_set_timeout_ms(s->ix, budget > 100 ? budget : 100);
        outcome_kind k = write_once(s);
        if (k == OUTCOME_RETRY || k == OUTCOME_FATAL)
            break;
    }
    if (!s->inflight)
        finish_if_done(s);
    /* DLQ deliveries store their originals' offsets: wait for them before
     * the consumer commits. */
    int64_t left = end - 500 - hs_now_mono_ms();
    if (left > 0)
        rd_kafka_flush(s->producer, (int)left);
    if (atomic_load(&s->dlq_inflight) > 0)
        hs_warn(COMPONENT,
                "%d DLQ records undelivered at shutdown; their offsets stay "
                "uncommitted",
                atomic_load(&s->dlq_inflight));
    drop_undelivered(s);
    drop_taken(s);
    rd_kafka_queue_destroy(s->queue);
    s->queue = NULL;
    hs_kafka_consumer_close(s->consumer);
    s->consumer = NULL;
    hs_kafka_producer_close(s->producer, 0);
    s->producer = NULL;
    s->closed = true;
    hs_info(COMPONENT, "stopped: %" PRIu64 " points written, %" PRIu64 " to the DLQ",
            get(&s->c.points_written), get(&s->c.dlq));
}

void sink_free(sink *s)
{
    if (s == NULL)
        return;
    if (!s->closed && s->consumer != NULL)
        sink_shutdown(s, 3000);
    if (s->job.started) {
        pthread_mutex_lock(&s->job.mu);
        s->job.quit = true;
        pthread_cond_broadcast(&s->job.cv);
        pthread_mutex_unlock(&s->job.mu);
        pthread_join(s->job.thread, NULL); /* a write in flight ends first */
    }
    if (s->producer != NULL)
        drop_undelivered(s);
    drop_taken(s);
    if (s->queue != NULL)
        rd_kafka_queue_destroy(s->queue);
    hs_kafka_consumer_close(s->consumer);
    s->consumer = NULL;
    hs_kafka_producer_close(s->producer, 0);
    influx_free(s->ix);
    hs_breaker_free(s->breaker);
    hs_recent_free(s->recent);
    written_free(s->written);
    latency_free(s->lat);
    latency_free(s->delay);
    hs_offtrack_free(s->track);
    batch_fini(&s->acc);
    batch_fini(&s->out);
    msgjson_fini(&s->doc);
    msgjson_skels_free(s->skels);
    lineproto_cache_free(s->shapes);
    json_decref(s->lag);
    free(s->topic_in);
    free(s->topic_dlq);
    pthread_mutex_destroy(&s->lock);
    if (s->job.mu_ready) {
        pthread_mutex_destroy(&s->job.mu);
        pthread_cond_destroy(&s->job.cv);
    }
    free(s);
}

/* ---- admin views ------------------------------------------------------- */

json_t *sink_stats(sink *s)
{
    int64_t now = hs_now_mono_ms();
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "stage", json_string("writer"));
    json_object_set_new(o, "site", json_string(s->cfg->common.site));
    json_object_set_new(o, "uptime_s", json_integer((now - s->start_ms) / 1000));
    json_object_set_new(o, "events_in_total",
                        json_integer((json_int_t)get(&s->c.events_in)));
    json_object_set_new(o, "events_out_total",
                        json_integer((json_int_t)get(&s->c.points_written)));
    json_object_set_new(o, "errors_total", json_integer((json_int_t)get(&s->c.errors)));
    json_object_set_new(o, "dlq_total", json_integer((json_int_t)get(&s->c.dlq)));
    int64_t last = atomic_load(&s->c.last_event_ns);
    char iso[40];
    if (last != INT64_MIN && hs_time_format_iso(last, iso, sizeof iso) == 0)
        json_object_set_new(o, "last_event_time", json_string(iso));
    else
        json_object_set_new(o, "last_event_time", json_null());
    json_t *br = json_object();
    json_object_set_new(br, "influxdb", hs_breaker_to_json(s->breaker, now));
    json_object_set_new(o, "breakers", br);

    json_object_set_new(o, "points_written_total",
                        json_integer((json_int_t)get(&s->c.points_written)));
    json_object_set_new(o, "batches_total", json_integer((json_int_t)get(&s->c.batches)));
    json_object_set_new(o, "bytes_total", json_integer((json_int_t)get(&s->c.bytes)));
    json_object_set_new(o, "retries_total", json_integer((json_int_t)get(&s->c.retries)));
    json_object_set_new(o, "rejected_total",
                        json_integer((json_int_t)get(&s->c.rejected)));
    json_object_set_new(o, "invalid_total", json_integer((json_int_t)get(&s->c.invalid)));
    json_object_set_new(o, "skipped_total", json_integer((json_int_t)get(&s->c.skipped)));
    json_object_set_new(o, "splits_total", json_integer((json_int_t)get(&s->c.splits)));
    json_object_set_new(o, "dropped_fields_total",
                        json_integer((json_int_t)get(&s->c.dropped_fields)));
    json_object_set_new(o, "dlq_failed_total",
                        json_integer((json_int_t)get(&s->c.dlq_failed)));
    json_object_set_new(o, "stats_records_total",
                        json_integer((json_int_t)get(&s->c.stats_records)));
    json_object_set_new(o, "stats_records_failed_total",
                        json_integer((json_int_t)get(&s->c.stats_records_failed)));
    json_object_set_new(o, "held_points",
                        json_integer((json_int_t)get(&s->c.held_points)));
    json_object_set_new(o, "batch_points",
                        json_integer((json_int_t)get(&s->c.acc_points)));
    json_object_set_new(o, "paused", json_boolean(atomic_load(&s->c.paused)));
    double p50, p90, p99;
    size_t n = latency_summary(s->lat, &p50, &p90, &p99);
    json_object_set_new(o, "write_latency_ms",
                        json_pack("{s:f,s:f,s:f,s:I}", "p50", p50, "p90", p90, "p99", p99,
                                  "samples", (json_int_t)n));
    n = latency_summary(s->delay, &p50, &p90, &p99);
    json_object_set_new(o, "kafka_to_influx_ms",
                        json_pack("{s:f,s:f,s:f,s:I}", "p50", p50, "p90", p90, "p99", p99,
                                  "samples", (json_int_t)n));
    pthread_mutex_lock(&s->lock);
    json_object_set_new(o, "consumer_lag",
                        s->lag ? json_deep_copy(s->lag) : json_object());
    json_object_set_new(o, "consumer_lag_total", json_integer(s->lag_total));
    json_object_set_new(o, "last_write_status", json_integer(s->last_status));
    pthread_mutex_unlock(&s->lock);
    return o;
}

json_t *sink_health(sink *s)
{
    int64_t now = hs_now_mono_ms();
    hs_breaker_state bs = hs_breaker_get_state(s->breaker, now);
    bool fatal = atomic_load(&s->c.fatal);
    bool retrying = atomic_load(&s->c.retrying);
    pthread_mutex_lock(&s->lock);
    long status = s->last_status;
    json_t *last_error = s->last_error[0] ? json_string(s->last_error) : json_null();
    bool kafka_bad =
        s->kafka_error_ms != 0 && now - s->kafka_error_ms < KAFKA_ERROR_DEGRADED_MS;
    json_t *kafka_error = s->kafka_error[0] ? json_string(s->kafka_error) : json_null();
    pthread_mutex_unlock(&s->lock);

    const char *influx_state = fatal ? "unauthorized_or_missing"
                               : bs != HS_BREAKER_CLOSED || retrying ? "failing"
                                                                     : "ok";
    const char *overall =
        fatal ? "unhealthy"
        : (bs != HS_BREAKER_CLOSED || retrying || kafka_bad || get(&s->c.dlq_failed) > 0)
            ? "degraded"
            : "ok";
    json_t *idep = json_object();
    json_object_set_new(idep, "state", json_string(influx_state));
    json_object_set_new(idep, "last_status", json_integer(status));
    json_object_set_new(idep, "last_error", last_error);
    json_object_set_new(idep, "breaker", hs_breaker_to_json(s->breaker, now));
    json_t *kafka = json_object();
    json_object_set_new(kafka, "state", json_string(kafka_bad ? "error" : "ok"));
    json_object_set_new(kafka, "last_error", kafka_error);
    json_object_set_new(kafka, "paused", json_boolean(atomic_load(&s->c.paused)));
    json_t *deps = json_object();
    json_object_set_new(deps, "influxdb", idep);
    json_object_set_new(deps, "kafka", kafka);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(overall));
    json_object_set_new(o, "stage", json_string("writer"));
    json_object_set_new(o, "dependencies", deps);
    return o;
}

json_t *sink_recent(sink *s, int limit, const char *entity_id)
{
    written_flush(s->written, s->recent, false);
    return hs_recent_list(s->recent, limit, entity_id);
}
