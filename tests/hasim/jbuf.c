/* jbuf.c - growable byte buffer that writes JSON text the way Home Assistant does. */
#include "jbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

void jbuf_put_i64(jbuf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    jbuf_put(b, tmp, (size_t)n);
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
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\b': *o++ = '\\'; *o++ = 'b'; break;
        case '\f': *o++ = '\\'; *o++ = 'f'; break;
        default:
            if (c < 0x20) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
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
    double v = (double)us / 1e6;
    char tmp[48];
    int n = 0;
    for (int d = 1; d <= 6; d++) {
        n = snprintf(tmp, sizeof tmp, "%.*f", d, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    jbuf_put(b, tmp, (size_t)n);
}

void jbuf_put_double(jbuf *b, double v)
{
    if (!isfinite(v)) {
        jbuf_puts(b, "null");
        return;
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

void hasim_iso(int64_t us, char *buf, size_t buflen)
{
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int frac = (int)(us - (int64_t)secs * 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (frac == 0)
        snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, frac);
}

void jbuf_put_iso(jbuf *b, int64_t us)
{
    char tmp[48];
    hasim_iso(us, tmp, sizeof tmp);
    jbuf_puts(b, tmp);
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
