/* msgjson.c - a strict, reusable reader of one enriched message's JSON text. */
#include "msgjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_jscan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void msgjson_init(msgjson_doc *d)
{
    memset(d, 0, sizeof *d);
}

void msgjson_fini(msgjson_doc *d)
{
    if (d == NULL)
        return;
    free(d->nodes);
    free(d->str);
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        free(d->memo[i].buf);
    msgjson_init(d);
}

void msgjson_trim(msgjson_doc *d, size_t keep)
{
    size_t bytes = d->cap * sizeof *d->nodes + d->scap;
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        bytes += d->memo[i].cap;
    if (bytes > keep)
        msgjson_fini(d);
}

/* Doubles the node array. Returns 0 or -1 when out of memory. */
static int node_grow(msgjson_doc *d)
{
    size_t cap = d->cap ? d->cap * 2 : 256;
    if (cap > UINT32_MAX)
        return -1;
    msgjson_node *v = realloc(d->nodes, cap * sizeof *v);
    if (v == NULL)
        return -1;
    d->nodes = v;
    d->cap = cap;
    return 0;
}

/* Makes room for at least want nodes. Returns 0 or -1 when out of memory. */
static int node_reserve(msgjson_doc *d, size_t want)
{
    while (d->cap < want)
        if (node_grow(d) < 0)
            return -1;
    return 0;
}

/* Returns the index of a new node of type t, or -1 when out of memory. */
static inline int64_t node_push(msgjson_doc *d, msgjson_type t)
{
    if (d->n == d->cap && node_grow(d) < 0)
        return -1;
    msgjson_node *nd = &d->nodes[d->n];
    nd->type = t;
    nd->count = 0;
    nd->u.i = 0;
    nd->span = 1;
    return (int64_t)d->n++;
}

static int str_reserve(msgjson_doc *d, size_t extra)
{
    if (extra > SIZE_MAX / 2 - d->slen)
        return -1;
    size_t need = d->slen + extra;
    if (need <= d->scap)
        return 0;
    size_t cap = d->scap ? d->scap : 1024;
    while (cap < need)
        cap *= 2;
    char *p = realloc(d->str, cap);
    if (p == NULL)
        return -1;
    d->str = p;
    d->scap = cap;
    return 0;
}

/* ---- reading text ------------------------------------------------------- */

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ALWAYS_INLINE inline
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* The first byte at or after p that is not JSON whitespace, or end. Out of
 * line: the reader calls it only where a byte it looked at is not the one
 * compact text has there. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Four hex digits at p (bounds checked by the caller), or -1. */
static int32_t hex4(const unsigned char *p)
{
    int32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        int x;
        if (c >= '0' && c <= '9')
            x = c - '0';
        else if (c >= 'a' && c <= 'f')
            x = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            x = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + x;
    }
    return v;
}

static size_t put_utf8(char *o, int32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The bytes of w (8 bytes of text as read from memory) that end, escape
 * or break a plain run of a string: a control character, '"', '\\' or a
 * byte >= 0x80 each get their high bit set. (The classic "has a zero byte"
 * test: a borrow can flag a byte beyond a real match, never one before it,
 * so 0 means none and the lowest flagged byte in memory order is the first
 * real one.) */
static uint64_t word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t ctl = (w - ones * 0x20) & ~w & high;
    uint64_t q = w ^ (ones * '"');
    uint64_t bs = w ^ (ones * '\\');
    uint64_t hq = (q - ones) & ~q & high;
    uint64_t hb = (bs - ones) & ~bs & high;
    return ctl | hq | hb | (w & high);
}

/* How many bytes of a word precede its first flagged byte (m != 0 from
 * word_special); 0 where the byte order is not known, which only costs the
 * caller's byte loop a few more steps. */
static size_t plain_prefix(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0;
#endif
}

/* 1 for the bytes a plain run of a string may hold: not a control
 * character, '"', '\\' or a byte >= 0x80 (word_special's rule, per byte). */
static const unsigned char PLAIN[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 and above: 0 */
};

/* Reads the rest of a string from p (inside it, past its opening quote) up
 * to and past its closing quote, decoding into o: escapes and surrogate
 * pairs decoded, UTF-8 checked. The decoded bytes written never pass the
 * text bytes read (every string's NUL stands for its closing quote, and its
 * opening quote is never copied; no escape decodes longer than itself), so
 * plain runs may be stored in whole 16- or 8-byte blocks while as many text
 * bytes remain. Returns the byte after the closing quote with *oend at the
 * end of the decoded bytes (no NUL written), or NULL when the string is
 * invalid. */
static const unsigned char *string_rest(const unsigned char *p, const unsigned char *end,
                                        char *o, char **oend)
{
    for (;;) {
#if defined(__SSE2__)
        /* A signed comparison with 0x20 flags the bytes below it and those
         * from 0x80 up (negative) at once. */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                      space = _mm_set1_epi8(0x20);
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)o, x);
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                _mm_cmplt_epi8(x, space));
            unsigned m = (unsigned)_mm_movemask_epi8(hit);
            if (m != 0) {
                size_t k = (size_t)__builtin_ctz(m);
                o += k;
                p += k;
                goto special;
            }
            o += 16;
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            memcpy(o, &w, 8);
            uint64_t m = word_special(w);
            if (m != 0) {
                size_t k = plain_prefix(m);
                o += k;
                p += k;
                break;
            }
            o += 8;
            p += 8;
        }
        while (p < end && PLAIN[*p])
            *o++ = (char)*p++;
#if defined(__SSE2__)
    special:
#endif
        if (p >= end)
            return NULL;
        unsigned char c = *p;
        if (c == '"') {
            *oend = o;
            return p + 1;
        }
        if (c < 0x20)
            return NULL; /* a raw control character */
        if (c >= 0x80) {
            size_t len = hs_jscan_utf8_len((const char *)p, (size_t)(end - p), 0);
            if (len == 0)
                return NULL;
            memcpy(o, p, len);
            o += len;
            p += len;
            continue;
        }
        /* a backslash escape */
        if (end - p < 2)
            return NULL;
        c = p[1];
        p += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)c;
            continue;
        case 'b':
            *o++ = '\b';
            continue;
        case 'f':
            *o++ = '\f';
            continue;
        case 'n':
            *o++ = '\n';
            continue;
        case 'r':
            *o++ = '\r';
            continue;
        case 't':
            *o++ = '\t';
            continue;
        case 'u':
            break;
        default:
            return NULL;
        }
        if (end - p < 4)
            return NULL;
        int32_t cp = hex4(p);
        p += 4;
        if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return NULL; /* \u0000 (refused by jansson) or a lone low surrogate */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return NULL;
            int32_t lo = hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return NULL;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        o += put_utf8(o, cp);
    }
}

/* string_rest with the common case inline: a string whose closing quote
 * comes before any other byte string_rest would stop at. */
