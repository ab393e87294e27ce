/* enrich.c - the enricher's transform (see enrich.h). */
#include "enrich.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_event.h"
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
