/* test-outcome.c - unit tests for the writer's outcome rules: HTTP status
 * to OK/RETRY/DROP/FATAL, Retry-After in both forms, the backoff bounds,
 * and InfluxDB's error text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "outcome.h"

static const struct {
    long status;
    outcome_kind kind;
} status_cases[] = {
    {200, OUTCOME_OK},    {204, OUTCOME_OK},    {0, OUTCOME_RETRY},
    {408, OUTCOME_RETRY}, {429, OUTCOME_RETRY}, {500, OUTCOME_RETRY},
    {502, OUTCOME_RETRY}, {503, OUTCOME_RETRY}, {504, OUTCOME_RETRY},
    {400, OUTCOME_DROP},  {413, OUTCOME_DROP},  {422, OUTCOME_DROP},
    {401, OUTCOME_FATAL}, {403, OUTCOME_FATAL}, {404, OUTCOME_FATAL},
    {405, OUTCOME_FATAL}, {301, OUTCOME_FATAL},
};

START_TEST(test_classify)
{
    ck_assert_msg(outcome_classify(status_cases[_i].status) == status_cases[_i].kind,
                  "HTTP %ld -> %s", status_cases[_i].status,
                  outcome_name(outcome_classify(status_cases[_i].status)));
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(outcome_name(OUTCOME_OK), "ok");
    ck_assert_str_eq(outcome_name(OUTCOME_RETRY), "retry");
    ck_assert_str_eq(outcome_name(OUTCOME_DROP), "drop");
    ck_assert_str_eq(outcome_name(OUTCOME_FATAL), "fatal");
}
END_TEST

/* 1994-11-06T08:49:37Z, RFC 9110's example date */
#define EXAMPLE 784111777LL

static const struct {
    const char *value;
    int64_t now;
    int rc;
    int64_t ms;
} ra_cases[] = {
    {"0", 0, 0, 0},
    {"1", 0, 0, 1000},
    {" 120 ", 0, 0, 120000},
    {"300", 0, 0, 300000},
    {"301", 0, 0, 300000}, /* capped */
    {"99999999999999999999", 0, 0, 300000},
    {"Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE - 30, 0, 30000},
    {"Sunday, 06-Nov-94 08:49:37 GMT", EXAMPLE - 5, 0, 5000},
    {"Sun Nov  6 08:49:37 1994", EXAMPLE - 2, 0, 2000},
    {"Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE + 60, 0, 0}, /* in the past */
    {"Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE - 100000, 0, 300000},
    {"", 0, -1, 0},
    {"soon", 0, -1, 0},
    {"-5", 0, -1, 0},
    {"1.5", 0, -1, 0},
    {"12abc", 0, -1, 0},
    {"Sun, 06 Nov 1994 08:49:37 GMT trailing", EXAMPLE, -1, 0},
};

START_TEST(test_retry_after)
{
    int64_t ms = -1;
    int rc = outcome_parse_retry_after(ra_cases[_i].value, ra_cases[_i].now, &ms);
    ck_assert_msg(rc == ra_cases[_i].rc, "\"%s\": rc %d", ra_cases[_i].value, rc);
    if (rc == 0)
        ck_assert_msg(ms == ra_cases[_i].ms, "\"%s\": %lld ms", ra_cases[_i].value,
                      (long long)ms);
}
END_TEST

START_TEST(test_retry_after_null)
{
    int64_t ms;
    ck_assert_int_eq(outcome_parse_retry_after(NULL, 0, &ms), -1);
}
END_TEST

START_TEST(test_backoff)
{
    /* base doubles from 100 ms to the 30 s cap; result in [base/2, base] */
    int64_t base = 100;
    for (unsigned attempt = 0; attempt < 40; attempt++) {
        int64_t lo = base / 2, hi = base;
        ck_assert_int_eq(outcome_backoff_ms(attempt, 0), lo);
        ck_assert_int_eq(outcome_backoff_ms(attempt, (uint32_t)(hi - lo)), hi);
        for (uint32_t r = 1; r < 2000000000u; r = r * 3 + 7) {
            int64_t d = outcome_backoff_ms(attempt, r);
            ck_assert_int_ge(d, lo);
            ck_assert_int_le(d, hi);
        }
        base = base * 2 > 30000 ? 30000 : base * 2;
    }
    ck_assert_int_le(outcome_backoff_ms(1000, 0xFFFFFFFFu), 30000);
}
END_TEST

START_TEST(test_error_text)
{
    char out[128];
    const char *v1 =
        "{\"error\":\"partial write: unable to parse 'x': missing fields dropped=1\"}\n";
    outcome_error_text(v1, strlen(v1), out, sizeof out);
    ck_assert_str_eq(out, "partial write: unable to parse 'x': missing fields dropped=1");
    const char *v2 = "{\"code\":\"invalid\",\"message\":\"failure writing points\"}";
    outcome_error_text(v2, strlen(v2), out, sizeof out);
    ck_assert_str_eq(out, "failure writing points");
    const char *plain = "  Request Entity Too Large \r\n";
    outcome_error_text(plain, strlen(plain), out, sizeof out);
    ck_assert_str_eq(out, "Request Entity Too Large");
    outcome_error_text(NULL, 0, out, sizeof out);
    ck_assert_str_eq(out, "");
    char tiny[6];
    outcome_error_text(plain, strlen(plain), tiny, sizeof tiny);
    ck_assert_str_eq(tiny, "Reque");
}
END_TEST

static Suite *outcome_suite(void)
{
    Suite *s = suite_create("outcome");
    TCase *tc = tcase_create("outcome");
    tcase_add_loop_test(tc, test_classify, 0,
                        (int)(sizeof status_cases / sizeof status_cases[0]));
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_retry_after, 0,
                        (int)(sizeof ra_cases / sizeof ra_cases[0]));
    tcase_add_test(tc, test_retry_after_null);
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_error_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(outcome_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
