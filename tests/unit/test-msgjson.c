/* test-msgjson.c - unit tests for the writer's JSON reader (writer/msgjson.h)
 * and the differential property of its encoding path: for every message,
 * the writer's path (msgjson, jansson only for what msgjson declines) gives
 * the same line, result, counters and reason as the jansson-based encoder it
 * replaced (tests/unit/lineproto-ref.c). Inputs: a table of RFC 8259 edge
 * cases, generated hostile messages, the writer fuzz corpus and the
 * benchmark's synthetic events. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hs_jscan.h"
#include "lineproto-ref.h"
#include "lineproto.h"
#include "msgjson.h"
#include "test_scale.h"
#include "writer_gen.h"

/* Runs the differential property on text and fails the test on any
 * difference. Returns whether msgjson_parse accepted the text. */
static bool check_same(const char *text, size_t n, const char *what)
{
    char why[4096];
    bool fast = false;
    int rc = lineproto_ref_check(text, n, &fast, why, sizeof why);
    ck_assert_msg(rc == 0, "%s: %.*s\n%s", what, (int)(n > 600 ? 600 : n), text, why);
    return fast;
}

/* ---- the reader on its own ---------------------------------------------- */

START_TEST(test_access)
{
    static const char text[] = " {\"a\" : 1, \"b\":[true,false,null,-2.5e3,\"x\"],"
                               "\"c\":{\"d\":\"\\u00e9\\ud83c\\udfe0\\n\"},\"\":0} ";
    msgjson_doc d;
    msgjson_init(&d);
    ck_assert_int_eq(msgjson_parse(&d, text, sizeof text - 1), 0);
    const msgjson_node *root = msgjson_root(&d);
    ck_assert_int_eq(root->type, MSGJSON_OBJECT);
    ck_assert_uint_eq(root->count, 4);
    const msgjson_node *a = msgjson_get(root, "a");
    ck_assert_int_eq(a->type, MSGJSON_INTEGER);
    ck_assert_int_eq(a->u.i, 1);
    const msgjson_node *b = msgjson_get(root, "b");
    ck_assert_int_eq(b->type, MSGJSON_ARRAY);
    ck_assert_uint_eq(b->count, 5);
    ck_assert_int_eq(b[1].type, MSGJSON_TRUE);
    ck_assert_int_eq(b[4].type, MSGJSON_REAL);
    ck_assert(b[4].u.d == -2500.0);
    ck_assert_str_eq(msgjson_str(&b[5]), "x");
    const msgjson_node *dd = msgjson_get(msgjson_get(root, "c"), "d");
    ck_assert_str_eq(msgjson_str(dd), "\xC3\xA9\xF0\x9F\x8F\xA0\n");
    ck_assert_uint_eq(dd->count, 7);
    ck_assert_ptr_null(msgjson_get(root, "missing"));
    ck_assert_ptr_null(msgjson_get(a, "a"));
    ck_assert_ptr_null(msgjson_get(NULL, "a"));
    ck_assert_ptr_nonnull(msgjson_get(root, ""));
    /* Members in document order. */
    const char *want[] = {"a", "b", "c", ""};
    size_t i = 0;
    for (const msgjson_node *k = msgjson_first(root); k != NULL;
         k = msgjson_next(root, k))
        ck_assert_str_eq(msgjson_str(k), want[i++]);
    ck_assert_uint_eq(i, 4);
    lineproto_buf out;
    lineproto_buf_init(&out);
    ck_assert_int_eq(msgjson_dump(root, &out), 0);
    ck_assert_str_eq(out.data, "{\"a\":1,\"b\":[true,false,null,-2500.0,\"x\"],"
                               "\"c\":{\"d\":\"\xC3\xA9\xF0\x9F\x8F\xA0\\n\"},\"\":0}");
    lineproto_buf_fini(&out);
    /* The document is reused: a second, smaller text replaces the first. */
    ck_assert_int_eq(msgjson_parse(&d, "{\"z\":\"y\"}", 9), 0);
    ck_assert_str_eq(msgjson_str(msgjson_get(msgjson_root(&d), "z")), "y");
    ck_assert_ptr_null(msgjson_get(msgjson_root(&d), "a"));
    /* Trimming keeps small buffers and releases large ones. */
    msgjson_trim(&d, 1 << 20);
    ck_assert_ptr_nonnull(msgjson_root(&d));
    msgjson_trim(&d, 0);
    ck_assert_ptr_null(msgjson_root(&d));
    ck_assert_int_eq(msgjson_parse(&d, "{\"z\":1}", 7), 0);
    ck_assert_int_eq(msgjson_get(msgjson_root(&d), "z")->u.i, 1);
    msgjson_fini(&d);
    msgjson_fini(&d); /* a released document may be released again */
}
END_TEST

typedef struct {
    const char *text;
    bool accepted;
} parse_case;

static const parse_case parse_cases[] = {
    {"{}", true},
    {" \t\r\n{ } \n", true},
    {"{\"a\":-0}", true},
    {"{\"a\":9223372036854775807,\"b\":-9223372036854775808}", true},
    {"{\"a\":9223372036854775808}", false},  /* jansson: too big integer */
    {"{\"a\":-9223372036854775809}", false}, /* too big negative integer */
    {"{\"a\":1e400}", false},                /* real number overflow */
    {"{\"a\":-1e400}", false},
    {"{\"a\":1e-400}", true}, /* underflows to 0, as strtod and jansson */
    {"{\"a\":01}", false},
    {"{\"a\":1.}", false},
    {"{\"a\":.5}", false},
    {"{\"a\":+1}", false},
    {"{\"a\":1e}", false},
    {"{\"a\":-}", false},
    {"{\"a\":1E+2}", true},
    {"{\"a\":tru}", false},
    {"{\"a\":truex}", false},
    {"{\"a\":nul}", false},
    {"{\"a\":NaN}", false},
    {"{\"a\":Infinity}", false},
    {"{\"a\":1,}", false},
    {"{,}", false},
    {"{\"a\"}", false},
    {"{\"a\" 1}", false},
    {"{'a':1}", false},
    {"{a:1}", false},
    {"{\"a\":1} x", false},
    {"{\"a\":1}{}", false},
    {"{\"a\":[1,]}", false},
    {"{\"a\":[1 2]}", false},
    {"", false},
    {"   ", false},
    {"[]", false},                /* valid, but left to jansson */
    {"{\"a\":1,\"a\":2}", false}, /* valid, repeated key: left to jansson */
    {"{\"a\":{\"b\":1,\"b\":1}}", false},
    {"{\"a\":\"\\u0000\"}", false}, /* jansson refuses NUL */
    {"{\"a\":\"\\ud800\"}", false}, /* lone high surrogate */
    {"{\"a\":\"\\udc00\"}", false}, /* lone low surrogate */
    {"{\"a\":\"\\ud800\\u0041\"}", false},
    {"{\"a\":\"\\ud83c\\udfe0\"}", true},
    {"{\"a\":\"\\uDBFF\\uDFFF\"}", true},
    {"{\"a\":\"\\u12\"}", false},
    {"{\"a\":\"\\u12g4\"}", false},
    {"{\"a\":\"\\x\"}", false},
    {"{\"a\":\"\\'\"}", false},
    {"{\"a\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}", true},
    {"{\"a\":\"tab\there\"}", false}, /* raw control character */
    {"{\"a\":\"\x7f\"}", true},
    {"{\"a\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8F\xA0\"}", true},
    {"{\"a\":\"\xFF\"}", false},
    {"{\"a\":\"\xC3\"}", false},
    {"{\"a\":\"\xC0\xAF\"}", false},         /* overlong */
    {"{\"a\":\"\xED\xA0\x80\"}", false},     /* UTF-8 surrogate */
    {"{\"a\":\"\xF4\x90\x80\x80\"}", false}, /* past U+10FFFF */
    {"{\"\xC3\xA9\":1}", true},
    {"\xEF\xBB\xBF{}", false}, /* a byte order mark */
    {"{\"a\":\"unterminated}", false},
    {"{\"a\":1", false},
};

START_TEST(test_parse_table)
{
    const parse_case *c = &parse_cases[_i];
    msgjson_doc d;
    msgjson_init(&d);
    int rc = msgjson_parse(&d, c->text, strlen(c->text));
    ck_assert_msg(rc == (c->accepted ? 0 : -1), "%s: %d", c->text, rc);
    msgjson_fini(&d);
    /* Whatever msgjson decides, the writer's result is the reference's. The
     * writer reads "\u0000" as "\ufffd", which msgjson accepts. */
    bool fast = check_same(c->text, strlen(c->text), "table");
    ck_assert_int_eq(fast, c->accepted || strstr(c->text, "\\u0000") != NULL);
}
END_TEST

START_TEST(test_nul_byte_and_nesting)
{
    static const char nul[] = "{\"a\":\"x\0y\"}";
    check_same(nul, sizeof nul - 1, "raw NUL");
    /* MSGJSON_MAX_DEPTH levels are read; one more is left to jansson, and
     * past jansson's own limit both refuse. */
    for (int depth = MSGJSON_MAX_DEPTH - 1; depth <= MSGJSON_MAX_DEPTH + 1; depth++) {
        for (int leaf = 0; leaf < 2; leaf++) {
            char text[1024] = "{\"event_type\":\"state_changed\",\"time_ns\":1,"
                              "\"entity_id\":\"sensor.x\",\"new_state\":"
                              "{\"state\":\"1\",\"attributes\":{\"deep\":";
            size_t n = strlen(text);
            for (int k = 0; k < depth - 3; k++)
                text[n++] = '[';
            text[n++] = leaf ? '1' : ' ';
            for (int k = 0; k < depth - 3; k++)
                text[n++] = ']';
            memcpy(text + n, "}}}", 4);
            n += 3;
            bool fast = check_same(text, n, "nesting");
            ck_assert_int_eq(fast, depth <= MSGJSON_MAX_DEPTH);
        }
    }
    size_t deep = 5000;
    char *text = malloc(2 * deep + 16);
    ck_assert_ptr_nonnull(text);
    size_t n = 0;
    text[n++] = '{';
    memcpy(text + n, "\"a\":", 4);
    n += 4;
    for (size_t k = 0; k < deep; k++)
        text[n++] = '[';
    for (size_t k = 0; k < deep; k++)
        text[n++] = ']';
    text[n++] = '}';
    ck_assert(!check_same(text, n, "too deep for jansson"));
    free(text);
}
END_TEST

/* ---- generated hostile messages ------------------------------------------ */

static uint32_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Appends a JSON string's contents made of hostile atoms: line-protocol
 * specials, JSON escapes (surrogate pairs, lone surrogates, \u0000), UTF-8,
 * invalid bytes and raw control characters (rare, as they make the text
 * invalid). */
static void put_hostile(char **p)
{
    static const char *const atoms[] = {
        "a",
        "Z",
        "0",
        "9",
        ",",
        "=",
        " ",
        "\\\"",
        "\\\\",
        "\\n",
        "\\r",
        "\\t",
        "#",
        ".",
        "_",
        "\\/",
        "\\b",
        "\\f",
        "\\u00e9",
        "\\u20AC",
        "\\ud83c\\udfe0",
        "\\u0001",
        "\\u001f",
        "\\u0000",
        "\\u005c",
        "\\u0022",
        "12",
        "3.5",
        "nan",
        "1e999",
        "on",
        "\xC3\xA9",
        "\xE2\x82\xAC",
        "\xF0\x9F\x8F\xA0",
        "\\\\,",
        "\\\\ ",
        "\\\\=",
        "km",
    };
    static const char *const rare[] = {"\xFF",    "\xC3",    "\xED\xA0\x80", "\t",
                                       "\\ud800", "\\udc00", "\\x"};
    size_t parts = rnd() % 6;
    for (size_t i = 0; i < parts; i++) {
        const char *a = rnd() % 50 == 0 ? rare[rnd() % (sizeof rare / sizeof rare[0])]
                                        : atoms[rnd() % (sizeof atoms / sizeof atoms[0])];
        size_t al = strlen(a);
        memcpy(*p, a, al);
        *p += al;
    }
}

static void put(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n);
    *p += n;
}

/* A JSON value of any kind, mostly what HA's attributes hold. */
static void put_value(char **p, int depth)
{
    static const char *const scalars[] = {
        "0",
        "-0",
        "1",
        "-1",
        "21.5",
        "0.1",
        "1e20",
        "1E-7",
        "-0.0",
        "1e16",
        "123456789012345678",
        "9223372036854775807",
        "-9223372036854775808",
        "1e-400",
        "2.5e+300",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "1.0",
    };
    uint32_t r = rnd() % 10;
    if (r < 4) {
        put(p, "\"");
        put_hostile(p);
        put(p, "\"");
    } else if (r < 8 || depth > 3) {
        put(p, scalars[rnd() % (sizeof scalars / sizeof scalars[0])]);
    } else if (r == 8) {
        put(p, "[");
        size_t n = rnd() % 4;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(p, ",");
            put_value(p, depth + 1);
        }
        put(p, "]");
    } else {
        put(p, "{");
        size_t n = rnd() % 4;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(p, ",");
            put(p, "\"");
            put_hostile(p);
            put(p, "\":");
            put_value(p, depth + 1);
        }
        put(p, "}");
    }
}

