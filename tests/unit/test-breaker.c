/* test-breaker.c - unit tests for hs_breaker with an injected clock. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hs_breaker.h"

/* Options with the rate trigger off, so a test sees one trigger at a time. */
static hs_breaker_opts consecutive_opts(unsigned threshold)
{
    hs_breaker_opts o;
    hs_breaker_opts_default(&o);
    o.failure_threshold = threshold;
    o.failure_rate = 0;
    return o;
}

/* Admits and records one call at now. */
static void call(hs_breaker *b, int64_t now, bool ok)
{
    ck_assert_msg(hs_breaker_allow(b, now), "call refused at %lld", (long long)now);
    hs_breaker_record(b, now, ok, 1);
}

START_TEST(test_defaults)
{
    hs_breaker_opts o;
    memset(&o, 0xff, sizeof o);
    hs_breaker_opts_default(&o);
    ck_assert_uint_eq(o.failure_threshold, 5);
    ck_assert_uint_eq(o.window, 20);
    ck_assert_uint_eq(o.min_calls, 10);
    ck_assert(o.failure_rate == 0.5);
    ck_assert_int_eq(o.slow_call_ms, 0);
    ck_assert_int_eq(o.open_base_ms, 1000);
    ck_assert_int_eq(o.open_max_ms, 60000);
    ck_assert_uint_eq(o.half_open_successes, 2);

    hs_breaker *b = hs_breaker_new("influxdb", NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(hs_breaker_name(b), "influxdb");
    ck_assert_int_eq(hs_breaker_get_state(b, 0), HS_BREAKER_CLOSED);
    ck_assert(hs_breaker_allow(b, 0));
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, 0), 0);
    hs_breaker_free(b);
    hs_breaker_free(NULL);
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(hs_breaker_state_name(HS_BREAKER_CLOSED), "closed");
    ck_assert_str_eq(hs_breaker_state_name(HS_BREAKER_OPEN), "open");
    ck_assert_str_eq(hs_breaker_state_name(HS_BREAKER_HALF_OPEN), "half_open");
}
END_TEST

/* N consecutive failures open the breaker; a success in between resets. */
static const unsigned thresholds[] = {1, 3, 5};

START_TEST(test_consecutive_failures)
{
    unsigned n = thresholds[_i];
    hs_breaker_opts o = consecutive_opts(n);
    hs_breaker *b = hs_breaker_new("dep", &o);
    int64_t t = 100;
    /* n - 1 failures, a success, n - 1 failures: still closed. */
    for (unsigned i = 0; i + 1 < n; i++)
        call(b, t++, false);
    call(b, t++, true);
    for (unsigned i = 0; i + 1 < n; i++)
        call(b, t++, false);
    ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_CLOSED);
    /* The n-th in a row opens it. */
    call(b, t, false);
    ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_OPEN);
    ck_assert(!hs_breaker_allow(b, t));
    ck_assert(!hs_breaker_allow(b, t + 999));
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, t), 1000);
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, t + 400), 600);
    hs_breaker_free(b);
}
END_TEST

/* Rate trigger: {window, min_calls, rate, outcomes ('f' fail, 's' success),
 * index of the call after which the breaker is open, or -1}. */
static const struct {
    unsigned window, min_calls;
    double rate;
    const char *calls;
    int opens_after;
} rate_cases[] = {
    /* 5 of 10 reach 50% exactly at the 10th call, not before (min_calls). */
    {20, 10, 0.5, "fsfsfsfsfs", 9},
    {20, 10, 0.5, "ffffsssssf", 9},
    /* 4 of 10 stay below. */
    {20, 10, 0.5, "fsfsfsfsss", -1},
    /* Under min_calls nothing opens, however bad. */
    {20, 10, 0.5, "ffsff", -1},
    /* Old outcomes leave the window: 4 failures then 6 successes, then each
     * new failure pushes an old one out, so the rate stays at 40%. */
    {10, 10, 0.5, "ffffssssssfffssss", -1},
    {10, 10, 0.5, "ssssssssssfffff", 14},
    {4, 2, 0.75, "sfff", 3},
    {4, 2, 0.75, "sfsff", 4},
};

START_TEST(test_failure_rate)
{
    hs_breaker_opts o;
    hs_breaker_opts_default(&o);
    o.failure_threshold = 100; /* only the rate can open it here */
    o.window = rate_cases[_i].window;
    o.min_calls = rate_cases[_i].min_calls;
    o.failure_rate = rate_cases[_i].rate;
    hs_breaker *b = hs_breaker_new("dep", &o);
    const char *calls = rate_cases[_i].calls;
    int opened = -1;
    for (int i = 0; calls[i] != '\0'; i++) {
        call(b, i, calls[i] == 's');
        if (hs_breaker_get_state(b, i) == HS_BREAKER_OPEN) {
            opened = i;
            break;
        }
    }
    ck_assert_msg(opened == rate_cases[_i].opens_after, "%s: opened after %d, want %d",
                  calls, opened, rate_cases[_i].opens_after);
    hs_breaker_free(b);
}
END_TEST

