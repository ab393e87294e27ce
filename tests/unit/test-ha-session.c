/* test-ha-session.c - ha_session: the client protocol state machine. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha_session.h"

#define MAX_REC 64

/* What the callbacks saw. */
typedef struct {
    json_t *sent[MAX_REC];
    size_t n_sent;
    bool fail_send;
    int ready;
    json_t *events[MAX_REC];
    int event_tags[MAX_REC];
    size_t n_events;
    int64_t result_ids[MAX_REC];
    int result_tags[MAX_REC];
    bool result_success[MAX_REC];
    size_t n_results;
    char invalid_reasons[MAX_REC][128];
    char *invalid_payloads[MAX_REC];
    size_t n_invalid;
    size_t n_text_offers; /* events offered to event_text */
} rec;

static int cb_send(void *ud, const char *text, size_t len)
{
    rec *r = ud;
    if (r->fail_send)
        return -1;
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_lt(r->n_sent, MAX_REC);
    r->sent[r->n_sent++] = j;
    return 0;
}

static void cb_ready(void *ud, const char *version)
{
    rec *r = ud;
    (void)version;
    r->ready++;
}

static void cb_event(void *ud, int tag, const json_t *event)
{
    rec *r = ud;
    ck_assert_uint_lt(r->n_events, MAX_REC);
    r->event_tags[r->n_events] = tag;
    r->events[r->n_events++] = json_deep_copy(event);
}

/* How the sessions of a test case read events: TEXT_NONE without
 * event_text (every frame parsed whole), TEXT_TAKE with an event_text that
 * takes every event, TEXT_DECLINE with one that declines every event (so
 * the session parses it and calls event). Set by the case's fixture; every
 * test must see the same events either way. */
enum { TEXT_NONE, TEXT_TAKE, TEXT_DECLINE };
static int text_mode;

static void mode_none(void)
{
    text_mode = TEXT_NONE;
}
static void mode_take(void)
{
    text_mode = TEXT_TAKE;
}
static void mode_decline(void)
{
    text_mode = TEXT_DECLINE;
}

static int cb_event_text(void *ud, int tag, const char *text, size_t n)
{
    rec *r = ud;
    r->n_text_offers++;
    if (text_mode == TEXT_DECLINE)
        return -1;
    json_error_t e;
    json_t *ev = json_loadb(text, n, 0, &e);
    ck_assert_msg(ev != NULL, "event_text got invalid JSON: %.*s", (int)n, text);
    cb_event(ud, tag, ev);
    json_decref(ev);
    return 0;
}

static void cb_result(void *ud, int64_t id, int tag, const ha_msg *m)
{
    rec *r = ud;
    ck_assert_uint_lt(r->n_results, MAX_REC);
    r->result_ids[r->n_results] = id;
    r->result_tags[r->n_results] = tag;
    r->result_success[r->n_results++] = m->success;
}

static void cb_invalid(void *ud, const char *reason, const char *payload, size_t len)
{
    rec *r = ud;
    ck_assert_uint_lt(r->n_invalid, MAX_REC);
    snprintf(r->invalid_reasons[r->n_invalid], 128, "%s", reason);
    r->invalid_payloads[r->n_invalid++] = strndup(payload, len);
}

static void rec_free(rec *r)
{
    for (size_t i = 0; i < r->n_sent; i++)
        json_decref(r->sent[i]);
    for (size_t i = 0; i < r->n_events; i++)
        json_decref(r->events[i]);
    for (size_t i = 0; i < r->n_invalid; i++)
        free(r->invalid_payloads[i]);
    memset(r, 0, sizeof(*r));
}

static ha_session *make(rec *r, const char *const *types, size_t n)
{
    memset(r, 0, sizeof(*r));
    ha_session_opts o = {
        .token = "tok",
        .event_types = types,
        .n_event_types = n,
        .ping_interval_ms = 30000,
        .pong_timeout_ms = 15000,
    };
    ha_session_cbs c = {.send = cb_send,
                        .ready = cb_ready,
                        .event = cb_event,
                        .event_text = text_mode == TEXT_NONE ? NULL : cb_event_text,
                        .result = cb_result,
                        .invalid = cb_invalid,
                        .ud = r};
    ha_session *s = ha_session_new(&o, &c);
    ck_assert_ptr_nonnull(s);
    return s;
}

static int feed(ha_session *s, const char *text, int64_t now)
{
    return ha_session_on_frame(s, text, strlen(text), now, NULL);
}