/* A message of one of the enricher's shapes with hostile contents. */
/* Appends a value for a member the encoder never reads (old_state,
 * context): mostly valid, sometimes with a key repeated inside, sometimes
 * invalid in a way only a check of the value finds. */
static void put_unread(char **p)
{
    static const char *const odd[] = {
        "{\"state\":\"on\",\"state\":\"off\"}", "9223372036854775808", "-1e400",
        "\"\xFF\"", "\"\\u0000\"", "\"\\ud800\"", "[1,]", "{\"a\" 1}", "\"a\x01\"",
        "tru", "\"\\q\"", "{\"c\":{\"id\":\"01H\",\"parent_id\":null}}"};
    uint32_t r = rnd() % 12;
    if (r < 9) {
        put_value(p, 0);
    } else if (r < 11) {
        put(p, odd[rnd() % (sizeof odd / sizeof odd[0])]);
    } else {
        /* around the reader's nesting limit */
        int depth = MSGJSON_MAX_DEPTH - 2 + (int)(rnd() % 4);
        for (int i = 0; i < depth; i++)
            put(p, "[");
        for (int i = 0; i < depth; i++)
            put(p, "]");
    }
}

static size_t hostile_message(char *buf)
{
    static const char *const types[] = {
        "state_changed", "state_changed",    "state_changed", "weather",
        "presence",      "homestream_stats", "call_service"};
    static const char *const attr_names[] = {
        "unit_of_measurement",
        "device_class",
        "friendly_name",
        "state",
        "time",
        "value",
        "state_",
        "",
        "x y",
        "k=v",
    };
    char *p = buf;
    put(&p, "{\"schema\":1,\"event_type\":\"");
    put(&p, types[rnd() % (sizeof types / sizeof types[0])]);
    put(&p, "\"");
    if (rnd() % 8 != 0) {
        put(&p, ",\"entity_id\":\"sensor.");
        put_hostile(&p);
        put(&p, "\"");
    }
    static const char *const times[] = {
        ",\"time_ns\":1763765318123456000", ",\"time_ns\":-5", ",\"time_ns\":1.5",
        ",\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\"", ""};
    put(&p, times[rnd() % (sizeof times / sizeof times[0])]);
    static const char *const keys[] = {"site",      "area", "domain",
                                       "object_id", "unit", "stage"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (rnd() % 3 == 0)
            continue;
        put(&p, ",\"");
        put(&p, keys[k]);
        put(&p, "\":");
        if (rnd() % 6 == 0) {
            put_value(&p, 3);
        } else {
            put(&p, "\"");
            put_hostile(&p);
            put(&p, "\"");
        }
    }
    if (rnd() % 2)
        put(&p, rnd() % 2 ? ",\"value\":21.5" : ",\"value\":3");
    if (rnd() % 10 != 0) {
        put(&p,
            ",\"new_state\":{\"last_updated\":\"2026-11-21T22:48:38+00:00\",\"state\":");
        if (rnd() % 10 == 0) {
            put_value(&p, 3);
        } else {
            put(&p, "\"");
            put_hostile(&p);
            put(&p, "\"");
        }
        put(&p, ",\"attributes\":{");
        size_t n = rnd() % 7;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(&p, ",");
            put(&p, "\"");
            if (rnd() % 2)
                put(&p, attr_names[rnd() % (sizeof attr_names / sizeof attr_names[0])]);
            else
                put_hostile(&p);
            put(&p, "\":");
            put_value(&p, 0);
        }
        put(&p, "}}");
    }
    if (rnd() % 3 == 0) {
        put(&p, ",\"weather\":{\"temperature\":");
        put_value(&p, 3);
        put(&p, ",\"condition\":");
        put_value(&p, 3);
        put(&p, ",\"provider\":\"met\"}");
    }
    if (rnd() % 3 == 0) {
        put(&p, ",\"presence\":{\"anyone_home\":");
        put_value(&p, 3);
        put(&p, ",\"people_home\":");
        put_value(&p, 3);
        put(&p, "}");
    }
    if (rnd() % 3 == 0) {
        put(&p, ",\"stats\":{\"a\":1,\"time\":");
        put_value(&p, 3);
        put(&p, ",\"");
        put_hostile(&p);
        put(&p, "\":");
        put_value(&p, 3);
        put(&p, "}");
    }
    if (rnd() % 8 == 0)
        put(&p, ",\"data\":{\"domain\":\"light\",\"service_data\":[1,\"x\",null]}");
    /* Members the encoder never reads, valid or not. */
    static const char *const unread[] = {",\"old_state\":", ",\"context\":"};
    for (size_t u = 0; u < 2; u++) {
        for (uint32_t k = rnd() % 5 == 0 ? 2 : 1; k > 0 && rnd() % 2; k--) {
            put(&p, unread[u]);
            put_unread(&p);
        }
    }
    put(&p, "}");
    *p = '\0';
    return (size_t)(p - buf);
}

START_TEST(test_hostile_messages)
{
    rng_state = 2463534242u + (uint32_t)_i * 7919u;
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    unsigned fast = 0, total = 800;
    for (unsigned i = 0; i < total; i++) {
        size_t n = hostile_message(buf);
        fast += check_same(buf, n, "hostile") ? 1u : 0u;
    }
    /* Most generated messages are valid and take the fast path, so the
     * comparison above is not only of the fallback with itself. */
    ck_assert_uint_gt(fast, total / 3);
    free(buf);
}
END_TEST

/* ---- the fast paths against what they replace ----------------------------- */

/* A random decimal text in JSON's grammar (or Python's when py: a '+' sign,
 * a bare "5." or ".5"), of 1 to 19 digits with leading zeros, a fraction
 * and an exponent around the fast path's limits. Returns its length. */
static size_t random_decimal(char *buf, bool py)
{
    char *p = buf;
    uint32_t r = rnd();
    if (r % 3 == 0)
        *p++ = '-';
    else if (py && r % 7 == 0)
        *p++ = '+';
    int intd = (int)(rnd() % 10), fracd = (int)(rnd() % 12);
    if (!py && intd == 0)
        intd = 1;
    if (intd + fracd == 0)
        fracd = 1;
    bool lead = rnd() % 4 == 0; /* leading zeros, where JSON allows them */
    for (int i = 0; i < intd; i++)
        *p++ = (char)('0' + ((i == 0 && intd > 1 && !py) ? 1 + rnd() % 9
                             : lead && i < 3              ? 0
                                                          : rnd() % 10));
    if (!py && intd > 1 && buf[buf[0] == '-'] == '0')
        buf[buf[0] == '-'] = '1';
    if (fracd > 0 || (py && rnd() % 8 == 0)) {
        *p++ = '.';
        for (int i = 0; i < fracd; i++)
            *p++ = (char)('0' + (lead && i < 5 ? 0 : rnd() % 10));
    }
    if (rnd() % 3 == 0) {
        *p++ = rnd() % 2 ? 'e' : 'E';
        if (rnd() % 2)
            *p++ = rnd() % 2 ? '-' : '+';
        p += sprintf(p, "%u", rnd() % 40);
    }
    *p = '\0';
    return (size_t)(p - buf);
}

/* hs_jscan_exact_decimal gives strtod's double, bit for bit, whenever it
 * answers, and answers for the short decimals messages carry; the reader
 * and Python's float() give strtod's double for every text. */
START_TEST(test_exact_decimal)
{
    rng_state = 912367u;
    unsigned answered = 0, total = 6000;
    char text[96], json[128];
    msgjson_doc d;
    msgjson_init(&d);
    for (unsigned i = 0; i < total; i++) {
        bool py = i % 2 == 1;
        size_t n = random_decimal(text, py);
        double want = strtod(text, NULL), got = 0;
        if (hs_jscan_exact_decimal(text, n, &got)) {
            answered++;
            ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, strtod %.17g",
                          text, got, want);
        }
        if (py) {
            double a = 0, b = 0;
            ck_assert_int_eq(lineproto_parse_pyfloat(text, n, &a), 0);
            ck_assert_int_eq(lineproto_ref_parse_pyfloat(text, n, &b), 0);
            ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s: %.17g, before %.17g", text, a,
                          b);
            continue;
        }
        int jn = snprintf(json, sizeof json, "{\"v\":%s}", text);
        int rc = msgjson_parse(&d, json, (size_t)jn);
        if (rc != 0) {
            ck_assert_msg(isinf(want), "%s declined", text);
            continue;
        }
        const msgjson_node *v = msgjson_get(msgjson_root(&d), "v");
        if (v->type == MSGJSON_REAL)
            ck_assert_msg(memcmp(&v->u.d, &want, sizeof want) == 0, "%s: %.17g", text,
                          v->u.d);
    }
    msgjson_fini(&d);
    ck_assert_uint_gt(answered, total / 3);
    static const char *const edges[] = {"0.0",   "-0.0",   "1e22",  "1e23", "-1e-22",
                                        "1e-23", "999999999999999.0", "9999999999999999.0",
                                        "0.1",   "5e-324", "1.7976931348623157e308",
                                        "123456789012345e7", "0.000000000000000000001"};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        double want = strtod(edges[i], NULL), got;
        if (hs_jscan_exact_decimal(edges[i], strlen(edges[i]), &got))
            ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s", edges[i]);
    }
    double z;
    ck_assert(hs_jscan_exact_decimal("-0.0", 4, &z) && z == 0 && signbit(z));
    ck_assert(!hs_jscan_exact_decimal("1e23", 4, &z));
    ck_assert(!hs_jscan_exact_decimal("1234567890123456", 16, &z));
}
END_TEST

/* Objects of every size up to past the reader's hash table, with a repeated
 * key or none, among keys made to collide in its hash (same length, first,
 * middle and last byte): declined exactly when a key repeats. */
START_TEST(test_duplicate_keys)
{
    rng_state = 4711u;
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    msgjson_doc d;
    msgjson_init(&d);
    for (unsigned members = 1; members <= 140; members += members < 20 ? 1 : 11) {
        for (int dup = 0; dup < 2; dup++) {
            if (dup && members < 2)
                continue;
            unsigned a = rnd() % members, b = rnd() % members;
            if (a == b)
                b = (a + 1) % members;
            char *p = buf;
            p += sprintf(p, "{\"event_type\":\"x\",\"o\":{");
            for (unsigned i = 0; i < members; i++) {
                unsigned id = dup && i == b ? a : i;
                /* "k" + 4 digits + "x": alike in length, first, middle and
                 * last byte whenever the middle digit agrees */
                p += sprintf(p, "%s\"k%02u5%02ux\":%u", i ? "," : "", id / 100, id % 100,
                             i);
            }
            p += sprintf(p, "}}");
            int rc = msgjson_parse(&d, buf, (size_t)(p - buf));
            ck_assert_msg(rc == (dup ? -1 : 0), "%u members, dup %d: %d", members, dup, rc);
            if (members == 9 || members == 130)
                check_same(buf, (size_t)(p - buf), "duplicate keys");
        }
    }
    msgjson_fini(&d);
    free(buf);
}
END_TEST

/* Texts as dense in nodes as JSON allows (numbers, empty containers,
 * nesting, short keys) and texts whose strings are full of the bytes the
 * reader counts to bound its nodes, below and above the size from which it
 * counts, read into a new document and into one reused: every node is
 * built (the root's span counts them) and, under valgrind or ASan, none
 * past the room reserved. */
