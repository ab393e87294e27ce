/* writer_gen.h - deterministic synthetic enriched events (the shape
 * homestream-enricher produces) for the writer's benchmark and tests. */
#ifndef WRITER_GEN_H
#define WRITER_GEN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    unsigned entities;
    int64_t time_ns; /* time of the next event; advances 1 ms per event */
    uint64_t n;
    uint32_t rng;
    bool full; /* HA's whole event (see writer_gen_init_full), else a lean one */
} writer_gen;

/* entities: how many distinct entities to cycle through (at least 1). The
 * events are lean: old_state null, a one-member context (about 860 bytes). */
void writer_gen_init(writer_gen *g, unsigned entities, int64_t start_ns);

/* The same events the way Home Assistant and the enricher really shape
 * them (about 1.6 KB, as in the end-to-end benchmark): old_state is the
 * entity's previous state with its attributes and context, the event's and
 * new_state's context carry id, parent_id and user_id, new_state its
 * entity_id and last_reported. The same points come out of them. */
void writer_gen_init_full(writer_gen *g, unsigned entities, int64_t start_ns);

/* The next event as compact JSON text (malloc'd), or NULL when out of
 * memory. Every event has a distinct (entity, time) so each is one point. */
char *writer_gen_next(writer_gen *g);

#endif
