/* test-hasim-jbuf.c - Check suite for jbuf: JSON text as HA (orjson) writes it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"

static const struct {
    double v;
    const char *want;
} doubles[] = {
    {21.5, "21.5"},
    {7.0, "7.0"},
    {0.1, "0.1"},
    {100.0, "100.0"},
    {-3.25, "-3.25"},
    {1234.5678, "1234.5678"},
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {1e16, "1e+16"},
    {1.5e-05, "1.5e-05"},
    {0.0001, "0.0001"},
    {0.30000000000000004, "0.30000000000000004"},
    {1795304898.085164, "1795304898.085164"},
    {123456789012345.0, "123456789012345.0"},
};

START_TEST(test_double_repr)
{
    jbuf b;
    jbuf_init(&b, 0);
    jbuf_put_double(&b, doubles[_i].v);
    ck_assert_str_eq(b.data, doubles[_i].want);
    jbuf_fini(&b);
}
END_TEST

static const struct {
    int64_t us;
    const char *want;
} stamps[] = {
    {INT64_C(1795304898085164), "1795304898.085164"},
    {INT64_C(1795304898000000), "1795304898.0"},
    {INT64_C(1795304898500000), "1795304898.5"},
    {INT64_C(1795304898000010), "1795304898.00001"},
    {INT64_C(1795304898100000), "1795304898.1"},
};

START_TEST(test_ts_repr)
{
    jbuf b;
    jbuf_init(&b, 0);
    jbuf_put_ts(&b, stamps[_i].us);
    ck_assert_str_eq(b.data, stamps[_i].want);
    jbuf_fini(&b);
}
END_TEST

static const struct {
    int64_t us;
    const char *want;
} isos[] = {
    {INT64_C(1795304898085164), "2026-11-21T23:48:18.085164+00:00"},
    /* Python's isoformat() drops a zero fraction entirely. */
    {INT64_C(1795304898000000), "2026-11-21T23:48:18+00:00"},
    {INT64_C(1795304898000001), "2026-11-21T23:48:18.000001+00:00"},
    {INT64_C(951782400000000), "2000-02-29T00:00:00+00:00"},
    {0, "1970-01-01T00:00:00+00:00"},
};

START_TEST(test_iso)
{
    jbuf b;
    jbuf_init(&b, 0);
    jbuf_put_iso(&b, isos[_i].us);
    ck_assert_str_eq(b.data, isos[_i].want);
    char tmp[40];
    hasim_iso(isos[_i].us, tmp, sizeof tmp);
    ck_assert_str_eq(tmp, isos[_i].want);
    jbuf_fini(&b);
}
END_TEST

static const struct {
    const char *in;
    size_t len; /* 0 = strlen */
    const char *want;
} strs[] = {
    {"plain", 0, "\"plain\""},
    {"a\"b\\c", 0, "\"a\\\"b\\\\c\""},
    {"n\nr\rt\tb\bf\f", 0, "\"n\\nr\\rt\\tb\\bf\\f\""},
    {"\x01\x1f\x7f", 0, "\"\\u0001\\u001f\x7f\""},
    {"é 日本 🎉", 0, "\"é 日本 🎉\""},
    {"nul\0in", 6, "\"nul\\u0000in\""},
    {"trailing\\", 0, "\"trailing\\\\\""},
    {"", 0, "\"\""},
};

START_TEST(test_jstr)
{
    jbuf b;
    jbuf_init(&b, 0);
    size_t n = strs[_i].len ? strs[_i].len : strlen(strs[_i].in);
    jbuf_put_jstr(&b, strs[_i].in, n);
    ck_assert_str_eq(b.data, strs[_i].want);
    jbuf_fini(&b);
}
END_TEST

START_TEST(test_head_and_steal)
{
    jbuf b;
    jbuf_init(&b, 16);
    for (int i = 0; i < 1000; i++)
        jbuf_put_i64(&b, i - 500);
    ck_assert(!jbuf_failed(&b));
    ck_assert_uint_gt(b.len, 2000);
    ck_assert(strncmp(b.data, "-500-499", 8) == 0);
    size_t len = 0;
    char *block = jbuf_steal(&b, &len);
    ck_assert_ptr_nonnull(block);
    ck_assert(strncmp(block + 16, "-500-499", 8) == 0);
    ck_assert_uint_eq(strlen(block + 16), len);
    ck_assert_uint_eq(b.len, 0);
    free(block);
    jbuf_fini(&b);
}
END_TEST

static Suite *jbuf_suite(void)
{
    Suite *s = suite_create("hasim-jbuf");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_double_repr, 0,
                        (int)(sizeof doubles / sizeof doubles[0]));
    tcase_add_loop_test(tc, test_ts_repr, 0, (int)(sizeof stamps / sizeof stamps[0]));
    tcase_add_loop_test(tc, test_iso, 0, (int)(sizeof isos / sizeof isos[0]));
    tcase_add_loop_test(tc, test_jstr, 0, (int)(sizeof strs / sizeof strs[0]));
    tcase_add_test(tc, test_head_and_steal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jbuf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
