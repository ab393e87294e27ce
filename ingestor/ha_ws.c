/* ha_ws.c - one WebSocket client connection to Home Assistant (libwebsockets). */
#include "ha_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "hs_log.h"

#define DEFAULT_MAX_MESSAGE (64u * 1024 * 1024)
#define OVERSIZE_PREFIX 4096
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} out_msg;

struct ha_ws {
    ha_ws_cbs cbs;
    ha_url url;
    bool tls_insecure;
    size_t max_message;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    struct lws *wsi;
    bool active;  /* an attempt or connection exists */
    bool open;    /* handshake completed */
    bool closing; /* ha_ws_close() asked for it */

    char *rx; /* message being reassembled */
    size_t rx_len, rx_cap;
    bool rx_skip; /* the current message is over max_message */
    size_t rx_skipped;

    out_msg *out_head, *out_tail;
    size_t out_bytes;
    lws_sorted_usec_list_t wake; /* bounds the wait of ha_ws_service() */
};

static void lws_log_emit(int level, const char *line)
{
    char msg[512];
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    snprintf(msg, sizeof(msg), "%.*s", (int)n, line);
    if (level & LLL_ERR)
        hs_warn("lws", "%s", msg);
    else
        hs_debug("lws", "%s", msg);
}

static void out_clear(ha_ws *ws)
{
    while (ws->out_head != NULL) {
        out_msg *m = ws->out_head;
        ws->out_head = m->next;
        free(m);
    }
    ws->out_tail = NULL;
    ws->out_bytes = 0;
}

/* Ends the current attempt: resets the connection state and reports once. */
static void finish(ha_ws *ws, const char *reason)
{
    if (!ws->active)
        return;
    ws->active = false;
    ws->open = false;
    ws->closing = false;
    ws->wsi = NULL;
    ws->rx_len = 0;
    ws->rx_skip = false;
    out_clear(ws);
    ws->cbs.closed(ws->cbs.ud, reason);
}

static int rx_append(ha_ws *ws, const void *in, size_t len)
{
    if (ws->rx_skip) {
        ws->rx_skipped += len;
        return 0;
    }
    if (ws->rx_len + len > ws->max_message) {
        ws->rx_skip = true;
        ws->rx_skipped = ws->rx_len + len;
        if (ws->rx_len < OVERSIZE_PREFIX && len > 0) {
            size_t take = OVERSIZE_PREFIX - ws->rx_len;
            if (take > len)
                take = len;
            if (ws->rx_len + take <= ws->rx_cap) {
                memcpy(ws->rx + ws->rx_len, in, take);
                ws->rx_len += take;
            }
        }
        return 0;
    }
    if (ws->rx_len + len + 1 > ws->rx_cap) {
        size_t cap = ws->rx_cap ? ws->rx_cap : 65536;
        while (cap < ws->rx_len + len + 1)
            cap *= 2;
        char *p = realloc(ws->rx, cap);
        if (p == NULL)
            return -1;
        ws->rx = p;
        ws->rx_cap = cap;
    }
    memcpy(ws->rx + ws->rx_len, in, len);
    ws->rx_len += len;
    return 0;
}

