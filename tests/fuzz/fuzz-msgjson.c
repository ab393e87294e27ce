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
 *   - msgjson_parse_filtered, with each of a few filters (the ha schema's,
 *     one that skips, filters and memoizes members at several depths and
 *     one that reaches the same memoized member at every depth), accepts
 *     exactly what msgjson_parse accepts and builds the same nodes but for
 *     the subtrees of its MSGJSON_SKIPPED ones;
 *   - one document reading, with each filter, the text twice, then the text
 *     wrapped one object deeper, the text again, the text with one byte
 *     changed and the text once more (so that its memos are filled, hit,
 *     met at another depth and by other bytes) gives every time the result
 *     and the nodes that a new document gives, string offsets included;
 *   - msgjson_parse_keyed, with each filter and one key, reading the text,
 *     the text with one byte changed, the text cut in half, the wrapped
 *     text and the text again (each against the skeleton the one before
 *     left), gives every time msgjson_parse_filtered's result and nodes
 *     (their contents: strings may lie in the skeleton).
 * The texts are read from buffers of exactly their size, so that ASan sees
 * any read past their end. */
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

/* Reads text[0..n) with filter into the reused document r and into a new
 * one: the same result, and then the same nodes (type, span, count, value,
 * a string's bytes and offset in the strings) and strings. */
static void check_reused(msgjson_doc *r, const char *text, size_t n,
                         const msgjson_filter *filter, const char *what)
{
    msgjson_doc f;
    msgjson_init(&f);
    int frc = msgjson_parse_filtered(&f, text, n, filter);
    int rrc = msgjson_parse_filtered(r, text, n, filter);
    FUZZ_CHECK(frc == rrc, "%s: reused %d, new %d", what, rrc, frc);
    if (frc == 0) {
        FUZZ_CHECK(f.n == r->n && f.slen == r->slen,
                   "%s: %zu nodes %zu bytes, new %zu %zu", what, r->n, r->slen, f.n,
                   f.slen);
        FUZZ_CHECK(memcmp(f.str, r->str, f.slen) == 0, "%s: strings", what);
        for (size_t i = 0; i < f.n; i++) {
            const msgjson_node *a = &r->nodes[i], *b = &f.nodes[i];
            FUZZ_CHECK(a->type == b->type && a->span == b->span && a->count == b->count,
                       "%s: node %zu", what, i);
            if (a->type == MSGJSON_STRING)
                FUZZ_CHECK(a->u.s - r->str == b->u.s - f.str, "%s: string %zu", what, i);
            else
                FUZZ_CHECK(memcmp(&a->u, &b->u, sizeof a->u) == 0, "%s: value %zu", what,
                           i);
        }
    }
    msgjson_fini(&f);
}

/* Reads text[0..n) with filter through c's skeleton for one key into k and
 * into a new document without: the same result, and then nodes of the same
 * contents (type, span, count, value, a string's bytes). */
