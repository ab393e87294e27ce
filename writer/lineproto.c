/* lineproto.c - enriched homestream messages as InfluxDB line protocol. */
#include "lineproto.h"

#include <ctype.h>
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

static int buf_puts(lineproto_buf *b, const char *s)
{
    return lineproto_buf_append(b, s, strlen(s));
}

static int buf_putc(lineproto_buf *b, char c)
{
    if (b->len + 2 > b->cap && lineproto_buf_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

/* ---- escaping ---------------------------------------------------------- */

static const char REPLACEMENT[] = "\xEF\xBF\xBD";        /* U+FFFD */
static const char REVERSE_SOLIDUS_OP[] = "\xE2\xA7\xB5"; /* U+29F5 */

/* The ASCII bytes that a part may need to change (see
 * lineproto_append_escaped); every other ASCII byte is copied as is. */
static const unsigned char SPECIAL_NAME[128] = {
    [0] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1,
    ['#'] = 1, [','] = 1, ['='] = 1, ['\\'] = 1,
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

int lineproto_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                             size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Worst case: every byte becomes three. */
    if (n > SIZE_MAX / 3 || lineproto_buf_reserve(b, n * 3) < 0)
        return -1;
    char *o = b->data + b->len;
    const unsigned char *special = part == LINEPROTO_STRING ? SPECIAL_STRING : SPECIAL_NAME;
    size_t i = 0, bytewise_until = 0;
    while (i < n) {
        /* Whole words of ordinary bytes; the room reserved above (three
         * bytes out per byte in) holds a word's eight while eight remain.
         * After a word that is not, its bytes go one by one. */
        if (i >= bytewise_until) {
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, u + i, 8);
                if (!word_ordinary(w, part)) {
                    bytewise_until = i + 8;
                    break;
                }
                memcpy(o, &w, 8);
                o += 8;
                i += 8;
            }
            if (i == n)
                break;
        }
        unsigned char c = u[i];
        if (c < 0x80 && !special[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = hs_jscan_utf8_len((const char *)u, n, i);
            if (len == 0) {
                memcpy(o, REPLACEMENT, 3);
                o += 3;
                i++;
            } else {
                memcpy(o, s + i, len);
                o += len;
                i += len;
            }
            continue;
        }
        if (c == 0) {
            memcpy(o, REPLACEMENT, 3);
            o += 3;
        } else if (part == LINEPROTO_STRING) {
            *o++ = '\\'; /* '"' or '\\' */
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if (c == ',' || c == ' ' || (c == '=' && part != LINEPROTO_MEASUREMENT)) {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\\' && i == n - 1) {
            memcpy(o, REVERSE_SOLIDUS_OP, 3);
            o += 3;
        } else if (c == '\\' && part == LINEPROTO_FIELD_KEY &&
                   strchr(",= \\\n\r", (char)u[i + 1]) != NULL && u[i + 1] != 0) {
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
        i++;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int append_escaped_str(lineproto_buf *b, lineproto_part part, const char *s)
{
    return lineproto_append_escaped(b, part, s, strlen(s));
}

/* Writes the decimal digits of m, with a '.' before the last decimals of
 * them (zeros padded in front as needed) and a '-' when neg, into out.
 * Returns the length. out must hold 48 bytes; m < 10^19. */
static size_t format_fixed(char *out, bool neg, unsigned long long m, int decimals)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0);
    while (n <= decimals)
        digits[n++] = '0';
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        out[len++] = digits[i];
        if (i == decimals && decimals > 0)
            out[len++] = '.';
    }
    return len;
}

int lineproto_append_int(lineproto_buf *b, int64_t v)
{
    static const char PAIRS[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    char *o = tmp + sizeof tmp;
    bool neg = v < 0;
    uint64_t m = neg ? 0 - (uint64_t)v : (uint64_t)v;
    while (m >= 100) {
        o -= 2;
        memcpy(o, PAIRS + (m % 100) * 2, 2);
        m /= 100;
    }
    if (m >= 10) {
        o -= 2;
        memcpy(o, PAIRS + m * 2, 2);
    } else {
        *--o = (char)('0' + m);
    }
    if (neg)
        *--o = '-';
    return lineproto_buf_append(b, o, (size_t)(tmp + sizeof tmp - o));
}

int lineproto_append_double(lineproto_buf *b, double v)
{
    if (!isfinite(v))
        return -2;
    char tmp[48];
    /* Integers print as such, without the search below. */
    /* The range test comes first: casting a double beyond long long's range
     * is undefined behaviour (found by fuzz-lineproto). */
    if (fabs(v) < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v)))
        return lineproto_append_int(b, (long long)v);
    /* A value with at most 9 integer and 6 decimal digits (15 in all, so
     * "%.15g" below would print exactly these digits, and without an
     * exponent from 1e-5 up) is the decimal with the fewest decimals that
     * reads back to it: m / 10^d, both exact doubles, divides with one
     * correct rounding, as strtod reads the decimal text, so the test below
     * is exact. */
    if (fabs(v) < 1e9 && fabs(v) >= 1e-5) {
        static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
        double a = fabs(v);
        for (int d = 1; d <= 6; d++) {
            double m = nearbyint(a * pow10[d]);
            if (m / pow10[d] == a)
                return lineproto_buf_append(
                    b, tmp, format_fixed(tmp, v < 0, (unsigned long long)m, d));
        }
    }
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
            char alt[48];
            snprintf(alt, sizeof alt, "%.*f", decimals > 0 ? decimals : 0, v);
            if (strtod(alt, NULL) == v)
                memcpy(tmp, alt, strlen(alt) + 1);
        }
    }
    return buf_puts(b, tmp);
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
    const char *key; /* in the fieldset's arena */
    size_t klen;
    field_type type;
    double num;
    bool flag;
    const char *str; /* FIELD_STRING: in the fieldset's arena */
    size_t slen;
} field;

