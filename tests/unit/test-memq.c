/* test-memq.c - memq: bounded FIFO of Kafka records. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memq.h"

START_TEST(test_fifo_order_and_tags)
{
    memq *q = memq_new(10, 1000);
    ck_assert_int_eq(memq_push(q, 0, 11, "k1", 2, "one", 3), 0);
    ck_assert_int_eq(memq_push(q, 1, 12, NULL, 0, "two", 3), 0);
    ck_assert_uint_eq(memq_count(q), 2);
    ck_assert_uint_eq(memq_bytes(q), 8);
    int tag;
    uint64_t seq;
    const void *k, *p;
    size_t kl, l;
    ck_assert_int_eq(memq_peek(q, &tag, &seq, &k, &kl, &p, &l), 0);
    ck_assert_int_eq(tag, 0);
    ck_assert_uint_eq(seq, 11);
    ck_assert_uint_eq(kl, 2);
    ck_assert(memcmp(k, "k1", 2) == 0);
    ck_assert(memcmp(p, "one", 3) == 0 && l == 3);
    memq_pop(q);
    ck_assert_int_eq(memq_peek(q, &tag, &seq, &k, &kl, &p, &l), 0);
    ck_assert_int_eq(tag, 1);
    ck_assert_uint_eq(seq, 12);
    ck_assert_ptr_null(k);
    ck_assert(memcmp(p, "two", 3) == 0);
    memq_pop(q);
    ck_assert_int_eq(memq_peek(q, &tag, &seq, &k, &kl, &p, &l), -1);
    ck_assert_uint_eq(memq_bytes(q), 0);
    memq_pop(q); /* no-op when empty */
    memq_free(q);
}
END_TEST

START_TEST(test_bounds)
{
    memq *q = memq_new(3, 10);
    ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, "12345", 5), 0);
    ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, "123456", 6), -1); /* bytes */
    ck_assert_int_eq(memq_push(q, 0, 0, "k", 1, "1234", 4), 0);
    ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, "", 0), 0);
    ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, "", 0), -1); /* count */
    ck_assert_uint_eq(memq_count(q), 3);
    memq_pop(q);
    ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, "12345", 5), 0);
    memq_free(q); /* frees the records still queued */
    memq_free(NULL);
}
END_TEST

START_TEST(test_many)
{
    memq *q = memq_new(100000, 100u * 1000 * 1000);
    char buf[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(buf, sizeof(buf), "%d", i);
        ck_assert_int_eq(memq_push(q, 0, 0, NULL, 0, buf, (size_t)n), 0);
    }
    for (int i = 0; i < 20000; i++) {
        int tag;
        uint64_t seq;
        const void *k, *p;
        size_t kl, l;
        ck_assert_int_eq(memq_peek(q, &tag, &seq, &k, &kl, &p, &l), 0);
        int n = snprintf(buf, sizeof(buf), "%d", i);
        ck_assert(l == (size_t)n && memcmp(p, buf, l) == 0);
        memq_pop(q);
    }
    ck_assert_uint_eq(memq_count(q), 0);
    memq_free(q);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("memq");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fifo_order_and_tags);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_many);
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
