/* fuzz-msgjson.c - libFuzzer target: the writer's JSON reader
 * (writer/msgjson.h) against jansson.
 *
 * The input is one JSON text. Properties:
 *   - msgjson_parse accepts only what jansson (flags 0) accepts, and then
 *     msgjson_dump prints the root as json_dumps(JSON_COMPACT |
 *     JSON_ENCODE_ANY) prints jansson's tree, byte for byte;
 *   - it declines only what its contract leaves to jansson: a text without
 *     a NUL byte (jansson's reader takes one after a number or a literal as
 *     the end of it, or skips it) that jansson accepts with
 *     JSON_REJECT_DUPLICATES, whose top level is an object nested at most
 *     MSGJSON_MAX_DEPTH deep, is accepted;
 *   - msgjson_parse_filtered, with each of a few filters (the ha schema's
 *     and one that skips and filters members at several depths), accepts
 *     exactly what msgjson_parse accepts and builds the same nodes but for
 *     the subtrees of its MSGJSON_SKIPPED ones.
 * The text is read from a buffer of exactly its size, so that ASan sees any
 * read past its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "lineproto.h"
#include "msgjson.h"

static int depth_of(const json_t *v)
{
    int deepest = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            int dm = depth_of(m);
            if (dm > deepest)
                deepest = dm;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach((json_t *)v, i, m)
        {
            int dm = depth_of(m);
            if (dm > deepest)
                deepest = dm;
        }
        return deepest + 1;
    }
    return 0;
}

/* Node by node, f is u with the subtree of every MSGJSON_SKIPPED node of f
 * taken out. */
static void check_filtered(const msgjson_doc *f, const msgjson_doc *u)
{
    size_t i = 0, j = 0;
    while (i < f->n && j < u->n) {
        const msgjson_node *a = &f->nodes[i], *b = &u->nodes[j];
        if (a->type == MSGJSON_SKIPPED) {
            FUZZ_CHECK(a->span == 1 && a->count == 0, "skipped node %zu", i);
            i++;
            j += b->span;
            continue;
        }
        FUZZ_CHECK(a->type == b->type && a->count == b->count, "node %zu", i);
        if (a->type == MSGJSON_STRING)
            FUZZ_CHECK(memcmp(a->u.s, b->u.s, (size_t)a->count + 1) == 0, "string %zu", i);
        else if (a->type == MSGJSON_INTEGER)
            FUZZ_CHECK(a->u.i == b->u.i, "integer %zu", i);
        else if (a->type == MSGJSON_REAL)
            FUZZ_CHECK(memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0, "real %zu", i);
        i++;
        j++;
    }
    FUZZ_CHECK(i == f->n && j == u->n, "%zu/%zu of %zu/%zu nodes", i, j, f->n, u->n);
    FUZZ_CHECK(f->nodes[0].span == f->n, "root span %u of %zu", f->nodes[0].span, f->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const msgjson_filter deep[] = {MSGJSON_FILTER_KEY("a", NULL),
                                          MSGJSON_FILTER_KEY("", NULL), MSGJSON_FILTER_END};
    static const msgjson_filter mixed[] = {
        MSGJSON_FILTER_KEY("old_state", NULL), MSGJSON_FILTER_KEY("b", NULL),
        MSGJSON_FILTER_KEY("x", deep), MSGJSON_FILTER_KEY("new_state", deep),
        MSGJSON_FILTER_END};
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filters[] = {lineproto_filter(&ha), mixed, deep};

    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    if (size > 0)
        memcpy(text, data, size);
    msgjson_doc u, f;
    msgjson_init(&u);
    msgjson_init(&f);
    int rc = msgjson_parse(&u, text, size);
    FUZZ_CHECK(rc != -2, "out of memory");
    json_t *tree = json_loadb(text, size, 0, NULL);
    if (rc == 0) {
        FUZZ_CHECK(tree != NULL, "msgjson accepted a text jansson refuses");
        lineproto_buf out;
        lineproto_buf_init(&out);
        char *want = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_CHECK(want != NULL && msgjson_dump(msgjson_root(&u), &out) == 0 &&
                       strcmp(want, out.data) == 0,
                   "dump %s, jansson %s", out.data ? out.data : "-", want ? want : "-");
        free(want);
        lineproto_buf_fini(&out);
    } else {
        json_t *strict = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
        FUZZ_CHECK(strict == NULL || !json_is_object(strict) ||
                       depth_of(strict) > MSGJSON_MAX_DEPTH ||
                       memchr(text, '\0', size) != NULL,
                   "msgjson declined a text its contract accepts");
        json_decref(strict);
    }
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        int frc = msgjson_parse_filtered(&f, text, size, filters[i]);
        FUZZ_CHECK(frc == rc, "filter %zu: %d, unfiltered %d", i, frc, rc);
        if (rc == 0)
            check_filtered(&f, &u);
    }
    json_decref(tree);
    msgjson_fini(&u);
    msgjson_fini(&f);
    free(text);
    return 0;
}