static const char *sent_type(rec *r, size_t i)
{
    return json_string_value(json_object_get(r->sent[i], "type"));
}

static int64_t sent_id(rec *r, size_t i)
{
    json_t *id = json_object_get(r->sent[i], "id");
    return id != NULL ? json_integer_value(id) : -1;
}

/* Brings a session through auth; returns the time used. */
static void handshake(ha_session *s, rec *r)
{
    ha_session_start(s, 0);
    ck_assert_int_eq(r->n_sent, 0);
    ck_assert_int_eq(feed(s, "{\"type\":\"auth_required\",\"ha_version\":\"2024.1\"}", 1),
                     HA_SESSION_OK);
    ck_assert_uint_eq(r->n_sent, 1);
    ck_assert_str_eq(sent_type(r, 0), "auth");
    ck_assert_str_eq(json_string_value(json_object_get(r->sent[0], "access_token")),
                     "tok");
    ck_assert_int_eq(feed(s, "{\"type\":\"auth_ok\",\"ha_version\":\"2024.1\"}", 2),
                     HA_SESSION_OK);
    ck_assert_int_eq(r->ready, 1);
    ck_assert_int_eq(ha_session_get_state(s), HA_SESS_READY);
}

START_TEST(test_handshake_and_subscribe)
{
    rec r;
    const char *types[] = {"state_changed", "call_service"};
    ha_session *s = make(&r, types, 2);
    handshake(s, &r);
    /* auth, supported_features, 2 subscriptions */
    ck_assert_uint_eq(r.n_sent, 4);
    ck_assert_str_eq(sent_type(&r, 1), "supported_features");
    ck_assert_int_eq(sent_id(&r, 1), 1);
    ck_assert_str_eq(sent_type(&r, 2), "subscribe_events");
    ck_assert_str_eq(json_string_value(json_object_get(r.sent[2], "event_type")),
                     "state_changed");
    ck_assert_str_eq(json_string_value(json_object_get(r.sent[3], "event_type")),
                     "call_service");
    ck_assert_int_eq(sent_id(&r, 2), 2);
    ck_assert_int_eq(sent_id(&r, 3), 3);

    /* A coalesced frame: results and events of both subscriptions. */
    ck_assert_int_eq(
        feed(s,
             "[{\"id\":1,\"type\":\"result\",\"success\":true,\"result\":null},"
             "{\"id\":2,\"type\":\"result\",\"success\":true,\"result\":null},"
             "{\"id\":2,\"type\":\"event\",\"event\":{\"event_type\":\"a\"}},"
             "{\"id\":3,\"type\":\"event\",\"event\":{\"event_type\":\"b\"}}]",
             3),
        HA_SESSION_OK);
    ck_assert_uint_eq(r.n_events, 2);
    ck_assert_int_eq(r.event_tags[0], HA_TAG_SUBSCRIBE);
    ck_assert_str_eq(json_string_value(json_object_get(r.events[1], "event_type")), "b");
    ck_assert_uint_eq(r.n_results, 2);
    ck_assert_int_eq(r.result_tags[0], HA_TAG_FEATURES);
    ck_assert_int_eq(r.result_tags[1], HA_TAG_SUBSCRIBE);
    ck_assert_uint_eq(r.n_invalid, 0);

    /* Events for an id that is no subscription are reported, not lost. */
    feed(s, "{\"id\":1,\"type\":\"event\",\"event\":{}}", 4);
    ck_assert_uint_eq(r.n_invalid, 1);
    ck_assert_uint_eq(r.n_events, 2);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_all_events)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r);
    ck_assert_uint_eq(r.n_sent, 3);
    ck_assert_str_eq(sent_type(&r, 2), "subscribe_events");
    ck_assert_ptr_null(json_object_get(r.sent[2], "event_type"));
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_ids_restart_per_connection)
{
    rec r;
    const char *types[] = {"state_changed"};
    ha_session *s = make(&r, types, 1);
    handshake(s, &r);
    int64_t id = ha_session_command(s, "get_states", NULL, 7);
    ck_assert_int_eq(id, 3);
    ck_assert_int_eq(ha_session_next_id(s), 4);
    feed(s, "{\"id\":3,\"type\":\"result\",\"success\":true,\"result\":[]}", 5);
    ck_assert_int_eq(r.result_tags[r.n_results - 1], 7);
    ha_session_stop(s);
    ck_assert_int_eq(ha_session_command(s, "get_states", NULL, 7), -1);
    rec_free(&r);
    handshake(s, &r);
    ck_assert_int_eq(sent_id(&r, 1), 1);
    ck_assert_int_eq(sent_id(&r, 2), 2);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_auth_invalid)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    ha_session_start(s, 0);
    feed(s, "{\"type\":\"auth_required\"}", 1);
    const char *why = NULL;
    const char *frame =
        "{\"type\":\"auth_invalid\",\"message\":\"Invalid access token\"}";
    ck_assert_int_eq(ha_session_on_frame(s, frame, strlen(frame), 2, &why),
                     HA_SESSION_AUTH_INVALID);
    ck_assert_str_eq(why, "Invalid access token");
    ck_assert_int_eq(r.ready, 0);
    ck_assert_int_eq(ha_session_get_state(s), HA_SESS_IDLE);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_ping_pong_and_timeout)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r); /* ready at t=2 */
    size_t before = r.n_sent;
    ck_assert_int_eq(ha_session_tick(s, 1000), HA_SESSION_OK);
    ck_assert_uint_eq(r.n_sent, before);
    ck_assert_int_eq(ha_session_next_tick_in(s, 1000), 30002 - 1000);
    ck_assert_int_eq(ha_session_tick(s, 30002), HA_SESSION_OK);
    ck_assert_uint_eq(r.n_sent, before + 1);
    ck_assert_str_eq(sent_type(&r, before), "ping");
    int64_t ping_id = sent_id(&r, before);
    ck_assert_int_gt(ping_id, 2);
    /* Answered in time: no timeout, next ping 30 s after the first. */
    char pong[64];
    snprintf(pong, sizeof(pong), "{\"id\":%lld,\"type\":\"pong\"}", (long long)ping_id);
    feed(s, pong, 31000);
    ck_assert_int_eq(ha_session_tick(s, 50000), HA_SESSION_OK);
    ck_assert_int_eq(ha_session_tick(s, 60002), HA_SESSION_OK);
    ck_assert_uint_eq(r.n_sent, before + 2);
    ck_assert_int_gt(sent_id(&r, before + 1), ping_id);
    /* Not answered: dead after 15 s, not before. */
    ck_assert_int_eq(ha_session_tick(s, 75002), HA_SESSION_OK);
    ck_assert_int_eq(ha_session_tick(s, 75003), HA_SESSION_DEAD);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_auth_timeout)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    ha_session_start(s, 100);
    ck_assert_int_eq(ha_session_tick(s, 15100), HA_SESSION_OK);
    ck_assert_int_eq(ha_session_tick(s, 15101), HA_SESSION_DEAD);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_send_failure_is_dead)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    ha_session_start(s, 0);
    r.fail_send = true;
    ck_assert_int_eq(feed(s, "{\"type\":\"auth_required\"}", 1), HA_SESSION_DEAD);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_garbage_goes_to_invalid)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r);
    ck_assert_int_eq(feed(s, "this is not json", 5), HA_SESSION_OK);
    ck_assert_uint_eq(r.n_invalid, 1);
    ck_assert_str_eq(r.invalid_payloads[0], "this is not json");
    feed(s, "[{\"type\":\"weird\"},7]", 6);
    ck_assert_uint_eq(r.n_invalid, 3);
    ck_assert_ptr_nonnull(strstr(r.invalid_payloads[1], "weird"));
    ck_assert_str_eq(r.invalid_payloads[2], "7");
    /* auth_ok again after authentication is not acted on. */
    feed(s, "{\"type\":\"auth_ok\"}", 7);
    ck_assert_int_eq(r.ready, 1);
    ck_assert_uint_eq(r.n_invalid, 4);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_failed_subscription_stops_events)
{
    rec r;
    const char *types[] = {"secret_event"};
    ha_session *s = make(&r, types, 1);
    handshake(s, &r);
    feed(s,
         "{\"id\":2,\"type\":\"result\",\"success\":false,\"error\":{\"code\":"
         "\"unauthorized\",\"message\":\"Unauthorized\"}}",
         5);
    ck_assert_uint_eq(r.n_results, 1);
    ck_assert(!r.result_success[0]);
    feed(s, "{\"id\":2,\"type\":\"event\",\"event\":{}}", 6);
    ck_assert_uint_eq(r.n_events, 0);
    ck_assert_uint_eq(r.n_invalid, 1);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

START_TEST(test_owner_subscription_tag)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r);
    json_t *f = json_pack("{s:s}", "event_type", "area_registry_updated");
    int64_t id = ha_session_command(s, "subscribe_events", f, 42);
    json_decref(f);
    char ev[96];
    snprintf(ev, sizeof(ev), "{\"id\":%lld,\"type\":\"event\",\"event\":{}}",
             (long long)id);
    feed(s, ev, 5);
    ck_assert_uint_eq(r.n_events, 1);
    ck_assert_int_eq(r.event_tags[0], 42);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