START_TEST(test_dense_texts)
{
    static const char *const units[] = {"1,", "[],", "{},", "[[1]],", "\"\",",
                                        "\",:{[,:{[\","};
    size_t total = 1 << 17;
    char *buf = malloc(total + 64);
    ck_assert_ptr_nonnull(buf);
    msgjson_doc reused;
    msgjson_init(&reused);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        for (size_t size = 64; size <= total; size *= 4) {
            size_t ul = strlen(units[u]), n = 0, members = 0;
            n += (size_t)sprintf(buf, "{\"a\":[");
            while (n + ul + 8 < size) {
                memcpy(buf + n, units[u], ul);
                n += ul;
                members++;
            }
            n--; /* the last comma */
            n += (size_t)sprintf(buf + n, "],\"b\":{");
            for (size_t k = 0; n + 16 < size + 64 && k < members % 50; k++)
                n += (size_t)sprintf(buf + n, "%s\"%zx\":0", k ? "," : "", k);
            n += (size_t)sprintf(buf + n, "}}");
            char *exact = malloc(n);
            ck_assert_ptr_nonnull(exact);
            memcpy(exact, buf, n);
            msgjson_doc fresh;
            msgjson_init(&fresh);
            int rc = msgjson_parse(&fresh, exact, n);
            ck_assert_msg(rc == 0, "%s x %zu: %d", units[u], members, rc);
            ck_assert_uint_eq(fresh.nodes[0].span, fresh.n);
            const msgjson_node *a = msgjson_get(msgjson_root(&fresh), "a");
            ck_assert_uint_eq(a->count, members);
            ck_assert_int_eq(msgjson_parse(&reused, exact, n), 0);
            ck_assert_uint_eq(reused.n, fresh.n);
            msgjson_fini(&fresh);
            free(exact);
        }
    }
    msgjson_fini(&reused);
    free(buf);
}
END_TEST

/* Reals of 16 to 19 digits without an exponent (doubles printed with
 * "%.17g", as Python's repr and the enricher print them, and random digit
 * strings with the point anywhere), which the reader computes without
 * strtod when 128-bit products show its candidate is the nearest double:
 * bit for bit strtod's value, every time. */
START_TEST(test_long_decimals)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char text[64], json[96];
    msgjson_doc d;
    msgjson_init(&d);
    for (int i = 0, n = test_count(60000); i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 2 == 0) {
            double v;
            memcpy(&v, &x, sizeof v);
            v = fmod(fabs(v), 1e6) * (x % 3 == 0 ? -1 : 1);
            if (!isfinite(v))
                continue;
            snprintf(text, sizeof text, "%.*f", (int)(x % 18), v);
        } else {
            int digits = 16 + (int)(x % 4),
                point = 1 + (int)((x >> 8) % (uint64_t)(digits - 1));
            char *p = text;
            if (x >> 60 & 1)
                *p++ = '-';
            uint64_t r = x;
            for (int k = 0; k < digits; k++) {
                if (k == point)
                    *p++ = '.';
                int digit = (int)(r % 10);
                r = r / 10 ^ (uint64_t)k * 0x2545F4914F6CDD1Dull;
                *p++ = (char)('0' + (k == 0 && point > 1 && digit == 0 ? 1 : digit));
            }
            *p = '\0';
        }
        double want = strtod(text, NULL);
        int jn = snprintf(json, sizeof json, "{\"v\":%s}", text);
        ck_assert_int_eq(msgjson_parse(&d, json, (size_t)jn), 0);
        const msgjson_node *v = msgjson_get(msgjson_root(&d), "v");
        ck_assert(v->type == MSGJSON_REAL || strchr(text, '.') == NULL);
        if (v->type == MSGJSON_REAL)
            ck_assert_msg(memcmp(&v->u.d, &want, sizeof want) == 0,
                          "%s: %.17g, strtod %.17g", text, v->u.d, want);
    }
    static const char *const edges[] = {"274.19999999999999", "0.10000000000000001",
                                        "9007199254740993.0", "9007199254740992.5",
                                        "4503599627370496.5", "0.30000000000000004",
                                        "1.0000000000000002", "0.99999999999999989",
                                        "123456789.12345678", "-0.0000000000000000001"};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        double want = strtod(edges[i], NULL);
        int jn = snprintf(json, sizeof json, "{\"v\":%s}", edges[i]);
        ck_assert_int_eq(msgjson_parse(&d, json, (size_t)jn), 0);
        const msgjson_node *v = msgjson_get(msgjson_root(&d), "v");
        ck_assert_msg(memcmp(&v->u.d, &want, sizeof want) == 0, "%s", edges[i]);
    }
    msgjson_fini(&d);
}
END_TEST

/* Random objects whose keys come from a few letters and escapes that
 * decode to them ("\u0061" is "a"), so that keys repeat often, look alike
 * to the reader's key hash (length, first and last byte) without
 * repeating, and repeat only once decoded: declined exactly when jansson
 * with JSON_REJECT_DUPLICATES refuses a text plain jansson accepts. */
START_TEST(test_duplicate_keys_random)
{
    static const char *const atoms[] = {"a", "b",       "\\u0061",  "\\u0062", "ab",
                                        "",  "\\u00e9", "\xC3\xA9", "a\\u0000"};
    rng_state = 1234567u;
    char buf[4096];
    msgjson_doc d;
    msgjson_init(&d);
    unsigned declined = 0, accepted = 0;
    int rounds = test_count(4000);
    for (int i = 0; i < rounds; i++) {
        char *p = buf;
        put(&p, "{\"o\":{");
        unsigned members = 1 + rnd() % 12;
        for (unsigned m = 0; m < members; m++) {
            put(&p, m ? ",\"" : "\"");
            unsigned parts = rnd() % 4;
            for (unsigned k = 0; k < parts; k++)
                put(&p, atoms[rnd() % (sizeof atoms / sizeof atoms[0])]);
            put(&p, rnd() % 3 ? "\":1" : "\":{\"x\":[]}");
        }
        put(&p, "}}");
        size_t n = (size_t)(p - buf);
        json_t *plain = json_loadb(buf, n, 0, NULL);
        json_t *strict = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
        int rc = msgjson_parse(&d, buf, n);
        bool want = plain != NULL && strict != NULL;
        ck_assert_msg((rc == 0) == want, "%.*s: %d", (int)n, buf, rc);
        if (rc == 0)
            accepted++;
        else if (plain != NULL)
            declined++;
        json_decref(plain);
        json_decref(strict);
    }
    ck_assert_uint_gt(accepted, (unsigned)rounds / 10);
    ck_assert_uint_gt(declined, (unsigned)rounds / 10);
    msgjson_fini(&d);
}
END_TEST

/* Node by node, doc f (msgjson_parse_filtered) is doc u (msgjson_parse)
 * with the subtree of every MSGJSON_SKIPPED node of f taken out. */
static void check_filtered_nodes(const msgjson_doc *f, const msgjson_doc *u,
                                 const char *text)
{
    size_t i = 0, j = 0;
    unsigned skipped = 0;
    while (i < f->n && j < u->n) {
        const msgjson_node *a = &f->nodes[i], *b = &u->nodes[j];
        if (a->type == MSGJSON_SKIPPED) {
            ck_assert_uint_eq(a->span, 1);
            i++;
            j += b->span;
            skipped++;
            continue;
        }
        ck_assert_msg(a->type == b->type && a->count == b->count, "node %zu: %s", i,
                      text);
        if (a->type == MSGJSON_STRING)
            ck_assert(memcmp(a->u.s, b->u.s, a->count + 1) == 0);
        else if (a->type == MSGJSON_INTEGER)
            ck_assert(a->u.i == b->u.i);
        else if (a->type == MSGJSON_REAL)
            ck_assert(memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0);
        i++;
        j++;
    }
    ck_assert_msg(i == f->n && j == u->n, "%zu/%zu of %zu/%zu nodes: %s", i, j, f->n,
                  u->n, text);
    /* The spans agree with what was taken out. */
    ck_assert_uint_eq(f->nodes[0].span, f->n);
    (void)skipped;
}

/* msgjson_parse_filtered accepts exactly the hostile messages msgjson_parse
 * accepts (a skipped member is read as strictly, up to the same nesting
 * limit), and builds the same nodes but for the skipped subtrees. */
START_TEST(test_filter_same_as_unfiltered)
{
    static const msgjson_filter inner[] = {MSGJSON_FILTER_KEY("context", NULL),
                                           MSGJSON_FILTER_KEY("attributes", NULL),
                                           MSGJSON_FILTER_END};
    static const msgjson_filter top[] = {
        MSGJSON_FILTER_KEY("old_state", NULL),  MSGJSON_FILTER_KEY("context", NULL),
        MSGJSON_FILTER_KEY("site", NULL),       MSGJSON_FILTER_KEY("area", NULL),
        MSGJSON_FILTER_KEY("new_state", inner), MSGJSON_FILTER_END};
    rng_state = 77u;
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    msgjson_doc f, u;
    msgjson_init(&f);
    msgjson_init(&u);
    unsigned both = 0;
    int rounds = test_count(3000);
    for (int i = 0; i < rounds; i++) {
        size_t n = hostile_message(buf);
        int urc = msgjson_parse(&u, buf, n);
        int frc = msgjson_parse_filtered(&f, buf, n, top);
        ck_assert_msg(urc == frc, "%d, filtered %d: %s", urc, frc, buf);
        if (urc == 0) {
            check_filtered_nodes(&f, &u, buf);
            both++;
        }
    }
    ck_assert_uint_gt(both, (unsigned)rounds * 2 / 15);
    /* Nesting up to the limit inside a skipped member, and one more. */
    for (int depth = MSGJSON_MAX_DEPTH - 2; depth <= MSGJSON_MAX_DEPTH; depth++) {
        char *p = buf;
        put(&p, "{\"old_state\":");
        for (int k = 1; k < depth; k++)
            put(&p, k % 2 ? "[" : "{\"a\":");
        put(&p, "0");
        for (int k = depth - 1; k >= 1; k--)
            put(&p, k % 2 ? "]" : "}");
        put(&p, "}");
        size_t n = (size_t)(p - buf);
        int urc = msgjson_parse(&u, buf, n);
        ck_assert_int_eq(urc, depth <= MSGJSON_MAX_DEPTH ? 0 : -1);
        ck_assert_int_eq(msgjson_parse_filtered(&f, buf, n, top), urc);
    }
    msgjson_fini(&f);
    msgjson_fini(&u);
    free(buf);
}
END_TEST

/* Copies the JSON text in[0..n) to out with whitespace (' ', '\t', '\n',
 * '\r', one to three bytes) put at random before and after structural
 * characters outside strings. Returns the new length. */
static size_t add_whitespace(const char *in, size_t n, char *out)
{
    static const char ws[] = " \t\n\r";
    size_t k = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        bool structural = !in_string && strchr("{}[],:", c) != NULL;
        if (structural && rnd() % 2)
            for (unsigned w = 1 + rnd() % 3; w > 0; w--)
                out[k++] = ws[rnd() % 4];
        out[k++] = c;
        if (in_string && c == '\\' && i + 1 < n) {
            out[k++] = in[++i];
            continue;
        }
        if (c == '"')
            in_string = !in_string;
        if (structural && rnd() % 2)
            for (unsigned w = 1 + rnd() % 3; w > 0; w--)
                out[k++] = ws[rnd() % 4];
    }
    return k;
}

/* Whitespace anywhere JSON allows it changes neither the verdict nor a
 * node; and every proper prefix of a message is declined, read from a
 * buffer of exactly its size (so that valgrind and ASan see any read past
 * the end of the text, which the 16-byte loads must not make). */
START_TEST(test_whitespace_and_prefixes)
{
    rng_state = 99991u;
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filter = lineproto_filter(&ha);
    char *buf = malloc(1 << 16), *spaced = malloc(1 << 18);
    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(spaced);
    msgjson_doc a, b;
    msgjson_init(&a);
    msgjson_init(&b);
    writer_gen g;
    writer_gen_init_full(&g, 10, 1763765318000000000);
    for (int i = 0; i < 400; i++) {
        size_t n;
        if (i % 2 == 0) {
            n = hostile_message(buf);
        } else {
            char *t = writer_gen_next(&g);
            ck_assert_ptr_nonnull(t);
            n = strlen(t);
            memcpy(buf, t, n + 1);
            free(t);
        }
        size_t sn = add_whitespace(buf, n, spaced);
        int ra = msgjson_parse(&a, buf, n), rb = msgjson_parse(&b, spaced, sn);
        ck_assert_msg(ra == rb, "%d, spaced %d: %.*s", ra, rb, (int)sn, spaced);
        if (ra == 0)
            check_filtered_nodes(&b, &a, spaced); /* no node skipped: all equal */
        check_same(spaced, sn, "whitespace");
        ra = msgjson_parse_filtered(&a, buf, n, filter);
        rb = msgjson_parse_filtered(&b, spaced, sn, filter);
        ck_assert_int_eq(ra, rb);
        if (i % 20 == 1) {
            /* Up to the closing brace: the whitespace after it may go. */
            size_t last = sn;
            while (last > 0 && spaced[last - 1] != '}')
                last--;
            for (size_t k = test_first((size_t)i); k < last; k += test_stride()) {
                char *exact = malloc(k ? k : 1);
                ck_assert_ptr_nonnull(exact);
                memcpy(exact, spaced, k);
                ck_assert_msg(msgjson_parse(&a, exact, k) == -1, "prefix %zu accepted",
                              k);
                ck_assert(msgjson_parse_filtered(&a, exact, k, filter) == -1);
                free(exact);
            }
        }
    }
    msgjson_fini(&a);
    msgjson_fini(&b);
    free(buf);
    free(spaced);
}
END_TEST

