/* test-written.c - unit tests for written: the writer's last points, kept raw
 * until listed. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
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
 * each with all four members as keep made them (with keyless, as add_point
 * made them: every 4th without an entity id); frees list. */
static void expect_points_of(json_t *list, const int *want, size_t count, bool keyless)
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
        ck_assert_str_eq(json_string_value(json_object_get(p, "entity_id")),
                         !keyless || n % 4 ? key : "");
        ck_assert_str_eq(json_string_value(json_object_get(p, "line")), line);
    }
    json_decref(list);
}

static void expect_points(json_t *list, const int *want, size_t count)
{
    expect_points_of(list, want, count, false);
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

/* ---- points kept from batches ----------------------------------------- */

/* Point n as a batch holds it: key "sensor.e<n % 3>", none when n % 4 ==
 * 0; partition n % 4, offset n; line "m,entity_id=e<n> value=<n>". */
static void add_point(batch *b, int n)
{
    char key[32], line[64];
    int kn = snprintf(key, sizeof key, "sensor.e%d", n % 3);
    int ln = snprintf(line, sizeof line, "m,entity_id=e%d value=%d\n", n, n);
    size_t off = b->text.len;
    ck_assert_int_eq(lineproto_buf_append(&b->text, line, (size_t)ln), 0);
    ck_assert_int_eq(batch_add_encoded(b, off, n % 4, n, "{}", 2, n % 4 ? key : NULL,
                                       n % 4 ? (size_t)kn : 0, 0),
                     0);
}

/* Fills b, cleared, with points from..from+count-1. */
static void fill(batch *b, int from, int count)
{
    batch_clear(b);
    for (int n = from; n < from + count; n++)
        add_point(b, n);
}

/* Checks that list holds the points want[0..count) as add_point made
 * them, in order; frees list. */
static void expect_batch_points(json_t *list, const int *want, size_t count)
{
    expect_points_of(list, want, count, true);
}

/* The sink's sequence: ranges of the held batch kept by reference, the
 * batch adopted when done, then cleared and filled again; the points stay
 * listed right, from the lines taken over, and those still listed from the
 * batch before are copied when the next is adopted. */
START_TEST(test_batch_lines_taken_over)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch a, b;
    batch_init(&a, &lim);
    batch_init(&b, &lim);
    hs_recent *r = hs_recent_new(5);
    written *w = written_new(5);
    /* Listed while the batch is held, then adopted with nothing lent. */
    fill(&a, 1, 3);
    written_keep_range(w, &a, (batch_range){0, 3});
    written_flush(w, r, false);
    expect_batch_points(hs_recent_list(r, 10, NULL), (const int[]){3, 2, 1}, 3);
    written_adopt(w, &a);
    /* Seven written, the last five kept; the batch is filled again before
     * they are listed. */
    fill(&a, 4, 7);
    written_keep_range(w, &a, (batch_range){0, 7});
    ck_assert_uint_eq(written_pending(w), 5);
    written_adopt(w, &a);
    fill(&a, 100, 7);
    written_flush(w, r, false);
    expect_batch_points(hs_recent_list(r, 10, NULL), (const int[]){10, 9, 8, 7, 6}, 5);
    /* Five from a, adopted; two from b: three of a's are still listed, and
     * copied when b is adopted; both batches filled again. */
    fill(&a, 20, 5);
    written_keep_range(w, &a, (batch_range){0, 5});
    written_adopt(w, &a);
    fill(&a, 200, 9);
    fill(&b, 25, 2);
    written_keep_range(w, &b, (batch_range){0, 2});
    written_adopt(w, &b);
    fill(&b, 300, 9);
    fill(&a, 27, 1);
    written_keep_range(w, &a, (batch_range){0, 1});
    fill(&b, 400, 9);
    written_flush(w, r, false);
    expect_batch_points(hs_recent_list(r, 10, NULL), (const int[]){27, 26, 25, 24, 23},
                        5);
    written_adopt(w, &a); /* nothing listed from a any more */
    /* Ranges of one batch in several calls (one point, to the DLQ, left
     * out), a copy kept among them, and the idle release after. */
    fill(&b, 30, 6);
    written_keep_range(w, &b, (batch_range){0, 2});
    written_keep_range(w, &b, (batch_range){3, 5});
    written_keep(w, "sensor.e2", 9, 3, 35, "m,entity_id=e35 value=35", 24);
    written_keep_range(w, &b, (batch_range){5, 6});
    written_keep_range(w, &b, (batch_range){4, 2});  /* empty */
    written_keep_range(w, &b, (batch_range){5, 99}); /* past the batch: its end */
    written_adopt(w, &b);
    fill(&b, 500, 9);
    written_flush(w, r, true);
    expect_batch_points(hs_recent_list(r, 10, NULL), (const int[]){35, 35, 35, 34, 33},
                        5);
    ck_assert_uint_eq(written_pending(w), 0);
    /* After the release, adopted lines come again. */
    fill(&a, 40, 2);
    written_keep_range(w, &a, (batch_range){0, 2});
    written_adopt(w, &a);
    fill(&a, 600, 3);
    written_flush(w, r, false);
    expect_batch_points(hs_recent_list(r, 2, NULL), (const int[]){41, 40}, 2);
    written_free(w);
    hs_recent_free(r);
    batch_fini(&a);
    batch_fini(&b);
}
END_TEST

