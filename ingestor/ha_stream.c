/* ha_stream.c - reads Home Assistant's WebSocket messages as they arrive. */
#include "ha_stream.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <jansson.h>

#define DEFAULT_THRESHOLD (1024u * 1024)
#define DEFAULT_MAX_MESSAGE (64u * 1024 * 1024)
/* Buffers that grew past this are given back after their message. */
#define KEEP_CAP (4u * 1024 * 1024)

/* Text being collected, bounded: past the limit only its size is counted
 * and its first bytes kept. */
typedef struct {
    char *p;
    size_t len, cap;
    size_t size; /* bytes seen, kept or not */
    bool over;   /* past the limit */
} capture;

struct ha_stream {
    ha_stream_cbs cbs;
    size_t threshold, max_message;

    capture raw;    /* the message while it is under the threshold */
    bool scanning;  /* past the threshold: read structurally */
    bool skip;      /* the frame is broken: ignore the rest of it */
    bool top_seen;  /* the frame's value has begun */
    bool top_done;  /* the frame's value has ended */
    bool coalesced; /* the frame is an array of messages */
    bool need;      /* a ',' was read: another value must follow */

    size_t depth; /* open arrays and objects */
    unsigned char kind[HA_STREAM_MAX_DEPTH];
    bool in_str, esc;

    /* The message being read. */
    bool in_msg;
    size_t msg_depth; /* depth inside the message object */
    capture msg;
    bool expect_key;    /* the next string at msg_depth is a member name */
    bool in_key;        /* reading that name */
    bool key_ok;        /* the name read so far is a prefix of "result" */
    size_t key_pos;     /* its length */
    bool key_is_result; /* the last member name was "result" */

    /* The streamed result of that message. */
    bool sid_active; /* elements_end is owed for sid */
    int64_t sid;
    bool el_active; /* inside its "result" array */
    size_t el_depth;
    bool el_started; /* the current element has begun */
    bool el_need;    /* a ',' was read inside the array */
    capture el;
};

static const char RESULT_KEY[] = "result";

ha_stream *ha_stream_new(const ha_stream_opts *opts, const ha_stream_cbs *cbs)
{
    ha_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->cbs = *cbs;
    st->threshold = opts->threshold ? opts->threshold : DEFAULT_THRESHOLD;
    st->max_message = opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
    if (st->threshold > st->max_message)
        st->threshold = st->max_message;
    return st;
}

static void cap_free(capture *c)
{
    free(c->p);
    memset(c, 0, sizeof(*c));
}

void ha_stream_free(ha_stream *st)
{
    if (st == NULL)
        return;
    cap_free(&st->raw);
    cap_free(&st->msg);
    cap_free(&st->el);
    free(st);
}

/* Empties c for the next text; a large buffer goes back to the system. */
static void cap_clear(capture *c)
{
    if (c->cap > KEEP_CAP) {
        cap_free(c);
        return;
    }
    c->len = 0;
    c->size = 0;
    c->over = false;
}

static int cap_reserve(capture *c, size_t want)
{
    if (want <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < want)
        cap *= 2;
    char *p = realloc(c->p, cap);
    if (p == NULL)
        return -1;
    c->p = p;
    c->cap = cap;
    return 0;
}

/* Appends n bytes, keeping at most max (then only the first
 * HA_STREAM_PREFIX bytes are guaranteed). Returns 0, or -1 out of memory. */
static int cap_put(capture *c, const char *d, size_t n, size_t max)
{
    c->size += n;
    if (c->over)
        return 0;
    if (c->len + n > max) {
        c->over = true;
        if (c->len < HA_STREAM_PREFIX) {
            size_t take = HA_STREAM_PREFIX - c->len;
            if (take > n)
                take = n;
            if (cap_reserve(c, c->len + take + 1) != 0)
                return -1;
            memcpy(c->p + c->len, d, take);
            c->len += take;
        }
        return 0;
    }
    if (c->len + n + 1 > c->cap && cap_reserve(c, c->len + n + 1) != 0)
        return -1;
    memcpy(c->p + c->len, d, n);
    c->len += n;
    return 0;
}

/* The text of c, NUL-terminated (the buffer always has room for it). */
static const char *cap_text(capture *c)
{
    if (c->p == NULL)
        return "";
    c->p[c->len] = '\0';
    return c->p;
}

