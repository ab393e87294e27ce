/* probe.c - homestream-hasim-probe: a Home Assistant WebSocket client that
 * checks what homestream-hasim (or any HA) sends.
 *
 * It authenticates, optionally asks for coalescing, subscribes to
 * state_changed, receives --events events, then asks for get_states and
 * history/history_during_period and checks them against the stream:
 *  - every frame is a JSON object or an array of objects;
 *  - time_fired == new_state.last_updated, last_updated strictly increases
 *    over the stream, old_state equals the entity's previous new_state,
 *    last_changed moves exactly when the state text changes;
 *  - each state in get_states equals the last new_state received for it;
 *  - history rows (significant_changes_only false, no start state) are
 *    exactly the stream's states, in order, with lu/lc matching.
 * With --spawn PROGRAM ARGS... it starts the server itself (it must print
 * LISTENING=<port>) and finally stops it with SIGTERM, requiring exit 0.
 * Prints EVENTS=, FRAMES=, RATE= and exits 0 when every check passed. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "hs_time.h"
#include "jbuf.h"
#include "outq.h"

typedef struct {
    const char *host;
    int port;
    const char *token;
    long events;
    bool coalesce;
    bool count_only; /* only count events (no checks): measures the server */
    int timeout_s;
} probe_opts;

typedef struct {
    char *entity_id;
    json_t *last; /* last new_state received */
    json_t *rows; /* array of [lu_us, state, lc_us] received */
} ent;

