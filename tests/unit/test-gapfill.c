/* test-gapfill.c - gapfill: admit (filter + dedupe) and the order in which
 * history, held live events and current states go out. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gapfill.h"

static json_t *j(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
    return v;
}

/* A live state_changed event of entity at second sec (µs us). */
static json_t *live(const char *entity, int sec, const char *state)
{
    char text[512], t[40];
    snprintf(t, sizeof(t), "2026-11-21T22:00:%02d.000100+00:00", sec);
    snprintf(
        text, sizeof(text),
        "{\"event_type\":\"state_changed\",\"time_fired\":\"%s\",\"data\":{"
        "\"entity_id\":\"%s\",\"old_state\":null,\"new_state\":{\"entity_id\":\"%s\","
        "\"state\":\"%s\",\"attributes\":{},\"last_changed\":\"%s\","
        "\"last_updated\":\"%s\"}}}",
        t, entity, entity, state, t, t);
    return j(text);
}

/* What the emit callback let through gapfill_admit, in order. */
typedef struct {
    lastseen *seen;
    filter f;
    char out[64][96];
    bool backfill[64];
    int n, dup, bad;
} sink;

static void emit(void *ud, const json_t *ev, bool backfill)
{
    sink *s = ud;
    gap_info info;
    if (gapfill_admit(s->seen, &s->f, ev, &info) != GAP_EMIT) {
        s->dup++;
        return;
    }
    const json_t *ns = json_object_get(json_object_get(ev, "data"), "new_state");
    ck_assert_int_lt(s->n, 64);
    snprintf(s->out[s->n], sizeof(s->out[0]), "%s=%s@%s", info.entity_id,
             json_string_value(json_object_get(ns, "state")),
             json_string_value(json_object_get(ns, "last_updated")) + 17);
    s->backfill[s->n++] = backfill;
}

static void bad(void *ud, const char *reason, const json_t *el)
{
    sink *s = ud;
    (void)reason;
    (void)el;
    s->bad++;
}

static void sink_init(sink *s)
{
    memset(s, 0, sizeof(*s));
    s->seen = lastseen_new(100);
    filter_init(&s->f, NULL, NULL, NULL, NULL, NULL, NULL);
}

static void sink_fini(sink *s)
{
    lastseen_free(s->seen);
    filter_fini(&s->f);
}

START_TEST(test_admit_verdicts)
{
    sink s;
    sink_init(&s);
    filter_fini(&s.f);
    filter_init(&s.f, NULL, NULL, NULL, "automation", NULL, NULL);
    json_t *a1 = live("sensor.a", 1, "1");
    json_t *a2 = live("sensor.a", 2, "2");
    json_t *auto1 = live("automation.x", 3, "on");
    json_t *other = j("{\"event_type\":\"call_service\",\"time_fired\":"
                      "\"2026-11-21T22:00:05+00:00\",\"data\":{\"domain\":\"light\"}}");
    gap_info info;
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, a2, &info), GAP_EMIT);
    ck_assert(info.is_state && info.has_time);
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, a2, NULL), GAP_DUPLICATE);
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, a1, NULL), GAP_DUPLICATE); /* older */
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, auto1, NULL), GAP_FILTERED);
    /* Other event types: no entity, never deduped, time from time_fired. */
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, other, &info), GAP_EMIT);
    ck_assert(!info.is_state && info.has_time && info.entity_id == NULL);
    ck_assert_int_eq(gapfill_admit(s.seen, &s.f, other, NULL), GAP_EMIT);
    json_decref(a1);
    json_decref(a2);
    json_decref(auto1);
    json_decref(other);
    sink_fini(&s);
}
END_TEST

/* Regression: the current state from get_states was produced before the
 * held live events, so the dedupe dropped every live change older than it
 * (seen with hasim --rate 0: all 2000 live events of a burst lost); and,
 * the other way round, a get_states snapshot older than the live changes
 * must still go out (the pipeline test's initial states). Both hold when the
 * two sources are merged in time order. */
