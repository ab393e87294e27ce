/* hs_kafka.c - librdkafka producer and consumer set up the homestream way. */
#include "hs_kafka.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>

#include "hs_log.h"
#include "hs_time.h"

/* One setting applied to a new configuration. */
typedef struct {
    const char *key;
    const char *value;
} kafka_setting;

/* Producer defaults. linger.ms stays at librdkafka's 5: measured end to end
 * at 1,000 events/s (tests/bench/e2e_bench.py, see docs/operations.md), 1 ms
 * made every producer send about a request per message, which doubled the
 * broker's CPU and made the whole pipeline slower (p50 46 vs 24-30 ms), not
 * faster. The local queue is large so a burst (a backfill after a
 * reconnect) does not hit QUEUE_FULL; message.timeout.ms stays finite so a
 * message that cannot be delivered comes back in a delivery report. */
static const kafka_setting producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "5"},
    {"compression.codec", "none"},
    {"queue.buffering.max.messages", "500000"},
    {"message.timeout.ms", "300000"},
    {"socket.nagle.disable", "true"},
};

/* Consumer defaults: auto commit of stored offsets only, no partition EOF
 * events.
 *
 * fetch.wait.max.ms is how long the broker may hold a Fetch that finds no
 * data. A real Kafka answers as soon as data arrives, so there it only sets
 * how often an idle consumer asks (and its idle CPU); librdkafka's mock
 * cluster, our dev broker, answers an empty Fetch only after the whole wait,
 * so there each consumer hop adds up to this much latency (half of it on
 * average). 5 ms keeps the dev broker's hops short at about 200 empty
 * fetches a second while idle.
 *
 * Pre-fetching stays at librdkafka's defaults (queued.min.messages 100000,
 * queued.max.messages.kbytes 64 MB): librdkafka 2.0.2 (Debian 12) stops
 * fetching for a fixed second whenever its queue reaches either limit (the
 * configurable fetch.queue.backoff.ms came in 2.2), so a limit the stage can
 * drain in under a second caps its throughput at that limit per second
 * (librdkafka issues #2879, #4275). Under a backlog a stage's
 * memory grows by up to the 64 MB queue; idle, the queue is empty.
 *
 * fetch.max.bytes is 16 MB (librdkafka's default is 50 MB): a fetch
 * response is one buffer, and under hs_mem_backlog a buffer of up to 32 MB
 * is kept in the heap for the next response instead of being mapped and
 * faulted in afresh (hs_mem.h).
 *
 * A member that died (SIGKILL, power loss) holds its partitions until its
 * session times out; librdkafka's 45 s default stalls the stage that much
 * after a crash and restart, so the session is 10 s with a heartbeat every
 * 3 s. */
static const kafka_setting consumer_defaults[] = {
    {"enable.auto.commit", "true"},        {"auto.commit.interval.ms", "1000"},
    {"enable.auto.offset.store", "false"}, {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},     {"fetch.wait.max.ms", "5"},
    {"socket.nagle.disable", "true"},      {"session.timeout.ms", "10000"},
    {"heartbeat.interval.ms", "3000"},     {"fetch.max.bytes", "16777216"},
};

/* Routes librdkafka's log lines into hs_log (component "kafka") instead of
 * stderr. Called from librdkafka's threads; hs_log_write is thread-safe.
 * librdkafka logs every lost connection at LOG_ERR; those are transient and
 * the stage judges its own health, so they are warnings here. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    hs_log_level l;
    if (level <= LOG_CRIT)
        l = HS_LOG_ERROR;
    else if (level <= LOG_WARNING)
        l = HS_LOG_WARN;
    else if (level <= LOG_INFO)
        l = HS_LOG_INFO;
    else
        l = HS_LOG_DEBUG;
    HS_LOG(l, "kafka", "%s: %s: %s", rk != NULL ? rd_kafka_name(rk) : "rdkafka", fac,
           buf);
}

/* Logs client-level errors once, by name (without an error_cb librdkafka
 * repeats them as "ERROR" log lines). A fatal error of the idempotent
 * producer is logged with its underlying cause: from then on every message
 * fails with RD_KAFKA_RESP_ERR__FATAL and the stage must recreate the
 * producer. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char cause[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, cause, sizeof cause);
        hs_error("kafka", "%s: fatal error %s: %s", rd_kafka_name(rk),
                 rd_kafka_err2name(orig), cause);
        return;
    }
    hs_warn("kafka", "%s: %s: %s", rd_kafka_name(rk),
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* The librdkafka log_level (syslog scale) matching hs_log's current level. */
static const char *kafka_syslog_level(void)
{
    switch (hs_log_get_level()) {
    case HS_LOG_DEBUG:
        return "7";
    case HS_LOG_INFO:
        return "6";
    case HS_LOG_WARN:
        return "4";
    case HS_LOG_ERROR:
        return "3";
    }
    return "6";
}

