/* test-lineproto-fast.c - the encoder's fast paths (writer/lineproto.c)
 * pinned against the slow originals in tests/unit/lineproto-ref.c.
 *
 * The escaper copies plain runs 16 bytes at a time and looks at a superset
 * of the bytes that change; numbers are written by a digit writer and a
 * short-decimal path; a line is written into room reserved once; field
 * keys are compared by what influxd stores only once a key that escaping
 * changes has come; the fieldset borrows its texts and looks keys up
 * behind a small filter. Each is fed random and hostile inputs here, at
 * every position around the 16-byte blocks, and must give what the
 * reference gives, byte for byte. Inputs are copied into buffers of their
 * exact size, so valgrind and ASan see any read past their end. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lineproto-ref.h"
#include "lineproto.h"
#include "test_scale.h"

static uint32_t rng_state = 2463534242u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* ---- escaping ----------------------------------------------------------- */

/* Bytes that matter to some part or to the scanner's superset, and plain
 * ones. Multi-byte entries are UTF-8 sequences, valid and not. */
/* clang-format off */
static const char *const ATOMS[] = {
    "a", "b", "Z", "0", "9", "_", "-", ".", "/", "~", "\x7f",       /* plain */
    ",", "=", " ", "\"", "\\", "#", "\t", "\n", "\r", "\x01", "\x0e", /* special */
    "(", "+", "%", "!", "$", "'", "*",                                /* superset only */
    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x8F\xA0",                    /* valid UTF-8 */
    "\xFF", "\xC3", "\xE2\x82", "\xED\xA0\x80", "\xC0\xAF", "\x80",  /* invalid */
};
/* clang-format on */
#define NATOMS (sizeof ATOMS / sizeof ATOMS[0])

/* Appends lineproto_append_escaped's and the reference's output for s (n
 * bytes, copied into a buffer of exactly n bytes) after the same prefix and
 * fails on a difference. */
static void check_escape(const char *s, size_t n, lineproto_part part, const char *prefix)
{
    char *exact = malloc(n > 0 ? n : 1);
    ck_assert_ptr_nonnull(exact);
    if (n > 0)
        memcpy(exact, s, n);
    lineproto_buf a, b;
    lineproto_buf_init(&a);
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_buf_append(&a, prefix, strlen(prefix)), 0);
    ck_assert_int_eq(lineproto_buf_append(&b, prefix, strlen(prefix)), 0);
    ck_assert_int_eq(lineproto_append_escaped(&a, part, exact, n), 0);
    ck_assert_int_eq(lineproto_ref_append_escaped(&b, part, exact, n), 0);
    ck_assert_msg(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                  "part %d, %zu bytes: got %s, want %s", (int)part, n, a.data, b.data);
    ck_assert_uint_eq((unsigned char)a.data[a.len], 0);
    lineproto_buf_fini(&a);
    lineproto_buf_fini(&b);
    free(exact);
}

/* Every atom at every position of plain texts of every length up to 49
 * (blocks of 16, their tails of 1 to 15 bytes, and the overlapping loads
 * of a tail), alone and next to a trailing backslash. */
START_TEST(test_escape_atom_positions)
{
    char s[64];
    size_t stride = test_stride();
    /* Each atom takes every other length only (under valgrind, stride > 1,
     * every third), a different share for the next atom, so that every
     * length is still taken; the fuzz target sweeps escaping further. */
    size_t len_step = stride > 1 ? 3 : 2;
    for (size_t at = 0; at < NATOMS; at++) {
        size_t alen = strlen(ATOMS[at]);
        for (size_t len = at % len_step; len <= 49; len += len_step) {
            for (size_t pos = test_first(at + len); pos <= len; pos += stride) {
                size_t n = 0;
                for (size_t i = 0; i < pos; i++)
                    s[n++] = (char)('a' + (i * 7 + len) % 26);
                memcpy(s + n, ATOMS[at], alen);
                n += alen;
                for (size_t i = pos; i < len; i++)
                    s[n++] = (char)('A' + (i * 5) % 26);
                for (int part = 0; part <= LINEPROTO_FIELD_KEY; part++) {
                    check_escape(s, n, (lineproto_part)part, "");
                    s[n] = '\\';
                    check_escape(s, n + 1, (lineproto_part)part, "x");
                }
            }
        }
    }
}
END_TEST

