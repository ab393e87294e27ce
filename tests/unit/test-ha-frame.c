/* test-ha-frame.c - ha_proto: parsing server frames and building messages. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ha_proto.h"

static int parse(ha_frame *f, const char *text)
{
    char err[256];
    return ha_frame_parse(f, text, strlen(text), err, sizeof(err));
}

/* Table: one frame holding one object and the type it must come out as. */
static const struct {
    const char *frame;
    ha_msg_type type;
    int64_t id;
} single_cases[] = {
    {"{\"type\":\"auth_required\",\"ha_version\":\"2024.1.0\"}", HA_MSG_AUTH_REQUIRED,
     -1},
    {"{\"type\":\"auth_ok\",\"ha_version\":\"2024.1.0\"}", HA_MSG_AUTH_OK, -1},
    {"{\"type\":\"auth_invalid\",\"message\":\"Invalid password\"}", HA_MSG_AUTH_INVALID,
     -1},
    {"{\"id\":3,\"type\":\"result\",\"success\":true,\"result\":null}", HA_MSG_RESULT, 3},
    {"{\"id\":4,\"type\":\"pong\"}", HA_MSG_PONG, 4},
    {"{\"id\":2,\"type\":\"event\",\"event\":{\"event_type\":\"x\"}}", HA_MSG_EVENT, 2},
    {"{\"id\":2,\"type\":\"bogus\"}", HA_MSG_INVALID, 2},
    {"{\"type\":5}", HA_MSG_INVALID, -1},
    {"{\"id\":\"7\",\"type\":\"pong\"}", HA_MSG_INVALID, -1},
    {"{\"id\":-1,\"type\":\"pong\"}", HA_MSG_INVALID, -1},
    {"{\"type\":\"pong\"}", HA_MSG_INVALID, -1},
    {"{\"type\":\"result\",\"success\":true}", HA_MSG_INVALID, -1},
    {"{\"id\":1,\"type\":\"result\"}", HA_MSG_INVALID, 1},
    {"{\"id\":1,\"type\":\"event\"}", HA_MSG_INVALID, 1},
};

START_TEST(test_single_types)
{
    ha_frame f;
    ck_assert_int_eq(parse(&f, single_cases[_i].frame), 0);
    ck_assert_uint_eq(f.n, 1);
    ck_assert_msg(f.msgs[0].type == single_cases[_i].type, "%s: got %s",
                  single_cases[_i].frame, ha_msg_type_name(f.msgs[0].type));
    ck_assert_int_eq(f.msgs[0].id, single_cases[_i].id);
    if (f.msgs[0].type == HA_MSG_INVALID)
        ck_assert_ptr_nonnull(f.msgs[0].invalid_reason);
    ha_frame_fini(&f);
}
END_TEST

START_TEST(test_fields)
{
    ha_frame f;
    ck_assert_int_eq(parse(&f, "{\"type\":\"auth_ok\",\"ha_version\":\"2024.1.0\"}"), 0);
    ck_assert_str_eq(f.msgs[0].ha_version, "2024.1.0");
    ha_frame_fini(&f);

    ck_assert_int_eq(
        parse(&f, "{\"type\":\"auth_invalid\",\"message\":\"Invalid password\"}"), 0);
    ck_assert_str_eq(f.msgs[0].message, "Invalid password");
    ha_frame_fini(&f);

    ck_assert_int_eq(parse(&f,
                           "{\"id\":9,\"type\":\"result\",\"success\":false,"
                           "\"error\":{\"code\":\"unauthorized\",\"message\":\"no\"}}"),
                     0);
    ck_assert(!f.msgs[0].success);
    ck_assert_str_eq(f.msgs[0].error_code, "unauthorized");
    ck_assert_str_eq(f.msgs[0].message, "no");
    ha_frame_fini(&f);

    ck_assert_int_eq(parse(&f, "{\"id\":9,\"type\":\"result\",\"success\":true,"
                               "\"result\":[1,2]}"),
                     0);
    ck_assert(f.msgs[0].success);
    ck_assert_uint_eq(json_array_size(f.msgs[0].result), 2);
    ha_frame_fini(&f);

    ck_assert_int_eq(parse(&f, "{\"id\":2,\"type\":\"event\",\"event\":{\"event_type\":"
                               "\"state_changed\",\"data\":{}}}"),
                     0);
    ck_assert_str_eq(json_string_value(json_object_get(f.msgs[0].event, "event_type")),
                     "state_changed");
    ha_frame_fini(&f);
}
END_TEST

START_TEST(test_coalesced_array)
{
    ha_frame f;
    ck_assert_int_eq(parse(&f, "[{\"id\":2,\"type\":\"event\",\"event\":{\"a\":1}},"
                               "{\"id\":5,\"type\":\"pong\"},"
                               "42,"
                               "{\"id\":6,\"type\":\"result\",\"success\":true}]"),
                     0);
    ck_assert_uint_eq(f.n, 4);
    ck_assert_int_eq(f.msgs[0].type, HA_MSG_EVENT);
    ck_assert_int_eq(f.msgs[1].type, HA_MSG_PONG);
    ck_assert_int_eq(f.msgs[2].type, HA_MSG_INVALID);
    ck_assert_int_eq(json_integer_value(f.msgs[2].obj), 42);
    ck_assert_int_eq(f.msgs[3].type, HA_MSG_RESULT);
    ck_assert_ptr_null(f.msgs[3].result);
    ha_frame_fini(&f);

    ck_assert_int_eq(parse(&f, "[]"), 0);
    ck_assert_uint_eq(f.n, 0);
    ha_frame_fini(&f);
}
END_TEST

