/* test-safemark.c - safemark: the safe event time advances only past a
 * gap-free prefix of safe events. */
#include <check.h>
#include <stdlib.h>

#include "safemark.h"

START_TEST(test_prefix_rule)
{
    safemark *m = safemark_new(INT64_MIN);
    ck_assert_int_eq(safemark_time(m), INT64_MIN);
    uint64_t a = safemark_add(m, 100);
    uint64_t b = safemark_add(m, 200);
    uint64_t c = safemark_add(m, 150); /* times need not be ordered */
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(c, 3);
    safemark_done(m, b);
    ck_assert_int_eq(safemark_time(m), INT64_MIN); /* a still in flight */
    safemark_done(m, a);
    ck_assert_int_eq(safemark_time(m), 200); /* a and b safe */
    ck_assert_uint_eq(safemark_pending(m), 1);
    safemark_done(m, c);
    ck_assert_int_eq(safemark_time(m), 200); /* never goes back */
    safemark_done(m, c);                     /* repeated: ignored */
    safemark_done(m, 99);                    /* unknown: ignored */
    ck_assert_uint_eq(safemark_pending(m), 0);
    safemark_free(m);
    safemark_free(NULL);
}
END_TEST

START_TEST(test_initial_and_growth)
{
    safemark *m = safemark_new(50);
    ck_assert_int_eq(safemark_time(m), 50);
    uint64_t first = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t s = safemark_add(m, 1000 + i);
        if (i == 0)
            first = s;
    }
    /* Finish all but the first, in reverse: the mark must not move. */
    for (int i = 4999; i >= 1; i--)
        safemark_done(m, first + (uint64_t)i);
    ck_assert_int_eq(safemark_time(m), 50);
    safemark_done(m, first);
    ck_assert_int_eq(safemark_time(m), 1000 + 4999);
    ck_assert_uint_eq(safemark_pending(m), 0);
    /* Wrap-around of the ring after draining. */
    for (int round = 0; round < 3; round++) {
        uint64_t s[700];
        for (int i = 0; i < 700; i++)
            s[i] = safemark_add(m, 10000 + round * 1000 + i);
        for (int i = 0; i < 700; i++)
            safemark_done(m, s[i]);
        ck_assert_int_eq(safemark_time(m), 10000 + round * 1000 + 699);
    }
    safemark_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safemark");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_prefix_rule);
    tcase_add_test(tc, test_initial_and_growth);
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