/* Random texts of atoms, of random lengths up to 200 bytes. */
START_TEST(test_escape_random)
{
    char s[256];
    int rounds = test_stride() == 1 ? 10000 : 1000;
    for (int r = 0; r < rounds; r++) {
        size_t n = 0, want = rnd() % 200;
        /* mostly plain, sometimes dense with specials */
        unsigned density = 1 + rnd() % 8;
        while (n < want) {
            const char *atom =
                rnd() % density == 0 ? ATOMS[rnd() % NATOMS] : ATOMS[rnd() % 11];
            size_t alen = strlen(atom);
            if (n + alen > sizeof s)
                break;
            memcpy(s + n, atom, alen);
            n += alen;
        }
        check_escape(s, n, (lineproto_part)(rnd() % 4), rnd() % 2 ? "" : "prefix,");
    }
}
END_TEST

/* Every byte value at every position of a block and its tail, for every
 * other length of them (the other half for the next value). */
START_TEST(test_escape_every_byte)
{
    char s[40];
    static const size_t lens[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33};
    size_t stride = test_stride();
    for (int c = 0; c < 256; c++) {
        /* Each byte value takes every other length, the other half for the
         * next value. */
        for (size_t l = (size_t)c % 2; l < sizeof lens / sizeof lens[0]; l += 2) {
            for (size_t pos = test_first((size_t)c + l) % lens[l]; pos < lens[l];
                 pos += stride) {
                for (size_t i = 0; i < lens[l]; i++)
                    s[i] = (char)('a' + i % 26);
                s[pos] = (char)c;
                for (int part = 0; part <= LINEPROTO_FIELD_KEY; part++)
                    check_escape(s, lens[l], (lineproto_part)part, "");
            }
        }
    }
}
END_TEST

/* ---- numbers ------------------------------------------------------------ */

static void check_double(double v)
{
    lineproto_buf a, b;
    lineproto_buf_init(&a);
    lineproto_buf_init(&b);
    int ra = lineproto_append_double(&a, v);
    int rb = lineproto_ref_append_double(&b, v);
    ck_assert_int_eq(ra, rb);
    ck_assert_msg(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0),
                  "%.17g: got %s, want %s", v, a.data ? a.data : "",
                  b.data ? b.data : "");
    lineproto_buf_fini(&a);
    lineproto_buf_fini(&b);
}

/* Short decimals k / 10^d (the fast path's domain), their neighbours one
 * ulp away, and its edges: 1e-5, 1e9, ties, integers up to 1e15 and
 * beyond. */
START_TEST(test_double_short_decimals)
{
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    int rounds = test_stride() == 1 ? 60000 : 5000;
    for (int r = 0; r < rounds; r++) {
        uint64_t k =
            ((uint64_t)rnd() << 32 | rnd()) % (r % 3 == 0   ? 100000ULL
                                               : r % 3 == 1 ? 1000000000ULL
                                                            : 1000000000000000ULL);
        double v = (double)k / pow10[rnd() % 9];
        if (rnd() % 2)
            v = -v;
        check_double(v);
        check_double(nextafter(v, INFINITY));
        check_double(nextafter(v, -INFINITY));
    }
    /* clang-format off */
    static const double edges[] = {
        0.0, -0.0, 1e-5, -1e-5, 9.99999e-6, 1.00001e-5, 1e9, 999999999.999999,
        1e9 - 0.5, 0.5, 2.5, 0.05, 0.25, 0.125, 1e15, 1e15 - 1, 1e15 + 2, -1e15,
        1e16, 1e17, 1e21, 123456.5, 0.1, 0.2, 0.3, 1012.3, 7.5, 26.5,
        4503599627370496.0, 4503599627370497.0, 9007199254740993.0, 1e-300, 5e-324,
        1.7976931348623157e308, 9.2233720368547758e18, -9.2233720368547758e18,
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_double(edges[i]);
        check_double(nextafter(edges[i], INFINITY));
        check_double(nextafter(edges[i], -INFINITY));
    }
}
END_TEST

