/* rawmsg.h - homestream's raw message (schema 1) written straight from the
 * text of a Home Assistant state_changed event, without a JSON tree.
 *
 * Almost every live event of a home is a state_changed. Parsing each into a
 * jansson tree, copying its states into a second tree (hs_event_from_ha)
 * and serialising that again was most of the ingestor's work per event.
 * rawmsg_scan reads the event's text with hs_jscan (validating all of it),
 * checks what hs_event_from_ha checks, and keeps the spans of the values the
 * raw message carries over unchanged; rawmsg_write writes the message with
 * those spans copied verbatim.
 *
 * The message is the JSON value hs_event_from_ha would build from the same
 * event (json_equal), with its members in the same order; only the spelling
 * of the copied values may differ from a re-serialisation (whitespace,
 * escapes), as Home Assistant wrote them.
 *
 * rawmsg_scan declines (returns -1), leaving the event to the tree path,
 * which decides and explains, whatever it is not sure of: an event other
 * than state_changed, text hs_jscan declines (invalid JSON, or valid JSON it
 * leaves to jansson: duplicate keys, deep nesting, ...), a "\u0000" escape
 * anywhere (the frame parser refuses those), an entity_id written with an
 * escape, of RAWMSG_ENTITY_MAX bytes or more, or not of the form
 * domain.object_id (hs_event_split_entity), a state that is neither an
 * object nor null. */
#ifndef INGESTOR_RAWMSG_H
#define INGESTOR_RAWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_event.h"
#include "hs_jscan.h"

/* Longer entity ids (never seen in practice) are left to the tree path. */
#define RAWMSG_ENTITY_MAX 256

/* What rawmsg_scan found in one event. Spans point into the scanned text,
 * which must outlive the struct. */
typedef struct {
    char entity_id[RAWMSG_ENTITY_MAX]; /* NUL-terminated */
    size_t entity_len;
    size_t domain_len; /* entity_id[0..domain_len) is the domain */
    bool has_time;         /* time_ns below is new_state.last_updated */
    int64_t time_ns;
    /* The values copied over; a span of length 0 is written as null. */
    hs_jscan_value origin;     /* a string, else null */
    hs_jscan_value time_fired; /* a string, else null */
    hs_jscan_value new_state;  /* an object, else null */
    hs_jscan_value old_state;  /* an object, else null */
    hs_jscan_value context;    /* an object, else null */
} rawmsg_event;

/* A growing output buffer; zero-initialise it, release with rawmsg_buf_fini. */
typedef struct {
    char *p;
    size_t len;
    size_t cap;
} rawmsg_buf;

void rawmsg_buf_fini(rawmsg_buf *b);

/* Reads the `event` object of an HA "event" message, text[0..len). Returns
 * 0 and fills *ev, or -1 to decline (see above). */
int rawmsg_scan(const char *text, size_t len, rawmsg_event *ev);

/* Writes the raw message for ev with ctx (as hs_event_from_ha takes it) into
 * out, replacing what out held; out->p is NUL-terminated. Returns 0, or -1
 * when out of memory or when ctx->ingested_at_ns cannot be formatted. */
int rawmsg_write(const rawmsg_event *ev, const hs_event_ctx *ctx, rawmsg_buf *out);

#endif
