/* test-offtrack.c - unit tests for hs_offtrack: commit points over offsets
 * finished out of order, with gaps, across partitions. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "hs_offtrack.h"

/* One scenario: offsets added in order, then finished in `done` order; after
 * each done, whether the commit point advanced and to where. */
typedef struct {
    const char *name;
    int64_t added[8];
    size_t nadded;
    struct {
        int64_t offset;
        bool advances;
        int64_t commit_next;
    } steps[8];
    size_t nsteps;
} scenario;

static const scenario scenarios[] = {
    {"in order", {10, 11, 12}, 3, {{10, true, 11}, {11, true, 12}, {12, true, 13}}, 3},
    {"reverse order",
     {10, 11, 12},
     3,
     {{12, false, 0}, {11, false, 0}, {10, true, 13}},
     3},
    {"middle first",
     {0, 1, 2, 3},
     4,
     {{2, false, 0}, {0, true, 1}, {1, true, 3}, {3, true, 4}},
     4},
    /* Compaction and transaction markers leave holes; the commit point is the
     * next offset still in flight, never an offset that was not handed out. */
    {"gaps",
     {5, 9, 20, 21},
     4,
     {{9, false, 0}, {5, true, 20}, {21, false, 0}, {20, true, 22}},
     4},
    {"gap head", {100, 250}, 2, {{100, true, 250}, {250, true, 251}}, 2},
    {"unknown offsets",
     {1, 3},
     2,
     {{2, false, 0}, {0, false, 0}, {4, false, 0}, {1, true, 3}, {3, true, 4}},
     5},
    {"done twice",
     {7, 8},
     2,
     {{8, false, 0}, {8, false, 0}, {7, true, 9}, {7, false, 0}},
     4},
};

START_TEST(test_scenarios)
{
    const scenario *sc = &scenarios[_i];
    hs_offtrack *t = hs_offtrack_new();
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < sc->nadded; i++)
        ck_assert_int_eq(hs_offtrack_add(t, "ha.events.raw", 0, sc->added[i]), 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), sc->nadded);
    for (size_t i = 0; i < sc->nsteps; i++) {
        int64_t next = -99;
        bool adv = hs_offtrack_done(t, "ha.events.raw", 0, sc->steps[i].offset, &next);
        ck_assert_msg(adv == sc->steps[i].advances,
                      "%s: step %zu (offset %lld) advanced=%d", sc->name, i,
                      (long long)sc->steps[i].offset, adv);
        if (adv)
            ck_assert_msg(next == sc->steps[i].commit_next,
                          "%s: step %zu: next %lld != %lld", sc->name, i, (long long)next,
                          (long long)sc->steps[i].commit_next);
        else
            ck_assert_int_eq(next, -99);
    }
    ck_assert_uint_eq(hs_offtrack_pending(t), 0);
    hs_offtrack_free(t);
}
END_TEST

START_TEST(test_partitions_are_separate)
{
    hs_offtrack *t = hs_offtrack_new();
    int64_t next;
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 1), 0);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 1, 1), 0);
    ck_assert_int_eq(hs_offtrack_add(t, "b", 0, 1), 0);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 2), 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), 4);
    /* The same offset in another partition or topic is a different message. */
    ck_assert(hs_offtrack_done(t, "a", 1, 1, &next));
    ck_assert_int_eq(next, 2);
    ck_assert(!hs_offtrack_done(t, "a", 1, 1, &next));
    ck_assert(!hs_offtrack_done(t, "c", 0, 1, &next));
    ck_assert(!hs_offtrack_done(t, "a", 7, 1, &next));
    ck_assert(!hs_offtrack_done(t, "a", 0, 2, &next));
    ck_assert(hs_offtrack_done(t, "b", 0, 1, &next));
    ck_assert_int_eq(next, 2);
    ck_assert(hs_offtrack_done(t, "a", 0, 1, &next));
    ck_assert_int_eq(next, 3);
    ck_assert_uint_eq(hs_offtrack_pending(t), 0);
    hs_offtrack_free(t);
}
END_TEST