/* Random bit patterns: every kind of double, NaN and infinities included. */
START_TEST(test_double_random_bits)
{
    int rounds = test_stride() == 1 ? 30000 : 5000;
    for (int r = 0; r < rounds; r++) {
        uint64_t bits = (uint64_t)rnd() << 32 | rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        check_double(v);
    }
}
END_TEST

static void check_int(int64_t v)
{
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, v);
    lineproto_buf a;
    lineproto_buf_init(&a);
    ck_assert_int_eq(lineproto_buf_append(&a, "x", 1), 0);
    ck_assert_int_eq(lineproto_append_int(&a, v), 0);
    ck_assert_str_eq(a.data + 1, want);
    lineproto_buf_fini(&a);
}

/* Every power of ten and its neighbours, both signs, the extremes and
 * random values of every length. */
START_TEST(test_int)
{
    check_int(INT64_MIN);
    check_int(INT64_MAX);
    check_int(INT64_MIN + 1);
    int64_t p = 1; /* 10^d; 10^18 is the largest an int64_t holds */
    for (int d = 0; d < 19; d++) {
        for (int64_t delta = -2; delta <= 2; delta++) {
            check_int(p + delta);
            check_int(-(p + delta));
        }
        if (d < 18)
            p *= 10;
    }
    int rounds = test_stride() == 1 ? 30000 : 5000;
    for (int r = 0; r < rounds; r++) {
        uint64_t bits = ((uint64_t)rnd() << 32 | rnd()) >> (rnd() % 64);
        check_int((int64_t)bits);
        check_int(-(int64_t)(bits >> 1));
    }
}
END_TEST

/* ---- whole messages ----------------------------------------------------- */

/* Runs the differential property (lineproto-ref.h) on a JSON text. */
static void check_text(const char *text)
{
    char why[4096];
    bool fast = false;
    int rc = lineproto_ref_check(text, strlen(text), &fast, why, sizeof why);
    ck_assert_msg(rc == 0, "%s\n%s", text, why);
}

/* Attribute names: plain, clashing with the fields the encoder adds
 * (state, value, the weather and presence extras, their "_" and "_str"
 * forms, time), and names that escaping changes or that influxd stores
 * alike (a newline and a backslash before 'n'), a trailing backslash. */
static const char *const NAMES[] = {
    "friendly_name",
    "brightness",
    "temperature",
    "x",
    "x_",
    "x_str",
    "x__str",
    "time",
    "time_",
    "state",
    "state_",
    "state_str",
    "value",
    "value_",
    "value_str",
    "weather_temperature",
    "weather_temperature_",
    "weather_condition",
    "weather_condition_str",
    "anyone_home",
    "people_home",
    "people_home_",
    "unit_of_measurement",
    "device_class",
    "a b",
    "a\\\\ b",
    "a\\\\",
    "a\\\\\\\\",
    "\\u00ff",
    "\\ufffd",
    "\\ud83c\\udfe0",
    "k=v",
    "k,v",
    "k\\nv",
    "k\\\\nv",
    "#k",
    "\\tk",
    "k\\\"",
    "a_very_long_attribute_name_that_spans_blocks_of_sixteen_bytes",
    "",
};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

/* JSON values: numbers, numeric and word texts, texts with digit tails,
 * NaN and infinities as texts, null, booleans, arrays and objects (their
 * JSON text becomes the field), long and hostile texts. */
