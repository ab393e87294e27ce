/* fuzz-rawmsg.c - libFuzzer target: the ingestor's tree-free reading of a
 * state_changed event (rawmsg.h) against the tree path it replaces.
 *
 * Property: for any bytes, rawmsg_scan declines, or the tree path
 * (json_loadb as the frame parser calls it, then hs_event_from_ha) accepts
 * the same event and builds the same message: rawmsg_write's text parses as
 * one JSON object that serialises exactly as the tree path's message does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "rawmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    rawmsg_event ev;
    if (rawmsg_scan(text, size, &ev) != 0)
        return 0;
    hs_event_ctx ctx = {.site = "home",
                        .area = size % 2 ? "Living \"room\"" : NULL,
                        .device = size % 3 ? "Dev\\ice\n" : NULL,
                        .ingested_at_ns = INT64_C(1795301318123456000),
                        .backfill = size % 5 == 0};
    rawmsg_buf buf = {0};
    FUZZ_CHECK(rawmsg_write(&ev, &ctx, &buf) == 0, "rawmsg_write failed");
    json_error_t e;
    json_t *fast = json_loadb(buf.p, buf.len, 0, &e);
    FUZZ_CHECK(json_is_object(fast), "rawmsg wrote invalid JSON: %s", e.text);

    json_t *ha = json_loadb(text, size, JSON_DECODE_ANY, &e);
    FUZZ_CHECK(ha != NULL, "rawmsg took text jansson refuses: %s", e.text);
    char err[256];
    json_t *tree = hs_event_from_ha(ha, &ctx, err, sizeof err);
    FUZZ_CHECK(tree != NULL, "rawmsg took an event the tree path refuses: %s", err);
    char *a = json_dumps(fast, JSON_COMPACT);
    char *b = json_dumps(tree, JSON_COMPACT);
    FUZZ_CHECK(a != NULL && b != NULL && strcmp(a, b) == 0, "messages differ:\n%s\n%s",
               a ? a : "", b ? b : "");
    free(a);
    free(b);
    json_decref(tree);
    json_decref(ha);
    json_decref(fast);
    rawmsg_buf_fini(&buf);
    return 0;
}