/* Strings with an escape, a UTF-8 sequence, an invalid byte or a raw control
 * character at every position around the reader's and the dumper's 8-byte
 * words: the same string as jansson reads, the same text as it prints. */
START_TEST(test_string_word_edges)
{
    static const char *const atoms[] = {"\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83c\\udfe0",
                                        "\xC3\xA9", "\xE2\x82\xAC", "\xFF", "\x01", "\x7f",
                                        "\\u001f"};
    char text[256], str[128];
    msgjson_doc d;
    msgjson_init(&d);
    lineproto_buf a, b;
    lineproto_buf_init(&a);
    lineproto_buf_init(&b);
    for (size_t at = 0; at < sizeof atoms / sizeof atoms[0]; at++) {
        for (int len = 0; len <= 17; len++) {
            for (int pos = 0; pos <= len; pos++) {
                int n = 0;
                for (int i = 0; i < len; i++)
                    str[n++] = (char)('a' + i % 26);
                memmove(str + pos + strlen(atoms[at]), str + pos, (size_t)(n - pos));
                memcpy(str + pos, atoms[at], strlen(atoms[at]));
                n += (int)strlen(atoms[at]);
                int tn = snprintf(text, sizeof text, "{\"s\":\"%.*s\",\"k%.*s\":1}", n, str,
                                  n, str);
                json_t *j = json_loadb(text, (size_t)tn, 0, NULL);
                int rc = msgjson_parse(&d, text, (size_t)tn);
                ck_assert_int_eq(rc == 0, j != NULL);
                if (j != NULL) {
                    const char *js = json_string_value(json_object_get(j, "s"));
                    const msgjson_node *v = msgjson_get(msgjson_root(&d), "s");
                    ck_assert_uint_eq(v->count, strlen(js));
                    ck_assert_str_eq(msgjson_str(v), js);
                    /* and printed back as json_dumps prints it */
                    lineproto_buf_truncate(&a, 0);
                    ck_assert_int_eq(msgjson_dump_string(v->u.s, v->count, &a), 0);
                    char *jd = json_dumps(json_object_get(j, "s"), JSON_ENCODE_ANY);
                    ck_assert_str_eq(a.data, jd);
                    free(jd);
                    /* line-protocol escaping, as the byte-at-a-time original */
                    for (int part = 0; part <= LINEPROTO_FIELD_KEY; part++) {
                        lineproto_buf_truncate(&a, 0);
                        lineproto_buf_truncate(&b, 0);
                        ck_assert_int_eq(lineproto_append_escaped(&a, (lineproto_part)part,
                                                                  v->u.s, v->count),
                                         0);
                        ck_assert_int_eq(lineproto_ref_append_escaped(
                                             &b, (lineproto_part)part, v->u.s, v->count),
                                         0);
                        ck_assert_str_eq(a.data, b.data);
                    }
                }
                json_decref(j);
                /* msgjson_dump_string refuses what jansson refuses */
                lineproto_buf_truncate(&a, 0);
                json_t *raw = json_stringn_nocheck(str, (size_t)n);
                char *rd = raw ? json_dumps(raw, JSON_ENCODE_ANY) : NULL;
                json_t *valid = json_stringn(str, (size_t)n);
                int drc = msgjson_dump_string(str, (size_t)n, &a);
                ck_assert_int_eq(drc == 0, valid != NULL);
                if (drc == 0)
                    ck_assert_str_eq(a.data, rd);
                free(rd);
                json_decref(raw);
                json_decref(valid);
            }
        }
    }
    /* Line-protocol escaping of every byte at every position of a word. */
    for (int c = 1; c < 256; c++) {
        for (int len = 1; len <= 17; len += 8) {
            for (int pos = 0; pos < len; pos++) {
                for (int i = 0; i < len; i++)
                    str[i] = (char)('a' + i % 26);
                str[pos] = (char)c;
                for (int part = 0; part <= LINEPROTO_FIELD_KEY; part++) {
                    lineproto_buf_truncate(&a, 0);
                    lineproto_buf_truncate(&b, 0);
                    ck_assert_int_eq(
                        lineproto_append_escaped(&a, (lineproto_part)part, str, (size_t)len),
                        0);
                    ck_assert_int_eq(lineproto_ref_append_escaped(&b, (lineproto_part)part,
                                                                  str, (size_t)len),
                                     0);
                    ck_assert_msg(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                                  "byte %d at %d of %d, part %d", c, pos, len, part);
                }
            }
        }
    }
    /* JSON string dumping of every byte that json_dumps escapes or checks
     * (controls, quote, backslash, bytes from 0x80 up: alone, never valid
     * UTF-8) and a plain one, at every position around the dumper's 16-
     * and 8-byte blocks, against jansson. */
    static const int lens[] = {1, 7, 8, 9, 15, 16, 17, 31, 33};
    static const unsigned char probes[] = {'"', '\\', 0x7f, 0x80, 0xbf, 0xc2, 0xe2, 0xf0, 0xff, 'a'};
    for (int pc = 1; pc < 0x20 + (int)sizeof probes; pc++) {
        int c = pc < 0x20 ? pc : probes[pc - 0x20];
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            int len = lens[l];
            for (int pos = 0; pos < len; pos++) {
                for (int i = 0; i < len; i++)
                    str[i] = (char)('a' + i % 26);
                str[pos] = (char)c;
                lineproto_buf_truncate(&a, 0);
                ck_assert_int_eq(lineproto_buf_append(&a, "x", 1), 0);
                json_t *valid = json_stringn(str, (size_t)len);
                int drc = msgjson_dump_string(str, (size_t)len, &a);
                ck_assert_int_eq(drc == 0, valid != NULL);
                if (valid != NULL) {
                    char *jd = json_dumps(valid, JSON_ENCODE_ANY);
                    ck_assert_str_eq(a.data + 1, jd);
                    free(jd);
                } else {
                    ck_assert_str_eq(a.data, "x"); /* refused: out unchanged */
                }
                json_decref(valid);
            }
        }
    }
    lineproto_buf_fini(&a);
    lineproto_buf_fini(&b);
    msgjson_fini(&d);
}
END_TEST

/* ---- corpora ------------------------------------------------------------ */

START_TEST(test_fuzz_corpus)
{
    DIR *dir = opendir(FUZZ_CORPUS_DIR);
    ck_assert_msg(dir != NULL, "cannot open %s", FUZZ_CORPUS_DIR);
    struct dirent *e;
    unsigned files = 0, fast = 0;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", FUZZ_CORPUS_DIR, e->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        char *text = malloc(1 << 20);
        ck_assert_ptr_nonnull(text);
        size_t n = fread(text, 1, 1 << 20, f);
        fclose(f);
        fast += check_same(text, n, e->d_name) ? 1u : 0u;
        free(text);
        files++;
    }
    closedir(dir);
    ck_assert_uint_ge(files, 20);
    ck_assert_uint_ge(fast, files / 2);
}
END_TEST

START_TEST(test_generated_events)
{
    /* Lean events and Home Assistant's whole ones (old_state, contexts),
     * which the ha schema's filter skips in part: neither may fall back. */
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    msgjson_doc doc;
    msgjson_init(&doc);
    for (int full = 0; full < 2; full++) {
        writer_gen g;
        if (full)
            writer_gen_init_full(&g, 50, 1763765318000000000);
        else
            writer_gen_init(&g, 50, 1763765318000000000);
        for (int i = 0; i < 300; i++) {
            char *text = writer_gen_next(&g);
            ck_assert_ptr_nonnull(text);
            ck_assert_msg(check_same(text, strlen(text), "writer_gen"),
                          "the benchmark's event took the slow path: %s", text);
            ck_assert_msg(msgjson_parse_filtered(&doc, text, strlen(text),
                                                 lineproto_filter(&ha)) == 0,
                          "the benchmark's event took the slow path (filtered): %s",
                          text);
            if (full) {
                const msgjson_node *old = msgjson_get(msgjson_root(&doc), "old_state");
                ck_assert_ptr_nonnull(old);
                ck_assert_int_eq(old->type, MSGJSON_SKIPPED);
            }
            free(text);
        }
    }
    msgjson_fini(&doc);
}
END_TEST

/* msgjson_parse_filtered: listed members become one MSGJSON_SKIPPED node
 * each (scalars and containers), a sub filter reaches into an object, the
 * rest is built as msgjson_parse builds it; a skipped value is validated
 * as strictly, duplicate keys are still found, and a skipped "\u0000"
 * escape is declined as msgjson_parse declines it. */
START_TEST(test_filter)
{
    static const msgjson_filter inner[] = {MSGJSON_FILTER_KEY("ctx", NULL),
                                           MSGJSON_FILTER_END};
    static const msgjson_filter top[] = {
        MSGJSON_FILTER_KEY("old", NULL), MSGJSON_FILTER_KEY("n", NULL),
        MSGJSON_FILTER_KEY("ns", inner), MSGJSON_FILTER_END};
    msgjson_doc d;
    msgjson_init(&d);
    const char *ok = "{\"a\":1,\"old\":{\"x\":[1,{\"y\":\"\\u00e9\"}],\"z\":null},"
                     "\"n\":-2.5,\"ns\":{\"ctx\":[true],\"s\":\"on\"},\"b\":\"t\"}";
    ck_assert_int_eq(msgjson_parse_filtered(&d, ok, strlen(ok), top), 0);
    const msgjson_node *root = msgjson_root(&d);
    ck_assert_int_eq(root->count, 5);
    ck_assert_int_eq(msgjson_get(root, "a")->u.i, 1);
    ck_assert_int_eq(msgjson_get(root, "old")->type, MSGJSON_SKIPPED);
    ck_assert_int_eq(msgjson_get(root, "old")->span, 1);
    ck_assert_int_eq(msgjson_get(root, "n")->type, MSGJSON_SKIPPED);
    const msgjson_node *ns = msgjson_get(root, "ns");
    ck_assert_int_eq(ns->type, MSGJSON_OBJECT);
    ck_assert_int_eq(msgjson_get(ns, "ctx")->type, MSGJSON_SKIPPED);
    ck_assert_str_eq(msgjson_str(msgjson_get(ns, "s")), "on");
    ck_assert_str_eq(msgjson_str(msgjson_get(root, "b")), "t");
    lineproto_buf out;
    lineproto_buf_init(&out);
    ck_assert_int_eq(msgjson_dump(root, &out), -1);
    ck_assert_int_eq(msgjson_dump(ns + 4, &out), 0); /* "s":"on" */
    ck_assert_str_eq(out.data, "\"on\"");
    lineproto_buf_fini(&out);
    /* A scalar listed with a sub filter is built as it is. */
    const char *scalar_ns = "{\"ns\":7}";
    ck_assert_int_eq(msgjson_parse_filtered(&d, scalar_ns, strlen(scalar_ns), top), 0);
    ck_assert_int_eq(msgjson_get(msgjson_root(&d), "ns")->u.i, 7);
    static const char *const bad[] = {
        "{\"old\":{\"x\":1,\"x\":2}}",  "{\"old\":[1,]}",
        "{\"old\":{\"s\":\"\\u0000\"}}", "{\"old\":\"\\u0000\"}",
        "{\"old\":\"\xC0\xAF\"}",         "{\"old\":9223372036854775808}",
        "{\"old\":[1e400]}",                "{\"old\":1,\"old\":{}}",
        "{\"ns\":{\"ctx\":{\"a\" 1}}}",      "{\"old\":{\"a\":\"\x01\"}}",
        "{\"old\":tru}",                    "{\"n\":01}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(msgjson_parse_filtered(&d, bad[i], strlen(bad[i]), top) == -1,
                      "accepted %s", bad[i]);
        ck_assert_msg(msgjson_parse(&d, bad[i], strlen(bad[i])) == -1,
                      "msgjson_parse accepted %s", bad[i]);
    }
    msgjson_fini(&d);
}
END_TEST

/* ---- memoized members ---------------------------------------------------- */

/* Reads text[0..n) (copied to a buffer of exactly its size, so that
 * valgrind and ASan see a read past its end) with filter into the reused
 * document r and into a new one: the same result and then the same
 * document, node for node (type, span, count, value, each string's bytes
 * and offset in the strings). Returns the result. */