static const char *const VALUES[] = {
    "1",
    "-2.5",
    "1e300",
    "0.1",
    "1012.3",
    "\"21.5\"",
    "\" 1_000 \"",
    "\"nan\"",
    "\"-inf\"",
    "\"1e999\"",
    "\"on\"",
    "\"12 km\"",
    "\"3.5.1\"",
    "\"v1.2\"",
    "\"abc\"",
    "\"\"",
    "null",
    "true",
    "false",
    "[1,\"a\",null]",
    "{\"k\":[{}]}",
    "\"a \\\"quoted\\\" text, with = and \\\\ and \\n newline\"",
    "\"\\u00e9t\\u00e9 \\ud83c\\udfe0\"",
    ("\"a text long enough to need more than one block of sixteen bytes, and "
     "then some more, so that its tail is loaded apart\""),
};
#define NVALUES (sizeof VALUES / sizeof VALUES[0])

/* Appends to t (of cap bytes) as snprintf would; fails when it is full. */
__attribute__((format(printf, 4, 5))) static void put(char *t, size_t cap, size_t *len,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t + *len, cap - *len, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < cap - *len);
    *len += (size_t)n;
}

/* A state_changed message with nattrs attributes drawn from NAMES (each at
 * most once: jansson keeps the last of repeated keys, msgjson declines
 * them) and VALUES, weather and presence, with the given state. */
/* The numbers make_message_of writes for attributes whose value is a JSON
 * number, when numbers is not NULL: numbers[i] for the i-th of them (of
 * NNUMBERS, taken in turn). */
#define NNUMBERS 4
static const char *const *numbers;

