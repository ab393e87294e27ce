/* test-jscan.c - the strict JSON scanner against jansson: whatever it
 * accepts, jansson (with the enricher's flags) accepts too and reads the
 * same; the usual texts it accepts; hostile texts it declines. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hs_jscan.h"
#include "test_scale.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* The scanner's verdict on a whole document: one object or array (jansson
 * takes nothing else without JSON_DECODE_ANY), whitespace around it. */
static bool scan_accepts(const char *text, size_t len)
{
    hs_jscan_value v;
    if (hs_jscan_document(text, len, &v) != 0)
        return false;
    return v.type == HS_JSCAN_OBJECT || v.type == HS_JSCAN_ARRAY;
}

/* The same through the object iterator, for documents that are objects. */
static bool iter_accepts(const char *text, size_t len)
{
    hs_jscan_iter it;
    const char *k;
    size_t kl;
    hs_jscan_value v;
    int r;
    if (hs_jscan_iter_document(&it, text, len) != 0)
        return false;
    while ((r = hs_jscan_iter_next(&it, &k, &kl, &v)) == 1)
        ;
    return r == 0;
}

/* The same through the array iterator, for documents that are arrays;
 * when it accepts, its elements are jansson's, one for one. */
static bool array_accepts(const char *what, const char *text, size_t len)
{
    hs_jscan_iter it;
    hs_jscan_value v[64];
    size_t n = 0;
    int r;
    if (hs_jscan_iter_array_document(&it, text, len) != 0)
        return false;
    while ((r = hs_jscan_iter_element(&it, &v[n < 63 ? n : 63])) == 1)
        n++;
    if (r != 0)
        return false;
    json_error_t e;
    json_t *doc = json_loadb(text, len, FLAGS, &e);
    ck_assert_msg(json_is_array(doc), "%s: array iterator accepts what jansson rejects: %.*s",
                  what, (int)len, text);
    ck_assert_uint_eq(n, json_array_size(doc));
    for (size_t i = 0; i < n && i < 63; i++) {
        ck_assert_int_eq(v[i].depth, 1);
        json_t *got = json_loadb(v[i].text, v[i].len, FLAGS | JSON_DECODE_ANY, &e);
        ck_assert_msg(got != NULL && json_equal(got, json_array_get(doc, i)),
                      "%s: element %zu is %.*s: %.*s", what, i, (int)v[i].len, v[i].text,
                      (int)len, text);
        json_decref(got);
    }
    json_decref(doc);
    return true;
}

/* Paths hs_jscan_extract looks for in every text here. */
static const char *const path_a[] = {"a", NULL};
static const char *const path_ab[] = {"a", "b", NULL};
static const char *const path_aa[] = {"a", "a", NULL};
static const char *const path_bbc[] = {"bb", "c", NULL};
static const char *const path_unit[] = {"new_state", "attributes", "unit_of_measurement",
                                        NULL};
static const char *const path_state[] = {"new_state", "state", NULL};
static const char *const *const paths[] = {path_a,   path_ab,   path_aa,
                                           path_bbc, path_unit, path_state};
#define NPATHS (sizeof paths / sizeof paths[0])

/* hs_jscan_extract's verdict on text; when it accepts, every value it found
 * is the value jansson has at that path, and every path it did not find
 * jansson does not have either. */
static bool extract_accepts(const char *what, const char *text, size_t len)
{
    hs_jscan_value v[NPATHS];
    if (hs_jscan_extract(text, len, paths, NPATHS, v) != 0)
        return false;
    json_error_t e;
    json_t *doc = json_loadb(text, len, FLAGS, &e);
    ck_assert_msg(doc != NULL, "%s: extract accepts what jansson rejects: %.*s", what,
                  (int)len, text);
    for (size_t p = 0; p < NPATHS; p++) {
        const json_t *at = doc;
        for (size_t k = 0; paths[p][k]; k++)
            at = json_object_get(at, paths[p][k]);
        if (v[p].type == HS_JSCAN_ABSENT) {
            ck_assert_msg(at == NULL, "%s: path %zu missed: %.*s", what, p, (int)len,
                          text);
            continue;
        }
        json_t *got = json_loadb(v[p].text, v[p].len, FLAGS | JSON_DECODE_ANY, &e);
        ck_assert_msg(got != NULL && at != NULL && json_equal(got, at),
                      "%s: path %zu has %.*s: %.*s", what, p, (int)v[p].len, v[p].text,
                      (int)len, text);
        json_decref(got);
    }
    json_decref(doc);
    return true;
}

static bool jansson_accepts(const char *text, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, FLAGS, &e);
    json_decref(j);
    return j != NULL;
}

/* The contract's direction that matters: an accepted text is JSON to
 * jansson. Returns the scanner's verdict. */
