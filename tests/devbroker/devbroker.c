/* devbroker.c - homestream-devbroker, an in-memory Kafka-protocol broker for
 * development and tests, built on librdkafka's mock cluster.
 *
 * It starts a mock cluster of --brokers brokers (default 1) listening on
 * 127.0.0.1 at ports the kernel picks (librdkafka 2.0.2 offers no way to
 * choose them), creates the topics ha.events.raw, ha.events.enriched and
 * ha.events.dlq (names from TOPIC_RAW, TOPIC_ENRICHED, TOPIC_DLQ when set)
 * with --partitions partitions each (default 3) plus any --topic NAME:PARTS,
 * and prints exactly one line "BOOTSTRAP=<host:port,...>" on stdout, then
 * flushes. Nothing else is ever written to stdout; diagnostics go to stderr.
 * With --bootstrap-file PATH the same line is written to PATH (atomically,
 * through a rename) so a test can wait for the file instead. It runs until
 * SIGTERM or SIGINT and then exits 0.
 *
 * Dev only: nothing is persisted, and librdkafka keeps at most 5 MiB or
 * 100000 message batches per partition, dropping the oldest beyond that;
 * 2.0.2 has no setting to change either limit.
 *
 * Fault injection: with --control-port PORT an HTTP server listens on
 * 127.0.0.1:PORT (0 picks a free port, reported on stderr). Bodies are JSON
 * objects of at most 4 KiB; answers are JSON.
 *   GET  /health          {"status":"ok","bootstrap":"…","brokers":N}
 *   POST /fault           {"api":"Produce","error":"NOT_LEADER_FOR_PARTITION",
 *                          "count":N,"broker":ID,"rtt_ms":MS}: the next N
 *                         requests of that API fail with that error. api is a
 *                         name (Produce, Fetch, ListOffsets, Metadata,
 *                         OffsetCommit, OffsetFetch, FindCoordinator,
 *                         JoinGroup, Heartbeat, LeaveGroup, SyncGroup,
 *                         ApiVersion, InitProducerId, ...) or the numeric
 *                         ApiKey. error is a librdkafka error name, with or
 *                         without the RD_KAFKA_RESP_ERR_ prefix ("_TRANSPORT"
 *                         disconnects the client), or its number. count
 *                         defaults to 1. With broker, only that broker fails
 *                         and rtt_ms delays each failing answer.
 *   POST /fault/clear     {"api":"Produce"}: forgets the cluster-wide errors
 *                         still pending for that API.
 *   POST /broker/down     {"broker":ID}: disconnects the broker and refuses
 *                         connections; without a body, every broker.
 *   POST /broker/up       {"broker":ID}: accepts connections again.
 *   POST /broker/rtt      {"broker":ID,"rtt_ms":MS}: delays every answer.
 * Errors answer 400/404/405 with {"error":"…"}. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <microhttpd.h>

#define BODY_MAX 4096
#define MAX_TOPICS 64

/* The only mutable global: set by the signal handler, read by main's loop. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void logf_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_stderr(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "devbroker: %s\n", line);
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    (void)rk;
    logf_stderr("rdkafka[%d] %s: %s", level, fac, buf);
}

typedef struct {
    const char *name;
    int partitions;
} topic_spec;

typedef struct {
    int brokers;
    int partitions;
    int control_port; /* -1: no control server */
    const char *bootstrap_file;
    const char *debug;
    topic_spec topics[MAX_TOPICS];
    size_t ntopics;
} devbroker_opts;

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    struct MHD_Daemon *httpd;
    unsigned control_port;
    int brokers;
} devbroker;

/* Protocol ApiKeys from the Kafka protocol specification. */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"SaslHandshake", 17},
    {"ApiVersion", 18},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"DeleteTopics", 20},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

