/* fuzz-ha-stream.c - libFuzzer target: the ingestor's reader of large
 * messages (ha_stream.h) on arbitrary bytes.
 *
 * Properties: what comes out does not depend on how the message is cut
 * into fragments (the input fed whole, byte by byte, and in pieces whose
 * sizes come from the input give the same callbacks in the same order);
 * under the threshold the message comes back whole and unchanged; every
 * text handed over is NUL-terminated and every kept prefix within
 * HA_STREAM_PREFIX bytes; elements_end comes exactly once per result whose
 * elements were wanted; and a message that jansson parses as an object or
 * an array is never reported malformed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "ha_stream.h"

#define MAX_MESSAGE 4096

/* The callbacks seen, as text (bounded: only the first bytes compared). */
typedef struct {
    char log[1 << 16];
    size_t len;
    bool full;
    int wanted, ends, malformed;
} seen;

static void note(seen *s, const char *tag, long long n, const char *text, size_t len)
{
    char head[64];
    int h = snprintf(head, sizeof head, "%s %lld %zu:", tag, n, len);
    size_t need = (size_t)h + len + 1;
    if (s->full || s->len + need > sizeof s->log) {
        s->full = true;
        return;
    }
    memcpy(s->log + s->len, head, (size_t)h);
    memcpy(s->log + s->len + (size_t)h, text, len);
    s->log[s->len + need - 1] = '\n';
    s->len += need;
}

static void c_frame(void *ud, const char *buf, size_t len)
{
    FUZZ_CHECK(buf[len] == '\0', "frame not NUL-terminated");
    FUZZ_CHECK(len <= MAX_MESSAGE, "frame of %zu bytes", len);
    note(ud, "frame", 0, buf, len);
}

static void c_oversize(void *ud, size_t size, const char *prefix, size_t prefix_len)
{
    FUZZ_CHECK(size > MAX_MESSAGE, "oversize of %zu bytes", size);
    FUZZ_CHECK(prefix_len <= HA_STREAM_PREFIX && prefix_len <= size, "prefix %zu",
               prefix_len);
    note(ud, "oversize", (long long)size, prefix, prefix_len);
}

static void c_malformed(void *ud, const char *reason, const char *text, size_t len)
{
    seen *s = ud;
    s->malformed++;
    FUZZ_CHECK(reason != NULL && reason[0] != '\0', "malformed without a reason");
    FUZZ_CHECK(len <= HA_STREAM_PREFIX, "malformed text of %zu bytes", len);
    (void)text;
    note(ud, "malformed", 0, reason, strlen(reason));
}

static bool c_wants(void *ud, int64_t id)
{
    seen *s = ud;
    FUZZ_CHECK(id >= 0, "wanted id %lld", (long long)id);
    if (id % 2 != 0)
        return false;
    s->wanted++;
    return true;
}

static void c_element(void *ud, int64_t id, const char *text, size_t len)
{
    seen *s = ud;
    FUZZ_CHECK(s->wanted == s->ends + 1, "element outside a wanted result");
    FUZZ_CHECK(text[len] == '\0', "element not NUL-terminated");
    FUZZ_CHECK(len <= MAX_MESSAGE, "element of %zu bytes", len);
    note(ud, "el", (long long)id, text, len);
}

static void c_element_oversize(void *ud, int64_t id, size_t size, const char *prefix,
                               size_t prefix_len)
{
    seen *s = ud;
    FUZZ_CHECK(s->wanted == s->ends + 1, "element outside a wanted result");
    FUZZ_CHECK(size > MAX_MESSAGE && prefix_len <= HA_STREAM_PREFIX, "element oversize");
    note(ud, "el-oversize", (long long)id, prefix, prefix_len);
}

static void c_end(void *ud, int64_t id, const char *error)
{
    seen *s = ud;
    s->ends++;
    FUZZ_CHECK(s->ends == s->wanted, "%d ends for %d wanted results", s->ends, s->wanted);
    note(ud, error != NULL ? "end-error" : "end", (long long)id, "", 0);
}

/* Feeds data in pieces: sizes cycle through cuts (0: the rest at once). */
static void run(seen *s, size_t threshold, const uint8_t *data, size_t size,
                const uint8_t *cuts, size_t ncuts)
{
    memset(s, 0, sizeof(*s));
    ha_stream_opts o = {threshold, MAX_MESSAGE};
    ha_stream_cbs c = {c_frame, c_oversize, c_malformed, c_wants,
                       c_element, c_element_oversize, c_end, s};
    ha_stream *st = ha_stream_new(&o, &c);
    FUZZ_CHECK(st != NULL, "out of memory");
    size_t i = 0, k = 0;
    while (i < size) {
        size_t n = ncuts > 0 ? cuts[k++ % ncuts] : 0;
        if (n == 0 || n > size - i)
            n = size - i;
        FUZZ_CHECK(ha_stream_feed(st, (const char *)data + i, n) == 0, "feed failed");
        i += n;
    }
    FUZZ_CHECK(ha_stream_end(st) == 0, "end failed");
    FUZZ_CHECK(s->ends == s->wanted, "%d ends for %d wanted results", s->ends, s->wanted);
    ha_stream_free(st);
}

static seen a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Under the threshold: the message whole, as it came. */
    if (size < MAX_MESSAGE) {
        run(&a, size + 1, data, size, NULL, 0);
        char head[64];
        int h = snprintf(head, sizeof head, "frame 0 %zu:", size);
        FUZZ_CHECK(a.len == (size_t)h + size + 1 && memcmp(a.log, head, (size_t)h) == 0 &&
                       memcmp(a.log + h, data, size) == 0,
                   "not handed over whole");
    }

    /* Over it: the same callbacks whatever the fragments. */
    static const uint8_t one[] = {1};
    uint8_t cuts[8];
    size_t ncuts = size < sizeof cuts ? size : sizeof cuts;
    for (size_t i = 0; i < ncuts; i++)
        cuts[i] = (uint8_t)(data[i] % 13);
    run(&a, 1, data, size, NULL, 0);
    run(&b, 1, data, size, one, 1);
    FUZZ_CHECK(a.len == b.len && memcmp(a.log, b.log, a.len) == 0,
               "whole and byte by byte differ");
    run(&b, 1, data, size, cuts, ncuts);
    FUZZ_CHECK(a.len == b.len && memcmp(a.log, b.log, a.len) == 0,
               "whole and in pieces differ");

    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (v != NULL && (json_is_object(v) || json_is_array(v)))
        FUZZ_CHECK(a.malformed == 0, "valid JSON reported malformed");
    json_decref(v);
    return 0;
}