typedef struct {
    probe_opts o;
    struct lws_context *ctx;
    struct lws *wsi;
    outq q;
    jbuf rx;
    jbuf frame;
    int step;
    bool finished;
    int failures;
    long events;
    long frames;
    int64_t first_lu, last_lu;
    int64_t t_first, t_last;
    ent *ents;
    size_t n_ents, cap_ents;
} probe;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fail(probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(probe *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("probe: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    p->failures++;
}

static void send_text(probe *p, const char *text)
{
    size_t n = strlen(text);
    if (outq_push(&p->q, &text, &n, 1, 0, false, false) < 0)
        fail(p, "out of memory");
    lws_callback_on_writable(p->wsi);
}

static ent *find_ent(probe *p, const char *id)
{
    for (size_t i = 0; i < p->n_ents; i++)
        if (strcmp(p->ents[i].entity_id, id) == 0)
            return &p->ents[i];
    if (p->n_ents == p->cap_ents) {
        size_t cap = p->cap_ents ? p->cap_ents * 2 : 64;
        ent *n = realloc(p->ents, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        p->ents = n;
        p->cap_ents = cap;
    }
    ent *e = &p->ents[p->n_ents++];
    e->entity_id = strdup(id);
    e->last = NULL;
    e->rows = json_array();
    return e;
}

static int64_t iso_us(const char *s)
{
    int64_t ns;
    if (s == NULL || hs_time_parse_iso(s, &ns) < 0)
        return -1;
    return ns / 1000;
}

static void on_event(probe *p, const json_t *ev)
{
    const json_t *data = json_object_get(ev, "data");
    const char *id = json_string_value(json_object_get(data, "entity_id"));
    json_t *ns = json_object_get(data, "new_state");
    const json_t *os = json_object_get(data, "old_state");
    if (id == NULL || !json_is_object(ns)) {
        fail(p, "state_changed without entity_id/new_state");
        return;
    }
    const char *tf = json_string_value(json_object_get(ev, "time_fired"));
    const char *lu_s = json_string_value(json_object_get(ns, "last_updated"));
    const char *lc_s = json_string_value(json_object_get(ns, "last_changed"));
    if (tf == NULL || lu_s == NULL || strcmp(tf, lu_s) != 0)
        fail(p, "%s: time_fired %s != last_updated %s", id, tf ? tf : "?",
             lu_s ? lu_s : "?");
    int64_t lu = iso_us(lu_s), lc = iso_us(lc_s);
    if (lu < 0 || lc < 0)
        fail(p, "%s: bad timestamps %s / %s", id, lu_s ? lu_s : "?", lc_s ? lc_s : "?");
    if (p->events > 0 && lu <= p->last_lu)
        fail(p, "%s: last_updated %s does not increase", id, lu_s);
    if (p->events == 0)
        p->first_lu = lu;
    p->last_lu = lu;
    ent *e = find_ent(p, id);
    if (e == NULL) {
        fail(p, "out of memory");
        return;
    }
    if (e->last != NULL) {
        if (!json_equal(e->last, os))
            fail(p, "%s: old_state differs from the previous new_state", id);
        const char *st_old = json_string_value(json_object_get(e->last, "state"));
        const char *st_new = json_string_value(json_object_get(ns, "state"));
        bool changed = st_old == NULL || st_new == NULL || strcmp(st_old, st_new) != 0;
        if (changed != (lc == lu))
            fail(p, "%s: last_changed %s (state %s)", id, lc_s,
                 changed ? "changed" : "unchanged");
    }
    json_decref(e->last);
    e->last = json_incref(ns);
    json_array_append_new(e->rows,
                          json_pack("[I,O,I]", (json_int_t)lu,
                                    json_object_get(ns, "state"), (json_int_t)lc));
    p->events++;
}

static void check_states(probe *p, const json_t *states)
{
    size_t i, checked = 0;
    json_t *st;
    json_array_foreach(states, i, st)
    {
        const char *id = json_string_value(json_object_get(st, "entity_id"));
        if (id == NULL) {
            fail(p, "get_states: state without entity_id");
            continue;
        }
        for (size_t k = 0; k < p->n_ents; k++) {
            if (strcmp(p->ents[k].entity_id, id) != 0)
                continue;
            if (!json_equal(p->ents[k].last, st))
                fail(p, "get_states: %s differs from its last new_state", id);
            checked++;
        }
    }
    fprintf(stderr, "probe: get_states: %zu states, %zu compared with the stream\n",
            json_array_size(states), checked);
}

static void check_history(probe *p, const json_t *result)
{
    size_t rows = 0;
    for (size_t k = 0; k < p->n_ents; k++) {
        const ent *e = &p->ents[k];
        const json_t *h = json_object_get(result, e->entity_id);
        if (json_array_size(h) != json_array_size(e->rows)) {
            fail(p, "history: %s has %zu rows, the stream %zu", e->entity_id,
                 json_array_size(h), json_array_size(e->rows));
            continue;
        }
        for (size_t i = 0; i < json_array_size(h); i++) {
            const json_t *row = json_array_get(h, i), *want = json_array_get(e->rows, i);
            int64_t lu = llround(json_number_value(json_object_get(row, "lu")) * 1e6);
            const json_t *lcv = json_object_get(row, "lc");
            int64_t lc = lcv != NULL ? llround(json_number_value(lcv) * 1e6) : lu;
            if (lu != json_integer_value(json_array_get(want, 0)) ||
                lc != json_integer_value(json_array_get(want, 2)) ||
                !json_equal(json_object_get(row, "s"), json_array_get(want, 1)) ||
                !json_is_object(json_object_get(row, "a")))
                fail(p, "history: %s row %zu differs from the stream", e->entity_id, i);
            rows++;
        }
    }
    fprintf(stderr, "probe: history: %zu rows compared\n", rows);
}

static void next_command(probe *p)
{
    char buf[512];
    char from[48], to[48];
    switch (p->step) {
    case 3:
        send_text(p, "{\"id\":3,\"type\":\"get_states\"}");
        break;
    case 4:
        hasim_iso(p->first_lu - 1, from, sizeof from);
        hasim_iso(p->last_lu + 1, to, sizeof to);
        {
            jbuf b;
            jbuf_init(&b, 0);
            jbuf_puts(&b, "{\"id\":4,\"type\":\"history/history_during_period\","
                          "\"start_time\":\"");
            jbuf_puts(&b, from);
            jbuf_puts(&b, "\",\"end_time\":\"");
            jbuf_puts(&b, to);
            jbuf_puts(&b, "\",\"include_start_time_state\":false,"
                          "\"significant_changes_only\":false,\"entity_ids\":[");
            for (size_t k = 0; k < p->n_ents; k++) {
                if (k > 0)
                    jbuf_putc(&b, ',');
                jbuf_put_jcstr(&b, p->ents[k].entity_id);
            }
            jbuf_puts(&b, "]}");
            if (!jbuf_failed(&b))
                send_text(p, b.data);
            jbuf_fini(&b);
        }
        break;
    case 5:
        snprintf(buf, sizeof buf, "{\"id\":5,\"type\":\"ping\"}");
        send_text(p, buf);
        break;
    default:
        break;
    }
}

static bool is_result(const json_t *m, int id)
{
    const char *t = json_string_value(json_object_get(m, "type"));
    return t != NULL && strcmp(t, "result") == 0 &&
           json_integer_value(json_object_get(m, "id")) == id;
}

static void on_message(probe *p, const json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    if (type == NULL) {
        fail(p, "message without type");
        return;
    }
    if (strcmp(type, "event") == 0) {
        /* Events keep counting until the get_states result: it reflects
         * every event queued before it. */
        if (p->step == 3 && json_integer_value(json_object_get(m, "id")) == 2) {
            if (p->events == 0)
                p->t_first = mono_us();
            on_event(p, json_object_get(m, "event"));
            if (p->events <= p->o.events)
                p->t_last = mono_us();
            if (p->events == p->o.events)
                next_command(p);
        }
        return;
    }
    switch (p->step) {
    case 0:
        if (strcmp(type, "auth_required") != 0) {
            fail(p, "expected auth_required, got %s", type);
            p->finished = true;
            return;
        }
        {
            jbuf b;
            jbuf_init(&b, 0);
            jbuf_puts(&b, "{\"type\":\"auth\",\"access_token\":");
            jbuf_put_jcstr(&b, p->o.token);
            jbuf_putc(&b, '}');
            send_text(p, b.data);
            jbuf_fini(&b);
        }
        p->step = 1;
        return;
    case 1:
        if (strcmp(type, "auth_ok") != 0) {
            fail(p, "expected auth_ok, got %s", type);
            p->finished = true;
            return;
        }
        if (p->o.coalesce) {
            send_text(p, "{\"id\":1,\"type\":\"supported_features\",\"features\":"
                         "{\"coalesce_messages\":1}}");
            p->step = 2;
        } else {
            send_text(p, "{\"id\":2,\"type\":\"subscribe_events\",\"event_type\":"
                         "\"state_changed\"}");
            p->step = 25;
        }
        return;
    case 2:
        if (!is_result(m, 1))
            fail(p, "expected the supported_features result");
        send_text(
            p,
            "{\"id\":2,\"type\":\"subscribe_events\",\"event_type\":\"state_changed\"}");
        p->step = 25;
        return;
    case 25:
        if (!is_result(m, 2) || !json_is_true(json_object_get(m, "success")))
            fail(p, "expected the subscribe_events result");
        p->step = 3;
        return;
    case 3:
        if (!is_result(m, 3) || !json_is_array(json_object_get(m, "result"))) {
            fail(p, "expected the get_states result");
            p->finished = true;
            return;
        }
        check_states(p, json_object_get(m, "result"));
        p->step = 4;
        next_command(p);
        return;
    case 4:
        if (!is_result(m, 4) || !json_is_object(json_object_get(m, "result"))) {
            fail(p, "expected the history result");
            p->finished = true;
            return;
        }
        check_history(p, json_object_get(m, "result"));
        p->step = 5;
        next_command(p);
        return;
    case 5:
        if (strcmp(type, "pong") != 0 ||
            json_integer_value(json_object_get(m, "id")) != 5)
            fail(p, "expected pong 5");
        p->finished = true;
        return;
    default:
        return;
    }
}

/* --count-only: events are counted by their '"type":"event"' marker, which
 * cannot occur unescaped inside a JSON string. */
static bool count_frame(probe *p)
{
    if (p->step != 3)
        return false;
    const char *d = p->rx.data != NULL ? p->rx.data : "";
    if (strstr(d, "\"type\":\"event\"") == NULL)
        return false;
    if (p->events == 0)
        p->t_first = mono_us();
    for (const char *x = d; (x = strstr(x, "\"type\":\"event\"")) != NULL; x += 15)
        p->events++;
    p->frames++;
    p->t_last = mono_us();
    if (p->events >= p->o.events)
        p->finished = true;
    return true;
}

static void on_frame(probe *p)
{
    if (p->o.count_only && count_frame(p))
        return;
    json_error_t err;
    json_t *v = json_loadb(p->rx.data != NULL ? p->rx.data : "", p->rx.len, 0, &err);
    p->frames++;
    if (v == NULL) {
        fail(p, "frame is not JSON: %s", err.text);
        return;
    }
    if (json_is_array(v)) {
        if (!p->o.coalesce)
            fail(p, "array frame without coalescing");
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (!json_is_object(m))
                fail(p, "array element is not an object");
            else
                on_message(p, m);
        }
    } else if (json_is_object(v)) {
        on_message(p, v);
    } else {
        fail(p, "frame is neither an object nor an array");
    }
    json_decref(v);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    probe *p = proto != NULL ? proto->user : NULL;
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fail(p, "connection error: %s", in ? (const char *)in : "?");
        p->finished = true;
        p->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi))
            jbuf_reset(&p->rx);
        jbuf_put(&p->rx, in, len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
            on_frame(p);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        outq_item *it = outq_pop(&p->q);
        if (it == NULL)
            return 0;
        jbuf_reset(&p->frame);
        jbuf_put(&p->frame, it->data, it->len);
        free(it);
        if (lws_write(wsi, (unsigned char *)p->frame.data, p->frame.len, LWS_WRITE_TEXT) <
            (int)p->frame.len)
            return -1;
        if (p->q.head != NULL)
            lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!p->finished)
            fail(p, "server closed the connection");
        p->finished = true;
        p->wsi = NULL;
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Starts argv[0] with stdout on a pipe and reads its LISTENING=<port>. */
static pid_t spawn(char **argv, int *port, FILE **out)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128];
    *port = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "LISTENING=", 10) == 0) {
            *port = atoi(line + 10);
            break;
        }
    }
    /* Keep the pipe open (the server writes DONE= later) but unread: a
     * few lines fit in the pipe buffer. */
    *out = f;
    return pid;
}

