/* enrich.c - the enricher's transform (see enrich.h). */
#include "enrich.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_event.h"
#include "hs_jscan.h"
#include "hs_time.h"
#include "units.h"

/* HA's helpers/state.py state_as_number word states, less "unknown" (see
 * enrich.h). */
static const char *const states_one[] = {"on", "locked", "above_horizon", "open", "home"};
static const char *const states_zero[] = {"off", "unlocked", "below_horizon", "closed",
                                          "not_home"};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* True when s is, in full, [+-]? (digits (. digits*)? | . digits) ([eE] [+-]? digits)? */
static bool is_decimal_literal(const char *s)
{
    const char *p = s;
    size_t int_digits = 0, frac_digits = 0;

    if (*p == '+' || *p == '-')
        p++;
    while (is_digit(*p)) {
        p++;
        int_digits++;
    }
    if (*p == '.') {
        p++;
        while (is_digit(*p)) {
            p++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        size_t exp_digits = 0;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        while (is_digit(*p)) {
            p++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    return *p == '\0';
}

int enrich_state_value(const char *state, double *out)
{
    if (!state)
        return -1;
    for (size_t i = 0; i < sizeof states_one / sizeof states_one[0]; i++) {
        if (strcmp(state, states_one[i]) == 0) {
            *out = 1.0;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof states_zero / sizeof states_zero[0]; i++) {
        if (strcmp(state, states_zero[i]) == 0) {
            *out = 0.0;
            return 0;
        }
    }
    if (!is_decimal_literal(state))
        return -1;
    if (hs_jscan_exact_decimal(state, strlen(state), out))
        return 0;
    /* The literal is plain C-locale syntax; daemons never call setlocale(). */
    char *end = NULL;
    double v = strtod(state, &end);
    if (!end || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int enrich_time_ns(const json_t *raw, int64_t *out, char *err, size_t errlen)
{
    const json_t *ns = json_object_get(raw, "new_state");
    const char *field = "time_fired";
    const json_t *ts = json_object_get(raw, "time_fired");

    if (json_is_object(ns)) {
        field = "new_state.last_updated";
        ts = json_object_get(ns, "last_updated");
    }
    if (!json_is_string(ts)) {
        snprintf(err, errlen, "%s is missing or not a string", field);
        return -1;
    }
    if (hs_time_parse_iso(json_string_value(ts), out) != 0) {
        snprintf(err, errlen, "%s is not an ISO 8601 timestamp", field);
        return -1;
    }
    return 0;
}

/* The string attribute `name` of new_state as a new JSON value, else null. */
static json_t *attribute_string(const json_t *new_state, const char *name)
{
    const json_t *attrs = json_object_get(new_state, "attributes");
    const json_t *v = json_object_get(attrs, name);
    if (json_is_string(v))
        return json_stringn(json_string_value(v), json_string_length(v));
    return json_null();
}

static json_t *ref_or_null(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

json_t *enrich_fields(const json_t *raw, const enrich_ctx *ctx, char *err, size_t errlen)
{
    int64_t time_ns = 0;
    if (!json_is_object(raw)) {
        snprintf(err, errlen, "message is not a JSON object");
        return NULL;
    }
    if (enrich_time_ns(raw, &time_ns, err, errlen) != 0)
        return NULL;

    const json_t *new_state = json_object_get(raw, "new_state");
    json_t *unit = attribute_string(new_state, "unit_of_measurement");
    json_t *value = json_null();
    if (json_is_object(new_state)) {
        const json_t *state = json_object_get(new_state, "state");
        double v = 0;
        if (json_is_string(state) &&
            enrich_state_value(json_string_value(state), &v) == 0) {
            const char *to = NULL;
            if (ctx && ctx->metric && json_is_string(unit) &&
                units_to_metric(json_string_value(unit), &v, &to) == 1) {
                json_decref(unit);
                unit = json_string(to);
            }
            json_decref(value);
            value = json_real(v);
        }
    }

    json_t *out = json_object();
    if (!out || !value || !unit) {
        json_decref(out);
        json_decref(value);
        json_decref(unit);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = 0;
    rc |= json_object_set_new(out, "time_ns", json_integer((json_int_t)time_ns));
    rc |= json_object_set_new(out, "value", value);
    rc |= json_object_set_new(out, "unit", unit);
    rc |= json_object_set_new(out, "device_class",
                              attribute_string(new_state, "device_class"));
    rc |= json_object_set_new(out, "presence", ref_or_null(ctx ? ctx->presence : NULL));
    rc |= json_object_set_new(out, "weather", ref_or_null(ctx ? ctx->weather : NULL));
    if (rc != 0) {
        json_decref(out);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return out;
}

/* A shallow copy of raw (the members are shared, only the top level is new)
 * with the members of fields added; json_object_update replaces a member raw
 * already has in place. NULL when out of memory. */
static json_t *merged(const json_t *raw, const json_t *fields)
{
    json_t *out = json_copy((json_t *)raw);
    if (out && json_object_update(out, (json_t *)fields) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *enrich_event(const json_t *raw, const enrich_ctx *ctx, char *err, size_t errlen)
{
    json_t *fields = enrich_fields(raw, ctx, err, errlen);
    if (!fields)
        return NULL;
    json_t *out = merged(raw, fields);
    json_decref(fields);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The whole message dumped, for what enrich_text cannot splice. */
static char *dump_merged(const json_t *raw, const json_t *fields, size_t *len)
{
    json_t *out = merged(raw, fields);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (text)
        *len = strlen(text);
    return text;
}

char *enrich_text(const char *raw_text, size_t raw_len, const json_t *raw,
                  const json_t *fields, size_t *len)
{
    const char *key;
    const json_t *v;
    bool clash = !json_is_object(raw) || !json_is_object(fields);
    json_object_foreach((json_t *)fields, key, v)
    {
        (void)v;
        if (clash || json_object_get(raw, key) != NULL) {
            clash = true;
            break;
        }
    }
    /* The closing brace of raw_text: only whitespace may follow it. */
    size_t end = raw_len;
    while (end > 0 && is_space(raw_text[end - 1]))
        end--;
    if (clash || end < 2 || raw_text[end - 1] != '}' || json_object_size(fields) == 0)
        return dump_merged(raw, fields, len);

    char *add = json_dumps(fields, JSON_COMPACT);
    if (!add)
        return NULL;
    size_t add_len = strlen(add); /* "{...}": its members are add[1 .. add_len-1) */
    size_t head = end - 1;        /* raw_text without its closing brace */
    bool comma = json_object_size(raw) > 0;
    char *text = malloc(head + comma + add_len - 1 + 1);
    if (!text) {
        free(add);
        return NULL;
    }
    memcpy(text, raw_text, head);
    size_t n = head;
    if (comma)
        text[n++] = ',';
    memcpy(text + n, add + 1, add_len - 1); /* the members and the closing brace */
    n += add_len - 1;
    text[n] = '\0';
    free(add);
    *len = n;
    return text;
}

json_t *enrich_own_record(const char *site, const char *event_type, int64_t time_ns,
                          json_t *body)
{
    char iso[40];
    if (hs_time_format_iso(time_ns, iso, sizeof iso) != 0)
        return NULL;
    json_t *rec =
        json_pack("{s:i, s:s, s:s, s:n, s:s, s:I, s:O}", "schema", HS_EVENT_SCHEMA,
                  "site", site, "event_type", event_type, "entity_id", "time_fired", iso,
                  "time_ns", (json_int_t)time_ns, event_type, body);
    return rec;
}

/* The fast path (enrich_scan_raw, enrich_scan_text). */

/* v as a NUL-terminated string in buf (cut at a NUL it holds, as
 * json_string_value's users see it). -1 when v is not a string or does not
 * fit. */
static int scan_cstring(const hs_jscan_value *v, char *buf, size_t cap)
{
    size_t n = 0;
    return hs_jscan_string(v, buf, cap, &n);
}

/* The string attribute's JSON text when it needs no escape, else decline;
 * a missing or non-string attribute is null (NULL). */
static int scan_attr(const hs_jscan_value *v, const char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    if (v->type != HS_JSCAN_STRING)
        return 0;
    if (v->escaped)
        return -1;
    *text = v->text;
    *len = v->len;
    return 0;
}

/* What enrich_scan_raw reads, as hs_jscan_extract paths. */
enum {
    P_SCHEMA,
    P_EVENT_TYPE,
    P_SITE,
    P_ENTITY_ID,
    P_NEW_STATE,
    P_TIME_FIRED,
    P_STATE,
    P_LAST_UPDATED,
    P_UNIT,
    P_DEVICE_CLASS,
    P_ADDED, /* the members enrich adds, from here on */
    P_COUNT = P_ADDED + 6
};

static const char *const path_schema[] = {"schema", NULL};
static const char *const path_event_type[] = {"event_type", NULL};
static const char *const path_site[] = {"site", NULL};
static const char *const path_entity_id[] = {"entity_id", NULL};
static const char *const path_new_state[] = {"new_state", NULL};
static const char *const path_time_fired[] = {"time_fired", NULL};
static const char *const path_state[] = {"new_state", "state", NULL};
static const char *const path_last_updated[] = {"new_state", "last_updated", NULL};
static const char *const path_unit[] = {"new_state", "attributes", "unit_of_measurement",
                                        NULL};
static const char *const path_device_class[] = {"new_state", "attributes", "device_class",
                                                NULL};
static const char *const path_time_ns[] = {"time_ns", NULL};
static const char *const path_value[] = {"value", NULL};
static const char *const path_unit_top[] = {"unit", NULL};
static const char *const path_device_class_top[] = {"device_class", NULL};
static const char *const path_presence[] = {"presence", NULL};
static const char *const path_weather[] = {"weather", NULL};

static const char *const *const scan_paths[P_COUNT] = {
    [P_SCHEMA] = path_schema,       [P_EVENT_TYPE] = path_event_type,
    [P_SITE] = path_site,           [P_ENTITY_ID] = path_entity_id,
    [P_NEW_STATE] = path_new_state, [P_TIME_FIRED] = path_time_fired,
    [P_STATE] = path_state,         [P_LAST_UPDATED] = path_last_updated,
    [P_UNIT] = path_unit,           [P_DEVICE_CLASS] = path_device_class,
    [P_ADDED] = path_time_ns,       [P_ADDED + 1] = path_value,
    [P_ADDED + 2] = path_unit_top,  [P_ADDED + 3] = path_device_class_top,
    [P_ADDED + 4] = path_presence,  [P_ADDED + 5] = path_weather,
};

/* The value and unit of a new_state object (v holds what extract found). */
static int scan_value_unit(const hs_jscan_value *v, bool metric, enrich_scan *out)
{
    if (scan_attr(&v[P_UNIT], &out->unit, &out->unit_len) != 0 ||
        scan_attr(&v[P_DEVICE_CLASS], &out->device_class, &out->device_class_len) != 0)
        return -1;
    if (v[P_STATE].type != HS_JSCAN_STRING)
        return 0;
    char sbuf[512];
    double value = 0;
    if (scan_cstring(&v[P_STATE], sbuf, sizeof sbuf) != 0)
        return -1;
    if (enrich_state_value(sbuf, &value) != 0)
        return 0;
    out->has_value = true;
    out->value = value;
    const char *to = NULL;
    char ubuf[64];
    size_t ul = out->unit ? out->unit_len - 2 : 0;
    /* A unit too long for ubuf is none of the three converted. */
    if (metric && out->unit && ul < sizeof ubuf) {
        memcpy(ubuf, out->unit + 1, ul);
        ubuf[ul] = '\0';
        if (units_to_metric(ubuf, &out->value, &to) == 1) {
            /* The metric unit names need no escape. */
            int n = snprintf(out->metric_unit, sizeof out->metric_unit, "\"%s\"", to);
            if (n < 0 || (size_t)n >= sizeof out->metric_unit)
                return -1;
            out->unit = out->metric_unit;
            out->unit_len = (size_t)n;
        }
    }
    return 0;
}

int enrich_scan_raw(const char *raw_text, size_t raw_len, bool metric, enrich_scan *out)
{
    hs_jscan_value v[P_COUNT];

    memset(out, 0, sizeof *out);
    if (hs_jscan_extract(raw_text, raw_len, scan_paths, P_COUNT, v) != 0)
        return -1;
    for (int i = P_ADDED; i < P_COUNT; i++)
        if (v[i].type != HS_JSCAN_ABSENT)
            return -1;

    /* hs_event_validate_raw's checks, in its order. */
    int64_t schema = 0;
    if (hs_jscan_int(&v[P_SCHEMA], &schema) != 0 || schema != HS_EVENT_SCHEMA)
        return -1;
    char type[64];
    if (scan_cstring(&v[P_EVENT_TYPE], type, sizeof type) != 0 || type[0] == '\0')
        return -1;
    if (v[P_SITE].type != HS_JSCAN_STRING)
        return -1;
    out->state_changed = strcmp(type, "state_changed") == 0;
    if (v[P_ENTITY_ID].type != HS_JSCAN_ABSENT) {
        /* Any entity_id that is not a plain string: the tree path. */
        if (scan_cstring(&v[P_ENTITY_ID], out->entity_id, sizeof out->entity_id) != 0)
            return -1;
        out->has_entity_id = true;
    }
    hs_jscan_type ns = v[P_NEW_STATE].type;
    if (out->state_changed &&
        (!out->has_entity_id || hs_event_split_entity(out->entity_id, NULL, 0) == NULL ||
         (ns != HS_JSCAN_OBJECT && ns != HS_JSCAN_NULL)))
        return -1;

    /* enrich_fields' values: the time from new_state.last_updated when
     * new_state is an object, else from time_fired. */
    char buf[256];
    const hs_jscan_value *ts =
        ns == HS_JSCAN_OBJECT ? &v[P_LAST_UPDATED] : &v[P_TIME_FIRED];
    if (scan_cstring(ts, buf, sizeof buf) != 0 ||
        hs_time_parse_iso(buf, &out->time_ns) != 0)
        return -1;
    if (ns == HS_JSCAN_OBJECT && scan_value_unit(v, metric, out) != 0)
        return -1;

    /* enrich_text's splice point: the closing brace. */
    size_t end = raw_len;
    while (end > 0 && is_space(raw_text[end - 1]))
        end--;
    if (end < 2 || raw_text[end - 1] != '}')
        return -1;
    out->head = end - 1;
    return 0;
}

/* The real v as jansson itself writes it (json_dumpb of json_real(v)). */
static size_t real_text_jansson(double v, char *buf, size_t cap)
{
    json_t *real = json_real(v);
    size_t n = real ? json_dumpb(real, buf, cap, JSON_ENCODE_ANY) : 0;
    json_decref(real);
    if (n == 0 || n >= cap)
        return 0;
    buf[n] = '\0';
    return n;
}

static const uint64_t pow10_u64[20] = {1u,
                                       10u,
                                       100u,
                                       1000u,
                                       10000u,
                                       100000u,
                                       1000000u,
                                       10000000u,
                                       100000000u,
                                       1000000000u,
                                       10000000000u,
                                       100000000000u,
                                       1000000000000u,
                                       10000000000000u,
                                       100000000000000u,
                                       1000000000000000u,
                                       10000000000000000u,
                                       100000000000000000u,
                                       1000000000000000000u,
                                       10000000000000000000u};

/* a (finite, 1e-5 <= a < 2^63) rounded to 17 significant digits, exactly as
 * printf does in the default rounding mode (halves to even): a is close to
 * *digits * 10^(*exp10 - 16) with 10^16 <= *digits < 10^17. Returns 0, or
 * -1 when the arithmetic would not fit. */
static int round17(double a, uint64_t *digits, int *exp10)
{
    int e2 = 0;
    double frac = frexp(a, &e2); /* a = frac * 2^e2, 0.5 <= frac < 1 */
    uint64_t m = (uint64_t)ldexp(frac, 53);
    int q = e2 - 53; /* a = m * 2^q exactly */
    /* floor(log10(a)) is floor((e2 - 1) * log10(2)) or one more, as
     * 2^(e2-1) <= a < 2^e2, found without a call to log10: 78913 / 2^18
     * is log10(2) to within 1e-6, so for the e2 here (-16 to 63) the guess
     * is off by one at most, which the loop below corrects either way;
     * adding 400 * 2^18 before the shift keeps the operand positive. */
    int x = (int)((((int64_t)(e2 - 1) * 78913) + ((int64_t)400 << 18)) >> 18) - 400;
    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - x; /* digits = round(a * 10^k) */
        unsigned __int128 d;
        if (k >= 0) {
            if (k > 19 || q < -100)
                return -1;
            unsigned __int128 n = (unsigned __int128)m * pow10_u64[k];
            if (q >= 0) {
                if (q > 10)
                    return -1;
                d = n << q;
            } else {
                int sh = -q;
                d = n >> sh;
                unsigned __int128 rem = n - (d << sh);
                unsigned __int128 half = (unsigned __int128)1 << (sh - 1);
                if (rem > half || (rem == half && (d & 1)))
                    d++;
            }
        } else {
            /* a is an integer (a >= 1e17 > 2^53), below 2^63. */
            if (q < 0 || q > 10 || -k > 19)
                return -1;
            uint64_t n = m << q;
            uint64_t div = pow10_u64[-k];
            d = n / div;
            uint64_t rem = n % div, half = div / 2;
            if (rem > half || (rem == half && (d & 1)))
                d++;
        }
        if (d >= pow10_u64[17]) {
            if (d == pow10_u64[17] && tries > 0) {
                /* Rounding carried into an 18th digit (x was lowered
                 * because the digits were one short before). */
                *digits = pow10_u64[16];
                *exp10 = x + 1;
                return 0;
            }
            x++;
            continue;
        }
        if (d < pow10_u64[16]) {
            x--;
            continue;
        }
        *digits = (uint64_t)d;
        *exp10 = x;
        return 0;
    }
    return -1;
}

size_t enrich_real_text(double v, char *buf, size_t cap)
{
    double a = fabs(v);
    uint64_t digits = 0;
    int x = 0;
    /* Outside the range round17 covers, and for zero, jansson writes it. */
    if (cap < 40 || !isfinite(v) || a < 1e-5 || a >= 9.2e18 ||
        round17(a, &digits, &x) != 0)
        return real_text_jansson(v, buf, cap);
    char d[18];
    for (int i = 16; i >= 0; i--) {
        d[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    int nd = 17; /* significant digits left once trailing zeros go (as %g) */
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    size_t o = 0;
    if (signbit(v))
        buf[o++] = '-';
    if (x < -4 || x >= 17) {
        /* %e style; jansson drops the exponent's '+' and leading zeros. */
        buf[o++] = d[0];
        if (nd > 1) {
            buf[o++] = '.';
            memcpy(buf + o, d + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        o += (size_t)snprintf(buf + o, cap - o, "e%d", x);
        return o;
    }
    if (x < 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = 0; i < -x - 1; i++)
            buf[o++] = '0';
        memcpy(buf + o, d, (size_t)nd);
        o += (size_t)nd;
        buf[o] = '\0';
        return o;
    }
    /* x + 1 integer digits, then the fraction's; jansson adds ".0" to an
     * integer. */
    memcpy(buf + o, d, (size_t)x + 1);
    o += (size_t)x + 1;
    buf[o++] = '.';
    if (nd > x + 1) {
        memcpy(buf + o, d + x + 1, (size_t)(nd - x - 1));
        o += (size_t)(nd - x - 1);
    } else {
        buf[o++] = '0';
    }
    buf[o] = '\0';
    return o;
}

/* Appends text[0..n) at *o. */
static void put(char *dst, size_t *o, const char *text, size_t n)
{
    memcpy(dst + *o, text, n);
    *o += n;
}

char *enrich_scan_text(const char *raw_text, const enrich_scan *s, const char *presence,
                       const char *weather, size_t *len)
{
    char num[64];
    size_t num_len = 4;
    memcpy(num, "null", 5);
    if (s->has_value) {
        num_len = enrich_real_text(s->value, num, sizeof num);
        if (num_len == 0)
            return NULL;
    }
    /* The time as jansson writes an integer ("%" JSON_INTEGER_FORMAT). */
    char ts[24];
    size_t ts_len = 0;
    {
        char rev[24];
        uint64_t u = s->time_ns < 0 ? 0 - (uint64_t)s->time_ns : (uint64_t)s->time_ns;
        size_t nrev = 0;
        do {
            rev[nrev++] = (char)('0' + u % 10);
            u /= 10;
        } while (u > 0);
        if (s->time_ns < 0)
            ts[ts_len++] = '-';
        while (nrev > 0)
            ts[ts_len++] = rev[--nrev];
    }
    if (!presence)
        presence = "null";
    if (!weather)
        weather = "null";
    size_t plen = strlen(presence), wlen = strlen(weather);
    const char *unit = s->unit ? s->unit : "null";
    size_t unit_len = s->unit ? s->unit_len : 4;
    const char *dc = s->device_class ? s->device_class : "null";
    size_t dc_len = s->device_class ? s->device_class_len : 4;

    static const char k_time[] = ",\"time_ns\":", k_value[] = ",\"value\":",
                      k_unit[] = ",\"unit\":", k_dc[] = ",\"device_class\":",
                      k_presence[] = ",\"presence\":", k_weather[] = ",\"weather\":";
    size_t total = s->head + (sizeof k_time - 1) + ts_len + (sizeof k_value - 1) +
                   num_len + (sizeof k_unit - 1) + unit_len + (sizeof k_dc - 1) + dc_len +
                   (sizeof k_presence - 1) + plen + (sizeof k_weather - 1) + wlen + 1;
    char *text = malloc(total + 1);
    if (!text)
        return NULL;
    size_t o = 0;
    put(text, &o, raw_text, s->head);
    put(text, &o, k_time, sizeof k_time - 1);
    put(text, &o, ts, ts_len);
    put(text, &o, k_value, sizeof k_value - 1);
    put(text, &o, num, num_len);
    put(text, &o, k_unit, sizeof k_unit - 1);
    put(text, &o, unit, unit_len);
    put(text, &o, k_dc, sizeof k_dc - 1);
    put(text, &o, dc, dc_len);
    put(text, &o, k_presence, sizeof k_presence - 1);
    put(text, &o, presence, plen);
    put(text, &o, k_weather, sizeof k_weather - 1);
    put(text, &o, weather, wlen);
    text[o++] = '}';
    text[o] = '\0';
    *len = o;
    return text;
}
