/* lastseen.h - per-entity last_updated of what was produced, for dedupe (pure).
 *
 * A state change is new iff its last_updated is after the last one produced
 * for that entity. The map is bounded: once it holds max_entities entities
 * it stops learning new ones, and an unknown entity always counts as new,
 * so a full map can produce a duplicate but never hides a change. */
#ifndef INGESTOR_LASTSEEN_H
#define INGESTOR_LASTSEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lastseen lastseen;

/* Returns NULL when out of memory. */
lastseen *lastseen_new(size_t max_entities);
/* Accepts NULL. */
void lastseen_free(lastseen *m);

/* true when entity_id has no recorded time or ns is after it. */
bool lastseen_is_new(const lastseen *m, const char *entity_id, int64_t ns);

/* Records ns for entity_id when it is after the recorded one. Returns 0, or
 * -1 when the entity is unknown and the map is full (or out of memory). */
int lastseen_note(lastseen *m, const char *entity_id, int64_t ns);

/* The recorded time, or INT64_MIN. */
int64_t lastseen_get(const lastseen *m, const char *entity_id);

size_t lastseen_count(const lastseen *m);

#endif
