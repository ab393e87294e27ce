/* test-lastseen.c - lastseen: dedupe of (entity_id, last_updated). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "lastseen.h"

START_TEST(test_new_iff_after)
{
    lastseen *m = lastseen_new(100);
    ck_assert(lastseen_is_new(m, "sensor.a", 5));
    ck_assert_int_eq(lastseen_note(m, "sensor.a", 5), 0);
    ck_assert(!lastseen_is_new(m, "sensor.a", 5)); /* same instant: duplicate */
    ck_assert(!lastseen_is_new(m, "sensor.a", 4));
    ck_assert(lastseen_is_new(m, "sensor.a", 6));
    ck_assert(lastseen_is_new(m, "sensor.b", 1));
    ck_assert_int_eq(lastseen_note(m, "sensor.a", 3), 0); /* never goes back */
    ck_assert_int_eq(lastseen_get(m, "sensor.a"), 5);
    ck_assert_int_eq(lastseen_get(m, "sensor.zz"), INT64_MIN);
    lastseen_free(m);
    lastseen_free(NULL);
}
END_TEST

START_TEST(test_bounded_and_growth)
{
    lastseen *m = lastseen_new(3000);
    char id[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "sensor.e%d", i);
        ck_assert_int_eq(lastseen_note(m, id, i), 0);
    }
    ck_assert_uint_eq(lastseen_count(m), 3000);
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof(id), "sensor.e%d", i);
        ck_assert_int_eq(lastseen_get(m, id), i);
    }
    /* Full: a new entity is not learnt and so always counts as new. */
    ck_assert_int_eq(lastseen_note(m, "sensor.extra", 10), -1);
    ck_assert(lastseen_is_new(m, "sensor.extra", 10));
    /* Known ones still update. */
    ck_assert_int_eq(lastseen_note(m, "sensor.e1", 99), 0);
    ck_assert_int_eq(lastseen_get(m, "sensor.e1"), 99);
    lastseen_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lastseen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_new_iff_after);
    tcase_add_test(tc, test_bounded_and_growth);
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