static bool check_text(const char *what, const char *text, size_t len)
{
    bool s = scan_accepts(text, len);
    bool i = iter_accepts(text, len);
    bool j = jansson_accepts(text, len);
    ck_assert_msg(!s || j, "%s: scanner accepts what jansson rejects: %.*s", what,
                  (int)len, text);
    ck_assert_msg(!i || j, "%s: iterator accepts what jansson rejects: %.*s", what,
                  (int)len, text);
    /* A document that is an object: the iterator agrees with the scan. */
    size_t p = 0;
    while (p < len &&
           (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r'))
        p++;
    if (p < len && text[p] == '{') {
        ck_assert_msg(i == s, "%s: scan %d, iter %d: %.*s", what, s, i, (int)len, text);
        bool x = extract_accepts(what, text, len);
        ck_assert_msg(x == s, "%s: scan %d, extract %d: %.*s", what, s, x, (int)len,
                      text);
    } else if (p < len && text[p] == '[') {
        /* A document that is an array: the array iterator agrees too. */
        bool a = array_accepts(what, text, len);
        ck_assert_msg(a == s, "%s: scan %d, array iter %d: %.*s", what, s, a, (int)len,
                      text);
    }
    return s;
}

#define HA_EVENT                                                                         \
    "{\"schema\":1,\"site\":\"home\",\"event_type\":\"state_changed\",\"origin\":"       \
    "\"LOCAL\",\"entity_id\":\"sensor.t\",\"domain\":\"sensor\",\"object_id\":\"t\","    \
    "\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\",\"new_state\":{\"state\":"      \
    "\"21.5\",\"attributes\":{\"unit_of_measurement\":\"°C\",\"device_class\":"         \
    "\"temperature\",\"friendly_name\":\"Küche \\\"Süd\\\" \\u00e9\\ud83d\\ude00\","   \
    "\"list\":[1,-2,3.5e-3,0,-0,1E+2,true,false,null,[],{}]},\"last_updated\":"          \
    "\"2026-11-21T22:48:38Z\"},\"old_state\":null,\"context\":{\"id\":\"01HX\"},"        \
    "\"area\":null,\"backfill\":false}"

/* Texts both must accept. */
static const char *const good[] = {
    HA_EVENT,
    "{}",
    "[]",
    " \t\r\n{ \"a\" : [ 1 , 2 ] } \n",
    "{\"a\":\"\\u0000\",\"b\":\"x\\u0000y\"}",
    "{\"a\":9223372036854775807,\"b\":-9223372036854775808}",
    "{\"a\":1.5e300,\"b\":1e-400,\"c\":-0.0,\"d\":123456789012345678901234567890.5}",
    "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
    "{\"a\":\"\xf4\x8f\xbf\xbf\xe2\x82\xac\xc2\xa9\"}",
    "{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "[\"x\",{\"k\":\"v\",\"K\":\"v\"}]",
    " [ 1 , {\"a\":[2]} ,\"s\",null,[] ]\n",
    "{\"a\":{\"b\":[1,{\"b\":2}],\"a\":{\"a\":3}},\"bb\":{\"c\":null,\"d\":{\"c\":1}}}",
    ("{\"a\":[{\"b\":1}],\"bb\":\"c\",\"new_state\":{\"attributes\":{\"x\":{"
     "\"unit_of_measurement\":1}}}}"),
};

/* Texts jansson rejects. */
static const char *const bad[] = {
    "",
    " ",
    "1",
    "\"s\"",
    "null",
    "{",
    "{\"a\"",
    "{\"a\":",
    "{\"a\":1",
    "{\"a\":1,}",
    "[1,]",
    "[,1]",
    "[1 2]",
    "[1] x",
    "[1",
    "[",
    "{\"a\":1}x",
    "{\"a\":1}{}",
    "{\"a\" 1}",
    "{a:1}",
    "{'a':1}",
    "{\"a\":01}",
    "{\"a\":-}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":1e}",
    "{\"a\":1e+}",
    "{\"a\":0x10}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
    "{\"a\":9223372036854775808}",
    "{\"a\":-9223372036854775809}",
    "{\"a\":99999999999999999999}",
    "{\"a\":1e309}",
    "{\"a\":-1e400}",
    "{\"a\":tru}",
    "{\"a\":truex}",
    "{\"a\":nul}",
    "{\"a\":True}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\u12\"}",
    "{\"a\":\"\\u12G4\"}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\ud800x\"}",
    "{\"a\":\"\\ud800\\u0041\"}",
    "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\udc00\\ud800\"}",
    "{\"a\":\"tab\there\"}",
    "{\"a\":\"new\nline\"}",
    "{\"a\":\"\xc0\x80\"}",
    "{\"a\":\"\xc1\xbf\"}",
    "{\"a\":\"\xe0\x80\x80\"}",
    "{\"a\":\"\xed\xa0\x80\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}",
    "{\"a\":\"\xf5\x80\x80\x80\"}",
    "{\"a\":\"\x80\"}",
    "{\"a\":\"\xc3\"}",
    "{\"a\":\"\xe2\x82\"}",
    "{\"a\":\"\xff\"}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"\\u0061\":2}",
    "{\"a\":{\"b\":1,\"b\":1}}",
    "[{\"x\":[{\"y\":1,\"y\":2}]}]",
    "{\"a\":\"unterminated}",
    "{\"a\":1]",
    "[1}",
    "\xef\xbb\xbf{}",
};

/* Texts jansson accepts and the scanner declines on purpose. */
static const char *const declined[] = {
    "{\"\\u0061\":1}",
    "{\"a\":1e308}",
    "{\"a\":1.7e308}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};

START_TEST(test_good)
{
    const char *t = good[_i];
    ck_assert_msg(jansson_accepts(t, strlen(t)), "bad test text %s", t);
    ck_assert_msg(check_text("good", t, strlen(t)), "declined: %s", t);
}
END_TEST

START_TEST(test_bad)
{
    const char *t = bad[_i];
    ck_assert_msg(!jansson_accepts(t, strlen(t)), "jansson takes %s", t);
    ck_assert_msg(!check_text("bad", t, strlen(t)), "accepted: %s", t);
}
END_TEST

START_TEST(test_declined)
{
    const char *t = declined[_i];
    ck_assert_msg(jansson_accepts(t, strlen(t)), "bad test text %s", t);
    ck_assert_msg(!check_text("declined", t, strlen(t)), "accepted: %s", t);
}
END_TEST

/* Raw NUL bytes, which a C string cannot hold: never JSON. */
START_TEST(test_nul_bytes)
{
    static const char a[] = "{\"a\":\"x\0y\"}";
    static const char b[] = "{\"a\":1}\0";
    static const char c[] = "{\"a\":1\0}";
    ck_assert(!check_text("nul", a, sizeof a - 1));
    ck_assert(!check_text("nul", b, sizeof b - 1));
    ck_assert(!check_text("nul", c, sizeof c - 1));
}
END_TEST

/* Every prefix of the good texts, and one-byte changes of them into bytes
 * that matter to JSON: the scanner never accepts what jansson rejects. */
START_TEST(test_mutations)
{
    static const char bytes[] = {'"',  '\\',   '{',    '}',    '[',    ']',    ',', ':',
                                 '0',  '1',    '-',    '.',    'e',    'u',    'n', ' ',
                                 '\n', '\x01', '\x80', '\xc3', '\xed', '\xff', '\0'};
    char buf[1024];
    size_t accepted = 0, total = 0;
    for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
        size_t n = strlen(good[g]);
        ck_assert_uint_lt(n, sizeof buf);
        for (size_t cut = test_first(g); cut < n; cut += test_stride()) {
            check_text("prefix", good[g], cut);
            total++;
        }
        /* Six of the bytes at each position, a different six at the next:
         * every byte at most positions, at a quarter of the cost. */
        for (size_t at = test_first(g); at < n; at += test_stride()) {
            for (size_t j = 0; j < 6; j++) {
                memcpy(buf, good[g], n);
                buf[at] = bytes[(at * 6 + j) % sizeof bytes];
                accepted += check_text("mutation", buf, n);
                total++;
            }
        }
    }
    /* Some mutations stay JSON (a digit for a digit): the check above
     * covered both verdicts. */
    ck_assert_uint_gt(accepted, 0);
    ck_assert_uint_gt(total, accepted);
}
END_TEST

/* Strings decode to what jansson reads, NUL bytes included; numbers read
 * as jansson reads them. */
START_TEST(test_values)
{
    static const char *const strings[] = {
        "\"plain\"",
        "\"\"",
        "\"Küche\"",
        "\"a\\u0000b\"",
        "\"\\ud83d\\ude00\\u00e9\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u20AC\\u0041\"",
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        char doc[256];
        snprintf(doc, sizeof doc, "[%s]", strings[i]);
        json_error_t e;
        json_t *j = json_loads(doc, FLAGS, &e);
        ck_assert_ptr_nonnull(j);
        size_t pos = 0;
        hs_jscan_value v;
        ck_assert_int_eq(hs_jscan_value_at(strings[i], strlen(strings[i]), &pos, 1, &v),
                         0);
        ck_assert_int_eq(v.type, HS_JSCAN_STRING);
        char out[64];
        size_t n = 0;
        ck_assert_int_eq(hs_jscan_string(&v, out, sizeof out, &n), 0);
        json_t *s = json_array_get(j, 0);
        ck_assert_uint_eq(n, json_string_length(s));
        ck_assert(memcmp(out, json_string_value(s), n) == 0);
        ck_assert_int_eq(out[n], '\0');
        /* Too small a buffer declines. */
        if (n > 0)
            ck_assert_int_eq(hs_jscan_string(&v, out, n, &n), -1);
        json_decref(j);
    }
    static const char *const numbers[] = {"0",
                                          "-0",
                                          "1",
                                          "-17",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "21.5",
                                          "-3.25e-2",
                                          "1E+2",
                                          "1e-400",
                                          "1.5e300"};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "[%s]", numbers[i]);
        json_error_t e;
        json_t *j = json_loads(doc, FLAGS, &e);
        ck_assert_msg(j != NULL, "%s", numbers[i]);
        size_t pos = 0;
        hs_jscan_value v;
        ck_assert_int_eq(hs_jscan_value_at(numbers[i], strlen(numbers[i]), &pos, 1, &v),
                         0);
        json_t *x = json_array_get(j, 0);
        ck_assert_int_eq(v.integer, json_is_integer(x));
        double d = 0;
        ck_assert_int_eq(hs_jscan_number(&v, &d), 0);
        ck_assert(d == json_number_value(x));
        int64_t iv = 0;
        if (v.integer) {
            ck_assert_int_eq(hs_jscan_int(&v, &iv), 0);
            ck_assert(iv == json_integer_value(x));
        } else {
            ck_assert_int_eq(hs_jscan_int(&v, &iv), -1);
        }
        json_decref(j);
    }
}
END_TEST

