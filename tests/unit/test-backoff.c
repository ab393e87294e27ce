/* test-backoff.c - backoff: exponential growth, cap and full jitter. */
#include <check.h>
#include <stdlib.h>

#include "backoff.h"

/* Returns the value *ud points to. */
static uint64_t fixed_rand(void *ud)
{
    return *(uint64_t *)ud;
}

START_TEST(test_ceiling_grows_to_cap)
{
    uint64_t r = 0;
    backoff b;
    backoff_init(&b, 1000, 60000, fixed_rand, &r);
    const int64_t expect[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        ck_assert_int_eq(backoff_ceiling(&b), expect[i]);
        backoff_next(&b);
    }
    for (int i = 0; i < 200; i++)
        backoff_next(&b);
    ck_assert_int_eq(backoff_ceiling(&b), 60000);
    backoff_reset(&b);
    ck_assert_int_eq(backoff_ceiling(&b), 1000);
}
END_TEST

START_TEST(test_full_jitter_bounds)
{
    /* The largest random number gives the ceiling itself (inclusive),
     * zero gives zero. */
    uint64_t r = 1000;
    backoff b;
    backoff_init(&b, 1000, 60000, fixed_rand, &r);
    ck_assert_int_eq(backoff_next(&b), 1000);
    r = 0;
    ck_assert_int_eq(backoff_next(&b), 0);
    r = 4001;
    ck_assert_int_eq(backoff_next(&b), 0); /* 4001 % 4001 */
    r = UINT64_MAX;
    for (int i = 0; i < 20; i++) {
        int64_t ceiling = backoff_ceiling(&b);
        int64_t d = backoff_next(&b);
        ck_assert_int_ge(d, 0);
        ck_assert_int_le(d, ceiling);
    }
}
END_TEST

START_TEST(test_default_rand_in_range)
{
    backoff b;
    backoff_init(&b, 1000, 5000, NULL, NULL);
    int64_t sum = 0;
    for (int i = 0; i < 1000; i++) {
        backoff_reset(&b);
        int64_t d = backoff_next(&b);
        ck_assert_int_ge(d, 0);
        ck_assert_int_le(d, 1000);
        sum += d;
    }
    /* Uniform on [0, 1000]: the mean of 1000 draws is far from both ends. */
    ck_assert_int_gt(sum / 1000, 300);
    ck_assert_int_lt(sum / 1000, 700);
}
END_TEST

START_TEST(test_bad_parameters)
{
    uint64_t r = 7;
    backoff b;
    backoff_init(&b, 0, -5, fixed_rand, &r);
    ck_assert_int_eq(backoff_ceiling(&b), 1);
    ck_assert_int_le(backoff_next(&b), 1);
    ck_assert_int_eq(backoff_ceiling(&b), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("backoff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ceiling_grows_to_cap);
    tcase_add_test(tc, test_full_jitter_bounds);
    tcase_add_test(tc, test_default_rand_in_range);
    tcase_add_test(tc, test_bad_parameters);
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