static int check_reused(msgjson_doc *r, const char *text, size_t n,
                        const msgjson_filter *filter)
{
    char *exact = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, text, n);
    msgjson_doc f;
    msgjson_init(&f);
    int frc = msgjson_parse_filtered(&f, exact, n, filter);
    int rrc = msgjson_parse_filtered(r, exact, n, filter);
    ck_assert_msg(frc == rrc, "reused %d, new %d: %.*s", rrc, frc, (int)n, text);
    if (frc == 0) {
        ck_assert_msg(r->n == f.n && r->slen == f.slen, "%zu nodes, new %zu: %.*s", r->n,
                      f.n, (int)n, text);
        ck_assert(memcmp(r->str, f.str, f.slen) == 0);
        for (size_t i = 0; i < f.n; i++) {
            const msgjson_node *a = &r->nodes[i], *b = &f.nodes[i];
            ck_assert_msg(a->type == b->type && a->span == b->span &&
                              a->count == b->count,
                          "node %zu: %.*s", i, (int)n, text);
            if (a->type == MSGJSON_STRING)
                ck_assert_msg(a->u.s - r->str == b->u.s - f.str, "string %zu: %.*s", i,
                              (int)n, text);
            else
                ck_assert_msg(memcmp(&a->u, &b->u, sizeof a->u) == 0, "value %zu: %.*s",
                              i, (int)n, text);
        }
    }
    msgjson_fini(&f);
    free(exact);
    return frc;
}

/* An enriched message's text around its weather and presence members (as
 * they are given, from the colon on: NULL leaves the member out) and value;
 * its new_state comes first, unless weather brings its own. */
static size_t memo_message(char *buf, const char *weather, const char *presence,
                           const char *value)
{
    char *p = buf;
    put(&p, "{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.t\"");
    if (weather == NULL || strstr(weather, "\"new_state\"") == NULL)
        put(&p, ",\"new_state\":{\"state\":\"1\",\"context\":{\"id\":\"c\"}}");
    if (weather != NULL) {
        put(&p, ",\"weather\"");
        put(&p, weather);
    }
    if (presence != NULL) {
        put(&p, ",\"presence\"");
        put(&p, presence);
    }
    put(&p, ",\"value\":");
    put(&p, value);
    put(&p, "}");
    return (size_t)(p - buf);
}

#define W1                                                                               \
    "{\"temperature\":7.5,\"humidity\":81,\"pressure\":1012.3,\"condition\":\"cloudy\"," \
    "\"provider\":\"open-meteo\",\"observed_at\":\"2026-11-22T14:00:00Z\","              \
    "\"age_s\":120,\"stale\":false}"
#define W1_NO_STALE(last)                                                                \
    "{\"temperature\":7.5,\"humidity\":81,\"pressure\":1012.3,\"condition\":\"cloudy\"," \
    "\"age_s\":12" last "}"
#define P1 "{\"anyone_home\":true,\"people_home\":2,\"people\":[\"a\",\"b\"]}"

/* The sequence a writer's document meets: the same weather and presence
 * message after message, then changed (at their end by one byte, by
 * whitespace inside or after them), not objects, invalid the second time,
 * absent, repeated, nested deeper, too large to remember, in a text that is
 * cut or invalid elsewhere. Read in this order into one document, with the
 * ha schema's filter and one that memoizes at two depths, each text gives
 * what a new document gives. */
static const struct {
    const char *weather, *presence, *value;
} memo_steps[] = {
    {":" W1, ":" P1, "1.5"},
    {":" W1, ":" P1, "1.5"},
    {":" W1, ":" P1, "2"},
    {":" W1_NO_STALE("0"), ":" P1, "2"},
    {":" W1_NO_STALE("1"), ":" P1, "2"},
    {":" W1_NO_STALE("0"), ":" P1, "2"},
    {":" W1_NO_STALE("0 "), ":" P1, "2"},
    {":" W1_NO_STALE("0"), ":" P1, "2"},
    {":" W1 " ", ":" P1 "\n", "3"},
    {": " W1 "\t\r\n", " : " P1, "3"},
    {":" W1, ":" P1, "3"},
    {":\"sunny\"", ":" P1, "4"},
    {":[" W1 "]", ":null", "4"},
    {":7", ":{}", "4"},
    {":{}", ":{ }", "4"},
    {":{ }", ":{}", "4"},
    {":" W1, ":" P1, "5"},
    {":{\"temperature\":7.5,\"temperature\":7.5}", ":" P1, "5"},
    {":{\"temperature\":07.5}", ":" P1, "5"},
    {":{\"condition\":\"\\u0000\"}", ":" P1, "5"},
    {":{\"condition\":\"\xFF\"}", ":" P1, "5"},
    {":{\"temperature\":7.5,}", ":" P1, "5"},
    {":" W1, ":" P1, "5"},
    {":" W1, ":" P1, "01"},
    {":" W1, ":" P1, "6"},
    {":{\"condition\":\"caf\\u00e9 \\ud83c\\udfe0\",\"s\":\"a\\\\\\\"b\",\"e\":\"\"}",
     ":" P1, "6"},
    {":{\"condition\":\"caf\\u00e9 \\ud83c\\udfe0\",\"s\":\"a\\\\\\\"b\",\"e\":\"\"}",
     ":" P1, "6"},
    {NULL, ":" P1, "7"},
    {":" W1, NULL, "7"},
    {NULL, NULL, "7"},
    {":" W1, ":" P1, "7"},
    {":" W1 ",\"weather\":" W1, ":" P1, "8"},
    {":" W1 ",\"new_state\":{\"weather\":" W1 "}", ":" P1, "8"},
    {":" W1 ",\"old_state\":{\"weather\":" W1 ",\"presence\":" P1 "}", ":" P1, "8"},
    {":{\"n\":{\"weather\":" W1 "}}", ":" P1, "8"},
    {":" W1, ":{\"presence\":" P1 "}", "9"},
    {":" W1, ":" P1, "9"},
};

START_TEST(test_memo_sequence)
{
    static const msgjson_filter inner[] = {MSGJSON_FILTER_MEMO("weather"),
                                           MSGJSON_FILTER_KEY("context", NULL),
                                           MSGJSON_FILTER_END};
    static const msgjson_filter top[] = {MSGJSON_FILTER_KEY("new_state", inner),
                                         MSGJSON_FILTER_KEY("old_state", inner),
                                         MSGJSON_FILTER_MEMO("weather"),
                                         MSGJSON_FILTER_MEMO("presence"),
                                         MSGJSON_FILTER_MEMO("n"),
                                         MSGJSON_FILTER_END};
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filters[] = {lineproto_filter(&ha), top};
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    for (size_t fi = 0; fi < 2; fi++) {
        msgjson_doc d;
        msgjson_init(&d);
        unsigned accepted = 0, declined = 0;
        for (size_t i = 0; i < sizeof memo_steps / sizeof memo_steps[0]; i++) {
            size_t n = memo_message(buf, memo_steps[i].weather, memo_steps[i].presence,
                                    memo_steps[i].value);
            int rc = check_reused(&d, buf, n, filters[fi]);
            if (rc == 0)
                accepted++;
            else
                declined++;
            /* Every text cut inside its weather, or just after it: read
             * past the memo's bytes in no buffer. */
            if (i == 1 || i == 10) {
                const char *w = strstr(buf, "\"weather\":");
                for (size_t k = (size_t)(w - buf); k < (size_t)(w - buf) + sizeof W1 + 11;
                     k++)
                    ck_assert_int_eq(check_reused(&d, buf, k, filters[fi]), -1);
                ck_assert_int_eq(check_reused(&d, buf, n, filters[fi]), 0);
            }
        }
        ck_assert_uint_eq(declined, 7);
        ck_assert_uint_eq(accepted, sizeof memo_steps / sizeof memo_steps[0] - 7);
        msgjson_fini(&d);
    }
    free(buf);
}
END_TEST

/* The memo is used: a value planted in the remembered weather shows up in
 * the next message with the same weather bytes (and in none whose bytes
 * differ), the memo does not outlive msgjson_trim, and a value too large to
 * remember is read every time. (White-box: it reaches into d's memo.) */
START_TEST(test_memo_used)
{
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filter = lineproto_filter(&ha);
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    msgjson_doc d;
    msgjson_init(&d);
    size_t n = memo_message(buf, ":" W1, ":" P1, "1");
    ck_assert_int_eq(msgjson_parse_filtered(&d, buf, n, filter), 0);
    msgjson_memo *m = NULL;
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        if (d.memo[i].entry != NULL && d.memo[i].tlen == sizeof W1 - 1)
            m = &d.memo[i];
    ck_assert_ptr_nonnull(m);
    msgjson_node *mn = (msgjson_node *)(void *)m->buf;
    ck_assert_int_eq(mn[4].type, MSGJSON_INTEGER); /* "humidity":81 */
    ck_assert_int_eq(mn[4].u.i, 81);
    mn[4].u.i = 82;
    ck_assert_int_eq(msgjson_parse_filtered(&d, buf, n, filter), 0);
    const msgjson_node *w = msgjson_get(msgjson_root(&d), "weather");
    ck_assert_int_eq(msgjson_get(w, "humidity")->u.i, 82);
    ck_assert_str_eq(msgjson_str(msgjson_get(w, "condition")), "cloudy");
    /* Other bytes: read, and remembered in place of the planted value. */
    n = memo_message(buf, ":" W1_NO_STALE("0"), ":" P1, "1");
    ck_assert_int_eq(msgjson_parse_filtered(&d, buf, n, filter), 0);
    n = memo_message(buf, ":" W1, ":" P1, "1");
    ck_assert_int_eq(msgjson_parse_filtered(&d, buf, n, filter), 0);
    w = msgjson_get(msgjson_root(&d), "weather");
    ck_assert_int_eq(msgjson_get(w, "humidity")->u.i, 81);
    /* msgjson_trim counts the memos and forgets them. */
    size_t own = d.cap * sizeof *d.nodes + d.scap;
    msgjson_trim(&d, own + 1);
    ck_assert_ptr_null(msgjson_root(&d));
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        ck_assert_ptr_null(d.memo[i].buf);
    /* Too large to remember: more text, or more nodes, than the bounds. */
    char *p = buf;
    put(&p, "{\"weather\":{\"a\":\"");
    for (size_t k = 0; k < MSGJSON_MEMO_MAX_TEXT; k++)
        *p++ = 'x';
    put(&p, "\"}}");
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(check_reused(&d, buf, (size_t)(p - buf), filter), 0);
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        ck_assert_uint_le(d.memo[i].tlen, MSGJSON_MEMO_MAX_TEXT);
    p = buf;
    put(&p, "{\"weather\":[0");
    put(&p, "],\"presence\":{\"a\":[0");
    for (size_t k = 0; k < MSGJSON_MEMO_MAX_NODES; k++)
        put(&p, ",1");
    put(&p, "]}}");
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(check_reused(&d, buf, (size_t)(p - buf), filter), 0);
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        ck_assert_uint_le(d.memo[i].nn, MSGJSON_MEMO_MAX_NODES);
    msgjson_fini(&d);
    free(buf);
}
END_TEST

/* One memoized member met at several depths (a filter reaching itself):
 * an object that fits the nesting limit at one depth is declined one level
 * deeper, whichever of the two the document has remembered. */
START_TEST(test_memo_depth)
{
    static const msgjson_filter rec[] = {MSGJSON_FILTER_KEY("r", rec),
                                         MSGJSON_FILTER_MEMO("m"), MSGJSON_FILTER_END};
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t n[2];
    char *text[2];
    for (int t = 0; t < 2; t++) {
        /* r objects around m's object, whose arrays reach the limit at 3. */
        int rs = 3 + t;
        char *p = buf;
        put(&p, "{");
        for (int k = 0; k < rs; k++)
            put(&p, "\"r\":{");
        put(&p, "\"m\":{\"a\":");
        for (int k = 0; k < MSGJSON_MAX_DEPTH - 2 - 3; k++)
            put(&p, "[");
        put(&p, "0");
        for (int k = 0; k < MSGJSON_MAX_DEPTH - 2 - 3; k++)
            put(&p, "]");
        put(&p, "}");
        for (int k = 0; k < rs; k++)
            put(&p, "}");
        put(&p, "}");
        n[t] = (size_t)(p - buf);
        text[t] = malloc(n[t]);
        ck_assert_ptr_nonnull(text[t]);
        memcpy(text[t], buf, n[t]);
    }
    msgjson_doc d;
    msgjson_init(&d);
    ck_assert_int_eq(msgjson_parse(&d, text[0], n[0]), 0);
    ck_assert_int_eq(msgjson_parse(&d, text[1], n[1]), -1);
    msgjson_fini(&d);
    static const int order[] = {0, 0, 1, 0, 1, 1, 0};
    msgjson_doc r;
    msgjson_init(&r);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        ck_assert_int_eq(check_reused(&r, text[order[i]], n[order[i]], rec),
                         order[i] == 0 ? 0 : -1);
    msgjson_fini(&r);
    free(text[0]);
    free(text[1]);
    free(buf);
}
END_TEST

