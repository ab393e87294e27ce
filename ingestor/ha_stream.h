/* ha_stream.h - reads Home Assistant's WebSocket messages as their fragments
 * arrive, so that a huge get_states answer is never held whole (pure, no I/O).
 *
 * The owner feeds the bytes of one text message at a time (ha_stream_feed,
 * then ha_stream_end once its last fragment is in). A message that ends
 * within `threshold` bytes is handed over whole, exactly as it came. A longer
 * one is scanned as it arrives instead: it must be a JSON object (one
 * message) or an array of objects (messages coalesced by the server), and
 * each of those messages is handed over on its own, as its own text, up to
 * max_message bytes. A result message whose "result" member is an array,
 * and whose "id", "type":"result" and "success":true come before it (Home
 * Assistant writes them in that order), is not held at all when the owner
 * wants it (wants_elements): each element of its array is handed over as
 * its own text, one at a time, so memory stays bounded by one element. When
 * the members come in another order the message is held whole, bounded by
 * max_message like any other.
 *
 * Only the structure is checked here (strings, brackets, nesting, what
 * follows the array); the texts handed over are parsed by their receivers.
 * Nothing is dropped silently: a message or element over max_message comes
 * back as oversize (its first bytes), and a frame that breaks the structure
 * comes back as malformed (the start of the message it was in); when that
 * happens inside a streamed result, elements_end says so as well. */
#ifndef INGESTOR_HA_STREAM_H
#define INGESTOR_HA_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and objects a scanned frame may have (jansson
 * refuses deeper documents as well). */
#define HA_STREAM_MAX_DEPTH 2048
/* Bytes of an oversized or malformed text kept for the report. */
#define HA_STREAM_PREFIX 4096

typedef struct {
    /* One complete message or frame; buf is NUL-terminated and valid during
     * the call. Required. */
    void (*frame)(void *ud, const char *buf, size_t len);
    /* A message over max_message was skipped: size is its length, prefix
     * its first bytes. Required. */
    void (*oversize)(void *ud, size_t size, const char *prefix, size_t prefix_len);
    /* The frame is not a well-formed JSON object or array of objects; the
     * rest of it is skipped. text is the start of what was being read.
     * Required. */
    void (*malformed)(void *ud, const char *reason, const char *text, size_t len);
    /* Whether the elements of the result of command id are to be handed over
     * one by one. Optional: NULL means never. */
    bool (*wants_elements)(void *ud, int64_t id);
    /* One element of that result's array; text is NUL-terminated and valid
     * during the call. Required with wants_elements. */
    void (*element)(void *ud, int64_t id, const char *text, size_t len);
    /* An element over max_message was skipped (it is not passed to element);
     * the elements after it still are. Required with wants_elements. */
    void (*element_oversize)(void *ud, int64_t id, size_t size, const char *prefix,
                             size_t prefix_len);
    /* The streamed result of id is over. error is NULL when the message was
     * well formed to its end, else why it was not (elements handed over
     * before stay valid). Called exactly once for every result whose
     * elements were wanted, unless ha_stream_reset() comes first. Required
     * with wants_elements. */
    void (*elements_end)(void *ud, int64_t id, const char *error);
    void *ud;
} ha_stream_cbs;

typedef struct {
    size_t threshold;   /* bytes; default 1 MiB when 0 */
    size_t max_message; /* bytes; default 64 MiB when 0; at least threshold */
} ha_stream_opts;

typedef struct ha_stream ha_stream;

/* Returns NULL when out of memory. */
ha_stream *ha_stream_new(const ha_stream_opts *opts, const ha_stream_cbs *cbs);
/* Accepts NULL. */
void ha_stream_free(ha_stream *st);

/* Feeds the next bytes of the current message; callbacks may run. Returns
 * 0, or -1 when out of memory (then call ha_stream_reset()). */
int ha_stream_feed(ha_stream *st, const char *data, size_t len);

/* The current message is complete: hands over what remains of it. Returns
 * 0, or -1 when out of memory. The stream is then ready for the next
 * message. */
int ha_stream_end(ha_stream *st);

/* Forgets a partial message without any callback (the connection is gone)
 * and gives back large buffers. */
void ha_stream_reset(ha_stream *st);

/* Between messages, frees the buffers kept for the next one (up to 4 MiB,
 * which a flood of coalesced frames grows); does nothing while a message is
 * being read. For a stage gone idle: the next message allocates again. */
void ha_stream_trim(ha_stream *st);

#endif
