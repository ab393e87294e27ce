/* test-strlist.c - strlist: splitting comma-separated settings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "strlist.h"

static const struct {
    const char *csv;
    size_t n;
    const char *items[4];
} cases[] = {
    {NULL, 0, {NULL}},
    {"", 0, {NULL}},
    {" , ,\t", 0, {NULL}},
    {"state_changed", 1, {"state_changed"}},
    {" a , b,c ", 3, {"a", "b", "c"}},
    {"a,,b", 2, {"a", "b"}},
    {"*", 1, {"*"}},
    {"sensor.x_y, light.* ", 2, {"sensor.x_y", "light.*"}},
};

START_TEST(test_split)
{
    strlist l;
    ck_assert_int_eq(strlist_split(&l, cases[_i].csv), 0);
    ck_assert_uint_eq(l.n, cases[_i].n);
    for (size_t i = 0; i < l.n; i++) {
        ck_assert_str_eq(l.items[i], cases[_i].items[i]);
        ck_assert(strlist_has(&l, cases[_i].items[i]));
    }
    ck_assert(!strlist_has(&l, "zzz"));
    strlist_fini(&l);
    ck_assert_uint_eq(l.n, 0);
    strlist_fini(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("strlist");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_split, 0, (int)(sizeof(cases) / sizeof(cases[0])));
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
