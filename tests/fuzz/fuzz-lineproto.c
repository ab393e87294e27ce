/* fuzz-lineproto.c - libFuzzer target: the writer's line-protocol encoder
 * (writer/lineproto.h) with its structural property checked.
 *
 * The input is one enriched message (JSON); a hash of the input picks the
 * schema and measurement options. For any input, lineproto_encode either
 * fails or skips leaving the output untouched, or appends exactly one line
 * that InfluxDB 1.x parses into exactly the parts the encoder meant. The line
 * is read back with the tokenizer below, written for this test from the
 * rules influxd applies (models/points.go: lines end at a newline outside a
 * quoted string; a ',', ' ' or '=' in the measurement and tag set is literal
 * when the byte before it is a backslash; the field set is scanned in
 * backslash pairs and quoted strings; \, \space \= unescape in names, \"
 * too in measurements and field keys but not in tags, \\ and \" in string
 * values). Checked:
 *   - the output is valid UTF-8 and is one line, ended by its only newline
 *     outside quoted strings;
 *   - measurement, tag keys and tag values are what the input implies once
 *     made storable (invalid UTF-8 and NUL to U+FFFD, CR/LF in names to the
 *     two characters \r and \n, a trailing backslash to U+29F5 (in a
 *     measurement also one before ',', '"', ' ' or '='), a leading
 *     '#' in a measurement to \# and a leading tab to the two characters \t,
 *     as writer/README.md documents);
 *   - the tag set is exactly the one of the schema, sorted, without empty
 *     values; the timestamp is the message's time;
 *   - the field set parses with scanFields' rules and with walkFields' rules
 *     into the same number of fields, every key non-empty and distinct, every
 *     value a finite float, a boolean or a quoted string, and no more fields
 *     than the input can give;
 *   - a state kept as text comes back byte for byte (made storable);
 *   - a homestream_stats record is measurement homestream in both schemas,
 *     tagged site and stage, with float fields only.
 * Separately, lineproto_append_double writes a float that reads back to the
 * same double, it and lineproto_append_escaped (on the input's raw bytes)
 * write what their byte-at-a-time originals wrote, and the writer's own
 * path (writer/msgjson.h, jansson only for what it declines) gives the same
 * result, line, counters and reason as the jansson-based encoder it
 * replaced (tests/unit/lineproto-ref.c), for every option set. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "hs_event.h"
#include "hs_time.h"
#include "lineproto.h"
#include "../unit/lineproto-ref.h"

/* ---- a byte string ------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n;
} str;

static void str_add(str *s, const void *p, size_t n)
{
    char *q = realloc(s->p, s->n + n + 1);
    FUZZ_CHECK(q != NULL, "out of memory");
    memcpy(q + s->n, p, n);
    s->p = q;
    s->n += n;
    s->p[s->n] = '\0';
}

static bool str_eq(const str *s, const char *p, size_t n)
{
    return s->n == n && (n == 0 || memcmp(s->p, p, n) == 0);
}

/* ---- what the encoder promises a value becomes ------------------------- */

