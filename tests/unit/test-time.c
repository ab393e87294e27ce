/* test-time.c - unit tests for hs_time: ISO 8601 parsing, formatting, clocks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hs_time.h"

#define NS INT64_C(1000000000)

/* 2026-11-21T22:48:38Z, computed independently (Python's datetime). */
#define T0 INT64_C(1795301318)

static const struct {
    const char *text;
    int64_t ns;
} valid[] = {
    {"2026-11-21T22:48:38.123456+00:00", T0 *NS + 123456000},
    {"2026-11-21T22:48:38+00:00", T0 *NS},
    {"2026-11-21T22:48:38Z", T0 *NS},
    {"2026-11-21T22:48:38z", T0 *NS},
    {"2026-11-21t22:48:38Z", T0 *NS},
    {"2026-11-21 22:48:38Z", T0 *NS},
    {"2026-11-21T22:48:38.1Z", T0 *NS + 100000000},
    {"2026-11-21T22:48:38.123456789Z", T0 *NS + 123456789},
    /* Digits beyond nanoseconds are truncated, not rounded. */
    {"2026-11-21T22:48:38.1234567899999Z", T0 *NS + 123456789},
    {"2026-11-21T23:48:38.5+01:00", T0 *NS + 500000000},
    {"2026-11-21T17:18:38-05:30", T0 *NS},
    {"2026-11-22T12:33:38+13:45", T0 *NS},
    {"2026-11-21T22:48:38-00:00", T0 *NS},
    /* An offset that moves the date across a month and a year. */
    {"2026-12-31T23:30:00-01:00", INT64_C(1798763400) * NS},
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:00:00.000000001Z", 1},
    {"1969-12-31T23:59:59.5Z", -500000000},
    {"2000-02-29T00:00:00-05:30", INT64_C(951802200) * NS},
    {"2024-02-29T12:00:00Z", INT64_C(1709208000) * NS},
    {"2100-02-28T00:00:00Z", INT64_C(4107456000) * NS},
    {"2262-04-11T23:47:16.854775807Z", INT64_MAX},
    {"1677-09-21T00:12:43.145224192Z", INT64_MIN},
};

static const char *const invalid[] = {
    "",
    "garbage",
    "2026-11-21",
    "2026-11-21T22:48:38",        /* no offset: ambiguous */
    "2026-11-21T22:48:38+00:00 ", /* trailing blank */
    "2026-11-21T22:48:38+00:00x", /* trailing text */
    "2026-11-21T22:48:38Zjunk",
    " 2026-11-21T22:48:38Z",
    "2026-11-21T22:48:38.Z", /* a dot without digits */
    "2026-11-21T22:48:38.12a+00:00",
    "2026-11-21T22:48:38+0000", /* basic offset mixed with extended time */
    "2026-11-21T22:48:38+00",
    "2026-11-21T22:48:38+24:00",
    "2026-11-21T22:48:38+01:60",
    "2026-11-21T22:48Z",
    "2026-11-21X22:48:38Z",
    "2026-1-21T22:48:38Z",
    "26-11-21T22:48:38Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "2026-11-31T00:00:00Z",
    "2026-02-29T00:00:00Z", /* 2026 is not a leap year */
    "2100-02-29T00:00:00Z", /* nor is 2100 */
    "2026-11-21T24:00:00Z",
    "2026-11-21T23:60:00Z",
    "2026-11-21T23:59:60Z",
    "+2026-11-21T22:48:38Z",
    "2026-11-21T22:48:38.123456+00:00\n",
    "2262-04-11T23:47:16.854775808Z", /* one ns past int64_t */
    "9999-12-31T23:59:59Z",
    "1677-09-21T00:12:43.145224191Z",
};

START_TEST(test_parse_valid)
{
    int64_t ns = 42;
    ck_assert_msg(hs_time_parse_iso(valid[_i].text, &ns) == 0, "rejected %s",
                  valid[_i].text);
    ck_assert_msg(ns == valid[_i].ns, "%s: got %lld, want %lld", valid[_i].text,
                  (long long)ns, (long long)valid[_i].ns);
}
END_TEST

START_TEST(test_parse_invalid)
{
    int64_t ns = 42;
    ck_assert_msg(hs_time_parse_iso(invalid[_i], &ns) == -1, "accepted '%s'",
                  invalid[_i]);
    ck_assert_int_eq(ns, 42);
}
END_TEST