/* A block of the fieldset's arena beyond its inline bytes. */
typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    char data[];
} arena_block;

#define FIELDSET_INLINE_FIELDS 24
#define FIELDSET_INLINE_BYTES 2048

/* Fields in insertion order with Python dict semantics: setting an existing
 * key replaces its value in place. Keys and strings are copied into an
 * arena that starts inside the fieldset and never moves what it holds, so
 * a typical message allocates nothing here. Initialise with fieldset_init;
 * a fieldset must not be copied. */
typedef struct {
    field *v;
    size_t n;
    size_t cap;
    bool oom;
    unsigned dropped;
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

/* Copies n bytes of s and a NUL into the arena. Returns the copy, or NULL
 * when out of memory (fs->oom set). */
static const char *fieldset_copy(fieldset *fs, const char *s, size_t n)
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
        arena_block *b = malloc(sizeof *b + cap);
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
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static field *fieldset_find_n(fieldset *fs, const char *key, size_t klen)
{
    for (size_t i = 0; i < fs->n; i++) {
        field *f = &fs->v[i];
        if (f->klen == klen && memcmp(f->key, key, klen) == 0)
            return f;
    }
    return NULL;
}

static field *fieldset_find(fieldset *fs, const char *key)
{
    return fieldset_find_n(fs, key, strlen(key));
}

/* Returns the slot for key (new or existing, its old string dropped), or
 * NULL when out of memory (fs->oom set). */
static field *fieldset_slot(fieldset *fs, const char *key)
{
    size_t klen = strlen(key);
    field *f = fieldset_find_n(fs, key, klen);
    if (f != NULL) {
        f->str = NULL;
        f->slen = 0;
        return f;
    }
    if (fs->n == fs->cap) {
        size_t cap = fs->cap * 2;
        field *v = fs->v == fs->local ? malloc(cap * sizeof *v)
                                       : realloc(fs->v, cap * sizeof *v);
        if (v == NULL) {
            fs->oom = true;
            return NULL;
        }
        if (fs->v == fs->local)
            memcpy(v, fs->local, fs->n * sizeof *v);
        fs->v = v;
        fs->cap = cap;
    }
    const char *k = fieldset_copy(fs, key, klen);
    if (k == NULL)
        return NULL;
    f = &fs->v[fs->n++];
    memset(f, 0, sizeof *f);
    f->key = k;
    f->klen = klen;
    return f;
}

static void fieldset_del(fieldset *fs, const char *key)
{
    field *f = fieldset_find(fs, key);
    if (f == NULL)
        return;
    size_t idx = (size_t)(f - fs->v);
    memmove(&fs->v[idx], &fs->v[idx + 1], (fs->n - idx - 1) * sizeof *f);
    fs->n--;
}

/* A float field; NaN and infinities are left out (and counted), removing a
 * value the key held before, as HA's integration does. */
static void fieldset_float(fieldset *fs, const char *key, double v)
{
    if (!isfinite(v)) {
        fieldset_del(fs, key);
        fs->dropped++;
        return;
    }
    field *f = fieldset_slot(fs, key);
    if (f != NULL) {
        f->type = FIELD_FLOAT;
        f->num = v;
    }
}

/* A string field: s up to its first NUL. */
static void fieldset_string(fieldset *fs, const char *key, const char *s)
{
    field *f = fieldset_slot(fs, key);
    if (f == NULL)
        return;
    f->type = FIELD_STRING;
    size_t n = strlen(s);
    f->str = fieldset_copy(fs, s, n);
    f->slen = n;
}

static void fieldset_bool(fieldset *fs, const char *key, bool v)
{
    field *f = fieldset_slot(fs, key);
    if (f != NULL) {
        f->type = FIELD_BOOL;
        f->flag = v;
    }
}

/* ---- tags -------------------------------------------------------------- */

typedef struct {
    const char *key;
    const char *value;
} tag;

/* Sorts a few tags by key (insertion sort: the keys are distinct, so any
 * sort gives this order). */
static void tags_sort(tag *tags, size_t ntags)
{
    for (size_t i = 1; i < ntags; i++) {
        tag t = tags[i];
        size_t j = i;
        for (; j > 0 && strcmp(tags[j - 1].key, t.key) > 0; j--)
            tags[j] = tags[j - 1];
        tags[j] = t;
    }
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
 * are, and they are hashed 8 at a time; with one, FNV-1a runs over
 * stored_key_byte's bytes. The two kinds never need to hash alike: an
 * escaped key without a backslash holds no ',', '=', ' ' or '\\', and a
 * key stored from one with a backslash holds one of them. */
static uint64_t stored_key_hash(const char *s, size_t n)
{
    if (memchr(s, '\\', n) == NULL) {
        uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
        size_t i = 0;
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
            h ^= h >> 29;
        }
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
        return h ^ (h >> 32);
    }
    uint64_t h = 14695981039346656037ULL;
    size_t i = 0;
    int pending = -1;
    for (int c; (c = stored_key_byte(s, n, &i, &pending)) >= 0;)
        h = (h ^ (unsigned char)c) * 1099511628211ULL;
    return h;
}

typedef struct {
    size_t off;
    size_t len;
    uint64_t hash; /* stored_key_hash */
} key_span;

static int write_line(lineproto_buf *out, const char *measurement, tag *tags,
                      size_t ntags, fieldset *fs, int64_t time_ns)
{
    int rc = append_escaped_str(out, LINEPROTO_MEASUREMENT, measurement);
    tags_sort(tags, ntags);
    for (size_t i = 0; i < ntags && rc == 0; i++) {
        if (tags[i].value == NULL || tags[i].value[0] == '\0')
            continue; /* InfluxDB refuses empty tag values */
        rc |= buf_putc(out, ',');
        rc |= append_escaped_str(out, LINEPROTO_KEY, tags[i].key);
        rc |= buf_putc(out, '=');
        rc |= append_escaped_str(out, LINEPROTO_KEY, tags[i].value);
    }
    size_t written = 0;
    /* The escaped keys written so far, as spans of out (which may move). */
    key_span local[32];
    key_span *keys = local;
    if (fs->n > sizeof local / sizeof local[0]) {
        keys = malloc(fs->n * sizeof *keys);
        if (keys == NULL)
            rc = -1;
    }
    for (size_t i = 0; i < fs->n && rc == 0; i++) {
        field *f = &fs->v[i];
        size_t before = out->len;
        rc |= buf_putc(out, written == 0 ? ' ' : ',');
        size_t kstart = out->len;
        rc |= lineproto_append_escaped(out, LINEPROTO_FIELD_KEY, f->key, f->klen);
        if (rc != 0)
            break;
        size_t klen = out->len - kstart;
        uint64_t hash = stored_key_hash(out->data + kstart, klen);
        bool dup = false;
        for (size_t k = 0; k < written && !dup; k++)
            dup = keys[k].hash == hash &&
                  stored_keys_equal(out->data + keys[k].off, keys[k].len,
                                    out->data + kstart, klen);
        if (dup) {
            /* Two keys InfluxDB would store alike (after the replacements
             * above): it would keep only the last, so keep only the first. */
            lineproto_buf_truncate(out, before);
            fs->dropped++;
            continue;
        }
        keys[written].off = kstart;
        keys[written].len = klen;
        keys[written].hash = hash;
        rc |= buf_putc(out, '=');
        if (f->type == FIELD_FLOAT) {
            rc |= lineproto_append_double(out, f->num);
        } else if (f->type == FIELD_BOOL) {
            rc |= buf_puts(out, f->flag ? "true" : "false");
        } else {
            rc |= buf_putc(out, '"');
            rc |= lineproto_append_escaped(out, LINEPROTO_STRING, f->str, f->slen);
            rc |= buf_putc(out, '"');
        }
        written++;
    }
    if (keys != local)
        free(keys);
    if (rc == 0) {
        rc = buf_putc(out, ' ');
        rc |= lineproto_append_int(out, time_ns);
        rc |= buf_putc(out, '\n');
    }
    return rc == 0 ? 0 : -1;
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

static const char *const MSG_KEY_NAMES[K_COUNT] = {
    [K_AREA] = "area",
    [K_BACKFILL] = "backfill",
    [K_DATA] = "data",
    [K_DOMAIN] = "domain",
    [K_ENTITY_ID] = "entity_id",
    [K_EVENT_TYPE] = "event_type",
    [K_NEW_STATE] = "new_state",
    [K_OBJECT_ID] = "object_id",
    [K_OLD_STATE] = "old_state",
    [K_PRESENCE] = "presence",
    [K_SITE] = "site",
    [K_STAGE] = "stage",
    [K_STATS] = "stats",
    [K_TIME_FIRED] = "time_fired",
    [K_TIME_NS] = "time_ns",
    [K_UNIT] = "unit",
    [K_VALUE] = "value",
    [K_WEATHER] = "weather",
};

typedef struct {
    const msgjson_node *root;
    const msgjson_node *v[K_COUNT]; /* a member's value, or NULL */
} msg_index;

/* Which msg_key a member's key is, or K_COUNT for none. */
static msg_key msg_key_of(const msgjson_node *key)
{
    /* Candidates by length, so most keys cost one switch and a memcmp. */
    static const msg_key by_len[][4] = {
        {K_COUNT, K_COUNT, K_COUNT, K_COUNT}, /* 0 */
        {K_COUNT, K_COUNT, K_COUNT, K_COUNT}, /* 1 */
        {K_COUNT, K_COUNT, K_COUNT, K_COUNT}, /* 2 */
        {K_COUNT, K_COUNT, K_COUNT, K_COUNT}, /* 3 */
        {K_AREA, K_DATA, K_SITE, K_UNIT}, /* 4 */
        {K_STAGE, K_STATS, K_VALUE, K_COUNT}, /* 5 */
        {K_DOMAIN, K_COUNT, K_COUNT, K_COUNT}, /* 6 */
        {K_TIME_NS, K_WEATHER, K_COUNT, K_COUNT}, /* 7 */
        {K_BACKFILL, K_PRESENCE, K_COUNT, K_COUNT}, /* 8 */
        {K_ENTITY_ID, K_NEW_STATE, K_OBJECT_ID, K_OLD_STATE}, /* 9 */
        {K_EVENT_TYPE, K_TIME_FIRED, K_COUNT, K_COUNT}, /* 10 */
    };
    size_t n = key->count;
    if (n >= sizeof by_len / sizeof by_len[0])
        return K_COUNT;
    for (size_t i = 0; i < 4 && by_len[n][i] != K_COUNT; i++) {
        msg_key k = by_len[n][i];
        if (key->u.s[0] == MSG_KEY_NAMES[k][0] && memcmp(key->u.s, MSG_KEY_NAMES[k], n) == 0)
            return k;
    }
    return K_COUNT;
}

/* Fills ix from the object msg; the first of repeated keys wins, as with
 * msgjson_get. */
static void msg_index_fill(msg_index *ix, const msgjson_node *msg)
{
    ix->root = msg;
    for (size_t i = 0; i < K_COUNT; i++)
        ix->v[i] = NULL;
    for (const msgjson_node *k = msgjson_first(msg); k != NULL; k = msgjson_next(msg, k)) {
        msg_key mk = msg_key_of(k);
        if (mk != K_COUNT && ix->v[mk] == NULL)
            ix->v[mk] = k + 1;
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

/* HA's RE_DIGIT_TAIL, ^[^.]*\d+\.?\d+[^.]*$, on ASCII digits: true when text
 * has no '.' and two adjacent digits, or exactly one '.' with a digit on
 * each side. */
static bool digit_tail(const char *text)
{
    const char *dot = strchr(text, '.');
    if (dot != NULL) {
        if (strchr(dot + 1, '.') != NULL || dot == text)
            return false;
        return isdigit((unsigned char)dot[-1]) && isdigit((unsigned char)dot[1]);
    }
    for (const char *p = text; p[0] != '\0' && p[1] != '\0'; p++)
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]))
            return true;
    return false;
}

/* HA's float(RE_DECIMAL.sub("", text)): the digits and the dot, as a number.
 * Only called when digit_tail(text) holds, so the result is a plain decimal.
 * Returns NaN when out of memory (the caller then drops the field). */
static double digit_tail_value(const char *text)
{
    char local[128];
    size_t len = strlen(text);
    char *tmp = len < sizeof local ? local : malloc(len + 1);
    if (tmp == NULL)
        return NAN;
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++)
        if (isdigit((unsigned char)*p) || *p == '.')
            tmp[n++] = *p;
    tmp[n] = '\0';
    double v;
    if (!hs_jscan_exact_decimal(tmp, n, &v))
        v = strtod(tmp, NULL);
    if (tmp != local)
        free(tmp);
    return v;
}

