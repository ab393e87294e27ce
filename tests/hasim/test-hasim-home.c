/* test-hasim-home.c - Check suite for the generated home: determinism, HA's
 * timestamp rules, hostile content and JSON shapes. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "hs_time.h"
#include "home.h"

#define NOW INT64_C(1795304000000000)

static home *make(uint64_t seed, int entities, int late)
{
    char err[128];
    home_opts o = {
        .seed = seed, .entities = entities, .late_entities = late, .large_kb = 0};
    home *h = home_new(&o, NOW, err, sizeof err);
    ck_assert_msg(h != NULL, "home_new: %s", err);
    return h;
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    ck_assert_msg(v != NULL, "invalid JSON (%s): %.200s", err.text, text);
    return v;
}

static int64_t iso(const json_t *v)
{
    int64_t ns;
    ck_assert_int_eq(hs_time_parse_iso(json_string_value(v), &ns), 0);
    return ns / 1000;
}

START_TEST(test_deterministic)
{
    home *a = make(42, 40, -1), *b = make(42, 40, -1), *c = make(43, 40, -1);
    bool differs = false;
    for (int i = 0; i < 2000; i++) {
        home_change ca, cb, cc;
        ck_assert_int_eq(home_step(a, NOW + i * 100, &ca), 0);
        ck_assert_int_eq(home_step(b, NOW + i * 100, &cb), 0);
        ck_assert_int_eq(home_step(c, NOW + i * 100, &cc), 0);
        ck_assert_str_eq(ca.event->data, cb.event->data);
        if (strcmp(ca.event->data, cc.event->data) != 0)
            differs = true;
        rstr_unref(ca.event);
        rstr_unref(cb.event);
        rstr_unref(cc.event);
        rstr_unref(ca.registry_event);
        rstr_unref(cb.registry_event);
        rstr_unref(cc.registry_event);
    }
    ck_assert(differs);
    home_free(a);
    home_free(b);
    home_free(c);
}
END_TEST

/* Walks many events with a clock that stalls and goes backwards, checking
 * HA's rules on every one. */