static ALWAYS_INLINE const unsigned char *
string_read(const unsigned char *p, const unsigned char *end, char *o, char **oend)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (LIKELY(end - p >= 16)) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        _mm_storeu_si128((__m128i *)(void *)o, x);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
            _mm_cmplt_epi8(x, space));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m != 0) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (LIKELY(p[k] == '"')) {
                *oend = o + k;
                return p + k + 1;
            }
            return string_rest(p + k, end, o + k, oend);
        }
        p += 16;
        o += 16;
    }
#endif
    return string_rest(p, end, o, oend);
}

/* A hash of a key of len bytes at s (s[0] readable even when len is 0, as
 * a NUL-terminated key's is) from its length and its first and last bytes:
 * equal keys hash alike, and that is all that parse_text needs of it. */
static ALWAYS_INLINE uint32_t key_hash(const char *s, size_t len)
{
    uint32_t x = (uint32_t)len ^ (uint32_t)(unsigned char)s[0] << 8 ^
                 (uint32_t)(unsigned char)s[len - (len > 0)] << 16;
    return x * 0x9E3779B1u;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

#if FLT_EVAL_METHOD == 0
static const double P10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#endif

#if FLT_EVAL_METHOD == 0 && defined(__SIZEOF_INT128__)
/* strtod's value of u / 10^k (0 < u < 2^64, 1 <= k <= 19) when it can be
 * told cheaply: the double nearest u / 10^k, found as a candidate d by two
 * roundings ((double)u, then the division by the exact 10^k), is d when
 * u / 10^k lies strictly between the midpoints around d, which exact
 * 128-bit products decide (u * 2^(s+1) against (2M -+ 1) * 10^k, d being
 * M / 2^s). Returns false, *out untouched, when they do not (d is a
 * neighbour of the right double, or the value is a tie or beyond the
 * products' range): strtod decides then. */
static bool decimal_nearest(uint64_t u, size_t k, double *out)
{
    static const uint64_t P10U[] = {1,
                                    10,
                                    100,
                                    1000,
                                    10000,
                                    100000,
                                    1000000,
                                    10000000,
                                    100000000,
                                    1000000000,
                                    10000000000ULL,
                                    100000000000ULL,
                                    1000000000000ULL,
                                    10000000000000ULL,
                                    100000000000000ULL,
                                    1000000000000000ULL,
                                    10000000000000000ULL,
                                    100000000000000000ULL,
                                    1000000000000000000ULL,
                                    10000000000000000000ULL};
    double d = (double)u / P10[k];
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int field = (int)(bits >> 52 & 0x7FF);
    uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | UINT64_C(1) << 52;
    int s = 1075 - field; /* d = m / 2^s */
    if (field == 0 || m == UINT64_C(1) << 52 || s <= 0 ||
        64 - __builtin_clzll(u) + s + 1 > 127)
        return false;
    unsigned __int128 x = (unsigned __int128)u << (s + 1);
    unsigned __int128 lo = (unsigned __int128)(2 * m - 1) * P10U[k];
    unsigned __int128 hi = (unsigned __int128)(2 * m + 1) * P10U[k];
    if (x <= lo || x >= hi)
        return false;
    *out = d;
    return true;
}
#endif

/* The rest of a real whose sign and integer digits (idigits of them, value
 * u, or garbage beyond 19 digits) end at p, the whole starting at s: by
 * RFC 8259's grammar, its value as strtod reads it into *nd (a real that
 * overflows is declined, as jansson does). Returns the byte after it or
 * NULL; *oom when out of memory. */
static const unsigned char *real_read(const unsigned char *s, const unsigned char *p,
                                      const unsigned char *end, bool neg, uint64_t u,
                                      size_t idigits, msgjson_node *nd, bool *oom)
{
    size_t fdigits = 0;
    bool exponent = false;
    if (*p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        do {
            u = u * 10 + (uint64_t)(*p - '0');
            fdigits++;
            p++;
        } while (p < end && is_digit(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        exponent = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    nd->type = MSGJSON_REAL;
#if FLT_EVAL_METHOD == 0
    /* Up to 15 digits are an exact double, and so is 10^fdigits (at most
     * 1e15): one correctly rounded division gives strtod's value (the fast
     * path of hs_jscan_exact_decimal, by the same operations). */
    if (!exponent && idigits + fdigits <= 15) {
        double v = (double)u / P10[fdigits];
        nd->u.d = neg ? -v : v;
        return p;
    }
#if defined(__SIZEOF_INT128__)
    /* Up to 19 digits (the 17 of a double printed with "%.17g"). */
    double near;
    if (!exponent && idigits + fdigits <= 19 && fdigits > 0 && u != 0 &&
        decimal_nearest(u, fdigits, &near)) {
        nd->u.d = neg ? -near : near;
        return p;
    }
#endif
#else
    (void)u;
    (void)idigits;
    (void)exponent;
#endif
    if (hs_jscan_exact_decimal((const char *)s, (size_t)(p - s), &nd->u.d))
        return p;
    char tmp[64];
    char *heap = NULL, *txt = tmp;
    size_t len = (size_t)(p - s);
    if (len >= sizeof tmp) {
        heap = malloc(len + 1);
        if (heap == NULL) {
            *oom = true;
            return NULL;
        }
        txt = heap;
    }
    memcpy(txt, s, len);
    txt[len] = '\0';
    double v = strtod(txt, NULL);
    free(heap);
    if (isinf(v))
        return NULL;
    nd->u.d = v;
    return p;
}

/* Reads the number at p (p < end) by RFC 8259's grammar into *nd, typed as
 * jansson types it (no '.', 'e' or 'E': an integer). An integer out of
 * int64_t's range and a real that overflows are declined (jansson refuses
 * both). Returns the byte after it or NULL; *oom when out of memory. */
static ALWAYS_INLINE const unsigned char *
number_read(const unsigned char *p, const unsigned char *end, msgjson_node *nd, bool *oom)
{
    const unsigned char *s = p;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return NULL;
    const unsigned char *d0 = p;
    uint64_t u = 0;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return NULL;
    } else {
        do {
            u = u * 10 + (uint64_t)(*p - '0');
            p++;
        } while (p < end && is_digit(*p));
    }
    size_t idigits = (size_t)(p - d0);
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
        return real_read(s, p, end, neg, u, idigits, nd, oom);
    /* Up to 19 digits fit a uint64_t (below 10^19 < 2^64); more are beyond
     * int64_t, which has 19 digits and no leading zeros here. */
    if (idigits > 19 || u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return NULL;
    nd->type = MSGJSON_INTEGER;
    nd->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
    return p;
}

/* Reads the scalar at p (p < end: a string, a number, true, false or null)
 * into *nd, a string's decoded bytes and their NUL at *o, which it moves
 * past them. Returns the byte after the scalar, or NULL when it is invalid
 * (*oom when out of memory). */
static ALWAYS_INLINE const unsigned char *scalar_read(const unsigned char *p,
                                                      const unsigned char *end,
                                                      msgjson_node *nd, char **o,
                                                      bool *oom)
{
    nd->span = 1;
    nd->count = 0;
    switch (*p) {
    case '"': {
        char *oe;
        const unsigned char *q = string_read(p + 1, end, *o, &oe);
        if (q == NULL)
            return NULL;
        *oe = '\0';
        nd->type = MSGJSON_STRING;
        nd->count = (uint32_t)(oe - *o); /* below UINT32_MAX, as the text */
        nd->u.s = *o;
        *o = oe + 1;
        return q;
    }
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            return NULL;
        nd->type = MSGJSON_TRUE;
        nd->u.i = 0;
        return p + 4;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            return NULL;
        nd->type = MSGJSON_FALSE;
        nd->u.i = 0;
        return p + 5;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            return NULL;
        nd->type = MSGJSON_NULL;
        nd->u.i = 0;
        return p + 4;
    default:
        return number_read(p, end, nd, oom);
    }
}

/* scalar_read out of line, for the members a filter skips: *nd becomes
 * the MSGJSON_SKIPPED node and a string's bytes are dropped. */
static const unsigned char *scalar_skip(const unsigned char *p, const unsigned char *end,
                                        msgjson_node *nd, char **o, bool *oom)
{
    char *start = *o;
    p = scalar_read(p, end, nd, o, oom);
    *o = start;
    nd->type = MSGJSON_SKIPPED;
    nd->count = 0;
    nd->u.i = 0;
    return p;
}

/* The entry of f for the key s (n bytes), or NULL. */
static const msgjson_filter *filter_find(const msgjson_filter *f, const char *s, size_t n)
{
    for (; f->key != NULL; f++)
        if (f->len == n && msgjson_bytes_equal(f->key, s, n))
            return f;
    return NULL;
}

/* A bit per key of f, bit key_hash >> 26, so that most keys of a filtered
 * object need no look-up at all. */
static uint64_t filter_bits(const msgjson_filter *f)
{
    uint64_t m = 0;
    for (; f->key != NULL; f++)
        m |= UINT64_C(1) << (key_hash(f->key, f->len) >> 26);
    return m;
}

/* True when a key of the object node obj, before the key node kn, is the
 * same bytes as it. */
static bool key_seen(const msgjson_node *obj, const msgjson_node *kn)
{
    for (const msgjson_node *k = obj + 1; k < kn; k += 1 + k[1].span)
        if (k->count == kn->count && msgjson_bytes_equal(k->u.s, kn->u.s, kn->count))
            return true;
    return false;
}

/* One open object or array while a text is read. The one being read keeps
 * count, object and fbits in parse_text's locals; they are saved here while
 * a container nested in it is read. */
typedef struct {
    msgjson_node *node; /* its node */
    uint32_t count;     /* members read so far */
    bool object;
    const msgjson_filter *f; /* an object's filter, or NULL */
    uint64_t fbits;          /* filter_bits(f), 0 without one */
    uint64_t seen[4];        /* an object's keys so far: bit key_hash >> 24 */
} frame;

/* The most nodes a text of n bytes may make parse_text push, valid or not:
 * a node starts at a byte of its own, and only an opening bracket can be
 * followed at once by the start of another node; every other node, and
 * every container that is closed, takes a byte more (a separator, a
 * closing bracket), and at most MSGJSON_MAX_DEPTH + 1 containers are open
 * at once. */
static size_t node_bound(size_t n)
{
    return n / 2 + MSGJSON_MAX_DEPTH + 4;
}

/* Nodes (96 KB) reserved for a text without counting (node_count_bound). */
#define NODE_ROOM_UNCOUNTED 4096

/* A bound that is tight for real texts, for when node_bound asks for more
 * room than d has and than NODE_ROOM_UNCOUNTED: one node for the root and
 * one after each '{', '[', ',' and ':' of text[0..n) (every other node
 * parse_text pushes starts right after one of those, whitespace aside;
 * those in strings only make the bound looser). Counts 16 bytes at a time
 * where SSE2 is there. */
static size_t node_count_bound(const char *text, size_t n)
{
    size_t count = 2, i = 0;
#if defined(__SSE2__)
    /* Each byte lane counts its hits (a hit is -1) for up to 255 blocks,
     * then the lanes are summed. */
    const __m128i lb = _mm_set1_epi8('{'), ls = _mm_set1_epi8('['),
                  comma = _mm_set1_epi8(','), colon = _mm_set1_epi8(':'),
                  zero = _mm_setzero_si128();
    while (n - i >= 16) {
        __m128i lanes = zero;
        for (int k = 0; k < 255 && n - i >= 16; k++, i += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, lb), _mm_cmpeq_epi8(x, ls)),
                _mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, colon)));
            lanes = _mm_sub_epi8(lanes, hit);
        }
        __m128i sums = _mm_sad_epu8(lanes, zero);
        count += (size_t)_mm_cvtsi128_si32(sums) +
                 (size_t)_mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < n; i++)
        count += text[i] == '{' || text[i] == '[' || text[i] == ',' || text[i] == ':';
    return count;
}