/* Parses a non-negative decimal int. Returns 0, or -1. */
static int parse_int(const char *s, int min, int max, int *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* Resolves "api" (a name or a number) into *key. Returns 0, or -1. */
static int api_from_json(const json_t *v, int16_t *key)
{
    if (json_is_integer(v)) {
        json_int_t k = json_integer_value(v);
        if (k < 0 || k > INT16_MAX)
            return -1;
        *key = (int16_t)k;
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++) {
        if (strcasecmp(s, api_keys[i].name) == 0) {
            *key = api_keys[i].key;
            return 0;
        }
    }
    int k;
    if (parse_int(s, 0, INT16_MAX, &k) == 0) {
        *key = (int16_t)k;
        return 0;
    }
    return -1;
}

/* Resolves "error" (a librdkafka error name with or without the
 * RD_KAFKA_RESP_ERR_ prefix, or a number) into *err. Returns 0, or -1. */
static int error_from_json(const json_t *v, rd_kafka_resp_err_t *err)
{
    if (json_is_integer(v)) {
        *err = (rd_kafka_resp_err_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL)
        return -1;
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name != NULL && strcasecmp(descs[i].name, s) == 0) {
            *err = descs[i].code;
            return 0;
        }
    }
    int code;
    if (parse_int(s[0] == '-' ? s + 1 : s, 0, INT_MAX, &code) == 0) {
        *err = (rd_kafka_resp_err_t)(s[0] == '-' ? -code : code);
        return 0;
    }
    return -1;
}

/* Reads an optional integer member; returns 0 (leaving *out alone when
 * absent), or -1 when present but not an integer in [min, max]. */
