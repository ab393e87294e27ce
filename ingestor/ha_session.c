/* ha_session.c - the client side of one Home Assistant WebSocket connection. */
#include "ha_session.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hs_jscan.h"

typedef struct {
    int64_t id;
    int tag;
    bool subscription; /* a subscribe_events command: its events carry tag */
    bool confirmed;    /* its result arrived */
} pending_cmd;

struct ha_session {
    ha_session_cbs cbs;
    char *token;
    char **event_types;
    size_t n_event_types;
    int64_t ping_interval_ms;
    int64_t pong_timeout_ms;

    ha_session_state state;
    int64_t next_id;
    int64_t started_ms;
    int64_t next_ping_ms;
    int64_t ping_id; /* outstanding ping, -1 when none */
    int64_t ping_sent_ms;
    pending_cmd *cmds; /* commands sent and subscriptions of this connection */
    size_t n_cmds, cap_cmds;
    char *auth_message; /* the server's auth_invalid text, owned */
    hs_jscan_value *spans; /* the elements of the frame being read */
    size_t cap_spans;
};

ha_session *ha_session_new(const ha_session_opts *opts, const ha_session_cbs *cbs)
{
    ha_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cbs = *cbs;
    s->token = strdup(opts->token != NULL ? opts->token : "");
    if (s->token == NULL)
        goto fail;
    if (opts->n_event_types > 0) {
        s->event_types = calloc(opts->n_event_types, sizeof(char *));
        if (s->event_types == NULL)
            goto fail;
        s->n_event_types = opts->n_event_types;
        for (size_t i = 0; i < opts->n_event_types; i++) {
            s->event_types[i] = strdup(opts->event_types[i]);
            if (s->event_types[i] == NULL)
                goto fail;
        }
    }
    s->ping_interval_ms = opts->ping_interval_ms > 0 ? opts->ping_interval_ms : 30000;
    s->pong_timeout_ms = opts->pong_timeout_ms > 0 ? opts->pong_timeout_ms : 15000;
    s->ping_id = -1;
    s->next_id = 1;
    return s;
fail:
    ha_session_free(s);
    return NULL;
}

void ha_session_free(ha_session *s)
{
    if (s == NULL)
        return;
    if (s->token != NULL) {
        volatile char *t = s->token;
        for (size_t i = 0; t[i] != '\0'; i++)
            t[i] = '\0';
        free(s->token);
    }
    for (size_t i = 0; s->event_types != NULL && i < s->n_event_types; i++)
        free(s->event_types[i]);
    free(s->event_types);
    free(s->cmds);
    free(s->auth_message);
    free(s->spans);
    free(s);
}

void ha_session_start(ha_session *s, int64_t now_ms)
{
    s->state = HA_SESS_AUTH_WAIT;
    s->next_id = 1;
    s->started_ms = now_ms;
    s->ping_id = -1;
    s->n_cmds = 0;
}

void ha_session_stop(ha_session *s)
{
    s->state = HA_SESS_IDLE;
    s->ping_id = -1;
    s->n_cmds = 0;
}

ha_session_state ha_session_get_state(const ha_session *s)
{
    return s->state;
}

const char *ha_session_state_name(ha_session_state state)
{
    switch (state) {
    case HA_SESS_IDLE:
        return "disconnected";
    case HA_SESS_AUTH_WAIT:
        return "authenticating";
    case HA_SESS_READY:
        return "connected";
    }
    return "unknown";
}

int64_t ha_session_next_id(const ha_session *s)
{
    return s->next_id;
}

static int send_text(ha_session *s, char *text)
{
    if (text == NULL)
        return -1;
    int rc = s->cbs.send(s->cbs.ud, text, strlen(text));
    free(text);
    return rc;
}

static int remember(ha_session *s, int64_t id, int tag, bool subscription)
{
    if (s->n_cmds == s->cap_cmds) {
        size_t cap = s->cap_cmds ? s->cap_cmds * 2 : 16;
        pending_cmd *c = realloc(s->cmds, cap * sizeof(*c));
        if (c == NULL)
            return -1;
        s->cmds = c;
        s->cap_cmds = cap;
    }
    s->cmds[s->n_cmds++] = (pending_cmd){id, tag, subscription, false};
    return 0;
}

static pending_cmd *find_cmd(ha_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_cmds; i++) {
        if (s->cmds[i].id == id)
            return &s->cmds[i];
    }
    return NULL;
}