START_TEST(test_add_must_increase)
{
    hs_offtrack *t = hs_offtrack_new();
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 10), 0);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 10), -1);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 9), -1);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 1, 9), 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), 2);
    /* Even once everything is done, going back needs a forget first. */
    int64_t next;
    ck_assert(hs_offtrack_done(t, "a", 0, 10, &next));
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 5), -1);
    hs_offtrack_forget(t, "a", 0);
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 5), 0);
    ck_assert(hs_offtrack_done(t, "a", 0, 5, &next));
    ck_assert_int_eq(next, 6);
    hs_offtrack_free(t);
}
END_TEST

START_TEST(test_forget)
{
    hs_offtrack *t = hs_offtrack_new();
    int64_t next = -1;
    for (int64_t o = 0; o < 10; o++) {
        ck_assert_int_eq(hs_offtrack_add(t, "a", 0, o), 0);
        ck_assert_int_eq(hs_offtrack_add(t, "a", 1, o), 0);
    }
    ck_assert(!hs_offtrack_done(t, "a", 0, 5, &next));
    ck_assert_uint_eq(hs_offtrack_pending(t), 19);
    /* Only the offsets still in flight leave the count. */
    hs_offtrack_forget(t, "a", 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), 10);
    ck_assert(!hs_offtrack_done(t, "a", 0, 0, &next));
    hs_offtrack_forget(t, "a", 0);
    hs_offtrack_forget(t, "nope", 3);
    ck_assert(hs_offtrack_done(t, "a", 1, 0, &next));
    ck_assert_int_eq(next, 1);
    ck_assert_uint_eq(hs_offtrack_pending(t), 9);
    hs_offtrack_free(t);
}
END_TEST

/* Two topics with the same partition numbers (colliding in the index) and
 * 300 partitions each (the index grows several times), then every third
 * partition of one topic forgotten (the others move in the parts array):
 * each partition keeps its own offsets throughout. */
START_TEST(test_many_partitions)
{
    enum { P = 300 };
    static const char *const topics[] = {"ha.events.enriched", "ha.events.raw"};
    hs_offtrack *t = hs_offtrack_new();
    for (int32_t p = 0; p < P; p++)
        for (int k = 0; k < 2; k++)
            for (int64_t o = 0; o < 3; o++)
                ck_assert_int_eq(hs_offtrack_add(t, topics[k], p, 100 * k + p + o), 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), 2 * P * 3);
    for (int32_t p = 0; p < P; p += 3)
        hs_offtrack_forget(t, topics[0], p);
    ck_assert_uint_eq(hs_offtrack_pending(t), 2 * P * 3 - (P / 3) * 3);
    int wrong = 0;
    for (int32_t p = 0; p < P; p++)
        for (int k = 0; k < 2; k++) {
            int64_t next = -1;
            bool gone = k == 0 && p % 3 == 0;
            bool adv = hs_offtrack_done(t, topics[k], p, 100 * k + p, &next);
            wrong += gone ? adv : !adv || next != 100 * k + p + 1;
        }
    ck_assert_int_eq(wrong, 0);
    /* A forgotten partition starts over, from any offset. */
    ck_assert_int_eq(hs_offtrack_add(t, topics[0], 0, 7), 0);
    ck_assert(!hs_offtrack_done(t, topics[0], 0, 6, NULL));
    ck_assert(hs_offtrack_done(t, topics[0], 0, 7, NULL));
    ck_assert(!hs_offtrack_done(t, "ha.events.other", 1, 1, NULL));
    hs_offtrack_free(t);
}
END_TEST

/* The tracker's copy of a topic: one per name, living as long as the
 * tracker (past forgetting its partitions), and passing it or any equal
 * string reaches the same partitions. */
