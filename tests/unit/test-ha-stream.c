/* test-ha-stream.c - ha_stream: reading large messages as their fragments
 * arrive (issue #3, get_states answers of several hundred MB). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ha_stream.h"

/* What the callbacks saw, as one line per call. */
typedef struct {
    char log[65536];
    size_t len;
    int64_t want_id; /* wants_elements answers true for this id only */
    int ends;
    int malformed;
} seen;

#define LOG(sp, ...)                                                                \
    do {                                                                            \
        seen *s_ = (sp);                                                            \
        int w_ = snprintf(s_->log + s_->len, sizeof(s_->log) - s_->len, __VA_ARGS__); \
        ck_assert_int_ge(w_, 0);                                                    \
        ck_assert_uint_lt(s_->len + (size_t)w_, sizeof(s_->log));                   \
        s_->len += (size_t)w_;                                                      \
    } while (0)

static void c_frame(void *ud, const char *buf, size_t len)
{
    ck_assert_int_eq(buf[len], '\0');
    LOG(ud, "frame %.*s\n", (int)len, buf);
}

static void c_oversize(void *ud, size_t size, const char *prefix, size_t prefix_len)
{
    ck_assert_uint_le(prefix_len, HA_STREAM_PREFIX);
    LOG(ud, "oversize %zu %.*s\n", size, (int)(prefix_len > 8 ? 8 : prefix_len), prefix);
}

static void c_malformed(void *ud, const char *reason, const char *text, size_t len)
{
    seen *s = ud;
    s->malformed++;
    ck_assert_uint_le(len, HA_STREAM_PREFIX);
    (void)text;
    LOG(ud, "malformed %s\n", reason);
}

static bool c_wants(void *ud, int64_t id)
{
    return id == ((seen *)ud)->want_id;
}

static void c_element(void *ud, int64_t id, const char *text, size_t len)
{
    ck_assert_int_eq(text[len], '\0');
    LOG(ud, "el %lld %.*s\n", (long long)id, (int)len, text);
}

static void c_element_oversize(void *ud, int64_t id, size_t size, const char *prefix,
                               size_t prefix_len)
{
    (void)id;
    LOG(ud, "el-oversize %zu %.*s\n", size, (int)(prefix_len > 8 ? 8 : prefix_len), prefix);
}

static void c_end(void *ud, int64_t id, const char *error)
{
    seen *s = ud;
    s->ends++;
    LOG(ud, "end %lld %s\n", (long long)id, error != NULL ? "error" : "ok");
}

static ha_stream *make(seen *s, size_t threshold, size_t max_message)
{
    memset(s, 0, sizeof(*s));
    s->want_id = 7;
    ha_stream_opts o = {threshold, max_message};
    ha_stream_cbs c = {c_frame, c_oversize, c_malformed, c_wants,
                       c_element, c_element_oversize, c_end, s};
    ha_stream *st = ha_stream_new(&o, &c);
    ck_assert_ptr_nonnull(st);
    return st;
}

/* Feeds text in pieces of the given sizes (the last repeated), then ends. */
static void feed_split(ha_stream *st, const char *text, size_t a, size_t b)
{
    size_t n = strlen(text), i = 0;
    size_t first = a < n ? a : n;
    ck_assert_int_eq(ha_stream_feed(st, text, first), 0);
    i = first;
    while (i < n) {
        size_t k = n - i < b ? n - i : b;
        ck_assert_int_eq(ha_stream_feed(st, text + i, k), 0);
        i += k;
    }
    ck_assert_int_eq(ha_stream_end(st), 0);
}

static const char *run(seen *s, size_t threshold, size_t max, const char *text, size_t a,
                       size_t b)
{
    ha_stream *st = make(s, threshold, max);
    feed_split(st, text, a, b);
    ha_stream_free(st);
    return s->log;
}

