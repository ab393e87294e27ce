/* writer_gen.h - deterministic synthetic enriched events (the shape
 * homestream-enricher produces) for the writer's benchmark and tests. */
#ifndef WRITER_GEN_H
#define WRITER_GEN_H

#include <stdint.h>

typedef struct {
    unsigned entities;
    int64_t time_ns; /* time of the next event; advances 1 ms per event */
    uint64_t n;
    uint32_t rng;
} writer_gen;

/* entities: how many distinct entities to cycle through (at least 1). */
void writer_gen_init(writer_gen *g, unsigned entities, int64_t start_ns);

/* The next event as compact JSON text (malloc'd), or NULL when out of
 * memory. Every event has a distinct (entity, time) so each is one point. */
char *writer_gen_next(writer_gen *g);

#endif