START_TEST(test_event_rules)
{
    home *h = make(7, 40, -1);
    int n = home_count(h);
    json_t **last = calloc((size_t)n, sizeof *last);
    ck_assert_ptr_nonnull(last);
    /* The states set at start are the old_state of each entity's first event. */
    jbuf b;
    jbuf_init(&b, 0);
    home_states_json(h, &b);
    json_t *states = parse(b.data);
    size_t k;
    json_t *st0;
    json_array_foreach(states, k, st0)
    {
        int idx = home_find(h, json_string_value(json_object_get(st0, "entity_id")));
        ck_assert_int_ge(idx, 0);
        last[idx] = json_incref(st0);
    }
    json_decref(states);
    jbuf_fini(&b);
    int64_t prev_lu = 0;
    int unavailable = 0, unknown = 0, attr_only = 0, with_user = 0, new_entities = 0;
    int whole_seconds = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t clock = NOW + (i % 3 == 0 ? -5000 : i * 100); /* jumps back */
        home_change ch;
        ck_assert_int_eq(home_step(h, clock, &ch), 0);
        json_t *ev = parse(ch.event->data);
        json_t *data = json_object_get(ev, "data");
        json_t *ns = json_object_get(data, "new_state");
        json_t *os = json_object_get(data, "old_state");
        ck_assert_str_eq(json_string_value(json_object_get(ev, "event_type")),
                         "state_changed");
        ck_assert_str_eq(json_string_value(json_object_get(ev, "time_fired")),
                         json_string_value(json_object_get(ns, "last_updated")));
        ck_assert(
            json_equal(json_object_get(ev, "context"), json_object_get(ns, "context")));
        int64_t lu = iso(json_object_get(ns, "last_updated"));
        if (lu % 1000000 == 0) {
            /* isoformat() without a fraction */
            ck_assert_ptr_null(
                strchr(json_string_value(json_object_get(ev, "time_fired")), '.'));
            whole_seconds++;
        }
        int64_t lc = iso(json_object_get(ns, "last_changed"));
        ck_assert_int_gt(lu, prev_lu);
        prev_lu = lu;
        const char *st = json_string_value(json_object_get(ns, "state"));
        ck_assert_ptr_nonnull(st);
        ck_assert_int_le((int)json_string_length(json_object_get(ns, "state")), 1024);
        if (last[ch.entity] == NULL) {
            ck_assert(json_is_null(os));
            ck_assert_ptr_nonnull(ch.registry_event);
            new_entities++;
        } else {
            ck_assert(json_equal(os, last[ch.entity]));
            const char *old = json_string_value(json_object_get(os, "state"));
            if (strcmp(old, st) == 0) {
                ck_assert_int_eq(lc, iso(json_object_get(os, "last_changed")));
                ck_assert(!json_equal(json_object_get(os, "attributes"),
                                      json_object_get(ns, "attributes")));
                attr_only++;
            } else {
                ck_assert_int_eq(lc, lu);
            }
        }
        if (strcmp(st, "unavailable") == 0)
            unavailable++;
        if (strcmp(st, "unknown") == 0)
            unknown++;
        if (!json_is_null(json_object_get(json_object_get(ns, "context"), "user_id")))
            with_user++;
        json_decref(last[ch.entity]);
        last[ch.entity] = json_incref(ns);
        json_decref(ev);
        rstr_unref(ch.event);
        rstr_unref(ch.registry_event);
        /* The recorder's view matches the event. */
        home_state hs;
        home_get(h, ch.entity, &hs);
        ck_assert_int_eq(hs.last_updated_us, lu);
        ck_assert_int_eq(hs.last_changed_us, lc);
    }
    ck_assert_int_gt(unavailable, 50);
    ck_assert_int_gt(unknown, 10);
    ck_assert_int_gt(attr_only, 100);
    ck_assert_int_gt(with_user, 10);
    ck_assert_int_gt(whole_seconds, 0);
    /* Late entities appear during the stream; the others were set at start
     * and got their first event with an old_state already. */
    ck_assert_int_eq(new_entities, 4);
    for (int i = 0; i < n; i++)
        json_decref(last[i]);
    free(last);
    home_free(h);
}
END_TEST