static const char *const garbage[] = {
    "",
    "   ",
    "{",
    "not json",
    "\"a string\"",
    "42",
    "null",
    "true",
    "{\"type\":\"pong\",\"id\":1}trailing",
    "[{\"type\":\"pong\"},",
    "{\"a\":\"\\u0000\"}",
};

START_TEST(test_garbage)
{
    ha_frame f;
    char err[256] = "";
    const char *g = garbage[_i];
    ck_assert_int_eq(ha_frame_parse(&f, g, strlen(g), err, sizeof(err)), -1);
    ck_assert_msg(err[0] != '\0', "no reason for %s", g);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_ptr_null(f.root);
    ha_frame_fini(&f);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
    /* The parser must respect len: bytes after it are not part of the frame. */
    const char buf[] = "{\"id\":1,\"type\":\"pong\"}GARBAGE";
    ha_frame f;
    char err[128];
    ck_assert_int_eq(ha_frame_parse(&f, buf, 22, err, sizeof(err)), 0);
    ck_assert_int_eq(f.msgs[0].type, HA_MSG_PONG);
    ha_frame_fini(&f);
}
END_TEST

START_TEST(test_huge_frame)
{
    /* A coalesced frame of 5000 events with a large attribute, several MB. */
    const size_t n = 5000;
    size_t cap = n * 1200 + 16;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = '\0';
    size_t len = 0;
    buf[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        len +=
            (size_t)snprintf(buf + len, cap - len,
                             "%s{\"id\":2,\"type\":\"event\",\"event\":{\"event_type\":"
                             "\"state_changed\",\"data\":{\"n\":%zu,\"pad\":\"%s\"}}}",
                             i ? "," : "", i, pad);
    }
    buf[len++] = ']';
    ck_assert_uint_gt(len, 5u * 1000 * 1000);
    ha_frame f;
    char err[128];
    ck_assert_int_eq(ha_frame_parse(&f, buf, len, err, sizeof(err)), 0);
    ck_assert_uint_eq(f.n, n);
    ck_assert_int_eq(f.msgs[n - 1].type, HA_MSG_EVENT);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(f.msgs[n - 1].event, "data"), "n")),
                     (json_int_t)(n - 1));
    ha_frame_fini(&f);
    free(buf);
}
END_TEST

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "builder produced invalid JSON: %s", text);
    return j;
}

START_TEST(test_builders)
{
    char *t = ha_proto_auth("sec\"ret");
    json_t *j = load(t);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "auth");
    ck_assert_str_eq(json_string_value(json_object_get(j, "access_token")), "sec\"ret");
    ck_assert_ptr_null(json_object_get(j, "id"));
    json_decref(j);
    free(t);

    t = ha_proto_supported_features(1);
    j = load(t);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "supported_features");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "features"),
                                                        "coalesce_messages")),
                     1);
    json_decref(j);
    free(t);

    t = ha_proto_subscribe_events(2, "state_changed");
    j = load(t);
    ck_assert_str_eq(json_string_value(json_object_get(j, "event_type")),
                     "state_changed");
    json_decref(j);
    free(t);

    t = ha_proto_subscribe_events(3, NULL);
    j = load(t);
    ck_assert_ptr_null(json_object_get(j, "event_type"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "subscribe_events");
    json_decref(j);
    free(t);

    t = ha_proto_ping(12);
    j = load(t);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 12);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "ping");
    json_decref(j);
    free(t);

    json_t *fields = json_pack("{s:s, s:s}", "type", "overridden", "x", "y");
    t = ha_proto_command(7, "get_states", fields);
    j = load(t);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "get_states");
    ck_assert_str_eq(json_string_value(json_object_get(j, "x")), "y");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 7);
    json_decref(j);
    json_decref(fields);
    free(t);

    json_t *ids = json_pack("[s]", "sensor.a");
    t = ha_proto_history(8, "2026-11-21T22:00:00.000000+00:00", NULL, ids);
    j = load(t);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
                     "history/history_during_period");
    ck_assert(json_is_false(json_object_get(j, "significant_changes_only")));
    ck_assert(json_is_false(json_object_get(j, "include_start_time_state")));
    ck_assert(json_is_false(json_object_get(j, "minimal_response")));
    ck_assert(json_is_false(json_object_get(j, "no_attributes")));
    ck_assert_ptr_null(json_object_get(j, "end_time"));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "entity_ids")), 1);
    json_decref(j);
    json_decref(ids);
    free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ha-frame");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_single_types, 0,
                        (int)(sizeof(single_cases) / sizeof(single_cases[0])));
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_coalesced_array);
    tcase_add_loop_test(tc, test_garbage, 0, (int)(sizeof(garbage) / sizeof(garbage[0])));
    tcase_add_test(tc, test_not_nul_terminated);
    tcase_add_test(tc, test_huge_frame);
    tcase_add_test(tc, test_builders);
    tcase_set_timeout(tc, 60);
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
