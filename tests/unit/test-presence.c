/* test-presence.c - the presence state machine: rule, changes, external source. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "presence.h"

/* One step: an event (entity_id, new_state JSON or "null"), whether the
 * snapshot must change, and the snapshot expected afterwards (NULL: not
 * checked). */
typedef struct {
    const char *entity_id;
    const char *new_state;
    int changed;
    const char *snapshot;
} step;

typedef struct {
    const char *name;
    step steps[8];
} scenario;

#define END                                                                              \
    {                                                                                    \
        NULL, NULL, 0, NULL                                                              \
    }
#define EMPTY "{\"anyone_home\":false,\"people_home\":0,\"people\":[]}"

static const scenario scenarios[] = {
    {"untracked entities change nothing",
     {{"sensor.t", "{\"state\":\"home\"}", 0, EMPTY},
      {"light.x", "null", 0, EMPTY},
      {"persons.x", "{\"state\":\"home\"}", 0, EMPTY},
      END}},
    {"a person arrives and leaves",
     {{"person.alice",
       "{\"state\":\"not_home\",\"attributes\":{\"friendly_name\":\"Alice\"}}", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":\"person."
       "alice\","
       "\"name\":\"Alice\",\"state\":\"not_home\",\"home\":false}]}"},
      {"person.alice",
       "{\"state\":\"home\",\"attributes\":{\"friendly_name\":\"Alice\"}}", 1,
       "{\"anyone_home\":true,\"people_home\":1,\"people\":[{\"entity_id\":\"person."
       "alice\","
       "\"name\":\"Alice\",\"state\":\"home\",\"home\":true}]}"},
      {"person.alice",
       "{\"state\":\"home\",\"attributes\":{\"friendly_name\":\"Alice\"}}", 0, NULL},
      {"person.alice",
       "{\"state\":\"work\",\"attributes\":{\"friendly_name\":\"Alice\"}}", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":\"person."
       "alice\","
       "\"name\":\"Alice\",\"state\":\"work\",\"home\":false}]}"},
      {"person.alice", "null", 1, EMPTY},
      {"person.alice", "null", 0, EMPTY},
      END}},
    {"trackers count only while no person is known",
     {{"device_tracker.phone", "{\"state\":\"home\"}", 1,
       "{\"anyone_home\":true,\"people_home\":1,\"people\":[{\"entity_id\":"
       "\"device_tracker.phone\",\"name\":\"phone\",\"state\":\"home\",\"home\":true}]}"},
      {"person.bob", "{\"state\":\"not_home\"}", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":\"person."
       "bob\","
       "\"name\":\"bob\",\"state\":\"not_home\",\"home\":false}]}"},
      {"device_tracker.phone", "{\"state\":\"not_home\"}", 0, NULL},
      {"person.bob", "null", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":"
       "\"device_tracker.phone\",\"name\":\"phone\",\"state\":\"not_home\",\"home\":"
       "false}]}"},
      END}},
    {"people are sorted and counted",
     {{"person.zoe", "{\"state\":\"home\"}", 1, NULL},
      {"person.adam", "{\"state\":\"home\"}", 1, NULL},
      {"person.mia", "{\"state\":\"unknown\"}", 1,
       "{\"anyone_home\":true,\"people_home\":2,\"people\":["
       "{\"entity_id\":\"person.adam\",\"name\":\"adam\",\"state\":\"home\",\"home\":"
       "true},"
       "{\"entity_id\":\"person.mia\",\"name\":\"mia\",\"state\":\"unknown\",\"home\":"
       "false},"
       "{\"entity_id\":\"person.zoe\",\"name\":\"zoe\",\"state\":\"home\",\"home\":true}]"
       "}"},
      END}},
    {"a renamed person is a change; a missing state is unknown",
     {{"person.a", "{\"state\":\"home\",\"attributes\":{\"friendly_name\":\"A\"}}", 1,
       NULL},
      {"person.a", "{\"state\":\"home\",\"attributes\":{\"friendly_name\":\"Ann\"}}", 1,
       NULL},
      {"person.a", "{\"attributes\":{}}", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":\"person.a\","
       "\"name\":\"a\",\"state\":\"unknown\",\"home\":false}]}"},
      END}},
    {"HOME is not home",
     {{"person.a", "{\"state\":\"HOME\"}", 1,
       "{\"anyone_home\":false,\"people_home\":0,\"people\":[{\"entity_id\":\"person.a\","
       "\"name\":\"a\",\"state\":\"HOME\",\"home\":false}]}"},
      END}},
};

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s: %s", e.text, text);
    return j;
}