/* HA's attribute rule: float(value) under the key, else "<key>_str" with the
 * text (and the digits of a text like "12 km" under the key). A key already
 * among the fields, and the key "time", get a trailing '_' first. */
static void add_attribute(fieldset *fs, const char *name, const msgjson_node *value)
{
    if (name[0] == '\0') {
        fs->dropped++; /* InfluxDB refuses an empty field key */
        return;
    }
    size_t klen = strlen(name);
    char local[128];
    char *key = klen + 6 <= sizeof local ? local : malloc(klen + 6);
    if (key == NULL) {
        fs->oom = true;
        return;
    }
    memcpy(key, name, klen + 1);
    /* influxd refuses a field named "time" (it drops the point or the
     * field): it is treated like a key already taken. */
    if (fieldset_find_n(fs, key, klen) != NULL || strcmp(key, "time") == 0) {
        key[klen++] = '_';
        key[klen] = '\0';
    }
    double num;
    if (value_as_float(value, &num)) {
        fieldset_float(fs, key, num);
    } else {
        /* value_text without a copy for the common text values */
        char *owned = NULL;
        const char *text;
        if (is_string(value))
            text = msgjson_str(value);
        else if (is_null(value))
            text = "None";
        else
            text = owned = value_text(value);
        if (text == NULL) {
            fs->oom = true;
            if (key != local)
                free(key);
            return;
        }
        memcpy(key + klen, "_str", 5);
        fieldset_string(fs, key, text);
        key[klen] = '\0';
        if (digit_tail(text))
            fieldset_float(fs, key, digit_tail_value(text));
        free(owned);
    }
    if (key != local)
        free(key);
}

