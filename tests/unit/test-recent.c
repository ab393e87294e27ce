/* test-recent.c - unit tests for hs_recent: the ring of recent events. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_recent.h"

/* Pushes event number n for entity, as {"n": n}; the ring keeps its own
 * reference, this function drops the caller's. */
static void push(hs_recent *r, const char *entity, int n)
{
    json_t *ev = json_pack("{s:i}", "n", n);
    hs_recent_push(r, entity, ev);
    json_decref(ev);
}

/* Checks that list holds the events numbered want[0..count), in order. */
static void expect_list(json_t *list, const int *want, size_t count)
{
    ck_assert_ptr_nonnull(list);
    ck_assert_msg(json_array_size(list) == count, "got %zu events, want %zu",
                  json_array_size(list), count);
    for (size_t i = 0; i < count; i++) {
        json_int_t n = json_integer_value(json_object_get(json_array_get(list, i), "n"));
        ck_assert_msg(n == want[i], "event %zu is %lld, want %d", i, (long long)n,
                      want[i]);
    }
    json_decref(list);
}

/* Capacity 4, events 1..pushed for entities a, b, a, b, ...; then a listing
 * with limit and filter gives these, newest first. */
static const struct {
    int pushed;
    int limit;
    const char *entity;
    int want[4];
    size_t count;
} cases[] = {
    {0, 10, NULL, {0}, 0},
    {2, 10, NULL, {2, 1}, 2},
    {4, 10, NULL, {4, 3, 2, 1}, 4},
    {5, 10, NULL, {5, 4, 3, 2}, 4},    /* wrapped once */
    {11, 10, NULL, {11, 10, 9, 8}, 4}, /* wrapped several times */
    {11, 2, NULL, {11, 10}, 2},
    {11, 1, NULL, {11}, 1},
    {11, 0, NULL, {11, 10, 9, 8}, 4}, /* no limit */
    {11, -3, NULL, {11, 10, 9, 8}, 4},
    {11, 10, "sensor.a", {11, 9}, 2},
    {11, 10, "sensor.b", {10, 8}, 2},
    {11, 1, "sensor.b", {10}, 1},
    {11, 10, "sensor.c", {0}, 0},
    {1, 10, "sensor.b", {0}, 0},
};

START_TEST(test_list)
{
    hs_recent *r = hs_recent_new(4);
    ck_assert_ptr_nonnull(r);
    for (int n = 1; n <= cases[_i].pushed; n++)
        push(r, n % 2 ? "sensor.a" : "sensor.b", n);
    expect_list(hs_recent_list(r, cases[_i].limit, cases[_i].entity), cases[_i].want,
                cases[_i].count);
    hs_recent_free(r);
}
END_TEST

START_TEST(test_no_entity)
{
    hs_recent *r = hs_recent_new(3);
    push(r, NULL, 1);
    push(r, "weather.home", 2);
    static const int all[] = {2, 1};
    expect_list(hs_recent_list(r, 10, NULL), all, 2);
    /* An event without an entity never matches a filter. */
    static const int weather[] = {2};
    expect_list(hs_recent_list(r, 10, "weather.home"), weather, 1);
    expect_list(hs_recent_list(r, 10, ""), NULL, 0);
    hs_recent_free(r);
}
END_TEST

/* The ring keeps a copy: the listing equals what was pushed, does not
 * change when the caller changes its event afterwards, and stays valid after
 * the ring moves on and after the ring is freed. */
START_TEST(test_copies)
{
    hs_recent *r = hs_recent_new(1);
    json_t *ev = json_pack("{s:s,s:f,s:[i,b,n]}", "entity_id", "light.x", "v", 0.1, "a", 1,
                           1);
    hs_recent_push(r, "light.x", ev);
    ck_assert_int_eq(ev->refcount, 1);
    json_t *list = hs_recent_list(r, 1, NULL);
    ck_assert_ptr_ne(json_array_get(list, 0), ev);
    ck_assert(json_equal(json_array_get(list, 0), ev));
    json_object_set_new(ev, "entity_id", json_string("light.changed"));
    json_t *again = hs_recent_list(r, 1, "light.x");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(again, 0), "entity_id")),
        "light.x");
    json_decref(again);
    push(r, "light.y", 2); /* evicts ev */
    hs_recent_free(r);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(list, 0), "entity_id")),
        "light.x");
    json_decref(list);
    json_decref(ev);
}
END_TEST