/* Drops a finished command; subscriptions stay while they are good. */
static void forget_cmd(ha_session *s, pending_cmd *c)
{
    size_t i = (size_t)(c - s->cmds);
    memmove(&s->cmds[i], &s->cmds[i + 1], (s->n_cmds - i - 1) * sizeof(*c));
    s->n_cmds--;
}

int ha_session_pending_tag(const ha_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_cmds; i++) {
        const pending_cmd *c = &s->cmds[i];
        if (c->id == id)
            return c->confirmed || c->tag <= 0 ? HA_TAG_UNKNOWN : c->tag;
    }
    return HA_TAG_UNKNOWN;
}

int ha_session_take_result(ha_session *s, int64_t id)
{
    pending_cmd *c = find_cmd(s, id);
    if (c == NULL || c->confirmed || c->tag <= 0)
        return HA_TAG_UNKNOWN;
    int tag = c->tag;
    if (c->subscription)
        c->confirmed = true;
    else
        forget_cmd(s, c);
    return tag;
}

static int64_t send_built(ha_session *s, char *text, int tag, bool subscription)
{
    int64_t id = s->next_id;
    if (text == NULL)
        return -1;
    s->next_id++;
    if (remember(s, id, tag, subscription) != 0) {
        free(text);
        return -1;
    }
    if (send_text(s, text) != 0)
        return -1;
    return id;
}

static int go_ready(ha_session *s, int64_t now_ms, const char *ha_version)
{
    s->state = HA_SESS_READY;
    s->next_ping_ms = now_ms + s->ping_interval_ms;
    if (send_built(s, ha_proto_supported_features(s->next_id), HA_TAG_FEATURES, false) <
        0)
        return HA_SESSION_DEAD;
    if (s->n_event_types == 0) {
        if (send_built(s, ha_proto_subscribe_events(s->next_id, NULL), HA_TAG_SUBSCRIBE,
                       true) < 0)
            return HA_SESSION_DEAD;
    }
    for (size_t i = 0; i < s->n_event_types; i++) {
        if (send_built(s, ha_proto_subscribe_events(s->next_id, s->event_types[i]),
                       HA_TAG_SUBSCRIBE, true) < 0)
            return HA_SESSION_DEAD;
    }
    if (s->cbs.ready != NULL)
        s->cbs.ready(s->cbs.ud, ha_version);
    return HA_SESSION_OK;
}

static void report_invalid(ha_session *s, const char *reason, const json_t *el)
{
    char *text = json_dumps(el, JSON_COMPACT | JSON_ENCODE_ANY);
    s->cbs.invalid(s->cbs.ud, reason, text != NULL ? text : "",
                   text != NULL ? strlen(text) : 0);
    free(text);
}

static int handle_msg(ha_session *s, const ha_msg *m, int64_t now_ms)
{
    switch (m->type) {
    case HA_MSG_AUTH_REQUIRED:
        if (s->state != HA_SESS_AUTH_WAIT) {
            report_invalid(s, "auth_required after authentication", m->obj);
            return HA_SESSION_OK;
        }
        if (send_text(s, ha_proto_auth(s->token)) != 0)
            return HA_SESSION_DEAD;
        return HA_SESSION_OK;
    case HA_MSG_AUTH_OK:
        if (s->state != HA_SESS_AUTH_WAIT) {
            report_invalid(s, "auth_ok after authentication", m->obj);
            return HA_SESSION_OK;
        }
        return go_ready(s, now_ms, m->ha_version);
    case HA_MSG_AUTH_INVALID:
        free(s->auth_message);
        s->auth_message =
            strdup(m->message != NULL ? m->message : "invalid access token");
        return HA_SESSION_AUTH_INVALID;
    case HA_MSG_PONG:
        if (m->id == s->ping_id)
            s->ping_id = -1;
        return HA_SESSION_OK;
    case HA_MSG_RESULT: {
        pending_cmd *c = find_cmd(s, m->id);
        if (c == NULL || c->confirmed) {
            if (s->cbs.result != NULL)
                s->cbs.result(s->cbs.ud, m->id, HA_TAG_UNKNOWN, m);
            return HA_SESSION_OK;
        }
        int tag = c->tag;
        if (c->subscription && m->success)
            c->confirmed = true;
        else
            forget_cmd(s, c);
        if (s->cbs.result != NULL)
            s->cbs.result(s->cbs.ud, m->id, tag, m);
        return HA_SESSION_OK;
    }
    case HA_MSG_EVENT: {
        pending_cmd *c = find_cmd(s, m->id);
        if (s->state != HA_SESS_READY || c == NULL || !c->subscription) {
            report_invalid(s, "event for an id that is not a subscription", m->obj);
            return HA_SESSION_OK;
        }
        s->cbs.event(s->cbs.ud, c->tag, m->event);
        return HA_SESSION_OK;
    }
    case HA_MSG_INVALID:
        report_invalid(s, m->invalid_reason, m->obj);
        return HA_SESSION_OK;
    }
    return HA_SESSION_OK;
}