/* ---- memoized members --------------------------------------------------- */

/* The memo of d holding the value of filter entry e, or NULL. */
static msgjson_memo *memo_find(msgjson_doc *d, const msgjson_filter *e)
{
    for (size_t i = 0; i < MSGJSON_MEMO_SLOTS; i++)
        if (d->memo[i].entry == e)
            return &d->memo[i];
    return NULL;
}

/* A memo's text, which follows its nodes and strings in its buffer. */
static const char *memo_text(const msgjson_memo *m)
{
    return m->buf + m->nn * sizeof(msgjson_node) + m->slen;
}

/* The object of a memoized member while parse_text reads it: the member's
 * filter entry (NULL when there is none), the containers open around the
 * object and where its text starts (its '{'). */
typedef struct {
    const msgjson_filter *entry;
    size_t depth;
    const unsigned char *text;
} memo_pending;

/* Remembers the object value of the memoized member that the reader has
 * just accepted: pend's, its text ending at end (past its '}'), its nn
 * nodes at nodes and its strings str[0..slen) (which the string nodes
 * point into). A value beyond the memo's bounds is not remembered, and
 * neither is one when out of memory: the slot is emptied then, which only
 * costs the next text a reading. */
static void memo_store(msgjson_doc *d, const memo_pending *pend, const unsigned char *end,
                       const msgjson_node *nodes, size_t nn, const char *str, size_t slen)
{
    const msgjson_filter *e = pend->entry;
    const unsigned char *text = pend->text;
    size_t tlen = (size_t)(end - text);
    if (tlen > MSGJSON_MEMO_MAX_TEXT || nn > MSGJSON_MEMO_MAX_NODES)
        return;
    msgjson_memo *m = memo_find(d, e);
    if (m == NULL) {
        /* An empty slot (entry NULL, used 0) or the one used least recently. */
        m = &d->memo[0];
        for (size_t i = 1; i < MSGJSON_MEMO_SLOTS; i++)
            if (d->memo[i].used < m->used)
                m = &d->memo[i];
    }
    size_t need = nn * sizeof *nodes + slen + tlen;
    if (need > m->cap) {
        char *buf = realloc(m->buf, need);
        if (buf == NULL) {
            free(m->buf);
            memset(m, 0, sizeof *m);
            return;
        }
        m->buf = buf;
        m->cap = need;
    }
    msgjson_node *mn = (msgjson_node *)(void *)m->buf;
    memcpy(mn, nodes, nn * sizeof *nodes);
    for (size_t i = 0; i < nn; i++)
        if (mn[i].type == MSGJSON_STRING)
            mn[i].u.off = (size_t)(nodes[i].u.s - str);
    memcpy(m->buf + nn * sizeof *nodes, str, slen);
    memcpy(m->buf + nn * sizeof *nodes + slen, text, tlen);
    m->entry = e;
    m->depth = pend->depth;
    m->tlen = tlen;
    m->nn = nn;
    m->slen = slen;
    m->used = ++d->memo_clock;
}