/* Random runs of the sink's use against a model of the ring: two batches
 * taking turns (one held, the other filling), ranges of the held one kept
 * (some points left out, as the DLQ's), copies kept now and then, lists
 * and idle releases at any time. Every list shows exactly the newest points
 * kept, with their own keys and lines, though the batches' memory is
 * reused all along. */
START_TEST(test_random_against_model)
{
    enum { CAP = 7, ROUNDS = 3000 };
    batch_limits lim = {1000, 1 << 20, 100};
    batch bs[2];
    batch_init(&bs[0], &lim);
    batch_init(&bs[1], &lim);
    hs_recent *r = hs_recent_new(CAP);
    written *w = written_new(CAP);
    int pending[4096], npending = 0;
    int listed[CAP], nlisted = 0; /* the ring's, newest first */
    uint32_t rnd = 12345;
    int n = 1;
    int held = 0;
    for (int round = 0; round < ROUNDS; round++) {
        batch *out = &bs[held], *acc = &bs[1 - held];
        rnd = rnd * 1103515245u + 12345u;
        int count = (int)(rnd >> 16) % 12;
        fill(out, n, count);
        n += count;
        size_t lo = 0;
        while (lo < out->n) {
            rnd = rnd * 1103515245u + 12345u;
            size_t len = 1 + (rnd >> 16) % 5;
            size_t hi = lo + len < out->n ? lo + len : out->n;
            if ((rnd >> 8) % 7 != 0) { /* written; else to the DLQ */
                written_keep_range(w, out, (batch_range){lo, hi});
                for (size_t i = lo; i < hi; i++)
                    pending[npending++] = (int)out->e[i].offset;
            }
            if ((rnd >> 12) % 11 == 0) {
                int c = n++;
                char key[32], line[64];
                int kn = snprintf(key, sizeof key, "sensor.e%d", c % 3);
                int ln = snprintf(line, sizeof line, "m,entity_id=e%d value=%d", c, c);
                written_keep(w, c % 4 ? key : NULL, (size_t)kn, c % 4, c, line,
                             (size_t)ln);
                pending[npending++] = c;
            }
            /* The next batch fills meanwhile. */
            fill(acc, 100000 + round, (int)(rnd >> 20) % 4);
            lo = hi;
        }
        written_adopt(w, out);
        batch_clear(out);
        held = 1 - held;
        rnd = rnd * 1103515245u + 12345u;
        if ((rnd >> 16) % 5 == 0 || round == ROUNDS - 1) {
            bool release = (rnd >> 24) % 3 == 0;
            written_flush(w, r, release);
            int from = npending > CAP ? npending - CAP : 0;
            for (int i = from; i < npending; i++) {
                memmove(listed + 1, listed, sizeof listed - sizeof listed[0]);
                listed[0] = pending[i];
                if (nlisted < CAP)
                    nlisted++;
            }
            npending = 0;
            expect_batch_points(hs_recent_list(r, CAP, NULL), listed, (size_t)nlisted);
        }
        ck_assert_int_lt(npending, 4000);
    }
    written_free(w);
    hs_recent_free(r);
    batch_fini(&bs[0]);
    batch_fini(&bs[1]);
}
END_TEST

static Suite *written_suite(void)
{
    Suite *s = suite_create("written");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_flushes_in_order);
    tcase_add_test(tc, test_escaping_and_bad_bytes);
    tcase_add_test(tc, test_huge_then_small);
    tcase_add_test(tc, test_batch_lines_taken_over);
    tcase_add_test(tc, test_random_against_model);
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