/* ---- frames of events, read without a JSON tree ------------------------- */

static const char *const p_id[] = {"id", NULL};
static const char *const p_type[] = {"type", NULL};
static const char *const p_event[] = {"event", NULL};
static const char *const *const msg_paths[] = {p_id, p_type, p_event};

/* The tag of the subscription whose event el (an object) is, with the
 * event's span in *event; HA_TAG_UNKNOWN when el is anything else: another
 * message type, an event of no subscription of ours, an "event" that is not
 * an object. */
static int event_element(ha_session *s, const hs_jscan_value *el, hs_jscan_value *event)
{
    hs_jscan_value v[3];
    int64_t id;
    if (hs_jscan_extract(el->text, el->len, msg_paths, 3, v) != 0 ||
        hs_jscan_int(&v[0], &id) != 0 || id < 0 || !hs_jscan_string_is(&v[1], "event", 5) ||
        v[2].type != HS_JSCAN_OBJECT)
        return HA_TAG_UNKNOWN;
    const pending_cmd *c = find_cmd(s, id);
    if (c == NULL || !c->subscription)
        return HA_TAG_UNKNOWN;
    *event = v[2];
    return c->tag;
}

/* One element of a frame already validated whole: an event of ours goes to
 * event_text (or, when that declines it, parsed to event); any other object
 * is parsed and handled as ha_frame_parse would have classified it; a
 * value that is not an object is reported as ha_frame_parse reports it. */
static int fast_element(ha_session *s, const hs_jscan_value *el, int64_t now_ms)
{
    if (el->type != HS_JSCAN_OBJECT) {
        s->cbs.invalid(s->cbs.ud, "message is not a JSON object", el->text, el->len);
        return HA_SESSION_OK;
    }
    hs_jscan_value event = {0};
    int tag = event_element(s, el, &event);
    if (tag != HA_TAG_UNKNOWN) {
        if (s->cbs.event_text(s->cbs.ud, tag, event.text, event.len) == 0)
            return HA_SESSION_OK;
        json_error_t jerr;
        json_t *ev = json_loadb(event.text, event.len, JSON_DECODE_ANY, &jerr);
        if (ev != NULL) {
            s->cbs.event(s->cbs.ud, tag, ev);
            json_decref(ev);
            return HA_SESSION_OK;
        }
    }
    ha_frame f;
    char err[256];
    if (ha_frame_parse(&f, el->text, el->len, err, sizeof(err)) != 0) {
        s->cbs.invalid(s->cbs.ud, err, el->text, el->len);
        ha_frame_fini(&f);
        return HA_SESSION_OK;
    }
    int rc = HA_SESSION_OK;
    for (size_t i = 0; i < f.n && rc == HA_SESSION_OK; i++)
        rc = handle_msg(s, &f.msgs[i], now_ms);
    ha_frame_fini(&f);
    return rc;
}

/* Reserves room for one more element span in s->spans. */
static int grow_spans(ha_session *s, size_t n)
{
    if (n < s->cap_spans)
        return 0;
    size_t cap = s->cap_spans ? 2 * s->cap_spans : 64;
    hs_jscan_value *p = realloc(s->spans, cap * sizeof(*p));
    if (p == NULL)
        return -1;
    s->spans = p;
    s->cap_spans = cap;
    return 0;
}

/* Validates buf[0..len) as one object or an array of values, in one pass,
 * collecting the spans of its elements (one for an object) in s->spans.
 * Returns the number of elements, or -1 when hs_jscan declines the frame,
 * the frame is neither, or out of memory. */