static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned c = s[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

static bool valid_utf8(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_len(s, n, i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

/* The text InfluxDB should store for s placed as part. */
static str storable(lineproto_part part, const char *p, size_t n)
{
    str out = {NULL, 0};
    str_add(&out, "", 0);
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (s[i] >= 0x80) {
            size_t l = utf8_len(s, n, i);
            if (l == 0) {
                str_add(&out, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                str_add(&out, p + i, l);
                i += l;
            }
            continue;
        }
        if (s[i] == 0)
            str_add(&out, "\xEF\xBF\xBD", 3);
        else if (part != LINEPROTO_STRING && s[i] == '\n')
            str_add(&out, "\\n", 2);
        else if (part != LINEPROTO_STRING && s[i] == '\r')
            str_add(&out, "\\r", 2);
        else if (part != LINEPROTO_STRING && s[i] == '\\' && i == n - 1)
            str_add(&out, "\xE2\xA7\xB5", 3);
        else if (part == LINEPROTO_MEASUREMENT && s[i] == '\\' &&
                 (s[i + 1] == ',' || s[i + 1] == '"' || s[i + 1] == ' ' ||
                  s[i + 1] == '='))
            str_add(&out, "\xE2\xA7\xB5", 3);
        else if (part == LINEPROTO_MEASUREMENT && s[i] == '#' && i == 0)
            str_add(&out, "\\#", 2);
        else if (part == LINEPROTO_MEASUREMENT && s[i] == '\t' && i == 0)
            str_add(&out, "\\t", 2);
        else
            str_add(&out, p + i, 1);
        i++;
    }
    return out;
}

/* ---- the tokenizer ------------------------------------------------------ */

typedef struct {
    str key;
    str value; /* unescaped text of a string, else the raw token */
    char type; /* 'f' float, 'b' boolean, 's' string */
} lp_field;

typedef struct {
    str measurement;
    str tag_keys[16], tag_values[16];
    size_t ntags;
    lp_field *fields;
    size_t nfields;
    int64_t time;
} lp_point;

static void point_fini(lp_point *pt)
{
    free(pt->measurement.p);
    for (size_t i = 0; i < pt->ntags; i++) {
        free(pt->tag_keys[i].p);
        free(pt->tag_values[i].p);
    }
    for (size_t i = 0; i < pt->nfields; i++) {
        free(pt->fields[i].key.p);
        free(pt->fields[i].value.p);
    }
    free(pt->fields);
}

/* End of the line starting at i: the first newline outside a quoted field
 * value (scanLine), or n. */
static size_t scan_line(const char *b, size_t n, size_t i)
{
    bool quoted = false, fields = false;
    int equals = 0, commas = 0;
    while (i < n) {
        if (b[i] == '\\') {
            i += 2;
            continue;
        }
        if (b[i] == ' ')
            fields = true;
        if (fields) {
            if (!quoted && b[i] == '=') {
                i++;
                equals++;
                continue;
            }
            if (!quoted && b[i] == ',') {
                i++;
                commas++;
                continue;
            }
            if (b[i] == '"' && equals > commas) {
                i++;
                quoted = !quoted;
                continue;
            }
        }
        if (b[i] == '\n' && !quoted)
            break;
        i++;
    }
    return i < n ? i : n;
}

/* Names: a backslash before ',', ' ' or '=' is dropped, and in a
 * measurement or field key also one before '"' (influxd's unescapeTag
 * leaves "\\\"" in a tag key or value as it is). */
static str unescape_name(const char *p, size_t n, bool tag)
{
    str out = {NULL, 0};
    str_add(&out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n &&
            (p[i + 1] == ',' || (p[i + 1] == '"' && !tag) || p[i + 1] == ' ' ||
             p[i + 1] == '=')) {
            str_add(&out, p + i + 1, 1);
            i++;
        } else {
            str_add(&out, p + i, 1);
        }
    }
    return out;
}

static str unescape_string(const char *p, size_t n)
{
    str out = {NULL, 0};
    str_add(&out, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n && (p[i + 1] == '\\' || p[i + 1] == '"'))
            i++;
        str_add(&out, p + i, 1);
    }
    return out;
}

static bool unescaped_at(const char *b, size_t i, char c)
{
    return b[i] == c && (i == 0 || b[i - 1] != '\\');
}

/* A float as influxd's scanNumber accepts it, finite. */
static bool float_token(const char *p, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    char tmp[72];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
                  ((c == '+' || c == '-') &&
                   (i == 0 ? c == '-' : (tmp[i - 1] == 'e' || tmp[i - 1] == 'E')));
        if (!ok)
            return false;
    }
    char *end;
    double v = strtod(tmp, &end);
    return *end == '\0' && isfinite(v);
}