static const char ANSWER[] =
    "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":["
    "{\"entity_id\":\"light.a\",\"state\":\"on\",\"attributes\":{\"x\":[1,2,{\"y\":\"]}\"}]},"
    "\"last_updated\":\"2024-01-01T00:00:00+00:00\"}, "
    "{\"entity_id\":\"sensor.q\\\"uote\",\"state\":\"1\\\\\",\"attributes\":{}}\n,"
    "{\"entity_id\":\"sensor.c\",\"state\":\"[{,\",\"attributes\":{\"a\":[]}}"
    "]}";

/* The elements of ANSWER as the whole parse gives them. */
static json_t *answer_states(void)
{
    json_error_t e;
    json_t *root = json_loads(ANSWER, 0, &e);
    ck_assert_ptr_nonnull(root);
    json_t *r = json_incref(json_object_get(root, "result"));
    json_decref(root);
    return r;
}

/* Every element line of the log, parsed, must equal the whole parse. */
static void check_elements(const char *log, const json_t *want)
{
    size_t k = 0;
    const char *p = log;
    while ((p = strstr(p, "el 7 ")) != NULL) {
        p += 5;
        const char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        json_error_t e;
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, &e);
        ck_assert_msg(v != NULL, "element %zu does not parse: %s", k, e.text);
        ck_assert_msg(json_equal(v, json_array_get(want, k)), "element %zu differs", k);
        json_decref(v);
        k++;
        p = nl;
    }
    ck_assert_uint_eq(k, json_array_size(want));
}

/* Two fragments split at every byte position give the states of the whole
 * text; so do fragments of one byte, and three-byte ones. */
START_TEST(test_every_split)
{
    json_t *want = answer_states();
    size_t n = strlen(ANSWER);
    seen s;
    for (size_t cut = 0; cut <= n; cut++) {
        run(&s, 16, 1 << 20, ANSWER, cut, n);
        check_elements(s.log, want);
        ck_assert_int_eq(s.ends, 1);
        ck_assert_int_eq(s.malformed, 0);
        ck_assert_ptr_nonnull(strstr(s.log, "end 7 ok"));
        ck_assert_ptr_null(strstr(s.log, "frame"));
    }
    for (size_t piece = 1; piece <= 3; piece++) {
        run(&s, 16, 1 << 20, ANSWER, piece, piece);
        check_elements(s.log, want);
        ck_assert_int_eq(s.ends, 1);
    }
    json_decref(want);
}
END_TEST

/* Under the threshold a message comes whole, as it was. */
START_TEST(test_small_whole)
{
    seen s;
    run(&s, 1 << 20, 1 << 20, ANSWER, 10, 5);
    ck_assert_int_eq(strncmp(s.log, "frame {\"id\":7", 13), 0);
    ck_assert_ptr_null(strstr(s.log, "el 7"));
    run(&s, 1 << 20, 1 << 20, "not json", 3, 1);
    ck_assert_str_eq(s.log, "frame not json\n");
}
END_TEST

/* Over the threshold, without a wanted result, each message comes whole. */
static const struct {
    const char *name;
    const char *text;
    const char *log;
} whole_cases[] = {
    {"not wanted", "{\"id\":8,\"type\":\"result\",\"success\":true,\"result\":[1,2]}",
     "frame {\"id\":8,\"type\":\"result\",\"success\":true,\"result\":[1,2]}\n"},
    {"failed result", "{\"id\":7,\"type\":\"result\",\"success\":false,\"result\":[1]}",
     "frame {\"id\":7,\"type\":\"result\",\"success\":false,\"result\":[1]}\n"},
    {"result before id", "{\"type\":\"result\",\"result\":[1,2],\"success\":true,\"id\":7}",
     "frame {\"type\":\"result\",\"result\":[1,2],\"success\":true,\"id\":7}\n"},
    {"escaped key", "{\"id\":7,\"type\":\"result\",\"success\":true,\"res\\u0075lt\":[1]}",
     "frame {\"id\":7,\"type\":\"result\",\"success\":true,\"res\\u0075lt\":[1]}\n"},
    {"nested result key", "{\"id\":7,\"type\":\"event\",\"event\":{\"result\":[1]}}",
     "frame {\"id\":7,\"type\":\"event\",\"event\":{\"result\":[1]}}\n"},
    {"coalesced", " [ {\"id\":2,\"type\":\"event\",\"event\":{\"a\":\"],[\"}} , 5,\"s\"] ",
     "frame {\"id\":2,\"type\":\"event\",\"event\":{\"a\":\"],[\"}} \nframe 5\n"
     "frame \"s\"\n"},
    {"empty coalesced", "[          ]", ""},
    {"coalesced with a streamed result",
     "[{\"id\":1,\"type\":\"pong\"},{\"id\":7,\"type\":\"result\",\"success\":true,"
     "\"result\":[{\"a\":1}, 2 ,[]]},{\"id\":3,\"type\":\"pong\"}]",
     "frame {\"id\":1,\"type\":\"pong\"}\nel 7 {\"a\":1}\nel 7 2\nel 7 []\nend 7 ok\n"
     "frame {\"id\":3,\"type\":\"pong\"}\n"},
    {"empty result", "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[  ]} ",
     "end 7 ok\n"},
};