int main(int argc, char **argv)
{
    probe p;
    memset(&p, 0, sizeof p);
    p.o = (probe_opts){.host = "127.0.0.1",
                       .port = 8123,
                       .token = "hasim-token",
                       .events = 1000,
                       .coalesce = true,
                       .timeout_s = 60};
    char **spawn_argv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--spawn") == 0 && v != NULL) {
            spawn_argv = &argv[i + 1];
            break;
        } else if (strcmp(a, "--host") == 0 && v != NULL) {
            p.o.host = v;
            i++;
        } else if (strcmp(a, "--port") == 0 && v != NULL) {
            p.o.port = atoi(v);
            i++;
        } else if (strcmp(a, "--token") == 0 && v != NULL) {
            p.o.token = v;
            i++;
        } else if (strcmp(a, "--events") == 0 && v != NULL) {
            p.o.events = atol(v);
            i++;
        } else if (strcmp(a, "--timeout") == 0 && v != NULL) {
            p.o.timeout_s = atoi(v);
            i++;
        } else if (strcmp(a, "--count-only") == 0) {
            p.o.count_only = true;
        } else if (strcmp(a, "--no-coalesce") == 0) {
            p.o.coalesce = false;
        } else {
            fprintf(stderr,
                    "usage: homestream-hasim-probe [--host H] [--port P] [--token T] "
                    "[--events N] [--timeout S] [--no-coalesce] [--count-only] "
                    "[--spawn PROGRAM ARGS...]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    pid_t child = -1;
    FILE *child_out = NULL;
    if (spawn_argv != NULL) {
        child = spawn(spawn_argv, &p.o.port, &child_out);
        if (child < 0 || p.o.port <= 0) {
            fprintf(stderr, "probe: FAIL: could not start %s\n", spawn_argv[0]);
            if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
            }
            if (child_out != NULL)
                fclose(child_out);
            return 1;
        }
    }

    outq_init(&p.q);
    jbuf_init(&p.rx, 0);
    jbuf_init(&p.frame, LWS_PRE);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_protocols protocols[2];
    memset(protocols, 0, sizeof protocols);
    protocols[0].name = "probe";
    protocols[0].callback = callback;
    protocols[0].rx_buffer_size = 65536;
    protocols[0].user = &p;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    p.ctx = lws_create_context(&info);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = p.ctx;
    ci.address = p.o.host;
    ci.port = p.o.port;
    ci.path = "/api/websocket";
    ci.host = p.o.host;
    ci.origin = p.o.host;
    ci.protocol = NULL;
    ci.local_protocol_name = "probe";
    if (p.ctx != NULL)
        p.wsi = lws_client_connect_via_info(&ci);
    if (p.wsi == NULL) {
        fail(&p, "cannot connect");
        p.finished = true;
    }
    int64_t deadline = mono_us() + (int64_t)p.o.timeout_s * 1000000;
    while (!p.finished && mono_us() < deadline)
        lws_service(p.ctx, 50);
    if (!p.finished) {
        fail(&p, "timed out at step %d after %ld events", p.step, p.events);
        p.finished = true; /* closing below is ours, not the server's */
    }
    if (p.ctx != NULL)
        lws_context_destroy(p.ctx);

    double secs = (double)(p.t_last - p.t_first) / 1e6;
    printf("EVENTS=%ld\nFRAMES=%ld\nRATE=%.0f\nENTITIES=%zu\n", p.events, p.frames,
           secs > 0 ? (double)p.events / secs : 0.0, p.n_ents);
    if (child > 0) {
        int status = 0;
        kill(child, SIGTERM);
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            fail(&p, "the server did not exit 0 on SIGTERM (status %d)", status);
    }
    if (child_out != NULL)
        fclose(child_out);
    for (size_t k = 0; k < p.n_ents; k++) {
        free(p.ents[k].entity_id);
        json_decref(p.ents[k].last);
        json_decref(p.ents[k].rows);
    }
    free(p.ents);
    outq_fini(&p.q);
    jbuf_fini(&p.rx);
    jbuf_fini(&p.frame);
    if (p.failures > 0) {
        fprintf(stderr, "probe: %d check(s) failed\n", p.failures);
        return 1;
    }
    fprintf(stderr, "probe: all checks passed\n");
    return 0;
}