/* A result the owner read itself (a streamed get_states): the command is
 * done, so a later result for the same id is unknown. */
START_TEST(test_take_streamed_result)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r);
    int64_t id = ha_session_command(s, "get_states", NULL, 20);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(ha_session_pending_tag(s, id), 20);
    ck_assert_int_eq(ha_session_pending_tag(s, id + 1), HA_TAG_UNKNOWN);
    ck_assert_int_eq(ha_session_pending_tag(s, 1), HA_TAG_UNKNOWN); /* features */
    ck_assert_int_eq(ha_session_take_result(s, id), 20);
    ck_assert_int_eq(ha_session_pending_tag(s, id), HA_TAG_UNKNOWN);
    ck_assert_int_eq(ha_session_take_result(s, id), HA_TAG_UNKNOWN);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

/* A coalesced frame mixing events of ours with everything else: the same
 * outcome whichever way the session reads it. */
START_TEST(test_mixed_frame)
{
    rec r;
    ha_session *s = make(&r, NULL, 0);
    handshake(s, &r);
    /* id 2: the subscription to all events (id 1: supported_features). */
    ck_assert_int_eq(feed(s,
                          "[{\"id\":2,\"type\":\"event\",\"event\":{\"event_type\":\"a\","
                          "\"data\":{\"x\":[1,{\"y\":\"\\u00e9\"}]}}},"
                          " 7 ,{\"id\":99,\"type\":\"event\",\"event\":{}},"
                          "{\"id\":2,\"type\":\"event\",\"event\":\"not an object\"},"
                          "{\"id\":2,\"type\":\"result\",\"success\":true,\"result\":null},"
                          "{\"type\":\"event\",\"id\":2,\"event\":{\"event_type\":\"b\"}}]",
                          5),
                     HA_SESSION_OK);
    ck_assert_uint_eq(r.n_events, 3);
    ck_assert_str_eq(json_string_value(json_object_get(r.events[0], "event_type")), "a");
    json_t *x = json_object_get(json_object_get(r.events[0], "data"), "x");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(x, 1), "y")),
                     "\xc3\xa9");
    ck_assert(json_is_string(r.events[1]));
    ck_assert_str_eq(json_string_value(json_object_get(r.events[2], "event_type")), "b");
    ck_assert_uint_eq(r.n_invalid, 2);
    ck_assert_str_eq(r.invalid_reasons[0], "message is not a JSON object");
    ck_assert_str_eq(r.invalid_payloads[0], "7");
    ck_assert_str_eq(r.invalid_reasons[1], "event for an id that is not a subscription");
    ck_assert_uint_eq(r.n_results, 1);
    /* Only objects are offered as text. */
    ck_assert_uint_eq(r.n_text_offers, text_mode == TEXT_NONE ? 0 : 2);

    /* A frame with a \u0000 escape, or a duplicate key, is parsed whole:
     * jansson refuses the first and keeps the last value of the second. */
    ck_assert_int_eq(
        feed(s, "[{\"id\":2,\"type\":\"event\",\"event\":{\"k\":\"\\u0000\"}}]", 6),
        HA_SESSION_OK);
    ck_assert_uint_eq(r.n_events, 3);
    ck_assert_uint_eq(r.n_invalid, 3);
    ck_assert_int_eq(feed(s,
                          "{\"id\":2,\"type\":\"event\",\"event\":{\"k\":1,\"k\":2}}",
                          7),
                     HA_SESSION_OK);
    ck_assert_uint_eq(r.n_events, 4);
    ck_assert_int_eq(json_integer_value(json_object_get(r.events[3], "k")), 2);
    ck_assert_uint_eq(r.n_text_offers, text_mode == TEXT_NONE ? 0 : 2);

    /* auth_invalid inside a frame of events ends the session there. */
    ck_assert_int_eq(feed(s,
                          "[{\"id\":2,\"type\":\"event\",\"event\":{}},"
                          "{\"type\":\"auth_invalid\",\"message\":\"gone\"},"
                          "{\"id\":2,\"type\":\"event\",\"event\":{}}]",
                          8),
                     HA_SESSION_AUTH_INVALID);
    ck_assert_uint_eq(r.n_events, 5);
    ck_assert_int_eq(ha_session_get_state(s), HA_SESS_IDLE);
    rec_free(&r);
    ha_session_free(s);
}
END_TEST

