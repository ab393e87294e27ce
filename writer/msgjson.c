/* msgjson.c - a strict, reusable reader of one enriched message's JSON text. */
#include "msgjson.h"

#include <errno.h>
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
    msgjson_init(d);
}

void msgjson_trim(msgjson_doc *d, size_t keep)
{
    if (d->cap * sizeof *d->nodes + d->scap > keep)
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

typedef struct {
    msgjson_doc *d;
    const unsigned char *p;
    const unsigned char *end;
    int depth;
    bool oom;
} reader;

static inline void skip_ws(reader *r)
{
    if (r->p < r->end && *r->p > ' ')
        return; /* the common case: compact text */
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
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

/* Reads a string (r->p just past its opening quote) into a new string node.
 * The string buffer was reserved for the whole text, so decoding (which
 * never grows a string) cannot overflow it. More: the decoded bytes written
 * so far never pass the text bytes read so far (every string's NUL stands
 * for its closing quote, and its opening quote is never copied), so the
 * plain runs below may store whole 16- or 8-byte blocks while as many text
 * bytes remain.
 * Returns 0 or -1. */
static int read_string(reader *r)
{
    int64_t idx = node_push(r->d, MSGJSON_STRING);
    if (idx < 0) {
        r->oom = true;
        return -1;
    }
    msgjson_doc *d = r->d;
    char *o = d->str + d->slen;
    char *start = o;
    const unsigned char *p = r->p, *end = r->end;
    for (;;) {
#if defined(__SSE2__)
        /* Sixteen bytes at a time, stored whole (see above); a signed
         * comparison with 0x20 flags the bytes below it and those from
         * 0x80 up (negative) at once. */
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
            return -1;
        unsigned char c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20)
            return -1; /* a raw control character */
        if (c >= 0x80) {
            size_t len = hs_jscan_utf8_len((const char *)p, (size_t)(end - p), 0);
            if (len == 0)
                return -1;
            memcpy(o, p, len);
            o += len;
            p += len;
            continue;
        }
        /* a backslash escape */
        if (end - p < 2)
            return -1;
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
            return -1;
        }
        if (end - p < 4)
            return -1;
        int32_t cp = hex4(p);
        p += 4;
        if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return -1; /* \u0000 (refused by jansson) or a lone low surrogate */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return -1;
            int32_t lo = hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        o += put_utf8(o, cp);
    }
    *o = '\0';
    size_t len = (size_t)(o - start);
    if (len > UINT32_MAX)
        return -1;
    msgjson_node *nd = &d->nodes[idx];
    nd->u.s = start; /* str never moves while a text is read */
    nd->count = (uint32_t)len;
    d->slen += len + 1;
    r->p = p;
    return 0;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Reads a number by RFC 8259's grammar, typed as jansson types it. An
 * integer out of int64_t's range and a real that overflows are declined
 * (jansson refuses both). Returns 0 or -1. */
static int read_number(reader *r)
{
    const unsigned char *s = r->p, *p = s, *end = r->end;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return -1;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return -1;
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    bool real = false;
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    int64_t idx = node_push(r->d, real ? MSGJSON_REAL : MSGJSON_INTEGER);
    if (idx < 0) {
        r->oom = true;
        return -1;
    }
    msgjson_node *nd = &r->d->nodes[idx];
    if (!real) {
        /* Up to 19 digits fit a uint64_t (below 10^19 < 2^64); more are
         * beyond int64_t, which has 19 digits and no leading zeros here. */
        size_t digits = (size_t)(p - s) - (neg ? 1 : 0);
        if (digits > 19)
            return -1;
        uint64_t u = 0;
        for (const unsigned char *q = s + (neg ? 1 : 0); q < p; q++)
            u = u * 10 + (uint64_t)(*q - '0');
        if (u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return -1;
        nd->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
    } else if (!hs_jscan_exact_decimal((const char *)s, (size_t)(p - s), &nd->u.d)) {
        char tmp[64];
        char *heap = NULL, *txt = tmp;
        size_t len = (size_t)(p - s);
        if (len >= sizeof tmp) {
            heap = malloc(len + 1);
            if (heap == NULL) {
                r->oom = true;
                return -1;
            }
            txt = heap;
        }
        memcpy(txt, s, len);
        txt[len] = '\0';
        double v = strtod(txt, NULL);
        free(heap);
        if (isinf(v))
            return -1;
        nd->u.d = v;
    }
    r->p = p;
    return 0;
}

static bool match_word(reader *r, const char *w, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

/* True when the keys a and b (string nodes of d) are the same bytes. */
static bool same_key(const msgjson_doc *d, const msgjson_node *a, const msgjson_node *b)
{
    (void)d;
    const char *x = a->u.s, *y = b->u.s;
    return a->count == b->count && x[0] == y[0] && memcmp(x, y, a->count) == 0;
}

/* A cheap hash of a key (string node of d): its length and up to three of
 * its bytes. Equal keys hash alike; that is all has_duplicate_key needs. */
static uint32_t key_hash(const msgjson_doc *d, const msgjson_node *k)
{
    (void)d;
    const unsigned char *s = (const unsigned char *)k->u.s;
    uint32_t n = k->count, h = n * 0x9E3779B1u;
    if (n > 0)
        h ^= (uint32_t)s[0] * 0x85EBCA77u ^ (uint32_t)s[n - 1] * 0xC2B2AE3Du ^
             (uint32_t)s[n / 2] * 0x27D4EB2Fu;
    return h ^ (h >> 15);
}

#define DUP_SLOTS 256 /* objects of 9 up to half as many members use the table */

/* True when the object node at idx repeats a key (jansson would keep the
 * last value in the first key's place; such texts are left to jansson). */
static bool has_duplicate_key(const msgjson_doc *d, size_t idx)
{
    const msgjson_node *obj = &d->nodes[idx];
    if (obj->count < 2)
        return false;
    size_t end = idx + obj->span;
    if (obj->count <= 8) {
        /* Each pair, by a signature of length, first and last byte first. */
        const msgjson_node *key[8];
        uint64_t sig[8];
        size_t m = 0;
        for (size_t k = idx + 1; k < end; k += 1 + d->nodes[k + 1].span) {
            const msgjson_node *kn = &d->nodes[k];
            const unsigned char *t = (const unsigned char *)kn->u.s;
            uint64_t sg = kn->count;
            if (kn->count > 0)
                sg |= (uint64_t)t[0] << 32 | (uint64_t)t[kn->count - 1] << 40;
            for (size_t j = 0; j < m; j++)
                if (sig[j] == sg && memcmp(key[j]->u.s, kn->u.s, kn->count) == 0)
                    return true;
            key[m] = kn;
            sig[m++] = sg;
        }
        return false;
    }
    if (obj->count > DUP_SLOTS / 2) {
        for (size_t k = idx + 1; k < end; k += 1 + d->nodes[k + 1].span)
            for (size_t j = idx + 1; j < k; j += 1 + d->nodes[j + 1].span)
                if (same_key(d, &d->nodes[j], &d->nodes[k]))
                    return true;
        return false;
    }
    /* Open addressing over a power of two at least twice the members; a
     * slot holds a key's node index + 1 (0: empty) and its hash, so only
     * keys that hash alike are compared. */
    uint32_t slots[DUP_SLOTS], hashes[DUP_SLOTS];
    size_t size = 32;
    while (size < 2 * (size_t)obj->count)
        size *= 2;
    memset(slots, 0, size * sizeof slots[0]);
    for (size_t k = idx + 1; k < end; k += 1 + d->nodes[k + 1].span) {
        uint32_t h = key_hash(d, &d->nodes[k]);
        size_t at = h & (size - 1);
        while (slots[at] != 0) {
            if (hashes[at] == h && same_key(d, &d->nodes[slots[at] - 1], &d->nodes[k]))
                return true;
            at = (at + 1) & (size - 1);
        }
        slots[at] = (uint32_t)(k + 1);
        hashes[at] = h;
    }
    return false;
}

static int read_value(reader *r);

/* The entry of f for the key node at index k of d, or NULL. */
static const msgjson_filter *filter_find(const msgjson_filter *f, const msgjson_doc *d,
                                         size_t k)
{
    const char *s = d->nodes[k].u.s;
    size_t n = d->nodes[k].count;
    for (; f->key != NULL; f++)
        if (f->len == n && (n == 0 || (f->key[0] == s[0] && memcmp(f->key, s, n) == 0)))
            return f;
    return NULL;
}

/* A bit per length of f's keys (bit 63 for every length from 63 up), so
 * that most keys need no look-up at all. */
static uint64_t filter_lengths(const msgjson_filter *f)
{
    uint64_t m = 0;
    for (; f != NULL && f->key != NULL; f++)
        m |= UINT64_C(1) << (f->len < 63 ? f->len : 63);
    return m;
}

/* Validates the value at r->p (a member of an object at nesting depth
 * r->depth) without keeping it: an object or an array is scanned with
 * hs_jscan_value_at, which accepts "\u0000" escapes that jansson (flags
 * 0) refuses, so one holding those six bytes is declined; a scalar is read
 * as usual. Either way the value becomes one MSGJSON_SKIPPED node. Returns
 * 0 or -1. */
static int skip_value(reader *r)
{
    if (r->p < r->end && *r->p != '{' && *r->p != '[') {
        size_t idx = r->d->n;
        if (read_value(r) < 0)
            return -1;
        r->d->nodes[idx].type = MSGJSON_SKIPPED;
        return 0;
    }
    size_t pos = 0;
    hs_jscan_value v;
    if (hs_jscan_value_at((const char *)r->p, (size_t)(r->end - r->p), &pos, r->depth,
                          &v) < 0)
        return -1;
    if (memchr(v.text, '\\', v.len) != NULL && memmem(v.text, v.len, "\\u0000", 6) != NULL)
        return -1;
    if (node_push(r->d, MSGJSON_SKIPPED) < 0) {
        r->oom = true;
        return -1;
    }
    r->p += pos;
    return 0;
}

/* Reads the object or array at r->p; an object's members are filtered by f
 * (NULL: all built). */
static int read_container(reader *r, bool object, const msgjson_filter *f)
{
    if (++r->depth > MSGJSON_MAX_DEPTH)
        return -1;
    int64_t idx = node_push(r->d, object ? MSGJSON_OBJECT : MSGJSON_ARRAY);
    if (idx < 0) {
        r->oom = true;
        return -1;
    }
    uint32_t count = 0;
    unsigned char close = object ? '}' : ']';
    uint64_t lengths = filter_lengths(f);
    r->p++; /* the opening bracket */
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
    } else {
        for (;;) {
            int rc;
            if (object) {
                if (r->p >= r->end || *r->p != '"')
                    return -1;
                r->p++;
                size_t key = r->d->n;
                if (read_string(r) < 0)
                    return -1;
                skip_ws(r);
                if (r->p >= r->end || *r->p != ':')
                    return -1;
                r->p++;
                skip_ws(r);
                uint32_t klen = r->d->nodes[key].count;
                const msgjson_filter *e = NULL;
                if ((lengths >> (klen < 63 ? klen : 63)) & 1)
                    e = filter_find(f, r->d, key);
                if (e == NULL)
                    rc = read_value(r);
                else if (e->sub == NULL)
                    rc = skip_value(r);
                else if (r->p < r->end && *r->p == '{')
                    rc = read_container(r, true, e->sub);
                else
                    rc = read_value(r);
            } else {
                rc = read_value(r);
            }
            if (rc < 0)
                return -1;
            count++;
            skip_ws(r);
            if (r->p >= r->end)
                return -1;
            if (*r->p == close) {
                r->p++;
                break;
            }
            if (*r->p != ',')
                return -1;
            r->p++;
            skip_ws(r);
        }
    }
    msgjson_node *nd = &r->d->nodes[idx];
    nd->count = count;
    nd->span = (uint32_t)(r->d->n - (size_t)idx);
    r->depth--;
    if (object && has_duplicate_key(r->d, (size_t)idx))
        return -1;
    return 0;
}

static int read_value(reader *r)
{
    if (r->p >= r->end)
        return -1;
    int64_t idx;
    switch (*r->p) {
    case '{':
        return read_container(r, true, NULL);
    case '[':
        return read_container(r, false, NULL);
    case '"':
        r->p++;
        return read_string(r);
    case 't':
        if (!match_word(r, "true", 4))
            return -1;
        idx = node_push(r->d, MSGJSON_TRUE);
        break;
    case 'f':
        if (!match_word(r, "false", 5))
            return -1;
        idx = node_push(r->d, MSGJSON_FALSE);
        break;
    case 'n':
        if (!match_word(r, "null", 4))
            return -1;
        idx = node_push(r->d, MSGJSON_NULL);
        break;
    default:
        return read_number(r);
    }
    if (idx < 0) {
        r->oom = true;
        return -1;
    }
    return 0;
}

/* Turns the string nodes' offsets into pointers, now that str stays put
 * (msgjson_from_json; the reader of text sets pointers at once). */
static void resolve_strings(msgjson_doc *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->nodes[i].type == MSGJSON_STRING)
            d->nodes[i].u.s = d->str + d->nodes[i].u.off;
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
    if (n >= UINT32_MAX)
        return -1;
    /* Decoded strings and their NULs never take more bytes than the text. */
    if (str_reserve(d, n + 1) < 0)
        return -2;
    reader r = {d, (const unsigned char *)text, (const unsigned char *)text + n, 0,
                false};
    skip_ws(&r);
    int rc = -1;
    if (r.p < r.end && *r.p == '{')
        rc = read_container(&r, true, filter);
    if (rc == 0) {
        skip_ws(&r);
        if (r.p != r.end)
            rc = -1;
    }
    if (rc < 0) {
        d->n = 0;
        return r.oom ? -2 : -1;
    }
    return 0;
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