static size_t cap_prefix_len(const capture *c)
{
    return c->len < HA_STREAM_PREFIX ? c->len : HA_STREAM_PREFIX;
}

/* Where the bytes being read go: the current element, the current
 * message, or nowhere (between the messages of a coalesced frame). */
static capture *target(ha_stream *st)
{
    if (st->el_active)
        return &st->el;
    return st->in_msg ? &st->msg : NULL;
}

static int put(ha_stream *st, const char *d, size_t n)
{
    capture *c = target(st);
    if (c == NULL)
        return 0;
    return cap_put(c, d, n, st->max_message);
}

/* The frame cannot be read on: reports it (and the end of a streamed
 * result), then skips the rest of the frame. */
static void fail(ha_stream *st, const char *reason)
{
    capture *c = st->el_active && st->el.len > 0 ? &st->el : &st->msg;
    st->cbs.malformed(st->cbs.ud, reason, cap_text(c), cap_prefix_len(c));
    if (st->sid_active) {
        st->sid_active = false;
        st->cbs.elements_end(st->cbs.ud, st->sid, reason);
    }
    st->skip = true;
    st->in_msg = false;
    st->el_active = false;
}

static void msg_begin(ha_stream *st)
{
    st->in_msg = true;
    cap_clear(&st->msg);
    st->expect_key = false;
    st->in_key = false;
    st->key_is_result = false;
    st->sid_active = false;
    st->el_active = false;
}

/* A message is complete: hands it over, or ends its streamed result. */
static void msg_finish(ha_stream *st)
{
    capture *m = &st->msg;
    if (st->sid_active) {
        /* m holds the message with its "result" array replaced by null. */
        st->sid_active = false;
        const char *error = NULL;
        json_error_t jerr;
        json_t *rest = m->over ? NULL : json_loadb(cap_text(m), m->len, 0, &jerr);
        if (rest == NULL) {
            error = m->over ? "the members after the result array are too large"
                            : "the result message is not valid JSON around its array";
            st->cbs.malformed(st->cbs.ud, error, cap_text(m), cap_prefix_len(m));
        }
        json_decref(rest);
        st->cbs.elements_end(st->cbs.ud, st->sid, error);
    } else if (m->over) {
        st->cbs.oversize(st->cbs.ud, m->size, cap_text(m), cap_prefix_len(m));
    } else {
        st->cbs.frame(st->cbs.ud, cap_text(m), m->len);
    }
    st->in_msg = false;
    cap_clear(m);
}

static void el_finish(ha_stream *st)
{
    capture *e = &st->el;
    if (e->over)
        st->cbs.element_oversize(st->cbs.ud, st->sid, e->size, cap_text(e),
                                 cap_prefix_len(e));
    else
        st->cbs.element(st->cbs.ud, st->sid, cap_text(e), e->len);
    cap_clear(e);
    st->el_started = false;
    st->el_need = false;
}

/* At the '[' of a message's "result": whether its elements are to be
 * streamed. The message so far must then be a result with an id and
 * "success":true; it is checked by parsing it with null for the array. */
static int want_stream(ha_stream *st, bool *want)
{
    capture *m = &st->msg;
    *want = false;
    if (st->cbs.wants_elements == NULL || m->over)
        return 0;
    static const char tail[] = "null}";
    if (cap_reserve(m, m->len + sizeof(tail)) != 0)
        return -1;
    memcpy(m->p + m->len, tail, sizeof(tail));
    json_error_t jerr;
    json_t *obj = json_loadb(m->p, m->len + sizeof(tail) - 1, 0, &jerr);
    if (obj == NULL)
        return 0;
    const json_t *id = json_object_get(obj, "id");
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (json_is_integer(id) && json_integer_value(id) >= 0 && type != NULL &&
        strcmp(type, "result") == 0 && json_is_true(json_object_get(obj, "success")) &&
        st->cbs.wants_elements(st->cbs.ud, json_integer_value(id))) {
        *want = true;
        st->sid = json_integer_value(id);
    }
    json_decref(obj);
    return 0;
}

static int push(ha_stream *st, unsigned char c)
{
    if (st->depth >= HA_STREAM_MAX_DEPTH) {
        fail(st, "the frame nests arrays and objects too deeply");
        return 0;
    }
    st->kind[st->depth++] = c;
    return 0;
}

