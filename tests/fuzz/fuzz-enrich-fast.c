/* fuzz-enrich-fast.c - libFuzzer target: the strict JSON scanner
 * (shared/hs_jscan.h) and the enricher's fast path built on it
 * (enrich_scan_raw, enrich_scan_text in enricher/enrich.h), against jansson
 * and the tree path they stand in for.
 *
 * The input is one Kafka message of ha.events.raw. Properties: a text the
 * scanner accepts as a document (an object or array, whitespace around it)
 * jansson's json_loadb with JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL accepts
 * too, and the object iterator agrees with the scanner; a message the fast
 * path takes, the tree path (json_loadb, hs_event_validate_raw,
 * enrich_fields, enrich_text) enriches too, into the very same bytes, with
 * UNITS=metric and without. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enrich.h"
#include "fuzz_check.h"
#include "hs_event.h"
#include "hs_jscan.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define PRESENCE "{\"anyone_home\":false,\"people_home\":0,\"people\":[]}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void check_scanner(const char *text, size_t len, bool jansson_ok)
{
    size_t pos = 0;
    hs_jscan_value v;
    bool scan = hs_jscan_value_at(text, len, &pos, 0, &v) == 0 &&
                (v.type == HS_JSCAN_OBJECT || v.type == HS_JSCAN_ARRAY);
    while (scan && pos < len && is_ws(text[pos]))
        pos++;
    scan = scan && pos == len;
    FUZZ_CHECK(!scan || jansson_ok, "the scanner accepts what jansson rejects");

    hs_jscan_iter it;
    const char *k;
    size_t kl;
    hs_jscan_value m;
    int r = -1;
    if (hs_jscan_iter_document(&it, text, len) == 0)
        while ((r = hs_jscan_iter_next(&it, &k, &kl, &m)) == 1)
            ;
    FUZZ_CHECK(r != 0 || jansson_ok, "the iterator accepts what jansson rejects");
    FUZZ_CHECK((r == 0) == (scan && v.type == HS_JSCAN_OBJECT),
               "the iterator and the scanner disagree");
}

static void check_fast(const char *text, size_t len, json_t *raw, json_t *presence,
                       bool metric)
{
    enrich_scan s;
    if (enrich_scan_raw(text, len, metric, &s) != 0)
        return;
    char err[256];
    FUZZ_CHECK(raw != NULL, "the fast path takes what jansson rejects");
    FUZZ_CHECK(hs_event_validate_raw(raw, err, sizeof err) == 0,
               "the fast path takes an invalid message: %s", err);
    enrich_ctx ctx = {.presence = presence, .metric = metric};
    json_t *fields = enrich_fields(raw, &ctx, err, sizeof err);
    FUZZ_CHECK(fields != NULL, "the fast path takes what enrich_fields refuses: %s", err);
    size_t want_len = 0, got_len = 0;
    char *want = enrich_text(text, len, raw, fields, &want_len);
    char *got = enrich_scan_text(text, &s, PRESENCE, NULL, &got_len);
    FUZZ_CHECK(want && got, "out of memory");
    FUZZ_CHECK(want_len == got_len && memcmp(want, got, got_len) == 0,
               "the paths differ:\n%s\n%s", want, got);
    const char *id = json_string_value(json_object_get(raw, "entity_id"));
    FUZZ_CHECK(strcmp(id ? id : "", s.entity_id) == 0, "entity ids differ");
    free(want);
    free(got);
    json_decref(fields);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_error_t e;
    json_t *raw = json_loadb(text, size, FLAGS, &e);
    check_scanner(text, size, raw != NULL);
    json_t *presence = json_loads(PRESENCE, 0, NULL);
    FUZZ_CHECK(presence != NULL, "out of memory");
    check_fast(text, size, raw, presence, false);
    check_fast(text, size, raw, presence, true);
    json_decref(presence);
    json_decref(raw);
    return 0;
}
