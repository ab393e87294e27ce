/* ha_proto.h - Home Assistant WebSocket API messages (pure, no I/O).
 *
 * Builds the client's messages (auth, supported_features, subscribe_events,
 * ping, get_states, registry lists, history) as JSON text, and parses what
 * the server sends: one frame is a JSON object, or with coalesce_messages an
 * array of objects, each one typed message. */
#ifndef INGESTOR_HA_PROTO_H
#define INGESTOR_HA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum {
    HA_MSG_AUTH_REQUIRED = 0,
    HA_MSG_AUTH_OK,
    HA_MSG_AUTH_INVALID,
    HA_MSG_RESULT,
    HA_MSG_EVENT,
    HA_MSG_PONG,
    HA_MSG_INVALID, /* an element that is not a message we understand */
} ha_msg_type;

/* One message of a frame. Every pointer borrows from the frame's root and
 * lives until ha_frame_fini(). */
typedef struct {
    ha_msg_type type;
    int64_t id;                 /* the message id, -1 when the message has none */
    bool success;               /* result: the "success" member */
    const json_t *obj;          /* the whole element (object or not) */
    const json_t *event;        /* event: the "event" member */
    const json_t *result;       /* result: the "result" member, NULL when absent */
    const char *error_code;     /* failed result: error.code, else NULL */
    const char *message;        /* failed result: error.message; auth_invalid: message */
    const char *ha_version;     /* auth_required / auth_ok, NULL when absent */
    const char *invalid_reason; /* HA_MSG_INVALID: why (static text) */
} ha_msg;

typedef struct {
    json_t *root; /* the parsed frame, owned */
    ha_msg *msgs; /* owned array of n messages, in frame order */
    size_t n;
} ha_frame;

/* Parses one complete WebSocket text frame. Returns 0 with f filled (an
 * empty array gives n == 0), or -1 with a reason in err when the frame is
 * not JSON or is neither an object nor an array; then f is empty. Elements
 * of the wrong shape do not fail the frame: they come back as
 * HA_MSG_INVALID with a reason. Release f with ha_frame_fini() either way. */
int ha_frame_parse(ha_frame *f, const char *buf, size_t len, char *err, size_t errlen);
void ha_frame_fini(ha_frame *f);

const char *ha_msg_type_name(ha_msg_type type);

/* The builders below return JSON text the caller frees with free(), or NULL
 * when out of memory. */

/* {"type":"auth","access_token":token}. The result holds the secret: send it
 * and free it, never log it. */
char *ha_proto_auth(const char *token);

/* {"id":id,"type":type} plus the members of fields (may be NULL; borrowed). */
char *ha_proto_command(int64_t id, const char *type, const json_t *fields);

/* {"id":id,"type":"supported_features","features":{"coalesce_messages":1}} */
char *ha_proto_supported_features(int64_t id);

/* subscribe_events for event_type, or for every event when it is NULL. */
char *ha_proto_subscribe_events(int64_t id, const char *event_type);

/* {"id":id,"type":"ping"} */
char *ha_proto_ping(int64_t id);

/* history/history_during_period from start_iso (to end_iso when not NULL)
 * with every state change and full attributes:
 * significant_changes_only, include_start_time_state, minimal_response and
 * no_attributes all false. entity_ids may be NULL for every entity. */
char *ha_proto_history(int64_t id, const char *start_iso, const char *end_iso,
                       const json_t *entity_ids);

#endif
