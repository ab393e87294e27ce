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
    ha_session_cbs c = {cb_send, cb_ready, cb_event, cb_result, cb_invalid, r};
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

static Suite *suite(void)
{
    Suite *s = suite_create("ha-session");
    TCase *tc = tcase_create("core");
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
    suite_add_tcase(s, tc);
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