START_TEST(test_parse_null)
{
    int64_t ns;
    ck_assert_int_eq(hs_time_parse_iso(NULL, &ns), -1);
    ck_assert_int_eq(hs_time_parse_iso("2026-11-21T22:48:38Z", NULL), -1);
}
END_TEST

static const struct {
    int64_t ns;
    const char *text;
} formatted[] = {
    {T0 * NS + 123456000, "2026-11-21T22:48:38.123456+00:00"},
    {T0 * NS + 123456999, "2026-11-21T22:48:38.123456+00:00"},
    {0, "1970-01-01T00:00:00.000000+00:00"},
    {-1, "1969-12-31T23:59:59.999999+00:00"},
    {-500000000, "1969-12-31T23:59:59.500000+00:00"},
    {INT64_C(951782400) * NS, "2000-02-29T00:00:00.000000+00:00"},
    {INT64_MAX, "2262-04-11T23:47:16.854775+00:00"},
    {INT64_MIN, "1677-09-21T00:12:43.145224+00:00"},
};

START_TEST(test_format)
{
    char buf[33];
    ck_assert_int_eq(hs_time_format_iso(formatted[_i].ns, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, formatted[_i].text);
}
END_TEST

START_TEST(test_format_small_buffer)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(hs_time_format_iso(0, buf, 32), -1);
    ck_assert_int_eq(hs_time_format_iso(0, NULL, 64), -1);
    ck_assert_int_eq(hs_time_format_iso(0, buf, 33), 0);
    ck_assert_uint_eq(strlen(buf), 32);
}
END_TEST

/* Every valid timestamp, formatted and parsed back, lands on the same
 * microsecond (formatting keeps microseconds, floored), except at the very
 * bottom of the int64_t range. */
START_TEST(test_round_trip)
{
    int64_t ns, back;
    char buf[40];
    ck_assert_int_eq(hs_time_parse_iso(valid[_i].text, &ns), 0);
    ck_assert_int_eq(hs_time_format_iso(ns, buf, sizeof buf), 0);
    if (ns < INT64_MIN + 1000) {
        /* The floored microsecond lies before the earliest int64_t instant. */
        ck_assert_int_eq(hs_time_parse_iso(buf, &back), -1);
        return;
    }
    ck_assert_int_eq(hs_time_parse_iso(buf, &back), 0);
    int64_t us = ns / 1000 - (ns % 1000 < 0 ? 1 : 0);
    ck_assert_int_eq(back, us * 1000);
}
END_TEST

/* A sweep over four centuries of days, each at a different time of day. The
 * first mismatch is reported (ck_assert in the loop would be slow). */
START_TEST(test_round_trip_sweep)
{
    char buf[40], bad[40] = "";
    for (int64_t day = -60000; day < 90000 && bad[0] == '\0'; day += 7) {
        int64_t ns =
            day * 86400 * NS + (day % 86400) * NS + (day * 7919 % 1000000) * 1000;
        int64_t back = 0;
        if (hs_time_format_iso(ns, buf, sizeof buf) != 0 ||
            hs_time_parse_iso(buf, &back) != 0 || back != ns)
            memcpy(bad, buf, sizeof bad);
    }
    ck_assert_msg(bad[0] == '\0', "%s does not round-trip", bad);
}
END_TEST

START_TEST(test_clocks)
{
    int64_t m1 = hs_now_mono_ms();
    int64_t m2 = hs_now_mono_ms();
    ck_assert_int_ge(m2, m1);
    int64_t w = hs_now_wall_ns();
    /* Later than 2020-01-01 and earlier than 2200-01-01. */
    ck_assert_int_gt(w, INT64_C(1577836800) * NS);
    ck_assert_int_lt(w, INT64_C(7258118400) * NS);
}
END_TEST

static Suite *time_suite(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_parse_valid, 0, sizeof valid / sizeof valid[0]);
    tcase_add_loop_test(tc, test_parse_invalid, 0, sizeof invalid / sizeof invalid[0]);
    tcase_add_test(tc, test_parse_null);
    tcase_add_loop_test(tc, test_format, 0, sizeof formatted / sizeof formatted[0]);
    tcase_add_test(tc, test_format_small_buffer);
    tcase_add_loop_test(tc, test_round_trip, 0, sizeof valid / sizeof valid[0]);
    tcase_add_test(tc, test_round_trip_sweep);
    tcase_add_test(tc, test_clocks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(time_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
