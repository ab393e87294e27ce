/* jbuf.c - growable byte buffer that writes JSON text the way Home Assistant does. */
#include "jbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_init(jbuf *b, size_t head)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->head = head;
    b->failed = false;
}

void jbuf_fini(jbuf *b)
{
    if (b->data != NULL)
        free(b->data - b->head);
    jbuf_init(b, b->head);
}

void jbuf_reset(jbuf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

bool jbuf_failed(const jbuf *b)
{
    return b->failed;
}

/* Makes room for n more bytes plus the terminating NUL. */
static bool grow(jbuf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *base = b->data != NULL ? b->data - b->head : NULL;
    char *nb = realloc(base, b->head + cap);
    if (nb == NULL) {
        b->failed = true;
        return false;
    }
    b->data = nb + b->head;
    b->cap = cap;
    return true;
}

void jbuf_put(jbuf *b, const void *src, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jbuf_puts(jbuf *b, const char *s)
{
    jbuf_put(b, s, strlen(s));
}

void jbuf_putc(jbuf *b, char c)
{
    jbuf_put(b, &c, 1);
}

/* Writes the decimal digits of v at out; returns how many. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Writes v as exactly `width` digits, zero-padded. */
static void fmt_fixed(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void jbuf_put_i64(jbuf *b, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    if (v < 0) {
        tmp[n++] = '-';
        n += fmt_u64(tmp + n, (uint64_t)0 - (uint64_t)v);
    } else {
        n += fmt_u64(tmp, (uint64_t)v);
    }
    jbuf_put(b, tmp, n);
}

void jbuf_put_jstr(jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (!grow(b, n * 6 + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        /* Copy the run of bytes that need no escaping in one go. */
        size_t j = i;
        while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != '"' && s[j] != '\\')
            j++;
        if (j > i) {
            memcpy(o, s + i, j - i);
            o += j - i;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\b':
            *o++ = '\\';
            *o++ = 'b';
            break;
        case '\f':
            *o++ = '\\';
            *o++ = 'f';
            break;
        default:
            if (c < 0x20) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 0xf];
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void jbuf_put_jcstr(jbuf *b, const char *s)
{
    jbuf_put_jstr(b, s, strlen(s));
}

void jbuf_put_ts(jbuf *b, int64_t us)
{
    if (us < 0) {
        jbuf_put_double(b, (double)us / 1e6);
        return;
    }
    /* Between 2^30 and 2^33 seconds a double's spacing is under half a
     * microsecond, so the six-digit fraction without its trailing zeros is
     * exactly Python's shortest repr; elsewhere take the general path. */
    uint64_t secs = (uint64_t)us / 1000000, frac = (uint64_t)us % 1000000;
    if (secs < (UINT64_C(1) << 30) || secs >= (UINT64_C(1) << 33)) {
        jbuf_put_double(b, (double)us / 1e6);
        return;
    }
    char tmp[40];
    size_t n = fmt_u64(tmp, secs);
    tmp[n++] = '.';
    int digits = 6;
    while (digits > 1 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    fmt_fixed(tmp + n, (unsigned)frac, digits);
    n += (size_t)digits;
    jbuf_put(b, tmp, n);
}

void jbuf_put_double(jbuf *b, double v)
{
    if (!isfinite(v)) {
        jbuf_puts(b, "null");
        return;
    }
    /* Fast path: a value with at most six decimals, as the generator makes.
     * r / 10^k is correctly rounded, so it equals v exactly when the k-decimal
     * text reads back as v, and the smallest such k is Python's repr. */
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double av = fabs(v);
    if (av >= 1e-4 && av < 1e9) {
        for (int k = 0; k <= 6; k++) {
            double r = nearbyint(av * p10[k]);
            if (r / p10[k] == av) {
                uint64_t ir = (uint64_t)r, ip = (uint64_t)p10[k];
                char tmp[48];
                size_t n = 0;
                if (v < 0)
                    tmp[n++] = '-';
                n += fmt_u64(tmp + n, ir / ip);
                tmp[n++] = '.';
                if (k == 0) {
                    tmp[n++] = '0';
                } else {
                    fmt_fixed(tmp + n, (unsigned)(ir % ip), k);
                    n += (size_t)k;
                }
                jbuf_put(b, tmp, n);
                return;
            }
        }
    }
    char sci[48];
    int prec;
    for (prec = 1; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
    const char *e = strchr(sci, 'e');
    int exp10 = e != NULL ? atoi(e + 1) : 0;
    char out[64];
    int n;
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = prec - 1 - exp10;
        if (decimals < 0)
            decimals = 0;
        n = snprintf(out, sizeof out, "%.*f", decimals, v);
        if (strchr(out, '.') == NULL)
            n = snprintf(out, sizeof out, "%.1f", v);
    } else {
        /* Python: mantissa digits, then e, sign and at least two digits. */
        char mant[40];
        size_t ml = (size_t)(e - sci);
        memcpy(mant, sci, ml);
        mant[ml] = '\0';
        n = snprintf(out, sizeof out, "%se%c%02d", mant, exp10 < 0 ? '-' : '+',
                     exp10 < 0 ? -exp10 : exp10);
    }
    jbuf_put(b, out, (size_t)n);
}

/* Formats us into out (at least 33 bytes, no NUL); returns the length. Years
 * 1..9999 only, as Python's datetime. */
static size_t iso_fmt(int64_t us, char *out)
{
    int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
    unsigned frac = (unsigned)(us - secs * 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    unsigned sod = (unsigned)(secs - days * 86400);
    /* civil_from_days (Howard Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 1 || y > 9999)
        y = y < 1 ? 1 : 9999;
    fmt_fixed(out, (unsigned)y, 4);
    out[4] = '-';
    fmt_fixed(out + 5, m, 2);
    out[7] = '-';
    fmt_fixed(out + 8, d, 2);
    out[10] = 'T';
    fmt_fixed(out + 11, sod / 3600, 2);
    out[13] = ':';
    fmt_fixed(out + 14, sod / 60 % 60, 2);
    out[16] = ':';
    fmt_fixed(out + 17, sod % 60, 2);
    size_t n = 19;
    if (frac != 0) {
        out[n++] = '.';
        fmt_fixed(out + n, frac, 6);
        n += 6;
    }
    memcpy(out + n, "+00:00", 6);
    return n + 6;
}

void hasim_iso(int64_t us, char *buf, size_t buflen)
{
    char tmp[40];
    size_t n = iso_fmt(us, tmp);
    if (buflen == 0)
        return;
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

void jbuf_put_iso(jbuf *b, int64_t us)
{
    char tmp[40];
    jbuf_put(b, tmp, iso_fmt(us, tmp));
}

char *jbuf_steal(jbuf *b, size_t *len)
{
    if (b->failed) {
        jbuf_fini(b);
        return NULL;
    }
    if (b->data == NULL && !grow(b, 0))
        return NULL;
    char *base = b->data - b->head;
    *len = b->len;
    jbuf_init(b, b->head);
    return base;
}