START_TEST(test_finish_merges_in_time_order)
{
    sink s;
    sink_init(&s);
    json_t *held = json_array();
    json_array_append_new(held, live("sensor.a", 10, "x"));
    json_array_append_new(held, live("sensor.c", 8, "late"));
    json_array_append_new(held, live("sensor.a", 11, "y"));
    json_t *states = json_array();
    json_t *cur_a = live("sensor.a", 11, "y");    /* newer than a@10, same as a@11 */
    json_t *old_c = live("sensor.c", 5, "early"); /* older than the live c@8 */
    json_t *b = live("sensor.b", 3, "quiet");     /* no live change */
    json_array_append(states,
                      json_object_get(json_object_get(cur_a, "data"), "new_state"));
    json_array_append(states,
                      json_object_get(json_object_get(old_c, "data"), "new_state"));
    json_array_append(states, json_object_get(json_object_get(b, "data"), "new_state"));
    gapfill_finish(held, states, INT64_MIN, emit, bad, &s);
    ck_assert_int_eq(s.n, 5);
    ck_assert_str_eq(s.out[0], "sensor.b=quiet@03.000100+00:00");
    ck_assert(s.backfill[0]);
    ck_assert_str_eq(s.out[1], "sensor.c=early@05.000100+00:00");
    ck_assert(s.backfill[1]);
    ck_assert_str_eq(s.out[2], "sensor.c=late@08.000100+00:00");
    ck_assert(!s.backfill[2]);
    ck_assert_str_eq(s.out[3], "sensor.a=x@10.000100+00:00");
    ck_assert_str_eq(s.out[4], "sensor.a=y@11.000100+00:00");
    ck_assert(!s.backfill[4]); /* the live copy wins over the state at the same instant */
    ck_assert_int_eq(s.dup, 1);
    json_decref(held);
    json_decref(states);
    json_decref(cur_a);
    json_decref(old_c);
    json_decref(b);
    sink_fini(&s);
}
END_TEST