/* Sets one property; on failure writes a message naming the property (never
 * the value, which may be a secret) and returns -1. */
static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t errlen)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka setting %s: %s", key, errstr);
        return -1;
    }
    return 0;
}

/* Builds a configuration from brokers, a table of defaults and the caller's
 * extra pairs (applied last, so they override). Returns NULL with a reason. */
static rd_kafka_conf_t *conf_build(const char *brokers, const kafka_setting *defaults,
                                   size_t ndefaults, const char *const *extra, char *err,
                                   size_t errlen)
{
    if (brokers == NULL || brokers[0] == '\0') {
        snprintf(err, errlen, "kafka: no bootstrap servers given");
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    if (conf_set(conf, "bootstrap.servers", brokers, err, errlen) < 0 ||
        conf_set(conf, "log_level", kafka_syslog_level(), err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < ndefaults; i++) {
        if (conf_set(conf, defaults[i].key, defaults[i].value, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2) {
        if (extra[i + 1] == NULL) {
            snprintf(err, errlen, "kafka setting %s: no value given", extra[i]);
            goto fail;
        }
        if (conf_set(conf, extra[i], extra[i + 1], err, errlen) < 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* The delivery report callback has exactly librdkafka's dr_msg_cb signature,
 * and the caller's opaque becomes the handle's opaque, so librdkafka calls
 * the caller's function directly with it: no trampoline state to own. */
rd_kafka_t *hs_kafka_producer_new(const char *brokers, hs_kafka_dr_fn dr, void *opaque,
                                  const char *const *extra, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = conf_build(
        brokers, producer_defaults,
        sizeof producer_defaults / sizeof producer_defaults[0], extra, err, errlen);
    if (conf == NULL)
        return NULL;
    if (dr != NULL)
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    rd_kafka_conf_set_opaque(conf, opaque);

    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        /* conf is still ours when rd_kafka_new fails. */
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka producer: %s", errstr);
        return NULL;
    }
    return rk;
}

rd_kafka_t *hs_kafka_consumer_new(const char *brokers, const char *group,
                                  const char *topic, const char *const *extra, char *err,
                                  size_t errlen)
{
    if (group == NULL || group[0] == '\0' || topic == NULL || topic[0] == '\0') {
        snprintf(err, errlen, "kafka consumer: group and topic are required");
        return NULL;
    }
    rd_kafka_conf_t *conf = conf_build(
        brokers, consumer_defaults,
        sizeof consumer_defaults / sizeof consumer_defaults[0], extra, err, errlen);
    if (conf == NULL)
        return NULL;
    if (conf_set(conf, "group.id", group, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }

    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka consumer: %s", errstr);
        return NULL;
    }
    /* conf ownership moved to rk. */
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka subscribe %s: %s", topic, rd_kafka_err2str(e));
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hs_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *payload, size_t len, void *msg_opaque, int block_ms)
{
    int64_t deadline = block_ms > 0 ? mono_ms() + block_ms : 0;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)payload, len),
            RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || block_ms <= 0 || mono_ms() >= deadline)
            return (int)e;
        /* Serving delivery reports is what frees room in the queue. */
        rd_kafka_poll(rk, 10);
    }
}

int hs_kafka_store_offset(rd_kafka_t *rk, const char *topic, int32_t partition,
                          int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_add(list, topic, partition);
    tp->offset = offset + 1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, list);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    return (int)e;
}

size_t hs_kafka_consume_some(rd_kafka_t *rk, rd_kafka_queue_t *q, int wait_ms,
                             rd_kafka_message_t **msgs, size_t max)
{
    msgs[0] = rd_kafka_consumer_poll(rk, wait_ms);
    if (msgs[0] == NULL)
        return 0;
    ssize_t more = max > 1 ? rd_kafka_consume_batch_queue(q, 0, msgs + 1, max - 1) : 0;
    return 1 + (more > 0 ? (size_t)more : 0);
}

void hs_kafka_consumer_close(rd_kafka_t *rk)
{
    if (rk == NULL)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        hs_warn("kafka", "final commit of %s failed: %s", rd_kafka_name(rk),
                rd_kafka_err2str(e));
    e = rd_kafka_consumer_close(rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        hs_warn("kafka", "closing %s: %s", rd_kafka_name(rk), rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
}

/* Messages still queued after the flush are purged before the handle is
 * destroyed, and their delivery reports (error RD_KAFKA_RESP_ERR__PURGE_QUEUE
 * or __PURGE_INFLIGHT) are served here, so the caller's report function sees
 * every message exactly once and can release or spool its msg_opaque. */
int hs_kafka_producer_close(rd_kafka_t *rk, int timeout_ms)
{
    if (rk == NULL)
        return 0;
    rd_kafka_flush(rk, timeout_ms > 0 ? timeout_ms : 0);
    int left = rd_kafka_outq_len(rk);
    if (left > 0) {
        hs_warn("kafka", "%s: %d messages undelivered after %d ms, purging",
                rd_kafka_name(rk), left, timeout_ms);
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t deadline = mono_ms() + 1000;
        while (rd_kafka_outq_len(rk) > 0 && mono_ms() < deadline)
            rd_kafka_poll(rk, 10);
    }
    rd_kafka_destroy(rk);
    return left;
}

/* Length of the valid UTF-8 sequence starting at s (n bytes available), or
 * 0 when it is not one: overlong forms, UTF-16 surrogates and code points
 * above U+10FFFF are rejected. A NUL byte is a valid one-byte sequence. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead 0xc0/0xc1, or > 0xf4 */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
        return 0; /* overlong */
    if (cp >= 0xd800 && cp <= 0xdfff)
        return 0; /* surrogate */
    if (cp > 0x10ffff)
        return 0;
    return len;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

/* Returns a new JSON string of text with every invalid UTF-8 sequence
 * replaced by U+FFFD, so a hostile error text never makes the record fail.
 * NULL text becomes "". Returns NULL when out of memory. */
static json_t *json_string_sanitized(const char *text)
{
    if (text == NULL)
        return json_string("");
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    if (utf8_valid(s, n))
        return json_stringn_nocheck(text, n);
    char *out = malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    json_t *j = json_stringn_nocheck(out, o);
    free(out);
    return j;
}

/* Standard base64 (RFC 4648, padded). Returns a malloc'd NUL-terminated
 * string of *outlen characters, or NULL when out of memory. */
static char *base64_encode(const unsigned char *in, size_t n, size_t *outlen)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* The length of text[0..n) once jansson's json_dumps has escaped it inside a
 * JSON string (without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH): '"', '\\'
 * and \b \f \n \r \t take two characters, the other control characters six
 * (\u00XX), every other byte one. */
static size_t json_escaped_len(const unsigned char *text, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = text[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
            c == '\t')
            out += 2;
        else if (c < 0x20)
            out += 6;
        else
            out++;
    }
    return out;
}

/* The length of the longest prefix of the valid UTF-8 text s[0..n) that ends
 * on a character boundary and takes at most budget characters once escaped
 * (see json_escaped_len). */
static size_t utf8_prefix_fitting(const unsigned char *s, size_t n, size_t budget)
{
    size_t i = 0, used = 0;
    while (i < n) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0)
            break;
        size_t e = json_escaped_len(s + i, l);
        if (used + e > budget)
            break;
        used += e;
        i += l;
    }
    return i;
}