/* key = name, with a '_' appended when taken; as snprintf into 64 bytes. */
static void extra_key(char key[64], const char *name, bool taken)
{
    size_t n = strlen(name);
    if (n > 63)
        n = 63;
    memcpy(key, name, n);
    if (taken && n < 63)
        key[n++] = '_';
    key[n] = '\0';
}

/* A homestream extra: same clash rule as attributes, typed as given. */
static void add_extra_number(fieldset *fs, const char *name, const msgjson_node *v)
{
    if (!is_number(v))
        return;
    char key[64];
    extra_key(key, name, fieldset_find(fs, name) != NULL);
    fieldset_float(fs, key, number_value(v));
}

static void add_extra_string(fieldset *fs, const char *name, const msgjson_node *v)
{
    if (!is_string(v))
        return;
    char key[64];
    extra_key(key, name, fieldset_find(fs, name) != NULL);
    fieldset_string(fs, key, msgjson_str(v));
}

static void add_extra_bool(fieldset *fs, const char *name, const msgjson_node *v)
{
    if (!is_boolean(v))
        return;
    char key[64];
    extra_key(key, name, fieldset_find(fs, name) != NULL);
    fieldset_bool(fs, key, is_true(v));
}

/* HA's state_as_number word states (helpers/state.py). "unknown" is left
 * out on purpose: homestream keeps it as a state, without a value. */