static int opt_int(const json_t *body, const char *key, int min, int max, int *out)
{
    const json_t *v = body != NULL ? json_object_get(body, key) : NULL;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

/* Handles one control request. Returns the HTTP status; *answer receives a
 * new JSON object. body is NULL when the request had none. */
static unsigned control_route(devbroker *db, const char *method, const char *url,
                              const json_t *body, json_t **answer)
{
    char msg[256];
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (strcmp(url, "/health") == 0) {
        if (!get)
            goto not_allowed;
        *answer =
            json_pack("{s:s, s:s, s:i}", "status", "ok", "bootstrap",
                      rd_kafka_mock_cluster_bootstraps(db->mc), "brokers", db->brokers);
        return MHD_HTTP_OK;
    }
    if (strcmp(url, "/fault") == 0 || strcmp(url, "/fault/clear") == 0) {
        if (!post)
            goto not_allowed;
        int16_t api;
        if (body == NULL || api_from_json(json_object_get(body, "api"), &api) < 0) {
            snprintf(msg, sizeof msg, "\"api\" must be an API name or number");
            goto bad;
        }
        if (strcmp(url, "/fault/clear") == 0) {
            rd_kafka_mock_clear_request_errors(db->mc, api);
            logf_stderr("cleared faults for api %d", api);
            goto ok;
        }
        rd_kafka_resp_err_t fault;
        if (error_from_json(json_object_get(body, "error"), &fault) < 0) {
            snprintf(msg, sizeof msg,
                     "\"error\" must be a librdkafka error name or code");
            goto bad;
        }
        int count = 1, broker = -1, rtt = 0;
        if (opt_int(body, "count", 1, 100000, &count) < 0 ||
            opt_int(body, "broker", 1, INT32_MAX, &broker) < 0 ||
            opt_int(body, "rtt_ms", 0, 600000, &rtt) < 0) {
            snprintf(msg, sizeof msg, "count 1..100000, broker >= 1, rtt_ms 0..600000");
            goto bad;
        }
        if (broker < 0) {
            rd_kafka_resp_err_t *errs = calloc((size_t)count, sizeof *errs);
            if (errs == NULL) {
                snprintf(msg, sizeof msg, "out of memory");
                goto bad;
            }
            for (int i = 0; i < count; i++)
                errs[i] = fault;
            rd_kafka_mock_push_request_errors_array(db->mc, api, (size_t)count, errs);
            free(errs);
        } else {
            for (int i = 0; i < count && e == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
                e = rd_kafka_mock_broker_push_request_error_rtts(db->mc, broker, api, 1,
                                                                 fault, rtt);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                goto kafka_error;
        }
        logf_stderr("injected %d x %s on api %d (broker %d)", count,
                    rd_kafka_err2name(fault), api, broker);
        goto ok;
    }
    if (strncmp(url, "/broker/", 8) == 0) {
        const char *what = url + 8;
        if (strcmp(what, "down") != 0 && strcmp(what, "up") != 0 &&
            strcmp(what, "rtt") != 0)
            goto not_found;
        if (!post)
            goto not_allowed;
        int broker = -1, rtt = -1;
        if (opt_int(body, "broker", 1, INT32_MAX, &broker) < 0 ||
            opt_int(body, "rtt_ms", 0, 600000, &rtt) < 0) {
            snprintf(msg, sizeof msg, "broker >= 1, rtt_ms 0..600000");
            goto bad;
        }
        if (strcmp(what, "down") == 0) {
            e = rd_kafka_mock_broker_set_down(db->mc, broker);
        } else if (strcmp(what, "up") == 0) {
            e = rd_kafka_mock_broker_set_up(db->mc, broker);
        } else {
            if (rtt < 0) {
                snprintf(msg, sizeof msg, "\"rtt_ms\" is required");
                goto bad;
            }
            e = rd_kafka_mock_broker_set_rtt(db->mc, broker, rtt);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            goto kafka_error;
        logf_stderr("broker %d %s", broker, what);
        goto ok;
    }

not_found:
    snprintf(msg, sizeof msg, "no route %s", url);
    *answer = json_pack("{s:s}", "error", msg);
    return MHD_HTTP_NOT_FOUND;
not_allowed:
    snprintf(msg, sizeof msg, "%s not allowed on %s", method, url);
    *answer = json_pack("{s:s}", "error", msg);
    return MHD_HTTP_METHOD_NOT_ALLOWED;
kafka_error:
    snprintf(msg, sizeof msg, "mock cluster: %s", rd_kafka_err2str(e));
bad:
    *answer = json_pack("{s:s}", "error", msg);
    return MHD_HTTP_BAD_REQUEST;
ok:
    *answer = json_pack("{s:b}", "ok", 1);
    return MHD_HTTP_OK;
}

/* Per-request state: the body read so far. */
typedef struct {
    char buf[BODY_MAX + 1];
    size_t len;
    bool too_large;
} request_body;

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status,
                                 json_t *answer)
{
    char *text = answer != NULL ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (text == NULL)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result control_handler(void *cls, struct MHD_Connection *conn,
                                       const char *url, const char *method,
                                       const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls)
{
    (void)version;
    devbroker *db = cls;
    request_body *rb = *con_cls;
    if (rb == NULL) {
        rb = calloc(1, sizeof *rb);
        if (rb == NULL)
            return MHD_NO;
        *con_cls = rb;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rb->len + *upload_data_size > BODY_MAX) {
            rb->too_large = true;
        } else {
            memcpy(rb->buf + rb->len, upload_data, *upload_data_size);
            rb->len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rb->too_large)
        return send_json(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                         json_pack("{s:s}", "error", "body over 4 KiB"));
    json_t *body = NULL;
    if (rb->len > 0) {
        json_error_t jerr;
        body = json_loadb(rb->buf, rb->len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            return send_json(conn, MHD_HTTP_BAD_REQUEST,
                             json_pack("{s:s}", "error", "body must be a JSON object"));
        }
    }
    json_t *answer = NULL;
    unsigned status = control_route(db, method, url, body, &answer);
    json_decref(body);
    return send_json(conn, status, answer);
}

static void control_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Frees a devbroker, also a half-built one. Accepts NULL. */
static void devbroker_free(devbroker *db)
{
    if (db == NULL)
        return;
    if (db->httpd != NULL)
        MHD_stop_daemon(db->httpd);
    if (db->mc != NULL)
        rd_kafka_mock_cluster_destroy(db->mc);
    if (db->rk != NULL)
        rd_kafka_destroy(db->rk);
    free(db);
}

/* Starts the cluster, its topics and the control server. Returns NULL with a
 * reason in err. */
static devbroker *devbroker_new(const devbroker_opts *o, char *err, size_t errlen)
{
    char errstr[256];
    devbroker *db = calloc(1, sizeof *db);
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->brokers = o->brokers;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (rd_kafka_conf_set(conf, "log_level", o->debug != NULL ? "7" : "4", errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK ||
        (o->debug != NULL && rd_kafka_conf_set(conf, "debug", o->debug, errstr,
                                               sizeof errstr) != RD_KAFKA_CONF_OK)) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "%s", errstr);
        goto fail;
    }
    db->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (db->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "rd_kafka_new: %s", errstr);
        goto fail;
    }
    db->mc = rd_kafka_mock_cluster_new(db->rk, o->brokers);
    if (db->mc == NULL) {
        snprintf(err, errlen, "could not create the mock cluster");
        goto fail;
    }
    int replicas = o->brokers < 3 ? o->brokers : 3;
    for (size_t i = 0; i < o->ntopics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
            db->mc, o->topics[i].name, o->topics[i].partitions, replicas);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "creating topic %s: %s", o->topics[i].name,
                     rd_kafka_err2str(e));
            goto fail;
        }
        logf_stderr("topic %s with %d partitions", o->topics[i].name,
                    o->topics[i].partitions);
    }

    if (o->control_port >= 0) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)o->control_port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        db->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                     (uint16_t)o->control_port, NULL, NULL,
                                     control_handler, db, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED,
                                     control_completed, NULL, MHD_OPTION_END);
        if (db->httpd == NULL) {
            snprintf(err, errlen, "could not listen on 127.0.0.1:%d for control",
                     o->control_port);
            goto fail;
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(db->httpd, MHD_DAEMON_INFO_BIND_PORT);
        db->control_port = info != NULL ? info->port : (unsigned)o->control_port;
        logf_stderr("control server on 127.0.0.1:%u", db->control_port);
    }
    return db;