/* Closes the innermost container with c; false when it does not match. */
static bool pop(ha_stream *st, unsigned char c)
{
    if (st->depth == 0 || st->kind[st->depth - 1] != (c == '}' ? '{' : '[')) {
        fail(st, "the frame's brackets do not match");
        return false;
    }
    st->depth--;
    return true;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A byte outside any container: the frame's value begins. */
static int top_byte(ha_stream *st, unsigned char c)
{
    if (st->top_done) {
        fail(st, "the frame has data after its JSON value");
        return 0;
    }
    if (c != '{' && c != '[') {
        fail(st, "frame is neither a JSON object nor an array");
        return 0;
    }
    st->top_seen = true;
    st->coalesced = c == '[';
    push(st, c);
    if (st->coalesced)
        return 0;
    st->msg_depth = 1;
    msg_begin(st);
    st->expect_key = true;
    return put(st, "{", 1);
}

/* A byte directly inside a coalesced frame's array: messages begin and end
 * here. */
static int between_msgs(ha_stream *st, unsigned char c)
{
    if (c == ',' || c == ']') {
        if (st->in_msg) {
            msg_finish(st);
        } else if (c == ',' || st->need) {
            fail(st, "the frame's array has an empty element");
            return 0;
        }
        st->need = c == ',';
        if (c == ']' && pop(st, c))
            st->top_done = true;
        return 0;
    }
    if (!st->in_msg) {
        msg_begin(st);
        st->msg_depth = 2;
        st->expect_key = c == '{';
    }
    if (c == '"')
        st->in_str = true;
    if (c == '{' || c == '[')
        push(st, c);
    if (c == '}') {
        fail(st, "the frame's brackets do not match");
        return 0;
    }
    return put(st, (const char *)&c, 1);
}

/* A byte directly inside a streamed result's array: elements begin and end
 * here. */
static int in_result_array(ha_stream *st, unsigned char c)
{
    if (c == ',') {
        el_finish(st);
        st->el_need = true;
        return 0;
    }
    if (c == ']') {
        if (st->el_started || st->el_need)
            el_finish(st);
        cap_clear(&st->el);
        st->el_active = false;
        if (!pop(st, c))
            return 0;
        st->key_is_result = false;
        return 0; /* "null" stands for the array in msg */
    }
    if (c == '}') {
        pop(st, c);
        return 0;
    }
    st->el_started = true;
    if (c == '"')
        st->in_str = true;
    int rc = put(st, (const char *)&c, 1);
    if (c == '{' || c == '[')
        push(st, c);
    return rc;
}

/* Any other byte outside strings. */
static int structural(ha_stream *st, unsigned char c)
{
    bool at_msg = st->in_msg && st->depth == st->msg_depth &&
                  st->kind[st->depth - 1] == '{';
    switch (c) {
    case '"':
        st->in_str = true;
        if (at_msg && st->expect_key) {
            st->in_key = true;
            st->key_ok = true;
            st->key_pos = 0;
        }
        return put(st, "\"", 1);
    case ',':
        if (at_msg) {
            st->expect_key = true;
            st->key_is_result = false;
        }
        return put(st, ",", 1);
    case '[':
        if (at_msg && st->key_is_result && !st->el_active) {
            bool want;
            if (want_stream(st, &want) != 0)
                return -1;
            if (want) {
                st->key_is_result = false;
                st->sid_active = true;
                push(st, c);
                if (st->skip)
                    return 0;
                st->el_active = false; /* "null" goes to the message */
                int rc = put(st, "null", 4);
                st->el_active = true;
                st->el_depth = st->depth;
                st->el_started = false;
                st->el_need = false;
                cap_clear(&st->el);
                return rc;
            }
        }
        push(st, c);
        return put(st, "[", 1);
    case '{':
        push(st, c);
        return put(st, "{", 1);
    case '}':
    case ']': {
        int rc = put(st, (const char *)&c, 1);
        if (!pop(st, c))
            return rc;
        if (st->depth == 0) {
            st->top_done = true;
            if (st->in_msg)
                msg_finish(st);
        }
        return rc;
    }
    default:
        return put(st, (const char *)&c, 1);
    }
}

static void key_chars(ha_stream *st, const char *d, size_t n)
{
    if (!st->key_ok)
        return;
    if (st->key_pos + n > sizeof(RESULT_KEY) - 1 ||
        memcmp(RESULT_KEY + st->key_pos, d, n) != 0) {
        st->key_ok = false;
        return;
    }
    st->key_pos += n;
}

/* The index of the first quote or backslash in d[i..n), or n. */
static size_t string_run_end(const char *d, size_t i, size_t n)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < n && d[i] != '"' && d[i] != '\\')
        i++;
    return i;
}