/* When the memo of d for the memoized member e holds the text at p (its
 * '{'; end bounds the text) read with depth containers open around it,
 * copies the memo's nodes to nt and its strings to o, the string nodes
 * pointing into o: what reading that text there would build. Returns the
 * memo then; else NULL, *pend set for the object to be read and
 * remembered. Out of line, and pend in memory, to keep parse_text's loop
 * lean. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static const msgjson_memo *
memo_hit(msgjson_doc *d, const msgjson_filter *e, size_t depth, const unsigned char *p,
         const unsigned char *end, msgjson_node *nt, char *o, memo_pending *pend)
{
    msgjson_memo *m = memo_find(d, e);
    if (m == NULL || m->depth != depth || (size_t)(end - p) < m->tlen ||
        memcmp(p, memo_text(m), m->tlen) != 0) {
        pend->entry = e;
        pend->depth = depth;
        pend->text = p;
        return NULL;
    }
    const msgjson_node *mn = (const msgjson_node *)(const void *)m->buf;
    memcpy(nt, mn, m->nn * sizeof *nt);
    for (size_t i = 0; i < m->nn; i++)
        if (nt[i].type == MSGJSON_STRING)
            nt[i].u.s = o + mn[i].u.off;
    memcpy(o, m->buf + m->nn * sizeof *nt, m->slen);
    m->used = ++d->memo_clock;
    return m;
}

/* Reads text[0..end) into d, whose nodes hold the lesser of node_bound and
 * node_count_bound of the text, and strings end - text + 1 bytes: one loop
 * over the text with an explicit stack of open containers instead of a
 * call per value. Members of an object whose key its filter lists are
 * skipped or filtered in turn (see msgjson_filter); a repeated key in one
 * object is declined: a key whose hash bit is already set among its
 * object's keys is compared with each of them. The object value of a
 * memoized member is copied from d's memo when its text is the memo's, and
 * remembered when it closes otherwise. Returns 0, -1 to decline or -2 when
 * out of memory. */
static int parse_text(msgjson_doc *d, const unsigned char *p, const unsigned char *end,
                      const msgjson_filter *filter)
{
    frame stack[MSGJSON_MAX_DEPTH + 1];
    frame *fr = stack;
    msgjson_node *nt = d->nodes; /* the next node */
    char *o = d->str;
    bool oom = false;
    const msgjson_filter *f = filter;
    msgjson_node *nd;
    /* The container being read (fr's). */
    uint32_t count = 0;
    bool object = false;
    uint64_t fbits = 0;
    /* The object or array a filter skips, or the object of a memoized
     * member (pend's then), while it is read (never both at once: neither
     * holds a filter), and where its strings start. */
    msgjson_node *held = NULL;
    char *held_str = NULL;
    memo_pending pend = {NULL, 0, NULL};

/* Saves the container being read and makes nd current. */
#define OPEN(t)                                                                          \
    do {                                                                                 \
        if (fr == &stack[MSGJSON_MAX_DEPTH])                                             \
            return -1;                                                                   \
        nd->type = (t);                                                                  \
        nd->u.i = 0;                                                                     \
        fr->count = count;                                                               \
        fr->object = object;                                                             \
        fr->fbits = fbits;                                                               \
        fr++;                                                                            \
        fr->node = nd;                                                                   \
        count = 0;                                                                       \
        object = (t) == MSGJSON_OBJECT;                                                  \
    } while (0)

    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    nd = nt++;
    goto open_object;

value: /* p at a value or whitespace before it */
    if (UNLIKELY(p >= end || *p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end)
            return -1;
    }
    nd = nt++;
    if (LIKELY(*p == '"')) {
        char *oe;
        const unsigned char *q = string_read(p + 1, end, o, &oe);
        if (q == NULL)
            return -1;
        *oe = '\0';
        nd->type = MSGJSON_STRING;
        nd->span = 1;
        nd->count = (uint32_t)(oe - o); /* below UINT32_MAX, as the text */
        nd->u.s = o;
        o = oe + 1;
        p = q;
        goto next;
    }
    if (*p == '{') {
        f = NULL;
        goto open_object;
    }
    if (*p == '[') {
        OPEN(MSGJSON_ARRAY);
        p++;
        if (p < end && *p <= ' ')
            p = skip_ws(p, end);
        if (p < end && *p == ']') {
            p++;
            goto close;
        }
        goto value;
    }
    p = scalar_read(p, end, nd, &o, &oom);
    if (UNLIKELY(p == NULL))
        return oom ? -2 : -1;
    goto next;

open_object: /* nd is the object's node, p at its '{', f its filter */
    OPEN(MSGJSON_OBJECT);
    fr->f = f;
    fbits = f != NULL ? filter_bits(f) : 0;
    memset(fr->seen, 0, sizeof fr->seen);
    p++;
    if (p < end && *p == '}') {
        p++;
        goto close;
    }
    /* the first key follows */

key: /* p at a key or whitespace before it */
    if (UNLIKELY(p >= end || *p != '"')) {
        p = skip_ws(p, end);
        if (p < end && *p == '}' && count == 0) {
            p++;
            goto close;
        }
        if (p >= end || *p != '"')
            return -1;
    }
    nd = nt++;
    {
        char *oe;
        const unsigned char *q = string_read(p + 1, end, o, &oe);
        if (q == NULL)
            return -1;
        size_t len = (size_t)(oe - o); /* below UINT32_MAX, as the text */
        *oe = '\0';
        nd->type = MSGJSON_STRING;
        nd->span = 1;
        nd->count = (uint32_t)len;
        nd->u.s = o;
        uint32_t h = key_hash(o, len);
        o = oe + 1;
        unsigned b = h >> 24;
        uint64_t bit = UINT64_C(1) << (b & 63);
        if (UNLIKELY(fr->seen[b >> 6] & bit) && key_seen(fr->node, nd))
            return -1; /* a repeated key: left to jansson */
        fr->seen[b >> 6] |= bit;
        p = q;
        if (UNLIKELY(p >= end || *p != ':')) {
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return -1;
        }
        p++;
        if (LIKELY((fbits & UINT64_C(1) << (h >> 26)) == 0))
            goto value;
        const msgjson_filter *e = filter_find(fr->f, nd->u.s, len);
        if (e == NULL)
            goto value;
        if (p < end && *p <= ' ')
            p = skip_ws(p, end);
        if (p >= end)
            return -1;
        if (e->memo) {
            if (*p != '{')
                goto value;
            const msgjson_memo *m =
                memo_hit(d, e, (size_t)(fr - stack), p, end, nt, o, &pend);
            if (m != NULL) {
                nt += m->nn;
                o += m->slen;
                p += m->tlen;
                goto next;
            }
            /* Read as usual; remembered when it closes. */
            held = nt;
            held_str = o;
            goto value;
        }
        if (e->sub != NULL) {
            if (*p != '{')
                goto value;
            nd = nt++;
            f = e->sub;
            goto open_object;
        }
        if (*p == '{' || *p == '[') {
            /* Read as usual; when it closes, its nodes and strings are
             * dropped and its node becomes the MSGJSON_SKIPPED one. */
            held = nt;
            held_str = o;
            goto value;
        }
        nd = nt++;
        p = scalar_skip(p, end, nd, &o, &oom);
        if (p == NULL)
            return oom ? -2 : -1;
    }

next: /* after a member of the container being read */
    count++;
    if (UNLIKELY(p >= end || *p <= ' ')) {
        p = skip_ws(p, end);
        if (p >= end)
            return -1;
    }
    if (*p == ',') {
        p++;
        if (object)
            goto key;
        goto value;
    }
    if (*p != (object ? '}' : ']'))
        return -1;
    p++;

close: /* the container being read is complete */
    nd = fr->node;
    if (UNLIKELY(nd == held)) {
        if (pend.entry == NULL) {
            nd->type = MSGJSON_SKIPPED;
            count = 0;
            nt = nd + 1;
            o = held_str;
        } else {
            nd->count = count;
            nd->span = (uint32_t)(nt - nd);
            memo_store(d, &pend, p, nd, (size_t)(nt - nd), held_str,
                       (size_t)(o - held_str));
            pend.entry = NULL;
        }
        held = NULL;
    }
    nd->count = count;
    nd->span = (uint32_t)(nt - nd);
    if (--fr > stack) {
        count = fr->count;
        object = fr->object;
        fbits = fr->fbits;
        goto next;
    }
    if (p != end && skip_ws(p, end) != end)
        return -1;
    d->n = (size_t)(nt - d->nodes);
    d->slen = (size_t)(o - d->str);
    return 0;
#undef OPEN
}