/* Texts are kept as given, NUL bytes inside strings included; a text that is
 * not JSON is left out of a listing. */
START_TEST(test_text)
{
    hs_recent *r = hs_recent_new(3);
    static const char t1[] = "{\"n\":1,\"s\":\"a\\u0000b\"}";
    hs_recent_push_text(r, "sensor.a", t1, sizeof t1 - 1);
    hs_recent_push_text(r, "sensor.a", "{\"n\":2} trailing", 8); /* only {"n":2} */
    hs_recent_push_text(r, "sensor.b", "not json", 8);
    hs_recent_push_text(r, "sensor.b", NULL, 0); /* ignored */
    static const int want[] = {2, 1};
    json_t *list = hs_recent_list(r, 10, NULL);
    ck_assert_ptr_nonnull(list);
    ck_assert_uint_eq(json_string_length(json_object_get(json_array_get(list, 1), "s")), 3);
    expect_list(list, want, 2);
    expect_list(hs_recent_list(r, 10, "sensor.b"), NULL, 0);
    hs_recent_free(r);
}
END_TEST

START_TEST(test_edge_cases)
{
    hs_recent *r = hs_recent_new(0);
    ck_assert_ptr_nonnull(r);
    push(r, "a.b", 1);
    expect_list(hs_recent_list(r, 5, NULL), NULL, 0);
    hs_recent_free(r);
    hs_recent_free(NULL);
    r = hs_recent_new(2);
    hs_recent_push(r, "a.b", NULL); /* ignored */
    expect_list(hs_recent_list(r, 5, NULL), NULL, 0);
    hs_recent_free(r);
}
END_TEST

/* Packing changes nothing a listing shows: a ring of capacity 8 gets
 * events pushed, packed and listed in a fixed pseudo-random order, and every
 * listing (all, limited, by entity) equals a plain model of the last 8
 * events. Covers packs over packs, pushes that overwrite packed slots until
 * the pack is gone, packing with nothing new, and texts with NUL escapes. */
START_TEST(test_pack_model)
{
    enum { CAP = 8 };
    hs_recent *r = hs_recent_new(CAP);
    int model_n[CAP];
    int model_e[CAP]; /* entity number, -1 for none */
    size_t count = 0, next = 0;
    unsigned seed = 12345;
    int n = 0;
    for (int step = 0; step < 3000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned what = (seed >> 16) % 10;
        if (what < 6) {
            int ent = (int)((seed >> 8) % 4) - 1;
            char id[16], text[96];
            snprintf(id, sizeof id, "sensor.e%d", ent);
            n++;
            int len = snprintf(text, sizeof text,
                               "{\"n\":%d,\"pad\":\"abcabcabcabc\\u0000%d\"}", n, n % 7);
            hs_recent_push_text(r, ent >= 0 ? id : NULL, text, (size_t)len);
            model_n[next] = n;
            model_e[next] = ent;
            next = (next + 1) % CAP;
            if (count < CAP)
                count++;
        } else if (what < 8) {
            hs_recent_pack(r);
        } else {
            int ent = (int)((seed >> 8) % 5) - 1; /* -1: no filter; 3: no such entity */
            int limit = (int)((seed >> 4) % 10);
            char id[16];
            snprintf(id, sizeof id, "sensor.e%d", ent);
            int want[CAP];
            size_t k = 0;
            size_t cap = limit < 1 || limit > CAP ? CAP : (size_t)limit;
            for (size_t i = 0; i < count && k < cap; i++) {
                size_t slot = (next + CAP - 1 - i) % CAP;
                if (ent < 0 || model_e[slot] == ent)
                    want[k++] = model_n[slot];
            }
            json_t *list = hs_recent_list(r, limit, ent >= 0 ? id : NULL);
            ck_assert_ptr_nonnull(list);
            for (size_t i = 0; i < json_array_size(list); i++) {
                const char *pad =
                    json_string_value(json_object_get(json_array_get(list, i), "pad"));
                ck_assert_ptr_nonnull(pad);
                ck_assert_uint_eq(strlen(pad), 12); /* stops at the NUL byte */
            }
            expect_list(list, want, k);
        }
    }
    hs_recent_free(r);
}
END_TEST