static bool word_state(const char *s, double *out)
{
    static const char *const one[] = {"on", "locked", "above_horizon", "open", "home"};
    static const char *const zero[] = {"off", "unlocked", "below_horizon", "closed",
                                       "not_home"};
    if (strchr("olahubcn", s[0]) == NULL || s[0] == '\0')
        return false; /* no word starts so */
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (strcmp(s, one[i]) == 0) {
            *out = 1.0;
            return true;
        }
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (strcmp(s, zero[i]) == 0) {
            *out = 0.0;
            return true;
        }
    return false;
}

static bool kept_as_state(const char *s)
{
    return s[0] == '\0' || strcmp(s, "unknown") == 0 || strcmp(s, "unavailable") == 0;
}

/* Fills dom and *object_id from the message (its domain and object_id fields,
 * else split from entity_id). dom must hold 256 bytes. Returns 0 or -1. */
static int entity_parts(const msg_index *msg, const char *entity_id, char *dom,
                        const char **object_id)
{
    const char *d = msgjson_str(mget(msg, K_DOMAIN));
    const char *o = msgjson_str(mget(msg, K_OBJECT_ID));
    if (nonempty(d) && nonempty(o) && strlen(d) < 256) {
        memcpy(dom, d, strlen(d) + 1);
        *object_id = o;
        return 0;
    }
    const char *obj = hs_event_split_entity(entity_id, dom, 256);
    if (obj == NULL)
        return -1;
    *object_id = obj;
    return 0;
}