/* True for a byte that structural() only copies: not a quote, bracket,
 * brace or comma, and not white space. */
static bool is_plain(unsigned char c)
{
    return c != '"' && c != ',' && c != '[' && c != ']' && c != '{' && c != '}' &&
           !is_space(c);
}

static int scan(ha_stream *st, const char *d, size_t n)
{
    size_t i = 0;
    while (i < n && !st->skip) {
        unsigned char c = (unsigned char)d[i];
        if (st->in_str) {
            if (st->esc || c == '\\' || c == '"') {
                if (st->esc)
                    st->esc = false;
                else if (c == '\\')
                    st->esc = true;
                else
                    st->in_str = false;
                if (st->in_key) {
                    if (c == '\\' && st->esc)
                        st->key_ok = false;
                    if (!st->in_str) {
                        st->in_key = false;
                        st->expect_key = false;
                        st->key_is_result =
                            st->key_ok && st->key_pos == sizeof(RESULT_KEY) - 1;
                    }
                }
                if (put(st, d + i, 1) != 0)
                    return -1;
                i++;
                continue;
            }
            size_t j = string_run_end(d, i + 1, n);
            if (st->in_key)
                key_chars(st, d + i, j - i);
            if (put(st, d + i, j - i) != 0)
                return -1;
            i = j;
            continue;
        }
        i++;
        if (is_space(c)) {
            if (st->depth > 0 && !(st->el_active && st->depth == st->el_depth) &&
                put(st, (const char *)&c, 1) != 0)
                return -1;
            continue;
        }
        int rc;
        if (st->depth == 0)
            rc = top_byte(st, c);
        else if (st->coalesced && st->depth == 1)
            rc = between_msgs(st, c);
        else if (st->el_active && st->depth == st->el_depth)
            rc = in_result_array(st, c);
        else if (is_plain(c)) {
            /* Numbers, literals, colons: copied as one run. */
            size_t j = i;
            while (j < n && is_plain((unsigned char)d[j]))
                j++;
            rc = put(st, d + i - 1, j - i + 1);
            i = j;
        } else
            rc = structural(st, c);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int ha_stream_feed(ha_stream *st, const char *data, size_t len)
{
    if (!st->scanning) {
        if (st->raw.len + len <= st->threshold)
            return cap_put(&st->raw, data, len, st->threshold);
        st->scanning = true;
        if (scan(st, st->raw.p != NULL ? st->raw.p : "", st->raw.len) != 0)
            return -1;
        cap_clear(&st->raw);
    }
    return scan(st, data, len);
}

/* Back to the start of a message, without callbacks. */
static void restart(ha_stream *st)
{
    cap_clear(&st->raw);
    cap_clear(&st->msg);
    cap_clear(&st->el);
    st->scanning = false;
    st->skip = false;
    st->top_seen = false;
    st->top_done = false;
    st->coalesced = false;
    st->need = false;
    st->depth = 0;
    st->in_str = false;
    st->esc = false;
    st->in_msg = false;
    st->in_key = false;
    st->key_is_result = false;
    st->sid_active = false;
    st->el_active = false;
    st->el_started = false;
    st->el_need = false;
}

int ha_stream_end(ha_stream *st)
{
    if (!st->scanning) {
        st->cbs.frame(st->cbs.ud, cap_text(&st->raw), st->raw.len);
    } else if (!st->skip) {
        if (st->in_str || st->depth > 0)
            fail(st, "the frame ends inside its JSON value (truncated)");
        else if (!st->top_seen)
            fail(st, "frame is neither a JSON object nor an array");
    }
    restart(st);
    return 0;
}

void ha_stream_reset(ha_stream *st)
{
    restart(st);
}

void ha_stream_trim(ha_stream *st)
{
    if (st->scanning || st->raw.len > 0)
        return;
    cap_free(&st->raw);
    cap_free(&st->msg);
    cap_free(&st->el);
}
