/* hostile-kafka.c - puts arbitrary bytes on a Kafka topic and reads a topic
 * back, for the hostile-input test (test_hostile.py).
 *
 *   hostile-kafka produce BROKERS TOPIC FILE...
 *       Produces each file's bytes, unchanged, as one message (an empty file
 *       is an empty message), in the order given. The key is the message's
 *       entity_id when it is JSON with one, else the file's base name. The
 *       producer accepts messages up to 20 MB, so a test can hand a stage
 *       what a broker with a larger limit would. Prints one line per file,
 *       "DELIVERED <file>" or "FAILED <file> <reason>"; exits 0 when every
 *       message was delivered, 1 otherwise.
 *
 *   hostile-kafka consume BROKERS TOPIC COUNT IDLE_MS
 *       Reads the topic from the beginning in a group of its own and prints
 *       one JSON object per message, {"partition","offset","key","payload"}
 *       (or "payload_b64" when the bytes are not valid UTF-8), until COUNT
 *       messages were read or none arrived for IDLE_MS. Exits 0. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "hs_kafka.h"

typedef struct {
    const char *file;
    int done;                /* 0 pending, 1 delivered, -1 failed */
    rd_kafka_resp_err_t err; /* why it failed */
} outcome;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    outcome *o = msg->_private;
    if (o == NULL)
        return;
    o->done = msg->err ? -1 : 1;
    o->err = msg->err;
}

/* Reads a whole file. Returns a malloc'd buffer (never NULL on success) or
 * NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int produce(const char *brokers, const char *topic, int nfiles, char **files)
{
    static const char *const extra[] = {"message.max.bytes", "20000000", NULL};
    char err[256];
    outcome *outs = calloc((size_t)nfiles, sizeof *outs);
    if (outs == NULL)
        return 1;
    rd_kafka_t *rk =
        hs_kafka_producer_new(brokers, on_delivery, NULL, extra, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "hostile-kafka: %s\n", err);
        free(outs);
        return 1;
    }
    for (int i = 0; i < nfiles; i++) {
        outs[i].file = files[i];
        size_t len = 0;
        char *buf = slurp(files[i], &len);
        if (buf == NULL) {
            printf("FAILED %s cannot read the file\n", files[i]);
            outs[i].done = -2;
            continue;
        }
        json_t *j = json_loadb(buf, len, 0, NULL);
        const char *key = json_string_value(json_object_get(j, "entity_id"));
        if (key == NULL) {
            key = strrchr(files[i], '/');
            key = key != NULL ? key + 1 : files[i];
        }
        int rc = hs_kafka_produce(rk, topic, key, strlen(key), buf, len, &outs[i], 10000);
        json_decref(j);
        free(buf);
        if (rc != 0) {
            outs[i].done = -1;
            outs[i].err = (rd_kafka_resp_err_t)rc;
        }
        rd_kafka_poll(rk, 0);
    }
    int left = hs_kafka_producer_close(rk, 30000);
    int failed = left > 0;
    for (int i = 0; i < nfiles; i++) {
        if (outs[i].done == 1) {
            printf("DELIVERED %s\n", outs[i].file);
        } else if (outs[i].done != -2) {
            printf("FAILED %s %s\n", outs[i].file,
                   outs[i].done == 0 ? "not delivered" : rd_kafka_err2str(outs[i].err));
            failed = 1;
        } else {
            failed = 1;
        }
    }
    free(outs);
    return failed;
}

static char *base64(const unsigned char *p, size_t n)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int print_message(const rd_kafka_message_t *m, FILE *out)
{
    json_t *o = json_pack("{s:i, s:I}", "partition", (int)m->partition, "offset",
                          (json_int_t)m->offset);
    if (o == NULL)
        return -1;
    json_t *key = m->key != NULL ? json_stringn(m->key, m->key_len) : json_null();
    json_object_set_new(o, "key", key != NULL ? key : json_null());
    json_t *payload = json_stringn(m->payload != NULL ? m->payload : "", m->len);
    if (payload != NULL) {
        json_object_set_new(o, "payload", payload);
    } else {
        char *b = base64(m->payload, m->len);
        json_object_set_new(o, "payload_b64", b != NULL ? json_string(b) : json_null());
        free(b);
    }
    int rc = json_dumpf(o, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(o);
    return rc;
}

/* The messages go to out, one JSON object per line. */
static int consume(const char *brokers, const char *topic, long count, long idle_ms,
                   FILE *out)
{
    char group[96], err[256];
    snprintf(group, sizeof group, "hostile-kafka-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    rd_kafka_t *rk = hs_kafka_consumer_new(brokers, group, topic, NULL, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "hostile-kafka: %s\n", err);
        return 1;
    }
    long seen = 0, idle = 0;
    while (seen < count && idle < idle_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            idle += 100;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            print_message(m, out);
            seen++;
            idle = 0;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "hostile-kafka: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    fflush(out);
    hs_kafka_consumer_close(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], argv[3], argc - 4, argv + 4);
    if (argc == 6 && strcmp(argv[1], "consume") == 0) {
        /* hs_log writes librdkafka's log lines straight to descriptor 1,
         * from librdkafka's threads: they would cut into a message being
         * printed. Messages go to the original stdout, logs to stderr. */
        fflush(stdout);
        int fd = dup(STDOUT_FILENO);
        FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (out == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            perror("hostile-kafka: stdout");
            return 1;
        }
        int rc = consume(argv[2], argv[3], strtol(argv[4], NULL, 10),
                         strtol(argv[5], NULL, 10), out);
        fclose(out);
        return rc;
    }
    fprintf(stderr,
            "usage: %s produce BROKERS TOPIC FILE...\n"
            "       %s consume BROKERS TOPIC COUNT IDLE_MS\n",
            argv[0], argv[0]);
    return 2;
}
