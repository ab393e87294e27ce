/* test-mem.c - unit tests for hs_mem: malloc tuning for a small idle heap. */
#include <check.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "hs_mem.h"

/* Under valgrind or AddressSanitizer malloc is theirs, not glibc's:
 * mallinfo2 says nothing then. */
static int foreign_malloc(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre != NULL && strstr(pre, "vgpreload") != NULL;
#endif
}

/* Frees a 4 MB mmapped block (which raises glibc's dynamic mmap threshold
 * unless it was fixed), then returns how many more mmapped blocks there are
 * while a block of twice HS_MEM_THRESHOLD is live: 1 when it came from mmap,
 * 0 when from the heap. */
static size_t mmapped_after_burst(void)
{
    char *volatile big = malloc(4 * 1024 * 1024); /* volatile: never elided */
    ck_assert_ptr_nonnull(big);
    memset(big, 1, 4 * 1024 * 1024);
    free(big);
    size_t before = mallinfo2().hblks;
    char *volatile mid = malloc(2 * HS_MEM_THRESHOLD);
    ck_assert_ptr_nonnull(mid);
    size_t more = mallinfo2().hblks - before;
    free(mid);
    ck_assert_uint_eq(mallinfo2().hblks, before);
    return more;
}

/* After hs_mem_tune, a block above the threshold comes from mmap (and so
 * goes back to the system when freed) even after a larger mmapped block
 * was freed, which would have raised glibc's dynamic threshold past it. */
START_TEST(test_threshold_fixed)
{
    int rc = hs_mem_tune();
    if (foreign_malloc())
        return; /* whatever its mallopt answers is harmless */
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(mmapped_after_burst(), 1);
}
END_TEST

/* Without the tuning glibc's dynamic threshold rises: the same sequence
 * keeps the block in the heap. This shows the test above can fail. */
START_TEST(test_env_wins)
{
    setenv("MALLOC_ARENA_MAX", "4", 1);
    ck_assert_int_eq(hs_mem_tune(), 0); /* changes nothing, so nothing fails */
    unsetenv("MALLOC_ARENA_MAX");
    /* Only a process of its own starts untuned (see mem_suite). */
    const char *fork = getenv("CK_FORK");
    if (foreign_malloc() || (fork != NULL && strcmp(fork, "no") == 0))
        return;
    ck_assert_uint_eq(mmapped_after_burst(), 0);
}
END_TEST

/* During a backlog a block of 4 MB freed and taken again comes from the
 * heap; after it, from mmap again. */
START_TEST(test_backlog_raises_and_restores)
{
    int rc = hs_mem_tune();
    if (foreign_malloc())
        return;
    ck_assert_int_eq(rc, 0);
    ck_assert(hs_mem_backlog(true));
    ck_assert(!hs_mem_backlog(true)); /* already raised: nothing to do */
    size_t before = mallinfo2().hblks;
    char *volatile big = malloc(4 * 1024 * 1024);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(mallinfo2().hblks, before); /* in the heap */
    free(big);
    ck_assert(hs_mem_backlog(false));
    ck_assert(!hs_mem_backlog(false));
    ck_assert_uint_eq(mmapped_after_burst(), 1);
}
END_TEST

/* Malloc left to the environment: hs_mem_backlog changes nothing. */
START_TEST(test_backlog_env_wins)
{
    setenv("MALLOC_MMAP_THRESHOLD_", "1048576", 1);
    ck_assert_int_eq(hs_mem_tune(), 0);
    unsetenv("MALLOC_MMAP_THRESHOLD_");
    ck_assert(!hs_mem_backlog(true));
    ck_assert(!hs_mem_backlog(false));
}
END_TEST

/* Trimming keeps every live block intact. */
START_TEST(test_trim)
{
    enum { N = 256 };
    char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(1000);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], i & 0xff, 1000);
    }
    for (int i = 0; i < N; i += 2) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    hs_mem_trim();
    char want[1000];
    for (int i = 1; i < N; i += 2) {
        memset(want, i & 0xff, sizeof want);
        ck_assert_msg(memcmp(blocks[i], want, sizeof want) == 0, "block %d changed", i);
        free(blocks[i]);
    }
}
END_TEST

/* hs_mem_idle trims once, only after heavy work and only when nothing was
 * noted for the quiet time; light activity postpones it without arming it. */
START_TEST(test_idle)
{
    hs_mem_idle t = {0};
    ck_assert(!hs_mem_idle_trim(&t, 10000, 1000)); /* nothing heavy yet */
    hs_mem_idle_note(&t, 100, false);
    ck_assert(!hs_mem_idle_trim(&t, 10000, 1000));
    hs_mem_idle_note(&t, 200, true);
    ck_assert(!hs_mem_idle_trim(&t, 1199, 1000));
    hs_mem_idle_note(&t, 1000, false); /* still busy: the quiet time restarts */
    ck_assert(!hs_mem_idle_due(&t, 1999, 1000));
    ck_assert(!hs_mem_idle_trim(&t, 1999, 1000));
    ck_assert(hs_mem_idle_due(&t, 2000, 1000));
    ck_assert(hs_mem_idle_trim(&t, 2000, 1000));
    ck_assert(!hs_mem_idle_due(&t, 5000, 1000));
    ck_assert(!hs_mem_idle_trim(&t, 5000, 1000)); /* once */
    hs_mem_idle_note(&t, 6000, true);
    ck_assert(hs_mem_idle_trim(&t, 7000, 1000));
}
END_TEST

static Suite *mem_suite(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_threshold_fixed);
    tcase_add_test(tc, test_trim);
    tcase_add_test(tc, test_idle);
    tcase_add_test(tc, test_backlog_raises_and_restores);
    suite_add_tcase(s, tc);
    /* Check runs each test in a process of its own unless CK_FORK=no: once
     * tuned, a process stays tuned. */
    TCase *env = tcase_create("env");
    tcase_add_test(env, test_env_wins);
    tcase_add_test(env, test_backlog_env_wins);
    suite_add_tcase(s, env);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
