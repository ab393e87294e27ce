/* lineproto-ref.c - the writer's encoder as it was before writer/msgjson.c:
 * a jansson tree in, one line out. Kept verbatim (only renamed) as the
 * reference of the differential tests: the writer's own path must give the
 * same bytes, result, counters and reason for every message. */
#include "lineproto-ref.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_event.h"
#include "hs_statsrec.h"
#include "hs_time.h"
#include "msgjson.h"

/* ---- buffer ------------------------------------------------------------ */

static int buf_puts(lineproto_buf *b, const char *s)
{
    return lineproto_buf_append(b, s, strlen(s));
}

static int buf_putc(lineproto_buf *b, char c)
{
    return lineproto_buf_append(b, &c, 1);
}

/* ---- escaping ---------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence starting at s[i] (2..4 bytes), or
 * 0 when the bytes there are not one (overlong forms, surrogates and code
 * points past U+10FFFF included). s[i] must be >= 0x80. */
static size_t utf8_seq_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t left = n - i;
    unsigned char lo = 0x80, hi = 0xBF;
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
    if (left < len)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";        /* U+FFFD */
static const char REVERSE_SOLIDUS_OP[] = "\xE2\xA7\xB5"; /* U+29F5 */

static int ref_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                              size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Worst case: every byte becomes three. */
    if (n > SIZE_MAX / 3 || lineproto_buf_reserve(b, n * 3) < 0)
        return -1;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        int rc = 0;
        if (c >= 0x80) {
            size_t len = utf8_seq_len(u, n, i);
            if (len == 0) {
                rc = buf_puts(b, REPLACEMENT);
                i++;
            } else {
                rc = lineproto_buf_append(b, s + i, len);
                i += len;
            }
            if (rc < 0)
                return -1;
            continue;
        }
        if (c == 0) {
            rc = buf_puts(b, REPLACEMENT);
        } else if (part == LINEPROTO_STRING) {
            if (c == '"' || c == '\\')
                rc = buf_putc(b, '\\');
            if (rc == 0)
                rc = buf_putc(b, (char)c);
        } else if (c == '\n') {
            rc = buf_puts(b, "\\n");
        } else if (c == '\r') {
            rc = buf_puts(b, "\\r");
        } else if (c == ',' || c == ' ' || (c == '=' && part != LINEPROTO_MEASUREMENT)) {
            char esc[2] = {'\\', (char)c};
            rc = lineproto_buf_append(b, esc, 2);
        } else if (c == '\\' && (i == n - 1 || (part == LINEPROTO_MEASUREMENT &&
                                                strchr(",\" =", (char)u[i + 1]) != NULL &&
                                                u[i + 1] != 0))) {
            rc = buf_puts(b, REVERSE_SOLIDUS_OP);
        } else if (c == '\\' && part == LINEPROTO_FIELD_KEY &&
                   strchr(",= \\\n\r", (char)u[i + 1]) != NULL && u[i + 1] != 0) {
            rc = buf_puts(b, "\\\\"); /* a harmless pair for influxd's scanner */
        } else if (c == '#' && i == 0 && part == LINEPROTO_MEASUREMENT) {
            rc = buf_puts(b, "\\#");
        } else if (c == '\t' && i == 0 && part == LINEPROTO_MEASUREMENT) {
            rc = buf_puts(b, "\\t"); /* influxd skips whitespace at a line's start */
        } else {
            rc = buf_putc(b, (char)c);
        }
        if (rc < 0)
            return -1;
        i++;
    }
    return 0;
}

static int append_escaped_str(lineproto_buf *b, lineproto_part part, const char *s)
{
    return ref_append_escaped(b, part, s, strlen(s));
}

static int ref_append_double(lineproto_buf *b, double v)
{
    if (!isfinite(v))
        return -2;
    char tmp[48];
    /* Integers print as such, without the search below. */
    /* The range test comes first: casting a double beyond long long's range
     * is undefined behaviour (found by fuzz-lineproto). */
    if (fabs(v) < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v))) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)v);
        return buf_puts(b, tmp);
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

static int ref_parse_pyfloat(const char *s, size_t n, double *out)
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
    *out = strtod(clean, NULL);
    return 0;
}

