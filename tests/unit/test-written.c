/* test-written.c - unit tests for written: the writer's last points, kept raw
 * until listed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_recent.h"
#include "written.h"

/* Keeps point n: entity "sensor.e<n % 3>", partition n % 4, offset n, line
 * "m,entity_id=e<n> value=<n>". */
static void keep(written *w, int n)
{
    char key[32], line[64];
    snprintf(key, sizeof key, "sensor.e%d", n % 3);
    snprintf(line, sizeof line, "m,entity_id=e%d value=%d", n, n);
    written_keep(w, key, strlen(key), n % 4, n, line, strlen(line));
}

/* Checks that list holds the points with offsets want[0..count), in order,
 * each with all four members as keep made them; frees list. */
static void expect_points(json_t *list, const int *want, size_t count)
{
    ck_assert_ptr_nonnull(list);
    ck_assert_msg(json_array_size(list) == count, "got %zu points, want %zu",
                  json_array_size(list), count);
    for (size_t i = 0; i < count; i++) {
        json_t *p = json_array_get(list, i);
        int n = want[i];
        char key[32], line[64];
        snprintf(key, sizeof key, "sensor.e%d", n % 3);
        snprintf(line, sizeof line, "m,entity_id=e%d value=%d", n, n);
        ck_assert_int_eq(json_object_size(p), 4);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")), n);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "partition")), n % 4);
        ck_assert_str_eq(json_string_value(json_object_get(p, "entity_id")), key);
        ck_assert_str_eq(json_string_value(json_object_get(p, "line")), line);
    }
    json_decref(list);
}

/* Points kept across several flushes and past the capacity: the ring lists
 * the newest, as if each had been pushed as it was written. */
START_TEST(test_flushes_in_order)
{
    hs_recent *r = hs_recent_new(5);
    written *w = written_new(5);
    ck_assert_ptr_nonnull(w);
    for (int n = 1; n <= 3; n++)
        keep(w, n);
    ck_assert_uint_eq(written_pending(w), 3);
    written_flush(w, r, false);
    ck_assert_uint_eq(written_pending(w), 0);
    expect_points(hs_recent_list(r, 10, NULL), (const int[]){3, 2, 1}, 3);
    /* Wrapping the ring of raw points twice over: only the last 5 stay. */
    for (int n = 4; n <= 15; n++)
        keep(w, n);
    ck_assert_uint_eq(written_pending(w), 5);
    written_flush(w, r, false);
    expect_points(hs_recent_list(r, 10, NULL), (const int[]){15, 14, 13, 12, 11}, 5);
    /* Two more, after a release: the slots come back. */
    written_flush(w, r, true);
    keep(w, 16);
    keep(w, 17);
    written_flush(w, r, false);
    expect_points(hs_recent_list(r, 10, NULL), (const int[]){17, 16, 15, 14, 13}, 5);
    /* Filtered by entity: offsets with n % 3 == 1. */
    expect_points(hs_recent_list(r, 10, "sensor.e1"), (const int[]){16, 13}, 2);
    written_free(w);
    hs_recent_free(r);
}
END_TEST

/* Quotes, backslashes, newlines and non-ASCII survive as JSON; a key or a
 * line that is not UTF-8 leaves its point out; a point without a key has
 * none to filter on. */
START_TEST(test_escaping_and_bad_bytes)
{
    hs_recent *r = hs_recent_new(10);
    written *w = written_new(10);
    const char line[] = "m,entity_id=a\\ b s=\"q\\\"\\\\\" t=\"\xC2\xB0\x43\n\"";
    written_keep(w, "light.\"x\"", 9, 1, 10, line, sizeof line - 1);
    written_keep(w, "bad\xFF", 4, 1, 11, "m v=1", 5);
    written_keep(w, "ok", 2, 1, 12, "m s=\"\xC3\x28\"", 8);
    written_keep(w, NULL, 0, 2, 13, "m v=2", 5);
    written_keep(w, "empty-line", 10, 2, 14, NULL, 0);
    written_flush(w, r, false);
    json_t *list = hs_recent_list(r, 10, NULL);
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(json_array_size(list), 3);
    json_t *p = json_array_get(list, 0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "entity_id")), "empty-line");
    ck_assert_str_eq(json_string_value(json_object_get(p, "line")), "");
    p = json_array_get(list, 1);
    ck_assert_str_eq(json_string_value(json_object_get(p, "entity_id")), "");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")), 13);
    p = json_array_get(list, 2);
    ck_assert_str_eq(json_string_value(json_object_get(p, "entity_id")), "light.\"x\"");
    ck_assert_str_eq(json_string_value(json_object_get(p, "line")), line);
    json_decref(list);
    list = hs_recent_list(r, 10, "light.\"x\"");
    ck_assert_int_eq(json_array_size(list), 1);
    json_decref(list);
    written_free(w);
    hs_recent_free(r);
}
END_TEST

/* A huge point, then small ones in the same slot: the slot's buffer shrinks
 * back (checked through valgrind/ASan for misuse; the content for
 * correctness). */
START_TEST(test_huge_then_small)
{
    hs_recent *r = hs_recent_new(2);
    written *w = written_new(1);
    size_t big = 200 * 1024;
    char *line = malloc(big);
    ck_assert_ptr_nonnull(line);
    memset(line, 'x', big);
    memcpy(line, "m s=\"", 5);
    line[big - 1] = '"';
    written_keep(w, "k", 1, 0, 1, line, big);
    written_flush(w, r, false);
    json_t *list = hs_recent_list(r, 1, NULL);
    ck_assert_uint_eq(
        strlen(json_string_value(json_object_get(json_array_get(list, 0), "line"))), big);
    json_decref(list);
    keep(w, 7);
    written_flush(w, r, false);
    expect_points(hs_recent_list(r, 1, NULL), (const int[]){7}, 1);
    free(line);
    written_free(w);
    hs_recent_free(r);
}
END_TEST

static Suite *written_suite(void)
{
    Suite *s = suite_create("written");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_flushes_in_order);
    tcase_add_test(tc, test_escaping_and_bad_bytes);
    tcase_add_test(tc, test_huge_then_small);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(written_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