/* Packing a ring of realistic events makes the kept bytes several times
 * smaller, and the listing afterwards is byte for byte what was pushed. */
START_TEST(test_pack_keeps_texts)
{
    hs_recent *r = hs_recent_new(200);
    hs_recent_pack(r); /* empty: nothing to do */
    char texts[200][256];
    for (int i = 0; i < 200; i++) {
        snprintf(texts[i], sizeof texts[i],
                 "{\"schema\":1,\"event_type\":\"state_changed\",\"entity_id\":"
                 "\"sensor.t%d\",\"new_state\":{\"state\":\"%d.%d\",\"attributes\":"
                 "{\"unit_of_measurement\":\"\u00b0C\"}},\"n\":%d}",
                 i % 17, i, i % 10, i);
        char id[32];
        snprintf(id, sizeof id, "sensor.t%d", i % 17);
        hs_recent_push_text(r, id, texts[i], strlen(texts[i]));
    }
    hs_recent_pack(r);
    hs_recent_pack(r); /* nothing new: unchanged */
    json_t *list = hs_recent_list(r, 0, NULL);
    ck_assert_uint_eq(json_array_size(list), 200);
    for (int i = 0; i < 200; i++) {
        json_t *want = json_loads(texts[199 - i], 0, NULL);
        ck_assert_ptr_nonnull(want);
        ck_assert_msg(json_equal(json_array_get(list, (size_t)i), want), "event %d differs", i);
        json_decref(want);
    }
    json_decref(list);
    json_t *one = hs_recent_list(r, 0, "sensor.t3");
    ck_assert_uint_eq(json_array_size(one), 12); /* i = 3, 20, ..., 190 */
    json_decref(one);
    hs_recent_free(r);
    hs_recent_pack(NULL);
}
END_TEST

static void *pusher(void *arg)
{
    hs_recent *r = arg;
    for (int i = 0; i < 2000; i++)
        push(r, i % 3 ? "sensor.a" : "sensor.b", i);
    return NULL;
}

/* A stage thread pushes while the admin thread lists: every listing is in
 * order and bounded, and the last push wins. */
START_TEST(test_concurrent)
{
    hs_recent *r = hs_recent_new(16);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, pusher, r), 0);
    for (int i = 0; i < 200; i++) {
        json_t *list = hs_recent_list(r, 8, i % 2 ? "sensor.a" : NULL);
        ck_assert_ptr_nonnull(list);
        ck_assert_uint_le(json_array_size(list), 8);
        /* Newest first: the numbers strictly decrease. */
        for (size_t k = 1; k < json_array_size(list); k++)
            ck_assert_int_gt(
                json_integer_value(json_object_get(json_array_get(list, k - 1), "n")),
                json_integer_value(json_object_get(json_array_get(list, k), "n")));
        json_decref(list);
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    json_t *list = hs_recent_list(r, 1, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(list, 0), "n")),
                     1999);
    json_decref(list);
    hs_recent_free(r);
}
END_TEST

static Suite *recent_suite(void)
{
    Suite *s = suite_create("recent");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_list, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_no_entity);
    tcase_add_test(tc, test_copies);
    tcase_add_test(tc, test_text);
    tcase_add_test(tc, test_edge_cases);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_pack_model);
    tcase_add_test(tc, test_pack_keeps_texts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(recent_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