static void assert_snapshot(presence *p, const char *expect, const char *what)
{
    json_t *snap = presence_snapshot(p);
    json_t *e = load(expect);
    char *g = json_dumps(snap, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(snap, e), "%s: snapshot %s", what, g);
    free(g);
    json_decref(e);
    json_decref(snap);
}

START_TEST(test_scenario)
{
    const scenario *sc = &scenarios[_i];
    presence *p = presence_new();
    ck_assert_ptr_nonnull(p);
    assert_snapshot(p, EMPTY, sc->name);
    for (const step *s = sc->steps; s->entity_id; s++) {
        json_t *ns = load(s->new_state);
        json_t *before = presence_snapshot(p);
        int rc = presence_update(p, s->entity_id, ns);
        ck_assert_msg(rc == s->changed, "%s: %s -> %d", sc->name, s->entity_id, rc);
        json_t *after = presence_snapshot(p);
        /* An unchanged snapshot is the very same object. */
        ck_assert_msg((rc == 0) == (before == after), "%s: identity", sc->name);
        json_decref(before);
        json_decref(after);
        if (s->snapshot)
            assert_snapshot(p, s->snapshot, sc->name);
        json_decref(ns);
    }
    presence_free(p);
}
END_TEST

START_TEST(test_is_tracked)
{
    ck_assert(presence_is_tracked("person.a"));
    ck_assert(presence_is_tracked("device_tracker.a"));
    ck_assert(!presence_is_tracked("sensor.person"));
    ck_assert(!presence_is_tracked("person"));
    ck_assert(!presence_is_tracked(NULL));
}
END_TEST

typedef struct {
    const char *doc;
    int rc;
    const char *snapshot;
} external_case;

static const external_case external_cases[] = {
    {"[{\"name\":\"Alice\",\"home\":true}]", 1,
     "{\"anyone_home\":true,\"people_home\":2,\"people\":["
     "{\"entity_id\":\"external.Alice\",\"name\":\"Alice\",\"state\":\"home\",\"home\":"
     "true},"
     "{\"entity_id\":\"person.bob\",\"name\":\"bob\",\"state\":\"home\",\"home\":true}]"
     "}"},
    {"{\"people\":[{\"name\":\"Alice\",\"id\":\"a1\",\"home\":false,\"state\":\"office\"}"
     "]}",
     1,
     "{\"anyone_home\":true,\"people_home\":1,\"people\":["
     "{\"entity_id\":\"external.a1\",\"name\":\"Alice\",\"state\":\"office\",\"home\":"
     "false},"
     "{\"entity_id\":\"person.bob\",\"name\":\"bob\",\"state\":\"home\",\"home\":true}]"
     "}"},
    {"{\"people\":[{\"name\":\"C\",\"home\":true,\"state\":\"not_home\"}]}", 1,
     "{\"anyone_home\":true,\"people_home\":2,\"people\":["
     "{\"entity_id\":\"external.C\",\"name\":\"C\",\"state\":\"home\",\"home\":true},"
     "{\"entity_id\":\"person.bob\",\"name\":\"bob\",\"state\":\"home\",\"home\":true}]"
     "}"},
    {"[]", 0,
     "{\"anyone_home\":true,\"people_home\":1,\"people\":["
     "{\"entity_id\":\"person.bob\",\"name\":\"bob\",\"state\":\"home\",\"home\":true}]"
     "}"},
    {"{\"people\":{}}", -1, NULL},
    {"[{\"name\":\"A\",\"home\":\"yes\"}]", -1, NULL},
    {"[{\"name\":\"\",\"home\":true}]", -1, NULL},
    {"[{\"home\":true}]", -1, NULL},
    {"[{\"name\":\"A\",\"home\":true,\"id\":3}]", -1, NULL},
    {"\"home\"", -1, NULL},
};

START_TEST(test_external)
{
    const external_case *c = &external_cases[_i];
    presence *p = presence_new();
    json_t *bob = load("{\"state\":\"home\"}");
    ck_assert_int_eq(presence_update(p, "person.bob", bob), 1);
    json_t *before = presence_snapshot(p);
    json_t *doc = load(c->doc);
    char err[256] = "";
    int rc = presence_set_external(p, doc, err, sizeof err);
    ck_assert_msg(rc == c->rc, "%s: rc %d (%s)", c->doc, rc, err);
    if (rc < 0) {
        ck_assert(err[0] != '\0');
        json_t *after = presence_snapshot(p);
        ck_assert_ptr_eq(before, after);
        json_decref(after);
    } else {
        assert_snapshot(p, c->snapshot, c->doc);
        /* The same document again is no change. */
        ck_assert_int_eq(presence_set_external(p, doc, err, sizeof err), 0);
    }
    json_decref(doc);
    json_decref(before);
    json_decref(bob);
    presence_free(p);
}
END_TEST