/* The members test_memo_random and test_skel_mutations make messages of:
 * weather and presence values (the same ones often, changed, spaced,
 * invalid, not objects, absent) and values. */
static const char *const memo_weathers[] = {
    NULL,
    ":" W1,
    ":" W1,
    ":" W1,
    ": " W1 " ",
    ":" W1_NO_STALE("0"),
    ":" W1_NO_STALE("1"),
    ":" W1_NO_STALE("0 "),
    ":{}",
    ":\"x\"",
    ":[1,{\"a\":2}]",
    ":{\"temperature\":7.5,\"temperature\":7.5}",
    ":{\"a\":\"\\ud83c\"}",
    ":{\"a\":{\"b\":[{\"c\":\"\\u00e9\"}]},\"d\":-0.0,\"e\":1e400}",
    ":{\"a\":{\"b\":[{\"c\":\"\\u00e9\"}]},\"d\":-0.0,\"e\":1e40}",
};
static const char *const memo_presences[] = {
    NULL, ":" P1, ":" P1, ":{\"anyone_home\":false}", ":{\"p\":[]}", ":{\"p\":[1,]}"};
static const char *const memo_values[] = {"1", "2.5", "-0", "[]", "01"};

/* A memo_message of those members, each taken at random. */
static size_t memo_random(char *buf)
{
    const char *w =
        memo_weathers[rnd() % (sizeof memo_weathers / sizeof memo_weathers[0])];
    const char *p =
        memo_presences[rnd() % (sizeof memo_presences / sizeof memo_presences[0])];
    return memo_message(
        buf, w, p, memo_values[rnd() % (sizeof memo_values / sizeof memo_values[0])]);
}

/* Messages made at random of weather and presence values (the same ones
 * often, changed, spaced, invalid, not objects, absent) and of hostile
 * messages, read one after another into one document with the ha schema's
 * filter: each gives what a new document gives. */
START_TEST(test_memo_random)
{
    lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_UNIT};
    const msgjson_filter *filter = lineproto_filter(&ha);
    rng_state = 20261122u;
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    msgjson_doc d;
    msgjson_init(&d);
    unsigned accepted = 0;
    int rounds = test_count(3000);
    for (int i = 0; i < rounds; i++) {
        size_t n;
        if (rnd() % 8 == 0)
            n = hostile_message(buf);
        else
            n = memo_random(buf);
        if (check_reused(&d, buf, n, filter) == 0)
            accepted++;
    }
    ck_assert_uint_gt(accepted, (unsigned)rounds * 4 / 15);
    msgjson_fini(&d);
    free(buf);
}
END_TEST

/* lineproto_append_double's shortcut for short decimals prints what the
 * former search printed, for decimals of every length around it, random
 * doubles and the edges. */
START_TEST(test_double_same_as_before)
{
    uint64_t x = 88172645463325252ull;
    char txt[64];
    for (int i = 0, n = test_count(15000); i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        if (i % 4 == 3) {
            memcpy(&v, &x, sizeof v); /* any bit pattern */
        } else {
            int decimals = (int)(x % 9);
            long long m = (long long)((x >> 8) % 2000000000000ull) - 1000000000000ll;
            if (i % 4 == 1)
                m %= 100000;
            snprintf(txt, sizeof txt, "%lld.%0*llde%d", m / 1000, 3, llabs(m % 1000),
                     -decimals);
            v = strtod(txt, NULL);
        }
        lineproto_buf a, b;
        lineproto_buf_init(&a);
        lineproto_buf_init(&b);
        int ra = lineproto_append_double(&a, v);
        int rb = lineproto_ref_append_double(&b, v);
        ck_assert_int_eq(ra, rb);
        if (ra == 0)
            ck_assert_msg(strcmp(a.data, b.data) == 0, "%.17g: %s, before %s", v, a.data,
                          b.data);
        lineproto_buf_fini(&a);
        lineproto_buf_fini(&b);
    }
    static const double edges[] = {0.1,
                                   -0.1,
                                   0.000001,
                                   0.0000015,
                                   999999999.999999,
                                   1e9 - 0.5,
                                   1e9 + 0.5,
                                   -999999999.5,
                                   123456789.123456,
                                   5e-324,
                                   -0.0,
                                   0.0,
                                   0.3,
                                   2.675,
                                   1e15 + 0.5,
                                   4.35,
                                   7e-6,
                                   1e-5,
                                   0.00001,
                                   0.000015,
                                   9.99999e-6,
                                   -7e-6};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        lineproto_buf a, b;
        lineproto_buf_init(&a);
        lineproto_buf_init(&b);
        ck_assert_int_eq(lineproto_append_double(&a, edges[i]), 0);
        ck_assert_int_eq(lineproto_ref_append_double(&b, edges[i]), 0);
        ck_assert_str_eq(a.data, b.data);
        lineproto_buf_fini(&a);
        lineproto_buf_fini(&b);
    }
}
END_TEST

/* ---- skeletons ------------------------------------------------------------ */

/* The ha schema's filter, which the writer reads its messages with. */
static const msgjson_filter *ha_filter(void)
{
    static const lineproto_opts ha = {.schema = LINEPROTO_SCHEMA_HA,
                                      .measurement_attr = LINEPROTO_MATTR_UNIT};
    return lineproto_filter(&ha);
}

/* What a cache has counted so far (msgjson_skels_counts). */
typedef struct {
    uint64_t hits, misses, made;
    size_t bytes;
} skel_counts;

static skel_counts skels_counts(const msgjson_skels *c)
{
    skel_counts k;
    msgjson_skels_counts(c, &k.hits, &k.misses, &k.made, &k.bytes);
    return k;
}

/* Reads text[0..n), copied to a buffer of exactly its size (so that
 * valgrind and ASan see a read past its end), with filter through the
 * cache c (NULL: none) under key (keylen bytes) into k, and with
 * msgjson_parse_filtered into f: the same result and, when it is 0, the
 * same nodes. Returns the result. (Check marks every assertion that holds
 * with a write, so the hot loops here test first and fail with
 * ck_abort_msg.) */
static int check_keyed(msgjson_doc *k, msgjson_doc *f, msgjson_skels *c, const char *text,
                       size_t n, const msgjson_filter *filter, const char *key,
                       size_t keylen)
{
    int shown = (int)(n > 2000 ? 2000 : n);
    char *exact = malloc(n ? n : 1);
    if (exact == NULL)
        ck_abort_msg("out of memory");
    memcpy(exact, text, n);
    int krc = msgjson_parse_keyed(k, exact, n, filter, c, key, keylen);
    int frc = msgjson_parse_filtered(f, exact, n, filter);
    if (krc != frc)
        ck_abort_msg("keyed %d, filtered %d: %.*s", krc, frc, shown, text);
    if (krc == 0) {
        if (k->n != f->n)
            ck_abort_msg("%zu nodes, filtered %zu: %.*s", k->n, f->n, shown, text);
        for (size_t i = 0; i < k->n; i++)
            if (!lineproto_ref_same_node(&k->nodes[i], &f->nodes[i]))
                ck_abort_msg("node %zu differs: %.*s", i, shown, text);
    }
    free(exact);
    return krc;
}

/* text[0..n) with its len bytes at at replaced by with, into out. Returns
 * the new length. */
static size_t splice(char *out, const char *text, size_t n, size_t at, size_t len,
                     const char *with)
{
    size_t wl = strlen(with);
    memcpy(out, text, at);
    memcpy(out + at, with, wl);
    memcpy(out + at + wl, text + at + len, n - at - len);
    return n - len + wl;
}

/* What an edit puts in a text: JSON's syntax, the letters of its numbers
 * and literals, whitespace, a control byte, UTF-8 (two bytes at once) and
 * a byte that never is. */
static const char *const skel_edit_bytes[] = {
    "{",  "}", "[", "]", ",", ":", "\"", "\\",   " ",        "\t",  "\n",
    "\r", "0", "1", "7", "9", ".", "-",  "+",    "e",        "E",   "t",
    "r",  "u", "f", "a", "l", "s", "n",  "\x01", "\xC3\xA9", "\xFF"};

/* Makes 1 to 3 random edits to buf[0..n), which has room for 6 bytes more:
 * a byte replaced by one (or two) of skel_edit_bytes, one put in, one taken
 * out, or the text cut. Returns the new length. */
static size_t skel_edit(char *buf, size_t n)
{
    for (uint32_t e = 1 + rnd() % 3; e > 0; e--) {
        const char *b =
            skel_edit_bytes[rnd() % (sizeof skel_edit_bytes / sizeof skel_edit_bytes[0])];
        size_t bl = strlen(b);
        uint32_t op = rnd() % 9;
        if (op < 3 && n > 0) { /* replace */
            size_t at = rnd() % n;
            memmove(buf + at + bl, buf + at + 1, n - at - 1);
            memcpy(buf + at, b, bl);
            n += bl - 1;
        } else if (op < 6 || n == 0) { /* insert */
            size_t at = rnd() % (n + 1);
            memmove(buf + at + bl, buf + at, n - at);
            memcpy(buf + at, b, bl);
            n += bl;
        } else if (op < 8) { /* delete */
            size_t at = rnd() % n;
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
        } else { /* cut */
            n = rnd() % (n + 1);
        }
    }
    return n;
}

/* One scalar of a message ('@' in text; orig in the first text read) where
 * the ha schema's filter builds it (at the top, in new_state's attributes,
 * in the memoized weather, in an array of the memoized presence), skips it
 * (old_state as a scalar) or skips an object or array around it
 * (old_state, new_state's and the event's contexts, data). */
static const struct {
    const char *text, *orig;
} skel_sites[] = {
    {"{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.x\",\"value\":@,"
     "\"unit\":\"W\"}",
     "\"21.5\""},
    {"{\"entity_id\":\"sensor.x\",\"value\":@}", "21.5"},
    {"{\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"on\",\"attributes\":{"
     "\"brightness\":@,\"friendly_name\":\"Lamp\"},\"context\":{\"id\":\"c\"}},"
     "\"value\":1}",
     "128"},
    {"{\"entity_id\":\"sensor.x\",\"weather\":{\"temperature\":7.5,\"stale\":@},"
     "\"value\":1}",
     "true"},
    {"{\"entity_id\":\"sensor.x\",\"presence\":{\"people\":[\"a\",@]},\"value\":1}",
     "null"},
    {"{\"entity_id\":\"sensor.x\",\"old_state\":@,\"value\":1}", "null"},
    {"{\"entity_id\":\"sensor.x\",\"old_state\":{\"state\":@,\"attributes\":{\"a\":[1,"
     "2]}},\"value\":1}",
     "\"on\""},
    {"{\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"on\",\"context\":{\"id\":@,"
     "\"parent_id\":null}},\"value\":1}",
     "\"01H\""},
    {"{\"entity_id\":\"sensor.x\",\"context\":{\"id\":\"c\",\"user_id\":@},\"value\":1}",
     "null"},
    {"{\"entity_id\":\"sensor.x\",\"data\":{\"service_data\":[1,@]},\"value\":1}", "2"},
};

/* What a text whose scalar becomes another value gives: read from the
 * skeleton (any valid scalar, whatever its type), read in full and accepted
 * (a container, or whitespace that changes the structure around it), or
 * declined by both readings (an invalid scalar, wherever it lies). */
enum { SKEL_HIT, SKEL_MISS, SKEL_INVALID };

static const struct {
    const char *value;
    int kind;
} skel_values[] = {
    {"\"s\"", SKEL_HIT},
    {"\"\"", SKEL_HIT},
    {"\"caf\\u00e9\\n\\ud83c\\udfe0\\\"\"", SKEL_HIT},
    {"\"\xC3\xA9\"", SKEL_HIT},
    {"12", SKEL_HIT},
    {"-0", SKEL_HIT},
    {"-0.5e3", SKEL_HIT},
    {"1E+2", SKEL_HIT},
    {"21.500000000000004", SKEL_HIT},
    {"9223372036854775807", SKEL_HIT},
    {"-9223372036854775808", SKEL_HIT},
    {"true", SKEL_HIT},
    {"false", SKEL_HIT},
    {"null", SKEL_HIT},
    {"{}", SKEL_MISS},
    {"[]", SKEL_MISS},
    {"{\"a\":1}", SKEL_MISS},
    {"[1,\"x\"]", SKEL_MISS},
    {" 1", SKEL_MISS},
    {"1 ", SKEL_MISS},
    {"tru", SKEL_INVALID},
    {"nulll", SKEL_INVALID},
    {"True", SKEL_INVALID},
    {"01", SKEL_INVALID},
    {"1.", SKEL_INVALID},
    {".5", SKEL_INVALID},
    {"-", SKEL_INVALID},
    {"+1", SKEL_INVALID},
    {"1e", SKEL_INVALID},
    {"1e400", SKEL_INVALID},
    {"9223372036854775808", SKEL_INVALID},
    {"\"\xFF\"", SKEL_INVALID},
    {"\"\x01\"", SKEL_INVALID},
    {"\"\\u0000\"", SKEL_INVALID},
    {"\"\\ud800\"", SKEL_INVALID},
    {"\"\\q\"", SKEL_INVALID},
    {"\"abc", SKEL_INVALID},
    {"", SKEL_INVALID},
    {"1 2", SKEL_INVALID},
    {"[1,]", SKEL_INVALID},
    {"{\"a\"}", SKEL_INVALID},
};

