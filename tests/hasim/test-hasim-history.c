/* test-hasim-history.c - Check suite for the simulator's recorder: HA's
 * history_during_period rules, commit visibility and purging. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define T0 INT64_C(1795304000000000) /* run start */
#define S(x) (T0 + (int64_t)(x)*1000000)

/* Entities of the fixture. */
enum { SENSOR, CLIMATE, TRACKER, N_ENT };
static const char *const ids[N_ENT] = {"sensor.t", "climate.c", "device_tracker.p"};
static const size_t dlens[N_ENT] = {6, 7, 14};

static void add(history *h, int e, const char *state, const char *attrs, int64_t lu,
                int64_t lc)
{
    home_state st = {.entity_id = ids[e], .domain_len = dlens[e]};
    st.state = rstr_new(state, strlen(state));
    st.attrs = rstr_new(attrs, strlen(attrs));
    st.last_updated_us = lu;
    st.last_changed_us = lc;
    ck_assert_int_eq(history_add(h, e, &st), 0);
    rstr_unref(st.state);
    rstr_unref(st.attrs);
}

/* sensor.t: 20 at s1, 21 at s3, 21 (attributes only) at s5, 22 at s7.
 * climate.c: heat at s2, heat (attributes only) at s4.
 * device_tracker.p: home at s6. */
static history *fixture(void)
{
    history *h = history_new(N_ENT, 100, T0);
    ck_assert_ptr_nonnull(h);
    add(h, SENSOR, "20", "{\"u\":1}", S(1), S(1));
    add(h, CLIMATE, "heat", "{\"t\":20.5}", S(2), S(2));
    add(h, SENSOR, "21", "{\"u\":1}", S(3), S(3));
    add(h, CLIMATE, "heat", "{\"t\":21.0}", S(4), S(2));
    add(h, SENSOR, "21", "{\"u\":2}", S(5), S(3));
    add(h, TRACKER, "home", "{}", S(6), S(6));
    add(h, SENSOR, "22", "{\"u\":2}", S(7), S(7));
    history_commit(h);
    return h;
}

static history_query query(int64_t start)
{
    static const int all[N_ENT] = {SENSOR, CLIMATE, TRACKER};
    history_query q = {
        .start_us = start,
        .include_start_time_state = true,
        .significant_changes_only = true,
        .n = N_ENT,
        .entity = all,
        .entity_id = ids,
        .domain_len = dlens,
    };
    return q;
}

/* Runs q and returns the compact JSON text of the result (caller frees). */
static char *run(history *h, const history_query *q)
{
    jbuf b;
    jbuf_init(&b, 0);
    history_query_json(h, q, &b);
    ck_assert(!jbuf_failed(&b));
    json_error_t err;
    json_t *v = json_loads(b.data, 0, &err);
    ck_assert_msg(v != NULL, "not JSON: %s", b.data);
    json_decref(v);
    size_t n;
    char *text = jbuf_steal(&b, &n);
    return text;
}