/* Frames at the edges of the fast path's own reading of arrays: each must
 * end in the same callbacks, in the same order, read either way. */
static const char *const edge_frames[] = {
    "[]",
    " [ ] ",
    "[{\"id\":2,\"type\":\"event\",\"event\":{\"a\":1}},]",
    "[{\"id\":2,\"type\":\"event\",\"event\":{\"a\":1}} {\"id\":2}]",
    "[{\"id\":2,\"type\":\"event\",\"event\":{\"a\":1}}] x",
    "[{\"id\":2,\"type\":\"event\",\"event\":{\"a\":1}}",
    "[,{\"id\":2,\"type\":\"event\",\"event\":{}}]",
    "[[{\"id\":2,\"type\":\"event\",\"event\":{}}]]",
    "[null,true,\"s\",1.5,[],{}]",
    "7",
    "\"text\"",
    "{\"id\":2,\"type\":\"event\",\"event\":{}} {}",
    "\t{\"id\":2,\"type\":\"event\",\"event\":{\"b\":[1,2]}}\r\n",
    "[{\"id\":2,\"type\":\"event\",\"event\":{}},{\"id\":-1,\"type\":\"event\",\"event\":{}},"
    "{\"id\":2.0,\"type\":\"event\",\"event\":{}},{\"id\":2,\"type\":\"pong\"},"
    "{\"id\":2,\"type\":\"event\"},{\"type\":\"event\",\"event\":{}}]",
    "[{\"id\":2,\"type\":\"event\",\"event\":{\"x\":\"\xff\"}}]",
};