START_TEST(test_topic_copy)
{
    hs_offtrack *t = hs_offtrack_new();
    char name[] = "ha.events.enriched";
    const char *a = hs_offtrack_topic(t, name);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(a, name);
    ck_assert_str_eq(a, name);
    ck_assert_ptr_eq(hs_offtrack_topic(t, "ha.events.enriched"), a);
    ck_assert_ptr_eq(hs_offtrack_topic(t, a), a);
    const char *b = hs_offtrack_topic(t, "ha.events.raw");
    ck_assert_ptr_ne(b, a);
    /* Added through a string equal to the copy, found through the copy. */
    ck_assert_int_eq(hs_offtrack_add(t, name, 0, 10), 0);
    ck_assert_int_eq(hs_offtrack_add(t, a, 0, 11), 0);
    ck_assert_int_eq(hs_offtrack_add(t, b, 0, 10), 0);
    int64_t next = -1;
    ck_assert(hs_offtrack_done(t, a, 0, 10, &next));
    ck_assert_int_eq(next, 11);
    ck_assert(hs_offtrack_done(t, name, 0, 11, &next));
    ck_assert_int_eq(next, 12);
    ck_assert_uint_eq(hs_offtrack_pending(t), 1);
    /* The caller's string may change: the tracker compares its own copy. */
    name[3] = 'X';
    ck_assert(!hs_offtrack_done(t, name, 0, 10, &next));
    ck_assert(hs_offtrack_done(t, b, 0, 10, &next));
    /* Forgetting every partition of a topic keeps its copy usable. */
    hs_offtrack_forget(t, a, 0);
    hs_offtrack_forget(t, b, 0);
    ck_assert_str_eq(a, "ha.events.enriched");
    ck_assert_ptr_eq(hs_offtrack_topic(t, "ha.events.enriched"), a);
    ck_assert_int_eq(hs_offtrack_add(t, a, 0, 5), 0);
    ck_assert(hs_offtrack_done(t, "ha.events.enriched", 0, 5, &next));
    ck_assert_int_eq(next, 6);
    /* Many topics: the table grows, earlier copies stay where they are. */
    for (int i = 0; i < 40; i++) {
        char other[32];
        snprintf(other, sizeof other, "topic-%d", i);
        const char *c = hs_offtrack_topic(t, other);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(hs_offtrack_add(t, c, i, i), 0);
    }
    ck_assert_ptr_eq(hs_offtrack_topic(t, "ha.events.enriched"), a);
    ck_assert_ptr_eq(hs_offtrack_topic(t, "topic-0"), hs_offtrack_topic(t, "topic-0"));
    ck_assert(hs_offtrack_done(t, "topic-39", 39, 39, &next));
    ck_assert_ptr_null(hs_offtrack_topic(NULL, "x"));
    ck_assert_ptr_null(hs_offtrack_topic(t, NULL));
    hs_offtrack_free(t);
}
END_TEST

START_TEST(test_null_commit_next)
{
    hs_offtrack *t = hs_offtrack_new();
    ck_assert_int_eq(hs_offtrack_add(t, "a", 0, 1), 0);
    ck_assert(hs_offtrack_done(t, "a", 0, 1, NULL));
    hs_offtrack_free(t);
    hs_offtrack_free(NULL);
    ck_assert_uint_eq(hs_offtrack_pending(NULL), 0);
}
END_TEST

/* 100k offsets with a gap every 7, finished in a scrambled order: the commit
 * point only ever advances, never passes an unfinished offset, and ends past
 * the last one. Also exercises growing and wrapping the ring. */
