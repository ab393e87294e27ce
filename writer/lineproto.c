/* lineproto.c - enriched homestream messages as InfluxDB line protocol. */
#include "lineproto.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_event.h"
#include "hs_jscan.h"
#include "hs_statsrec.h"
#include "hs_time.h"
#include "msgjson.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- buffer ------------------------------------------------------------ */

void lineproto_buf_init(lineproto_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lineproto_buf_fini(lineproto_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    lineproto_buf_init(b);
}

int lineproto_buf_reserve(lineproto_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lineproto_buf_append(lineproto_buf *b, const void *p, size_t n)
{
    if (lineproto_buf_reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void lineproto_buf_truncate(lineproto_buf *b, size_t len)
{
    if (b->data == NULL || len > b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

/* ---- escaping ---------------------------------------------------------- */

static const char REPLACEMENT[] = "\xEF\xBF\xBD";        /* U+FFFD */
static const char REVERSE_SOLIDUS_OP[] = "\xE2\xA7\xB5"; /* U+29F5 */

/* escape_to may write up to this many bytes beyond the end of what it
 * escapes (it stores whole 16-byte blocks), so its callers reserve them. */
#define ESCAPE_SLACK 16

/* True when u[i + 1] (which exists) is one of set's bytes, NUL never. */
static bool next_is_one_of(const unsigned char *u, size_t i, const char *set)
{
    return u[i + 1] != 0 && strchr(set, (char)u[i + 1]) != NULL;
}

/* Writes the escaped form of the byte (or UTF-8 sequence) at u[*pi] of
 * u[0..n) for part at o, advances *pi past it and returns the end of what
 * it wrote (at most 3 bytes). Bytes that need no change are copied. */
static char *escape_special(char *o, lineproto_part part, const unsigned char *u,
                            size_t n, size_t *pi)
{
    size_t i = *pi;
    unsigned char c = u[i];
    if (c >= 0x80) {
        size_t len = hs_jscan_utf8_len((const char *)u, n, i);
        if (len == 0) {
            memcpy(o, REPLACEMENT, 3);
            *pi = i + 1;
            return o + 3;
        }
        for (size_t k = 0; k < len; k++)
            o[k] = (char)u[i + k];
        *pi = i + len;
        return o + len;
    }
    *pi = i + 1;
    if (c == 0) {
        memcpy(o, REPLACEMENT, 3);
        return o + 3;
    }
    if (part == LINEPROTO_STRING) {
        if (c == '"' || c == '\\')
            *o++ = '\\';
        *o++ = (char)c;
        return o;
    }
    if (c == '\n' || c == '\r') {
        *o++ = '\\';
        *o++ = c == '\n' ? 'n' : 'r';
    } else if (c == ',' || c == ' ' || (c == '=' && part != LINEPROTO_MEASUREMENT)) {
        *o++ = '\\';
        *o++ = (char)c;
    } else if (c == '\\' && (i == n - 1 || (part == LINEPROTO_MEASUREMENT &&
                                            next_is_one_of(u, i, ",\" =")))) {
        /* influxd unescapes a measurement twice: a backslash before one of
         * these would be lost, and the points become unreachable */
        memcpy(o, REVERSE_SOLIDUS_OP, 3);
        o += 3;
    } else if (c == '\\' && part == LINEPROTO_FIELD_KEY &&
               next_is_one_of(u, i, ",= \\\n\r")) {
        *o++ = '\\'; /* a harmless pair for influxd's scanner */
        *o++ = '\\';
    } else if (c == '#' && i == 0 && part == LINEPROTO_MEASUREMENT) {
        *o++ = '\\';
        *o++ = '#';
    } else if (c == '\t' && i == 0 && part == LINEPROTO_MEASUREMENT) {
        *o++ = '\\'; /* influxd skips whitespace at a line's start */
        *o++ = 't';
    } else {
        *o++ = (char)c;
    }
    return o;
}

#if defined(__SSE2__)

/* The up to 15 bytes p[0..n) in a block, zeros after them; reads no byte
 * beyond p[n - 1] (overlapping loads of the first and the last bytes). */
static inline __m128i load_partial(const unsigned char *p, size_t n)
{
    uint64_t lo = 0, hi = 0;
    if (n >= 8) {
        memcpy(&lo, p, 8);
        if (n > 8) {
            memcpy(&hi, p + n - 8, 8);
            hi >>= 8 * (16 - n);
        }
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        lo = a | ((uint64_t)b >> (8 * (8 - n))) << 32;
    } else if (n > 0) {
        lo = (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
             (uint64_t)p[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* A bit per byte of v that escape_special must look at: for strings 0,
 * '"', '\\' and bytes from 0x80 up; for names the bytes below '-' (controls,
 * ' ', '#', ','), '=', '\\' and bytes from 0x80 up. That is a superset of
 * the bytes that change (escape_special copies the others), found with
 * three comparisons. */
static inline unsigned special_mask(__m128i v, lineproto_part part)
{
    /* signed comparisons: bytes from 0x80 up are below 1 and '-' too */
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    if (part == LINEPROTO_STRING) {
        m = _mm_or_si128(m, _mm_cmplt_epi8(v, _mm_set1_epi8(1)));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    } else {
        m = _mm_or_si128(m, _mm_cmplt_epi8(v, _mm_set1_epi8('-')));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
    }
    return (unsigned)_mm_movemask_epi8(m);
}

/* Writes s[0..n) escaped for part at o and returns the end. o must have
 * room for 3 * n + ESCAPE_SLACK bytes (an input byte becomes at most three).
 * *plain is cleared when a byte needed a look (see special_mask): a text
 * that leaves it set is written as it is and holds no backslash. Plain
 * runs are copied 16 bytes at a time. */
static char *escape_to(char *o, lineproto_part part, const char *s, size_t n, bool *plain)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t rem = n - i;
        __m128i v;
        unsigned m;
        if (rem >= 16) {
            v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
            m = special_mask(v, part);
            rem = 16;
        } else {
            v = load_partial(u + i, rem);
            m = special_mask(v, part) & ((1u << rem) - 1);
        }
        /* o + 16 stays within the room: o is at most 3 * i bytes in. */
        _mm_storeu_si128((__m128i *)(void *)o, v);
        if (m == 0) {
            o += rem;
            i += rem;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctz(m);
        o += k;
        i += k;
        *plain = false;
        o = escape_special(o, part, u, n, &i);
    }
    return o;
}

#else

/* The ASCII bytes that a part may need to change (see
 * lineproto_append_escaped); every other ASCII byte is copied as is. */
static const unsigned char SPECIAL_NAME[128] = {
    [0] = 1,   ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1,
    ['#'] = 1, [','] = 1,  ['='] = 1,  ['\\'] = 1,
};
static const unsigned char SPECIAL_STRING[128] = {[0] = 1, ['"'] = 1, ['\\'] = 1};

/* True when none of the 8 bytes of w needs a look for part: for names every
 * byte lies in 0x3E..0x7F and is not '\\' (so not one of SPECIAL_NAME's
 * bytes), for strings no byte is 0, '"', '\\' or >= 0x80. (Per-byte tests
 * without carries between bytes, but for the "has a zero byte" test, whose
 * borrows only ever flag a byte beyond a real match: "none" stays exact.) */
static bool word_ordinary(uint64_t w, lineproto_part part)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    if ((w & high) != 0)
        return false;
    uint64_t bs = w ^ (ones * '\\');
    if (((bs - ones) & ~bs & high) != 0)
        return false;
    if (part != LINEPROTO_STRING)
        return ((w + ones * (0x80 - 0x3E)) & high) == high;
    uint64_t q = w ^ (ones * '"');
    return (((w - ones) & ~w & high) | ((q - ones) & ~q & high)) == 0;
}

/* The portable escape_to (same contract): whole words of ordinary bytes,
 * else a byte at a time. */
static char *escape_to(char *o, lineproto_part part, const char *s, size_t n, bool *plain)
{
    const unsigned char *u = (const unsigned char *)s;
    const unsigned char *special =
        part == LINEPROTO_STRING ? SPECIAL_STRING : SPECIAL_NAME;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (word_ordinary(w, part)) {
                memcpy(o, &w, 8);
                o += 8;
                i += 8;
                continue;
            }
        }
        unsigned char c = u[i];
        if (c < 0x80 && !special[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        *plain = false;
        o = escape_special(o, part, u, n, &i);
    }
    return o;
}

#endif

int lineproto_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                             size_t n)
{
    if (n > (SIZE_MAX - ESCAPE_SLACK) / 3 ||
        lineproto_buf_reserve(b, n * 3 + ESCAPE_SLACK) < 0)
        return -1;
    bool plain = true;
    char *o = escape_to(b->data + b->len, part, s, n, &plain);
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* ---- numbers ----------------------------------------------------------- */

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

/* How many decimal digits m has. */
static inline unsigned decimal_digits(uint64_t m)
{
    /* clang-format off */
    static const uint64_t pow10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
        10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
        10000000000000000000ULL};
    /* clang-format on */
    if (m < 10)
        return 1;
#if defined(__GNUC__)
    /* log10 from the bit length (1233 / 4096 ~ log10(2)), then one test */
    unsigned t = ((unsigned)(64 - __builtin_clzll(m | 1)) * 1233u) >> 12;
    return t + 1 - (m < pow10[t] ? 1u : 0u);
#else
    unsigned d = 1;
    while (d < 20 && m >= pow10[d])
        d++;
    return d;
#endif
}

/* Writes x (below 10^8) as exactly 8 digits at o. */
static void put8(char *o, uint32_t x)
{
    uint32_t a = x / 10000, b = x % 10000;
    memcpy(o, DIGIT_PAIRS + (a / 100) * 2, 2);
    memcpy(o + 2, DIGIT_PAIRS + (a % 100) * 2, 2);
    memcpy(o + 4, DIGIT_PAIRS + (b / 100) * 2, 2);
    memcpy(o + 6, DIGIT_PAIRS + (b % 100) * 2, 2);
}

/* Writes the len decimal digits of m (len = decimal_digits(m), or more for
 * leading zeros) at o, from the end: 8 at a time while m is large, then
 * two at a time. Returns the end. */
static char *put_digits_long(char *o, uint64_t m, unsigned len)
{
    char *p = o + len;
    while (m >= 100000000) {
        p -= 8;
        put8(p, (uint32_t)(m % 100000000));
        m /= 100000000;
    }
    uint32_t s = (uint32_t)m;
    while (s >= 100) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + (s % 100) * 2, 2);
        s /= 100;
    }
    if (s >= 10) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + s * 2, 2);
    } else {
        *--p = (char)('0' + s);
    }
    while (p > o)
        *--p = '0';
    return o + len;
}

/* put_digits_long, with the short numbers most fields hold inline. */
static inline char *put_digits(char *o, uint64_t m, unsigned len)
{
    if (len == 1) {
        *o = (char)('0' + m);
        return o + 1;
    }
    if (len == 2) {
        memcpy(o, DIGIT_PAIRS + m * 2, 2);
        return o + 2;
    }
    return put_digits_long(o, m, len);
}

/* Writes v as "%lld" prints it at o (at most 20 bytes). Returns the end. */
static char *put_int(char *o, int64_t v)
{
    uint64_t m = (uint64_t)v;
    if (v < 0) {
        *o++ = '-';
        m = 0 - m;
    }
    return put_digits(o, m, decimal_digits(m));
}

int lineproto_append_int(lineproto_buf *b, int64_t v)
{
    if (lineproto_buf_reserve(b, 24) < 0)
        return -1;
    char *o = put_int(b->data + b->len, v);
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* The most put_double writes. */
#define DOUBLE_MAX 48

/* Writes the finite double v at o (at most DOUBLE_MAX bytes), as
 * lineproto_append_double promises. Returns the end. */
static char *put_double(char *o, double v)
{
    /* Integers print as such, without the search below. */
    /* The range test comes first: casting a double beyond long long's range
     * is undefined behaviour (found by fuzz-lineproto). */
    if (fabs(v) < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v)))
        return put_int(o, (long long)v);
    /* A value with at most 9 integer and 6 decimal digits (15 in all, so
     * "%.15g" below would print exactly these digits, and without an
     * exponent from 1e-5 up) is the decimal with the fewest decimals that
     * reads back to it: m / 10^d, both exact doubles, divides with one
     * correct rounding, as strtod reads the decimal text, so the test below
     * is exact. m is a * 10^d rounded to the nearest integer, ties to even,
     * as nearbyint rounds by default: below 2^52, adding and subtracting
     * 2^52 leaves exactly that (in double arithmetic, without excess
     * precision). */
    if (fabs(v) < 1e9 && fabs(v) >= 1e-5) {
        static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
        static const uint64_t ipow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
        const double two52 = 4503599627370496.0;
        double a = fabs(v);
        for (int d = 1; d <= 6; d++) {
            double x = a * pow10[d]; /* its own statement: never fused */
#if FLT_EVAL_METHOD == 0
            double m = (x + two52) - two52;
#else
            double m = nearbyint(x);
#endif
            if (m / pow10[d] == a) {
                uint64_t im = (uint64_t)m;
                uint64_t ip = im / ipow10[d], fp = im % ipow10[d];
                if (v < 0)
                    *o++ = '-';
                o = put_digits(o, ip, decimal_digits(ip));
                *o++ = '.';
                return put_digits(o, fp, (unsigned)d);
            }
        }
    }
    char tmp[DOUBLE_MAX];
    /* %g drops trailing zeros, so the first precision that reads back gives
     * the shortest form; 15 digits suffice for most values. */
    int prec = fabs(v) < 1e-300 ? 1 : 15; /* subnormals are short with few digits */
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* %g switches to an exponent as soon as the digits run out ("1e+02" for
     * 100); below 1e17 and above 1e-5 plain decimals read better. */
    const char *e = strchr(tmp, 'e');
    if (e != NULL) {
        int exp10 = atoi(e + 1);
        int digits = 0;
        for (const char *p = tmp; p < e; p++)
            digits += isdigit((unsigned char)*p) ? 1 : 0;
        if (exp10 >= -5 && exp10 < 17) {
            int decimals = digits - 1 - exp10;
            char alt[DOUBLE_MAX];
            snprintf(alt, sizeof alt, "%.*f", decimals > 0 ? decimals : 0, v);
            if (strtod(alt, NULL) == v)
                memcpy(tmp, alt, strlen(alt) + 1);
        }
    }
    size_t len = strlen(tmp);
    memcpy(o, tmp, len);
    return o + len;
}

int lineproto_append_double(lineproto_buf *b, double v)
{
    if (!isfinite(v))
        return -2;
    if (lineproto_buf_reserve(b, DOUBLE_MAX) < 0)
        return -1;
    char *o = put_double(b->data + b->len, v);
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

size_t lineproto_scrub_nul_escapes(char *text, size_t n)
{
    size_t count = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < n) {
            if (text[i + 1] == 'u' && i + 5 < n && memcmp(text + i + 2, "0000", 4) == 0) {
                memcpy(text + i + 2, "fffd", 4);
                count++;
            }
            i++; /* the escaped character is never a quote or a backslash escape */
        }
    }
    return count;
}

/* ---- Python's float() -------------------------------------------------- */

static bool ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies the digits of s[*i...] into out, dropping single underscores that
 * stand between two digits. Returns the number of digits, or -1 when an
 * underscore is misplaced. */
static int take_digits(const char *s, size_t n, size_t *i, char *out, size_t *olen)
{
    int digits = 0;
    while (*i < n) {
        char c = s[*i];
        if (c >= '0' && c <= '9') {
            out[(*olen)++] = c;
            digits++;
            (*i)++;
        } else if (c == '_') {
            if (digits == 0 || *i + 1 >= n || s[*i + 1] < '0' || s[*i + 1] > '9')
                return -1;
            (*i)++;
        } else {
            break;
        }
    }
    return digits;
}

int lineproto_parse_pyfloat(const char *s, size_t n, double *out)
{
    size_t a = 0, z = n;
    while (a < z && ascii_space((unsigned char)s[a]))
        a++;
    /* Most texts are words: a number starts with a sign, a digit or a
     * '.', "nan" and "inf" with their letter. */
    if (a < z) {
        unsigned char c = (unsigned char)s[a];
        if (!(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' &&
            (c | 0x20) != 'n' && (c | 0x20) != 'i')
            return -1;
    }
    while (z > a && ascii_space((unsigned char)s[z - 1]))
        z--;
    if (a == z || z - a > 400)
        return -1;
    char clean[408];
    size_t olen = 0, i = a;
    bool neg = false;
    if (s[i] == '+' || s[i] == '-') {
        neg = s[i] == '-';
        clean[olen++] = s[i++];
    }
    size_t rest = z - i;
    const char *word = s + i;
    if ((rest == 3 && strncasecmp(word, "nan", 3) == 0)) {
        *out = neg ? -NAN : NAN;
        return 0;
    }
    if ((rest == 3 && strncasecmp(word, "inf", 3) == 0) ||
        (rest == 8 && strncasecmp(word, "infinity", 8) == 0)) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    int intd = take_digits(s, z, &i, clean, &olen);
    if (intd < 0)
        return -1;
    int fracd = 0;
    if (i < z && s[i] == '.') {
        clean[olen++] = s[i++];
        if (i < z && s[i] == '_')
            return -1;
        fracd = take_digits(s, z, &i, clean, &olen);
        if (fracd < 0)
            return -1;
    }
    if (intd + fracd == 0)
        return -1;
    if (i < z && (s[i] == 'e' || s[i] == 'E')) {
        clean[olen++] = s[i++];
        if (i < z && (s[i] == '+' || s[i] == '-'))
            clean[olen++] = s[i++];
        if (i < z && s[i] == '_')
            return -1;
        int expd = take_digits(s, z, &i, clean, &olen);
        if (expd <= 0)
            return -1;
    }
    if (i != z)
        return -1;
    clean[olen] = '\0';
    if (!hs_jscan_exact_decimal(clean, olen, out))
        *out = strtod(clean, NULL);
    return 0;
}

/* ---- fields ------------------------------------------------------------ */

typedef enum { FIELD_FLOAT, FIELD_STRING, FIELD_BOOL } field_type;

typedef struct {
    const char *key; /* borrowed: the message's, a constant, or in the arena */
    size_t klen;
    field_type type;
    double num;
    bool flag;
    const char *str; /* FIELD_STRING: borrowed as key is */
    size_t slen;
    const msgjson_node *src; /* FIELD_FLOAT: the number node it is, or NULL */
} field;

/* A block of the fieldset's arena beyond its inline bytes. */
typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    char data[];
} arena_block;

#define FIELDSET_INLINE_FIELDS 24
#define FIELDSET_INLINE_BYTES 1024

/* Fields in insertion order with Python dict semantics: setting an existing
 * key replaces its value in place. Keys and strings are borrowed: from the
 * message being encoded (which outlives the fieldset), constants, or texts
 * made here, which are copied into an arena that starts inside the
 * fieldset and never moves what it holds, so a typical message allocates
 * nothing here. bloom has the bit key_bit of every key set since init, so
 * most look-ups of a key not there cost one test. Initialise with
 * fieldset_init; a fieldset must not be copied. */
typedef struct {
    field *v;
    size_t n;
    size_t cap;
    bool oom;
    unsigned dropped;
    uint64_t bloom;
    field local[FIELDSET_INLINE_FIELDS];
    char bytes[FIELDSET_INLINE_BYTES];
    size_t bytes_used;
    arena_block *blocks; /* newest first */
} fieldset;

static void fieldset_init(fieldset *fs)
{
    fs->v = fs->local;
    fs->n = 0;
    fs->cap = FIELDSET_INLINE_FIELDS;
    fs->oom = false;
    fs->dropped = 0;
    fs->bloom = 0;
    fs->bytes_used = 0;
    fs->blocks = NULL;
}

static void fieldset_fini(fieldset *fs)
{
    if (fs->v != fs->local)
        free(fs->v);
    while (fs->blocks != NULL) {
        arena_block *next = fs->blocks->next;
        free(fs->blocks);
        fs->blocks = next;
    }
}

/* n + 1 bytes of the arena, or NULL when out of memory (fs->oom set). */
static char *fieldset_alloc(fieldset *fs, size_t n)
{
    char *p;
    if (n < FIELDSET_INLINE_BYTES - fs->bytes_used) {
        p = fs->bytes + fs->bytes_used;
        fs->bytes_used += n + 1;
    } else if (fs->blocks != NULL && n < fs->blocks->cap - fs->blocks->used) {
        p = fs->blocks->data + fs->blocks->used;
        fs->blocks->used += n + 1;
    } else {
        size_t cap = n < 8192 ? 8192 : n + 1;
        arena_block *b = n < SIZE_MAX - sizeof *b ? malloc(sizeof *b + cap) : NULL;
        if (b == NULL) {
            fs->oom = true;
            return NULL;
        }
        b->next = fs->blocks;
        b->cap = cap;
        b->used = n + 1;
        fs->blocks = b;
        p = b->data;
    }
    return p;
}

/* s[0..n), the sfxlen bytes of sfx after it (sfx may be NULL when sfxlen
 * is 0) and a NUL, copied into the arena. Returns the copy, or NULL when out of
 * memory (fs->oom set). */
static inline const char *fieldset_copy2(fieldset *fs, const char *s, size_t n,
                                         const char *sfx, size_t sfxlen)
{
    if (n > SIZE_MAX / 2) {
        fs->oom = true;
        return NULL;
    }
    char *p = fieldset_alloc(fs, n + sfxlen);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    if (sfxlen > 0)
        memcpy(p + n, sfx, sfxlen);
    p[n + sfxlen] = '\0';
    return p;
}

static inline uint64_t key_bit(const char *key, size_t klen)
{
    unsigned h = klen == 0 ? 0
                           : (unsigned)klen * 7u + (unsigned char)key[0] * 3u +
                                 (unsigned char)key[klen - 1];
    return 1ULL << (h & 63);
}

static inline field *fieldset_find_n(fieldset *fs, const char *key, size_t klen)
{
    if ((fs->bloom & key_bit(key, klen)) == 0)
        return NULL;
    for (size_t i = 0; i < fs->n; i++) {
        field *f = &fs->v[i];
        if (f->klen == klen && msgjson_bytes_equal(f->key, key, klen))
            return f;
    }
    return NULL;
}

/* Doubles the room for fields. Returns false when out of memory (fs->oom
 * set). */
static bool fieldset_grow(fieldset *fs)
{
    size_t cap = fs->cap * 2;
    field *v =
        fs->v == fs->local ? malloc(cap * sizeof *v) : realloc(fs->v, cap * sizeof *v);
    if (v == NULL) {
        fs->oom = true;
        return false;
    }
    if (fs->v == fs->local)
        memcpy(v, fs->local, fs->n * sizeof *v);
    fs->v = v;
    fs->cap = cap;
    return true;
}

/* Appends a new field with key (borrowed), which the caller knows is not
 * among the fields yet. Returns it, or NULL when out of memory (fs->oom
 * set). */
static inline field *fieldset_push(fieldset *fs, const char *key, size_t klen)
{
    if (fs->n == fs->cap && !fieldset_grow(fs))
        return NULL;
    field *f = &fs->v[fs->n++];
    f->key = key;
    f->klen = klen;
    f->str = NULL;
    f->slen = 0;
    f->src = NULL;
    fs->bloom |= key_bit(key, klen);
    return f;
}

/* Returns the slot for key (borrowed when new), new or existing (its old
 * string dropped), or NULL when out of memory (fs->oom set). */
static inline field *fieldset_slot(fieldset *fs, const char *key, size_t klen)
{
    field *f = fieldset_find_n(fs, key, klen);
    if (f != NULL) {
        f->str = NULL;
        f->slen = 0;
        f->src = NULL;
        return f;
    }
    return fieldset_push(fs, key, klen);
}

static void fieldset_del(fieldset *fs, const char *key, size_t klen)
{
    field *f = fieldset_find_n(fs, key, klen);
    if (f == NULL)
        return;
    size_t idx = (size_t)(f - fs->v);
    memmove(&fs->v[idx], &fs->v[idx + 1], (fs->n - idx - 1) * sizeof *f);
    fs->n--;
}

/* A float field; NaN and infinities are left out (and counted), removing a
 * value the key held before, as HA's integration does. With absent, the
 * caller knows the key is not among the fields. */
static inline void fieldset_float(fieldset *fs, const char *key, size_t klen, double v,
                                  bool absent)
{
    if (!isfinite(v)) {
        if (!absent)
            fieldset_del(fs, key, klen);
        fs->dropped++;
        return;
    }
    field *f = absent ? fieldset_push(fs, key, klen) : fieldset_slot(fs, key, klen);
    if (f != NULL) {
        f->type = FIELD_FLOAT;
        f->num = v;
    }
}

/* A string field with the text s[0..n), borrowed; absent as for
 * fieldset_float. */
static inline void fieldset_string(fieldset *fs, const char *key, size_t klen,
                                   const char *s, size_t n, bool absent)
{
    field *f = absent ? fieldset_push(fs, key, klen) : fieldset_slot(fs, key, klen);
    if (f == NULL)
        return;
    f->type = FIELD_STRING;
    f->str = s;
    f->slen = n;
}

/* A string field with the NUL-terminated text s, copied. */
static void fieldset_string_copy(fieldset *fs, const char *key, size_t klen,
                                 const char *s)
{
    size_t n = strlen(s);
    const char *c = fieldset_copy2(fs, s, n, NULL, 0);
    if (c != NULL)
        fieldset_string(fs, key, klen, c, n, false);
}

static inline void fieldset_bool(fieldset *fs, const char *key, size_t klen, bool v,
                                 bool absent)
{
    field *f = absent ? fieldset_push(fs, key, klen) : fieldset_slot(fs, key, klen);
    if (f != NULL) {
        f->type = FIELD_BOOL;
        f->flag = v;
    }
}

/* ---- tags -------------------------------------------------------------- */

/* A tag as write_line writes it: prefix is ",<key>=" with the key already
 * escaped, padded with zeros so that it is copied as one block; a NULL or
 * empty value leaves the tag out. */
typedef struct {
    char prefix[16];
    size_t plen;
    const char *value;
    size_t vlen;
} tag;

/* A tag from a key literal (of at most 14 bytes: the sizeof below does not
 * compile for longer ones) and a value of vlen bytes. */
/* clang-format off */
#define TAG(key, value, vlen) \
    {"," key "=", sizeof(key) + 1 + 0 * sizeof(char[16 - sizeof(key)]), (value), (vlen)}
/* clang-format on */

/* The length of s, 0 for NULL. */
static size_t len0(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* ---- line assembly ----------------------------------------------------- */

/* The next byte of an escaped field key as influxd stores it: influxd reads
 * a backslash and the byte after it as a pair and turns "\\,", "\\=" and
 * "\\ " into the bare character, keeping other pairs. *i walks s[0..n);
 * *pending holds the second byte of a kept pair. Returns the byte, or -1 at
 * the end. */
static int stored_key_byte(const char *s, size_t n, size_t *i, int *pending)
{
    if (*pending >= 0) {
        int c = *pending;
        *pending = -1;
        return c;
    }
    if (*i >= n)
        return -1;
    unsigned char c = (unsigned char)s[(*i)++];
    if (c == '\\' && *i < n) {
        unsigned char x = (unsigned char)s[(*i)++];
        if (x == ',' || x == '=' || x == ' ')
            return x;
        *pending = x;
    }
    return c;
}

/* True when two escaped field keys are stored alike by influxd. */
static bool stored_keys_equal(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    int pa = -1, pb = -1;
    for (;;) {
        int x = stored_key_byte(a, an, &i, &pa);
        int y = stored_key_byte(b, bn, &j, &pb);
        if (x != y)
            return false;
        if (x < 0)
            return true;
    }
}

/* A hash of the key influxd stores for an escaped field key: keys stored
 * alike hash alike. Without a backslash influxd stores the bytes as they
 * are, and bytes_hash hashes them; with one, FNV-1a runs over
 * stored_key_byte's bytes. The two kinds never need to hash alike: an
 * escaped key without a backslash holds no ',', '=', ' ' or '\\', and a
 * key stored from one with a backslash holds one of them. */
static uint64_t stored_key_hash(const char *s, size_t n)
{
    if (memchr(s, '\\', n) == NULL)
        return msgjson_bytes_hash(s, n);
    uint64_t h = 14695981039346656037ULL;
    size_t i = 0;
    int pending = -1;
    for (int c; (c = stored_key_byte(s, n, &i, &pending)) >= 0;)
        h = (h ^ (unsigned char)c) * 1099511628211ULL;
    return h;
}

/* Where write_line_at wrote the numbers of float fields made from a number
 * node (fieldset_number): the node, and the offset and length of its text
 * in the line; the first LINE_HOLES_MAX of them. */
#define LINE_HOLES_MAX 8

typedef struct {
    const msgjson_node *src;
    uint32_t at, len;
} line_hole;

typedef struct {
    line_hole v[LINE_HOLES_MAX];
    size_t n;
} line_holes;

typedef struct {
    const char *p; /* in out, which does not move while a line is written */
    size_t len;
    uint64_t hash; /* stored_key_hash, once keys are checked */
} key_span;

/* Appends one line: the measurement (mlen bytes), the tags (in key order
 * already), fs's fields and the time. With cut, sets cut[0] to the offset
 * in the line of the space before the first field, and cut[1] to that of
 * the separator before the field written after the first `split` (of the
 * space before the time when no more were written). With holes, notes
 * where the numbers of fields made from a number node went (see
 * line_holes). Field keys that influxd would store
 * alike are written once (the first), the others counted in fs->dropped.
 * Room for the whole line is reserved first, so the line is written
 * without further checks. Returns 0, or -1 when out of memory (out
 * unchanged then). */
static int write_line_at(lineproto_buf *out, const char *measurement, size_t mlen,
                         const tag *tags, size_t ntags, fieldset *fs, int64_t time_ns,
                         size_t split, size_t *cut, line_holes *holes)
{
    /* Texts take at most three bytes per byte; a field at most its key's
     * and its string's, or DOUBLE_MAX, and four more ("," "=" and quotes);
     * then ' ', the time (at most 20 bytes) and '\n'. Each length is below
     * SIZE_MAX / 2 (a text in memory) and is added to a sum at most limit,
     * so no sum below overflows. */
    const size_t limit = SIZE_MAX / 4;
    size_t text = mlen;
    for (size_t i = 0; i < ntags && text <= limit; i++)
        text += tags[i].plen + tags[i].vlen; /* plen is at most 16 */
    for (size_t i = 0; i < fs->n && text <= limit; i++) {
        text += fs->v[i].klen;
        if (text <= limit)
            text += fs->v[i].slen;
    }
    if (text > limit || fs->n > limit / (DOUBLE_MAX + 4) ||
        lineproto_buf_reserve(out, text * 3 + fs->n * (DOUBLE_MAX + 4) + 22 +
                                       ESCAPE_SLACK) < 0)
        return -1;
    /* The escaped keys written so far. Until a key that escaping changes
     * (or that holds a backslash) comes, every key is stored as its bytes,
     * and the fieldset's keys are distinct: only from then on are keys
     * compared by what influxd stores. */
    key_span local[32];
    key_span *keys = local;
    if (fs->n > sizeof local / sizeof local[0]) {
        keys = malloc(fs->n * sizeof *keys);
        if (keys == NULL)
            return -1;
    }
    bool plain = true;
    char *o =
        escape_to(out->data + out->len, LINEPROTO_MEASUREMENT, measurement, mlen, &plain);
    for (size_t i = 0; i < ntags; i++) {
        if (tags[i].vlen == 0)
            continue; /* InfluxDB refuses empty tag values */
        memcpy(o, tags[i].prefix, sizeof tags[i].prefix); /* within the room */
        o += tags[i].plen;
        o = escape_to(o, LINEPROTO_KEY, tags[i].value, tags[i].vlen, &plain);
    }
    char *const line = out->data + out->len;
    if (cut != NULL)
        cut[0] = cut[1] = (size_t)(o - line);
    size_t written = 0;
    bool checking = false;
    for (size_t i = 0; i < fs->n; i++) {
        const field *f = &fs->v[i];
        char *before = o;
        if (cut != NULL && written == split)
            cut[1] = (size_t)(o - line);
        *o++ = written == 0 ? ' ' : ',';
        char *kstart = o;
        plain = true;
        o = escape_to(o, LINEPROTO_FIELD_KEY, f->key, f->klen, &plain);
        size_t klen = (size_t)(o - kstart);
        keys[written].p = kstart;
        keys[written].len = klen;
        if (!plain && !checking) {
            checking = true;
            for (size_t k = 0; k < written; k++)
                keys[k].hash = stored_key_hash(keys[k].p, keys[k].len);
        }
        if (checking) {
            uint64_t hash = stored_key_hash(kstart, klen);
            bool dup = false;
            for (size_t k = 0; k < written && !dup; k++)
                dup = keys[k].hash == hash &&
                      stored_keys_equal(keys[k].p, keys[k].len, kstart, klen);
            if (dup) {
                /* Two keys InfluxDB would store alike (after the replacements
                 * above): it would keep only the last, so keep only the first. */
                o = before;
                fs->dropped++;
                continue;
            }
            keys[written].hash = hash;
        }
        *o++ = '=';
        if (f->type == FIELD_FLOAT) {
            char *num = o;
            o = put_double(o, f->num);
            if (holes != NULL && f->src != NULL && holes->n < LINE_HOLES_MAX &&
                (size_t)(num - line) < UINT32_MAX) {
                line_hole *h = &holes->v[holes->n++];
                h->src = f->src;
                h->at = (uint32_t)(num - line); /* lines stay far below 4 GB */
                h->len = (uint32_t)(o - num);
            }
        } else if (f->type == FIELD_BOOL) {
            if (f->flag) {
                memcpy(o, "true", 4);
                o += 4;
            } else {
                memcpy(o, "false", 5);
                o += 5;
            }
        } else {
            *o++ = '"';
            o = escape_to(o, LINEPROTO_STRING, f->str, f->slen, &plain);
            *o++ = '"';
        }
        written++;
    }
    if (keys != local)
        free(keys);
    if (cut != NULL && written <= split)
        cut[1] = (size_t)(o - line);
    *o++ = ' ';
    o = put_int(o, time_ns);
    *o++ = '\n';
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

static int write_line(lineproto_buf *out, const char *measurement, size_t mlen,
                      const tag *tags, size_t ntags, fieldset *fs, int64_t time_ns)
{
    return write_line_at(out, measurement, mlen, tags, ntags, fs, time_ns, 0, NULL, NULL);
}

/* ---- message helpers --------------------------------------------------- */

static bool is_type(const msgjson_node *v, msgjson_type t)
{
    return v != NULL && v->type == t;
}

static bool is_integer(const msgjson_node *v)
{
    return is_type(v, MSGJSON_INTEGER);
}

static bool is_number(const msgjson_node *v)
{
    return is_integer(v) || is_type(v, MSGJSON_REAL);
}

static bool is_boolean(const msgjson_node *v)
{
    return is_type(v, MSGJSON_TRUE) || is_type(v, MSGJSON_FALSE);
}

static bool is_true(const msgjson_node *v)
{
    return is_type(v, MSGJSON_TRUE);
}

static bool is_false(const msgjson_node *v)
{
    return is_type(v, MSGJSON_FALSE);
}

static bool is_string(const msgjson_node *v)
{
    return is_type(v, MSGJSON_STRING);
}

static bool is_object(const msgjson_node *v)
{
    return is_type(v, MSGJSON_OBJECT);
}

static bool is_null(const msgjson_node *v)
{
    return is_type(v, MSGJSON_NULL);
}

/* A number's value as a double (0 for anything else, as jansson's
 * json_number_value). */
static double number_value(const msgjson_node *v)
{
    if (is_integer(v))
        return (double)v->u.i;
    return is_type(v, MSGJSON_REAL) ? v->u.d : 0.0;
}

/* v as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) prints it, malloc'd,
 * or NULL when out of memory. */
static char *dump_text(const msgjson_node *v)
{
    lineproto_buf b;
    lineproto_buf_init(&b);
    if (msgjson_dump(v, &b) < 0 || lineproto_buf_reserve(&b, 0) < 0) {
        lineproto_buf_fini(&b);
        return NULL;
    }
    return b.data;
}

static const char *get_str(const msgjson_node *obj, const char *key)
{
    return msgjson_str(msgjson_get(obj, key));
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* ---- the message's top-level members ---------------------------------- */

/* The top-level members the encoder reads, found in one pass over the
 * message instead of one pass per lookup. */
typedef enum {
    K_AREA,
    K_BACKFILL,
    K_DATA,
    K_DOMAIN,
    K_ENTITY_ID,
    K_EVENT_TYPE,
    K_NEW_STATE,
    K_OBJECT_ID,
    K_OLD_STATE,
    K_PRESENCE,
    K_SITE,
    K_STAGE,
    K_STATS,
    K_TIME_FIRED,
    K_TIME_NS,
    K_UNIT,
    K_VALUE,
    K_WEATHER,
    K_COUNT
} msg_key;

/* Where a message's members lie, as node offsets from its root (0: none):
 * its top-level ones (msg_key's) and, once a state change was encoded, those
 * encode_ha_state looks up in new_state, weather and presence. Where a
 * member lies depends only on the keys and containers, so a message read
 * from a skeleton keeps them in the skeleton's scratch bytes for the next
 * one read from it (msgjson_doc.scratch). */
typedef struct {
    uint16_t top_known, ha_known; /* nonzero once filled */
    uint16_t top[K_COUNT];
    uint16_t new_state[2]; /* state, attributes */
    uint16_t weather[4];   /* shape_parts' WEATHER */
    uint16_t presence[2];  /* shape_parts' PRESENCE */
} member_memo;

_Static_assert(sizeof(member_memo) <= MSGJSON_SKEL_SCRATCH, "member_memo too large");
_Static_assert(MSGJSON_SKEL_MAX_NODES <= UINT16_MAX, "member_memo offsets too small");

typedef struct {
    const msgjson_node *root;
    const msgjson_node *v[K_COUNT]; /* a member's value, or NULL */
    member_memo *memo;              /* the skeleton's, or NULL */
} msg_index;

/* The offset of v from root for member_memo, 0 for NULL. */
static uint16_t memo_at(const msgjson_node *root, const msgjson_node *v)
{
    return v != NULL ? (uint16_t)(v - root) : 0;
}

/* The node at offset at from root (0: NULL). */
static const msgjson_node *memo_node(const msgjson_node *root, uint16_t at)
{
    return at != 0 ? root + at : NULL;
}

/* The members of obj in order: k walks the key nodes (the value is k + 1).
 * obj must be an object. */
#define FOR_MEMBERS(k, obj)                                                              \
    for (const msgjson_node *k = (obj) + 1, *k##_end = (obj) + (obj)->span; k < k##_end; \
         k += 1 + k[1].span)

/* True when the string node k is the n bytes of lit (n a constant, so the
 * comparison is a few loads). */
#define KEY_IS(k, lit)                                                                   \
    ((k)->count == sizeof(lit) - 1 && memcmp((k)->u.s, lit, sizeof(lit) - 1) == 0)

/* Which msg_key a member's key is, or K_COUNT for none. */
static msg_key msg_key_of(const msgjson_node *key)
{
    const char *s = key->u.s;
    switch (key->count) {
    case 4:
        if (memcmp(s, "area", 4) == 0)
            return K_AREA;
        if (memcmp(s, "data", 4) == 0)
            return K_DATA;
        if (memcmp(s, "site", 4) == 0)
            return K_SITE;
        if (memcmp(s, "unit", 4) == 0)
            return K_UNIT;
        break;
    case 5:
        if (memcmp(s, "stage", 5) == 0)
            return K_STAGE;
        if (memcmp(s, "stats", 5) == 0)
            return K_STATS;
        if (memcmp(s, "value", 5) == 0)
            return K_VALUE;
        break;
    case 6:
        if (memcmp(s, "domain", 6) == 0)
            return K_DOMAIN;
        break;
    case 7:
        if (memcmp(s, "time_ns", 7) == 0)
            return K_TIME_NS;
        if (memcmp(s, "weather", 7) == 0)
            return K_WEATHER;
        break;
    case 8:
        if (memcmp(s, "backfill", 8) == 0)
            return K_BACKFILL;
        if (memcmp(s, "presence", 8) == 0)
            return K_PRESENCE;
        break;
    case 9:
        if (memcmp(s, "entity_id", 9) == 0)
            return K_ENTITY_ID;
        if (memcmp(s, "new_state", 9) == 0)
            return K_NEW_STATE;
        if (memcmp(s, "object_id", 9) == 0)
            return K_OBJECT_ID;
        if (memcmp(s, "old_state", 9) == 0)
            return K_OLD_STATE;
        break;
    case 10:
        if (memcmp(s, "event_type", 10) == 0)
            return K_EVENT_TYPE;
        if (memcmp(s, "time_fired", 10) == 0)
            return K_TIME_FIRED;
        break;
    default:
        break;
    }
    return K_COUNT;
}

/* Fills ix from the object msg; the first of repeated keys wins, as with
 * msgjson_get. With memo (the skeleton's scratch of a message read from
 * one, of at most MSGJSON_SKEL_MAX_NODES nodes), from it once filled. */
static void msg_index_fill(msg_index *ix, const msgjson_node *msg, member_memo *memo)
{
    ix->root = msg;
    ix->memo = memo;
    if (memo != NULL && memo->top_known) {
        for (size_t i = 0; i < K_COUNT; i++)
            ix->v[i] = memo_node(msg, memo->top[i]);
        return;
    }
    for (size_t i = 0; i < K_COUNT; i++)
        ix->v[i] = NULL;
    FOR_MEMBERS(k, msg)
    {
        msg_key mk = msg_key_of(k);
        if (mk != K_COUNT && ix->v[mk] == NULL)
            ix->v[mk] = k + 1;
    }
    if (memo != NULL) {
        for (size_t i = 0; i < K_COUNT; i++)
            memo->top[i] = memo_at(msg, ix->v[i]);
        memo->top_known = 1;
    }
}

/* A member name for members_get. */
typedef struct {
    const char *name;
    size_t len;
} member_name;

#define MEMBER(name)                                                                     \
    {                                                                                    \
        (name), sizeof(name) - 1                                                         \
    }

/* Sets found[i] to the value of obj's first member named names[i], or NULL
 * when obj is not an object or has none, in one pass over obj. */
static void members_get(const msgjson_node *obj, const member_name *names, size_t n,
                        const msgjson_node **found)
{
    for (size_t i = 0; i < n; i++)
        found[i] = NULL;
    if (obj == NULL || obj->type != MSGJSON_OBJECT)
        return;
    size_t left = n;
    FOR_MEMBERS(k, obj)
    {
        for (size_t i = 0; i < n; i++) {
            if (found[i] == NULL && k->count == names[i].len &&
                msgjson_bytes_equal(k->u.s, names[i].name, names[i].len)) {
                found[i] = k + 1;
                left--;
                break;
            }
        }
        if (left == 0)
            break;
    }
}

static const msgjson_node *mget(const msg_index *ix, msg_key k)
{
    return ix->v[k];
}

/* The point time: time_ns, else new_state.last_updated, else time_fired. */
static int message_time(const msg_index *msg, int64_t *out)
{
    const msgjson_node *t = mget(msg, K_TIME_NS);
    if (is_integer(t)) {
        *out = t->u.i;
        return 0;
    }
    const msgjson_node *ns = mget(msg, K_NEW_STATE);
    const char *lu = get_str(ns, "last_updated");
    if (lu != NULL && hs_time_parse_iso(lu, out) == 0)
        return 0;
    const char *tf = msgjson_str(mget(msg, K_TIME_FIRED));
    if (tf != NULL && hs_time_parse_iso(tf, out) == 0)
        return 0;
    return -1;
}

/* A JSON value as Python's str() shows it closely enough for HA's "_str"
 * fields: strings as they are, null as "None", other values as compact JSON
 * text. Returns a malloc'd string or NULL when out of memory. */
static char *value_text(const msgjson_node *v)
{
    if (is_string(v))
        return strdup(msgjson_str(v));
    if (is_null(v) || v == NULL)
        return strdup("None");
    if (is_true(v))
        return strdup("True");
    if (is_false(v))
        return strdup("False");
    return dump_text(v);
}

/* float(value) as Python applies it to a JSON value. */
static bool value_as_float(const msgjson_node *v, double *out)
{
    if (is_number(v)) {
        *out = number_value(v);
        return true;
    }
    if (is_boolean(v)) {
        *out = is_true(v) ? 1.0 : 0.0;
        return true;
    }
    if (is_string(v))
        return lineproto_parse_pyfloat(v->u.s, v->count, out) == 0;
    return false;
}

static bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* HA's RE_DIGIT_TAIL, ^[^.]*\d+\.?\d+[^.]*$, on ASCII digits: true when
 * text (n bytes) has no '.' and two adjacent digits, or exactly one '.'
 * with a digit on each side. */
static bool digit_tail(const char *text, size_t n)
{
    const char *dot = memchr(text, '.', n);
    if (dot != NULL) {
        size_t at = (size_t)(dot - text);
        if (at == 0 || at + 1 == n || memchr(dot + 1, '.', n - at - 1) != NULL)
            return false;
        return ascii_digit(dot[-1]) && ascii_digit(dot[1]);
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (ascii_digit(text[i]) && ascii_digit(text[i + 1]))
            return true;
    return false;
}

/* HA's float(RE_DECIMAL.sub("", text)): the digits and the dot of text (n
 * bytes), as a number. Only called when digit_tail(text, n) holds, so the
 * result is a plain decimal. Returns NaN when out of memory (the caller
 * then drops the field). */
static double digit_tail_value(const char *text, size_t n)
{
    char local[128];
    char *tmp = n < sizeof local ? local : malloc(n + 1);
    if (tmp == NULL)
        return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_digit(text[i]) || text[i] == '.')
            tmp[k++] = text[i];
    tmp[k] = '\0';
    double v;
    if (!hs_jscan_exact_decimal(tmp, k, &v))
        v = strtod(tmp, NULL);
    if (tmp != local)
        free(tmp);
    return v;
}

/* fieldset_float of the number node v's value, remembering v (see
 * line_holes). */
static void fieldset_number(fieldset *fs, const char *key, size_t klen,
                            const msgjson_node *v, bool absent)
{
    double d = number_value(v);
    if (!isfinite(d)) {
        fieldset_float(fs, key, klen, d, absent);
        return;
    }
    field *f = absent ? fieldset_push(fs, key, klen) : fieldset_slot(fs, key, klen);
    if (f != NULL) {
        f->type = FIELD_FLOAT;
        f->num = d;
        f->src = v;
    }
}

/* HA's attribute rule for the member whose key node is kn: float(value)
 * under the key, else "<key>_str" with the text (and the digits of a text
 * like "12 km" under the key). A key already among the fields, and the key
 * "time", get a trailing '_' first. */
static void add_attribute(fieldset *fs, const msgjson_node *kn)
{
    const char *name = kn->u.s;
    size_t nlen = kn->count;
    const msgjson_node *value = kn + 1;
    if (nlen == 0) {
        fs->dropped++; /* InfluxDB refuses an empty field key */
        return;
    }
    /* influxd refuses a field named "time" (it drops the point or the
     * field): it is treated like a key already taken. */
    bool taken = KEY_IS(kn, "time") || fieldset_find_n(fs, name, nlen) != NULL;
    const char *key = name;
    size_t klen = nlen;
    if (taken) {
        key = fieldset_copy2(fs, name, nlen, "_", 1);
        if (key == NULL)
            return;
        klen++;
    }
    double num;
    if (is_number(value)) {
        fieldset_number(fs, key, klen, value, !taken);
        return;
    }
    if (value_as_float(value, &num)) {
        fieldset_float(fs, key, klen, num, !taken);
        return;
    }
    const char *text;
    size_t tlen;
    if (is_string(value)) {
        text = value->u.s;
        tlen = value->count;
    } else if (is_null(value)) {
        text = "None";
        tlen = 4;
    } else {
        char *owned = value_text(value);
        if (owned == NULL) {
            fs->oom = true;
            return;
        }
        tlen = strlen(owned);
        text = fieldset_copy2(fs, owned, tlen, NULL, 0);
        free(owned);
        if (text == NULL)
            return;
    }
    const char *skey = fieldset_copy2(fs, key, klen, "_str", 4);
    if (skey == NULL)
        return;
    fieldset_string(fs, skey, klen + 4, text, tlen, false);
    /* key differs from skey, so it is still absent when it was */
    if (digit_tail(text, tlen))
        fieldset_float(fs, key, klen, digit_tail_value(text, tlen), !taken);
}

/* The key of a homestream extra named name (a constant): name, or name
 * with a '_' appended (in the arena) when taken. Sets *klen and *absent
 * (whether the key is known not to be among the fields). Returns NULL when
 * out of memory (fs->oom set). */
static inline const char *extra_key(fieldset *fs, const char *name, size_t nlen,
                                    size_t *klen, bool *absent)
{
    if (fieldset_find_n(fs, name, nlen) == NULL) {
        *klen = nlen;
        *absent = true;
        return name;
    }
    *klen = nlen + 1;
    *absent = false;
    return fieldset_copy2(fs, name, nlen, "_", 1);
}

/* A homestream extra: same clash rule as attributes, typed as given. name
 * is a string literal. */
#define add_extra_number(fs, name, v) add_extra_number_n(fs, name, sizeof(name) - 1, v)
#define add_extra_string(fs, name, v) add_extra_string_n(fs, name, sizeof(name) - 1, v)
#define add_extra_bool(fs, name, v) add_extra_bool_n(fs, name, sizeof(name) - 1, v)

static inline void add_extra_number_n(fieldset *fs, const char *name, size_t nlen,
                                      const msgjson_node *v)
{
    if (!is_number(v))
        return;
    size_t klen;
    bool absent;
    const char *key = extra_key(fs, name, nlen, &klen, &absent);
    if (key != NULL)
        fieldset_float(fs, key, klen, number_value(v), absent);
}

static inline void add_extra_string_n(fieldset *fs, const char *name, size_t nlen,
                                      const msgjson_node *v)
{
    if (!is_string(v))
        return;
    size_t klen;
    bool absent;
    const char *key = extra_key(fs, name, nlen, &klen, &absent);
    if (key != NULL)
        fieldset_string(fs, key, klen, v->u.s, v->count, absent);
}

static inline void add_extra_bool_n(fieldset *fs, const char *name, size_t nlen,
                                    const msgjson_node *v)
{
    if (!is_boolean(v))
        return;
    size_t klen;
    bool absent;
    const char *key = extra_key(fs, name, nlen, &klen, &absent);
    if (key != NULL)
        fieldset_bool(fs, key, klen, is_true(v), absent);
}

/* True when s (n bytes) is the string literal lit. */
#define TEXT_IS(s, n, lit)                                                               \
    ((n) == sizeof(lit) - 1 && memcmp((s), lit, sizeof(lit) - 1) == 0)

/* HA's state_as_number word states (helpers/state.py) for the state s (n
 * bytes). "unknown" is left out on purpose: homestream keeps it as a
 * state, without a value. */
static bool word_state(const char *s, size_t n, double *out)
{
    if (TEXT_IS(s, n, "on") || TEXT_IS(s, n, "locked") ||
        TEXT_IS(s, n, "above_horizon") || TEXT_IS(s, n, "open") ||
        TEXT_IS(s, n, "home")) {
        *out = 1.0;
        return true;
    }
    if (TEXT_IS(s, n, "off") || TEXT_IS(s, n, "unlocked") ||
        TEXT_IS(s, n, "below_horizon") || TEXT_IS(s, n, "closed") ||
        TEXT_IS(s, n, "not_home")) {
        *out = 0.0;
        return true;
    }
    return false;
}

static bool kept_as_state(const char *s, size_t n)
{
    return n == 0 || TEXT_IS(s, n, "unknown") || TEXT_IS(s, n, "unavailable");
}

/* A string node's text, or NULL; its length, or 0. */
static const char *str_of(const msgjson_node *v)
{
    return is_string(v) ? v->u.s : NULL;
}

static size_t len_of(const msgjson_node *v)
{
    return is_string(v) ? v->count : 0;
}

/* An entity's domain and object id (each NUL-terminated, with its length). */
typedef struct {
    const char *domain;
    size_t domain_len;
    const char *object_id;
    size_t object_len;
    char buf[256]; /* the domain when split from entity_id */
} entity_ids;

/* Fills e from the message (its domain and object_id fields, else split
 * from entity_id). Returns 0 or -1. */
static int entity_parts(const msg_index *msg, const char *entity_id, entity_ids *e)
{
    const msgjson_node *d = mget(msg, K_DOMAIN);
    const msgjson_node *o = mget(msg, K_OBJECT_ID);
    if (len_of(d) > 0 && len_of(o) > 0 && d->count < 256) {
        e->domain = d->u.s;
        e->domain_len = d->count;
        e->object_id = o->u.s;
        e->object_len = o->count;
        return 0;
    }
    const char *obj = hs_event_split_entity(entity_id, e->buf, sizeof e->buf);
    if (obj == NULL)
        return -1;
    e->domain = e->buf;
    e->domain_len = strlen(e->buf);
    e->object_id = obj;
    e->object_len = strlen(obj);
    return 0;
}

/* ---- schemas ----------------------------------------------------------- */

typedef struct {
    const lineproto_opts *opts;
    lineproto_info *info;
    char *err;
    size_t errlen;
    lineproto_cache *cache; /* NULL: every line encoded in full */
} enc_ctx;

/* The values a state change's line is made of besides its state, the
 * enricher's value and its time (see the shape cache below), found once per
 * message, in a fixed order; NULL for one absent. */
enum {
    P_ENTITY_ID,
    P_DOMAIN,
    P_OBJECT_ID,
    P_UNIT,
    P_AREA,
    P_SITE,
    P_ATTRS,                    /* new_state.attributes when an object */
    P_WEATHER,                  /* its temperature, humidity, pressure and condition */
    P_PRESENCE = P_WEATHER + 4, /* its anyone_home and people_home */
    SHAPE_PARTS = P_PRESENCE + 2
};

/* Finds the shape's parts of a state change; with msg's memo once known,
 * weather's and presence's members from it. */
static void shape_parts(const msg_index *msg, const msgjson_node *attrs,
                        const msgjson_node **part)
{
    static const member_name WEATHER[] = {MEMBER("temperature"), MEMBER("humidity"),
                                          MEMBER("pressure"), MEMBER("condition")};
    static const member_name PRESENCE[] = {MEMBER("anyone_home"), MEMBER("people_home")};
    part[P_ENTITY_ID] = mget(msg, K_ENTITY_ID);
    part[P_DOMAIN] = mget(msg, K_DOMAIN);
    part[P_OBJECT_ID] = mget(msg, K_OBJECT_ID);
    part[P_UNIT] = mget(msg, K_UNIT);
    part[P_AREA] = mget(msg, K_AREA);
    part[P_SITE] = mget(msg, K_SITE);
    part[P_ATTRS] = attrs;
    member_memo *memo = msg->memo;
    if (memo != NULL && memo->ha_known) {
        for (size_t i = 0; i < 4; i++)
            part[P_WEATHER + i] = memo_node(msg->root, memo->weather[i]);
        for (size_t i = 0; i < 2; i++)
            part[P_PRESENCE + i] = memo_node(msg->root, memo->presence[i]);
        return;
    }
    members_get(mget(msg, K_WEATHER), WEATHER, 4, part + P_WEATHER);
    members_get(mget(msg, K_PRESENCE), PRESENCE, 2, part + P_PRESENCE);
}

/* Notes in memo where a state change's members lie: new_state's (nsv: its
 * state and attributes) and the shape's weather and presence parts. */
static void memo_note_ha(member_memo *memo, const msgjson_node *root,
                         const msgjson_node *const *nsv, const msgjson_node *const *part)
{
    for (size_t i = 0; i < 2; i++)
        memo->new_state[i] = memo_at(root, nsv[i]);
    for (size_t i = 0; i < 4; i++)
        memo->weather[i] = memo_at(root, part[P_WEATHER + i]);
    for (size_t i = 0; i < 2; i++)
        memo->presence[i] = memo_at(root, part[P_PRESENCE + i]);
    memo->ha_known = 1;
}

/* The fields of a state change after its state and value: its attributes
 * (without unit_of_measurement or device_class when include_uom or
 * include_dc is false) and homestream's weather and presence extras. */
static void add_tail_fields(fieldset *fs, const msgjson_node *const *part,
                            bool include_uom, bool include_dc)
{
    const msgjson_node *attrs = part[P_ATTRS];
    if (attrs != NULL) {
        FOR_MEMBERS(kn, attrs)
        {
            if (!include_uom && KEY_IS(kn, "unit_of_measurement"))
                continue;
            if (!include_dc && KEY_IS(kn, "device_class"))
                continue;
            add_attribute(fs, kn);
        }
    }
    const msgjson_node *const *w = part + P_WEATHER, *const *p = part + P_PRESENCE;
    add_extra_number(fs, "weather_temperature", w[0]);
    add_extra_number(fs, "weather_humidity", w[1]);
    add_extra_number(fs, "weather_pressure", w[2]);
    add_extra_string(fs, "weather_condition", w[3]);
    add_extra_bool(fs, "anyone_home", p[0]);
    add_extra_number(fs, "people_home", p[1]);
}

/* ---- the shape cache ---------------------------------------------------- */

/* A state change's line is a function of the options and of the values it
 * reads (see encode_ha_state): the state and the enricher's value, the
 * time, and the rest, its shape: the entity's ids, unit, area and site,
 * its attributes and the weather and presence members written. An entity's
 * shape seldom changes from one state to the next, so the cache keeps, per
 * entity, the last shape seen (a copy of its nodes) and what it made: the
 * measurement and tags (head) and the fields after state and value (tail).
 * A message of the same shape, node for node, gets head, its own state and
 * value fields, tail and time.
 *
 * That holds when the state and value fields cannot change the tail: no
 * attribute is named "state" or "value" (HA's rules rename or replace such
 * a key depending on what came before it; other keys never meet these two,
 * not even as influxd stores keys) and the tail has a field (else the line
 * would fall back to the state's text). An entry is made only then, and
 * only when composing it gives, for the message it is made from, the very
 * line and dropped count the full encoding gave.
 *
 * An attribute whose value is a number (a light's brightness, a sensor's
 * battery or link quality) may change with every state without changing
 * the shape: its field's text is the number as put_double writes it, and
 * nothing else in the line depends on it. The entry keeps where in the tail
 * the first CACHE_HOLES_MAX such numbers lie (holes); a message whose
 * shape differs only in their values, node types the same, gets the tail
 * with its own numbers put in. unit_of_measurement and device_class are
 * never holes: a measurement may be made of them. */

#define CACHE_SLOTS 4096            /* a power of two */
#define CACHE_WAYS 8                /* the slots an entity may take (way_slot) */
#define CACHE_ENTRY_MAX (16 * 1024) /* bytes: larger shapes are not kept */
/* Entries live in slabs the cache owns, not in blocks of their own, so
 * that clearing the cache frees them whole, without small holes left
 * between the writer's other allocations. A slab is at least glibc's
 * 128 KB mmap threshold. Past CACHE_MEM_MAX of slabs (an entry outgrown
 * leaves its old room behind) every entry is forgotten and made again. */
#define CACHE_SLAB (256 * 1024)
#define CACHE_MEM_MAX (8 * 1024 * 1024)
#define CACHE_HOLES_MAX LINE_HOLES_MAX

/* A number of the tail that is a message's own (see above). */
typedef struct {
    uint32_t node; /* its node's index among the entry's nodes */
    uint32_t at;   /* its text's offset in the tail */
    uint32_t len;  /* and length */
} shape_hole;

typedef struct {
    uint64_t used;    /* the cache's clock when last hit or made */
    uint32_t changed; /* messages in a row that found the entity in another shape */
    uint32_t part_nodes[SHAPE_PARTS];
    size_t head_len, tail_len;
    unsigned dropped;  /* fields the tail leaves out */
    uint32_t attrs_at; /* the index of the attributes' first node among the nodes */
    uint32_t nholes;
    shape_hole hole[CACHE_HOLES_MAX]; /* in the tail's order */
    /* nodes (strings pointing into strs), then strs, then head, then tail,
     * in one of the cache's slabs */
    char *mem;
    size_t cap;
    msgjson_node *nodes;
    const char *head, *tail;
} shape_entry;

typedef struct cache_slab {
    struct cache_slab *next;
    size_t used;
    max_align_t data[]; /* CACHE_SLAB bytes */
} cache_slab;

struct lineproto_cache {
    lineproto_opts opts; /* the options the entries were made with */
    char *default_measurement, *override_measurement;
    bool have_opts;
    shape_entry *slot; /* CACHE_SLOTS of them once one is needed, else NULL */
    uint64_t *tag;     /* in slot's block: CACHE_SLOTS, the entity_id hash of a
                        * slot holding a shape, else 0 */
    cache_slab *slabs; /* newest first */
    size_t slab_bytes;
    lineproto_buf scratch;
    uint64_t clock;
    uint64_t hits, misses, kept;
};

lineproto_cache *lineproto_cache_new(void)
{
    lineproto_cache *c = calloc(1, sizeof *c);
    if (c != NULL)
        lineproto_buf_init(&c->scratch);
    return c;
}

/* Forgets every entry and frees the slabs; the table of slots stays. */
static void forget_entries(lineproto_cache *c)
{
    while (c->slabs != NULL) {
        cache_slab *next = c->slabs->next;
        free(c->slabs);
        c->slabs = next;
    }
    c->slab_bytes = 0;
    if (c->slot != NULL)
        memset(c->slot, 0, CACHE_SLOTS * (sizeof *c->slot + sizeof *c->tag));
}

/* n bytes (at most CACHE_ENTRY_MAX) of the newest slab, aligned for nodes,
 * or NULL when the slabs are at CACHE_MEM_MAX or out of memory. */
static char *slab_alloc(lineproto_cache *c, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    cache_slab *s = c->slabs;
    if (s == NULL || CACHE_SLAB - s->used < n) {
        if (c->slab_bytes + CACHE_SLAB > CACHE_MEM_MAX ||
            (s = malloc(sizeof *s + CACHE_SLAB)) == NULL)
            return NULL;
        s->next = c->slabs;
        s->used = 0;
        c->slabs = s;
        c->slab_bytes += CACHE_SLAB;
    }
    char *p = (char *)s->data + s->used;
    s->used += n;
    return p;
}

void lineproto_cache_clear(lineproto_cache *c)
{
    if (c == NULL)
        return;
    forget_entries(c);
    free(c->slot); /* an idle writer holds none of it */
    c->slot = NULL;
    c->tag = NULL;
    lineproto_buf_fini(&c->scratch);
    lineproto_buf_init(&c->scratch);
}

void lineproto_cache_free(lineproto_cache *c)
{
    if (c == NULL)
        return;
    lineproto_cache_clear(c);
    free(c->default_measurement);
    free(c->override_measurement);
    free(c);
}

void lineproto_cache_counts(const lineproto_cache *c, uint64_t *hits, uint64_t *misses,
                            uint64_t *kept)
{
    *hits = c->hits;
    *misses = c->misses;
    *kept = c->kept;
}

static bool same_opt_text(const char *a, const char *b)
{
    return nonempty(a) ? nonempty(b) && strcmp(a, b) == 0 : !nonempty(b);
}

/* Makes sure c's entries were made with o: when not, forgets them and takes
 * o. Returns false when out of memory (c unusable for this message). */
static bool cache_for(lineproto_cache *c, const lineproto_opts *o)
{
    if (c->have_opts && c->opts.schema == o->schema &&
        c->opts.measurement_attr == o->measurement_attr &&
        same_opt_text(c->default_measurement, o->default_measurement) &&
        same_opt_text(c->override_measurement, o->override_measurement))
        return true;
    lineproto_cache_clear(c);
    free(c->default_measurement);
    free(c->override_measurement);
    c->default_measurement =
        nonempty(o->default_measurement) ? strdup(o->default_measurement) : NULL;
    c->override_measurement =
        nonempty(o->override_measurement) ? strdup(o->override_measurement) : NULL;
    c->have_opts = (c->default_measurement != NULL) == nonempty(o->default_measurement) &&
                   (c->override_measurement != NULL) == nonempty(o->override_measurement);
    c->opts = *o;
    return c->have_opts;
}

/* A hash of the entity_id string node e (a string: encode_ha_state
 * checked); never 0, which marks an empty slot's tag. */
static uint64_t entity_hash(const msgjson_node *e)
{
    uint64_t h = msgjson_bytes_hash(e->u.s, e->count);
    return h != 0 ? h : 1;
}

_Static_assert((CACHE_WAYS - 1) * 7 + 12 <= 64 && CACHE_SLOTS <= 4096,
               "way_slot's shifts keep within the hash");

/* The slot an entity whose entity_id hashes to h may take w-th: each from
 * other bits of h, so that entities sharing one slot seldom share the
 * others (at 3,000 entities, CACHE_WAYS slots side by side lost 13 % of the
 * entries of a second round to their neighbours; these, 1 %). */
static size_t way_slot(uint64_t h, size_t w)
{
    return (size_t)(h >> (w * 7)) & (CACHE_SLOTS - 1);
}

/* e's slot's tag: its hash while it holds a shape, else 0. */
static uint64_t *slot_tag(lineproto_cache *c, const shape_entry *e)
{
    return &c->tag[e - c->slot];
}

/* The entry of the entity whose entity_id hashes to h, among its
 * CACHE_WAYS slots (way_slot): NULL when none holds it; with for_store,
 * the slot to make its entry in instead (the first empty one, else the
 * least recently used; NULL when out of memory). Looking up reads the
 * tags only, 32 KB in all, not the entries. Entities that hash alike share
 * an entry. */
static shape_entry *entity_slot(lineproto_cache *c, uint64_t h, bool for_store)
{
    if (c->slot == NULL) {
        if (!for_store ||
            (c->slot = calloc(CACHE_SLOTS, sizeof *c->slot + sizeof *c->tag)) == NULL)
            return NULL;
        c->tag = (uint64_t *)(void *)(c->slot + CACHE_SLOTS);
    }
    for (size_t w = 0; w < CACHE_WAYS; w++) {
        size_t at = way_slot(h, w);
        if (c->tag[at] == h)
            return &c->slot[at];
    }
    if (!for_store)
        return NULL;
    shape_entry *victim = NULL;
    for (size_t w = 0; w < CACHE_WAYS; w++) {
        shape_entry *e = &c->slot[way_slot(h, w)];
        if (*slot_tag(c, e) == 0)
            return e;
        if (victim == NULL || e->used < victim->used)
            victim = e;
    }
    return victim;
}

/* True when node i (of the entry's nodes) is one of e's holes. */
static bool is_hole(const shape_entry *e, size_t i)
{
    for (uint32_t h = 0; h < e->nholes; h++)
        if (e->hole[h].node == i)
            return true;
    return false;
}

/* True when the n nodes at a and at b (the entry e's, from its node first
 * on) are the same values; with e, those of e's holes need only be of the
 * same type. */
static bool nodes_equal(const msgjson_node *a, const msgjson_node *b, size_t n,
                        const shape_entry *e, size_t first)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].type != b[i].type || a[i].span != b[i].span || a[i].count != b[i].count)
            return false;
        if (e != NULL && e->nholes > 0 &&
            (a[i].type == MSGJSON_INTEGER || a[i].type == MSGJSON_REAL) &&
            is_hole(e, first + i))
            continue;
        switch (a[i].type) {
        case MSGJSON_STRING:
            if (!msgjson_bytes_equal(a[i].u.s, b[i].u.s, a[i].count))
                return false;
            break;
        case MSGJSON_INTEGER:
            if (a[i].u.i != b[i].u.i)
                return false;
            break;
        case MSGJSON_REAL:
            if (memcmp(&a[i].u.d, &b[i].u.d, sizeof a[i].u.d) != 0)
                return false;
            break;
        default:
            break;
        }
    }
    return true;
}

