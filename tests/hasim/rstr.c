/* rstr.c - immutable reference-counted byte strings. */
#include "rstr.h"

#include <stdlib.h>
#include <string.h>

rstr *rstr_new(const char *s, size_t n)
{
    rstr *r = malloc(sizeof *r + n + 1);
    if (r == NULL)
        return NULL;
    r->refs = 1;
    r->len = n;
    if (n > 0)
        memcpy(r->data, s, n);
    r->data[n] = '\0';
    return r;
}

rstr *rstr_from_block(char *block, size_t n)
{
    if (block == NULL)
        return NULL;
    rstr *r = rstr_new(block, n);
    free(block);
    return r;
}

rstr *rstr_ref(rstr *s)
{
    if (s != NULL)
        s->refs++;
    return s;
}

void rstr_unref(rstr *s)
{
    if (s != NULL && --s->refs == 0)
        free(s);
}
