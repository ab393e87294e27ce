/* e2e_tap.c - homestream-e2e-tap: prints when each state change passed
 * each Kafka topic, for the end-to-end latency breakdown of e2e_bench.py.
 *
 *   homestream-e2e-tap BROKERS GROUP TOPIC [TOPIC...]
 *
 * One consumer per topic, in group GROUP.TOPIC, each reading from the
 * earliest offset. Once every consumer has its partitions it prints
 * "READY=1" on a line of its own. Then, for each message that carries a state change (a
 * new_state.last_updated, or the enricher's time_ns), one tab-separated line:
 *
 *   TOPIC  ENTITY_ID  TIME_NS  KAFKA_TS_MS  INGESTED_AT_NS
 *
 * TIME_NS is the event's last_updated (its emission time in hasim),
 * KAFKA_TS_MS the message's producer timestamp (set when the producing stage
 * handed it to librdkafka), INGESTED_AT_NS the ingestor's ingested_at (0 when
 * absent). The timestamps come from the producers, so how late this tap
 * reads a message does not matter. Other lines (error logs, JSON) may appear
 * on stdout too. Runs until SIGTERM/SIGINT, then exits 0;
 * exits 1 when a consumer cannot be created. Offsets are never committed. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_time.h"

#define MAX_TOPICS 8

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* True once the consumer has at least one partition assigned. */
static int assigned(rd_kafka_t *k)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    int n = 0;
    if (rd_kafka_assignment(k, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a != NULL)
        n = a->cnt;
    if (a != NULL)
        rd_kafka_topic_partition_list_destroy(a);
    return n > 0;
}

static int64_t iso_ns(json_t *s)
{
    int64_t ns = 0;
    const char *text = json_string_value(s);
    if (text == NULL || hs_time_parse_iso(text, &ns) != 0)
        return 0;
    return ns;
}

/* Prints the line for one message, or nothing when it carries no state
 * change. */
static void report(const char *topic, const rd_kafka_message_t *m)
{
    json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
    if (ev == NULL)
        return;
    const char *entity = json_string_value(json_object_get(ev, "entity_id"));
    json_t *new_state = json_object_get(ev, "new_state");
    int64_t t = 0;
    if (json_is_integer(json_object_get(ev, "time_ns")))
        t = (int64_t)json_integer_value(json_object_get(ev, "time_ns"));
    else if (json_is_object(new_state))
        t = iso_ns(json_object_get(new_state, "last_updated"));
    if (entity != NULL && json_is_object(new_state) && t > 0) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        printf("%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n", topic, entity, t, ts,
               iso_ns(json_object_get(ev, "ingested_at")));
    }
    json_decref(ev);
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

    int n = argc - 3;
    rd_kafka_t *k[MAX_TOPICS] = {NULL};
    int status = 0;
    for (int i = 0; i < n; i++) {
        char err[512], group[256];
        snprintf(group, sizeof group, "%s.%s", argv[2], argv[3 + i]);
        k[i] = hs_kafka_consumer_new(argv[1], group, argv[3 + i], NULL, err, sizeof err);
        if (k[i] == NULL) {
            fprintf(stderr, "%s: %s\n", argv[3 + i], err);
            status = 1;
            goto out;
        }
    }
    int ready = 0;
    while (!stop_requested) {
        for (int i = 0; i < n && !stop_requested; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(k[i], 5);
            if (m == NULL)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                report(argv[3 + i], m);
            rd_kafka_message_destroy(m);
        }
        if (!ready) {
            ready = 1;
            for (int i = 0; i < n; i++)
                ready = ready && assigned(k[i]);
            if (ready)
                puts("READY=1");
        }
        fflush(stdout);
    }
out:
    for (int i = 0; i < n; i++)
        hs_kafka_consumer_close(k[i]);
    return status;
}
