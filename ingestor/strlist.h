/* strlist.h - comma-separated lists as arrays of trimmed strings (pure). */
#ifndef INGESTOR_STRLIST_H
#define INGESTOR_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char **items; /* owned, n strings */
    size_t n;
} strlist;

/* Splits csv (NULL means empty) at commas, trims spaces and tabs around each
 * item and drops empty items. Returns 0, or -1 when out of memory (then out
 * is empty). Release with strlist_fini(). */
int strlist_split(strlist *out, const char *csv);
void strlist_fini(strlist *l);

/* true when the list holds s. */
bool strlist_has(const strlist *l, const char *s);

#endif