static void rx_deliver(ha_ws *ws)
{
    if (ws->rx_skip) {
        size_t prefix = ws->rx_len < OVERSIZE_PREFIX ? ws->rx_len : OVERSIZE_PREFIX;
        ws->cbs.oversize(ws->cbs.ud, ws->rx_skipped, ws->rx, prefix);
    } else {
        ws->rx[ws->rx_len] = '\0';
        ws->cbs.message(ws->cbs.ud, ws->rx, ws->rx_len);
    }
    ws->rx_len = 0;
    ws->rx_skip = false;
    ws->rx_skipped = 0;
    /* Give back the memory of a huge message (get_states, history). */
    if (ws->rx_cap > 4u * 1024 * 1024) {
        free(ws->rx);
        ws->rx = NULL;
        ws->rx_cap = 0;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    ha_ws *ws = ctx != NULL ? lws_context_user(ctx) : NULL;
    (void)user;
    if (ws == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[256];
        snprintf(why, sizeof(why), "connection failed: %s",
                 in != NULL && len > 0 ? (const char *)in : "unknown error");
        if (ws->wsi == wsi || ws->wsi == NULL)
            finish(ws, why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (ws->wsi != wsi)
            return -1;
        ws->open = true;
        ws->cbs.opened(ws->cbs.ud);
        if (ws->out_head != NULL)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (ws->wsi != wsi || ws->closing)
            return 0;
        if (rx_append(ws, in, len) != 0) {
            hs_error("ws", "out of memory reassembling a %zu byte message",
                     ws->rx_len + len);
            return -1;
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
            rx_deliver(ws);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (ws->wsi != wsi)
            return -1;
        if (ws->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        out_msg *m = ws->out_head;
        if (m == NULL)
            return 0;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < 0 || (size_t)n < m->len) {
            hs_warn("ws", "write of a %zu byte frame failed", m->len);
            return -1;
        }
        ws->out_head = m->next;
        if (ws->out_head == NULL)
            ws->out_tail = NULL;
        ws->out_bytes -= m->len;
        free(m);
        if (ws->out_head != NULL)
            lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (ws->wsi == wsi)
            finish(ws, ws->closing ? "closed by us" : "connection closed");
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ws->wsi == wsi && in != NULL && len >= 2) {
            const unsigned char *p = in;
            hs_info("ws", "server closed the connection with code %u",
                    (unsigned)(p[0] << 8 | p[1]));
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (ws->wsi == wsi)
            finish(ws, "connection lost");
        return 0;
    default:
        break;
    }
    return 0;
}

ha_ws *ha_ws_new(const ha_ws_opts *opts, const ha_ws_cbs *cbs, char *err, size_t errlen)
{
    ha_ws *ws = calloc(1, sizeof(*ws));
    if (ws == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ws->cbs = *cbs;
    ws->url = opts->url;
    ws->tls_insecure = opts->tls_insecure;
    ws->max_message = opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    ws->protocols[0].name = "homestream-ha";
    ws->protocols[0].callback = callback;
    ws->protocols[0].rx_buffer_size = 65536;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws->protocols;
    info.user = ws;
    info.gid = -1;
    info.uid = -1;
    /* Read up to 256 KiB per service round instead of lws's default 4 KiB:
     * a coalesced flood then costs far fewer poll rounds. */
    info.pt_serv_buf_size = 256 * 1024;
    if (ws->url.tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        if (opts->ca_file != NULL && *opts->ca_file != '\0')
            info.client_ssl_ca_filepath = opts->ca_file;
        else if (access(SYSTEM_CA_BUNDLE, R_OK) == 0)
            info.client_ssl_ca_filepath = SYSTEM_CA_BUNDLE;
    }
    ws->ctx = lws_create_context(&info);
    if (ws->ctx == NULL) {
        snprintf(err, errlen, "cannot create the libwebsockets context");
        ha_ws_free(ws);
        return NULL;
    }
    return ws;
}

void ha_ws_free(ha_ws *ws)
{
    if (ws == NULL)
        return;
    if (ws->ctx != NULL) {
        lws_sul_cancel(&ws->wake);
        /* No callbacks into the owner while tearing down. */
        ws->active = false;
        lws_context_destroy(ws->ctx);
    }
    out_clear(ws);
    free(ws->rx);
    free(ws);
}

int ha_ws_connect(ha_ws *ws)
{
    if (ws->active)
        return -1;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = ws->ctx;
    i.address = ws->url.host;
    i.port = ws->url.port;
    i.path = ws->url.path;
    i.host = ws->url.host_header;
    i.origin = ws->url.host_header;
    i.local_protocol_name = ws->protocols[0].name;
    i.pwsi = &ws->wsi;
    i.alpn = "http/1.1";
    if (ws->url.tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (ws->tls_insecure)
            i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                                LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                LCCSCF_ALLOW_EXPIRED;
    }
    ws->active = true;
    ws->open = false;
    ws->closing = false;
    ws->rx_len = 0;
    ws->rx_skip = false;
    if (lws_client_connect_via_info(&i) == NULL) {
        /* lws may have reported the error through the callback already;
         * finish() reports only once either way. */
        finish(ws, "connection failed: cannot start the connection");
    }
    return 0;
}

int ha_ws_send(ha_ws *ws, const char *text, size_t len)
{
    if (!ws->active || ws->closing)
        return -1;
    out_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (m == NULL)
        return -1;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (ws->out_tail != NULL)
        ws->out_tail->next = m;
    else
        ws->out_head = m;
    ws->out_tail = m;
    ws->out_bytes += len;
    if (ws->open && ws->wsi != NULL)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

void ha_ws_close(ha_ws *ws)
{
    if (!ws->active || ws->closing)
        return;
    ws->closing = true;
    if (ws->wsi != NULL && ws->open)
        lws_callback_on_writable(ws->wsi);
    else if (ws->wsi != NULL)
        lws_set_timeout(ws->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static void wake_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

int ha_ws_service(ha_ws *ws, int max_wait_ms)
{
    if (max_wait_ms < 0)
        max_wait_ms = 0;
    lws_sul_schedule(ws->ctx, 0, &ws->wake, wake_cb,
                     (lws_usec_t)max_wait_ms * LWS_US_PER_MS);
    int rc = lws_service(ws->ctx, 0);
    lws_sul_cancel(&ws->wake);
    return rc < 0 ? -1 : 0;
}

bool ha_ws_is_open(const ha_ws *ws)
{
    return ws->open;
}

bool ha_ws_is_active(const ha_ws *ws)
{
    return ws->active;
}

size_t ha_ws_queued_bytes(const ha_ws *ws)
{
    return ws->out_bytes;
}