START_TEST(test_states_before_mark_skipped)
{
    sink s;
    sink_init(&s);
    json_t *held = json_array();
    json_t *states = json_array();
    json_t *old = live("sensor.old", 1, "1");
    json_t *fresh = live("sensor.new", 30, "2");
    json_array_append(states, json_object_get(json_object_get(old, "data"), "new_state"));
    json_array_append(states,
                      json_object_get(json_object_get(fresh, "data"), "new_state"));
    json_array_append_new(states, j("{\"entity_id\":\"sensor.broken\",\"state\":\"1\"}"));
    /* Mark at second 20: the old state was produced before the restart. */
    gapfill_finish(held, states, 1795298420000000000LL, emit, bad, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert(strncmp(s.out[0], "sensor.new=", 11) == 0);
    ck_assert_int_eq(s.bad, 0); /* no last_updated: before any mark, skipped */
    gapfill_finish(held, states, INT64_MIN, emit, bad, &s);
    ck_assert_int_eq(s.bad, 1); /* without a mark it must be produced: unusable */
    json_decref(held);
    json_decref(states);
    json_decref(old);
    json_decref(fresh);
    sink_fini(&s);
}
END_TEST

/* Adds the text of v to gs with time t. */
static void store(gap_store *gs, const json_t *v, int64_t t)
{
    char *text = json_dumps(v, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(gap_store_add(gs, t, text, strlen(text)), 0);
    free(text);
}

/* Issue #3: the gap closing keeps texts, not trees, and produces the merge
 * in steps; in any step size it is the order gapfill_finish() gives. */
START_TEST(test_merge_in_steps)
{
    for (size_t step = 1; step <= 6; step++) {
        sink s;
        sink_init(&s);
        gap_store *held = gap_store_new(), *states = gap_store_new();
        ck_assert_ptr_nonnull(held);
        ck_assert_ptr_nonnull(states);
        const struct {
            const char *entity;
            int sec;
            const char *state;
            bool is_state;
        } rows[] = {
            {"sensor.a", 10, "x", false}, {"sensor.c", 8, "late", false},
            {"sensor.a", 11, "y", false}, {"sensor.a", 11, "y", true},
            {"sensor.c", 5, "early", true}, {"sensor.b", 3, "quiet", true},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            json_t *ev = live(rows[i].entity, rows[i].sec, rows[i].state);
            if (rows[i].is_state) {
                const json_t *ns = json_object_get(json_object_get(ev, "data"), "new_state");
                store(states, ns, gapfill_state_time(ns));
            } else {
                store(held, ev, gapfill_event_time(ev));
            }
            json_decref(ev);
        }
        gap_merge *m = gapfill_merge_new(held, states, INT64_MIN);
        ck_assert_ptr_nonnull(m);
        size_t left = 6, steps = 0;
        while (left > 0) {
            size_t now = gapfill_merge_step(m, step, emit, bad, &s);
            ck_assert_uint_eq(now, left > step ? left - step : 0);
            left = now;
            steps++;
        }
        ck_assert_uint_eq(steps, (6 + step - 1) / step);
        gapfill_merge_free(m);
        ck_assert_int_eq(s.n, 5);
        ck_assert_str_eq(s.out[0], "sensor.b=quiet@03.000100+00:00");
        ck_assert(s.backfill[0]);
        ck_assert_str_eq(s.out[1], "sensor.c=early@05.000100+00:00");
        ck_assert_str_eq(s.out[2], "sensor.c=late@08.000100+00:00");
        ck_assert(!s.backfill[2]);
        ck_assert_str_eq(s.out[3], "sensor.a=x@10.000100+00:00");
        ck_assert_str_eq(s.out[4], "sensor.a=y@11.000100+00:00");
        ck_assert(!s.backfill[4]);
        ck_assert_int_eq(s.dup, 1);
        sink_fini(&s);
    }
}
END_TEST

/* The store keeps texts of any size, in order, with their times. */
START_TEST(test_store)
{
    gap_store *gs = gap_store_new();
    ck_assert_ptr_nonnull(gs);
    size_t big = 600 * 1024;
    char *text = malloc(big + 1);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < 3000; i++) {
        char small[64];
        int n = snprintf(small, sizeof(small), "{\"n\":%d}", i);
        ck_assert_int_eq(gap_store_add(gs, i, small, (size_t)n), 0);
        if (i == 1500) {
            memset(text, 'x', big);
            text[big] = '\0';
            ck_assert_int_eq(gap_store_add(gs, -1, text, big), 0);
        }
    }
    ck_assert_uint_eq(gap_store_count(gs), 3001);
    size_t len;
    int64_t t;
    ck_assert_str_eq(gap_store_get(gs, 0, &len, &t), "{\"n\":0}");
    ck_assert_int_eq(t, 0);
    const char *b = gap_store_get(gs, 1501, &len, &t);
    ck_assert_uint_eq(len, big);
    ck_assert_int_eq(t, -1);
    ck_assert_int_eq(memcmp(b, text, big + 1), 0);
    ck_assert_str_eq(gap_store_get(gs, 1502, NULL, NULL), "{\"n\":1501}");
    ck_assert_str_eq(gap_store_get(gs, 3000, &len, &t), "{\"n\":2999}");
    ck_assert_int_eq(t, 2999);
    gap_store_clear(gs);
    ck_assert_uint_eq(gap_store_count(gs), 0);
    ck_assert_int_eq(gap_store_add(gs, 5, "{}", 2), 0);
    ck_assert_uint_eq(gap_store_count(gs), 1);
    free(text);
    gap_store_free(gs);
    gap_store_free(NULL);
    gapfill_merge_free(NULL);
}
END_TEST

/* gapfill_state_peek reads what the parse would, or leaves the text to it. */
static const struct {
    const char *text;
    int rc;
    const char *eid; /* NULL: none */
    bool timed;
} peeks[] = {
    {"{\"entity_id\":\"light.a\",\"state\":\"on\",\"attributes\":{\"x\":[1,{}]},"
     "\"last_updated\":\"2026-11-21T22:00:05.000100+00:00\"}",
     0, "light.a", true},
    {" {\"last_updated\":\"2026-11-21T22:00:05+00:00\",\"entity_id\":\"s.b\"} ", 0, "s.b",
     true},
    {"{\"state\":\"1\"}", 0, NULL, false},
    {"{\"entity_id\":5,\"last_updated\":7}", 0, NULL, false},
    {"{\"entity_id\":\"s.c\",\"last_updated\":\"yesterday\"}", 0, "s.c", false},
    {"{\"entity_id\":\"s.\\u0064\"}", -1, NULL, false},
    {"{\"entity_id\":\"s.d\",\"last_updated\":\"2026-11-21T22:00:05\\u002b00:00\"}", -1,
     NULL, false},
    {"{\"entity_id\":\"s.e\",\"state\":\"a\\u0000b\"}", -1, NULL, false},
    {"{\"entity_id\":\"s.f\",\"entity_id\":\"s.g\"}", -1, NULL, false},
    {"{\"entity_id\":\"s.h\"", -1, NULL, false},
    {"[1,2]", -1, NULL, false},
    {"{\"entity_id\":\"s.i\"} x", -1, NULL, false},
};

START_TEST(test_state_peek)
{
    const char *text = peeks[_i].text;
    char eid[64];
    bool has;
    int64_t t;
    int rc = gapfill_state_peek(text, strlen(text), eid, sizeof(eid), &has, &t);
    ck_assert_msg(rc == peeks[_i].rc, "%s: rc %d", text, rc);
    if (rc != 0)
        return;
    json_t *v = j(text);
    const char *want = json_string_value(json_object_get(v, "entity_id"));
    ck_assert(has == (want != NULL));
    if (want != NULL) {
        ck_assert_str_eq(eid, want);
        ck_assert_str_eq(eid, peeks[_i].eid);
    } else {
        ck_assert_ptr_null(peeks[_i].eid);
        ck_assert_str_eq(eid, "");
    }
    ck_assert_int_eq(t, gapfill_state_time(v));
    ck_assert(peeks[_i].timed == (t != INT64_MIN));
    json_decref(v);
}
END_TEST

START_TEST(test_history_then_live_dedupes_overlap)
{
    sink s;
    sink_init(&s);
    /* lu 1795298410.0001 = 22:00:10.000100 */
    json_t *hist =
        j("{\"sensor.a\":[{\"s\":\"x\",\"a\":{},\"lu\":1795298410.0001},"
          "{\"s\":\"y\",\"a\":{},\"lu\":1795298411.0001,\"lc\":1795298411.0001}],"
          "\"sensor.c\":[{\"s\":\"1\",\"lu\":1795298405.0001},{\"bad\":1}],"
          "\"sensor.d\":5}");
    gapfill_history(hist, emit, bad, &s);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.bad, 2);
    ck_assert(s.backfill[0] && s.backfill[1] && s.backfill[2]);
    /* A second history round returns the same rows again: all duplicates. */
    gapfill_history(hist, emit, bad, &s);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.dup, 3);
    /* The live event that history already had is a duplicate; a newer one
     * is not. */
    json_t *held = json_array();
    json_array_append_new(held, live("sensor.a", 11, "y"));
    json_array_append_new(held, live("sensor.a", 12, "z"));
    gapfill_finish(held, NULL, INT64_MIN, emit, bad, &s);
    ck_assert_int_eq(s.n, 4);
    ck_assert_str_eq(s.out[3], "sensor.a=z@12.000100+00:00");
    json_decref(held);
    json_decref(hist);
    sink_fini(&s);
}
END_TEST

