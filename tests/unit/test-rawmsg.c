/* test-rawmsg.c - unit tests for rawmsg: the raw message written from an
 * event's text must be the message the tree path (json_loadb as the frame
 * parser calls it, then hs_event_from_ha) builds, member for member, or
 * rawmsg must decline. Checked on hand-written events and on many byte-wise
 * mutations of them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rawmsg.h"
#include "test_scale.h"

/* 2026-11-21T22:48:38.123456+00:00 */
#define INGESTED_NS INT64_C(1795301318123456000)

static const hs_event_ctx ctx_full = {.site = "home",
                                      .area = "Living \"Room\"\n\xc3\xa9",
                                      .device = "Aqara\\TH",
                                      .ingested_at_ns = INGESTED_NS,
                                      .backfill = false};
static const hs_event_ctx ctx_bare = {.site = "site\x01",
                                      .area = NULL,
                                      .device = NULL,
                                      .ingested_at_ns = INGESTED_NS,
                                      .backfill = true};

/* Events rawmsg must take. */
static const char *const good[] = {
    /* As HA sends it. */
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.living_room_temperature\","
    "\"old_state\":{\"entity_id\":\"sensor.living_room_temperature\",\"state\":\"21.4\","
    "\"attributes\":{},\"last_changed\":\"2026-11-21T22:40:00+00:00\","
    "\"last_updated\":\"2026-11-21T22:40:00+00:00\"},"
    "\"new_state\":{\"entity_id\":\"sensor.living_room_temperature\",\"state\":\"21.5\","
    "\"attributes\":{\"unit_of_measurement\":\"\\u00b0C\",\"device_class\":\"temperature\","
    "\"friendly_name\":\"Living room\"},\"last_changed\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"last_updated\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"context\":{\"id\":\"01ABC\",\"parent_id\":null,\"user_id\":null}}},"
    "\"origin\":\"LOCAL\",\"time_fired\":\"2026-11-21T22:48:38.123456+00:00\","
    "\"context\":{\"id\":\"01ABC\",\"parent_id\":null,\"user_id\":null}}",
    /* Members in another order, whitespace, escapes, unicode, numbers. */
    " { \"context\" : {\"id\":\"x\\/y\"} , \"time_fired\":\"2026-01-01T00:00:00+00:00\",\n"
    "\"origin\":\"REMOTE\",\"data\":{\"new_state\":{\"state\":\"on\",\"attributes\":"
    "{\"a\":[1,2.5,-3e2,true,false,null,{\"b\":\"\\ud83d\\ude00\\t\"}],\"\xe2\x82\xac\":1e-7},"
    "\"last_updated\":\"2026-01-01T00:00:00.5+00:00\"},\"old_state\":null,"
    "\"entity_id\":\"light.k_1\"},\"event_type\":\"state_changed\"}\t",
    /* new_state null (entity removed), old_state missing, no origin. */
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"switch.a\",\"new_state\":null},"
    "\"time_fired\":\"2026-01-01T00:00:00+00:00\",\"context\":null}",
    /* Odd types where hs_event_from_ha writes null. */
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.x\",\"new_state\":"
    "{\"state\":\"1\",\"last_updated\":12}},\"origin\":5,\"time_fired\":[],"
    "\"context\":\"id\",\"extra\":{\"z\":1}}",
    /* A last_updated that does not parse, an escaped one, extra data. */
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.y\",\"new_state\":"
    "{\"last_updated\":\"yesterday\"},\"more\":1}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"sensor.y\",\"new_state\":"
    "{\"last_updated\":\"2026\\u002d01-01T00:00:00+00:00\"}}}",
};