START_TEST(test_whole_messages)
{
    seen s;
    size_t n = strlen(whole_cases[_i].text);
    for (size_t cut = 0; cut <= n; cut++) {
        run(&s, 4, 1 << 20, whole_cases[_i].text, cut, 1);
        ck_assert_msg(strcmp(s.log, whole_cases[_i].log) == 0, "%s (cut %zu): got\n%s",
                      whole_cases[_i].name, cut, s.log);
    }
}
END_TEST

/* Malformed frames are reported, never dropped silently; a streamed result
 * then ends with an error, after the elements read before. */
static const struct {
    const char *name;
    const char *text;
    const char *reason; /* in the log */
    const char *elements;
} bad_cases[] = {
    {"garbage", "garbage that is long enough", "neither a JSON object", ""},
    {"truncated",
     "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[{\"a\":1},{\"b\":",
     "truncated", "el 7 {\"a\":1}\n"},
    {"truncated in a string", "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[\"ab",
     "truncated", ""},
    {"brackets", "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[1,{\"a\":2]]}",
     "brackets", "el 7 1\n"},
    {"after the array", "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[1] x}",
     "not valid JSON", "el 7 1\n"},
    {"after the frame", "{\"id\":7,\"type\":\"pong\"} {\"id\":8}", "after its JSON value",
     ""},
    {"empty in coalesced", "[{\"id\":1,\"type\":\"pong\"},,{\"id\":2}]", "empty element",
     ""},
};

START_TEST(test_malformed)
{
    seen s;
    run(&s, 4, 1 << 20, bad_cases[_i].text, 3, 2);
    ck_assert_msg(strstr(s.log, bad_cases[_i].reason) != NULL, "%s: got\n%s",
                  bad_cases[_i].name, s.log);
    ck_assert_int_eq(s.malformed, 1);
    if (strstr(bad_cases[_i].text, "\"id\":7,\"type\":\"result\"") != NULL) {
        ck_assert_int_eq(s.ends, 1);
        ck_assert_ptr_nonnull(strstr(s.log, "end 7 error"));
        ck_assert_int_eq(strncmp(s.log, bad_cases[_i].elements,
                                 strlen(bad_cases[_i].elements)),
                         0);
    }
}
END_TEST

/* An element itself malformed is handed over as it is (its reader reports
 * it), and the ones after it still come. */
START_TEST(test_bad_element)
{
    seen s;
    run(&s, 4, 1 << 20,
        "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[{\"a\":1},{bad},,{\"b\":2}]}",
        5, 7);
    ck_assert_str_eq(s.log, "el 7 {\"a\":1}\nel 7 {bad}\nel 7 \nel 7 {\"b\":2}\nend 7 ok\n");
}
END_TEST

/* Deeper than HA_STREAM_MAX_DEPTH: refused, inside an element too. */
START_TEST(test_too_deep)
{
    size_t depth = HA_STREAM_MAX_DEPTH + 10;
    const char *head = "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[{\"a\":1},";
    size_t hl = strlen(head);
    char *text = malloc(hl + 2 * depth + 8);
    ck_assert_ptr_nonnull(text);
    memcpy(text, head, hl);
    memset(text + hl, '[', depth);
    memset(text + hl + depth, ']', depth);
    strcpy(text + hl + 2 * depth, "]}");
    seen s;
    run(&s, 64, 1 << 20, text, 100, 4096);
    ck_assert_ptr_nonnull(strstr(s.log, "el 7 {\"a\":1}\n"));
    ck_assert_ptr_nonnull(strstr(s.log, "too deeply"));
    ck_assert_int_eq(s.ends, 1);
    ck_assert_ptr_nonnull(strstr(s.log, "end 7 error"));
    free(text);
}
END_TEST

