/* strlist.c - comma-separated lists as arrays of trimmed strings. */
#include "strlist.h"

#include <stdlib.h>
#include <string.h>

int strlist_split(strlist *out, const char *csv)
{
    out->items = NULL;
    out->n = 0;
    if (csv == NULL)
        return 0;
    size_t cap = 1;
    for (const char *p = csv; *p != '\0'; p++)
        cap += *p == ',';
    out->items = calloc(cap, sizeof(char *));
    if (out->items == NULL)
        return -1;
    const char *p = csv;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *b = p, *e = p + len;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b) {
            char *item = strndup(b, (size_t)(e - b));
            if (item == NULL) {
                strlist_fini(out);
                return -1;
            }
            out->items[out->n++] = item;
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return 0;
}

void strlist_fini(strlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

bool strlist_has(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i], s) == 0)
            return true;
    }
    return false;
}