static ssize_t frame_elements(ha_session *s, const char *buf, size_t len)
{
    hs_jscan_iter it;
    if (hs_jscan_iter_array_document(&it, buf, len) != 0) {
        if (grow_spans(s, 0) != 0 || hs_jscan_document(buf, len, &s->spans[0]) != 0 ||
            s->spans[0].type != HS_JSCAN_OBJECT)
            return -1;
        return 1;
    }
    size_t n = 0;
    int rc;
    while ((rc = grow_spans(s, n)) == 0 &&
           (rc = hs_jscan_iter_element(&it, &s->spans[n])) == 1)
        n++;
    return rc == 0 ? (ssize_t)n : -1;
}

/* Handles a frame without building its JSON tree when it can: a frame of
 * authenticated traffic that hs_jscan validates whole and that holds no
 * "\u0000" escape (which the tree parser refuses), so every element is
 * handled exactly as the tree path would. Returns false, having done
 * nothing, to leave the frame to the tree path; else true with the
 * session's verdict in *rc. */
static bool fast_frame(ha_session *s, const char *buf, size_t len, int64_t now_ms, int *rc)
{
    if (s->cbs.event_text == NULL || s->state != HA_SESS_READY ||
        memmem(buf, len, "\\u0000", 6) != NULL)
        return false;
    ssize_t n = frame_elements(s, buf, len);
    if (n < 0)
        return false;
    *rc = HA_SESSION_OK;
    for (ssize_t i = 0; i < n && *rc == HA_SESSION_OK; i++) {
        hs_jscan_value el = s->spans[i];
        *rc = fast_element(s, &el, now_ms);
    }
    return true;
}

int ha_session_on_frame(ha_session *s, const char *buf, size_t len, int64_t now_ms,
                        const char **auth_message)
{
    if (auth_message != NULL)
        *auth_message = NULL;
    int rc = HA_SESSION_OK;
    if (!fast_frame(s, buf, len, now_ms, &rc)) {
        ha_frame f;
        char err[256];
        if (ha_frame_parse(&f, buf, len, err, sizeof(err)) != 0) {
            s->cbs.invalid(s->cbs.ud, err, buf, len);
            ha_frame_fini(&f);
            return HA_SESSION_OK;
        }
        for (size_t i = 0; i < f.n && rc == HA_SESSION_OK; i++)
            rc = handle_msg(s, &f.msgs[i], now_ms);
        ha_frame_fini(&f);
    }
    if (rc == HA_SESSION_AUTH_INVALID) {
        s->state = HA_SESS_IDLE;
        if (auth_message != NULL)
            *auth_message = s->auth_message;
    }
    return rc;
}

int ha_session_tick(ha_session *s, int64_t now_ms)
{
    if (s->state == HA_SESS_AUTH_WAIT) {
        return now_ms - s->started_ms > s->pong_timeout_ms ? HA_SESSION_DEAD
                                                           : HA_SESSION_OK;
    }
    if (s->state != HA_SESS_READY)
        return HA_SESSION_OK;
    if (s->ping_id >= 0) {
        if (now_ms - s->ping_sent_ms > s->pong_timeout_ms)
            return HA_SESSION_DEAD;
        return HA_SESSION_OK;
    }
    if (now_ms >= s->next_ping_ms) {
        int64_t id = s->next_id++;
        if (send_text(s, ha_proto_ping(id)) != 0)
            return HA_SESSION_DEAD;
        s->ping_id = id;
        s->ping_sent_ms = now_ms;
        s->next_ping_ms = now_ms + s->ping_interval_ms;
    }
    return HA_SESSION_OK;
}

int64_t ha_session_next_tick_in(const ha_session *s, int64_t now_ms)
{
    int64_t at;
    if (s->state == HA_SESS_AUTH_WAIT)
        at = s->started_ms + s->pong_timeout_ms + 1;
    else if (s->state != HA_SESS_READY)
        return s->ping_interval_ms;
    else if (s->ping_id >= 0)
        at = s->ping_sent_ms + s->pong_timeout_ms + 1;
    else
        at = s->next_ping_ms;
    return at > now_ms ? at - now_ms : 0;
}

int64_t ha_session_command(ha_session *s, const char *type, const json_t *fields, int tag)
{
    if (s->state != HA_SESS_READY || tag <= 0)
        return -1;
    bool subscription = strcmp(type, "subscribe_events") == 0;
    return send_built(s, ha_proto_command(s->next_id, type, fields), tag, subscription);
}

int64_t ha_session_command_built(ha_session *s, char *(*build)(int64_t id, void *ud),
                                 void *ud, int tag)
{
    if (s->state != HA_SESS_READY || tag <= 0)
        return -1;
    return send_built(s, build(s->next_id, ud), tag, false);
}