static void check_keyed(msgjson_doc *k, msgjson_skels *c, const char *text, size_t n,
                        const msgjson_filter *filter, const char *what)
{
    msgjson_doc f;
    msgjson_init(&f);
    int frc = msgjson_parse_filtered(&f, text, n, filter);
    int krc = msgjson_parse_keyed(k, text, n, filter, c, "key", 3);
    FUZZ_CHECK(frc == krc, "%s: keyed %d, filtered %d", what, krc, frc);
    if (frc == 0) {
        FUZZ_CHECK(f.n == k->n, "%s: %zu nodes, filtered %zu", what, k->n, f.n);
        for (size_t i = 0; i < f.n; i++) {
            const msgjson_node *a = &k->nodes[i], *b = &f.nodes[i];
            FUZZ_CHECK(a->type == b->type && a->span == b->span && a->count == b->count,
                       "%s: node %zu", what, i);
            if (a->type == MSGJSON_STRING)
                FUZZ_CHECK(memcmp(a->u.s, b->u.s, (size_t)a->count + 1) == 0,
                           "%s: string %zu", what, i);
            else if (a->type == MSGJSON_INTEGER || a->type == MSGJSON_REAL)
                FUZZ_CHECK(memcmp(&a->u, &b->u, sizeof a->u) == 0, "%s: value %zu", what,
                           i);
        }
    }
    msgjson_fini(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const msgjson_filter deep[] = {MSGJSON_FILTER_KEY("a", NULL),
                                          MSGJSON_FILTER_KEY("", NULL),
                                          MSGJSON_FILTER_MEMO("m"), MSGJSON_FILTER_END};
    static const msgjson_filter mixed[] = {MSGJSON_FILTER_KEY("old_state", NULL),
                                           MSGJSON_FILTER_KEY("b", NULL),
                                           MSGJSON_FILTER_KEY("x", deep),
                                           MSGJSON_FILTER_KEY("new_state", deep),
                                           MSGJSON_FILTER_MEMO("weather"),
                                           MSGJSON_FILTER_MEMO("w"),
                                           MSGJSON_FILTER_END};
    /* "r" in "r" in ...: the same memoized "m" at every depth. */
    static const msgjson_filter rec[] = {MSGJSON_FILTER_KEY("r", rec),
                                         MSGJSON_FILTER_MEMO("m"), MSGJSON_FILTER_END};
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filters[] = {lineproto_filter(&ha), mixed, deep, rec};

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
    /* The memos: wrapped is {"r":text} (as "m" and "w" as keys, for rec's
     * and mixed's), changed is text with one byte changed. */
    char *wrapped = malloc(size + 6), *changed = malloc(size ? size : 1);
    FUZZ_CHECK(wrapped != NULL && changed != NULL, "out of memory");
    memcpy(wrapped, "{\"r\":", 5);
    memcpy(wrapped + 5, text, size);
    wrapped[size + 5] = '}';
    memcpy(changed, text, size);
    if (size > 0)
        changed[size - 1 - (size_t)data[0] % size] ^= (char)(1 + data[size - 1] % 8);
    msgjson_doc r;
    msgjson_init(&r);
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        check_reused(&r, text, size, filters[i], "first");
        check_reused(&r, text, size, filters[i], "again");
        check_reused(&r, wrapped, size + 6, filters[i], "wrapped");
        wrapped[2] = 'm';
        check_reused(&r, wrapped, size + 6, filters[i], "wrapped as m");
        wrapped[2] = 'w';
        check_reused(&r, wrapped, size + 6, filters[i], "wrapped as w");
        wrapped[2] = 'r';
        check_reused(&r, text, size, filters[i], "after wrapped");
        check_reused(&r, changed, size, filters[i], "changed");
        check_reused(&r, text, size, filters[i], "after changed");
    }
    msgjson_fini(&r);
    /* The skeletons: each text against the skeleton the one before left. */
    char *half = malloc(size / 2 ? size / 2 : 1);
    FUZZ_CHECK(half != NULL, "out of memory");
    memcpy(half, text, size / 2);
    msgjson_doc k;
    msgjson_init(&k);
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        msgjson_skels *c = msgjson_skels_new();
        FUZZ_CHECK(c != NULL, "out of memory");
        check_keyed(&k, c, text, size, filters[i], "keyed first");
        check_keyed(&k, c, changed, size, filters[i], "keyed changed");
        check_keyed(&k, c, text, size, filters[i], "keyed after changed");
        check_keyed(&k, c, half, size / 2, filters[i], "keyed half");
        check_keyed(&k, c, wrapped, size + 6, filters[i], "keyed wrapped");
        check_keyed(&k, c, text, size, filters[i], "keyed again");
        check_keyed(&k, c, text, size, filters[i], "keyed once more");
        msgjson_skels_free(c);
    }
    msgjson_fini(&k);
    free(half);
    free(wrapped);
    free(changed);
    json_decref(tree);
    msgjson_fini(&u);
    msgjson_fini(&f);
    free(text);
    return 0;
}