int msgjson_parse(msgjson_doc *d, const char *text, size_t n)
{
    return msgjson_parse_filtered(d, text, n, NULL);
}

int msgjson_parse_filtered(msgjson_doc *d, const char *text, size_t n,
                           const msgjson_filter *filter)
{
    d->n = 0;
    d->slen = 0;
    d->scratch = NULL;
    if (n >= UINT32_MAX)
        return -1;
    /* Decoded strings and their NULs never take more bytes than the text. */
    /* Room for node_bound's nodes is taken at once while it is small;
     * beyond, the text's structure is counted. */
    size_t nodes = node_bound(n);
    if (nodes > d->cap && nodes > NODE_ROOM_UNCOUNTED) {
        size_t tight = node_count_bound(text, n);
        if (tight < nodes)
            nodes = tight;
    }
    if (str_reserve(d, n + 1) < 0 || node_reserve(d, nodes) < 0)
        return -2;
    const unsigned char *p = (const unsigned char *)text;
    int rc = parse_text(d, p, p + n, filter);
    if (rc < 0) {
        d->n = 0;
        d->slen = 0;
    }
    return rc;
}

/* ---- skeletons ---------------------------------------------------------- */

/* How a scalar of a skeleton is read again when its bytes change: built
 * into its node, skipped by the filter (its node stays MSGJSON_SKIPPED), or
 * inside a skipped container (it has no node: only checked). */
enum { SLOT_BUILD, SLOT_SKIP, SLOT_CHECK };

#define SLOT_KIND_SHIFT 30
#define SLOT_NODE_MASK ((UINT32_C(1) << SLOT_KIND_SHIFT) - 1)

/* One scalar value of a skeleton's text. */
typedef struct {
    uint32_t s, e; /* its bytes: text[s..e) */
    uint32_t node; /* its node's index; its kind in the top two bits */
} skel_slot;

/* A skeleton (see msgjson.h). Its buffer holds its scratch bytes (zeroed
 * when it is made), its nodes, whose strings point into the buffer's
 * strings, then its slots, strings and text. */
typedef struct {
    uint64_t key; /* the key's hash, never 0; 0 for an empty way */
    uint64_t used;
    const msgjson_filter *filter;
    uint32_t changed; /* texts of the key in a row that did not fit */
    uint32_t tlen, nn, ns;
    size_t bytes;
    char *buf;
} skel;

struct msgjson_skels {
    skel *way; /* MSGJSON_SKEL_SETS * MSGJSON_SKEL_WAYS, or NULL */
    size_t bytes;
    uint64_t clock;
    uint64_t hits, misses, made;
};

static const msgjson_node *skel_nodes(const skel *k)
{
    return (const msgjson_node *)(const void *)(k->buf + MSGJSON_SKEL_SCRATCH);
}

static const skel_slot *skel_slots(const skel *k)
{
    return (const skel_slot *)(const void *)(k->buf + MSGJSON_SKEL_SCRATCH +
                                             k->nn * sizeof(msgjson_node));
}

static const char *skel_text(const skel *k)
{
    return k->buf + k->bytes - k->tlen;
}

msgjson_skels *msgjson_skels_new(void)
{
    return calloc(1, sizeof(msgjson_skels));
}

static void skel_drop(msgjson_skels *c, skel *k)
{
    c->bytes -= k->bytes;
    free(k->buf);
    memset(k, 0, sizeof *k);
}

void msgjson_skels_clear(msgjson_skels *c)
{
    if (c == NULL || c->way == NULL)
        return;
    for (size_t i = 0; i < (size_t)MSGJSON_SKEL_SETS * MSGJSON_SKEL_WAYS; i++)
        free(c->way[i].buf);
    free(c->way); /* an idle writer holds none of it */
    c->way = NULL;
    c->bytes = 0;
}

void msgjson_skels_free(msgjson_skels *c)
{
    msgjson_skels_clear(c);
    free(c);
}

