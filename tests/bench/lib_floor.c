/* lib_floor.c - homestream-lib-floor: the resident memory that a stage's
 * libraries take before the stage does any work of its own, for the idle
 * memory figures of e2e_bench.py.
 *
 *   homestream-lib-floor-ingestor BROKERS
 *   homestream-lib-floor-enricher BROKERS
 *   homestream-lib-floor-writer BROKERS
 *
 * Each of the three is built from this file for one stage (FLOOR_STAGE) and
 * links the same shared libraries as that stage, and it sets up what the
 * stage sets up at start, no more: malloc tuned as
 * hs_mem_tune does; the stage's Kafka clients, made by the same hs_kafka
 * functions on the same topics (in a group of its own), connected to BROKERS; a
 * libmicrohttpd daemon on a free loopback port with the admin server's
 * flags; for the ingestor a libwebsockets client context with ha_ws's
 * settings (FLOOR_LWS); for the writer libcurl with one easy handle
 * (FLOOR_CURL; the enricher links libcurl, FLOOR_LINK_CURL, but sets it up
 * only to fetch weather or presence over HTTP, which the benchmark's does
 * not). No
 * message is produced or consumed and no request served.
 *
 * Once set up it waits 1 s (the Kafka clients connect, their threads start)
 * and prints "READY=1"; it then runs until SIGTERM/SIGINT and exits 0. Exit
 * 1 when something cannot be set up. e2e_bench.py reads its VmRSS and sets
 * it beside the stage's own idle VmRSS: the difference is what the stage's
 * own code and data hold. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <math.h>
#include <zlib.h>
#if defined(FLOOR_LINK_CURL)
#include <curl/curl.h>
#endif
#if defined(FLOOR_LWS)
#include <libwebsockets.h>
#endif

#include "hs_kafka.h"
#include "hs_mem.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)con_cls;
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return rc;
}

#if defined(FLOOR_LWS)
static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)wsi, (void)reason, (void)user, (void)in, (void)len;
    return 0;
}
#endif

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk, (void)msg, (void)opaque;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: homestream-lib-floor-%s BROKERS\n", FLOOR_STAGE);
        return 1;
    }
    const char *brokers = argv[1];
    bool ingestor = strcmp(FLOOR_STAGE, "ingestor") == 0;
    bool writer = strcmp(FLOOR_STAGE, "writer") == 0;
    hs_mem_tune();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "lib-floor %s: jansson %s, librdkafka %s\n", FLOOR_STAGE,
            jansson_version_str(), rd_kafka_version_str());
    /* The stage links libraries it sets up only on demand (libm, zlib, and
     * libcurl in the enricher); a reference to one function of each keeps
     * them linked here too (meson links with --as-needed), so their
     * constructors run as in the stage, without calling them. */
    void (*volatile keep[])(void) = {
        (void (*)(void))nextafter, (void (*)(void))zlibVersion,
#if defined(FLOOR_LINK_CURL)
        (void (*)(void))curl_easy_init,
#endif
    };
    (void)keep;

    char err[256] = "";
    rd_kafka_t *producer = hs_kafka_producer_new(brokers, dr, NULL, NULL, err, sizeof err);
    rd_kafka_t *consumer = NULL;
    if (producer != NULL && !ingestor) {
        const char *group = writer ? "homestream-lib-floor-writer" : "homestream-lib-floor-enricher";
        const char *topic = writer ? "ha.events.enriched" : "ha.events.raw";
        consumer = hs_kafka_consumer_new(brokers, group, topic, NULL, err, sizeof err);
    }
    if (producer == NULL || (!ingestor && consumer == NULL)) {
        fprintf(stderr, "lib-floor: kafka: %s\n", err);
        return 1;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *mhd =
        MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         answer, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    if (mhd == NULL) {
        fprintf(stderr, "lib-floor: libmicrohttpd did not start\n");
        return 1;
    }

#if defined(FLOOR_LWS)
    static struct lws_protocols protocols[2] = {{"homestream-floor", lws_cb, 0, 65536, 0,
                                                 NULL, 0}};
    struct lws_context *lws = NULL;
    {
        lws_set_log_level(LLL_ERR, NULL);
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = protocols;
        info.gid = -1;
        info.uid = -1;
        info.pt_serv_buf_size = 256 * 1024;
        info.fd_limit_per_thread = 16;
        lws = lws_create_context(&info);
        if (lws == NULL) {
            fprintf(stderr, "lib-floor: libwebsockets context failed\n");
            return 1;
        }
    }
#endif
#if defined(FLOOR_CURL)
    CURL *curl = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "lib-floor: libcurl failed\n");
        return 1;
    }
#endif

    for (int round = 0; !stop_flag; round++) {
        if (round == 10) {
            printf("READY=1\n");
            fflush(stdout);
        }
        rd_kafka_poll(producer, 100);
        if (consumer != NULL) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 0);
            if (m != NULL)
                rd_kafka_message_destroy(m);
        }
#if defined(FLOOR_LWS)
        lws_service(lws, -1);
#endif
    }

#if defined(FLOOR_CURL)
    curl_easy_cleanup(curl);
    curl_global_cleanup();
#endif
#if defined(FLOOR_LWS)
    lws_context_destroy(lws);
#endif
    MHD_stop_daemon(mhd);
    hs_kafka_consumer_close(consumer);
    hs_kafka_producer_close(producer, 1000);
    return 0;
}