/* Sets the record's payload member: s[0..n) as "payload" when utf8 is true
 * (the caller checked it is valid UTF-8), else base64 in "payload_base64".
 * Returns 0, or -1 when out of memory. */
static int set_payload(json_t *rec, const unsigned char *s, size_t n, bool utf8)
{
    if (utf8)
        return json_object_set_new(rec, "payload",
                                   json_stringn_nocheck((const char *)s, n));
    size_t blen;
    char *b64 = base64_encode(s, n, &blen);
    if (b64 == NULL)
        return -1;
    int rc = json_object_set_new(rec, "payload_base64", json_stringn_nocheck(b64, blen));
    free(b64);
    return rc;
}

/* Creates {"stage","error","at"} with stage sanitised (see
 * json_string_sanitized), at = now and error the JSON string given, whose
 * reference it steals (also on failure). Returns NULL when out of memory. */
static json_t *dlq_head(const char *stage, json_t *error)
{
    char at[40];
    if (hs_time_format_iso(hs_now_wall_ns(), at, sizeof at) < 0)
        at[0] = '\0';
    json_t *rec = json_object();
    if (rec == NULL || error == NULL ||
        json_object_set_new(rec, "stage", json_string_sanitized(stage)) < 0 ||
        json_object_set_new(rec, "error", json_incref(error)) < 0 ||
        json_object_set_new(rec, "at", json_string(at)) < 0) {
        json_decref(rec);
        rec = NULL;
    }
    json_decref(error);
    return rec;
}

