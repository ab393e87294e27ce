/* hs_recent.h - a fixed ring of the last N events a stage handled, for
 * GET /events/recent. Thread-safe (the stage pushes, the admin thread reads).
 *
 * The ring keeps each event as its compact JSON text, not as a jansson tree:
 * an enriched event of about 1.5 KB of text takes about 11 KB as a tree, and
 * a ring of 1000 trees was most of a stage's idle heap. A listing parses the
 * texts again, on the admin thread. */
#ifndef HS_RECENT_H
#define HS_RECENT_H

#include <stddef.h>

#include <jansson.h>

typedef struct hs_recent hs_recent;

/* capacity: events kept; returns NULL when out of memory. */
hs_recent *hs_recent_new(size_t capacity);
void hs_recent_free(hs_recent *r);

/* Keeps a copy of event, serialised (the caller keeps its event and may
 * change it afterwards). entity_id may be NULL; it is copied for filtering.
 * A stage that already has the event's text should use hs_recent_push_text,
 * which saves the serialisation. */
void hs_recent_push(hs_recent *r, const char *entity_id, json_t *event);

/* Keeps a copy of text[0..len), which must be one JSON value (as json_dumps
 * writes it; NUL bytes inside strings escaped as \u0000). entity_id as
 * above. */
void hs_recent_push_text(hs_recent *r, const char *entity_id, const char *text,
                         size_t len);

/* Newest first, at most limit (capped to capacity), only entity_id when not
 * NULL. Returns a new array of new values, parsed from the kept texts (a
 * text that is not JSON is left out). Returns NULL only when out of
 * memory. */
json_t *hs_recent_list(hs_recent *r, int limit, const char *entity_id);

/* Compresses the kept events into one block (zlib), several times smaller
 * than the texts; a listing inflates it again. For a stage gone idle, from
 * its own thread, before it gives freed memory back (hs_mem.h): it costs
 * some milliseconds for a ring of 1,000 events (a push meanwhile waits).
 * Events pushed later are kept as texts until the next pack. Keeps the
 * texts as they are when nothing new came since the last pack, when
 * compressing saves nothing, or when out of memory. */
void hs_recent_pack(hs_recent *r);

#endif