/* ---- schemas ----------------------------------------------------------- */

typedef struct {
    const lineproto_opts *opts;
    lineproto_info *info;
    char *err;
    size_t errlen;
} enc_ctx;

static int encode_ha_state(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                           int64_t time_ns)
{
    const msgjson_node *ns = mget(msg, K_NEW_STATE);
    if (!is_object(ns)) {
        c->info->skip_reason = "no new_state (entity removed)";
        return 0;
    }
    const char *entity_id = msgjson_str(mget(msg, K_ENTITY_ID));
    if (!nonempty(entity_id)) {
        snprintf(c->err, c->errlen, "state_changed without entity_id");
        return -1;
    }
    const msgjson_node *state_j = msgjson_get(ns, "state");
    if (!is_string(state_j)) {
        snprintf(c->err, c->errlen, "new_state.state is not a string");
        return -1;
    }
    const char *state = msgjson_str(state_j);
    char domain[256];
    const char *object_id = NULL;
    if (entity_parts(msg, entity_id, domain, &object_id) < 0) {
        snprintf(c->err, c->errlen, "malformed entity_id");
        return -1;
    }
    const msgjson_node *attrs = msgjson_get(ns, "attributes");
    if (!is_object(attrs))
        attrs = NULL;

    /* state / value, as HA's event_to_json decides them: a state Python's
     * float() reads is a value only (the enricher's number when it gave
     * one); a word state is both; any other state is text, with the
     * enricher's value too when it found one (its boolean-like words). */
    bool include_state = false, include_value = false;
    double value = 0, parsed;
    const msgjson_node *enriched_value = mget(msg, K_VALUE);
    bool enriched = is_number(enriched_value);
    if (kept_as_state(state)) {
        include_state = true;
    } else if (lineproto_parse_pyfloat(state, strlen(state), &parsed) == 0) {
        include_value = true;
        value = enriched && isfinite(parsed) ? number_value(enriched_value) : parsed;
    } else if (word_state(state, &value)) {
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

    /* measurement */
    const lineproto_opts *o = c->opts;
    bool include_uom = true, include_dc = true;
    char *owned = NULL;
    const char *measurement = NULL;
    if (nonempty(o->override_measurement)) {
        measurement = o->override_measurement;
    } else {
        if (o->measurement_attr == LINEPROTO_MATTR_ENTITY_ID) {
            measurement = entity_id;
        } else if (o->measurement_attr == LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS) {
            const msgjson_node *dc = msgjson_get(attrs, "device_class");
            if (dc == NULL || is_null(dc)) {
                measurement = domain;
            } else {
                char *t = value_text(dc);
                size_t need = strlen(domain) + (t ? strlen(t) : 0) + 3;
                owned = t ? malloc(need) : NULL;
                if (owned == NULL) {
                    free(t);
                    snprintf(c->err, c->errlen, "out of memory");
                    return -1;
                }
                snprintf(owned, need, "%s__%s", domain, t);
                free(t);
                measurement = owned;
                include_dc = false;
            }
        } else {
            const char *attr_name = o->measurement_attr == LINEPROTO_MATTR_UNIT
                                        ? "unit_of_measurement"
                                        : "device_class";
            const char *unit = msgjson_str(mget(msg, K_UNIT));
            if (o->measurement_attr == LINEPROTO_MATTR_UNIT && nonempty(unit)) {
                measurement = unit;
            } else {
                const msgjson_node *m = msgjson_get(attrs, attr_name);
                if (is_string(m)) {
                    measurement = msgjson_str(m);
                } else if (m != NULL && !is_null(m)) {
                    owned = value_text(m);
                    measurement = owned;
                }
            }
        }
        if (!nonempty(measurement)) {
            measurement =
                nonempty(o->default_measurement) ? o->default_measurement : entity_id;
        } else {
            include_uom = o->measurement_attr != LINEPROTO_MATTR_UNIT;
        }
    }

    fieldset fs;
    fieldset_init(&fs);
    if (include_state)
        fieldset_string(&fs, "state", state);
    if (include_value)
        fieldset_float(&fs, "value", value);
    for (const msgjson_node *kn = msgjson_first(attrs); kn != NULL;
         kn = msgjson_next(attrs, kn)) {
        const char *key = kn->u.s;
        const msgjson_node *v = kn + 1;
        if (!include_uom && key[0] == 'u' && strcmp(key, "unit_of_measurement") == 0)
            continue;
        if (!include_dc && key[0] == 'd' && strcmp(key, "device_class") == 0)
            continue;
        add_attribute(&fs, key, v);
    }
    const msgjson_node *weather = mget(msg, K_WEATHER);
    if (is_object(weather)) {
        add_extra_number(&fs, "weather_temperature", msgjson_get(weather, "temperature"));
        add_extra_number(&fs, "weather_humidity", msgjson_get(weather, "humidity"));
        add_extra_number(&fs, "weather_pressure", msgjson_get(weather, "pressure"));
        add_extra_string(&fs, "weather_condition", msgjson_get(weather, "condition"));
    }
    const msgjson_node *presence = mget(msg, K_PRESENCE);
    if (is_object(presence)) {
        add_extra_bool(&fs, "anyone_home", msgjson_get(presence, "anyone_home"));
        add_extra_number(&fs, "people_home", msgjson_get(presence, "people_home"));
    }
    if (fs.n == 0)
        fieldset_string(&fs, "state", state); /* e.g. state "nan": keep the text */

    tag tags[] = {
        /* in write_line's (sorted) order already */
        {"area", msgjson_str(mget(msg, K_AREA))},
        {"domain", domain},
        {"entity_id", object_id},
        {"site", msgjson_str(mget(msg, K_SITE))},
    };
    int rc = -1;
    if (!fs.oom)
        rc = write_line(out, measurement, tags, sizeof tags / sizeof tags[0], &fs,
                        time_ns);
    c->info->dropped_fields += fs.dropped;
    fieldset_fini(&fs);
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
                           tag *tags, size_t ntags, fieldset *fs, int64_t time_ns,
                           const char *empty_reason)
{
    int rc = 0;
    if (fs->n == 0) {
        c->info->skip_reason = empty_reason;
    } else if (!fs->oom) {
        rc = write_line(out, measurement, tags, ntags, fs, time_ns);
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
    const msgjson_node *w = mget(msg, K_WEATHER);
    if (!is_object(w)) {
        c->info->skip_reason = "weather record without observation";
        return 0;
    }
    fieldset fs;
    fieldset_init(&fs);
    add_extra_number(&fs, "temperature", msgjson_get(w, "temperature"));
    add_extra_number(&fs, "humidity", msgjson_get(w, "humidity"));
    add_extra_number(&fs, "pressure", msgjson_get(w, "pressure"));
    add_extra_string(&fs, "condition", msgjson_get(w, "condition"));
    add_extra_number(&fs, "age_s", msgjson_get(w, "age_s"));
    tag tags[] = {{"site", msgjson_str(mget(msg, K_SITE))}, {"provider", get_str(w, "provider")}};
    return write_own_point(c, out, "weather", tags, 2, &fs, time_ns,
                           "weather record without values");
}

static int encode_ha_presence(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                              int64_t time_ns)
{
    const msgjson_node *p = mget(msg, K_PRESENCE);
    if (!is_object(p)) {
        c->info->skip_reason = "presence record without snapshot";
        return 0;
    }
    fieldset fs;
    fieldset_init(&fs);
    add_extra_bool(&fs, "anyone_home", msgjson_get(p, "anyone_home"));
    add_extra_number(&fs, "people_home", msgjson_get(p, "people_home"));
    tag tags[] = {{"site", msgjson_str(mget(msg, K_SITE))}};
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
    for (const msgjson_node *kn = msgjson_first(stats); kn != NULL;
         kn = msgjson_next(stats, kn)) {
        const char *key = kn->u.s;
        const msgjson_node *v = kn + 1;
        if (key[0] == '\0' || !is_number(v)) {
            fs.dropped++;
            continue;
        }
        const char *k = strcmp(key, "time") == 0 ? "time_" : key;
        if (fieldset_find(&fs, k) != NULL) {
            fs.dropped++; /* "time" next to "time_": the first is kept */
            continue;
        }
        fieldset_float(&fs, k, number_value(v));
    }
    int rc = 0;
    if (fs.oom) {
        rc = -1;
    } else if (fs.n == 0) {
        c->info->skip_reason = "homestream_stats record without numbers";
    } else {
        tag tags[] = {{"stage", msgjson_str(mget(msg, K_STAGE))}, {"site", msgjson_str(mget(msg, K_SITE))}};
        rc = write_line(out, "homestream", tags, 2, &fs, time_ns);
        if (rc == 0)
            c->info->points = 1;
    }
    c->info->dropped_fields += fs.dropped;
    fieldset_fini(&fs);
    if (rc < 0)
        snprintf(c->err, c->errlen, "out of memory");
    return rc;
}

static void add_json_text(fieldset *fs, const char *key, const msgjson_node *v)
{
    char *t = dump_text(v);
    if (t == NULL) {
        fs->oom = true;
        return;
    }
    fieldset_string(fs, key, t);
    free(t);
}

static int encode_events(const msg_index *msg, enc_ctx *c, lineproto_buf *out,
                         int64_t time_ns, const char *event_type)
{
    const char *entity_id = msgjson_str(mget(msg, K_ENTITY_ID));
    char domain[256] = "";
    const char *object_id = NULL;
    if (nonempty(entity_id) && entity_parts(msg, entity_id, domain, &object_id) < 0)
        domain[0] = '\0';
    fieldset fs;
    fieldset_init(&fs);
    const msgjson_node *ns = mget(msg, K_NEW_STATE);
    if (strcmp(event_type, "state_changed") == 0) {
        if (is_object(ns)) {
            add_extra_string(&fs, "state", msgjson_get(ns, "state"));
            const msgjson_node *attrs = msgjson_get(ns, "attributes");
            if (is_object(attrs))
                add_json_text(&fs, "attributes", attrs);
        } else {
            fieldset_bool(&fs, "removed", true);
        }
        const msgjson_node *old = mget(msg, K_OLD_STATE);
        if (is_object(old))
            add_extra_string(&fs, "old_state", msgjson_get(old, "state"));
    } else {
        const msgjson_node *data = mget(msg, K_DATA);
        if (data == NULL)
            data = msgjson_get(msg->root, event_type);
        if (data != NULL)
            add_json_text(&fs, "data", data);
    }
    add_extra_number(&fs, "value", mget(msg, K_VALUE));
    add_extra_string(&fs, "unit", mget(msg, K_UNIT));
    add_extra_bool(&fs, "backfill", mget(msg, K_BACKFILL));
    if (fs.n == 0)
        fieldset_string(&fs, "data", "{}");
    tag tags[] = {
        {"area", msgjson_str(mget(msg, K_AREA))}, {"domain", domain},
        {"entity_id", entity_id},       {"event_type", event_type},
        {"site", msgjson_str(mget(msg, K_SITE))},
    };
    int rc = -1;
    if (!fs.oom)
        rc = write_line(out, "home_assistant_events", tags, sizeof tags / sizeof tags[0],
                        &fs, time_ns);
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
    info->points = 0;
    info->dropped_fields = 0;
    info->skip_reason = NULL;
    const msgjson_node *root = msgjson_root(doc);
    if (!is_object(root)) {
        snprintf(err, errlen, "message is not a JSON object");
        return -1;
    }
    msg_index ix;
    msg_index_fill(&ix, root);
    const msg_index *msg = &ix;
    const char *event_type = msgjson_str(mget(msg, K_EVENT_TYPE));
    if (!nonempty(event_type)) {
        snprintf(err, errlen, "message has no event_type");
        return -1;
    }
    int64_t time_ns;
    if (message_time(msg, &time_ns) < 0) {
        snprintf(err, errlen,
                 "message has no usable time (time_ns, last_updated, time_fired)");
        return -1;
    }
    enc_ctx c = {opts, info, err, errlen};
    size_t start = out->len;
    int rc;
    if (strcmp(event_type, HS_STATSREC_EVENT_TYPE) == 0)
        rc = encode_stats(msg, &c, out, time_ns);
    else if (opts->schema == LINEPROTO_SCHEMA_EVENTS)
        rc = encode_events(msg, &c, out, time_ns, event_type);
    else if (strcmp(event_type, "state_changed") == 0)
        rc = encode_ha_state(msg, &c, out, time_ns);
    else if (strcmp(event_type, "weather") == 0)
        rc = encode_ha_weather(msg, &c, out, time_ns);
    else if (strcmp(event_type, "presence") == 0)
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
 * message's and new_state's context, and an event's data. */
static const msgjson_filter HA_NEW_STATE[] = {
    MSGJSON_FILTER_KEY("context", NULL),
    MSGJSON_FILTER_END,
};
static const msgjson_filter HA_MESSAGE[] = {
    MSGJSON_FILTER_KEY("new_state", HA_NEW_STATE),
    MSGJSON_FILTER_KEY("old_state", NULL),
    MSGJSON_FILTER_KEY("context", NULL),
    MSGJSON_FILTER_KEY("data", NULL),
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