START_TEST(test_many_scrambled)
{
    enum { N = 100000 };
    hs_offtrack *t = hs_offtrack_new();
    int64_t *offs = malloc(N * sizeof *offs);
    bool *finished = calloc(N, sizeof *finished);
    ck_assert_ptr_nonnull(offs);
    ck_assert_ptr_nonnull(finished);
    int add_failures = 0;
    for (size_t i = 0; i < N; i++) {
        offs[i] = (int64_t)i + (int64_t)(i / 7) * 3;
        add_failures += hs_offtrack_add(t, "raw", 2, offs[i]) != 0;
    }
    ck_assert_int_eq(add_failures, 0);
    ck_assert_uint_eq(hs_offtrack_pending(t), N);
    size_t lowest = 0; /* index of the lowest unfinished offset */
    int64_t last_commit = -1;
    /* Checked per step without ck_assert (which is slow in a hot loop); the
     * first wrong step is reported. */
    long long bad_step = -1;
    int64_t bad_got = 0, bad_want = 0;
    /* A permutation of 0..N-1 (65537 is coprime with N), so the ring keeps a
     * mix of finished and unfinished entries. */
    for (size_t k = 0; k < N && bad_step < 0; k++) {
        size_t i = (k * 65537u) % N;
        int64_t next = -1;
        bool adv = hs_offtrack_done(t, "raw", 2, offs[i], &next);
        finished[i] = true;
        size_t old_lowest = lowest;
        while (lowest < N && finished[lowest])
            lowest++;
        int64_t want = lowest == old_lowest ? -1
                       : lowest < N         ? offs[lowest]
                                            : offs[N - 1] + 1;
        if (adv != (lowest != old_lowest) || next != want ||
            (adv && next <= last_commit)) {
            bad_step = (long long)k;
            bad_got = adv ? next : -2;
            bad_want = want;
        }
        if (adv)
            last_commit = next;
    }
    ck_assert_msg(bad_step < 0,
                  "step %lld: commit point %lld, want %lld (-1: none, -2: no advance)",
                  bad_step, (long long)bad_got, (long long)bad_want);
    ck_assert_int_eq(last_commit, offs[N - 1] + 1);
    ck_assert_uint_eq(hs_offtrack_pending(t), 0);
    /* The ring is reused after it drained. */
    ck_assert_int_eq(hs_offtrack_add(t, "raw", 2, last_commit + 5), 0);
    ck_assert(hs_offtrack_done(t, "raw", 2, last_commit + 5, NULL));
    free(offs);
    free(finished);
    hs_offtrack_free(t);
}
END_TEST

/* Interleaved adds and dones keep the ring wrapping around its end. */
START_TEST(test_streaming_wrap)
{
    hs_offtrack *t = hs_offtrack_new();
    int64_t next_add = 0, next_done = 0, commit = -1;
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        for (int k = 0; k < 5; k++)
            bad += hs_offtrack_add(t, "x", 0, next_add++) != 0;
        /* Finish the second of each pair first. */
        for (int k = 0; k < 4 && next_done + 1 < next_add; k += 2) {
            int64_t c = -1;
            bad += hs_offtrack_done(t, "x", 0, next_done + 1, &c);
            bad += !hs_offtrack_done(t, "x", 0, next_done, &c);
            bad += c != next_done + 2;
            commit = c;
            next_done += 2;
        }
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(commit, next_done);
    ck_assert_uint_eq(hs_offtrack_pending(t), (uint64_t)(next_add - next_done));
    hs_offtrack_free(t);
}
END_TEST

static Suite *offtrack_suite(void)
{
    Suite *s = suite_create("offtrack");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_scenarios, 0, sizeof scenarios / sizeof scenarios[0]);
    tcase_add_test(tc, test_partitions_are_separate);
    tcase_add_test(tc, test_add_must_increase);
    tcase_add_test(tc, test_forget);
    tcase_add_test(tc, test_many_partitions);
    tcase_add_test(tc, test_topic_copy);
    tcase_add_test(tc, test_null_commit_next);
    tcase_add_test(tc, test_many_scrambled);
    tcase_add_test(tc, test_streaming_wrap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(offtrack_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
