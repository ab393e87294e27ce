/* hs_jscan.c - a strict, allocation-free JSON scanner (see hs_jscan.h). */
#include "hs_jscan.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void skip_ws(const char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    if (i < n && (unsigned char)s[i] > ' ')
        return; /* the common case: compact text */
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    *pos = i;
}

/* The four hex digits at s[i..i+4) as a code unit, or -1. */
static long hex4(const char *s, size_t n, size_t i)
{
    if (n - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value((unsigned char)s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

size_t hs_jscan_utf8_len(const char *s, size_t n, size_t i)
{
    const unsigned char *p = (const unsigned char *)s + i;
    /* The second byte's range rules out overlong forms (E0, F0),
     * surrogates (ED) and code points past U+10FFFF (F4). */
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n - i < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    return len;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The high bit of each of the eight bytes of x (on a little-endian machine
 * byte k of memory is bits 8k..8k+7) that is below 0x20, a quote, a backslash or
 * 0x80 and above, with the classic "has a zero byte" test: a byte b of y is
 * zero when (b - 1) & ~b has its high bit set. A borrow can only mark bytes
 * more significant than a true hit, never less, so on a little-endian
 * machine the lowest bit set is always the first such byte in memory; 0
 * when there is none. */
static uint64_t special_bits(uint64_t x)
{
    uint64_t quote = x ^ (ONES * '"');
    uint64_t bslash = x ^ (ONES * '\\');
    uint64_t ctrl = x - ONES * 0x20; /* high bit set from b < 0x20 (or b >= 0xa0) */
    uint64_t hit =
        ((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) | (ctrl & ~x) | x;
    return hit & HIGHS;
}

/* The index of the first byte from s[i] on (i <= n) that is below 0x20, a
 * quote, a backslash or 0x80 and above, or n when there is none: the end
 * of a run of plain string bytes. */
static inline size_t plain_run(const char *s, size_t n, size_t i)
{
#if defined(__SSE2__)
    /* Sixteen bytes at a time. A signed comparison with 0x20 flags the
     * bytes below it and those from 0x80 up (negative) at once. */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
            _mm_cmplt_epi8(x, space));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t bits = special_bits(x);
        if (bits) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* Straight to the first such byte (see special_bits). */
            return i + (size_t)__builtin_ctzll(bits) / 8;
#else
            break;
#endif
        }
        i += 8;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
            break;
        i++;
    }
    return i;
}

size_t hs_jscan_plain_run(const char *s, size_t n, size_t i)
{
    return plain_run(s, n, i);
}

/* scan_string from s[i], a byte that ends its first plain run. */
static int scan_string_rest(const char *s, size_t n, size_t *pos, size_t i, bool *escaped)
{
    bool esc = false;
    for (;;) {
        i = plain_run(s, n, i);
        if (i >= n)
            return -1;
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *pos = i + 1;
            *escaped = esc;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            size_t k = hs_jscan_utf8_len(s, n, i);
            if (k == 0)
                return -1;
            i += k;
            continue;
        }
        /* A backslash. */
        esc = true;
        if (i + 1 >= n)
            return -1;
        unsigned char e = (unsigned char)s[i + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
            e == 'r' || e == 't') {
            i += 2;
            continue;
        }
        if (e != 'u')
            return -1;
        long u = hex4(s, n, i + 2);
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
            return -1;
        i += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
                return -1;
            long lo = hex4(s, n, i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            i += 6;
        }
    }
}

/* A string whose opening quote is s[*pos]. Moves *pos past the closing
 * quote and sets *escaped. Returns 0 or -1. Inline for the common string,
 * one plain run up to its quote. */
static inline int scan_string(const char *s, size_t n, size_t *pos, bool *escaped)
{
    size_t i = plain_run(s, n, *pos + 1);
    if (i < n && s[i] == '"') {
        *pos = i + 1;
        *escaped = false;
        return 0;
    }
    return scan_string_rest(s, n, pos, i, escaped);
}

/* 19-digit magnitudes that still fit int64_t. */
static const char int64_max_digits[] = "9223372036854775807";
static const char int64_min_digits[] = "9223372036854775808";

/* A number starting at s[*pos]. Sets *integer. Returns 0 or -1. */
static int scan_number(const char *s, size_t n, size_t *pos, bool *integer)
{
    size_t i = *pos;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    size_t int_start = i;
    if (i >= n || !is_digit((unsigned char)s[i]))
        return -1;
    if (s[i] == '0') {
        i++;
        if (i < n && is_digit((unsigned char)s[i]))
            return -1;
    } else {
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    size_t int_digits = i - int_start;
    bool is_int = true;
    if (i < n && s[i] == '.') {
        is_int = false;
        i++;
        if (i >= n || !is_digit((unsigned char)s[i]))
            return -1;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
    }
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = false;
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i >= n || !is_digit((unsigned char)s[i]))
            return -1;
        while (i < n && is_digit((unsigned char)s[i])) {
            /* A huge exponent is read as "huge"; only its sign matters. */
            if (exp < 100000)
                exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (eneg)
            exp = -exp;
    }
    if (is_int) {
        /* jansson rejects integers outside int64_t. */
        if (int_digits > 19)
            return -1;
        if (int_digits == 19 &&
            memcmp(s + int_start, neg ? int64_min_digits : int64_max_digits, 19) > 0)
            return -1;
    } else {
        /* Below 10^308 a real cannot overflow; above, decline. */
        size_t sig = (int_digits == 1 && s[int_start] == '0') ? 0 : int_digits;
        if (sig > 400 || (long)sig + exp > 308)
            return -1;
    }
    *pos = i;
    *integer = is_int;
    return 0;
}

static int scan_literal(const char *s, size_t n, size_t *pos, const char *word,
                        size_t wlen)
{
    if (n - *pos < wlen || memcmp(s + *pos, word, wlen) != 0)
        return -1;
    *pos += wlen;
    return 0;
}

static void iter_setup(hs_jscan_iter *it, const char *text, size_t len, size_t pos,
                       int depth, bool top)
{
    it->text = text;
    it->len = len;
    it->pos = pos;
    it->depth = depth;
    it->top = top;
    it->started = false;
    it->done = false;
    it->nkeys = 0;
}

/* Registers key[0..n) among the *nkeys keys of one object. -1 on a
 * duplicate or too many members. */
static int note_key(const char **key_p, size_t *key_n, size_t *nkeys, const char *key,
                    size_t n)
{
    for (size_t k = 0; k < *nkeys; k++)
        if (key_n[k] == n &&
            (n == 0 || (key_p[k][0] == key[0] && memcmp(key_p[k], key, n) == 0)))
            return -1;
    if (*nkeys == HS_JSCAN_MAX_KEYS)
        return -1;
    key_p[*nkeys] = key;
    key_n[*nkeys] = n;
    (*nkeys)++;
    return 0;
}

/* What hs_jscan_extract looks for, with the lengths of the paths' keys. */
typedef struct {
    const char *const *const *paths;
    size_t npaths;
    size_t nkeys[HS_JSCAN_MAX_PATHS];
    size_t klen[HS_JSCAN_MAX_PATHS][HS_JSCAN_MAX_PATH_KEYS];
    /* The paths whose key at depth d has a length of k modulo 32. */
    uint32_t by_len[HS_JSCAN_MAX_PATH_KEYS][32];
    hs_jscan_value *values;
} extract_ctx;

static int scan_value(const char *s, size_t n, size_t *pos, int depth, extract_ctx *x,
                      uint32_t mask, hs_jscan_value *out);

/* Skips the array whose '[' is s[*pos] at depth depth. */
static int scan_array(const char *s, size_t n, size_t *pos, int depth)
{
    size_t i = *pos + 1;
    skip_ws(s, n, &i);
    if (i < n && s[i] == ']') {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        hs_jscan_value v;
        if (scan_value(s, n, &i, depth + 1, NULL, 0, &v) != 0)
            return -1;
        skip_ws(s, n, &i);
        if (i >= n)
            return -1;
        if (s[i] == ']') {
            *pos = i + 1;
            return 0;
        }
        if (s[i] != ',')
            return -1;
        i++;
    }
}

/* One member's key, its string at s[*pos]: never escaped, no duplicate. */
static int scan_key(const char *s, size_t n, size_t *pos, const char **key_p,
                    size_t *key_n, size_t *nkeys, const char **key, size_t *keylen)
{
    size_t i = *pos;
    if (i >= n || s[i] != '"')
        return -1;
    bool esc = false;
    if (scan_string(s, n, &i, &esc) != 0 || esc)
        return -1;
    *key = s + *pos + 1;
    *keylen = i - *pos - 2;
    if (note_key(key_p, key_n, nkeys, *key, *keylen) != 0)
        return -1;
    skip_ws(s, n, &i);
    if (i >= n || s[i] != ':')
        return -1;
    *pos = i + 1;
    return 0;
}

/* The paths of mask (bits into x->paths) whose key at depth is key: those
 * that end there in *ends, those that go deeper in the result. */
static uint32_t match_paths(const extract_ctx *x, uint32_t mask, int depth,
                            const char *key, size_t keylen, uint32_t *ends)
{
    uint32_t deeper = 0;
    *ends = 0;
    for (uint32_t m = mask & x->by_len[depth][keylen % 32]; m != 0; m &= m - 1) {
        int p = __builtin_ctz(m);
        if (x->klen[p][depth] != keylen ||
            (keylen > 0 && x->paths[p][depth][0] != key[0]) ||
            memcmp(x->paths[p][depth], key, keylen) != 0)
            continue;
        if (x->nkeys[p] == (size_t)depth + 1)
            *ends |= 1u << p;
        else
            deeper |= 1u << p;
    }
    return deeper;
}

/* Skips the object whose '{' is s[*pos] at depth depth, keeping the values
 * of the paths of mask it holds. */
static int scan_object(const char *s, size_t n, size_t *pos, int depth, extract_ctx *x,
                       uint32_t mask)
{
    const char *key_p[HS_JSCAN_MAX_KEYS];
    size_t key_n[HS_JSCAN_MAX_KEYS];
    size_t nkeys = 0;
    size_t i = *pos + 1;
    skip_ws(s, n, &i);
    if (i < n && s[i] == '}') {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        const char *key;
        size_t keylen;
        hs_jscan_value v;
        if (scan_key(s, n, &i, key_p, key_n, &nkeys, &key, &keylen) != 0)
            return -1;
        uint32_t ends = 0;
        uint32_t deeper = mask ? match_paths(x, mask, depth, key, keylen, &ends) : 0;
        if (scan_value(s, n, &i, depth + 1, x, deeper, &v) != 0)
            return -1;
        for (uint32_t m = ends; m != 0; m &= m - 1)
            x->values[__builtin_ctz(m)] = v;
        skip_ws(s, n, &i);
        if (i >= n)
            return -1;
        if (s[i] == '}') {
            *pos = i + 1;
            return 0;
        }
        if (s[i] != ',')
            return -1;
        i++;
        skip_ws(s, n, &i);
    }
}

/* One value at s[*pos] (whitespace before it skipped) at depth depth; in
 * an object, the paths of mask are looked for. */
static int scan_value(const char *s, size_t n, size_t *pos, int depth, extract_ctx *x,
                      uint32_t mask, hs_jscan_value *out)
{
    size_t i = *pos;
    skip_ws(s, n, &i);
    if (i >= n)
        return -1;
    size_t start = i;
    out->escaped = false;
    out->integer = false;
    out->depth = depth;
    switch (s[i]) {
    case '"':
        out->type = HS_JSCAN_STRING;
        if (scan_string(s, n, &i, &out->escaped) != 0)
            return -1;
        break;
    case '{':
        if (depth >= HS_JSCAN_MAX_DEPTH)
            return -1;
        out->type = HS_JSCAN_OBJECT;
        if (scan_object(s, n, &i, depth, x, mask) != 0)
            return -1;
        break;
    case '[':
        if (depth >= HS_JSCAN_MAX_DEPTH)
            return -1;
        out->type = HS_JSCAN_ARRAY;
        if (scan_array(s, n, &i, depth) != 0)
            return -1;
        break;
    case 't':
        out->type = HS_JSCAN_TRUE;
        if (scan_literal(s, n, &i, "true", 4) != 0)
            return -1;
        break;
    case 'f':
        out->type = HS_JSCAN_FALSE;
        if (scan_literal(s, n, &i, "false", 5) != 0)
            return -1;
        break;
    case 'n':
        out->type = HS_JSCAN_NULL;
        if (scan_literal(s, n, &i, "null", 4) != 0)
            return -1;
        break;
    default:
        out->type = HS_JSCAN_NUMBER;
        if (scan_number(s, n, &i, &out->integer) != 0)
            return -1;
        break;
    }
    out->text = s + start;
    out->len = i - start;
    *pos = i;
    return 0;
}

int hs_jscan_value_at(const char *text, size_t len, size_t *pos, int depth,
                      hs_jscan_value *out)
{
    return scan_value(text, len, pos, depth, NULL, 0, out);
}

int hs_jscan_extract(const char *text, size_t len, const char *const *const *paths,
                     size_t npaths, hs_jscan_value *values)
{
    /* Not zeroed as a whole: only the lengths of the paths' keys are read. */
    extract_ctx x;
    if (npaths > HS_JSCAN_MAX_PATHS)
        return -1;
    memset(x.by_len, 0, sizeof x.by_len);
    x.paths = paths;
    x.npaths = npaths;
    x.values = values;
    for (size_t p = 0; p < npaths; p++) {
        size_t k = 0;
        for (; paths[p][k]; k++) {
            if (k == HS_JSCAN_MAX_PATH_KEYS)
                return -1;
            x.klen[p][k] = strlen(paths[p][k]);
            x.by_len[k][x.klen[p][k] % 32] |= UINT32_C(1) << p;
        }
        if (k == 0)
            return -1;
        x.nkeys[p] = k;
        values[p].type = HS_JSCAN_ABSENT;
    }
    size_t pos = 0;
    skip_ws(text, len, &pos);
    if (pos >= len || text[pos] != '{')
        return -1;
    hs_jscan_value doc;
    uint32_t all = npaths == 32 ? UINT32_MAX : (UINT32_C(1) << npaths) - 1;
    if (scan_value(text, len, &pos, 0, &x, all, &doc) != 0)
        return -1;
    skip_ws(text, len, &pos);
    return pos == len ? 0 : -1;
}

int hs_jscan_iter_document(hs_jscan_iter *it, const char *text, size_t len)
{
    size_t i = 0;
    skip_ws(text, len, &i);
    iter_setup(it, text, len, i, 0, true);
    if (i >= len || text[i] != '{') {
        it->done = true;
        it->pos = len + 1; /* marks the decline */
        return -1;
    }
    return 0;
}

int hs_jscan_iter_object(hs_jscan_iter *it, const hs_jscan_value *obj)
{
    if (obj->type != HS_JSCAN_OBJECT || obj->len < 2 || obj->text[0] != '{')
        return -1;
    iter_setup(it, obj->text, obj->len, 0, obj->depth, false);
    return 0;
}

/* Marks it as declined. */
static int iter_fail(hs_jscan_iter *it)
{
    it->done = true;
    it->pos = it->len + 1;
    return -1;
}

/* Moves it past the separator before its next member or element, or past
 * the closing bracket close (then checks what may follow a document and
 * ends it). Returns 1 with *at on the next member or element, 0 at the
 * end, -1 to decline. */
static int iter_advance(hs_jscan_iter *it, char close, size_t *at)
{
    const char *s = it->text;
    size_t n = it->len;
    if (it->done)
        return it->pos > n ? -1 : 0;
    size_t i = it->pos;
    if (!it->started) {
        /* s[i] is the opening bracket. */
        it->started = true;
        i++;
        skip_ws(s, n, &i);
        if (i < n && s[i] == close) {
            i++;
            goto end;
        }
    } else {
        skip_ws(s, n, &i);
        if (i >= n)
            return iter_fail(it);
        if (s[i] == close) {
            i++;
            goto end;
        }
        if (s[i] != ',')
            return iter_fail(it);
        i++;
        skip_ws(s, n, &i);
    }
    *at = i;
    return 1;

end:
    if (it->top) {
        skip_ws(s, n, &i);
        if (i != n)
            return iter_fail(it);
    }
    it->pos = i;
    it->done = true;
    return 0;
}

int hs_jscan_iter_next(hs_jscan_iter *it, const char **key, size_t *keylen,
                       hs_jscan_value *val)
{
    size_t i;
    int rc = iter_advance(it, '}', &i);
    if (rc != 1)
        return rc;
    if (scan_key(it->text, it->len, &i, it->key_p, it->key_n, &it->nkeys, key, keylen) !=
            0 ||
        scan_value(it->text, it->len, &i, it->depth + 1, NULL, 0, val) != 0)
        return iter_fail(it);
    it->pos = i;
    return 1;
}

int hs_jscan_iter_array_document(hs_jscan_iter *it, const char *text, size_t len)
{
    size_t i = 0;
    skip_ws(text, len, &i);
    iter_setup(it, text, len, i, 0, true);
    if (i >= len || text[i] != '[') {
        it->done = true;
        it->pos = len + 1; /* marks the decline */
        return -1;
    }
    return 0;
}

int hs_jscan_iter_element(hs_jscan_iter *it, hs_jscan_value *val)
{
    size_t i;
    int rc = iter_advance(it, ']', &i);
    if (rc != 1)
        return rc;
    if (scan_value(it->text, it->len, &i, it->depth + 1, NULL, 0, val) != 0)
        return iter_fail(it);
    it->pos = i;
    return 1;
}

int hs_jscan_document(const char *text, size_t len, hs_jscan_value *out)
{
    size_t i = 0;
    if (scan_value(text, len, &i, 0, NULL, 0, out) != 0)
        return -1;
    skip_ws(text, len, &i);
    return i == len ? 0 : -1;
}

/* Appends code point cp as UTF-8 to buf at *o, within cap (a NUL kept). */
static int put_utf8(char *buf, size_t cap, size_t *o, unsigned long cp)
{
    char t[4];
    size_t k;
    if (cp < 0x80) {
        t[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (cap - *o <= k)
        return -1;
    memcpy(buf + *o, t, k);
    *o += k;
    return 0;
}

int hs_jscan_string(const hs_jscan_value *v, char *buf, size_t cap, size_t *outlen)
{
    if (v->type != HS_JSCAN_STRING || v->len < 2 || cap == 0)
        return -1;
    const char *s = v->text + 1;
    size_t n = v->len - 2, o = 0;
    if (!v->escaped) {
        if (n >= cap)
            return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        *outlen = n;
        return 0;
    }
    /* The value was validated when it was scanned: every escape is whole. */
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c != '\\') {
            if (cap - o <= 1)
                return -1;
            buf[o++] = c;
            i++;
            continue;
        }
        char e = s[i + 1];
        char d;
        switch (e) {
        case 'b':
            d = '\b';
            break;
        case 'f':
            d = '\f';
            break;
        case 'n':
            d = '\n';
            break;
        case 'r':
            d = '\r';
            break;
        case 't':
            d = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(s, n, i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(s, n, i + 2);
                i += 6;
                cp = ((cp - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
            }
            if (put_utf8(buf, cap, &o, cp) != 0)
                return -1;
            continue;
        }
        default: /* '"', '\\', '/' */
            d = e;
            break;
        }
        if (cap - o <= 1)
            return -1;
        buf[o++] = d;
        i += 2;
    }
    buf[o] = '\0';
    *outlen = o;
    return 0;
}

int hs_jscan_int(const hs_jscan_value *v, int64_t *out)
{
    if (v->type != HS_JSCAN_NUMBER || !v->integer || v->len > 20)
        return -1;
    char tmp[24];
    memcpy(tmp, v->text, v->len);
    tmp[v->len] = '\0';
    /* The scan checked the range. */
    *out = (int64_t)strtoll(tmp, NULL, 10);
    return 0;
}

int hs_jscan_number(const hs_jscan_value *v, double *out)
{
    if (v->type != HS_JSCAN_NUMBER || v->len > 400)
        return -1;
    char tmp[408];
    memcpy(tmp, v->text, v->len);
    tmp[v->len] = '\0';
    /* C-locale syntax: the daemons never call setlocale(). */
    *out = strtod(tmp, NULL);
    return 0;
}

bool hs_jscan_string_is(const hs_jscan_value *v, const char *s, size_t n)
{
    return v->type == HS_JSCAN_STRING && !v->escaped && v->len == n + 2 &&
           memcmp(v->text + 1, s, n) == 0;
}

bool hs_jscan_exact_decimal(const char *text, size_t n, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double P10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int sig = 0, exp10 = 0;
    bool frac = false;
    for (; p < end; p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        if (!is_digit(*p))
            break;
        if ((m != 0 || *p != '0') && ++sig > 15)
            return false;
        m = m * 10 + (uint64_t)(*p - '0');
        if (frac && --exp10 < -1000)
            return false; /* zeros without end: beyond the fast path anyway */
    }
    if (p < end) { /* the exponent */
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        int e = 0;
        for (; p < end; p++) {
            if (e > 1000)
                return false;
            e = e * 10 + (*p - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (exp10 < -22 || exp10 > 22)
        return false;
    double v = (double)m;
    v = exp10 < 0 ? v / P10[-exp10] : v * P10[exp10];
    *out = neg ? -v : v;
    return true;
#else
    (void)text;
    (void)n;
    (void)out;
    return false;
#endif
}