void msgjson_skels_counts(const msgjson_skels *c, uint64_t *hits, uint64_t *misses,
                          uint64_t *made, size_t *bytes)
{
    *hits = c->hits;
    *misses = c->misses;
    *made = c->made;
    *bytes = c->bytes;
}

/* The skeleton of key hash h, or NULL. */
static skel *skel_find(msgjson_skels *c, uint64_t h)
{
    if (c->way == NULL)
        return NULL;
    skel *set = &c->way[(h >> 20) % MSGJSON_SKEL_SETS * MSGJSON_SKEL_WAYS];
    for (int i = 0; i < MSGJSON_SKEL_WAYS; i++)
        if (set[i].key == h)
            return &set[i];
    return NULL;
}

/* How many bytes a[0..n) and b[0..n) have in common from the start. */
static size_t same_prefix(const unsigned char *a, const unsigned char *b, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* 32 bytes a step, one test for both halves. */
    for (; n - i >= 32; i += 32) {
        __m128i e0 =
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(a + i)),
                           _mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m128i e1 =
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 16)),
                           _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16)));
        if (_mm_movemask_epi8(_mm_and_si128(e0, e1)) != 0xFFFF) {
            unsigned m = (unsigned)_mm_movemask_epi8(e0) ^ 0xFFFFu;
            if (m != 0)
                return i + (unsigned)__builtin_ctz(m);
            return i + 16 + (unsigned)__builtin_ctz((unsigned)_mm_movemask_epi8(e1) ^ 0xFFFFu);
        }
    }
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) ^ 0xFFFFu;
        if (m != 0)
            return i + (unsigned)__builtin_ctz(m);
    }
#endif
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Reads text[0..n) into d (room reserved by the caller) from skeleton k:
 * its nodes, with each scalar whose bytes differ read again. Returns 0;
 * 1 when the text is not made of k's structure (d unusable then); -2 when
 * out of memory. */
static int skel_read(msgjson_doc *d, const skel *k, const unsigned char *t, size_t n)
{
    const unsigned char *pt = (const unsigned char *)skel_text(k);
    const skel_slot *slot = skel_slots(k);
    msgjson_node *nodes = d->nodes;
    memcpy(nodes, skel_nodes(k), k->nn * sizeof *nodes);
    char *o = d->str;
    const unsigned char *end = t + n;
    size_t pp = 0, tp = 0, i = 0;
    bool oom = false;
    for (;;) {
        size_t left = k->tlen - pp < n - tp ? k->tlen - pp : n - tp;
        size_t same = same_prefix(pt + pp, t + tp, left);
        pp += same;
        tp += same;
        if (pp == k->tlen && tp == n)
            break;
        /* The first difference must lie in a scalar: read it again. */
        while (i < k->ns && slot[i].e < pp)
            i++;
        if (i == k->ns || slot[i].s > pp)
            return 1;
        const unsigned char *v = t + tp - (pp - slot[i].s);
        if (v == end || *v == '{' || *v == '[')
            return 1; /* cut short, or a container where a scalar was */
        uint32_t at = slot[i].node & SLOT_NODE_MASK;
        const unsigned char *q;
        switch (slot[i].node >> SLOT_KIND_SHIFT) {
        case SLOT_BUILD:
            q = scalar_read(v, end, &nodes[at], &o, &oom);
            break;
        case SLOT_SKIP:
            q = scalar_skip(v, end, &nodes[at], &o, &oom);
            break;
        default: {
            msgjson_node scratch;
            q = scalar_skip(v, end, &scratch, &o, &oom);
            break;
        }
        }
        if (q == NULL)
            return oom ? -2 : 1;
        pp = slot[i].e;
        tp = (size_t)(q - t);
        i++;
    }
    d->n = k->nn;
    d->slen = (size_t)(o - d->str);
    return 0;
}

/* Where a string that starts at t[i] (its '"') ends: the byte after its
 * closing quote. t is a text the reader accepted. */
static size_t string_end(const unsigned char *t, size_t i)
{
    for (i++;; i++) {
        if (t[i] == '\\')
            i++;
        else if (t[i] == '"')
            return i + 1;
    }
}

/* Finds the scalars of t[0..n), which d's nodes were just read from (with
 * msgjson_parse_filtered), as slots: at most max of them. Returns how many,
 * or SIZE_MAX when there are more or the nodes do not follow the text as
 * they must (then no skeleton is made of it). */
static size_t skel_slots_find(const msgjson_doc *d, const unsigned char *t, size_t n,
                              skel_slot *slot, size_t max)
{
    bool object[MSGJSON_MAX_DEPTH + 2]; /* the open containers' kinds */
    size_t depth = 0, skipped = 0;      /* skipped: open containers without nodes */
    size_t ns = 0, node = 0;
    bool expect_key = false;
    for (size_t i = 0; i < n;) {
        unsigned char ch = t[i];
        switch (ch) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ':':
            i++;
            continue;
        case ',':
            expect_key = depth > 0 && object[depth - 1];
            i++;
            continue;
        case '{':
        case '[':
            if (depth > MSGJSON_MAX_DEPTH)
                return SIZE_MAX;
            if (skipped > 0) {
                skipped++;
            } else {
                if (node >= d->n)
                    return SIZE_MAX;
                if (d->nodes[node].type == MSGJSON_SKIPPED)
                    skipped = 1;
                else if (d->nodes[node].type !=
                         (ch == '{' ? MSGJSON_OBJECT : MSGJSON_ARRAY))
                    return SIZE_MAX;
                node++;
            }
            object[depth++] = ch == '{';
            expect_key = ch == '{';
            i++;
            continue;
        case '}':
        case ']':
            if (depth == 0)
                return SIZE_MAX;
            depth--;
            if (skipped > 0)
                skipped--;
            expect_key = false;
            i++;
            continue;
        default:
            break;
        }
        size_t e;
        if (ch == '"') {
            e = string_end(t, i);
        } else {
            e = i;
            while (e < n && t[e] != ',' && t[e] != '}' && t[e] != ']' && t[e] != ' ' &&
                   t[e] != '\t' && t[e] != '\n' && t[e] != '\r')
                e++;
        }
        if (expect_key) {
            /* A key: structure, with a node unless in a skipped container. */
            if (skipped == 0 && (node >= d->n || d->nodes[node++].type != MSGJSON_STRING))
                return SIZE_MAX;
            expect_key = false;
        } else {
            uint32_t kind = SLOT_CHECK, at = 0;
            if (skipped == 0) {
                if (node >= d->n)
                    return SIZE_MAX;
                msgjson_type ty = d->nodes[node].type;
                if (ty == MSGJSON_OBJECT || ty == MSGJSON_ARRAY)
                    return SIZE_MAX;
                kind = ty == MSGJSON_SKIPPED ? SLOT_SKIP : SLOT_BUILD;
                at = (uint32_t)node++;
            }
            if (ns == max)
                return SIZE_MAX;
            slot[ns].s = (uint32_t)i;
            slot[ns].e = (uint32_t)e;
            slot[ns].node = at | kind << SLOT_KIND_SHIFT;
            ns++;
        }
        i = e;
    }
    return node == d->n && depth == 0 ? ns : SIZE_MAX;
}