START_TEST(test_external_replaced)
{
    presence *p = presence_new();
    char err[128];
    json_t *a = load("[{\"name\":\"A\",\"home\":true},{\"name\":\"B\",\"home\":true}]");
    json_t *b = load("[{\"name\":\"B\",\"home\":true}]");
    ck_assert_int_eq(presence_set_external(p, a, err, sizeof err), 1);
    ck_assert_int_eq(presence_set_external(p, b, err, sizeof err), 1);
    assert_snapshot(p,
                    "{\"anyone_home\":true,\"people_home\":1,\"people\":[{\"entity_id\":"
                    "\"external.B\",\"name\":\"B\",\"state\":\"home\",\"home\":true}]}",
                    "replaced");
    json_decref(a);
    json_decref(b);
    presence_free(p);
}
END_TEST

START_TEST(test_restore_round_trip)
{
    presence *a = presence_new();
    json_t *home =
        load("{\"state\":\"home\",\"attributes\":{\"friendly_name\":\"Zoe\"}}");
    json_t *away = load("{\"state\":\"work\"}");
    json_t *ext = load("[{\"name\":\"Guest\",\"home\":true}]");
    char err[128];
    ck_assert_int_eq(presence_update(a, "person.zoe", home), 1);
    ck_assert_int_eq(presence_update(a, "person.max", away), 1);
    ck_assert_int_eq(presence_update(a, "device_tracker.phone", home), 0);
    ck_assert_int_eq(presence_set_external(a, ext, err, sizeof err), 1);
    json_t *saved = presence_snapshot(a);
    char *text = json_dumps(saved, 0);
    json_t *reloaded = load(text);

    presence *b = presence_new();
    /* The tracker is not in the saved view (persons hide it), so 3 entries. */
    ck_assert_int_eq(presence_restore(b, reloaded, err, sizeof err), 3);
    json_t *restored = presence_snapshot(b);
    ck_assert(json_equal(saved, restored));
    /* Restored entries behave like live ones. */
    ck_assert_int_eq(presence_update(b, "person.zoe", away), 1);
    ck_assert_int_eq(presence_update(b, "person.max", away), 0);

    free(text);
    json_decref(restored);
    json_decref(reloaded);
    json_decref(saved);
    json_decref(home);
    json_decref(away);
    json_decref(ext);
    presence_free(a);
    presence_free(b);
}
END_TEST

typedef struct {
    const char *doc;
    int rc;
} restore_case;

static const restore_case restore_cases[] = {
    {"{\"people\":[]}", 0},
    {"{\"people\":[{\"entity_id\":\"sensor.x\",\"name\":\"x\",\"state\":\"home\"}]}", 0},
    {"{\"people\":[{\"entity_id\":\"person.\",\"name\":\"x\",\"state\":\"home\"}]}", 0},
    {"{\"people\":[{\"entity_id\":\"person.a\",\"name\":1,\"state\":\"home\"}]}", 0},
    {"{\"people\":[{\"entity_id\":\"person.a\",\"name\":\"A\",\"state\":\"home\"},"
     "{\"entity_id\":\"external.b\",\"name\":\"B\",\"state\":\"not_home\"}]}",
     2},
    {"{\"people\":{}}", -1},
    {"{}", -1},
    {"[]", -1},
};

START_TEST(test_restore_shapes)
{
    const restore_case *c = &restore_cases[_i];
    presence *p = presence_new();
    json_t *doc = load(c->doc);
    char err[128] = "";
    int rc = presence_restore(p, doc, err, sizeof err);
    ck_assert_msg(rc == c->rc, "%s: %d (%s)", c->doc, rc, err);
    if (rc < 0)
        ck_assert(err[0] != '\0');
    json_decref(doc);
    presence_free(p);
}
END_TEST

static Suite *presence_suite(void)
{
    Suite *s = suite_create("presence");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_scenario, 0, sizeof scenarios / sizeof scenarios[0]);
    tcase_add_test(tc, test_is_tracked);
    tcase_add_loop_test(tc, test_external, 0,
                        sizeof external_cases / sizeof external_cases[0]);
    tcase_add_test(tc, test_external_replaced);
    tcase_add_test(tc, test_restore_round_trip);
    tcase_add_loop_test(tc, test_restore_shapes, 0,
                        sizeof restore_cases / sizeof restore_cases[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(presence_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    presence_free(NULL);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