/* Reads base (its skeleton made anew) and then text through c under one
 * key, each as msgjson_parse_filtered reads it, and checks text's result
 * and whether it was read from the skeleton against kind. */
static void check_skel_kind(msgjson_skels *c, msgjson_doc *k, msgjson_doc *f,
                            const char *base, size_t bn, const char *text, size_t n,
                            int kind)
{
    const msgjson_filter *filter = ha_filter();
    msgjson_skels_clear(c);
    skel_counts a = skels_counts(c);
    ck_assert_int_eq(check_keyed(k, f, c, base, bn, filter, "sensor.x", 8), 0);
    skel_counts b = skels_counts(c);
    ck_assert_uint_eq(b.made, a.made + 1);
    int rc = check_keyed(k, f, c, text, n, filter, "sensor.x", 8);
    skel_counts e = skels_counts(c);
    ck_assert_msg(rc == (kind == SKEL_INVALID ? -1 : 0), "%d: %.*s", rc, (int)n, text);
    ck_assert_msg(e.hits - b.hits == (uint64_t)(kind == SKEL_HIT), "hits %d: %.*s",
                  (int)(e.hits - b.hits), (int)n, text);
    ck_assert_uint_eq(e.misses - b.misses, (uint64_t)(kind != SKEL_HIT));
}

/* Every site's scalar replaced by every value, and scalars of Home
 * Assistant's whole event replaced in old_state and in the contexts (all
 * skipped by the filter): an invalid one is declined by both readings, a
 * valid one read from the skeleton, a container read in full. */
static void check_skel_values(msgjson_skels *c, msgjson_doc *k, msgjson_doc *f)
{
    char base[512], text[512];
    for (size_t s = 0; s < sizeof skel_sites / sizeof skel_sites[0]; s++) {
        const char *t = skel_sites[s].text;
        size_t tn = strlen(t), at = (size_t)(strchr(t, '@') - t);
        size_t bn = splice(base, t, tn, at, 1, skel_sites[s].orig);
        for (size_t v = 0; v < sizeof skel_values / sizeof skel_values[0]; v++) {
            size_t n = splice(text, t, tn, at, 1, skel_values[v].value);
            check_skel_kind(c, k, f, base, bn, text, n, skel_values[v].kind);
        }
    }
    static const struct {
        const char *find;  /* the bytes just before the ones replaced, */
        const char *after; /* first found after these (the member they lie in) */
        size_t len;        /* how many bytes are replaced */
        const char *with;  /* and by what */
        int kind;
    } edits[] = {
        {"\"id\":\"", "\"old_state\":", 1, "\xFF", SKEL_INVALID},
        {"\"id\":\"", "\"old_state\":", 1, "\x01", SKEL_INVALID},
        {"\"id\":\"", "\"old_state\":", 1, "\\u0000", SKEL_INVALID},
        {"\"id\":\"", "\"old_state\":", 1, "Z", SKEL_HIT},
        {"\"state\":", "\"old_state\":", 13, "\"\\ud800\"", SKEL_INVALID},
        {"\"state\":", "\"old_state\":", 13, "01", SKEL_INVALID},
        {"\"state\":", "\"old_state\":", 13, "1e400", SKEL_INVALID},
        {"\"state\":", "\"old_state\":", 13, "-2.5", SKEL_HIT},
        {"\"state\":", "\"old_state\":", 13, "[]", SKEL_MISS},
        {"\"parent_id\":", "\"new_state\":", 4, "tru", SKEL_INVALID},
        {"\"parent_id\":", "\"new_state\":", 4, "nul", SKEL_INVALID},
        {"\"parent_id\":", "\"new_state\":", 4, "false", SKEL_HIT},
        {"\"user_id\":", "},\"context\":", 4, "9223372036854775808", SKEL_INVALID},
        {"\"user_id\":", "},\"context\":", 4, "\"\xC3\"", SKEL_INVALID},
        {"\"user_id\":", "},\"context\":", 4, "\"\xC3\xA9\"", SKEL_HIT},
        {"\"user_id\":", "},\"context\":", 4, "{}", SKEL_MISS},
    };
    writer_gen g;
    writer_gen_init_full(&g, 1, 1763765318000000000);
    char *ev = writer_gen_next(&g);
    ck_assert_ptr_nonnull(ev);
    size_t en = strlen(ev);
    char *buf = malloc(en + 64);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *m = strstr(ev, edits[i].after);
        ck_assert_ptr_nonnull(m);
        const char *at = strstr(m, edits[i].find);
        ck_assert_ptr_nonnull(at);
        at += strlen(edits[i].find);
        size_t n = splice(buf, ev, en, (size_t)(at - ev), edits[i].len, edits[i].with);
        check_skel_kind(c, k, f, ev, en, buf, n, edits[i].kind);
    }
    free(buf);
    free(ev);
}

/* A skeleton test's cache, and the documents check_keyed reads into. */
static msgjson_skels *skel_setup(msgjson_doc *k, msgjson_doc *f)
{
    msgjson_skels *c = msgjson_skels_new();
    ck_assert_ptr_nonnull(c);
    msgjson_init(k);
    msgjson_init(f);
    return c;
}

static void skel_teardown(msgjson_skels *c, msgjson_doc *k, msgjson_doc *f)
{
    msgjson_skels_free(c);
    msgjson_fini(k);
    msgjson_fini(f);
}

/* Differential: a text read through a cache whose skeleton for its key was
 * made of another text (a hostile, memo or benchmark message, then 1 to 3
 * random edits of it, or the next event of the same entity), read from a
 * buffer of its exact size, gives what msgjson_parse_filtered gives, node
 * for node; so does the first text read again against the skeleton the
 * second may have left. Many of the edited texts are read from the
 * skeleton, and many that are accepted are read in full: both paths are
 * compared. Then every prefix of a message, read against its skeleton, is
 * declined without a read past its end, and scalars change type or become
 * invalid where the filter builds them and where it skips them. */
START_TEST(test_skel_mutations)
{
    const msgjson_filter *filter = ha_filter();
    rng_state = 1234567u;
    char *base = malloc(1 << 16), *var = malloc((1 << 16) + 8);
    ck_assert_ptr_nonnull(base);
    ck_assert_ptr_nonnull(var);
    msgjson_doc k, f;
    msgjson_skels *c = skel_setup(&k, &f);
    enum { ENTITIES = 8 };
    writer_gen gen[2];
    writer_gen_init(&gen[0], ENTITIES, 1763765318000000000);
    writer_gen_init_full(&gen[1], ENTITIES, 1763765318000000000);
    char *last[2][ENTITIES] = {{NULL}};
    unsigned variants = 0, hits = 0, accepted = 0, accepted_misses = 0;
    unsigned events = 0, event_hits = 0;
    int rounds = test_count(40000);
    for (int r = 0; r < rounds; r++) {
        int source = r % 4;
        size_t n = 0, vn = 0;
        bool next_event = false;
        if (source < 2) {
            /* A hostile or memo message, mostly one the reader accepts. */
            for (int t = 0; t < 8; t++) {
                n = source == 0 ? hostile_message(base) : memo_random(base);
                if (msgjson_parse_filtered(&f, base, n, filter) == 0)
                    break;
            }
        } else {
            writer_gen *g = &gen[source - 2];
            char **prev = &last[source - 2][g->n % ENTITIES];
            char *t = writer_gen_next(g);
            if (t == NULL)
                ck_abort_msg("out of memory");
            if (*prev != NULL && rnd() % 3 == 0) {
                n = strlen(*prev);
                memcpy(base, *prev, n);
                vn = strlen(t);
                memcpy(var, t, vn);
                next_event = true;
            } else {
                n = strlen(t);
                memcpy(base, t, n);
            }
            free(*prev);
            *prev = t;
        }
        if (!next_event) {
            memcpy(var, base, n);
            vn = skel_edit(var, n);
        }
        msgjson_skels_clear(c);
        check_keyed(&k, &f, c, base, n, filter, "sensor.x", 8);
        skel_counts a = skels_counts(c);
        int rc = check_keyed(&k, &f, c, var, vn, filter, "sensor.x", 8);
        skel_counts b = skels_counts(c);
        if (a.bytes > 0) {
            /* The base made a skeleton: this text met it. */
            variants++;
            hits += (unsigned)(b.hits - a.hits);
            if (rc == 0) {
                accepted++;
                accepted_misses += (unsigned)(b.misses - a.misses);
            }
            if (next_event) {
                events++;
                event_hits += (unsigned)(b.hits - a.hits);
            }
        }
        check_keyed(&k, &f, c, base, n, filter, "sensor.x", 8);
    }
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < ENTITIES; e++)
            free(last[s][e]);
    ck_assert_uint_gt(variants, (unsigned)rounds * 9 / 10);
    ck_assert_msg(hits > variants / 5, "%u hits of %u", hits, variants);
    ck_assert_msg(hits > accepted / 3 && accepted_misses > accepted / 4,
                  "%u hits and %u misses of %u accepted", hits, accepted_misses,
                  accepted);
    /* An entity's events keep their structure: each is read from the last. */
    ck_assert_uint_gt(events, (unsigned)rounds / 10);
    ck_assert_uint_eq(event_hits, events);

    /* Every prefix of a message against the message's skeleton (a cut where
     * a scalar starts leaves no byte of it to look at). */
    writer_gen g;
    writer_gen_init_full(&g, 1, 1763765318000000000);
    for (int m = 0; m < 3; m++) {
        size_t n;
        if (m < 2) {
            char *t = writer_gen_next(&g);
            ck_assert_ptr_nonnull(t);
            n = strlen(t);
            if (m == 0)
                memcpy(base, t, n);
            else
                n = add_whitespace(t, n, base); /* and in the gaps too */
            free(t);
        } else {
            do
                n = hostile_message(base);
            while (msgjson_parse_filtered(&f, base, n, filter) != 0);
        }
        msgjson_skels_clear(c);
        uint64_t made = skels_counts(c).made;
        ck_assert_int_eq(check_keyed(&k, &f, c, base, n, filter, "sensor.x", 8), 0);
        ck_assert_uint_eq(skels_counts(c).made, made + 1);
        size_t end = n; /* without the closing brace (whitespace may follow it) */
        while (base[end - 1] != '}')
            end--;
        for (size_t p = test_first((size_t)m); p < end; p += test_stride())
            if (check_keyed(&k, &f, c, base, p, filter, "sensor.x", 8) != -1)
                ck_abort_msg("prefix %zu accepted", p);
    }

    check_skel_values(c, &k, &f);
    skel_teardown(c, &k, &f);
    free(base);
    free(var);
}
END_TEST

/* A message of the key "sensor.changing" whose structure changes with i
 * (its attribute's key is "a<i>") and whose scalars change with value. */
static size_t changing_text(char *buf, size_t size, int i, int value)
{
    int n = snprintf(buf, size,
                     "{\"entity_id\":\"sensor.changing\",\"new_state\":{\"state\":\"%d\","
                     "\"attributes\":{\"a%d\":%d}},\"value\":%d}",
                     value, i, value, value);
    ck_assert(n > 0 && (size_t)n < size);
    return (size_t)n;
}

/* What the cache counts (white-box through msgjson_skels_counts): one
 * entity's events after its first are all read from its skeleton; a text
 * without a key touches no skeleton; a key whose texts keep changing
 * structure gets a new skeleton only at the 1st, 2nd, 4th, 8th and 16th
 * change in a row, and the text of the last one made is then read from
 * it; a skeleton made with one filter is not used with another. */