/* Makes (or remakes) the skeleton of key hash h from t[0..n), which d was
 * just read from with filter: into k when k is not NULL (h's), else into
 * the set's empty or least recently used way. Nothing is made beyond the
 * bounds, or when out of memory. */
static void skel_make(msgjson_skels *c, skel *k, uint64_t h, const msgjson_doc *d,
                      const msgjson_filter *filter, const unsigned char *t, size_t n)
{
    if (n > MSGJSON_SKEL_MAX_TEXT || d->n > MSGJSON_SKEL_MAX_NODES)
        return;
    if (c->way == NULL) {
        c->way = calloc((size_t)MSGJSON_SKEL_SETS * MSGJSON_SKEL_WAYS, sizeof *c->way);
        if (c->way == NULL)
            return;
    }
    uint32_t changed = 0;
    if (k == NULL) {
        skel *set = &c->way[(h >> 20) % MSGJSON_SKEL_SETS * MSGJSON_SKEL_WAYS];
        k = &set[0];
        for (int i = 1; i < MSGJSON_SKEL_WAYS && k->key != 0; i++)
            if (set[i].key == 0 || set[i].used < k->used)
                k = &set[i];
    } else {
        changed = k->changed;
    }
    /* Whether it fits is known before its slots are looked for, and what k
     * holds is dropped only for a skeleton that is made: with the cache at
     * its bound, a text of a new key costs no walk and takes no other key's
     * skeleton. */
    size_t room = MSGJSON_SKEL_MAX_BYTES - (c->bytes - (k->key != 0 ? k->bytes : 0));
    size_t bytes = MSGJSON_SKEL_SCRATCH + d->n * sizeof(msgjson_node) + d->slen + n;
    if (bytes > room)
        return;
    skel_slot slot[MSGJSON_SKEL_MAX_NODES];
    size_t ns = skel_slots_find(d, t, n, slot, MSGJSON_SKEL_MAX_NODES);
    if (ns == SIZE_MAX)
        return;
    bytes += ns * sizeof(skel_slot);
    if (bytes > room)
        return;
    char *buf = malloc(bytes);
    if (buf == NULL)
        return;
    if (k->key != 0)
        skel_drop(c, k);
    memset(buf, 0, MSGJSON_SKEL_SCRATCH);
    msgjson_node *nodes = (msgjson_node *)(void *)(buf + MSGJSON_SKEL_SCRATCH);
    char *str = (char *)(nodes + d->n) + ns * sizeof(skel_slot);
    memcpy(nodes, d->nodes, d->n * sizeof *nodes);
    for (size_t i = 0; i < d->n; i++)
        if (nodes[i].type == MSGJSON_STRING)
            nodes[i].u.s = str + (d->nodes[i].u.s - d->str);
    memcpy(nodes + d->n, slot, ns * sizeof(skel_slot));
    memcpy(str, d->str, d->slen);
    memcpy(str + d->slen, t, n);
    k->key = h;
    k->used = ++c->clock;
    k->filter = filter;
    k->changed = changed;
    k->tlen = (uint32_t)n;
    k->nn = (uint32_t)d->n;
    k->ns = (uint32_t)ns;
    k->bytes = bytes;
    k->buf = buf;
    c->bytes += bytes;
    c->made++;
}

int msgjson_parse_keyed(msgjson_doc *d, const char *text, size_t n,
                        const msgjson_filter *filter, msgjson_skels *c, const void *key,
                        size_t keylen)
{
    if (c == NULL || key == NULL || keylen == 0)
        return msgjson_parse_filtered(d, text, n, filter);
    uint64_t h = msgjson_bytes_hash(key, keylen);
    h += h == 0;
    skel *k = skel_find(c, h);
    if (k != NULL && k->filter == filter && n < UINT32_MAX) {
        d->n = 0;
        d->slen = 0;
        d->scratch = NULL;
        if (str_reserve(d, n + 1) < 0 || node_reserve(d, k->nn) < 0)
            return -2;
        int rc = skel_read(d, k, (const unsigned char *)text, n);
        if (rc <= 0) {
            if (rc == 0) {
                c->hits++;
                k->changed = 0;
                k->used = ++c->clock;
                d->scratch = (unsigned char *)k->buf;
            }
            return rc;
        }
    }
    c->misses++;
    int rc = msgjson_parse_filtered(d, text, n, filter);
    if (rc == 0) {
        if (k != NULL && k->changed < UINT32_MAX)
            k->changed++;
        if (k == NULL || msgjson_remake_due(k->changed))
            skel_make(c, k, h, d, filter, (const unsigned char *)text, n);
    }
    return rc;
}

/* Turns the string nodes' offsets into pointers, now that str stays put
 * (msgjson_from_json; the reader of text sets pointers at once). */
static void resolve_strings(msgjson_doc *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->nodes[i].type == MSGJSON_STRING)
            d->nodes[i].u.s = d->str + d->nodes[i].u.off;
}

/* ---- from a jansson tree ------------------------------------------------ */

static int from_json(msgjson_doc *d, const json_t *v, int depth)
{
    if (depth > JSON_PARSER_MAX_DEPTH)
        return -1;
    msgjson_type t;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        t = MSGJSON_OBJECT;
        break;
    case JSON_ARRAY:
        t = MSGJSON_ARRAY;
        break;
    case JSON_STRING:
        t = MSGJSON_STRING;
        break;
    case JSON_INTEGER:
        t = MSGJSON_INTEGER;
        break;
    case JSON_REAL:
        t = MSGJSON_REAL;
        break;
    case JSON_TRUE:
        t = MSGJSON_TRUE;
        break;
    case JSON_FALSE:
        t = MSGJSON_FALSE;
        break;
    default:
        t = MSGJSON_NULL;
        break;
    }
    int64_t idx = node_push(d, t);
    if (idx < 0)
        return -2;
    if (t == MSGJSON_STRING) {
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if (len > UINT32_MAX || str_reserve(d, len + 1) < 0)
            return -2;
        memcpy(d->str + d->slen, s, len + 1);
        d->nodes[idx].u.off = d->slen;
        d->nodes[idx].count = (uint32_t)len;
        d->slen += len + 1;
    } else if (t == MSGJSON_INTEGER) {
        d->nodes[idx].u.i = (int64_t)json_integer_value(v);
    } else if (t == MSGJSON_REAL) {
        d->nodes[idx].u.d = json_real_value(v);
    } else if (t == MSGJSON_OBJECT) {
        const char *key;
        json_t *m;
        uint32_t count = 0;
        json_object_foreach((json_t *)v, key, m)
        {
            int64_t k = node_push(d, MSGJSON_STRING);
            size_t len = strlen(key);
            if (k < 0 || len > UINT32_MAX || str_reserve(d, len + 1) < 0)
                return -2;
            memcpy(d->str + d->slen, key, len + 1);
            d->nodes[k].u.off = d->slen;
            d->nodes[k].count = (uint32_t)len;
            d->slen += len + 1;
            int rc = from_json(d, m, depth + 1);
            if (rc < 0)
                return rc;
            count++;
        }
        d->nodes[idx].count = count;
    } else if (t == MSGJSON_ARRAY) {
        size_t i;
        json_t *m;
        uint32_t count = 0;
        json_array_foreach((json_t *)v, i, m)
        {
            int rc = from_json(d, m, depth + 1);
            if (rc < 0)
                return rc;
            count++;
        }
        d->nodes[idx].count = count;
    }
    d->nodes[idx].span = (uint32_t)(d->n - (size_t)idx);
    return 0;
}