/* The iterator hands out the members in order, with raw value spans. */
START_TEST(test_iter)
{
    const char *t = " {\"a\" : 1 , \"bb\":{\"c\":[true]},\"d\":\"x\\ny\"} ";
    hs_jscan_iter it;
    const char *k;
    size_t kl;
    hs_jscan_value v;
    ck_assert_int_eq(hs_jscan_iter_document(&it, t, strlen(t)), 0);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 1);
    ck_assert(kl == 1 && k[0] == 'a' && v.type == HS_JSCAN_NUMBER && v.len == 1);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 1);
    ck_assert(kl == 2 && memcmp(k, "bb", 2) == 0 && v.type == HS_JSCAN_OBJECT);
    ck_assert(v.len == 12 && memcmp(v.text, "{\"c\":[true]}", 12) == 0);
    hs_jscan_iter sub;
    ck_assert_int_eq(hs_jscan_iter_object(&sub, &v), 0);
    hs_jscan_value w;
    ck_assert_int_eq(hs_jscan_iter_next(&sub, &k, &kl, &w), 1);
    ck_assert(kl == 1 && k[0] == 'c' && w.type == HS_JSCAN_ARRAY && w.len == 6);
    ck_assert_int_eq(hs_jscan_iter_next(&sub, &k, &kl, &w), 0);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 1);
    ck_assert(v.type == HS_JSCAN_STRING && v.escaped);
    ck_assert(!hs_jscan_string_is(&v, "x\ny", 3));
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 0);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 0);
    /* A duplicate declines, and keeps declining. */
    const char *d = "{\"a\":1,\"b\":2,\"a\":3}";
    ck_assert_int_eq(hs_jscan_iter_document(&it, d, strlen(d)), 0);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 1);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), 1);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), -1);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), -1);
    /* Not an object. */
    ck_assert_int_eq(hs_jscan_iter_document(&it, "[1]", 3), -1);
    ck_assert_int_eq(hs_jscan_iter_next(&it, &k, &kl, &v), -1);
}
END_TEST

/* More members than HS_JSCAN_MAX_KEYS decline; as many are fine. */
START_TEST(test_many_keys)
{
    char buf[4096];
    for (int n = HS_JSCAN_MAX_KEYS; n <= HS_JSCAN_MAX_KEYS + 1; n++) {
        size_t o = 0;
        buf[o++] = '{';
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"k%d\":%d", i ? "," : "",
                                  i, i);
        buf[o++] = '}';
        ck_assert(jansson_accepts(buf, o));
        ck_assert_int_eq(check_text("keys", buf, o), n == HS_JSCAN_MAX_KEYS);
    }
}
END_TEST

static Suite *jscan_suite(void)
{
    Suite *s = suite_create("jscan");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_good, 0, sizeof good / sizeof good[0]);
    tcase_add_loop_test(tc, test_bad, 0, sizeof bad / sizeof bad[0]);
    tcase_add_loop_test(tc, test_declined, 0, sizeof declined / sizeof declined[0]);
    tcase_add_test(tc, test_nul_bytes);
    tcase_add_test(tc, test_mutations);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_iter);
    tcase_add_test(tc, test_many_keys);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jscan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