/* Parses one line (without its newline). Returns NULL, or why it fails. */
static const char *parse_point(const char *b, size_t n, lp_point *pt)
{
    memset(pt, 0, sizeof *pt);
    size_t i = 0;
    /* influxd skips leading blanks and NULs, then ignores comment lines. */
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\0'))
        i++;
    if (i < n && b[i] == '#')
        return "a comment line: influxd skips it and answers 204";
    size_t ms = i;
    if (i >= n || b[i] == ',')
        return "missing measurement";
    /* measurement */
    for (;;) {
        i++;
        if (i >= n)
            return "missing fields";
        if (b[i - 1] == '\\')
            continue;
        if (b[i] == ',' || b[i] == ' ')
            break;
    }
    pt->measurement = unescape_name(b + ms, i - ms, false);
    /* tags */
    while (b[i] == ',') {
        i++;
        size_t ks = i;
        if (i >= n || b[i] == ' ' || b[i] == ',' || b[i] == '=')
            return "missing tag key";
        for (;;) {
            i++;
            if (i >= n || unescaped_at(b, i, ' ') || unescaped_at(b, i, ','))
                return "missing tag value";
            if (unescaped_at(b, i, '='))
                break;
        }
        size_t ke = i++;
        size_t vs = i;
        if (i >= n || b[i] == ',' || b[i] == ' ')
            return "missing tag value";
        for (;;) {
            i++;
            if (i >= n)
                return "missing fields";
            if (unescaped_at(b, i, '='))
                return "invalid tag format";
            if (unescaped_at(b, i, ',') || unescaped_at(b, i, ' '))
                break;
        }
        if (pt->ntags == 16)
            return "too many tags";
        pt->tag_keys[pt->ntags] = unescape_name(b + ks, ke - ks, true);
        pt->tag_values[pt->ntags] = unescape_name(b + vs, i - vs, true);
        pt->ntags++;
    }
    /* fields, as scanFields finds the block and counts its parts */
    while (i < n && b[i] == ' ')
        i++;
    size_t fs = i;
    bool quoted = false;
    int equals = 0, commas = 0;
    while (i < n) {
        if (b[i] == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (b[i] == '"' && equals > commas) {
            quoted = !quoted;
            i++;
            continue;
        }
        if (b[i] == '=' && !quoted) {
            equals++;
            if (i == fs || ((b[i - 1] == ' ' || b[i - 1] == ',') && b[i - 2] != '\\'))
                return "missing field key";
            if (i + 1 >= n || b[i + 1] == ',' || b[i + 1] == ' ')
                return "missing field value";
        }
        if (b[i] == ',' && !quoted)
            commas++;
        if (b[i] == ' ' && !quoted)
            break;
        i++;
    }
    if (quoted)
        return "unbalanced quotes";
    if (equals == 0 || commas != equals - 1)
        return "invalid field format";
    size_t fe = i;
    /* the same block split as walkFields does */
    size_t j = fs;
    while (j < fe) {
        size_t ks = j;
        while (j < fe && !unescaped_at(b, j, '='))
            j++;
        if (j >= fe)
            return "field without '='";
        size_t ke = j++;
        size_t vs = j;
        bool q = false;
        while (j < fe) {
            if (b[j] == '\\' && j + 1 < fe && (b[j + 1] == '"' || b[j + 1] == '\\')) {
                j += 2;
                continue;
            }
            if (b[j] == '"') {
                q = !q;
                j++;
                continue;
            }
            if (b[j] == ',' && !q)
                break;
            j++;
        }
        lp_field *nf = realloc(pt->fields, (pt->nfields + 1) * sizeof *nf);
        FUZZ_CHECK(nf != NULL, "out of memory");
        pt->fields = nf;
        lp_field *f = &pt->fields[pt->nfields++];
        memset(f, 0, sizeof *f);
        f->key = unescape_name(b + ks, ke - ks, false);
        size_t vl = j - vs;
        if (vl >= 2 && b[vs] == '"' && b[j - 1] == '"') {
            f->type = 's';
            f->value = unescape_string(b + vs + 1, vl - 2);
        } else if ((vl == 4 && memcmp(b + vs, "true", 4) == 0) ||
                   (vl == 5 && memcmp(b + vs, "false", 5) == 0)) {
            f->type = 'b';
            str_add(&f->value, b + vs, vl);
        } else if (float_token(b + vs, vl)) {
            f->type = 'f';
            str_add(&f->value, b + vs, vl);
        } else {
            return "field value is no float, boolean or string";
        }
        if (j < fe)
            j++; /* the comma */
    }
    if ((int)pt->nfields != equals)
        return "scanFields and walkFields disagree on the number of fields";
    /* timestamp */
    while (i < n && b[i] == ' ')
        i++;
    size_t ts = i;
    if (i < n && b[i] == '-')
        i++;
    while (i < n && b[i] >= '0' && b[i] <= '9')
        i++;
    if (i == ts || (i == ts + 1 && b[ts] == '-'))
        return "missing timestamp";
    char tmp[32];
    if (i - ts >= sizeof tmp)
        return "timestamp too long";
    memcpy(tmp, b + ts, i - ts);
    tmp[i - ts] = '\0';
    pt->time = strtoll(tmp, NULL, 10);
    while (i < n && b[i] == ' ')
        i++;
    if (i != n)
        return "text after the timestamp";
    return NULL;
}

/* ---- expectations ------------------------------------------------------- */

static const char *get_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

typedef struct {
    const char *key;
    const char *value; /* NULL or "" when the tag must be absent */
} want_tag;

static void check_tags(const lp_point *pt, const want_tag *want, size_t nwant)
{
    size_t k = 0;
    for (size_t i = 0; i < nwant; i++) {
        if (!nonempty(want[i].value))
            continue;
        FUZZ_CHECK(k < pt->ntags, "tag %s missing", want[i].key);
        str ek = storable(LINEPROTO_KEY, want[i].key, strlen(want[i].key));
        str ev = storable(LINEPROTO_KEY, want[i].value, strlen(want[i].value));
        FUZZ_CHECK(str_eq(&pt->tag_keys[k], ek.p, ek.n), "tag %zu is '%s', not '%s'", k,
                   pt->tag_keys[k].p, ek.p);
        FUZZ_CHECK(str_eq(&pt->tag_values[k], ev.p, ev.n), "tag %s is '%s', not '%s'",
                   want[i].key, pt->tag_values[k].p, ev.p);
        free(ek.p);
        free(ev.p);
        k++;
    }
    FUZZ_CHECK(k == pt->ntags, "%zu tags, %zu expected", pt->ntags, k);
}

static void check_measurement(const lp_point *pt, const char *want)
{
    str m = storable(LINEPROTO_MEASUREMENT, want, strlen(want));
    FUZZ_CHECK(str_eq(&pt->measurement, m.p, m.n), "measurement '%s', not '%s'",
               pt->measurement.p, m.p);
    free(m.p);
}

static const lp_field *find_field(const lp_point *pt, const char *key)
{
    for (size_t i = 0; i < pt->nfields; i++)
        if (str_eq(&pt->fields[i].key, key, strlen(key)))
            return &pt->fields[i];
    return NULL;
}

/* Domain and object id as the encoder takes them; false when it cannot. */
static bool entity(const json_t *msg, const char *entity_id, char dom[256],
                   const char **obj)
{
    const char *d = get_str(msg, "domain"), *o = get_str(msg, "object_id");
    if (nonempty(d) && nonempty(o) && strlen(d) < 256) {
        strcpy(dom, d);
        *obj = o;
        return true;
    }
    *obj = hs_event_split_entity(entity_id, dom, 256);
    return *obj != NULL;
}

static void check_ha_state(const json_t *msg, const lineproto_opts *o, const lp_point *pt)
{
    const char *entity_id = get_str(msg, "entity_id");
    const json_t *ns = json_object_get(msg, "new_state");
    const char *state = get_str(ns, "state");
    char dom[256];
    const char *obj = NULL;
    FUZZ_CHECK(entity(msg, entity_id, dom, &obj), "encoded a malformed entity");
    want_tag want[] = {{"area", get_str(msg, "area")},
                       {"domain", dom},
                       {"entity_id", obj},
                       {"site", get_str(msg, "site")}};
    check_tags(pt, want, 4);

    const json_t *attrs = json_object_get(ns, "attributes");
    size_t nattrs = json_is_object(attrs) ? json_object_size(attrs) : 0;
    FUZZ_CHECK(pt->nfields <= 2 + 2 * nattrs + 6, "%zu fields from %zu attributes",
               pt->nfields, nattrs);

    if (state[0] == '\0' || strcmp(state, "unknown") == 0 ||
        strcmp(state, "unavailable") == 0) {
        const lp_field *f = find_field(pt, "state");
        FUZZ_CHECK(f != NULL && f->type == 's', "state '%s' not kept as text", state);
        str want_state = storable(LINEPROTO_STRING, state, strlen(state));
        FUZZ_CHECK(str_eq(&f->value, want_state.p, want_state.n), "state text changed");
        free(want_state.p);
    }

    if (nonempty(o->override_measurement) || o->measurement_attr != LINEPROTO_MATTR_UNIT)
        return;
    const char *m = get_str(msg, "unit");
    if (!nonempty(m)) {
        const json_t *uom = json_object_get(attrs, "unit_of_measurement");
        if (json_is_string(uom))
            m = json_string_value(uom);
        else if (uom != NULL && !json_is_null(uom))
            return; /* rendered as text; not modelled here */
    }
    if (!nonempty(m))
        m = nonempty(o->default_measurement) ? o->default_measurement : entity_id;
    check_measurement(pt, m);
}

static void check_events(const json_t *msg, const char *event_type, const lp_point *pt)
{
    const char *entity_id = get_str(msg, "entity_id");
    char dom[256] = "";
    const char *obj = NULL;
    if (!nonempty(entity_id) || !entity(msg, entity_id, dom, &obj))
        dom[0] = '\0';
    want_tag want[] = {{"area", get_str(msg, "area")},
                       {"domain", dom},
                       {"entity_id", entity_id},
                       {"event_type", event_type},
                       {"site", get_str(msg, "site")}};
    check_tags(pt, want, 5);
    check_measurement(pt, "home_assistant_events");
    FUZZ_CHECK(pt->nfields <= 8, "%zu fields in the events schema", pt->nfields);
}

/* A homestream_stats record, in either schema: measurement homestream, tags
 * site and stage, only floats, at most one field per entry of "stats". */
static void check_stats(const json_t *msg, const lp_point *pt)
{
    want_tag want[] = {{"site", get_str(msg, "site")}, {"stage", get_str(msg, "stage")}};
    check_tags(pt, want, 2);
    check_measurement(pt, "homestream");
    const json_t *stats = json_object_get(msg, "stats");
    FUZZ_CHECK(json_is_object(stats), "a homestream point without stats");
    FUZZ_CHECK(pt->nfields <= json_object_size(stats), "%zu fields from %zu stats",
               pt->nfields, json_object_size(stats));
    for (size_t i = 0; i < pt->nfields; i++)
        FUZZ_CHECK(pt->fields[i].type == 'f', "stat %s is not a float",
                   pt->fields[i].key.p);
}

static int64_t expected_time(const json_t *msg)
{
    const json_t *t = json_object_get(msg, "time_ns");
    if (json_is_integer(t))
        return json_integer_value(t);
    int64_t ns = 0;
    const char *lu = get_str(json_object_get(msg, "new_state"), "last_updated");
    if (lu != NULL && hs_time_parse_iso(lu, &ns) == 0)
        return ns;
    const char *tf = get_str(msg, "time_fired");
    FUZZ_CHECK(tf != NULL && hs_time_parse_iso(tf, &ns) == 0, "encoded without a time");
    return ns;
}

static void check_line(const json_t *msg, const lineproto_opts *o, const char *line,
                       size_t n)
{
    FUZZ_CHECK(valid_utf8(line, n), "output is not valid UTF-8");
    FUZZ_CHECK(n > 0 && line[n - 1] == '\n', "line does not end in a newline");
    size_t end = scan_line(line, n, 0);
    FUZZ_CHECK(end == n - 1, "the line ends at byte %zu of %zu: more than one line", end,
               n);
    lp_point pt;
    const char *why = parse_point(line, n - 1, &pt);
    FUZZ_CHECK(why == NULL, "InfluxDB would refuse the line: %s: %.*s", why, (int)n,
               line);
    for (size_t i = 1; i < pt.ntags; i++) {
        size_t a = pt.tag_keys[i - 1].n, b = pt.tag_keys[i].n;
        int c = memcmp(pt.tag_keys[i - 1].p, pt.tag_keys[i].p, a < b ? a : b);
        FUZZ_CHECK(c < 0 || (c == 0 && a < b), "tags not sorted");
    }
    FUZZ_CHECK(pt.nfields >= 1, "no field");
    for (size_t i = 0; i < pt.nfields; i++) {
        FUZZ_CHECK(pt.fields[i].key.n > 0, "empty field key");
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(!str_eq(&pt.fields[k].key, pt.fields[i].key.p, pt.fields[i].key.n),
                       "field key '%s' twice: InfluxDB keeps only the last value",
                       pt.fields[i].key.p);
    }
    FUZZ_CHECK(find_field(&pt, "time") == NULL,
               "a field named time: influxd drops the whole point (partial write)");
    FUZZ_CHECK(pt.time == expected_time(msg), "timestamp %" PRId64, pt.time);

    const char *event_type = get_str(msg, "event_type");
    if (strcmp(event_type, "homestream_stats") == 0) {
        check_stats(msg, &pt);
    } else if (o->schema == LINEPROTO_SCHEMA_EVENTS) {
        check_events(msg, event_type, &pt);
    } else if (strcmp(event_type, "state_changed") == 0) {
        check_ha_state(msg, o, &pt);
    } else if (strcmp(event_type, "weather") == 0) {
        check_measurement(&pt, "weather");
        want_tag want[] = {
            {"provider", get_str(json_object_get(msg, "weather"), "provider")},
            {"site", get_str(msg, "site")}};
        check_tags(&pt, want, 2);
    } else if (strcmp(event_type, "presence") == 0) {
        check_measurement(&pt, "presence");
        want_tag want[] = {{"site", get_str(msg, "site")}};
        check_tags(&pt, want, 1);
    } else {
        FUZZ_CHECK(0, "the ha schema wrote event type %s", event_type);
    }
    point_fini(&pt);
}

static void check_double(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    double v;
    memcpy(&v, data, sizeof v);
    lineproto_buf b;
    lineproto_buf_init(&b);
    int rc = lineproto_append_double(&b, v);
    if (!isfinite(v)) {
        FUZZ_CHECK(rc == -2 && b.len == 0, "non-finite %g written", v);
    } else {
        FUZZ_CHECK(rc == 0 && float_token(b.data, b.len), "%g written as '%s'", v,
                   b.data ? b.data : "");
        FUZZ_CHECK(strtod(b.data, NULL) == v || (v == 0 && strtod(b.data, NULL) == 0),
                   "%.17g written as %s", v, b.data);
    }
    /* the fast paths print exactly what the original printed */
    lineproto_buf r;
    lineproto_buf_init(&r);
    FUZZ_CHECK(lineproto_ref_append_double(&r, v) == rc, "%.17g: result differs", v);
    FUZZ_CHECK(r.len == b.len && (b.len == 0 || memcmp(r.data, b.data, b.len) == 0),
               "%.17g written as %s, the reference writes %s", v, b.data ? b.data : "",
               r.data ? r.data : "");
    lineproto_buf_fini(&r);
    lineproto_buf_fini(&b);
}

/* The input's raw bytes (any bytes, unlike a JSON message's strings),
 * escaped for every part after a prefix: the 16-byte scanner gives what
 * the byte-at-a-time original gives. */
static void check_escape(const uint8_t *data, size_t size)
{
    for (int part = 0; part <= LINEPROTO_FIELD_KEY; part++) {
        lineproto_buf a, b;
        lineproto_buf_init(&a);
        lineproto_buf_init(&b);
        FUZZ_CHECK(lineproto_buf_append(&a, "p,", 2) == 0 &&
                       lineproto_buf_append(&b, "p,", 2) == 0,
                   "oom");
        FUZZ_CHECK(lineproto_append_escaped(&a, (lineproto_part)part, (const char *)data,
                                            size) == 0 &&
                       lineproto_ref_append_escaped(&b, (lineproto_part)part,
                                                    (const char *)data, size) == 0,
                   "oom");
        FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                   "part %d escaped differently: %s, the reference: %s", part, a.data,
                   b.data);
        lineproto_buf_fini(&a);
        lineproto_buf_fini(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_double(data, size);
    check_escape(data, size);
    /* The writer reads messages with msgjson, not jansson: same output as
     * the jansson-based reference encoder, for every input. */
    char why[4096];
    bool fast;
    FUZZ_CHECK(lineproto_ref_check((const char *)data, size, &fast, why, sizeof why) == 0,
               "writer path differs from the reference: %s", why);
    json_t *msg = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (msg == NULL)
        return 0;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    static const lineproto_opts variants[] = {
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, NULL, NULL},
        {LINEPROTO_SCHEMA_EVENTS, LINEPROTO_MATTR_UNIT, NULL, NULL},
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, "state \"x\",=\\", NULL},
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS, NULL, NULL},
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_DEVICE_CLASS, "sensor", NULL},
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_ENTITY_ID, NULL, NULL},
        {LINEPROTO_SCHEMA_HA, LINEPROTO_MATTR_UNIT, NULL, "#over ride"},
    };
    /* Every input runs with the default and the events schema, plus one
     * other variant picked by its hash. */
    const size_t picks[3] = {0, 1, 2 + h % 5};
    for (size_t v = 0; v < 3; v++) {
        const lineproto_opts *o = &variants[picks[v]];
        lineproto_buf out;
        lineproto_buf_init(&out);
        static const char prefix[] = "previous 1\n";
        FUZZ_CHECK(lineproto_buf_append(&out, prefix, sizeof prefix - 1) == 0, "oom");
        lineproto_info info;
        char err[256] = "";
        int rc = lineproto_encode(msg, o, &out, &info, err, sizeof err);
        FUZZ_CHECK(out.len >= sizeof prefix - 1 &&
                       memcmp(out.data, prefix, sizeof prefix - 1) == 0,
                   "earlier output changed");
        size_t added = out.len - (sizeof prefix - 1);
        if (rc != 0) {
            FUZZ_CHECK(rc == -1 && err[0] != '\0', "rc %d without reason", rc);
            FUZZ_CHECK(added == 0, "failed encode left %zu bytes", added);
        } else if (info.points == 0) {
            FUZZ_CHECK(info.skip_reason != NULL, "skip without reason");
            FUZZ_CHECK(added == 0, "skipped message left %zu bytes", added);
        } else {
            FUZZ_CHECK(info.points == 1, "%u points", info.points);
            check_line(msg, o, out.data + sizeof prefix - 1, added);
        }
        lineproto_buf_fini(&out);
    }
    json_decref(msg);
    return 0;
}