static void expect(history *h, const history_query *q, const char *want)
{
    char *got = run(h, q);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_significant_with_start_state)
{
    history *h = fixture();
    history_query q = query(S(3) + 500000);
    /* Start states carry lu = start time and no lc; the sensor's
     * attribute-only change is not significant, the climate's is. */
    expect(h, &q,
           "{\"sensor.t\":[{\"s\":\"21\",\"a\":{\"u\":1},\"lu\":1795304003.5},"
           "{\"s\":\"22\",\"a\":{\"u\":2},\"lu\":1795304007.0}],"
           "\"climate.c\":[{\"s\":\"heat\",\"a\":{\"t\":20.5},\"lu\":1795304003.5},"
           "{\"s\":\"heat\",\"a\":{\"t\":21.0},\"lu\":1795304004.0}],"
           "\"device_tracker.p\":[{\"s\":\"home\",\"a\":{},\"lu\":1795304006.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_all_changes_have_lc)
{
    history *h = fixture();
    history_query q = query(S(2) + 1);
    q.significant_changes_only = false;
    q.include_start_time_state = false;
    int one[1] = {SENSOR};
    q.n = 1;
    q.entity = one;
    expect(h, &q,
           "{\"sensor.t\":[{\"s\":\"21\",\"a\":{\"u\":1},\"lu\":1795304003.0},"
           "{\"s\":\"21\",\"a\":{\"u\":2},\"lu\":1795304005.0,\"lc\":1795304003.0},"
           "{\"s\":\"22\",\"a\":{\"u\":2},\"lu\":1795304007.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_minimal_response)
{
    history *h = fixture();
    history_query q = query(T0);
    q.significant_changes_only = false;
    q.minimal_response = true;
    q.include_start_time_state = false;
    int two[2] = {SENSOR, CLIMATE};
    q.n = 2;
    q.entity = two;
    /* Only the first row is full; later rows are {s, lu} on state changes.
     * climate keeps full rows (NEED_ATTRIBUTE_DOMAINS). */
    expect(
        h, &q,
        "{\"sensor.t\":[{\"s\":\"20\",\"a\":{\"u\":1},\"lu\":1795304001.0},"
        "{\"s\":\"21\",\"lu\":1795304003.0},{\"s\":\"22\",\"lu\":1795304007.0}],"
        "\"climate.c\":[{\"s\":\"heat\",\"a\":{\"t\":20.5},\"lu\":1795304002.0},"
        "{\"s\":\"heat\",\"a\":{\"t\":21.0},\"lu\":1795304004.0,\"lc\":1795304002.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_no_attributes)
{
    history *h = fixture();
    history_query q = query(T0);
    q.no_attributes = true;
    q.include_start_time_state = false;
    int one[1] = {SENSOR};
    q.n = 1;
    q.entity = one;
    /* Without minimal_response the recorder still emits an empty "a". */
    expect(h, &q,
           "{\"sensor.t\":[{\"s\":\"20\",\"a\":{},\"lu\":1795304001.0},"
           "{\"s\":\"21\",\"a\":{},\"lu\":1795304003.0},{\"s\":\"22\",\"a\":{},"
           "\"lu\":1795304007.0}]}");
    q.minimal_response = true;
    expect(h, &q,
           "{\"sensor.t\":[{\"s\":\"20\",\"lu\":1795304001.0},"
           "{\"s\":\"21\",\"lu\":1795304003.0},{\"s\":\"22\",\"lu\":1795304007.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_end_time_exclusive_and_unknown)
{
    history *h = fixture();
    history_query q = query(S(1));
    q.has_end = true;
    q.end_us = S(3);
    q.include_start_time_state = false;
    int two[2] = {-1, SENSOR};
    const char *names[2] = {"sensor.never", "sensor.t"};
    size_t dl[2] = {6, 6};
    q.n = 2;
    q.entity = two;
    q.entity_id = names;
    q.domain_len = dl;
    /* lu > start and lu < end: both boundaries are excluded. */
    expect(h, &q, "{}");
    q.end_us = S(3) + 1;
    expect(h, &q, "{\"sensor.t\":[{\"s\":\"21\",\"a\":{\"u\":1},\"lu\":1795304003.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_commit_visibility)
{
    history *h = fixture();
    add(h, TRACKER, "not_home", "{}", S(8), S(8));
    history_query q = query(S(7));
    q.include_start_time_state = false;
    expect(h, &q, "{}");
    ck_assert_uint_eq(history_visible(h), 7);
    ck_assert_uint_eq(history_size(h), 8);
    history_commit(h);
    expect(h, &q,
           "{\"device_tracker.p\":[{\"s\":\"not_home\",\"a\":{},\"lu\":1795304008.0}]}");
    history_free(h);
}
END_TEST

START_TEST(test_start_state_needs_a_run)
{
    history *h = fixture();
    /* A start time before the recorder run started has no start state. */
    history_query q = query(T0 - 1000000);
    int one[1] = {TRACKER};
    const char *name[1] = {"device_tracker.p"};
    size_t dl[1] = {14};
    q.n = 1;
    q.entity = one;
    q.entity_id = name;
    q.domain_len = dl;
    expect(h, &q,
           "{\"device_tracker.p\":[{\"s\":\"home\",\"a\":{},\"lu\":1795304006.0}]}");
    ck_assert(history_has_states_before(h, S(1) + 1));
    ck_assert(!history_has_states_before(h, S(1)));
    history_free(h);
}
END_TEST

START_TEST(test_purge_oldest)
{
    history *h = history_new(N_ENT, 3, T0);
    for (int i = 1; i <= 5; i++) {
        char st[8];
        snprintf(st, sizeof st, "%d", i);
        add(h, SENSOR, st, "{}", S(i), S(i));
    }
    history_commit(h);
    ck_assert_uint_eq(history_size(h), 3);
    history_query q = query(T0);
    q.include_start_time_state = false;
    int one[1] = {SENSOR};
    q.n = 1;
    q.entity = one;
    expect(h, &q,
           "{\"sensor.t\":[{\"s\":\"3\",\"a\":{},\"lu\":1795304003.0},"
           "{\"s\":\"4\",\"a\":{},\"lu\":1795304004.0},{\"s\":\"5\",\"a\":{},"
           "\"lu\":1795304005.0}]}");
    history_free(h);
}
END_TEST

static Suite *history_suite(void)
{
    Suite *s = suite_create("hasim-history");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_significant_with_start_state);
    tcase_add_test(tc, test_all_changes_have_lc);
    tcase_add_test(tc, test_minimal_response);
    tcase_add_test(tc, test_no_attributes);
    tcase_add_test(tc, test_end_time_exclusive_and_unknown);
    tcase_add_test(tc, test_commit_visibility);
    tcase_add_test(tc, test_start_state_needs_a_run);
    tcase_add_test(tc, test_purge_oldest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(history_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