/* Unicode code points in a UTF-8 string. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

START_TEST(test_hostile_content)
{
    home *h = make(1, 40, 0);
    const char *needles[] = {"\"", "'",  ",", " ", "=",    "\\",
                             "\n", "\t", "#", "é", "日本", "🎉"};
    bool in_state[12] = {false}, in_attr[12] = {false};
    bool trailing_backslash = false, max_len = false;
    size_t longest_attr = 0;
    for (int i = 0; i < 20000; i++) {
        home_change ch;
        ck_assert_int_eq(home_step(h, NOW + i, &ch), 0);
        home_state hs;
        home_get(h, ch.entity, &hs);
        ck_assert_uint_le(chars(hs.state->data), 255);
        if (chars(hs.state->data) == 255)
            max_len = true;
        if (hs.state->len > 0 && hs.state->data[hs.state->len - 1] == '\\')
            trailing_backslash = true;
        json_t *attrs = parse(hs.attrs->data);
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v)
        {
            if (!json_is_string(v))
                continue;
            if (json_string_length(v) > longest_attr)
                longest_attr = json_string_length(v);
            for (int j = 0; j < 12; j++)
                if (strstr(json_string_value(v), needles[j]) != NULL)
                    in_attr[j] = true;
        }
        json_decref(attrs);
        for (int j = 0; j < 12; j++)
            if (strstr(hs.state->data, needles[j]) != NULL)
                in_state[j] = true;
        rstr_unref(ch.event);
        rstr_unref(ch.registry_event);
    }
    for (int j = 0; j < 12; j++) {
        ck_assert_msg(in_state[j], "no state contains %s", needles[j]);
        ck_assert_msg(in_attr[j], "no attribute contains %s", needles[j]);
    }
    ck_assert(trailing_backslash);
    ck_assert(max_len);
    ck_assert_uint_gt(longest_attr, 2000);

    jbuf b;
    jbuf_init(&b, 0);
    home_areas_json(h, &b);
    json_t *areas = parse(b.data);
    bool hostile_area = false;
    size_t i;
    json_t *a;
    json_array_foreach(areas, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        if (strchr(name, '"') && strchr(name, '\\') && strchr(name, ',') &&
            name[0] == ' ')
            hostile_area = true;
    }
    ck_assert(hostile_area);
    json_decref(areas);
    jbuf_fini(&b);
    home_free(h);
}
END_TEST

START_TEST(test_payload_shapes)
{
    char err[128];
    home_opts o = {.seed = 3, .entities = 25, .late_entities = -1, .large_kb = 64};
    home *h = home_new(&o, NOW, err, sizeof err);
    ck_assert_ptr_nonnull(h);
    jbuf b;
    jbuf_init(&b, 0);

    home_states_json(h, &b);
    json_t *states = parse(b.data);
    /* 25 entities, 2 of them late, plus the large one. */
    ck_assert_uint_eq(json_array_size(states), 24);
    size_t i;
    json_t *st;
    bool large = false;
    json_array_foreach(states, i, st)
    {
        const char *id = json_string_value(json_object_get(st, "entity_id"));
        ck_assert(home_valid_entity_id(id));
        ck_assert(json_is_object(json_object_get(st, "attributes")));
        ck_assert(json_is_string(json_object_get(st, "last_reported")));
        ck_assert_ptr_nonnull(
            json_object_get(json_object_get(st, "context"), "parent_id"));
        if (strcmp(id, "sensor.hasim_large_attributes") == 0) {
            large = true;
            char *t = json_dumps(json_object_get(st, "attributes"), JSON_COMPACT);
            ck_assert_uint_ge(strlen(t), 64 * 1024);
            free(t);
        }
    }
    ck_assert(large);
    json_decref(states);
    jbuf_reset(&b);

    home_entities_json(h, &b);
    json_t *ents = parse(b.data);
    int own_area = 0, device_only = 0, none = 0;
    json_array_foreach(ents, i, st)
    {
        ck_assert(json_is_string(json_object_get(st, "platform")));
        bool area = json_is_string(json_object_get(st, "area_id"));
        bool dev = json_is_string(json_object_get(st, "device_id"));
        own_area += area;
        device_only += !area && dev;
        none += !area && !dev;
    }
    ck_assert_int_gt(own_area, 0);
    ck_assert_int_gt(device_only, 0);
    ck_assert_int_gt(none, 0);
    json_decref(ents);
    jbuf_reset(&b);

    home_devices_json(h, &b);
    json_t *devs = parse(b.data);
    ck_assert_uint_gt(json_array_size(devs), 5);
    json_decref(devs);
    jbuf_reset(&b);

    home_config_json(h, &b);
    json_t *cfg = parse(b.data);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "version")),
                     HASIM_HA_VERSION);
    json_decref(cfg);
    jbuf_fini(&b);
    home_free(h);
}
END_TEST

static const struct {
    const char *id;
    bool valid;
} entity_ids[] = {
    {"sensor.living_room", true}, {"light.x1", true},   {"sensor", false},
    {"sensor.", false},           {".x", false},        {"Sensor.x", false},
    {"sensor.x_", false},         {"sensor._x", false}, {"sen__sor.x", false},
    {"sensor.a__b", false},       {"a.b.c", false},     {"sensor.é", false},
};

START_TEST(test_valid_entity_id)
{
    ck_assert_int_eq(home_valid_entity_id(entity_ids[_i].id), entity_ids[_i].valid);
}
END_TEST

static Suite *home_suite(void)
{
    Suite *s = suite_create("hasim-home");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_event_rules);
    tcase_add_test(tc, test_hostile_content);
    tcase_add_test(tc, test_payload_shapes);
    tcase_add_loop_test(tc, test_valid_entity_id, 0,
                        (int)(sizeof entity_ids / sizeof entity_ids[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(home_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
