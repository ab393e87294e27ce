/* test-watermark.c - watermark: the last safe event time on disk. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watermark.h"

START_TEST(test_roundtrip)
{
    char dir[] = "/tmp/hs-test-wm-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char err[256];
    int64_t ns = 0;
    ck_assert_int_eq(watermark_load(dir, &ns, err, sizeof(err)), 1);
    ck_assert_int_eq(watermark_store(dir, 1763765318123456000LL, err, sizeof(err)), 0);
    ck_assert_int_eq(watermark_load(dir, &ns, err, sizeof(err)), 0);
    ck_assert_int_eq(ns, 1763765318123456000LL);
    ck_assert_int_eq(watermark_store(dir, 1763765319000000000LL, err, sizeof(err)), 0);
    ck_assert_int_eq(watermark_load(dir, &ns, err, sizeof(err)), 0);
    ck_assert_int_eq(ns, 1763765319000000000LL);
    /* Garbage in the file is an error that names the file. */
    char path[256];
    snprintf(path, sizeof(path), "%s/last_event_time", dir);
    FILE *f = fopen(path, "w");
    fputs("yesterday\n", f);
    fclose(f);
    ck_assert_int_eq(watermark_load(dir, &ns, err, sizeof(err)), -1);
    ck_assert(strstr(err, "last_event_time") != NULL);
    unlink(path);
    rmdir(dir);
    ck_assert_int_eq(watermark_store("/proc/hs-none", 1, err, sizeof(err)), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("watermark");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_roundtrip);
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