/* ---- fields ------------------------------------------------------------ */

typedef enum { FIELD_FLOAT, FIELD_STRING, FIELD_BOOL } field_type;

typedef struct {
    char *key;
    field_type type;
    double num;
    bool flag;
    char *str;
} field;

/* Fields in insertion order with Python dict semantics: setting an existing
 * key replaces its value in place. */
typedef struct {
    field *v;
    size_t n;
    size_t cap;
    bool oom;
    unsigned dropped;
} fieldset;

static void fieldset_fini(fieldset *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].key);
        free(fs->v[i].str);
    }
    free(fs->v);
}

static field *fieldset_find(fieldset *fs, const char *key)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].key, key) == 0)
            return &fs->v[i];
    return NULL;
}

/* Returns the slot for key (new or existing, its old string freed), or NULL
 * when out of memory (fs->oom set). */
static field *fieldset_slot(fieldset *fs, const char *key)
{
    field *f = fieldset_find(fs, key);
    if (f != NULL) {
        free(f->str);
        f->str = NULL;
        return f;
    }
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        field *v = realloc(fs->v, cap * sizeof *v);
        if (v == NULL) {
            fs->oom = true;
            return NULL;
        }
        fs->v = v;
        fs->cap = cap;
    }
    char *k = strdup(key);
    if (k == NULL) {
        fs->oom = true;
        return NULL;
    }
    f = &fs->v[fs->n++];
    memset(f, 0, sizeof *f);
    f->key = k;
    return f;
}

static void fieldset_del(fieldset *fs, const char *key)
{
    field *f = fieldset_find(fs, key);
    if (f == NULL)
        return;
    free(f->key);
    free(f->str);
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

static void fieldset_string(fieldset *fs, const char *key, const char *s)
{
    field *f = fieldset_slot(fs, key);
    if (f == NULL)
        return;
    f->type = FIELD_STRING;
    f->str = strdup(s);
    if (f->str == NULL)
        fs->oom = true;
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

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const tag *)a)->key, ((const tag *)b)->key);
}

/* ---- line assembly ----------------------------------------------------- */

/* An escaped field key as influxd stores it: it reads a backslash and the
 * byte after it as a pair and turns "\\,", "\\=" and "\\ " into the bare
 * character. Returns a malloc'd string or NULL when out of memory. */
static char *stored_field_key(const char *s, size_t n)
{
    char *k = malloc(n + 1);
    if (k == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char x = s[++i];
            if (x != ',' && x != '=' && x != ' ')
                k[o++] = '\\';
            k[o++] = x;
        } else {
            k[o++] = s[i];
        }
    }
    k[o] = '\0';
    return k;
}

static int write_line(lineproto_buf *out, const char *measurement, tag *tags,
                      size_t ntags, fieldset *fs, int64_t time_ns)
{
    int rc = append_escaped_str(out, LINEPROTO_MEASUREMENT, measurement);
    qsort(tags, ntags, sizeof *tags, tag_cmp);
    for (size_t i = 0; i < ntags && rc == 0; i++) {
        if (tags[i].value == NULL || tags[i].value[0] == '\0')
            continue; /* InfluxDB refuses empty tag values */
        rc |= buf_putc(out, ',');
        rc |= append_escaped_str(out, LINEPROTO_KEY, tags[i].key);
        rc |= buf_putc(out, '=');
        rc |= append_escaped_str(out, LINEPROTO_KEY, tags[i].value);
    }
    size_t written = 0;
    char **keys = calloc(fs->n ? fs->n : 1, sizeof *keys);
    if (keys == NULL)
        rc = -1;
    for (size_t i = 0; i < fs->n && rc == 0; i++) {
        field *f = &fs->v[i];
        size_t before = out->len;
        rc |= buf_putc(out, written == 0 ? ' ' : ',');
        size_t kstart = out->len;
        rc |= append_escaped_str(out, LINEPROTO_FIELD_KEY, f->key);
        char *stored =
            rc == 0 ? stored_field_key(out->data + kstart, out->len - kstart) : NULL;
        if (stored == NULL) {
            rc = -1;
            break;
        }
        bool dup = false;
        for (size_t k = 0; k < written && !dup; k++)
            dup = strcmp(keys[k], stored) == 0;
        if (dup) {
            /* Two keys InfluxDB would store alike (after the replacements
             * above): it would keep only the last, so keep only the first. */
            free(stored);
            lineproto_buf_truncate(out, before);
            fs->dropped++;
            continue;
        }
        keys[written] = stored;
        rc |= buf_putc(out, '=');
        if (f->type == FIELD_FLOAT) {
            rc |= ref_append_double(out, f->num);
        } else if (f->type == FIELD_BOOL) {
            rc |= buf_puts(out, f->flag ? "true" : "false");
        } else {
            rc |= buf_putc(out, '"');
            rc |= append_escaped_str(out, LINEPROTO_STRING, f->str);
            rc |= buf_putc(out, '"');
        }
        written++;
    }
    for (size_t k = 0; keys != NULL && k < written; k++)
        free(keys[k]);
    free(keys);
    if (rc == 0) {
        char ts[32];
        snprintf(ts, sizeof ts, " %" PRId64 "\n", time_ns);
        rc = buf_puts(out, ts);
    }
    return rc == 0 ? 0 : -1;
}