fail:
    devbroker_free(db);
    return NULL;
}

/* Writes "BOOTSTRAP=<list>\n" to path through a temporary file and a rename,
 * so a reader never sees a partial line. Returns 0, or -1. */
static int write_bootstrap_file(const char *path, const char *bootstrap)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int rc = fprintf(f, "BOOTSTRAP=%s\n", bootstrap) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static void usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "Usage: %s [options]\n"
        "In-memory Kafka-protocol broker for development and tests (librdkafka mock\n"
        "cluster). Prints one line BOOTSTRAP=<host:port,...> on stdout, then runs until\n"
        "SIGTERM/SIGINT. Loopback only; nothing persisted; at most 5 MiB or 100000\n"
        "batches kept per partition (oldest dropped; not configurable in librdkafka\n"
        "2.0.2). Broker ports are chosen by the kernel.\n"
        "\n"
        "Options:\n"
        "  --brokers N            brokers in the cluster (default 1)\n"
        "  --partitions N         partitions of the three homestream topics (default 3)\n"
        "  --topic NAME:PARTS     create another topic (repeatable)\n"
        "  --bootstrap-file PATH  also write the BOOTSTRAP= line to PATH\n"
        "  --control-port PORT    fault-injection HTTP server on 127.0.0.1:PORT\n"
        "                         (0: any free port, reported on stderr)\n"
        "  --debug CONTEXTS       librdkafka debug contexts, e.g. mock,protocol\n"
        "  --help                 this text\n"
        "\n"
        "Environment: TOPIC_RAW [ha.events.raw], TOPIC_ENRICHED [ha.events.enriched],\n"
        "TOPIC_DLQ [ha.events.dlq] name the three topics.\n"
        "\n"
        "Control routes (JSON bodies, JSON answers):\n"
        "  GET  /health\n"
        "  POST /fault        "
        "{\"api\":\"Produce\",\"error\":\"NOT_LEADER_FOR_PARTITION\",\n"
        "                      \"count\":N[,\"broker\":ID,\"rtt_ms\":MS]}\n"
        "  POST /fault/clear  {\"api\":\"Produce\"}\n"
        "  POST /broker/down  [{\"broker\":ID}]   (default: all brokers)\n"
        "  POST /broker/up    [{\"broker\":ID}]\n"
        "  POST /broker/rtt   {\"rtt_ms\":MS[,\"broker\":ID]}\n"
        "Example: curl -d '{\"api\":\"Produce\",\"error\":\"_TRANSPORT\",\"count\":3}' "
        "\\\n"
        "           http://127.0.0.1:PORT/fault\n",
        prog);
}

