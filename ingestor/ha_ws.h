/* ha_ws.h - one WebSocket client connection to Home Assistant (libwebsockets).
 *
 * Owns an lws context with one client connection at a time. Incoming
 * fragments go through an ha_stream (ha_stream.h): a message up to
 * stream_threshold bytes is handed over whole; a longer one is read as it
 * arrives, each message of it handed over on its own (up to max_message
 * bytes), and the elements of a result the owner wants streamed
 * (wants_elements) one by one. Outgoing text frames are queued and written
 * when the socket is writable, so no call ever blocks on the network.
 * Single-threaded: every function and callback runs on the caller's thread,
 * inside ha_ws_service(). Callbacks must not call ha_ws_connect() or
 * ha_ws_free(); they may call ha_ws_send() and ha_ws_close(). */
#ifndef INGESTOR_HA_WS_H
#define INGESTOR_HA_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ha_url.h"

typedef struct {
    /* The WebSocket handshake completed. Required. */
    void (*opened)(void *ud);
    /* One complete message; buf is valid during the call. Required. */
    void (*message)(void *ud, const char *buf, size_t len);
    /* A message larger than max_message was skipped; prefix holds its first
     * bytes. Required. */
    void (*oversize)(void *ud, size_t size, const char *prefix, size_t prefix_len);
    /* The connection attempt failed or the connection ended; called exactly
     * once per ha_ws_connect(). reason is valid during the call. Required. */
    void (*closed)(void *ud, const char *reason);
    void *ud;
    /* Optional: a frame over the threshold that is not well formed
     * (see ha_stream_cbs.malformed; when NULL it is logged), and the
     * streaming of results (see ha_stream_cbs; when wants_elements is NULL
     * no result is streamed). */
    void (*malformed)(void *ud, const char *reason, const char *text, size_t len);
    bool (*wants_elements)(void *ud, int64_t id);
    void (*element)(void *ud, int64_t id, const char *text, size_t len);
    void (*element_oversize)(void *ud, int64_t id, size_t size, const char *prefix,
                             size_t prefix_len);
    void (*elements_end)(void *ud, int64_t id, const char *error);
} ha_ws_cbs;

typedef struct {
    ha_url url;          /* where to connect */
    const char *ca_file; /* PEM bundle for wss://, NULL for the system's */
    bool tls_insecure;   /* accept self-signed/expired certificates, any name */
    size_t max_message;  /* bytes; default 64 MiB when 0 */
    size_t stream_threshold; /* bytes; default 1 MiB when 0 */
} ha_ws_opts;

typedef struct ha_ws ha_ws;

/* Creates the lws context. Returns NULL with a reason in err. */
ha_ws *ha_ws_new(const ha_ws_opts *opts, const ha_ws_cbs *cbs, char *err, size_t errlen);
/* Closes any connection without calling back and frees everything. Accepts
 * NULL. */
void ha_ws_free(ha_ws *ws);

/* Starts a connection attempt; its outcome arrives as opened or closed.
 * Returns 0, or -1 when an attempt or connection is already active. */
int ha_ws_connect(ha_ws *ws);

/* Queues one text frame (copied). Returns 0, or -1 when not connected or
 * out of memory. */
int ha_ws_send(ha_ws *ws, const char *text, size_t len);

/* Closes the current connection; closed follows from ha_ws_service(). */
void ha_ws_close(ha_ws *ws);

/* Services the network once, waiting at most max_wait_ms for activity.
 * Returns 0, or -1 when lws failed. */
int ha_ws_service(ha_ws *ws, int max_wait_ms);

/* true between opened and closed. */
bool ha_ws_is_open(const ha_ws *ws);
/* true from ha_ws_connect() until closed. */
bool ha_ws_is_active(const ha_ws *ws);
/* Bytes queued for sending. */
size_t ha_ws_queued_bytes(const ha_ws *ws);
/* Bytes received so far, over every connection (it only grows). */
unsigned long long ha_ws_received_bytes(const ha_ws *ws);
/* Frees the buffers kept for the next incoming message, when none is being
 * read (ha_stream_trim); for a connection gone quiet. */
void ha_ws_trim(ha_ws *ws);

#endif
