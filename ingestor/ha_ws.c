/* ha_ws.c - one WebSocket client connection to Home Assistant (libwebsockets). */
#include "ha_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "ha_stream.h"
#include "hs_log.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} out_msg;

/* Descriptors the lws context may use (see ha_ws_new). */
#define WS_FD_LIMIT 16

struct ha_ws {
    ha_ws_cbs cbs;
    ha_url url;
    bool tls_insecure;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    struct lws *wsi;
    bool active;  /* an attempt or connection exists */
    bool open;    /* handshake completed */
    bool closing; /* ha_ws_close() asked for it */

    ha_stream *rx; /* reads the incoming messages */
    unsigned long long rx_bytes;

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
    ha_stream_reset(ws->rx);
    out_clear(ws);
    ws->cbs.closed(ws->cbs.ud, reason);
}

/* --- what ha_stream finds, passed on ------------------------------------ */

static void rx_frame(void *ud, const char *buf, size_t len)
{
    ha_ws *ws = ud;
    ws->cbs.message(ws->cbs.ud, buf, len);
}

static void rx_oversize(void *ud, size_t size, const char *prefix, size_t prefix_len)
{
    ha_ws *ws = ud;
    ws->cbs.oversize(ws->cbs.ud, size, prefix, prefix_len);
}

static void rx_malformed(void *ud, const char *reason, const char *text, size_t len)
{
    ha_ws *ws = ud;
    if (ws->cbs.malformed != NULL)
        ws->cbs.malformed(ws->cbs.ud, reason, text, len);
    else
        hs_warn("ws", "unusable frame from the server: %s", reason);
}

static bool rx_wants_elements(void *ud, int64_t id)
{
    ha_ws *ws = ud;
    return ws->cbs.wants_elements != NULL && ws->cbs.wants_elements(ws->cbs.ud, id);
}

static void rx_element(void *ud, int64_t id, const char *text, size_t len)
{
    ha_ws *ws = ud;
    ws->cbs.element(ws->cbs.ud, id, text, len);
}

static void rx_element_oversize(void *ud, int64_t id, size_t size, const char *prefix,
                                size_t prefix_len)
{
    ha_ws *ws = ud;
    ws->cbs.element_oversize(ws->cbs.ud, id, size, prefix, prefix_len);
}

static void rx_elements_end(void *ud, int64_t id, const char *error)
{
    ha_ws *ws = ud;
    ws->cbs.elements_end(ws->cbs.ud, id, error);
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
        ws->rx_bytes += len;
        if (ha_stream_feed(ws->rx, in, len) != 0) {
            hs_error("ws", "out of memory reading a message");
            ha_stream_reset(ws->rx);
            return -1;
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0 &&
            ha_stream_end(ws->rx) != 0) {
            hs_error("ws", "out of memory reading a message");
            return -1;
        }
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
    ha_stream_opts so = {opts->stream_threshold, opts->max_message};
    ha_stream_cbs sc = {
        .frame = rx_frame,
        .oversize = rx_oversize,
        .malformed = rx_malformed,
        .wants_elements = cbs->wants_elements != NULL ? rx_wants_elements : NULL,
        .element = rx_element,
        .element_oversize = rx_element_oversize,
        .elements_end = rx_elements_end,
        .ud = ws,
    };
    ws->rx = ha_stream_new(&so, &sc);
    if (ws->rx == NULL) {
        snprintf(err, errlen, "out of memory");
        free(ws);
        return NULL;
    }

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
    /* lws sizes its fd tables by the process's fd limit unless told (16
     * bytes per fd: 16 MiB resident under Docker's usual limit of 1048576);
     * one connection to HA needs a few: the socket, lws's cancel pipe, a
     * second socket while a reconnect replaces the first. */
    info.fd_limit_per_thread = WS_FD_LIMIT;
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
    ha_stream_free(ws->rx);
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
    ha_stream_reset(ws->rx);
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

unsigned long long ha_ws_received_bytes(const ha_ws *ws)
{
    return ws->rx_bytes;
}

void ha_ws_trim(ha_ws *ws)
{
    ha_stream_trim(ws->rx);
}
