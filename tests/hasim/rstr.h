/* rstr.h - immutable reference-counted byte strings, shared between the
 * current state of an entity, the events that carry it and the recorder.
 *
 * Single-threaded: the counts are plain integers. */
#ifndef HASIM_RSTR_H
#define HASIM_RSTR_H

#include <stddef.h>

typedef struct {
    size_t refs;
    size_t len;
    char data[]; /* len bytes and a NUL */
} rstr;

/* Returns a new string holding a copy of the n bytes at s with one reference,
 * or NULL when out of memory. */
rstr *rstr_new(const char *s, size_t n);
/* Takes over a malloc'd block of n bytes plus NUL (as made by jbuf_steal with
 * head 0): the copy is made here and the block is freed in every case. */
rstr *rstr_from_block(char *block, size_t n);
/* Adds a reference and returns s (NULL passes through). */
rstr *rstr_ref(rstr *s);
/* Drops a reference; frees the string with the last one. Accepts NULL. */
void rstr_unref(rstr *s);

#endif