START_TEST(test_slow_calls)
{
    hs_breaker_opts o = consecutive_opts(3);
    o.slow_call_ms = 500;
    hs_breaker *b = hs_breaker_new("slow", &o);
    /* At the limit is not slow; over it counts as a failure even if it worked. */
    for (int i = 0; i < 5; i++) {
        ck_assert(hs_breaker_allow(b, i));
        hs_breaker_success(b, i, 500);
    }
    ck_assert_int_eq(hs_breaker_get_state(b, 10), HS_BREAKER_CLOSED);
    for (int i = 0; i < 3; i++) {
        ck_assert(hs_breaker_allow(b, 10 + i));
        hs_breaker_success(b, 10 + i, 501);
    }
    ck_assert_int_eq(hs_breaker_get_state(b, 20), HS_BREAKER_OPEN);
    hs_breaker_free(b);

    /* With slow_call_ms 0, duration does not matter. */
    o.slow_call_ms = 0;
    b = hs_breaker_new("fast", &o);
    for (int i = 0; i < 10; i++) {
        ck_assert(hs_breaker_allow(b, i));
        hs_breaker_success(b, i, 1000000);
    }
    ck_assert_int_eq(hs_breaker_get_state(b, 20), HS_BREAKER_CLOSED);
    hs_breaker_free(b);
}
END_TEST

/* Each failed trial doubles the cool-down, up to the cap. */
START_TEST(test_cooldown_growth)
{
    hs_breaker_opts o = consecutive_opts(1);
    o.open_base_ms = 1000;
    o.open_max_ms = 10000;
    hs_breaker *b = hs_breaker_new("dep", &o);
    static const int64_t expect[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
    int64_t t = 5000;
    call(b, t, false);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_OPEN);
        ck_assert_int_eq(hs_breaker_retry_in_ms(b, t), expect[i]);
        ck_assert(!hs_breaker_allow(b, t + expect[i] - 1));
        t += expect[i];
        ck_assert_int_eq(hs_breaker_retry_in_ms(b, t), 0);
        ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_HALF_OPEN);
        call(b, t, false); /* the trial fails: open again, longer */
    }
    hs_breaker_free(b);
}
END_TEST

/* A cap below the base is raised to the base, and doubling never overflows
 * with a huge cap. */
START_TEST(test_cooldown_limits)
{
    hs_breaker_opts o = consecutive_opts(1);
    o.open_base_ms = 5000;
    o.open_max_ms = 10;
    hs_breaker *b = hs_breaker_new("dep", &o);
    call(b, 0, false);
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, 0), 5000);
    call(b, 5000, false);
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, 5000), 5000);
    hs_breaker_free(b);

    o.open_base_ms = INT64_C(1) << 40;
    o.open_max_ms = INT64_MAX / 4;
    b = hs_breaker_new("dep", &o);
    int64_t t = 0;
    call(b, t, false);
    for (int i = 0; i < 70; i++) {
        int64_t wait = hs_breaker_retry_in_ms(b, t);
        ck_assert_int_gt(wait, 0);
        ck_assert_int_le(wait, o.open_max_ms);
        if (t > INT64_MAX / 2)
            break;
        t += wait;
        call(b, t, false);
    }
    hs_breaker_free(b);
}
END_TEST

START_TEST(test_half_open_single_trial)
{
    hs_breaker_opts o = consecutive_opts(1);
    o.half_open_successes = 3;
    hs_breaker *b = hs_breaker_new("dep", &o);
    call(b, 0, false);
    ck_assert(!hs_breaker_allow(b, 999));
    /* After the cool-down one trial goes out; others wait for its outcome. */
    ck_assert(hs_breaker_allow(b, 1000));
    ck_assert_int_eq(hs_breaker_get_state(b, 1000), HS_BREAKER_HALF_OPEN);
    ck_assert(!hs_breaker_allow(b, 1001));
    ck_assert(!hs_breaker_allow(b, 1002));
    hs_breaker_success(b, 1003, 3);
    ck_assert_int_eq(hs_breaker_get_state(b, 1003), HS_BREAKER_HALF_OPEN);
    ck_assert(hs_breaker_allow(b, 1004));
    ck_assert(!hs_breaker_allow(b, 1004));
    hs_breaker_success(b, 1005, 1);
    ck_assert_int_eq(hs_breaker_get_state(b, 1005), HS_BREAKER_HALF_OPEN);
    /* The third good trial closes it; then calls flow freely again. */
    ck_assert(hs_breaker_allow(b, 1006));
    hs_breaker_success(b, 1007, 1);
    ck_assert_int_eq(hs_breaker_get_state(b, 1007), HS_BREAKER_CLOSED);
    ck_assert(hs_breaker_allow(b, 1008));
    ck_assert(hs_breaker_allow(b, 1008));
    hs_breaker_free(b);
}
END_TEST