int msgjson_from_json(msgjson_doc *d, const json_t *v)
{
    d->n = 0;
    d->slen = 0;
    d->scratch = NULL;
    if (v == NULL)
        return -1;
    int rc = from_json(d, v, 0);
    if (rc < 0)
        d->n = 0;
    else
        resolve_strings(d);
    return rc;
}

/* ---- access ------------------------------------------------------------- */

const msgjson_node *msgjson_root(const msgjson_doc *d)
{
    return d->n > 0 ? &d->nodes[0] : NULL;
}

const msgjson_node *msgjson_first(const msgjson_node *obj)
{
    if (obj == NULL || obj->type != MSGJSON_OBJECT || obj->count == 0)
        return NULL;
    return obj + 1;
}

const msgjson_node *msgjson_next(const msgjson_node *obj, const msgjson_node *key)
{
    const msgjson_node *next = key + 1 + key[1].span;
    return next < obj + obj->span ? next : NULL;
}

const msgjson_node *msgjson_get(const msgjson_node *obj, const char *key)
{
    size_t klen = strlen(key);
    for (const msgjson_node *k = msgjson_first(obj); k != NULL; k = msgjson_next(obj, k))
        if (k->count == klen && k->u.s[0] == key[0] && memcmp(k->u.s, key, klen) == 0)
            return k + 1;
    return NULL;
}

const char *msgjson_str(const msgjson_node *v)
{
    if (v == NULL || v->type != MSGJSON_STRING)
        return NULL;
    return v->u.s;
}

/* ---- jansson's compact text --------------------------------------------- */

/* Appends n bytes of s as one JSON string, quoted and escaped as json_dumps
 * escapes it. With check, a byte sequence jansson would not accept as
 * UTF-8 makes it return -1 with out unchanged; without, bytes from 0x80 up
 * are copied as they are. Returns 0 or -1 (also when out of memory). */
static int dump_string_as(const char *s, size_t n, lineproto_buf *out, bool check)
{
    if (n > SIZE_MAX / 6 - 2 || lineproto_buf_reserve(out, n * 6 + 2) < 0)
        return -1;
    char *o = out->data + out->len;
    *o++ = '"';
    size_t i = 0;
    for (;;) {
        /* A run copied as it is (the room reserved above holds six bytes
         * out per byte in). */
        size_t r = hs_jscan_plain_run(s, n, i);
        memcpy(o, s + i, r - i);
        o += r - i;
        i = r;
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = check ? hs_jscan_utf8_len(s, n, i) : 1;
            if (len == 0) {
                out->data[out->len] = '\0';
                return -1;
            }
            memcpy(o, s + i, len);
            o += len;
            i += len;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789ABCDEF"[c >> 4];
            *o++ = "0123456789ABCDEF"[c & 15];
            break;
        }
        i++;
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* A string of a document (valid UTF-8 already). */
static int dump_string(const char *s, size_t n, lineproto_buf *out)
{
    return dump_string_as(s, n, out, false);
}

/* A real as jansson's jsonp_dtostr with precision 17 prints it. */
static int dump_real(double v, lineproto_buf *out)
{
    char buf[64];
    int len = snprintf(buf, sizeof buf, "%.17g", v);
    if (len < 0 || (size_t)len >= sizeof buf - 3)
        return -1;
    size_t length = (size_t)len;
    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        memcpy(buf + length, ".0", 3);
        length += 2;
    }
    char *start = strchr(buf, 'e');
    if (start != NULL) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, length - (size_t)(end - buf) + 1);
            length -= (size_t)(end - start);
        }
    }
    return lineproto_buf_append(out, buf, length);
}

static int dump_node(const msgjson_node *v, lineproto_buf *out)
{
    char tmp[32];
    switch (v->type) {
    case MSGJSON_NULL:
        return lineproto_buf_append(out, "null", 4);
    case MSGJSON_TRUE:
        return lineproto_buf_append(out, "true", 4);
    case MSGJSON_FALSE:
        return lineproto_buf_append(out, "false", 5);
    case MSGJSON_INTEGER: {
        int len = snprintf(tmp, sizeof tmp, "%" PRId64, v->u.i);
        return lineproto_buf_append(out, tmp, (size_t)len);
    }
    case MSGJSON_REAL:
        return dump_real(v->u.d, out);
    case MSGJSON_STRING:
        return dump_string(v->u.s, v->count, out);
    case MSGJSON_ARRAY: {
        if (lineproto_buf_append(out, "[", 1) < 0)
            return -1;
        const msgjson_node *end = v + v->span;
        for (const msgjson_node *m = v + 1; m < end; m += m->span) {
            if (m != v + 1 && lineproto_buf_append(out, ",", 1) < 0)
                return -1;
            if (dump_node(m, out) < 0)
                return -1;
        }
        return lineproto_buf_append(out, "]", 1);
    }
    case MSGJSON_OBJECT: {
        if (lineproto_buf_append(out, "{", 1) < 0)
            return -1;
        for (const msgjson_node *k = msgjson_first(v); k != NULL;
             k = msgjson_next(v, k)) {
            if (k != v + 1 && lineproto_buf_append(out, ",", 1) < 0)
                return -1;
            if (dump_string(k->u.s, k->count, out) < 0 ||
                lineproto_buf_append(out, ":", 1) < 0 || dump_node(k + 1, out) < 0)
                return -1;
        }
        return lineproto_buf_append(out, "}", 1);
    }
    case MSGJSON_SKIPPED:
        return -1;
    }
    return -1;
}

int msgjson_dump(const msgjson_node *v, lineproto_buf *out)
{
    size_t start = out->len;
    if (v == NULL || dump_node(v, out) < 0) {
        lineproto_buf_truncate(out, start);
        return -1;
    }
    return 0;
}

int msgjson_dump_string(const char *s, size_t n, lineproto_buf *out)
{
    return dump_string_as(s, n, out, true);
}