/* Keeps a copy of every event emitted. */
static void collect(void *ud, const json_t *ev, bool backfill)
{
    (void)backfill;
    json_array_append_new(ud, json_deep_copy(ev));
}

START_TEST(test_history_old_state_chain)
{
    /* Each history row becomes an event whose old_state is the row before. */
    json_t *hist = j("{\"light.l\":[{\"s\":\"on\",\"lu\":1795298410.5},"
                     "{\"s\":\"off\",\"lu\":1795298411.5}]}");
    json_t *got = json_array();
    gapfill_history(hist, collect, bad, got);
    ck_assert_uint_eq(json_array_size(got), 2);
    const json_t *d0 = json_object_get(json_array_get(got, 0), "data");
    const json_t *d1 = json_object_get(json_array_get(got, 1), "data");
    ck_assert(json_is_null(json_object_get(d0, "old_state")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(d1, "old_state"), "state")),
        "on");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(d1, "new_state"), "state")),
        "off");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(got, 1), "time_fired")),
        "2026-11-21T22:00:11.500000+00:00");
    json_decref(got);
    json_decref(hist);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gapfill");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_admit_verdicts);
    tcase_add_test(tc, test_finish_merges_in_time_order);
    tcase_add_test(tc, test_states_before_mark_skipped);
    tcase_add_test(tc, test_history_then_live_dedupes_overlap);
    tcase_add_test(tc, test_merge_in_steps);
    tcase_add_test(tc, test_store);
    tcase_add_loop_test(tc, test_state_peek, 0, (int)(sizeof(peeks) / sizeof(peeks[0])));
    tcase_add_test(tc, test_history_old_state_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
