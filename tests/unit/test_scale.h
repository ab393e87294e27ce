/* test_scale.h - how densely the differential unit tests sweep their
 * byte-by-byte mutations.
 *
 * Natively every position of every sample is changed. Under valgrind,
 * where each step costs some fifty times more, the test setup sets
 * HS_TEST_QUICK=1, and so does tests/run.sh for its ASan+UBSan pass (which
 * follows the full native one); the sweeps then take every
 * TEST_QUICK_STRIDE-th position, starting at a different offset in each
 * sample, so the memory checks still see every code path the sweep
 * reaches. */
#ifndef TEST_SCALE_H
#define TEST_SCALE_H

#include <stddef.h>
#include <stdlib.h>

#define TEST_QUICK_STRIDE 7

/* The step between the positions a sweep changes: 1, or TEST_QUICK_STRIDE
 * when HS_TEST_QUICK is "1". */
static inline size_t test_stride(void)
{
    const char *q = getenv("HS_TEST_QUICK");
    return q != NULL && q[0] == '1' && q[1] == '\0' ? TEST_QUICK_STRIDE : 1;
}

/* How many of n random cases a loop runs: n, or one in TEST_QUICK_STRIDE
 * under HS_TEST_QUICK (thresholds on what the cases found should scale
 * with the result). */
static inline int test_count(int n)
{
    return test_stride() == 1 ? n : n / (int)TEST_QUICK_STRIDE;
}

/* The first position a sweep of sample number i changes. */
static inline size_t test_first(size_t i)
{
    return i % test_stride();
}

#endif
