/* hs_time.c - clocks and ISO 8601 timestamps as Home Assistant writes them. */
#include "hs_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define NS_PER_SEC INT64_C(1000000000)

int64_t hs_now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hs_now_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (Howard
 * Hinnant's days_from_civil). Valid for every year this module accepts. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n ASCII digits at *p into *out and advances *p. Returns false
 * when any of them is not a digit. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

int hs_time_parse_iso(const char *text, int64_t *ns_out)
{
    if (text == NULL || ns_out == NULL)
        return -1;
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) ||
        *p++ != '-' || !read_digits(&p, 2, &day))
        return -1;
    /* RFC 3339 allows a space or a lower-case t as the separator as well. */
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute) ||
        *p++ != ':' || !read_digits(&p, 2, &second))
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return -1;

    int64_t frac_ns = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 9)
                frac_ns = frac_ns * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            frac_ns *= 10;
    }

    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || *p++ != ':' || !read_digits(&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;

    /* Local time minus its offset is UTC. Years 0000-9999 give seconds far
     * inside int64_t; only the conversion to ns can overflow. Before 1970 a
     * fraction is folded into the second above it, so that the earliest
     * representable instant does not overflow on the way. */
    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                   second - offset_s;
    if (secs < 0 && frac_ns > 0) {
        secs += 1;
        frac_ns -= NS_PER_SEC;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) ||
        __builtin_add_overflow(ns, frac_ns, &ns))
        return -1;
    *ns_out = ns;
    return 0;
}

int hs_time_format_iso(int64_t ns, char *buf, size_t buflen)
{
    if (buf == NULL || buflen < 33)
        return -1;
    /* Floor division, so instants before 1970 format correctly too. */
    int64_t secs = ns / NS_PER_SEC;
    int64_t rem = ns % NS_PER_SEC;
    if (rem < 0) {
        rem += NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    int n = snprintf(buf, buflen, "%04lld-%02d-%02dT%02d:%02d:%02d.%06d+00:00",
                     (long long)year, month, day, (int)(sod / 3600), (int)(sod / 60 % 60),
                     (int)(sod % 60), (int)(rem / 1000));
    if (n < 0 || (size_t)n >= buflen)
        return -1;
    return 0;
}
