/* hs_recent.h - a fixed ring of the last N events a stage handled, for
 * GET /events/recent. Thread-safe (the stage pushes, the admin thread reads). */
#ifndef HS_RECENT_H
#define HS_RECENT_H

#include <stddef.h>

#include <jansson.h>

typedef struct hs_recent hs_recent;

/* capacity: events kept; returns NULL when out of memory. */
hs_recent *hs_recent_new(size_t capacity);
void hs_recent_free(hs_recent *r);

/* Keeps a reference to event (the caller keeps its own). entity_id may be
 * NULL; it is copied for filtering. */
void hs_recent_push(hs_recent *r, const char *entity_id, json_t *event);

/* Newest first, at most limit (capped to capacity), only entity_id when not
 * NULL. Returns a new array. */
json_t *hs_recent_list(hs_recent *r, int limit, const char *entity_id);

#endif