/* ---- message helpers --------------------------------------------------- */

static const char *get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The point time: time_ns, else new_state.last_updated, else time_fired. */
static int message_time(const json_t *msg, int64_t *out)
{
    json_t *t = json_object_get(msg, "time_ns");
    if (json_is_integer(t)) {
        *out = (int64_t)json_integer_value(t);
        return 0;
    }
    json_t *ns = json_object_get(msg, "new_state");
    const char *lu = get_str(ns, "last_updated");
    if (lu != NULL && hs_time_parse_iso(lu, out) == 0)
        return 0;
    const char *tf = get_str(msg, "time_fired");
    if (tf != NULL && hs_time_parse_iso(tf, out) == 0)
        return 0;
    return -1;
}

/* A JSON value as Python's str() shows it closely enough for HA's "_str"
 * fields: strings as they are, null as "None", other values as compact JSON
 * text. Returns a malloc'd string or NULL when out of memory. */
static char *value_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_null(v) || v == NULL)
        return strdup("None");
    if (json_is_true(v))
        return strdup("True");
    if (json_is_false(v))
        return strdup("False");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* float(value) as Python applies it to a JSON value. */
static bool value_as_float(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return true;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v) ? 1.0 : 0.0;
        return true;
    }
    if (json_is_string(v))
        return ref_parse_pyfloat(json_string_value(v), json_string_length(v), out) == 0;
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
    char *tmp = malloc(strlen(text) + 1);
    if (tmp == NULL)
        return NAN;
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++)
        if (isdigit((unsigned char)*p) || *p == '.')
            tmp[n++] = *p;
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    free(tmp);
    return v;
}

/* HA's attribute rule: float(value) under the key, else "<key>_str" with the
 * text (and the digits of a text like "12 km" under the key). A key already
 * among the fields, and the key "time", get a trailing '_' first. */
static void add_attribute(fieldset *fs, const char *name, const json_t *value)
{
    if (name[0] == '\0') {
        fs->dropped++; /* InfluxDB refuses an empty field key */
        return;
    }
    size_t klen = strlen(name);
    char *key = malloc(klen + 6);
    if (key == NULL) {
        fs->oom = true;
        return;
    }
    memcpy(key, name, klen + 1);
    /* influxd refuses a field named "time" (it drops the point or the
     * field): it is treated like a key already taken. */
    if (fieldset_find(fs, key) != NULL || strcmp(key, "time") == 0) {
        key[klen++] = '_';
        key[klen] = '\0';
    }
    double num;
    if (value_as_float(value, &num)) {
        fieldset_float(fs, key, num);
    } else {
        char *text = value_text(value);
        if (text == NULL) {
            fs->oom = true;
            free(key);
            return;
        }
        memcpy(key + klen, "_str", 5);
        fieldset_string(fs, key, text);
        key[klen] = '\0';
        if (digit_tail(text))
            fieldset_float(fs, key, digit_tail_value(text));
        free(text);
    }
    free(key);
}