/* Feeds every edge frame to a fresh session read the given way and returns
 * what it saw, as text. */
static char *edge_outcome(int mode)
{
    int saved = text_mode;
    text_mode = mode;
    rec r;
    ha_session *s = make(&r, NULL, 0);
    text_mode = saved;
    handshake(s, &r);
    for (size_t i = 0; i < sizeof edge_frames / sizeof edge_frames[0]; i++)
        ck_assert_int_eq(feed(s, edge_frames[i], 5), HA_SESSION_OK);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < r.n_events; i++) {
        char *e = json_dumps(r.events[i], JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        len += (size_t)snprintf(out + len, cap - len, "event %d %s\n", r.event_tags[i], e);
        free(e);
    }
    for (size_t i = 0; i < r.n_invalid; i++)
        len += (size_t)snprintf(out + len, cap - len, "invalid %s\n", r.invalid_reasons[i]);
    len += (size_t)snprintf(out + len, cap - len, "results %zu\n", r.n_results);
    ck_assert_uint_lt(len, cap);
    rec_free(&r);
    ha_session_free(s);
    return out;
}

START_TEST(test_edge_frames_alike)
{
    char *tree = edge_outcome(TEXT_NONE);
    char *text = edge_outcome(TEXT_TAKE);
    ck_assert_str_eq(text, tree);
    /* The frames give events and invalid elements both. */
    ck_assert_ptr_nonnull(strstr(tree, "event -2"));
    ck_assert_ptr_nonnull(strstr(tree, "invalid "));
    free(tree);
    free(text);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, test_handshake_and_subscribe);
    tcase_add_test(tc, test_all_events);
    tcase_add_test(tc, test_ids_restart_per_connection);
    tcase_add_test(tc, test_auth_invalid);
    tcase_add_test(tc, test_ping_pong_and_timeout);
    tcase_add_test(tc, test_auth_timeout);
    tcase_add_test(tc, test_send_failure_is_dead);
    tcase_add_test(tc, test_garbage_goes_to_invalid);
    tcase_add_test(tc, test_failed_subscription_stops_events);
    tcase_add_test(tc, test_owner_subscription_tag);
    tcase_add_test(tc, test_take_streamed_result);
    tcase_add_test(tc, test_mixed_frame);
    tcase_add_test(tc, test_edge_frames_alike);
}

static Suite *suite(void)
{
    Suite *s = suite_create("ha-session");
    static const struct {
        const char *name;
        void (*setup)(void);
    } modes[] = {{"tree", mode_none}, {"text", mode_take}, {"text-declined", mode_decline}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        TCase *tc = tcase_create(modes[i].name);
        tcase_add_unchecked_fixture(tc, modes[i].setup, NULL);
        add_tests(tc);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
