/* writer_produce.c - homestream-writer-produce: puts messages on a Kafka
 * topic for the writer's integration test and benchmark.
 *
 *   homestream-writer-produce BROKERS TOPIC            one message per stdin line
 *   homestream-writer-produce BROKERS TOPIC --generate N [ENTITIES]
 *                                                      N synthetic enriched events
 *
 * Every message is keyed by its entity_id (else its site), as the stages
 * key theirs. Exits 0 once every message was delivered, 1 otherwise. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hs_kafka.h"
#include "writer_gen.h"

typedef struct {
    uint64_t ok;
    uint64_t failed;
} tally;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    tally *t = opaque;
    if (msg->err)
        t->failed++;
    else
        t->ok++;
}

static int produce_one(rd_kafka_t *rk, const char *topic, const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *key = json_string_value(json_object_get(j, "entity_id"));
    if (key == NULL)
        key = json_string_value(json_object_get(j, "site"));
    if (key == NULL)
        key = "";
    int rc = hs_kafka_produce(rk, topic, key, strlen(key), text, len, NULL, 10000);
    json_decref(j);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc >= 5 && strcmp(argv[3], "--generate") == 0)) {
        fprintf(stderr, "usage: %s BROKERS TOPIC [--generate N [ENTITIES]] (< lines)\n",
                argv[0]);
        return 2;
    }
    tally t = {0, 0};
    char err[256];
    rd_kafka_t *rk =
        hs_kafka_producer_new(argv[1], on_delivery, &t, NULL, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    uint64_t sent = 0, bad = 0;
    if (argc == 3) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            if (produce_one(rk, argv[2], line, (size_t)n) == 0)
                sent++;
            else
                bad++;
            rd_kafka_poll(rk, 0);
        }
        free(line);
    } else {
        uint64_t count = strtoull(argv[4], NULL, 10);
        unsigned entities = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 50;
        writer_gen g;
        writer_gen_init(&g, entities, 1700000000000000000LL);
        for (uint64_t i = 0; i < count; i++) {
            char *text = writer_gen_next(&g);
            if (text == NULL || produce_one(rk, argv[2], text, strlen(text)) != 0)
                bad++;
            else
                sent++;
            free(text);
            if (i % 1000 == 0)
                rd_kafka_poll(rk, 0);
        }
    }
    int left = hs_kafka_producer_close(rk, 30000);
    fprintf(stderr,
            "%s: sent %" PRIu64 ", delivered %" PRIu64 ", failed %" PRIu64
            ", not queued %" PRIu64 ", undelivered %d\n",
            argv[0], sent, t.ok, t.failed, bad, left);
    return (bad == 0 && t.failed == 0 && left == 0) ? 0 : 1;
}