/* An element over max_message is refused with its size, the rest taken; a
 * message over it comes back as oversize. */
START_TEST(test_oversize)
{
    seen s;
    run(&s, 8, 64,
        "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[{\"a\":1},"
        "{\"big\":\"0123456789012345678901234567890123456789012345678901234567890123\"},"
        "{\"b\":2}]}",
        10, 3);
    ck_assert_str_eq(s.log, "el 7 {\"a\":1}\nel-oversize 74 {\"big\":\"\nel 7 {\"b\":2}\n"
                            "end 7 ok\n");
    run(&s, 8, 64,
        "[{\"id\":1,\"type\":\"event\",\"event\":\"0123456789012345678901234567890123456789"
        "0123456789\"},{\"id\":2,\"type\":\"pong\"}]",
        10, 3);
    ck_assert_msg(strncmp(s.log, "oversize 84 {\"id\":1", 19) == 0, "%s", s.log);
    ck_assert_ptr_nonnull(strstr(s.log, "frame {\"id\":2,\"type\":\"pong\"}\n"));
}
END_TEST

/* A reset forgets a partial frame without callbacks; the next one reads
 * normally. */
START_TEST(test_reset)
{
    seen s;
    ha_stream *st = make(&s, 4, 1 << 20);
    const char *part = "{\"id\":7,\"type\":\"result\",\"success\":true,\"result\":[{\"a\":1},{";
    ck_assert_int_eq(ha_stream_feed(st, part, strlen(part)), 0);
    size_t before = s.len;
    ha_stream_reset(st);
    ck_assert_uint_eq(s.len, before);
    feed_split(st, "{\"id\":9,\"type\":\"pong\"}", 2, 2);
    ck_assert_ptr_nonnull(strstr(s.log, "frame {\"id\":9,\"type\":\"pong\"}\n"));
    ck_assert_int_eq(s.ends, 0);
    ha_stream_free(st);
    ha_stream_free(NULL);
}
END_TEST

/* A trim between messages frees the kept buffers and the next message is
 * read whole; a trim in the middle of a message (whole or streamed) changes
 * nothing: the message still arrives intact. */
START_TEST(test_trim)
{
    seen s;
    ha_stream *st = make(&s, 1 << 20, 1 << 20);
    ha_stream_trim(st);
    feed_split(st, "{\"id\":1,\"type\":\"pong\"}", 3, 5);
    ha_stream_trim(st);
    ha_stream_trim(st);
    const char *part = "{\"id\":2,\"type\":\"po";
    ck_assert_int_eq(ha_stream_feed(st, part, strlen(part)), 0);
    ha_stream_trim(st);
    ck_assert_int_eq(ha_stream_feed(st, "ng\"}", 4), 0);
    ck_assert_int_eq(ha_stream_end(st), 0);
    ck_assert_ptr_nonnull(strstr(s.log, "frame {\"id\":1,\"type\":\"pong\"}\n"));
    ck_assert_ptr_nonnull(strstr(s.log, "frame {\"id\":2,\"type\":\"pong\"}\n"));
    ha_stream_free(st);

    /* Streamed (threshold 4): a trim between the elements of an answer. */
    st = make(&s, 4, 1 << 20);
    size_t n = strlen(ANSWER), half = n / 2;
    ck_assert_int_eq(ha_stream_feed(st, ANSWER, half), 0);
    ha_stream_trim(st);
    ck_assert_int_eq(ha_stream_feed(st, ANSWER + half, n - half), 0);
    ck_assert_int_eq(ha_stream_end(st), 0);
    json_t *want = answer_states();
    check_elements(s.log, want);
    json_decref(want);
    ck_assert_int_eq(s.ends, 1);
    ha_stream_free(st);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ha_stream");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_every_split);
    tcase_add_test(t, test_small_whole);
    tcase_add_loop_test(t, test_whole_messages, 0,
                        (int)(sizeof(whole_cases) / sizeof(whole_cases[0])));
    tcase_add_loop_test(t, test_malformed, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(t, test_bad_element);
    tcase_add_test(t, test_too_deep);
    tcase_add_test(t, test_oversize);
    tcase_add_test(t, test_reset);
    tcase_add_test(t, test_trim);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
