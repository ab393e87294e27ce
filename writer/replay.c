/* replay.c - `homestream-writer --replay-dlq`: re-drives writer DLQ records. */
#include "replay.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_offtrack.h"
#include "hs_time.h"

#define COMPONENT "replay"
#define MAX_PARTS 1024

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes standard base64 (padding optional). Returns a malloc'd buffer or
 * NULL when the text is not base64. */
static char *b64_decode(const char *in, size_t n, size_t *outlen)
{
    char *out = malloc(n / 4 * 3 + 4);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t i = 0;
    for (; i < n && in[i] != '='; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    for (; i < n; i++)
        if (in[i] != '=') {
            free(out);
            return NULL;
        }
    *outlen = o;
    return out;
}

int replay_extract(const void *record, size_t len, const char *stage, char **payload,
                   size_t *payload_len)
{
    json_t *r = json_loadb(record, len, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        return -1;
    }
    const char *st = json_string_value(json_object_get(r, "stage"));
    if (st == NULL) {
        json_decref(r);
        return -1;
    }
    if (strcmp(st, stage) != 0) {
        json_decref(r);
        return 1;
    }
    if (json_is_true(json_object_get(r, "payload_truncated"))) {
        json_decref(r);
        return 2;
    }
    int rc = -1;
    json_t *p = json_object_get(r, "payload");
    json_t *p64 = json_object_get(r, "payload_base64");
    if (json_is_string(p)) {
        size_t n = json_string_length(p);
        *payload = malloc(n + 1);
        if (*payload != NULL) {
            memcpy(*payload, json_string_value(p), n + 1);
            *payload_len = n;
            rc = 0;
        }
    } else if (json_is_string(p64)) {
        *payload =
            b64_decode(json_string_value(p64), json_string_length(p64), payload_len);
        rc = *payload ? 0 : -1;
    }
    json_decref(r);
    return rc;
}

typedef struct {
    int32_t partition;
    int64_t offset;
} replay_ref;

typedef struct {
    rd_kafka_t *consumer;
    hs_offtrack *track;
    const char *topic;
    replay_result *res;
    int inflight;
} replay_ctx;

static void finish(replay_ctx *c, int32_t partition, int64_t offset)
{
    int64_t next;
    if (hs_offtrack_done(c->track, c->topic, partition, offset, &next))
        hs_kafka_store_offset(c->consumer, c->topic, partition, next - 1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    replay_ctx *c = opaque;
    replay_ref *ref = msg->_private;
    if (ref == NULL)
        return;
    c->inflight--;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->res->replayed++;
        finish(c, ref->partition, ref->offset);
    } else {
        c->res->failed++;
        hs_error(COMPONENT, "re-driving DLQ record %" PRId32 "@%" PRId64 " failed: %s",
                 ref->partition, ref->offset, rd_kafka_err2str(msg->err));
    }
    free(ref);
}

/* The key of a re-driven message: the payload's entity_id, else its site. */
static char *payload_key(const char *payload, size_t len, const char *site)
{
    json_t *j = json_loadb(payload, len, 0, NULL);
    const char *k = json_string_value(json_object_get(j, "entity_id"));
    if (k == NULL || k[0] == '\0')
        k = json_string_value(json_object_get(j, "site"));
    char *out = strdup(k && k[0] ? k : site);
    json_decref(j);
    return out;
}

static bool all_at_end(rd_kafka_t *consumer, const int32_t *eof, size_t neof)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts == NULL)
        return false;
    bool all = parts->cnt > 0;
    for (int i = 0; all && i < parts->cnt; i++) {
        bool found = false;
        for (size_t k = 0; k < neof && !found; k++)
            found = eof[k] == parts->elems[i].partition;
        all = found;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return all;
}

static void eof_remove(int32_t *eof, size_t *neof, int32_t p)
{
    for (size_t k = 0; k < *neof; k++)
        if (eof[k] == p) {
            eof[k] = eof[--*neof];
            return;
        }
}

static void eof_add(int32_t *eof, size_t *neof, int32_t p)
{
    for (size_t k = 0; k < *neof; k++)
        if (eof[k] == p)
            return;
    if (*neof < MAX_PARTS)
        eof[(*neof)++] = p;
}

