/* test-latency.c - unit tests for the writer's latency window: nearest-rank
 * percentiles over the last N samples. */
#include <check.h>
#include <stdlib.h>

#include "latency.h"

START_TEST(test_empty)
{
    latency *l = latency_new(10);
    size_t n = 99;
    ck_assert(latency_percentile(l, 50, &n) == 0);
    ck_assert_uint_eq(n, 0);
    double a, b, c;
    ck_assert_uint_eq(latency_summary(l, &a, &b, &c), 0);
    ck_assert(a == 0 && b == 0 && c == 0);
    latency_free(l);
}
END_TEST

START_TEST(test_nearest_rank)
{
    latency *l = latency_new(100);
    for (int i = 100; i >= 1; i--) /* order does not matter */
        latency_add(l, i);
    double p50, p90, p99;
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 100);
    ck_assert(p50 == 50);
    ck_assert(p90 == 90);
    ck_assert(p99 == 99);
    ck_assert(latency_percentile(l, 100, NULL) == 100);
    ck_assert(latency_percentile(l, 0, NULL) == 1);
    latency_free(l);
}
END_TEST

START_TEST(test_window_slides)
{
    latency *l = latency_new(4);
    for (int i = 0; i < 4; i++)
        latency_add(l, 1000); /* old slow writes */
    for (int i = 0; i < 4; i++)
        latency_add(l, 2); /* they leave the window */
    size_t n;
    ck_assert(latency_percentile(l, 99, &n) == 2);
    ck_assert_uint_eq(n, 4);
    latency_add(l, 7);
    ck_assert(latency_percentile(l, 100, NULL) == 7);
    latency_free(l);
}
END_TEST

START_TEST(test_few_samples)
{
    latency *l = latency_new(1000);
    latency_add(l, 3);
    latency_add(l, 1);
    double p50, p90, p99;
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 2);
    ck_assert(p50 == 1);
    ck_assert(p90 == 3);
    ck_assert(p99 == 3);
    latency_free(l);
    latency_free(NULL);
}
END_TEST

static Suite *latency_suite(void)
{
    Suite *s = suite_create("latency");
    TCase *tc = tcase_create("latency");
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_nearest_rank);
    tcase_add_test(tc, test_window_slides);
    tcase_add_test(tc, test_few_samples);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(latency_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