/* A homestream extra: same clash rule as attributes, typed as given. */
static void add_extra_number(fieldset *fs, const char *name, const json_t *v)
{
    if (!json_is_number(v))
        return;
    char key[64];
    snprintf(key, sizeof key, "%s%s", name, fieldset_find(fs, name) ? "_" : "");
    fieldset_float(fs, key, json_number_value(v));
}

static void add_extra_string(fieldset *fs, const char *name, const json_t *v)
{
    if (!json_is_string(v))
        return;
    char key[64];
    snprintf(key, sizeof key, "%s%s", name, fieldset_find(fs, name) ? "_" : "");
    fieldset_string(fs, key, json_string_value(v));
}

static void add_extra_bool(fieldset *fs, const char *name, const json_t *v)
{
    if (!json_is_boolean(v))
        return;
    char key[64];
    snprintf(key, sizeof key, "%s%s", name, fieldset_find(fs, name) ? "_" : "");
    fieldset_bool(fs, key, json_is_true(v));
}

/* HA's state_as_number word states (helpers/state.py). "unknown" is left
 * out on purpose: homestream keeps it as a state, without a value. */
static bool word_state(const char *s, double *out)
{
    static const char *const one[] = {"on", "locked", "above_horizon", "open", "home"};
    static const char *const zero[] = {"off", "unlocked", "below_horizon", "closed",
                                       "not_home"};
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
static int entity_parts(const json_t *msg, const char *entity_id, char *dom,
                        const char **object_id)
{
    const char *d = get_str(msg, "domain");
    const char *o = get_str(msg, "object_id");
    if (nonempty(d) && nonempty(o) && strlen(d) < 256) {
        snprintf(dom, 256, "%s", d);
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

static int encode_ha_state(const json_t *msg, enc_ctx *c, lineproto_buf *out,
                           int64_t time_ns)
{
    json_t *ns = json_object_get(msg, "new_state");
    if (!json_is_object(ns)) {
        c->info->skip_reason = "no new_state (entity removed)";
        return 0;
    }
    const char *entity_id = get_str(msg, "entity_id");
    if (!nonempty(entity_id)) {
        snprintf(c->err, c->errlen, "state_changed without entity_id");
        return -1;
    }
    json_t *state_j = json_object_get(ns, "state");
    if (!json_is_string(state_j)) {
        snprintf(c->err, c->errlen, "new_state.state is not a string");
        return -1;
    }
    const char *state = json_string_value(state_j);
    char domain[256];
    const char *object_id = NULL;
    if (entity_parts(msg, entity_id, domain, &object_id) < 0) {
        snprintf(c->err, c->errlen, "malformed entity_id");
        return -1;
    }
    json_t *attrs = json_object_get(ns, "attributes");
    if (!json_is_object(attrs))
        attrs = NULL;

    /* state / value, as HA's event_to_json decides them: a state Python's
     * float() reads is a value only (the enricher's number when it gave
     * one); a word state is both; any other state is text, with the
     * enricher's value too when it found one (its boolean-like words). */
    bool include_state = false, include_value = false;
    double value = 0, parsed;
    json_t *enriched_value = json_object_get(msg, "value");
    bool enriched = json_is_number(enriched_value);
    if (kept_as_state(state)) {
        include_state = true;
    } else if (ref_parse_pyfloat(state, strlen(state), &parsed) == 0) {
        include_value = true;
        value = enriched && isfinite(parsed) ? json_number_value(enriched_value) : parsed;
    } else if (word_state(state, &value)) {
        include_state = include_value = true;
        if (enriched)
            value = json_number_value(enriched_value);
    } else {
        include_state = true;
        if (enriched) {
            include_value = true;
            value = json_number_value(enriched_value);
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
            json_t *dc = json_object_get(attrs, "device_class");
            if (dc == NULL || json_is_null(dc)) {
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
            const char *unit = get_str(msg, "unit");
            if (o->measurement_attr == LINEPROTO_MATTR_UNIT && nonempty(unit)) {
                measurement = unit;
            } else {
                json_t *m = json_object_get(attrs, attr_name);
                if (json_is_string(m)) {
                    measurement = json_string_value(m);
                } else if (m != NULL && !json_is_null(m)) {
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

    fieldset fs = {0};
    if (include_state)
        fieldset_string(&fs, "state", state);
    if (include_value)
        fieldset_float(&fs, "value", value);
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v)
    {
        if (strcmp(key, "unit_of_measurement") == 0 && !include_uom)
            continue;
        if (strcmp(key, "device_class") == 0 && !include_dc)
            continue;
        add_attribute(&fs, key, v);
    }
    json_t *weather = json_object_get(msg, "weather");
    if (json_is_object(weather)) {
        add_extra_number(&fs, "weather_temperature",
                         json_object_get(weather, "temperature"));
        add_extra_number(&fs, "weather_humidity", json_object_get(weather, "humidity"));
        add_extra_number(&fs, "weather_pressure", json_object_get(weather, "pressure"));
        add_extra_string(&fs, "weather_condition", json_object_get(weather, "condition"));
    }
    json_t *presence = json_object_get(msg, "presence");
    if (json_is_object(presence)) {
        add_extra_bool(&fs, "anyone_home", json_object_get(presence, "anyone_home"));
        add_extra_number(&fs, "people_home", json_object_get(presence, "people_home"));
    }
    if (fs.n == 0)
        fieldset_string(&fs, "state", state); /* e.g. state "nan": keep the text */

    tag tags[] = {
        {"domain", domain},
        {"entity_id", object_id},
        {"site", get_str(msg, "site")},
        {"area", get_str(msg, "area")},
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

static int encode_ha_weather(const json_t *msg, enc_ctx *c, lineproto_buf *out,
                             int64_t time_ns)
{
    json_t *w = json_object_get(msg, "weather");
    if (!json_is_object(w)) {
        c->info->skip_reason = "weather record without observation";
        return 0;
    }
    fieldset fs = {0};
    add_extra_number(&fs, "temperature", json_object_get(w, "temperature"));
    add_extra_number(&fs, "humidity", json_object_get(w, "humidity"));
    add_extra_number(&fs, "pressure", json_object_get(w, "pressure"));
    add_extra_string(&fs, "condition", json_object_get(w, "condition"));
    add_extra_number(&fs, "age_s", json_object_get(w, "age_s"));
    tag tags[] = {{"site", get_str(msg, "site")}, {"provider", get_str(w, "provider")}};
    return write_own_point(c, out, "weather", tags, 2, &fs, time_ns,
                           "weather record without values");
}

static int encode_ha_presence(const json_t *msg, enc_ctx *c, lineproto_buf *out,
                              int64_t time_ns)
{
    json_t *p = json_object_get(msg, "presence");
    if (!json_is_object(p)) {
        c->info->skip_reason = "presence record without snapshot";
        return 0;
    }
    fieldset fs = {0};
    add_extra_bool(&fs, "anyone_home", json_object_get(p, "anyone_home"));
    add_extra_number(&fs, "people_home", json_object_get(p, "people_home"));
    tag tags[] = {{"site", get_str(msg, "site")}};
    return write_own_point(c, out, "presence", tags, 1, &fs, time_ns,
                           "presence record without values");
}

/* A homestream_stats record (hs_statsrec.h), in either schema: measurement
 * homestream, tags stage and site, one float field per number in "stats".
 * Entries that are not numbers, and keys influxd cannot store (empty), are
 * left out and counted; "time", which influxd refuses, becomes "time_" as
 * for attributes (a "time_" already there keeps the first one). */
static int encode_stats(const json_t *msg, enc_ctx *c, lineproto_buf *out,
                        int64_t time_ns)
{
    json_t *stats = json_object_get(msg, "stats");
    if (!json_is_object(stats)) {
        c->info->skip_reason = "homestream_stats record without stats";
        return 0;
    }
    fieldset fs = {0};
    const char *key;
    json_t *v;
    json_object_foreach(stats, key, v)
    {
        if (key[0] == '\0' || !json_is_number(v)) {
            fs.dropped++;
            continue;
        }
        const char *k = strcmp(key, "time") == 0 ? "time_" : key;
        if (fieldset_find(&fs, k) != NULL) {
            fs.dropped++; /* "time" next to "time_": the first is kept */
            continue;
        }
        fieldset_float(&fs, k, json_number_value(v));
    }
    int rc = 0;
    if (fs.oom) {
        rc = -1;
    } else if (fs.n == 0) {
        c->info->skip_reason = "homestream_stats record without numbers";
    } else {
        tag tags[] = {{"stage", get_str(msg, "stage")}, {"site", get_str(msg, "site")}};
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

static void add_json_text(fieldset *fs, const char *key, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (t == NULL) {
        fs->oom = true;
        return;
    }
    fieldset_string(fs, key, t);
    free(t);
}

static int encode_events(const json_t *msg, enc_ctx *c, lineproto_buf *out,
                         int64_t time_ns, const char *event_type)
{
    const char *entity_id = get_str(msg, "entity_id");
    char domain[256] = "";
    const char *object_id = NULL;
    if (nonempty(entity_id) && entity_parts(msg, entity_id, domain, &object_id) < 0)
        domain[0] = '\0';
    fieldset fs = {0};
    json_t *ns = json_object_get(msg, "new_state");
    if (strcmp(event_type, "state_changed") == 0) {
        if (json_is_object(ns)) {
            add_extra_string(&fs, "state", json_object_get(ns, "state"));
            json_t *attrs = json_object_get(ns, "attributes");
            if (json_is_object(attrs))
                add_json_text(&fs, "attributes", attrs);
        } else {
            fieldset_bool(&fs, "removed", true);
        }
        json_t *old = json_object_get(msg, "old_state");
        if (json_is_object(old))
            add_extra_string(&fs, "old_state", json_object_get(old, "state"));
    } else {
        json_t *data = json_object_get(msg, "data");
        if (data == NULL)
            data = json_object_get(msg, event_type);
        if (data != NULL)
            add_json_text(&fs, "data", data);
    }
    add_extra_number(&fs, "value", json_object_get(msg, "value"));
    add_extra_string(&fs, "unit", json_object_get(msg, "unit"));
    add_extra_bool(&fs, "backfill", json_object_get(msg, "backfill"));
    if (fs.n == 0)
        fieldset_string(&fs, "data", "{}");
    tag tags[] = {
        {"area", get_str(msg, "area")}, {"domain", domain},
        {"entity_id", entity_id},       {"event_type", event_type},
        {"site", get_str(msg, "site")},
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

int lineproto_ref_encode(const json_t *msg, const lineproto_opts *opts,
                         lineproto_buf *out, lineproto_info *info, char *err,
                         size_t errlen)
{
    info->points = 0;
    info->dropped_fields = 0;
    info->skip_reason = NULL;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "message is not a JSON object");
        return -1;
    }
    const char *event_type = get_str(msg, "event_type");
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

/* ---- the differential property (not part of the old encoder) ---------- */

int lineproto_ref_append_double(lineproto_buf *b, double v)
{
    return ref_append_double(b, v);
}

int lineproto_ref_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                                 size_t n)
{
    return ref_append_escaped(b, part, s, n);
}

int lineproto_ref_parse_pyfloat(const char *s, size_t n, double *out)
{
    return ref_parse_pyfloat(s, n, out);
}

static const lineproto_opts ref_variants[] = {
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, NULL, NULL},
    {LINEPROTO_SCHEMA_EVENTS, LINEPROTO_MATTR_UNIT, NULL, NULL},
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, "state \"x\",=\\", NULL},
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS, NULL, NULL},
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_DEVICE_CLASS, "sensor", NULL},
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_ENTITY_ID, NULL, NULL},
    {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, NULL, "#over ride"},
};

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

#define NVARIANTS (sizeof ref_variants / sizeof ref_variants[0])

/* One skeleton cache per option set with a filter, kept from one checked
 * text to the next, every text read with the same key: each is read against
 * the skeleton of the one before. */
static msgjson_skels *ref_skels[NVARIANTS];

bool lineproto_ref_same_node(const msgjson_node *x, const msgjson_node *y)
{
    if (x->type != y->type || x->span != y->span || x->count != y->count)
        return false;
    if (x->type == MSGJSON_STRING)
        return memcmp(x->u.s, y->u.s, (size_t)x->count + 1) == 0;
    return memcmp(&x->u, &y->u, sizeof x->u) == 0;
}

/* Node by node, the same contents (lineproto_ref_same_node). */
static bool same_nodes(const msgjson_doc *a, const msgjson_doc *b, size_t *at)
{
    for (*at = 0; *at < a->n && *at < b->n; (*at)++)
        if (!lineproto_ref_same_node(&a->nodes[*at], &b->nodes[*at]))
            return false;
    return a->n == b->n;
}

/* Reads text[0..n) into k through v's skeletons (filter's) and compares
 * the result with the plain reading's: frc and, accepted, f. Returns 0 or
 * -1 (why set). */
static int check_keyed(msgjson_doc *k, const char *text, size_t n,
                       const msgjson_filter *filter, size_t v, int frc,
                       const msgjson_doc *f, char *why, size_t whylen)
{
    if (ref_skels[v] == NULL && (ref_skels[v] = msgjson_skels_new()) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int krc = msgjson_parse_keyed(k, text, n, filter, ref_skels[v], "ref", 3);
    size_t at = 0;
    if (krc != frc)
        snprintf(why, whylen, "msgjson_parse_keyed: %d, msgjson_parse_filtered: %d", krc,
                 frc);
    else if (krc == 0 && !same_nodes(k, f, &at))
        snprintf(why, whylen, "msgjson_parse_keyed: node %zu of %zu differs (%zu)", at,
                 k->n, f->n);
    else
        return 0;
    return -1;
}

uint64_t lineproto_ref_skel_hits(void)
{
    uint64_t sum = 0;
    for (size_t v = 0; v < NVARIANTS; v++) {
        uint64_t hits = 0, misses, made;
        size_t bytes;
        if (ref_skels[v] != NULL)
            msgjson_skels_counts(ref_skels[v], &hits, &misses, &made, &bytes);
        sum += hits;
    }
    return sum;
}

/* One shape cache per option set, kept from one checked text to the next,
 * so that a sequence of texts meets entries made by earlier ones. */
static lineproto_cache *ref_caches[NVARIANTS];

/* Compares one result of the writer's path (what) with the reference's.
 * Returns 0, or -1 with why set. */
static int same_result(const char *what, int ra, const char *ea, const lineproto_buf *a,
                       const lineproto_info *ia, int rb, const char *eb,
                       const lineproto_buf *b, const lineproto_info *ib, char *why,
                       size_t whylen)
{
    if (ra != rb)
        snprintf(why, whylen, "%s: result %d, reference %d (%s / %s)", what, ra, rb, ea,
                 eb);
    else if (ra < 0 && strcmp(ea, eb) != 0)
        snprintf(why, whylen, "%s: error \"%s\", reference \"%s\"", what, ea, eb);
    else if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
        snprintf(why, whylen, "%s: line\n  %.*s\nreference\n  %.*s", what, (int)a->len,
                 a->data ? a->data : "", (int)b->len, b->data ? b->data : "");
    else if (ra == 0 &&
             (ia->points != ib->points || ia->dropped_fields != ib->dropped_fields ||
              !same_text(ia->skip_reason, ib->skip_reason)))
        snprintf(why, whylen, "%s: info %u/%u/%s, reference %u/%u/%s", what, ia->points,
                 ia->dropped_fields, ia->skip_reason ? ia->skip_reason : "-", ib->points,
                 ib->dropped_fields, ib->skip_reason ? ib->skip_reason : "-");
    else
        return 0;
    return -1;
}

/* Compares the encoders on option set v: the writer's path without a
 * cache, then twice with v's cache (the second time the entity's entry, if
 * the first made one, is used). Returns 0 or -1 (why set). */
static int check_variant(const msgjson_doc *doc, const json_t *tree, size_t v, char *why,
                         size_t whylen)
{
    const lineproto_opts *o = &ref_variants[v];
    if (ref_caches[v] == NULL && (ref_caches[v] = lineproto_cache_new()) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    lineproto_buf a, b;
    lineproto_buf_init(&a);
    lineproto_buf_init(&b);
    lineproto_info ia, ib;
    char ea[256] = "", eb[256] = "";
    int rb = lineproto_ref_encode(tree, o, &b, &ib, eb, sizeof eb);
    int ra = lineproto_encode_doc(doc, o, &a, &ia, ea, sizeof ea);
    int rc = same_result("uncached", ra, ea, &a, &ia, rb, eb, &b, &ib, why, whylen);
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        lineproto_buf_truncate(&a, 0);
        ea[0] = '\0';
        ra = lineproto_encode_cached(doc, o, ref_caches[v], &a, &ia, ea, sizeof ea);
        rc = same_result(pass == 0 ? "cached" : "cached again", ra, ea, &a, &ia, rb, eb,
                         &b, &ib, why, whylen);
    }
    lineproto_buf_fini(&a);
    lineproto_buf_fini(&b);
    return rc;
}

uint64_t lineproto_ref_cache_hits(void)
{
    uint64_t sum = 0;
    for (size_t v = 0; v < NVARIANTS; v++) {
        uint64_t hits = 0, misses, kept;
        if (ref_caches[v] != NULL)
            lineproto_cache_counts(ref_caches[v], &hits, &misses, &kept);
        sum += hits;
    }
    return sum;
}

void lineproto_ref_cache_free(void)
{
    for (size_t v = 0; v < NVARIANTS; v++) {
        lineproto_cache_free(ref_caches[v]);
        ref_caches[v] = NULL;
        msgjson_skels_free(ref_skels[v]);
        ref_skels[v] = NULL;
    }
}

int lineproto_ref_check(const char *text, size_t n, bool *fast, char *why, size_t whylen)
{
    why[0] = '\0';
    *fast = false;
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (n > 0)
        memcpy(copy, text, n);
    copy[n] = '\0';
    if (memmem(copy, n, "\\u0000", 6) != NULL)
        lineproto_scrub_nul_escapes(copy, n);
    msgjson_doc doc;
    msgjson_init(&doc);
    int prc = msgjson_parse(&doc, copy, n);
    *fast = prc == 0;
    json_t *tree = json_loadb(copy, n, 0, NULL);
    int rc = 0;
    if (prc == -2) {
        snprintf(why, whylen, "msgjson_parse out of memory");
        rc = -1;
    } else if (prc == 0 && tree == NULL) {
        snprintf(why, whylen, "msgjson accepted a text jansson refuses");
        rc = -1;
    } else if (prc == 0) {
        lineproto_buf d;
        lineproto_buf_init(&d);
        char *jd = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
        if (jd == NULL || msgjson_dump(msgjson_root(&doc), &d) < 0 ||
            strcmp(jd, d.data) != 0) {
            snprintf(why, whylen, "dump\n  %s\njansson\n  %s",
                     d.data ? d.data : "(failed)", jd ? jd : "(failed)");
            rc = -1;
        }
        free(jd);
        lineproto_buf_fini(&d);
    } else if (tree != NULL && msgjson_from_json(&doc, tree) < 0) {
        snprintf(why, whylen, "msgjson_from_json failed");
        rc = -1;
    }
    /* Per option set, what the writer reads: msgjson_parse_filtered with
     * the set's lineproto_filter, else (declined) the document above. */
    msgjson_doc fdoc, kdoc;
    msgjson_init(&fdoc);
    msgjson_init(&kdoc);
    for (size_t v = 0; rc == 0 && v < NVARIANTS; v++) {
        const msgjson_doc *use = &doc;
        const msgjson_filter *filter = lineproto_filter(&ref_variants[v]);
        if (filter != NULL) {
            int frc = msgjson_parse_filtered(&fdoc, copy, n, filter);
            if (frc == -2) {
                snprintf(why, whylen, "msgjson_parse_filtered out of memory");
                rc = -1;
            } else if (frc == 0 && prc != 0) {
                snprintf(why, whylen,
                         "msgjson_parse_filtered accepted a text msgjson_parse declines");
                rc = -1;
            } else if (frc == 0) {
                use = &fdoc;
            }
            if (rc == 0 && frc != -2)
                rc = check_keyed(&kdoc, copy, n, filter, v, frc, &fdoc, why, whylen);
            if (rc == 0 && frc == 0)
                use = &kdoc;
        }
        if (rc == 0 && tree != NULL)
            rc = check_variant(use, tree, v, why, whylen);
    }
    json_decref(tree);
    msgjson_fini(&doc);
    msgjson_fini(&fdoc);
    msgjson_fini(&kdoc);
    free(copy);
    return rc;
}