/* error sanitised as a JSON string, cut to at most max_escaped characters
 * once escaped, "..." included, when it is longer. NULL when out of memory. */
static json_t *error_cut(const char *error, size_t max_escaped)
{
    json_t *es = json_string_sanitized(error);
    if (es == NULL)
        return NULL;
    const unsigned char *v = (const unsigned char *)json_string_value(es);
    size_t n = json_string_length(es);
    if (json_escaped_len(v, n) <= max_escaped)
        return es;
    size_t keep = utf8_prefix_fitting(v, n, max_escaped > 3 ? max_escaped - 3 : 0);
    char *cut = malloc(keep + 4);
    json_t *c = NULL;
    if (cut != NULL) {
        memcpy(cut, v, keep);
        memcpy(cut + keep, "...", 4);
        c = json_stringn_nocheck(cut, keep + 3);
        free(cut);
    }
    json_decref(es);
    return c;
}

/* json_dumps of rec, compact; *len its length. NULL when out of memory. */
static char *dump_len(const json_t *rec, size_t *len)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    if (text != NULL)
        *len = strlen(text);
    return text;
}

/* A payload that is valid UTF-8 goes in as a JSON string built with
 * json_stringn, because it may hold NUL bytes (valid UTF-8, escaped as
 * \u0000 in the output); anything else goes in as "payload_base64". */
char *hs_kafka_dlq_record(const char *stage, const char *error, const void *payload,
                          size_t len)
{
    const unsigned char *p = payload != NULL ? payload : (const unsigned char *)"";
    if (payload == NULL)
        len = 0;
    json_t *rec = dlq_head(stage, json_string_sanitized(error));
    if (rec == NULL)
        return NULL;
    char *text = NULL;
    if (set_payload(rec, p, len, utf8_valid(p, len)) == 0)
        text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    return text;
}

/* The cut record is sized from the same record with an empty payload: what
 * is left of max_bytes is the payload's budget, in escaped characters. The
 * escaped length of the kept part is computed exactly; should the dump still
 * come out longer (it cannot with jansson 2.14), the budget shrinks by the
 * excess and the record is built again. */
char *hs_kafka_dlq_record_max(const char *stage, const char *error, const void *payload,
                              size_t len, size_t max_bytes)
{
    const unsigned char *p = payload != NULL ? payload : (const unsigned char *)"";
    if (payload == NULL)
        len = 0;
    /* The escaped payload is at least len characters: only a shorter one
     * may fit whole. */
    if (len < max_bytes) {
        char *whole = hs_kafka_dlq_record(stage, error, p, len);
        if (whole == NULL || strlen(whole) <= max_bytes)
            return whole;
        free(whole);
    }

    bool utf8 = utf8_valid(p, len);
    char *text = NULL;
    size_t tlen = 0;
    json_t *rec = dlq_head(stage, error_cut(error, max_bytes / 4));
    if (rec == NULL || json_object_set_new(rec, "payload_truncated", json_true()) < 0 ||
        json_object_set_new(rec, "payload_bytes", json_integer((json_int_t)len)) < 0 ||
        set_payload(rec, p, 0, utf8) < 0 || (text = dump_len(rec, &tlen)) == NULL)
        goto done;
    free(text);
    text = NULL;
    if (tlen > max_bytes)
        goto done; /* not even an empty payload fits */
    size_t budget = max_bytes - tlen;
    size_t keep;
    for (;;) {
        keep = utf8 ? utf8_prefix_fitting(p, len, budget) : budget / 4 * 3;
        if (keep > len)
            keep = len;
        if (set_payload(rec, p, keep, utf8) < 0 || (text = dump_len(rec, &tlen)) == NULL)
            goto done;
        if (tlen <= max_bytes)
            break;
        free(text);
        text = NULL;
        if (keep == 0)
            goto done;
        size_t over = tlen - max_bytes;
        budget = budget > over ? budget - over : 0;
    }
    if (keep == len) {
        /* Only the error was too long: the payload is whole, and the record
         * without the two markers is shorter still. */
        json_object_del(rec, "payload_truncated");
        json_object_del(rec, "payload_bytes");
        free(text);
        text = json_dumps(rec, JSON_COMPACT);
    }
done:
    json_decref(rec);
    return text;
}