static void handle_record(replay_ctx *c, rd_kafka_t *producer, const wconfig *cfg,
                          rd_kafka_message_t *m)
{
    c->res->read++;
    if (hs_offtrack_add(c->track, c->topic, m->partition, m->offset) < 0) {
        hs_offtrack_forget(c->track, c->topic, m->partition);
        hs_offtrack_add(c->track, c->topic, m->partition, m->offset);
    }
    char *payload = NULL;
    size_t plen = 0;
    int rc =
        replay_extract(m->payload ? m->payload : "", m->len, "writer", &payload, &plen);
    if (rc != 0) {
        if (rc > 0)
            c->res->skipped++;
        else
            c->res->invalid++;
        if (rc == 2) {
            c->res->truncated++;
            hs_warn(COMPONENT,
                    "DLQ record %" PRId32 "@%" PRId64
                    " holds only the first part of its payload; skipped, it cannot be "
                    "replayed",
                    m->partition, m->offset);
        }
        finish(c, m->partition, m->offset);
        return;
    }
    char *key = payload_key(payload, plen, cfg->common.site);
    replay_ref *ref = malloc(sizeof *ref);
    int prc = -1;
    if (key != NULL && ref != NULL) {
        ref->partition = m->partition;
        ref->offset = m->offset;
        c->inflight++;
        prc = hs_kafka_produce(producer, cfg->common.topic_enriched, key, strlen(key),
                               payload, plen, ref, 5000);
        if (prc != 0)
            c->inflight--;
    }
    if (prc != 0) {
        c->res->failed++;
        hs_error(COMPONENT, "cannot re-drive DLQ record %" PRId32 "@%" PRId64,
                 m->partition, m->offset);
        free(ref);
    }
    free(key);
    free(payload);
}

int replay_dlq_run(const wconfig *cfg, volatile sig_atomic_t *stop, int idle_ms,
                   replay_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char group[512];
    snprintf(group, sizeof group, "%s-dlq-replay", cfg->kafka_group);
    replay_ctx c = {.topic = cfg->common.topic_dlq, .res = out};
    c.track = hs_offtrack_new();
    char why[256];
    rd_kafka_t *producer = hs_kafka_producer_new(cfg->common.kafka_brokers, on_delivery,
                                                 &c, NULL, why, sizeof why);
    static const char *const extra[] = {"enable.partition.eof", "true", NULL};
    if (producer != NULL)
        c.consumer = hs_kafka_consumer_new(cfg->common.kafka_brokers, group, c.topic,
                                           extra, why, sizeof why);
    if (c.track == NULL || producer == NULL || c.consumer == NULL) {
        snprintf(err, errlen, "cannot start the replay: %s",
                 c.track ? why : "out of memory");
        hs_kafka_consumer_close(c.consumer);
        hs_kafka_producer_close(producer, 0);
        hs_offtrack_free(c.track);
        return -1;
    }
    hs_info(COMPONENT, "replaying %s (group %s) into %s", c.topic, group,
            cfg->common.topic_enriched);
    int32_t eof[MAX_PARTS];
    size_t neof = 0;
    int64_t last_progress = hs_now_mono_ms();
    while (!*stop) {
        rd_kafka_poll(producer, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c.consumer, 100);
        int64_t now = hs_now_mono_ms();
        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                eof_add(eof, &neof, m->partition);
            } else if (m->err) {
                hs_warn(COMPONENT, "kafka: %s", rd_kafka_message_errstr(m));
            } else {
                eof_remove(eof, &neof, m->partition);
                handle_record(&c, producer, cfg, m);
                last_progress = now;
            }
            rd_kafka_message_destroy(m);
        }
        if (all_at_end(c.consumer, eof, neof) && c.inflight == 0)
            break;
        if (now - last_progress > idle_ms) {
            hs_warn(COMPONENT, "no progress for %d ms; stopping", idle_ms);
            break;
        }
    }
    for (int i = 0; i < 100 && c.inflight > 0; i++)
        rd_kafka_flush(producer, 100);
    /* What is still undelivered is purged; its reports count it failed. */
    rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer, 200);
    hs_kafka_consumer_close(c.consumer);
    c.consumer = NULL;
    hs_kafka_producer_close(producer, 0);
    hs_offtrack_free(c.track);
    if (out->failed > 0 || out->invalid > 0) {
        snprintf(err, errlen, "%" PRIu64 " records failed, %" PRIu64 " could not be read",
                 out->failed, out->invalid);
        return -1;
    }
    return 0;
}