static void make_message_of(char *t, size_t cap, size_t nattrs, const char *state,
                            const char *entity, const char *value, const char *time)
{
    size_t nth = 0;
    size_t len = 0;
    put(t, cap, &len,
        "{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.t%s\",\"time_ns\":1%s,"
        "\"site\":\"home\",\"area\":\"Living Room\",%s%s%s\"unit\":\"\\u00b0C\","
        "\"new_state\":{\"state\":%s,\"attributes\":{",
        entity, time, value != NULL ? "\"value\":" : "", value != NULL ? value : "",
        value != NULL ? "," : "", state);
    bool used[NNAMES] = {false};
    size_t n = 0;
    for (size_t tries = 0; n < nattrs && tries < 4 * NNAMES; tries++) {
        size_t k = rnd() % NNAMES;
        if (used[k])
            continue;
        used[k] = true;
        const char *v = VALUES[rnd() % NVALUES];
        if (numbers != NULL && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
            v = numbers[nth++ % NNUMBERS];
        put(t, cap, &len, n == 0 ? "\"%s\":%s" : ",\"%s\":%s", NAMES[k], v);
        n++;
    }
    /* plain extra attributes past the fieldset's inline slots */
    for (size_t i = n; i < nattrs; i++) {
        char name[32];
        snprintf(name, sizeof name, "attr_%zu", i);
        put(t, cap, &len, n == 0 && i == n ? "\"%s\":%s" : ",\"%s\":%s", name,
            VALUES[rnd() % NVALUES]);
    }
    put(t, cap, &len,
        "}},\"weather\":{\"temperature\":7.5,\"humidity\":81,\"pressure\":1012.3,"
        "\"condition\":\"cloudy\"},\"presence\":{\"anyone_home\":%s,\"people_home\":%s}}",
        rnd() % 2 ? "true" : "false", rnd() % 2 ? "2" : "\"2\"");
}

static void make_message(char *t, size_t cap, size_t nattrs, const char *state)
{
    make_message_of(t, cap, nattrs, state, "", "21.5", "");
}

/* Messages with few and many attributes (past the 24 inline fields and the
 * 32 inline key spans), clashing and hostile names in every order, through
 * the writer's path and the reference encoder, for every option set. */
START_TEST(test_messages_random)
{
    static const char *const STATES[] = {"\"21.5\"",    "\"on\"",    "\"nan\"",
                                         "\"unknown\"", "\"12 km\"", "\"\"",
                                         "\"a,b=c d\""};
    static char t[65536];
    int rounds = test_stride() == 1 ? 1500 : 100;
    for (int r = 0; r < rounds; r++) {
        size_t nattrs = r % 5 == 0 ? 20 + rnd() % 30 : rnd() % 12;
        make_message(t, sizeof t, nattrs,
                     STATES[rnd() % (sizeof STATES / sizeof STATES[0])]);
        check_text(t);
    }
}
END_TEST

/* Keys that influxd stores alike coming after plain keys, so the store-alike
 * check starts late; and a first key that escaping changes. */
START_TEST(test_messages_alike_keys_late)
{
    static const char *const CASES[] = {
        /* "a b" escapes to "a\ b" (stored "a b"), "a\ b" to "a\\\ b"
         * (stored "a\ b"): distinct, after three plain keys */
        "{\"event_type\":\"state_changed\",\"entity_id\":\"s.x\",\"time_ns\":5,"
        "\"new_state\":{\"state\":\"1\",\"attributes\":{\"p1\":1,\"p2\":2,\"p3\":3,"
        "\"\\ufffd\":4,\"a b\":5,\"a\\\\ b\":6}}}",
        /* "k" and a newline escapes to "k\n", as "k\n" (a backslash and n)
         * does: stored alike, so only the first is written */
        "{\"event_type\":\"state_changed\",\"entity_id\":\"s.x\",\"time_ns\":5,"
        "\"new_state\":{\"state\":\"1\",\"attributes\":{\"k\\n\":1,\"p2\":2,\"k\\\\n\":3,"
        "\"p3\":3}}}",
        "{\"event_type\":\"state_changed\",\"entity_id\":\"s.x\",\"time_ns\":5,"
        "\"new_state\":{\"state\":\"off\",\"attributes\":{\"value\":1,\"value_\":2,"
        "\"state\":\"x\",\"state_str\":\"y\",\"time\":3,\"time_\":4}},"
        "\"weather\":{\"temperature\":1,\"condition\":\"c\"},"
        "\"presence\":{\"anyone_home\":true}}",
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        check_text(CASES[i]);
}
END_TEST

/* The shape cache (lineproto_encode_cached): one entity in one shape
 * (attributes, weather, presence) meets every kind of state and enricher
 * value, and lines composed from its entry must be the reference's; then
 * many entities at once, more than the cache holds, in turns. */
START_TEST(test_messages_cached_states)
{
    static const char *const STATES[] = {
        "\"21.5\"", "\"on\"",      "\"off\"",       "\"nan\"",         "\"inf\"",
        "\"-0\"",   "\"1e400\"",   "\"unknown\"",   "\"unavailable\"", "\"12 km\"",
        "\"\"",     "\"a,b=c d\"", "\"\\\"q\\\\\"", "\"\\u00e9\"",     "\" 7 \"",
    };
    static const char *const ENRICHED[] = {NULL,    "21.5", "0",   "-1e300",
                                           "\"x\"", "null", "true"};
    static char t[65536];
    uint64_t hits0 = lineproto_ref_cache_hits();
    uint64_t skel0 = lineproto_ref_skel_hits();
    int rounds = test_stride() == 1 ? 60 : 8;
    for (int r = 0; r < rounds; r++) {
        size_t nattrs = r % 7 == 0 ? 25 + rnd() % 10 : rnd() % 8;
        uint32_t shape = rnd();
        for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++) {
            for (size_t k = 0; k < sizeof ENRICHED / sizeof ENRICHED[0]; k++) {
                rng_state = shape; /* the same attributes and presence */
                char time[32];
                snprintf(time, sizeof time, "%zu%zu", i, k);
                make_message_of(t, sizeof t, nattrs, STATES[i], "", ENRICHED[k], time);
                check_text(t);
            }
        }
        rng_state = shape ^ 0x9E3779B9u;
    }
    uint64_t hits1 = lineproto_ref_cache_hits();
    ck_assert_msg(hits1 - hits0 > (uint64_t)rounds * 20, "only %" PRIu64 " cached lines",
                  hits1 - hits0);
    /* Texts of one shape but for their state and value: read from the
     * skeleton of the text before. */
    uint64_t skels = lineproto_ref_skel_hits() - skel0;
    ck_assert_msg(skels > (uint64_t)rounds * 40, "only %" PRIu64 " skeleton readings",
                  skels);

    /* 3,000 entities in two turns: entries taken over by others, and
     * entities meeting the entry of one that hashes alike. */
    int entities = test_stride() == 1 ? 3000 : 300;
    for (int turn = 0; turn < 2; turn++) {
        for (int e = 0; e < entities; e++) {
            char id[16];
            snprintf(id, sizeof id, "%d", e);
            rng_state = 7u + (uint32_t)e;
            make_message_of(t, sizeof t, 1 + (size_t)e % 3,
                            STATES[(size_t)(e + turn) % 3], id, "1", "");
            check_text(t);
        }
    }
    ck_assert_uint_gt(lineproto_ref_cache_hits(), hits1);
    lineproto_ref_cache_free();
}
END_TEST

/* One shape of attributes, hostile names included, whose numbers change
 * from one state to the next (reals for reals, sometimes an integer for a
 * real): every line composed with the message's own numbers in the entry's
 * holes is the reference's. */
START_TEST(test_messages_cached_numbers)
{
    static const char *const SETS[][NNUMBERS] = {
        {"1.5", "-2.25", "1012.3", "0.1"}, {"2.5", "-3.75", "1013.1", "1e-7"},
        {"3.5", "-1e300", "999.9", "0.2"}, {"4.5", "-0.0", "1e22", "12345.678"},
        {"5.5", "6.5", "7.5", "8.5"},      {"1", "2", "3", "4"},
        {"-9", "0", "123456789012", "7"},  {"4.5", "-0.0", "1e22", "12345.678"},
    };
    static char t[65536];
    uint64_t hits0 = lineproto_ref_cache_hits();
    int rounds = test_stride() == 1 ? 60 : 8;
    for (int r = 0; r < rounds; r++) {
        size_t nattrs = 3 + rnd() % 10;
        uint32_t shape = rnd();
        for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++) {
            rng_state = shape; /* the same names and kinds of values */
            numbers = SETS[i];
            char time[32];
            snprintf(time, sizeof time, "%zu", i);
            make_message_of(t, sizeof t, nattrs, "\"21.5\"", "n", "21.5", time);
            check_text(t);
        }
        numbers = NULL;
        rng_state = shape ^ 0x9E3779B9u;
    }
    uint64_t hits = lineproto_ref_cache_hits() - hits0;
    /* Without holes a message whose numbers changed misses the first time it
     * is encoded with each option set (about 38 lines a round here); with
     * them most are composed (about 52). */
    ck_assert_msg(hits > (uint64_t)rounds * 45, "only %" PRIu64 " cached lines", hits);
    lineproto_ref_cache_free();
}
END_TEST

static Suite *lineproto_fast_suite(void)
{
    Suite *s = suite_create("lineproto-fast");
    TCase *te = tcase_create("escape");
    tcase_set_timeout(te, 120);
    tcase_add_test(te, test_escape_atom_positions);
    tcase_add_test(te, test_escape_random);
    tcase_add_test(te, test_escape_every_byte);
    suite_add_tcase(s, te);
    TCase *tn = tcase_create("numbers");
    tcase_set_timeout(tn, 120);
    tcase_add_test(tn, test_double_short_decimals);
    tcase_add_test(tn, test_double_random_bits);
    tcase_add_test(tn, test_int);
    suite_add_tcase(s, tn);
    TCase *tm = tcase_create("messages");
    tcase_set_timeout(tm, 120);
    tcase_add_test(tm, test_messages_random);
    tcase_add_test(tm, test_messages_alike_keys_late);
    tcase_add_test(tm, test_messages_cached_states);
    tcase_add_test(tm, test_messages_cached_numbers);
    suite_add_tcase(s, tm);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lineproto_fast_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
