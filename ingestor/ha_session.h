/* ha_session.h - the client side of one Home Assistant WebSocket connection.
 *
 * A pure state machine: the owner feeds it complete text frames and the
 * clock, and it answers through callbacks (frames to send, events, command
 * results, frames it could not use). It authenticates when the server sends
 * auth_required, then asks for coalesce_messages and subscribes to the
 * configured event types (all events when there are none). Message ids
 * start at 1 on every connection and strictly increase. Once authenticated
 * it sends {"type":"ping"} every ping_interval_ms and declares the
 * connection dead when a pong is pong_timeout_ms late; an auth exchange
 * that does not finish within pong_timeout_ms is dead as well. */
#ifndef INGESTOR_HA_SESSION_H
#define INGESTOR_HA_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ha_proto.h"

typedef enum {
    HA_SESS_IDLE = 0,  /* no connection */
    HA_SESS_AUTH_WAIT, /* connected, authentication under way */
    HA_SESS_READY,     /* authenticated and subscribed (or subscribing) */
} ha_session_state;

/* Tags the session gives to results of its own commands; the owner's tags
 * must be positive. */
enum {
    HA_TAG_UNKNOWN = 0,    /* a result for an id the session did not send */
    HA_TAG_FEATURES = -1,  /* supported_features */
    HA_TAG_SUBSCRIBE = -2, /* subscribe_events */
};

/* Return values of ha_session_on_frame() and ha_session_tick(). */
enum {
    HA_SESSION_OK = 0,
    HA_SESSION_DEAD = -1,         /* close and reconnect */
    HA_SESSION_AUTH_INVALID = -2, /* the server refused the token */
};

typedef struct {
    /* Sends one text frame; text is only valid during the call. Returns 0,
     * or -1 when the frame could not be queued (the connection is then
     * considered dead). Required. */
    int (*send)(void *ud, const char *text, size_t len);
    /* Authentication succeeded; feature and subscribe requests are out.
     * Optional. */
    void (*ready)(void *ud, const char *ha_version);
    /* An event of one of our subscriptions; event is borrowed for the call.
     * tag is HA_TAG_SUBSCRIBE for the configured event types, or the owner's
     * tag of a "subscribe_events" command it sent. Required. */
    void (*event)(void *ud, int tag, const json_t *event);
    /* The same event as its text (the message's "event" object, valid JSON,
     * n bytes, valid during the call), offered first. Returns 0 when it
     * took the event, or -1 to have it parsed and passed to event instead.
     * Optional: when set, the session reads a frame of such events without
     * building its JSON tree (see ha_session_on_frame). */
    int (*event_text)(void *ud, int tag, const char *text, size_t n);
    /* The result of a command: tag is the owner's tag from
     * ha_session_command(), or one of HA_TAG_*. msg is borrowed. Optional. */
    void (*result)(void *ud, int64_t id, int tag, const ha_msg *msg);
    /* Something the session could not use: a frame that is not JSON, or an
     * element of the wrong shape. payload is the offending text (the whole
     * frame, or the element re-serialised), valid during the call.
     * Required: nothing may be dropped silently. */
    void (*invalid)(void *ud, const char *reason, const char *payload, size_t len);
    void *ud;
} ha_session_cbs;

typedef struct {
    const char *token;              /* access token, copied */
    const char *const *event_types; /* copied; NULL or empty: all events */
    size_t n_event_types;
    int64_t ping_interval_ms; /* default 30000 when <= 0 */
    int64_t pong_timeout_ms;  /* default 15000 when <= 0 */
} ha_session_opts;

typedef struct ha_session ha_session;

/* Returns NULL when out of memory. */
ha_session *ha_session_new(const ha_session_opts *opts, const ha_session_cbs *cbs);
/* Accepts NULL. Wipes the token copy. */
void ha_session_free(ha_session *s);

/* A connection has been established: the session waits for auth_required.
 * Resets ids and pending commands. */
void ha_session_start(ha_session *s, int64_t now_ms);

/* The connection is gone: back to idle. */
void ha_session_stop(ha_session *s);

/* Handles one complete frame. Returns HA_SESSION_OK, HA_SESSION_DEAD or
 * HA_SESSION_AUTH_INVALID (then *auth_message, when not NULL, points to the
 * server's message until the next call, or NULL).
 *
 * Once authenticated, with event_text set, a frame that hs_jscan validates
 * whole and that holds no "\u0000" escape is read element by element
 * without a JSON tree: each event of a subscription goes to event_text,
 * every other element is parsed alone and handled as in a tree of the whole
 * frame (an element that is not an object is reported invalid with its
 * text as HA sent it). Any other frame is parsed whole, as before. Both ways
 * handle the same elements in the same order with the same outcome. */
int ha_session_on_frame(ha_session *s, const char *buf, size_t len, int64_t now_ms,
                        const char **auth_message);

/* Drives the timers: sends pings, checks the pong and auth deadlines.
 * Returns HA_SESSION_OK or HA_SESSION_DEAD. */
int ha_session_tick(ha_session *s, int64_t now_ms);

/* Milliseconds until ha_session_tick() has something to do (at most
 * ping_interval_ms; 0 when overdue). */
int64_t ha_session_next_tick_in(const ha_session *s, int64_t now_ms);

/* Sends a command {"id":…,"type":type,…fields} once ready; its result comes
 * back through cbs->result with tag (> 0). Returns the id, or -1 when not
 * ready or the send failed. fields is borrowed and may be NULL. */
int64_t ha_session_command(ha_session *s, const char *type, const json_t *fields,
                           int tag);

/* As ha_session_command() for a prepared text whose "id" is given by
 * build(id, ud) (NULL: out of memory). Used for messages with their own
 * builders (history). */
int64_t ha_session_command_built(ha_session *s, char *(*build)(int64_t id, void *ud),
                                 void *ud, int tag);

/* The owner's tag of command id while its result is awaited (a tag > 0),
 * else HA_TAG_UNKNOWN. Lets the owner decide how to read a result before it
 * has arrived whole. */
int ha_session_pending_tag(const ha_session *s, int64_t id);

/* The owner read the result of command id itself (streamed element by
 * element, never passed to ha_session_on_frame): the command is done.
 * Returns its tag (> 0), or HA_TAG_UNKNOWN when id was not awaited. */
int ha_session_take_result(ha_session *s, int64_t id);

ha_session_state ha_session_get_state(const ha_session *s);
const char *ha_session_state_name(ha_session_state state);

/* The id the next command will carry. */
int64_t ha_session_next_id(const ha_session *s);

#endif