START_TEST(test_skel_counts)
{
    const msgjson_filter *filter = ha_filter();
    msgjson_doc k, f;
    msgjson_skels *c = skel_setup(&k, &f);
    skel_counts z = skels_counts(c);
    ck_assert(z.hits == 0 && z.misses == 0 && z.made == 0 && z.bytes == 0);
    writer_gen g;
    writer_gen_init_full(&g, 1, 1763765318000000000);
    enum { EVENTS = 50 };
    char *texts[EVENTS];
    const char *key = "sensor.temperature_0";
    for (int i = 0; i < EVENTS; i++) {
        texts[i] = writer_gen_next(&g);
        ck_assert_ptr_nonnull(texts[i]);
        ck_assert_ptr_nonnull(strstr(texts[i], "\"entity_id\":\"sensor.temperature_0\""));
        ck_assert_int_eq(
            check_keyed(&k, &f, c, texts[i], strlen(texts[i]), filter, key, strlen(key)),
            0);
    }
    skel_counts a = skels_counts(c);
    ck_assert_uint_eq(a.hits, EVENTS - 1);
    ck_assert_uint_eq(a.misses, 1);
    ck_assert_uint_eq(a.made, 1);
    ck_assert_uint_gt(a.bytes, strlen(texts[0]));
    for (int i = 0; i < EVENTS; i++) {
        size_t n = strlen(texts[i]);
        ck_assert_int_eq(check_keyed(&k, &f, c, texts[i], n, filter, NULL, strlen(key)),
                         0);
        ck_assert_int_eq(check_keyed(&k, &f, c, texts[i], n, filter, key, 0), 0);
    }
    skel_counts b = skels_counts(c);
    ck_assert(b.hits == a.hits && b.misses == a.misses && b.made == a.made &&
              b.bytes == a.bytes);
    /* Without the filter, which skips old_state, the skeleton made with it
     * is not used: the event is read in full, old_state built. */
    size_t n = strlen(texts[EVENTS - 1]);
    ck_assert_int_eq(check_keyed(&k, &f, c, texts[EVENTS - 1], n, NULL, key, strlen(key)),
                     0);
    ck_assert_int_eq(msgjson_get(msgjson_root(&k), "old_state")->type, MSGJSON_OBJECT);
    b = skels_counts(c);
    ck_assert(b.hits == a.hits && b.misses == a.misses + 1);
    for (int i = 0; i < EVENTS; i++)
        free(texts[i]);
    a = b;

    char buf[256], last[256];
    n = changing_text(buf, sizeof buf, 0, 0);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.changing", 15), 0);
    b = skels_counts(c);
    ck_assert_uint_eq(b.made, a.made + 1);
    size_t last_n = 0;
    for (int i = 1; i <= 20; i++) {
        n = changing_text(buf, sizeof buf, i, i);
        ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.changing", 15),
                         0);
        skel_counts e = skels_counts(c);
        int due = (i >= 1) + (i >= 2) + (i >= 4) + (i >= 8) + (i >= 16);
        ck_assert_msg(e.made == b.made + (uint64_t)due, "change %d: %d made", i,
                      (int)(e.made - b.made));
        ck_assert_uint_eq(e.hits, a.hits);
        ck_assert_uint_eq(e.misses, b.misses + (uint64_t)i);
        if ((i & (i - 1)) == 0) {
            memcpy(last, buf, n);
            last_n = n;
        }
    }
    skel_counts e = skels_counts(c);
    ck_assert_uint_eq(e.made, b.made + 5);
    ck_assert_uint_eq(e.made - a.made, 1 + 5);
    /* The text of the 16th change, and then its scalars changed. */
    ck_assert_int_eq(check_keyed(&k, &f, c, last, last_n, filter, "sensor.changing", 15),
                     0);
    ck_assert_uint_eq(skels_counts(c).hits, e.hits + 1);
    n = changing_text(buf, sizeof buf, 16, -7);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.changing", 15), 0);
    ck_assert_uint_eq(skels_counts(c).hits, e.hits + 2);
    /* Another filter: read in full (and its skeleton made then, the text
     * being the first in a row not to fit), so the next one is read from
     * that; back to the first filter, a miss again. */
    e = skels_counts(c);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, NULL, "sensor.changing", 15), 0);
    b = skels_counts(c);
    ck_assert(b.hits == e.hits && b.misses == e.misses + 1 && b.made == e.made + 1);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, NULL, "sensor.changing", 15), 0);
    ck_assert_uint_eq(skels_counts(c).hits, b.hits + 1);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.changing", 15), 0);
    e = skels_counts(c);
    ck_assert(e.hits == b.hits + 1 && e.misses == b.misses + 1);
    skel_teardown(c, &k, &f);
}
END_TEST

/* A message of want bytes (at least 200) whose friendly name, of 'x' but
 * for its first byte fill, makes up the length. */
static size_t long_text(char *buf, size_t want, char fill)
{
    static const char head[] = "{\"entity_id\":\"sensor.long\",\"new_state\":{\"state\":"
                               "\"on\",\"attributes\":{\"friendly_name\":\"";
    static const char tail[] = "\"}},\"value\":1}";
    size_t pad = want - (sizeof head - 1) - (sizeof tail - 1);
    memcpy(buf, head, sizeof head - 1);
    memset(buf + sizeof head - 1, 'x', pad);
    buf[sizeof head - 1] = fill;
    memcpy(buf + sizeof head - 1 + pad, tail, sizeof tail - 1);
    return want;
}

/* A message of about 4 KB (40 attributes) for key i; round changes its
 * scalars. */
static size_t key_text(char *buf, int i, int round)
{
    char *p = buf;
    p += sprintf(p,
                 "{\"entity_id\":\"sensor.k%d\",\"new_state\":{\"state\":\"%d\","
                 "\"attributes\":{",
                 i, round);
    for (int a = 0; a < 40; a++)
        p += sprintf(p,
                     "%s\"attribute_%d\":\"%d %d 0123456789abcdefghijklmnopqrstuvwxyz"
                     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\"",
                     a ? "," : "", a, i, round);
    p += sprintf(p, "}},\"value\":%d}", i + round);
    return (size_t)(p - buf);
}

/* A large home: 2,500 keys of 700-byte texts, each in turn (the worst order
 * for sets that give up their least recently used skeleton), all fit: the
 * second text of every key but the few of an overfull set is read from
 * its skeleton. */
START_TEST(test_skel_large_home)
{
    enum { KEYS = 2500 };
    const msgjson_filter *filter = ha_filter();
    msgjson_doc k, f;
    msgjson_skels *c = skel_setup(&k, &f);
    char buf[2048], key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < KEYS; i++) {
            char *p = buf;
            p += sprintf(p, "{\"entity_id\":\"sensor.h%d\",\"new_state\":{\"state\":\"%d\","
                            "\"attributes\":{",
                         i, round);
            for (int a = 0; a < 12; a++)
                p += sprintf(p, "%s\"attribute_%d\":\"%d 0123456789abcdefghijklmnopq\"",
                             a ? "," : "", a, i);
            p += sprintf(p, "}},\"value\":%d}", i + round);
            int kl = snprintf(key, sizeof key, "sensor.h%d", i);
            if (check_keyed(&k, &f, c, buf, (size_t)(p - buf), filter, key, (size_t)kl) != 0)
                ck_abort_msg("declined %s", key);
        }
    }
    skel_counts n = skels_counts(c);
    ck_assert_uint_eq(n.hits + n.misses, 2 * KEYS);
    ck_assert_uint_ge(n.hits, KEYS - 50);
    skel_teardown(c, &k, &f);
}
END_TEST

/* The cache's bounds: a text longer than MSGJSON_SKEL_MAX_TEXT is read
 * right, every time, and makes no skeleton (one of exactly that length
 * does); thousands of keys of 4 KB texts keep the skeletons' bytes within
 * MSGJSON_SKEL_MAX_BYTES, every text read as msgjson_parse_filtered reads
 * it; msgjson_skels_clear leaves no bytes, and a known key's next text is
 * then a miss; without a cache, msgjson_parse_keyed is
 * msgjson_parse_filtered. */
START_TEST(test_skel_bounds)
{
    const msgjson_filter *filter = ha_filter();
    msgjson_doc k, f;
    msgjson_skels *c = skel_setup(&k, &f);
    char *buf = malloc(1 << 16);
    ck_assert_ptr_nonnull(buf);
    for (int over = 0; over < 2; over++) {
        const char *key = over ? "sensor.long1" : "sensor.long0";
        skel_counts a = skels_counts(c);
        for (int t = 0; t < 3; t++) {
            size_t n =
                long_text(buf, MSGJSON_SKEL_MAX_TEXT + (size_t)over, (char)('a' + t));
            ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, key, 12), 0);
        }
        skel_counts b = skels_counts(c);
        if (over) {
            ck_assert(b.made == a.made && b.bytes == a.bytes && b.hits == a.hits &&
                      b.misses == a.misses + 3);
        } else {
            ck_assert(b.made == a.made + 1 && b.bytes > a.bytes + MSGJSON_SKEL_MAX_TEXT &&
                      b.hits == a.hits + 2 && b.misses == a.misses + 1);
        }
    }

    /* Many keys: the oldest skeletons give way, or new ones are not made. */
    enum { KEYS = 4000 };
    char key[32];
    size_t most = 0;
    for (int round = 0; round < 2; round++) {
        skel_counts a = skels_counts(c);
        for (int i = 0; i < KEYS; i++) {
            size_t n = key_text(buf, i, round);
            int kl = snprintf(key, sizeof key, "sensor.k%d", i);
            if (check_keyed(&k, &f, c, buf, n, filter, key, (size_t)kl) != 0)
                ck_abort_msg("declined %s", key);
            size_t bytes = skels_counts(c).bytes;
            if (bytes > MSGJSON_SKEL_MAX_BYTES)
                ck_abort_msg("%zu bytes after %s", bytes, key);
            most = bytes > most ? bytes : most;
        }
        skel_counts b = skels_counts(c);
        ck_assert_uint_eq(b.hits + b.misses, a.hits + a.misses + KEYS);
        /* Skeletons of about 10 KB: the bytes hold some 1,600, surely
         * 1,024 of 16 KB, and those keys' second texts are read from them. */
        if (round == 1)
            ck_assert_uint_gt(b.hits - a.hits, MSGJSON_SKEL_MAX_BYTES / (16u << 10));
    }
    /* The bound is what held the bytes back: a skeleton (about 10 KB) more
     * would have passed it. */
    ck_assert_uint_gt(most, MSGJSON_SKEL_MAX_BYTES - (64u << 10));

    msgjson_skels_clear(c);
    skel_counts a = skels_counts(c);
    ck_assert_uint_eq(a.bytes, 0);
    size_t n = key_text(buf, 0, 2);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.k0", 9), 0);
    skel_counts b = skels_counts(c);
    ck_assert(b.misses == a.misses + 1 && b.made == a.made + 1 && b.bytes > 0);
    n = key_text(buf, 0, 3);
    ck_assert_int_eq(check_keyed(&k, &f, c, buf, n, filter, "sensor.k0", 9), 0);
    ck_assert_uint_eq(skels_counts(c).hits, b.hits + 1);
    msgjson_skels_clear(c);
    msgjson_skels_clear(c);

    /* No cache: hostile messages, accepted and declined, read alike. */
    rng_state = 8675309u;
    unsigned ok = 0;
    for (int i = 0; i < test_count(700); i++) {
        n = hostile_message(buf);
        ok += check_keyed(&k, &f, NULL, buf, n, filter, "sensor.x", 8) == 0;
        ck_assert_int_eq(check_keyed(&k, &f, NULL, buf, n / 2, filter, "sensor.x", 8),
                         -1);
    }
    ck_assert_uint_gt(ok, 0);
    skel_teardown(c, &k, &f);
    free(buf);
}
END_TEST

static Suite *msgjson_suite(void)
{
    Suite *s = suite_create("msgjson");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, test_access);
    tcase_add_loop_test(tc, test_parse_table, 0,
                        (int)(sizeof parse_cases / sizeof parse_cases[0]));
    tcase_add_test(tc, test_nul_byte_and_nesting);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("differential");
    tcase_set_timeout(td, 60);
    tcase_add_loop_test(td, test_hostile_messages, 0, 4);
    tcase_add_test(td, test_fuzz_corpus);
    tcase_add_test(td, test_generated_events);
    tcase_add_test(td, test_filter);
    tcase_add_test(td, test_double_same_as_before);
    tcase_add_test(td, test_exact_decimal);
    tcase_add_test(td, test_duplicate_keys);
    tcase_add_test(td, test_duplicate_keys_random);
    tcase_add_test(td, test_long_decimals);
    tcase_add_test(td, test_whitespace_and_prefixes);
    tcase_add_test(td, test_dense_texts);
    tcase_add_test(td, test_filter_same_as_unfiltered);
    tcase_add_test(td, test_string_word_edges);
    tcase_add_test(td, test_memo_sequence);
    tcase_add_test(td, test_memo_used);
    tcase_add_test(td, test_memo_depth);
    tcase_add_test(td, test_memo_random);
    suite_add_tcase(s, td);
    TCase *ts = tcase_create("skeletons");
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_skel_mutations);
    tcase_add_test(ts, test_skel_counts);
    tcase_add_test(ts, test_skel_bounds);
    tcase_add_test(ts, test_skel_large_home);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(msgjson_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