static bool shape_matches(const shape_entry *e, const msgjson_node *const *part)
{
    const msgjson_node *mine = e->nodes;
    for (size_t i = 0; i < SHAPE_PARTS; i++) {
        uint32_t n = e->part_nodes[i];
        if (part[i] == NULL) {
            if (n != 0)
                return false;
            continue;
        }
        if (part[i]->span != n || !nodes_equal(part[i], mine, n, i == P_ATTRS ? e : NULL,
                                               (size_t)(mine - e->nodes)))
            return false;
        mine += n;
    }
    return true;
}

/* The state and value fields of a line. */
typedef struct {
    const char *state;
    size_t state_len;
    bool include_state, include_value;
    double value;
} state_fields;

/* Appends e's line with sf, the numbers of attrs (the message's
 * attributes, of e's shape) in e's holes and time_ns, as encode_ha_state
 * writes it, and sets *dropped to the fields it leaves out. Returns 0, or
 * -1 when out of memory or a hole's number is not finite (out unchanged). */
static int compose(lineproto_buf *out, const shape_entry *e, const state_fields *sf,
                   const msgjson_node *attrs, int64_t time_ns, unsigned *dropped)
{
    if (sf->state_len > SIZE_MAX / 8 ||
        lineproto_buf_reserve(out, e->head_len + e->tail_len + sf->state_len * 3 +
                                       (e->nholes + 1) * DOUBLE_MAX + 64 + ESCAPE_SLACK) <
            0)
        return -1;
    char *o = out->data + out->len;
    memcpy(o, e->head, e->head_len);
    o += e->head_len;
    char sep = ' ';
    *dropped = e->dropped;
    if (sf->include_state) {
        bool plain = true;
        *o++ = sep;
        memcpy(o, "state=\"", 7);
        o = escape_to(o + 7, LINEPROTO_STRING, sf->state, sf->state_len, &plain);
        *o++ = '"';
        sep = ',';
    }
    if (sf->include_value) {
        if (isfinite(sf->value)) {
            *o++ = sep;
            memcpy(o, "value=", 6);
            o = put_double(o + 6, sf->value);
            sep = ',';
        } else {
            (*dropped)++;
        }
    }
    *o++ = sep;
    size_t from = 0;
    for (uint32_t h = 0; h < e->nholes; h++) {
        const shape_hole *hole = &e->hole[h];
        double v = number_value(&attrs[hole->node - e->attrs_at]);
        if (!isfinite(v))
            return -1;
        memcpy(o, e->tail + from, hole->at - from);
        o = put_double(o + (hole->at - from), v);
        from = hole->at + hole->len;
    }
    memcpy(o, e->tail + from, e->tail_len - from);
    o += e->tail_len - from;
    *o++ = ' ';
    o = put_int(o, time_ns);
    *o++ = '\n';
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* On a message whose entity (its entity_id hashing to h) has an entry of
 * the same shape (part, from shape_parts): appends its line, sets c->info
 * and returns true. Otherwise false, nothing written. */
static bool shape_hit(enc_ctx *c, const msgjson_node *const *part, uint64_t h,
                      const state_fields *sf, lineproto_buf *out, int64_t time_ns)
{
    lineproto_cache *cache = c->cache;
    if (!cache_for(cache, c->opts))
        return false;
    shape_entry *e = entity_slot(cache, h, false);
    if (e == NULL || !shape_matches(e, part)) {
        if (e != NULL && e->changed < UINT32_MAX)
            e->changed++;
        cache->misses++;
        return false;
    }
    e->changed = 0;
    e->used = ++cache->clock;
    unsigned dropped;
    if (compose(out, e, sf, part[P_ATTRS], time_ns, &dropped) < 0)
        return false; /* the full encoding reports it */
    cache->hits++;
    c->info->dropped_fields += dropped;
    c->info->points = 1;
    return true;
}

/* The bytes a copy of the n nodes at v takes: nodes and strings. Returns
 * SIZE_MAX when v holds a node that cannot be compared (a skipped one). */
static size_t nodes_size(const msgjson_node *v, size_t n)
{
    size_t sz = n * sizeof *v;
    for (size_t i = 0; i < n; i++) {
        if (v[i].type == MSGJSON_SKIPPED)
            return SIZE_MAX;
        if (v[i].type == MSGJSON_STRING)
            sz += (size_t)v[i].count + 1;
    }
    return sz;
}

/* After the full encoding of a state change of shape part (its entity_id
 * hashing to h) wrote line (len bytes, cut as write_line_at cuts it after
 * the state and value fields, with the numbers of holes): makes the
 * entity's entry from it when the
 * cache may (see above), replacing what its slot held. Failing to is never an error: the
 * next message of the entity is encoded in full again. */
static void shape_store(enc_ctx *c, const msgjson_node *const *part, uint64_t h,
                        const char *line, size_t len, const size_t *cut,
                        const line_holes *holes, const state_fields *sf, int64_t time_ns)
{
    lineproto_cache *cache = c->cache;
    if (!cache->have_opts)
        return;
    shape_entry *e = entity_slot(cache, h, true);
    if (e == NULL)
        return; /* out of memory: no entry */
    if (*slot_tag(cache, e) != h) {
        e->changed = 0;
    } else if (!msgjson_remake_due(e->changed)) {
        /* An entity whose shape changes with every state (a media player's
         * title) would pay for a new entry each time: after two in a row it
         * gets one only now and then, and keeps the last. */
        return;
    }
    *slot_tag(cache, e) = 0;
    if (part[P_ATTRS] != NULL) {
        FOR_MEMBERS(kn, part[P_ATTRS])
        {
            if (KEY_IS(kn, "state") || KEY_IS(kn, "value"))
                return;
        }
    }
    /* line: head, ' ', state and value fields, separator, tail, ' ', time */
    const char *time_at = memrchr(line, ' ', len);
    if (time_at == NULL || cut[1] >= (size_t)(time_at - line))
        return; /* no tail */
    size_t head_len = cut[0], tail_len = (size_t)(time_at - line) - cut[1] - 1;
    size_t need = head_len + tail_len;
    for (size_t i = 0; i < SHAPE_PARTS && need <= CACHE_ENTRY_MAX; i++)
        if (part[i] != NULL) {
            size_t sz = nodes_size(part[i], part[i]->span);
            need = sz > CACHE_ENTRY_MAX ? SIZE_MAX : need + sz;
        }
    if (need > CACHE_ENTRY_MAX)
        return;
    if (need > e->cap) {
        char *m = slab_alloc(cache, need);
        if (m == NULL) {
            forget_entries(cache); /* e too: made again next time */
            return;
        }
        e->mem = m;
        e->cap = need;
    }
    /* nodes first (aligned: slab_alloc aligns), then their strings */
    size_t nn = 0;
    for (size_t i = 0; i < SHAPE_PARTS; i++)
        nn += part[i] != NULL ? part[i]->span : 0;
    e->nodes = (msgjson_node *)(void *)e->mem;
    char *strs = e->mem + nn * sizeof *e->nodes;
    msgjson_node *to = e->nodes;
    for (size_t i = 0; i < SHAPE_PARTS; i++) {
        uint32_t n = part[i] != NULL ? part[i]->span : 0;
        e->part_nodes[i] = n;
        for (uint32_t k = 0; k < n; k++, to++) {
            *to = part[i][k];
            if (to->type == MSGJSON_STRING) {
                memcpy(strs, part[i][k].u.s, (size_t)to->count + 1);
                to->u.s = strs;
                strs += (size_t)to->count + 1;
            }
        }
    }
    memcpy(strs, line, head_len);
    e->head = strs;
    e->head_len = head_len;
    memcpy(strs + head_len, line + cut[1] + 1, tail_len);
    e->tail = strs + head_len;
    e->tail_len = tail_len;
    e->dropped = c->info->dropped_fields;
    if (sf->include_value && !isfinite(sf->value))
        e->dropped--; /* the value's own */

    /* The attributes' numbers in the tail (see above). */
    const msgjson_node *attrs = part[P_ATTRS];
    size_t tail_at = cut[1] + 1;
    e->attrs_at = 0;
    for (size_t i = 0; i < P_ATTRS; i++)
        e->attrs_at += e->part_nodes[i];
    e->nholes = 0;
    for (size_t i = 0; attrs != NULL && i < holes->n; i++) {
        const line_hole *lh = &holes->v[i];
        if (lh->src <= attrs || lh->src >= attrs + attrs->span || lh->at < tail_at ||
            lh->at - tail_at + lh->len > tail_len)
            continue;
        const msgjson_node *key = lh->src - 1; /* add_attribute's key node */
        if (KEY_IS(key, "unit_of_measurement") || KEY_IS(key, "device_class"))
            continue;
        shape_hole *sh = &e->hole[e->nholes++];
        sh->node = e->attrs_at + (uint32_t)(lh->src - attrs);
        sh->at = (uint32_t)(lh->at - tail_at);
        sh->len = lh->len;
    }

    /* Composed for this very message, the entry must give its line. */
    lineproto_buf *sc = &cache->scratch;
    unsigned dropped;
    lineproto_buf_truncate(sc, 0);
    if (compose(sc, e, sf, attrs, time_ns, &dropped) < 0 || sc->len != len ||
        memcmp(sc->data, line, len) != 0 || dropped != c->info->dropped_fields)
        return;
    *slot_tag(cache, e) = h;
    e->used = ++cache->clock;
    cache->kept++;
}

static int encode_ha_state(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                           int64_t time_ns)
{
    const msgjson_node *ns = mget(msg, K_NEW_STATE);
    if (!is_object(ns)) {
        c->info->skip_reason = "no new_state (entity removed)";
        return 0;
    }
    const msgjson_node *eid = mget(msg, K_ENTITY_ID);
    const char *entity_id = str_of(eid);
    if (!nonempty(entity_id)) {
        snprintf(c->err, c->errlen, "state_changed without entity_id");
        return -1;
    }
    static const member_name NEW_STATE[] = {MEMBER("state"), MEMBER("attributes")};
    const msgjson_node *nsv[2];
    member_memo *memo = msg->memo;
    if (memo != NULL && memo->ha_known) {
        nsv[0] = memo_node(msg->root, memo->new_state[0]);
        nsv[1] = memo_node(msg->root, memo->new_state[1]);
    } else {
        members_get(ns, NEW_STATE, 2, nsv);
    }
    const msgjson_node *state_j = nsv[0];
    if (!is_string(state_j)) {
        snprintf(c->err, c->errlen, "new_state.state is not a string");
        return -1;
    }
    const char *state = state_j->u.s;
    size_t state_len = state_j->count;
    entity_ids ids;
    if (entity_parts(msg, entity_id, &ids) < 0) {
        snprintf(c->err, c->errlen, "malformed entity_id");
        return -1;
    }
    const msgjson_node *attrs = is_object(nsv[1]) ? nsv[1] : NULL;

    /* state / value, as HA's event_to_json decides them: a state Python's
     * float() reads is a value only (the enricher's number when it gave
     * one); a word state is both; any other state is text, with the
     * enricher's value too when it found one (its boolean-like words). */
    bool include_state = false, include_value = false;
    double value = 0, parsed;
    const msgjson_node *enriched_value = mget(msg, K_VALUE);
    bool enriched = is_number(enriched_value);
    if (kept_as_state(state, state_len)) {
        include_state = true;
    } else if (lineproto_parse_pyfloat(state, state_len, &parsed) == 0) {
        include_value = true;
        value = enriched && isfinite(parsed) ? number_value(enriched_value) : parsed;
    } else if (word_state(state, state_len, &value)) {
        include_state = include_value = true;
        if (enriched)
            value = number_value(enriched_value);
    } else {
        include_state = true;
        if (enriched) {
            include_value = true;
            value = number_value(enriched_value);
        }
    }

    /* The same entity in the same shape as before: the line it had, with
     * this state and time. */
    const msgjson_node *part[SHAPE_PARTS];
    shape_parts(msg, attrs, part);
    if (memo != NULL && !memo->ha_known)
        memo_note_ha(memo, msg->root, nsv, part);
    uint64_t h = c->cache != NULL ? entity_hash(part[P_ENTITY_ID]) : 0;
    state_fields sf = {state, state_len, include_state, include_value, value};
    if (c->cache != NULL && shape_hit(c, part, h, &sf, out, time_ns))
        return 0;

    /* measurement */
    const lineproto_opts *o = c->opts;
    bool include_uom = true, include_dc = true;
    char *owned = NULL;
    const char *measurement = NULL;
    size_t mlen = 0;
    if (nonempty(o->override_measurement)) {
        measurement = o->override_measurement;
        mlen = strlen(measurement);
    } else {
        if (o->measurement_attr == LINEPROTO_MATTR_ENTITY_ID) {
            measurement = entity_id;
            mlen = eid->count;
        } else if (o->measurement_attr == LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS) {
            const msgjson_node *dc = msgjson_get(attrs, "device_class");
            if (dc == NULL || is_null(dc)) {
                measurement = ids.domain;
                mlen = ids.domain_len;
            } else {
                char *t = value_text(dc);
                size_t need = ids.domain_len + (t ? strlen(t) : 0) + 3;
                owned = t ? malloc(need) : NULL;
                if (owned == NULL) {
                    free(t);
                    snprintf(c->err, c->errlen, "out of memory");
                    return -1;
                }
                snprintf(owned, need, "%s__%s", ids.domain, t);
                free(t);
                measurement = owned;
                mlen = strlen(owned);
                include_dc = false;
            }
        } else {
            const msgjson_node *unit = mget(msg, K_UNIT);
            if (o->measurement_attr == LINEPROTO_MATTR_UNIT && len_of(unit) > 0) {
                measurement = unit->u.s;
                mlen = unit->count;
            } else {
                const msgjson_node *m =
                    msgjson_get(attrs, o->measurement_attr == LINEPROTO_MATTR_UNIT
                                           ? "unit_of_measurement"
                                           : "device_class");
                if (is_string(m)) {
                    measurement = m->u.s;
                    mlen = m->count;
                } else if (m != NULL && !is_null(m)) {
                    owned = value_text(m);
                    measurement = owned;
                    mlen = len0(owned);
                }
            }
        }
        if (!nonempty(measurement)) {
            if (nonempty(o->default_measurement)) {
                measurement = o->default_measurement;
                mlen = strlen(measurement);
            } else {
                measurement = entity_id;
                mlen = eid->count;
            }
        } else {
            include_uom = o->measurement_attr != LINEPROTO_MATTR_UNIT;
        }
    }

    fieldset fs;
    fieldset_init(&fs);
    if (include_state)
        fieldset_string(&fs, "state", 5, state, state_len, true);
    if (include_value)
        fieldset_float(&fs, "value", 5, value, true);
    add_tail_fields(&fs, part, include_uom, include_dc);
    /* e.g. state "nan" and no attributes: keep the text. That field lands
     * after the state and value fields, where a shape's tail lies, so such
     * a line makes no shape: its tail is this message's own state. */
    bool state_fallback = fs.n == 0;
    if (state_fallback)
        fieldset_string(&fs, "state", 5, state, state_len, true);

    const msgjson_node *area = mget(msg, K_AREA), *site = mget(msg, K_SITE);
    const tag tags[] = {
        /* in key order */
        TAG("area", str_of(area), len_of(area)),
        TAG("domain", ids.domain, ids.domain_len),
        TAG("entity_id", ids.object_id, ids.object_len),
        TAG("site", str_of(site), len_of(site)),
    };
    size_t line_start = out->len, cut[2];
    line_holes holes;
    holes.n = 0;
    size_t own = (include_state ? 1 : 0) + (include_value && isfinite(value) ? 1 : 0);
    int rc = -1;
    if (!fs.oom)
        rc = write_line_at(out, measurement, mlen, tags, sizeof tags / sizeof tags[0],
                           &fs, time_ns, own, cut, c->cache != NULL ? &holes : NULL);
    c->info->dropped_fields += fs.dropped;
    fieldset_fini(&fs);
    if (rc == 0 && c->cache != NULL && !state_fallback)
        shape_store(c, part, h, out->data + line_start, out->len - line_start, cut,
                    &holes, &sf, time_ns);
    free(owned);
    if (rc < 0) {
        snprintf(c->err, c->errlen, "out of memory");
        return -1;
    }
    c->info->points = 1;
    return 0;
}

/* Writes the one point of an enricher-made record (weather, presence) from
 * fs, which it finalises, and adds fs's dropped fields to c->info. A record
 * with no fields is skipped with empty_reason and returns 0; otherwise
 * returns write_line's result, and -1 with c->err set when out of memory. */
static int write_own_point(enc_ctx *c, lineproto_buf *out, const char *measurement,
                           const tag *tags, size_t ntags, fieldset *fs, int64_t time_ns,
                           const char *empty_reason)
{
    int rc = 0;
    if (fs->n == 0) {
        c->info->skip_reason = empty_reason;
    } else if (!fs->oom) {
        rc = write_line(out, measurement, strlen(measurement), tags, ntags, fs, time_ns);
        if (rc == 0)
            c->info->points = 1;
    } else {
        rc = -1;
    }
    c->info->dropped_fields += fs->dropped;
    fieldset_fini(fs);
    if (rc < 0)
        snprintf(c->err, c->errlen, "out of memory");
    return rc;
}

static int encode_ha_weather(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                             int64_t time_ns)
{
    const msgjson_node *weather = mget(msg, K_WEATHER);
    if (!is_object(weather)) {
        c->info->skip_reason = "weather record without observation";
        return 0;
    }
    static const member_name WEATHER[] = {MEMBER("temperature"), MEMBER("humidity"),
                                          MEMBER("pressure"),    MEMBER("condition"),
                                          MEMBER("age_s"),       MEMBER("provider")};
    const msgjson_node *w[6];
    members_get(weather, WEATHER, 6, w);
    fieldset fs;
    fieldset_init(&fs);
    add_extra_number(&fs, "temperature", w[0]);
    add_extra_number(&fs, "humidity", w[1]);
    add_extra_number(&fs, "pressure", w[2]);
    add_extra_string(&fs, "condition", w[3]);
    add_extra_number(&fs, "age_s", w[4]);
    const msgjson_node *site = mget(msg, K_SITE);
    const tag tags[] = {
        /* in key order */
        TAG("provider", str_of(w[5]), len_of(w[5])),
        TAG("site", str_of(site), len_of(site)),
    };
    return write_own_point(c, out, "weather", tags, 2, &fs, time_ns,
                           "weather record without values");
}

static int encode_ha_presence(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                              int64_t time_ns)
{
    const msgjson_node *presence = mget(msg, K_PRESENCE);
    if (!is_object(presence)) {
        c->info->skip_reason = "presence record without snapshot";
        return 0;
    }
    static const member_name PRESENCE[] = {MEMBER("anyone_home"), MEMBER("people_home")};
    const msgjson_node *p[2];
    members_get(presence, PRESENCE, 2, p);
    fieldset fs;
    fieldset_init(&fs);
    add_extra_bool(&fs, "anyone_home", p[0]);
    add_extra_number(&fs, "people_home", p[1]);
    const msgjson_node *site = mget(msg, K_SITE);
    const tag tags[] = {TAG("site", str_of(site), len_of(site))};
    return write_own_point(c, out, "presence", tags, 1, &fs, time_ns,
                           "presence record without values");
}

/* A homestream_stats record (hs_statsrec.h), in either schema: measurement
 * homestream, tags stage and site, one float field per number in "stats".
 * Entries that are not numbers, and keys influxd cannot store (empty), are
 * left out and counted; "time", which influxd refuses, becomes "time_" as
 * for attributes (a "time_" already there keeps the first one). */
static int encode_stats(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                        int64_t time_ns)
{
    const msgjson_node *stats = mget(msg, K_STATS);
    if (!is_object(stats)) {
        c->info->skip_reason = "homestream_stats record without stats";
        return 0;
    }
    fieldset fs;
    fieldset_init(&fs);
    FOR_MEMBERS(kn, stats)
    {
        const msgjson_node *v = kn + 1;
        if (kn->count == 0 || !is_number(v)) {
            fs.dropped++;
            continue;
        }
        bool is_time = KEY_IS(kn, "time");
        const char *k = is_time ? "time_" : kn->u.s;
        size_t klen = is_time ? 5 : kn->count;
        if (fieldset_find_n(&fs, k, klen) != NULL) {
            fs.dropped++; /* "time" next to "time_": the first is kept */
            continue;
        }
        fieldset_float(&fs, k, klen, number_value(v), true);
    }
    int rc = 0;
    if (fs.oom) {
        rc = -1;
    } else if (fs.n == 0) {
        c->info->skip_reason = "homestream_stats record without numbers";
    } else {
        const msgjson_node *stage = mget(msg, K_STAGE), *site = mget(msg, K_SITE);
        const tag tags[] = {
            /* in key order */
            TAG("site", str_of(site), len_of(site)),
            TAG("stage", str_of(stage), len_of(stage)),
        };
        rc = write_line(out, "homestream", 10, tags, 2, &fs, time_ns);
        if (rc == 0)
            c->info->points = 1;
    }
    c->info->dropped_fields += fs.dropped;
    fieldset_fini(&fs);
    if (rc < 0)
        snprintf(c->err, c->errlen, "out of memory");
    return rc;
}

/* A string field key (a literal) with v as compact JSON text. */
static void add_json_text(fieldset *fs, const char *key, size_t klen,
                          const msgjson_node *v)
{
    char *t = dump_text(v);
    if (t == NULL) {
        fs->oom = true;
        return;
    }
    fieldset_string_copy(fs, key, klen, t);
    free(t);
}

static int encode_events(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                         int64_t time_ns, const msgjson_node *event_type)
{
    const msgjson_node *eid = mget(msg, K_ENTITY_ID);
    const char *entity_id = str_of(eid);
    entity_ids ids = {.domain = "", .domain_len = 0};
    if (nonempty(entity_id) && entity_parts(msg, entity_id, &ids) < 0) {
        ids.domain = "";
        ids.domain_len = 0;
    }
    fieldset fs;
    fieldset_init(&fs);
    const msgjson_node *ns = mget(msg, K_NEW_STATE);
    if (KEY_IS(event_type, "state_changed")) {
        if (is_object(ns)) {
            add_extra_string(&fs, "state", msgjson_get(ns, "state"));
            const msgjson_node *attrs = msgjson_get(ns, "attributes");
            if (is_object(attrs))
                add_json_text(&fs, "attributes", 10, attrs);
        } else {
            fieldset_bool(&fs, "removed", 7, true, true);
        }
        const msgjson_node *old = mget(msg, K_OLD_STATE);
        if (is_object(old))
            add_extra_string(&fs, "old_state", msgjson_get(old, "state"));
    } else {
        const msgjson_node *data = mget(msg, K_DATA);
        if (data == NULL)
            data = msgjson_get(msg->root, event_type->u.s);
        if (data != NULL)
            add_json_text(&fs, "data", 4, data);
    }
    add_extra_number(&fs, "value", mget(msg, K_VALUE));
    add_extra_string(&fs, "unit", mget(msg, K_UNIT));
    add_extra_bool(&fs, "backfill", mget(msg, K_BACKFILL));
    if (fs.n == 0)
        fieldset_string(&fs, "data", 4, "{}", 2, true);
    const msgjson_node *area = mget(msg, K_AREA), *site = mget(msg, K_SITE);
    const tag tags[] = {
        /* in key order */
        TAG("area", str_of(area), len_of(area)),
        TAG("domain", ids.domain, ids.domain_len),
        TAG("entity_id", entity_id, len_of(eid)),
        TAG("event_type", event_type->u.s, event_type->count),
        TAG("site", str_of(site), len_of(site)),
    };
    int rc = -1;
    if (!fs.oom)
        rc = write_line(out, "home_assistant_events", 21, tags,
                        sizeof tags / sizeof tags[0], &fs, time_ns);
    c->info->dropped_fields += fs.dropped;
    fieldset_fini(&fs);
    if (rc < 0) {
        snprintf(c->err, c->errlen, "out of memory");
        return -1;
    }
    c->info->points = 1;
    return 0;
}

int lineproto_encode_doc(const msgjson_doc *doc, const lineproto_opts *opts,
                         lineproto_buf *out, lineproto_info *info, char *err,
                         size_t errlen)
{
    return lineproto_encode_cached(doc, opts, NULL, out, info, err, errlen);
}

int lineproto_encode_cached(const msgjson_doc *doc, const lineproto_opts *opts,
                            lineproto_cache *cache, lineproto_buf *out,
                            lineproto_info *info, char *err, size_t errlen)
{
    info->points = 0;
    info->dropped_fields = 0;
    info->skip_reason = NULL;
    info->time_ns = INT64_MIN;
    const msgjson_node *root = msgjson_root(doc);
    if (!is_object(root)) {
        snprintf(err, errlen, "message is not a JSON object");
        return -1;
    }
    msg_index ix;
    msg_index_fill(&ix, root, (member_memo *)(void *)doc->scratch);
    const msg_index *msg = &ix;
    const msgjson_node *event_type = mget(msg, K_EVENT_TYPE);
    if (len_of(event_type) == 0) {
        snprintf(err, errlen, "message has no event_type");
        return -1;
    }
    int64_t time_ns;
    if (message_time(msg, &time_ns) < 0) {
        snprintf(err, errlen,
                 "message has no usable time (time_ns, last_updated, time_fired)");
        return -1;
    }
    info->time_ns = time_ns;
    enc_ctx c = {opts, info, err, errlen, cache};
    size_t start = out->len;
    int rc;
    if (KEY_IS(event_type, HS_STATSREC_EVENT_TYPE))
        rc = encode_stats(msg, &c, out, time_ns);
    else if (opts->schema == LINEPROTO_SCHEMA_EVENTS)
        rc = encode_events(msg, &c, out, time_ns, event_type);
    else if (KEY_IS(event_type, "state_changed"))
        rc = encode_ha_state(msg, &c, out, time_ns);
    else if (KEY_IS(event_type, "weather"))
        rc = encode_ha_weather(msg, &c, out, time_ns);
    else if (KEY_IS(event_type, "presence"))
        rc = encode_ha_presence(msg, &c, out, time_ns);
    else {
        info->skip_reason = "event type not written by the ha schema";
        rc = 0;
    }
    if (rc < 0 || info->points == 0) {
        lineproto_buf_truncate(out, start);
        info->points = 0;
    }
    return rc;
}

/* What the ha schema never reads (its encoders, message_time and
 * entity_parts, and the sink's time_ns, read only other members): the
 * objects that make most of a state change's text, old_state, the
 * message's and new_state's context, and an event's data. The enricher's
 * weather and presence objects are read, but stay the same bytes from one
 * message to the next for minutes: memoized. */
static const msgjson_filter HA_NEW_STATE[] = {
    MSGJSON_FILTER_KEY("context", NULL),
    MSGJSON_FILTER_END,
};
static const msgjson_filter HA_MESSAGE[] = {
    MSGJSON_FILTER_KEY("new_state", HA_NEW_STATE),
    MSGJSON_FILTER_KEY("old_state", NULL),
    MSGJSON_FILTER_KEY("context", NULL),
    MSGJSON_FILTER_KEY("data", NULL),
    MSGJSON_FILTER_MEMO("weather"),
    MSGJSON_FILTER_MEMO("presence"),
    MSGJSON_FILTER_END,
};

const msgjson_filter *lineproto_filter(const lineproto_opts *opts)
{
    return opts->schema == LINEPROTO_SCHEMA_HA ? HA_MESSAGE : NULL;
}

int lineproto_encode(const json_t *msg, const lineproto_opts *opts, lineproto_buf *out,
                     lineproto_info *info, char *err, size_t errlen)
{
    info->points = 0;
    info->dropped_fields = 0;
    info->skip_reason = NULL;
    msgjson_doc doc;
    msgjson_init(&doc);
    int rc = msgjson_from_json(&doc, msg);
    if (rc == 0)
        rc = lineproto_encode_doc(&doc, opts, out, info, err, errlen);
    else if (rc == -1)
        snprintf(err, errlen, "message is nested too deeply");
    else
        snprintf(err, errlen, "out of memory");
    msgjson_fini(&doc);
    return rc < 0 ? -1 : 0;
}

int lineproto_schema_parse(const char *name, lineproto_schema *out)
{
    if (name != NULL && strcmp(name, "ha") == 0)
        *out = LINEPROTO_SCHEMA_HA;
    else if (name != NULL && strcmp(name, "events") == 0)
        *out = LINEPROTO_SCHEMA_EVENTS;
    else
        return -1;
    return 0;
}

int lineproto_mattr_parse(const char *name, lineproto_mattr *out)
{
    static const struct {
        const char *name;
        lineproto_mattr v;
    } names[] = {
        {"unit_of_measurement", LINEPROTO_MATTR_UNIT},
        {"domain__device_class", LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS},
        {"device_class", LINEPROTO_MATTR_DEVICE_CLASS},
        {"entity_id", LINEPROTO_MATTR_ENTITY_ID},
    };
    for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].v;
            return 0;
        }
    return -1;
}
