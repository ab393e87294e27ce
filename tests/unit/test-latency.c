/* test-latency.c - unit tests for the writer's latency window: nearest-rank
 * percentiles over the last N samples. */
#include <check.h>
#include <math.h>
#include <stdint.h>
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The percentiles are found by selection, not by sorting: they must still
 * be exactly the nearest-rank values of a sorted copy, for any sizes and
 * with many repeated values. */
START_TEST(test_random_windows_match_sorting)
{
    uint32_t rng = 99991u;
    static const double ps[] = {0, 1, 25, 50, 90, 99, 99.9, 100};
    for (size_t round = 0; round < 300; round++) {
        size_t window = 1 + round % 97 + (round % 7 == 0 ? 2000 : 0);
        size_t adds = window + round % 13;
        latency *l = latency_new(window);
        double *kept = malloc(window * sizeof *kept);
        ck_assert_ptr_nonnull(kept);
        for (size_t i = 0; i < adds; i++) {
            rng = rng * 1664525u + 1013904223u;
            double v = (round % 3 == 0) ? (double)(rng >> 29) : (double)(rng >> 8) / 7.0;
            latency_add(l, v);
            kept[i % window] = v;
        }
        size_t n = adds < window ? adds : window;
        qsort(kept, n, sizeof *kept, cmp_double);
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            size_t r = ps[k] <= 0 ? 1 : (size_t)ceil(ps[k] / 100.0 * (double)n);
            r = r < 1 ? 1 : (r > n ? n : r);
            ck_assert(latency_percentile(l, ps[k], NULL) == kept[r - 1]);
        }
        double p50, p90, p99;
        ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), n);
        ck_assert(p50 == latency_percentile(l, 50, NULL));
        ck_assert(p90 == latency_percentile(l, 90, NULL));
        ck_assert(p99 == latency_percentile(l, 99, NULL));
        free(kept);
        latency_free(l);
    }
}
END_TEST

/* A summary is reused while no sample came in, and only then: after every
 * add, even one that keeps the window's size, it is computed afresh. */
START_TEST(test_summary_after_adds)
{
    latency *l = latency_new(3);
    double p50, p90, p99;
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 0);
    latency_add(l, 7);
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 1);
    ck_assert(p50 == 7 && p99 == 7);
    for (int i = 0; i < 3; i++)
        latency_add(l, 1);
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 3);
    ck_assert(p99 == 1);
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 3); /* unchanged */
    ck_assert(p50 == 1 && p90 == 1 && p99 == 1);
    latency_add(l, 50); /* the window stays at 3 samples: {1, 1, 50} */
    ck_assert_uint_eq(latency_summary(l, &p50, &p90, &p99), 3);
    ck_assert(p50 == 1 && p99 == 50);
    latency_free(l);
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
    tcase_add_test(tc, test_random_windows_match_sorting);
    tcase_add_test(tc, test_summary_after_adds);
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