/* Events rawmsg must decline (the tree path decides about them). */
static const char *const declined[] = {
    "",
    "[]",
    "{\"event_type\":\"call_service\",\"data\":{\"entity_id\":\"light.a\"}}",
    "{\"event_type\":\"state_changed\"}",
    "{\"event_type\":\"state_changed\",\"data\":[]}",
    "{\"event_type\":\"state_changed\",\"data\":{\"new_state\":null}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"light\\u002ea\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"Light.a\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"light.a.b\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\".a\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":7}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\",\"new_state\":1}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\",\"old_state\":\"x\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\",\"new_state\":"
    "{\"state\":\"a\\u0000b\"}}}",
    "{\"event_type\":\"state_changed\",\"event_type\":\"state_changed\","
    "\"data\":{\"entity_id\":\"a.b\"}}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\"}",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\"}} x",
    "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"a.b\",\"new_state\":"
    "{\"state\":\"\xc3\x28\"}}}",
};

/* The tree path's message for text, serialised, or NULL when it refuses. */
static char *tree_path(const char *text, size_t len, const hs_event_ctx *ctx)
{
    json_error_t e;
    json_t *ev = json_loadb(text, len, JSON_DECODE_ANY, &e);
    if (ev == NULL)
        return NULL;
    char err[256];
    json_t *msg = hs_event_from_ha(ev, ctx, err, sizeof err);
    json_decref(ev);
    if (msg == NULL)
        return NULL;
    char *out = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return out;
}

/* rawmsg's message for text, parsed and serialised as the tree path's is,
 * or NULL when rawmsg declines. Its own text must parse as one object. */
static char *fast_path(const char *text, size_t len, const hs_event_ctx *ctx,
                       rawmsg_buf *buf)
{
    rawmsg_event ev;
    if (rawmsg_scan(text, len, &ev) != 0)
        return NULL;
    ck_assert_int_eq(rawmsg_write(&ev, ctx, buf), 0);
    ck_assert_uint_eq(strlen(buf->p), buf->len);
    json_error_t e;
    json_t *msg = json_loadb(buf->p, buf->len, 0, &e);
    ck_assert_msg(msg != NULL, "rawmsg wrote invalid JSON (%s): %s", e.text, buf->p);
    char *out = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return out;
}

/* Both paths on text: rawmsg declines or agrees with the tree path. Returns
 * true when rawmsg took it. */
static bool compare(const char *text, size_t len, const hs_event_ctx *ctx, rawmsg_buf *buf)
{
    char *fast = fast_path(text, len, ctx, buf);
    if (fast == NULL)
        return false;
    char *tree = tree_path(text, len, ctx);
    ck_assert_msg(tree != NULL, "rawmsg took what the tree path refuses: %.*s", (int)len,
                  text);
    ck_assert_str_eq(fast, tree);
    free(fast);
    free(tree);
    return true;
}

START_TEST(test_good)
{
    rawmsg_buf buf = {0};
    const char *text = good[_i];
    ck_assert_msg(compare(text, strlen(text), &ctx_full, &buf), "declined: %s", text);
    ck_assert(compare(text, strlen(text), &ctx_bare, &buf));
    rawmsg_buf_fini(&buf);
}
END_TEST

START_TEST(test_declined)
{
    rawmsg_event ev;
    const char *text = declined[_i];
    ck_assert_msg(rawmsg_scan(text, strlen(text), &ev) == -1, "taken: %s", text);
}
END_TEST

START_TEST(test_fields)
{
    rawmsg_event ev;
    ck_assert_int_eq(rawmsg_scan(good[0], strlen(good[0]), &ev), 0);
    ck_assert_uint_eq(ev.entity_len, strlen("sensor.living_room_temperature"));
    ck_assert_str_eq(ev.entity_id, "sensor.living_room_temperature");
    ck_assert_uint_eq(ev.domain_len, 6);
    ck_assert(ev.has_time);
    ck_assert_int_eq(ev.time_ns, INGESTED_NS);

    ck_assert_int_eq(rawmsg_scan(good[2], strlen(good[2]), &ev), 0);
    ck_assert(!ev.has_time);
    ck_assert_int_eq(rawmsg_scan(good[4], strlen(good[4]), &ev), 0);
    ck_assert(!ev.has_time);
    ck_assert_int_eq(rawmsg_scan(good[5], strlen(good[5]), &ev), 0);
    ck_assert(ev.has_time);
}
END_TEST