/* Adds a topic unless one of that name is there already (the later
 * definition wins). Returns 0, or -1 when the table is full. */
static int add_topic(devbroker_opts *o, const char *name, int partitions)
{
    for (size_t i = 0; i < o->ntopics; i++) {
        if (strcmp(o->topics[i].name, name) == 0) {
            o->topics[i].partitions = partitions;
            return 0;
        }
    }
    if (o->ntopics == MAX_TOPICS)
        return -1;
    o->topics[o->ntopics].name = name;
    o->topics[o->ntopics].partitions = partitions;
    o->ntopics++;
    return 0;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

int main(int argc, char **argv)
{
    enum {
        OPT_BROKERS = 1,
        OPT_PARTITIONS,
        OPT_TOPIC,
        OPT_FILE,
        OPT_CONTROL,
        OPT_DEBUG,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"bootstrap-file", required_argument, NULL, OPT_FILE},
        {"control-port", required_argument, NULL, OPT_CONTROL},
        {"debug", required_argument, NULL, OPT_DEBUG},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    devbroker_opts o = {.brokers = 1, .partitions = 3, .control_port = -1};
    /* Extra topics are kept as "NAME:PARTS" arguments and split after the
     * defaults are known, so --partitions may come after --topic. */
    char *extra[MAX_TOPICS];
    size_t nextra = 0;
    int rc = 1;

    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BROKERS:
            if (parse_int(optarg, 1, 16, &o.brokers) < 0) {
                logf_stderr("--brokers must be 1..16");
                return 2;
            }
            break;
        case OPT_PARTITIONS:
            if (parse_int(optarg, 1, 1000, &o.partitions) < 0) {
                logf_stderr("--partitions must be 1..1000");
                return 2;
            }
            break;
        case OPT_TOPIC:
            if (nextra == MAX_TOPICS - 3) {
                logf_stderr("too many --topic options");
                return 2;
            }
            extra[nextra++] = optarg;
            break;
        case OPT_FILE:
            o.bootstrap_file = optarg;
            break;
        case OPT_CONTROL:
            if (parse_int(optarg, 0, 65535, &o.control_port) < 0) {
                logf_stderr("--control-port must be 0..65535");
                return 2;
            }
            break;
        case OPT_DEBUG:
            o.debug = optarg;
            break;
        case OPT_HELP:
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        logf_stderr("unexpected argument %s", argv[optind]);
        return 2;
    }

    add_topic(&o, env_or("TOPIC_RAW", "ha.events.raw"), o.partitions);
    add_topic(&o, env_or("TOPIC_ENRICHED", "ha.events.enriched"), o.partitions);
    add_topic(&o, env_or("TOPIC_DLQ", "ha.events.dlq"), o.partitions);
    for (size_t i = 0; i < nextra; i++) {
        char *colon = strrchr(extra[i], ':');
        int parts;
        if (colon == NULL || colon == extra[i] ||
            parse_int(colon + 1, 1, 1000, &parts) < 0) {
            logf_stderr("--topic wants NAME:PARTS with PARTS 1..1000, not %s", extra[i]);
            return 2;
        }
        *colon = '\0';
        add_topic(&o, extra[i], parts);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    devbroker *db = devbroker_new(&o, err, sizeof err);
    if (db == NULL) {
        logf_stderr("%s", err);
        return 1;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(db->mc);
    if (o.bootstrap_file != NULL &&
        write_bootstrap_file(o.bootstrap_file, bootstrap) < 0) {
        logf_stderr("cannot write %s: %s", o.bootstrap_file, strerror(errno));
        goto out;
    }
    if (printf("BOOTSTRAP=%s\n", bootstrap) < 0 || fflush(stdout) != 0) {
        logf_stderr("cannot write to stdout");
        goto out;
    }
    logf_stderr("running with %d broker(s) at %s", o.brokers, bootstrap);

    while (!stop_requested)
        rd_kafka_poll(db->rk, 100);
    logf_stderr("stopping");
    rc = 0;
out:
    devbroker_free(db);
    return rc;
}
