/* rawmsg.c - the raw message written straight from an event's text (see
 * rawmsg.h). */
#include "rawmsg.h"

#include <stdlib.h>
#include <string.h>

#include "hs_time.h"

/* Longest last_updated text read (HA writes 32 bytes). */
#define TIME_MAX 64

void rawmsg_buf_fini(rawmsg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* The members rawmsg_scan reads, found in one pass by hs_jscan_extract. */
enum {
    P_EVENT_TYPE,
    P_DATA,
    P_ENTITY,
    P_NEW,
    P_OLD,
    P_LAST_UPDATED,
    P_ORIGIN,
    P_TIME_FIRED,
    P_CONTEXT,
    P_COUNT
};
static const char *const p_event_type[] = {"event_type", NULL};
static const char *const p_data[] = {"data", NULL};
static const char *const p_entity[] = {"data", "entity_id", NULL};
static const char *const p_new[] = {"data", "new_state", NULL};
static const char *const p_old[] = {"data", "old_state", NULL};
static const char *const p_last_updated[] = {"data", "new_state", "last_updated", NULL};
static const char *const p_origin[] = {"origin", NULL};
static const char *const p_time_fired[] = {"time_fired", NULL};
static const char *const p_context[] = {"context", NULL};
static const char *const *const paths[P_COUNT] = {
    p_event_type, p_data,   p_entity,       p_new,    p_old,
    p_last_updated, p_origin, p_time_fired, p_context};

/* A state: an object is kept; null, or no member at all, is written as
 * null; anything else is refused, as hs_event_from_ha refuses it. */
static int take_state(const hs_jscan_value *v, hs_jscan_value *out)
{
    if (v->type == HS_JSCAN_OBJECT) {
        *out = *v;
        return 0;
    }
    return v->type == HS_JSCAN_NULL || v->type == HS_JSCAN_ABSENT ? 0 : -1;
}

int rawmsg_scan(const char *text, size_t len, rawmsg_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (memmem(text, len, "\\u0000", 6) != NULL)
        return -1;
    hs_jscan_value v[P_COUNT];
    if (hs_jscan_extract(text, len, paths, P_COUNT, v) != 0)
        return -1;
    if (!hs_jscan_string_is(&v[P_EVENT_TYPE], "state_changed", 13) ||
        v[P_DATA].type != HS_JSCAN_OBJECT || v[P_ENTITY].type != HS_JSCAN_STRING ||
        v[P_ENTITY].escaped)
        return -1;
    ev->entity_len = v[P_ENTITY].len - 2;
    if (ev->entity_len >= RAWMSG_ENTITY_MAX)
        return -1;
    memcpy(ev->entity_id, v[P_ENTITY].text + 1, ev->entity_len);
    ev->entity_id[ev->entity_len] = '\0';
    const char *object_id = hs_event_split_entity(ev->entity_id, NULL, 0);
    if (object_id == NULL || take_state(&v[P_NEW], &ev->new_state) != 0 ||
        take_state(&v[P_OLD], &ev->old_state) != 0)
        return -1;
    ev->domain_len = (size_t)(object_id - ev->entity_id) - 1;
    if (v[P_ORIGIN].type == HS_JSCAN_STRING)
        ev->origin = v[P_ORIGIN];
    if (v[P_TIME_FIRED].type == HS_JSCAN_STRING)
        ev->time_fired = v[P_TIME_FIRED];
    if (v[P_CONTEXT].type == HS_JSCAN_OBJECT)
        ev->context = v[P_CONTEXT];
    /* new_state.last_updated, read as backfill_state_time reads it. */
    char buf[TIME_MAX];
    size_t n;
    ev->has_time = v[P_LAST_UPDATED].type == HS_JSCAN_STRING &&
                   hs_jscan_string(&v[P_LAST_UPDATED], buf, sizeof buf, &n) == 0 &&
                   n == strlen(buf) && hs_time_parse_iso(buf, &ev->time_ns) == 0;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int reserve(rawmsg_buf *b, size_t more)
{
    if (b->cap - b->len > more)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len <= more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(rawmsg_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_lit(rawmsg_buf *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* A span, or null when it is empty. */
static int put_span(rawmsg_buf *b, const hs_jscan_value *v)
{
    return v->len ? put(b, v->text, v->len) : put_lit(b, "null");
}

/* A C string as a JSON string, escaped as jansson writes it. Returns -1 when
 * out of memory or when s is not valid UTF-8 (jansson refuses such a string
 * too). */
static int put_string(rawmsg_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    /* At most 6 bytes out per byte in, plus the quotes. */
    if (n > (SIZE_MAX - 2) / 6 || reserve(b, 6 * n + 2) != 0)
        return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t k = hs_jscan_utf8_len(s, n, i);
            if (k == 0)
                return -1;
            memcpy(o, u + i, k);
            o += k;
            i += k;
            continue;
        }
        i++;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x20) {
            *o++ = (char)c;
        } else {
            *o++ = '\\';
            switch (c) {
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

static int put_string_or_null(rawmsg_buf *b, const char *s)
{
    return s != NULL ? put_string(b, s) : put_lit(b, "null");
}

int rawmsg_write(const rawmsg_event *ev, const hs_event_ctx *ctx, rawmsg_buf *out)
{
    char ingested[40];
    if (ctx->site == NULL || hs_time_format_iso(ctx->ingested_at_ns, ingested,
                                                sizeof ingested) < 0)
        return -1;
    const char *entity = ev->entity_id;
    size_t elen = ev->entity_len, dlen = ev->domain_len;
    out->len = 0;
    /* The members in hs_event_from_ha's order. */
    if (put_lit(out, "{\"schema\":1,\"site\":") != 0 || put_string(out, ctx->site) != 0 ||
        put_lit(out, ",\"event_type\":\"state_changed\",\"origin\":") != 0 ||
        put_span(out, &ev->origin) != 0 || put_lit(out, ",\"entity_id\":\"") != 0 ||
        put(out, entity, elen) != 0 || put_lit(out, "\",\"domain\":\"") != 0 ||
        put(out, entity, dlen) != 0 || put_lit(out, "\",\"object_id\":\"") != 0 ||
        put(out, entity + dlen + 1, elen - dlen - 1) != 0 ||
        put_lit(out, "\",\"time_fired\":") != 0 || put_span(out, &ev->time_fired) != 0 ||
        put_lit(out, ",\"new_state\":") != 0 || put_span(out, &ev->new_state) != 0 ||
        put_lit(out, ",\"old_state\":") != 0 || put_span(out, &ev->old_state) != 0 ||
        put_lit(out, ",\"context\":") != 0 || put_span(out, &ev->context) != 0 ||
        put_lit(out, ",\"area\":") != 0 || put_string_or_null(out, ctx->area) != 0 ||
        put_lit(out, ",\"device\":") != 0 || put_string_or_null(out, ctx->device) != 0 ||
        put_lit(out, ",\"ingested_at\":\"") != 0 || put_lit(out, ingested) != 0 ||
        put_lit(out, ctx->backfill ? "\",\"backfill\":true}" : "\",\"backfill\":false}") != 0 ||
        reserve(out, 1) != 0)
        return -1;
    out->p[out->len] = '\0';
    return 0;
}