/* An entity id is copied into the event only up to RAWMSG_ENTITY_MAX - 1
 * bytes; a longer one, however well formed, is left to the tree path. */
START_TEST(test_long_entity_id)
{
    static const size_t lens[] = {RAWMSG_ENTITY_MAX - 1, RAWMSG_ENTITY_MAX, 4000};
    rawmsg_buf buf = {0};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char entity[4001];
        memset(entity, 'a', lens[k]);
        entity[6] = '.';
        entity[lens[k]] = '\0';
        char text[4200];
        int n = snprintf(text, sizeof text,
                         "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"%s\","
                         "\"new_state\":{\"last_updated\":\"2026-01-01T00:00:00+00:00\"}}}",
                         entity);
        ck_assert_int_lt(n, (int)sizeof text);
        bool taken = compare(text, (size_t)n, &ctx_full, &buf);
        ck_assert_msg(taken == (lens[k] < RAWMSG_ENTITY_MAX), "entity id of %zu bytes",
                      lens[k]);
    }
    rawmsg_buf_fini(&buf);
}
END_TEST

/* A context string that is not UTF-8 is refused, as jansson refuses it. */
START_TEST(test_bad_context_string)
{
    rawmsg_event ev;
    rawmsg_buf buf = {0};
    ck_assert_int_eq(rawmsg_scan(good[0], strlen(good[0]), &ev), 0);
    hs_event_ctx ctx = ctx_full;
    ctx.area = "\xff";
    ck_assert_int_eq(rawmsg_write(&ev, &ctx, &buf), -1);
    ctx.area = NULL;
    ctx.site = NULL;
    ck_assert_int_eq(rawmsg_write(&ev, &ctx, &buf), -1);
    rawmsg_buf_fini(&buf);
}
END_TEST

/* Every one-byte change, deletion and insertion of a few interesting bytes
 * in the good events: rawmsg declines or agrees with the tree path. */
START_TEST(test_mutations)
{
    static const char bytes[] = {'"', '\\', '{', '}', '[', ']', ',', ':', '.', 'A', '0',
                                 'e', '-', ' ', '\0', '\x7f', '\xc3', '\x80', '\xff', 'u'};
    rawmsg_buf buf = {0};
    const char *orig = good[_i];
    size_t n = strlen(orig);
    char *text = malloc(n + 1);
    ck_assert_ptr_nonnull(text);
    unsigned taken = 0, tried = 0;
    for (size_t pos = test_first((size_t)_i); pos < n; pos += test_stride()) {
        for (size_t b = 0; b < sizeof bytes; b++) {
            memcpy(text, orig, n);
            text[pos] = bytes[b];
            taken += compare(text, n, &ctx_full, &buf);
            tried++;
        }
        /* Deleted. */
        memcpy(text, orig, pos);
        memcpy(text + pos, orig + pos + 1, n - pos - 1);
        taken += compare(text, n - 1, &ctx_full, &buf);
        /* Cut short. */
        taken += compare(orig, pos, &ctx_full, &buf);
        tried += 2;
    }
    /* Most changes (inside strings) still make a valid event. */
    ck_assert_uint_gt(taken, tried / 10);
    free(text);
    rawmsg_buf_fini(&buf);
}
END_TEST

static Suite *rawmsg_suite(void)
{
    Suite *s = suite_create("rawmsg");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_good, 0, sizeof good / sizeof good[0]);
    tcase_add_loop_test(tc, test_declined, 0, sizeof declined / sizeof declined[0]);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_bad_context_string);
    tcase_add_test(tc, test_long_entity_id);
    tcase_add_loop_test(tc, test_mutations, 0, sizeof good / sizeof good[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rawmsg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