/* A trial that never reports back does not wedge the breaker forever. */
START_TEST(test_lost_trial)
{
    hs_breaker_opts o = consecutive_opts(1);
    o.open_max_ms = 30000;
    hs_breaker *b = hs_breaker_new("dep", &o);
    call(b, 0, false);
    ck_assert(hs_breaker_allow(b, 1000));
    ck_assert(!hs_breaker_allow(b, 31000));
    ck_assert(hs_breaker_allow(b, 31001));
    hs_breaker_free(b);
}
END_TEST

/* After closing, the cool-down starts again from the base and old failures
 * are forgotten. */
START_TEST(test_close_resets)
{
    hs_breaker_opts o;
    hs_breaker_opts_default(&o);
    o.failure_threshold = 2;
    o.half_open_successes = 1;
    hs_breaker *b = hs_breaker_new("dep", &o);
    int64_t t = 0;
    call(b, t, false);
    call(b, t, false);
    t += 1000;
    call(b, t, false); /* failed trial: 2000 next */
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, t), 2000);
    t += 2000;
    call(b, t, true); /* closes */
    ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_CLOSED);
    call(b, t, false);
    ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_CLOSED);
    call(b, t, false);
    ck_assert_int_eq(hs_breaker_get_state(b, t), HS_BREAKER_OPEN);
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, t), 1000);
    hs_breaker_free(b);
}
END_TEST

/* Results of calls admitted before the breaker opened change nothing while
 * it is open. */
START_TEST(test_late_results_while_open)
{
    hs_breaker_opts o = consecutive_opts(1);
    hs_breaker *b = hs_breaker_new("dep", &o);
    ck_assert(hs_breaker_allow(b, 0));
    ck_assert(hs_breaker_allow(b, 0));
    hs_breaker_failure(b, 1);
    ck_assert_int_eq(hs_breaker_get_state(b, 1), HS_BREAKER_OPEN);
    hs_breaker_success(b, 2, 1);
    ck_assert_int_eq(hs_breaker_get_state(b, 2), HS_BREAKER_OPEN);
    ck_assert_int_eq(hs_breaker_retry_in_ms(b, 2), 999);
    hs_breaker_free(b);
}
END_TEST

START_TEST(test_json)
{
    hs_breaker_opts o = consecutive_opts(2);
    o.half_open_successes = 1;
    hs_breaker *b = hs_breaker_new("weather", &o);
    json_t *j = hs_breaker_to_json(b, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "weather");
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "closed");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "transitions")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "opened_total")), 0);
    ck_assert(json_is_null(json_object_get(j, "last_error")));
    ck_assert(json_real_value(json_object_get(j, "failure_rate")) == 0.0);
    json_decref(j);

    call(b, 0, true);
    call(b, 1, false);
    call(b, 2, false); /* closed -> open */
    hs_breaker_set_last_error(b, "HTTP 503 from api.openweathermap.org");
    j = hs_breaker_to_json(b, 500);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "open");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "consecutive_failures")), 2);
    ck_assert(json_real_value(json_object_get(j, "failure_rate")) > 0.66);
    ck_assert(json_real_value(json_object_get(j, "failure_rate")) < 0.67);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "transitions")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "opened_total")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "retry_in_ms")), 502);
    ck_assert_str_eq(json_string_value(json_object_get(j, "last_error")),
                     "HTTP 503 from api.openweathermap.org");
    json_decref(j);

    /* open -> half_open (by the clock) -> open -> half_open -> closed. */
    j = hs_breaker_to_json(b, 1002);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "half_open");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "transitions")), 2);
    json_decref(j);
    call(b, 1002, false);
    call(b, 3002, true);
    j = hs_breaker_to_json(b, 3002);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "closed");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "transitions")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "opened_total")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "retry_in_ms")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "consecutive_failures")), 0);
    json_decref(j);

    /* last_error is cleared with NULL, and text JSON cannot carry is made safe. */
    hs_breaker_set_last_error(b, "bad \xff byte \xc3\xa9");
    j = hs_breaker_to_json(b, 3002);
    ck_assert_str_eq(json_string_value(json_object_get(j, "last_error")),
                     "bad ? byte ??");
    json_decref(j);
    hs_breaker_set_last_error(b, NULL);
    j = hs_breaker_to_json(b, 3002);
    ck_assert(json_is_null(json_object_get(j, "last_error")));
    json_decref(j);
    hs_breaker_free(b);
}
END_TEST

static Suite *breaker_suite(void)
{
    Suite *s = suite_create("breaker");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_state_names);
    tcase_add_loop_test(tc, test_consecutive_failures, 0,
                        sizeof thresholds / sizeof thresholds[0]);
    tcase_add_loop_test(tc, test_failure_rate, 0,
                        sizeof rate_cases / sizeof rate_cases[0]);
    tcase_add_test(tc, test_slow_calls);
    tcase_add_test(tc, test_cooldown_growth);
    tcase_add_test(tc, test_cooldown_limits);
    tcase_add_test(tc, test_half_open_single_trial);
    tcase_add_test(tc, test_lost_trial);
    tcase_add_test(tc, test_close_resets);
    tcase_add_test(tc, test_late_results_while_open);
    tcase_add_test(tc, test_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(breaker_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
