/* e2e_tap.c - homestream-e2e-tap: prints when each state change passed
 * each Kafka topic, for the end-to-end latency breakdown of e2e_bench.py.
 *
 *   homestream-e2e-tap BROKERS GROUP TOPIC [TOPIC...]
 *
 * One consumer in group GROUP, subscribed to every TOPIC, reading from the
 * earliest offset. Once it has partitions of every topic it prints
 * "READY=1" on a line of its own. Then, for each message that carries a
 * state change, one tab-separated line:
 *
 *   TOPIC  ENTITY_ID  TIME_NS  KAFKA_TS_MS  INGESTED_AT_NS
 *
 * ENTITY_ID is the message key (the stages key every state change by its
 * entity_id). TIME_NS is the event's new_state.last_updated (its emission
 * time in hasim), or the enricher's time_ns where the message has one;
 * KAFKA_TS_MS is the message's producer timestamp (set when the producing
 * stage handed it to librdkafka); INGESTED_AT_NS the ingestor's ingested_at
 * (0 when absent). A message carries a state change when it has a
 * "new_state" object and one of those times.
 *
 * The tap only needs these few top-level fields, so it finds them by their
 * JSON text instead of parsing the whole message: the first "time_ns":
 * number, the first "new_state":{ and the first "last_updated":" after it,
 * the first "ingested_at":". A JSON string cannot hold those texts (its
 * quotes are escaped), but an attribute of that name nested in new_state
 * before last_updated would be read instead; e2e_bench.py counts events the
 * tap did not report as not seen, so such a misreading cannot produce a
 * wrong figure, only a missing one.
 *
 * The timestamps come from the producers, so how late this tap reads a
 * message does not matter: it fetches with a long wait (fetch.wait.max.ms
 * 500) to cost the dev broker and itself little. Other lines (error logs,
 * JSON) may appear on stdout too. Runs until SIGTERM/SIGINT, then exits 0;
 * exits 1 when the consumer cannot be created. Offsets are never stored. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_time.h"

#define MAX_TOPICS 8
#define ISO_MAX 64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* True once the consumer has at least one partition of each of the n
 * topics assigned. */
static bool assigned_all(rd_kafka_t *k, char **topics, int n)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    bool all = true;
    if (rd_kafka_assignment(k, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || a == NULL)
        return false;
    for (int t = 0; t < n && all; t++) {
        bool found = false;
        for (int i = 0; i < a->cnt && !found; i++)
            found = strcmp(a->elems[i].topic, topics[t]) == 0;
        all = found;
    }
    rd_kafka_topic_partition_list_destroy(a);
    return all;
}

/* Returns the first byte after the first occurrence of needle in
 * [p, end), or NULL when there is none. */
static const char *after(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    if (p == NULL || (size_t)(end - p) < n)
        return NULL;
    const char *hit = memmem(p, (size_t)(end - p), needle, n);
    return hit != NULL ? hit + n : NULL;
}

/* Parses the ISO time whose text starts at p (after its opening quote, up
 * to the closing quote before end) into ns. Returns 0 when absent or
 * invalid. */
static int64_t iso_at(const char *p, const char *end)
{
    char text[ISO_MAX];
    size_t len = 0;
    if (p == NULL)
        return 0;
    while (p + len < end && p[len] != '"' && len < sizeof text - 1)
        len++;
    if (p + len >= end || p[len] != '"')
        return 0;
    memcpy(text, p, len);
    text[len] = '\0';
    int64_t ns = 0;
    return hs_time_parse_iso(text, &ns) == 0 ? ns : 0;
}

/* Parses the decimal integer that starts at p. Returns 0 when there is
 * none. */
static int64_t int_at(const char *p, const char *end)
{
    int64_t v = 0;
    if (p == NULL)
        return 0;
    while (p < end && *p == ' ')
        p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* Prints the line for one message, or nothing when it carries no state
 * change. */
static void report(const rd_kafka_message_t *m)
{
    if (m->key == NULL || m->key_len == 0 || m->key_len > 512 || m->payload == NULL)
        return;
    const char *p = m->payload, *end = p + m->len;
    const char *new_state = after(p, end, "\"new_state\":{");
    if (new_state == NULL)
        return;
    int64_t t = int_at(after(p, end, "\"time_ns\":"), end);
    if (t <= 0)
        t = iso_at(after(new_state, end, "\"last_updated\":\""), end);
    if (t <= 0)
        return;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    printf("%s\t%.*s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n", rd_kafka_topic_name(m->rkt),
           (int)m->key_len, (const char *)m->key, t, ts,
           iso_at(after(p, end, "\"ingested_at\":\""), end));
}

/* Subscribes k to every topic. Returns 0, or -1. */
static int subscribe_all(rd_kafka_t *k, char **topics, int n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 3 > MAX_TOPICS) {
        fprintf(stderr, "usage: %s BROKERS GROUP TOPIC [TOPIC...] (at most %d topics)\n",
                argv[0], MAX_TOPICS);
        return 2;
    }
    /* homestream logs go to stdout: only errors, so the lines stay parseable. */
    hs_log_setup("e2e-tap", HS_LOG_ERROR, "json");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char **topics = argv + 3;
    int n = argc - 3;
    static const char *const extra[] = {"fetch.wait.max.ms", "500", "fetch.min.bytes",
                                        "65536", NULL};
    char err[512];
    rd_kafka_t *k = hs_kafka_consumer_new(argv[1], argv[2], topics[0], extra, err, sizeof err);
    if (k == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int status = 0;
    if (n > 1 && subscribe_all(k, topics, n) < 0) {
        status = 1;
        goto out;
    }
    bool ready = false;
    while (!stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 100);
        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                report(m);
            rd_kafka_message_destroy(m);
        }
        if (!ready && assigned_all(k, topics, n)) {
            ready = true;
            puts("READY=1");
            fflush(stdout);
        }
        if (m == NULL)
            fflush(stdout);
    }
out:
    fflush(stdout);
    hs_kafka_consumer_close(k);
    return status;
}
