/* test-filter.c - filter: HA entityfilter rules, case by case. */
#include <check.h>
#include <stdlib.h>

#include "filter.h"

/* Each row: the six lists (include domains, entities, globs; exclude
 * domains, entities, globs), an entity id and the expected verdict. The
 * cases follow homeassistant/helpers/entityfilter.py's rules 1..6. */
static const struct {
    const char *inc_d, *inc_e, *inc_g, *exc_d, *exc_e, *exc_g;
    const char *entity;
    bool pass;
} cases[] = {
    /* 1: nothing configured */
    {NULL, NULL, NULL, NULL, NULL, NULL, "light.kitchen", true},
    {"", " , ", NULL, NULL, NULL, NULL, "light.kitchen", true},
    /* 2: includes only */
    {"sensor", NULL, NULL, NULL, NULL, NULL, "sensor.temp", true},
    {"sensor", NULL, NULL, NULL, NULL, NULL, "light.kitchen", false},
    {"sensor", "light.kitchen", NULL, NULL, NULL, NULL, "light.kitchen", true},
    {NULL, NULL, "binary_sensor.*_door", NULL, NULL, NULL, "binary_sensor.front_door",
     true},
    {NULL, NULL, "binary_sensor.*_door", NULL, NULL, NULL, "binary_sensor.front_window",
     false},
    {"sens", NULL, NULL, NULL, NULL, NULL, "sensor.temp", false},
    /* 3: excludes only */
    {NULL, NULL, NULL, "automation", NULL, NULL, "automation.x", false},
    {NULL, NULL, NULL, "automation", NULL, NULL, "sensor.x", true},
    {NULL, NULL, NULL, NULL, "sensor.noisy", NULL, "sensor.noisy", false},
    {NULL, NULL, NULL, NULL, NULL, "sensor.*_rssi", "sensor.phone_rssi", false},
    {NULL, NULL, NULL, NULL, NULL, "sensor.*_rssi", "sensor.phone_rssi2", true},
    {NULL, NULL, NULL, NULL, NULL, "sensor.?", "sensor.a", false},
    {NULL, NULL, NULL, NULL, NULL, "sensor.[ab]x", "sensor.bx", false},
    {NULL, NULL, NULL, NULL, NULL, "sensor.[!ab]x", "sensor.bx", true},
    {NULL, NULL, NULL, NULL, NULL, "Sensor.*", "sensor.a", true}, /* case-sensitive */
    /* 4: include domain or glob, with excludes */
    {"sensor", NULL, NULL, "sensor", NULL, NULL, "sensor.a",
     true}, /* exclude domain ignored */
    {"sensor", NULL, NULL, NULL, "sensor.a", NULL, "sensor.a", false},
    {"sensor", NULL, NULL, NULL, NULL, "sensor.*_rssi", "sensor.x_rssi", false},
    {"sensor", NULL, NULL, NULL, NULL, "sensor.*_rssi", "sensor.x", true},
    {"sensor", NULL, NULL, "light", NULL, NULL, "light.a", false},
    {"sensor", NULL, NULL, "light", NULL, NULL, "switch.a", false},
    {"sensor", "light.a", NULL, "light", NULL, NULL, "light.a", true},
    {NULL, NULL, "sensor.*", NULL, NULL, "sensor.*", "sensor.a",
     true}, /* include glob wins */
    {NULL, NULL, "sensor.*", "sensor", NULL, NULL, "sensor.a", true},
    {NULL, NULL, "sensor.*", NULL, "sensor.a", NULL, "sensor.a", false},
    {NULL, "sensor.a", "sensor.*", NULL, "sensor.a", NULL, "sensor.a",
     true}, /* id first */
    {NULL, NULL, "light.*", "sensor", NULL, NULL, "switch.x", false},
    /* 5: include ids only, exclude domain or glob */
    {NULL, "light.keep", NULL, "light", NULL, NULL, "light.keep", true},
    {NULL, "light.keep", NULL, "light", NULL, NULL, "light.other", false},
    {NULL, "light.keep", NULL, "light", NULL, NULL, "switch.any", true},
    {NULL, "light.keep", NULL, "light", "switch.any", NULL, "switch.any", false},
    {NULL, "sensor.keep_rssi", NULL, NULL, NULL, "*_rssi", "sensor.keep_rssi", true},
    {NULL, "sensor.keep_rssi", NULL, NULL, NULL, "*_rssi", "sensor.b_rssi", false},
    /* 6: ids on both sides */
    {NULL, "light.a", NULL, NULL, "light.b", NULL, "light.a", true},
    {NULL, "light.a", NULL, NULL, "light.b", NULL, "light.c", false},
    {NULL, "light.a", NULL, NULL, "light.a", NULL, "light.a", true},
};

START_TEST(test_cases)
{
    filter f;
    ck_assert_int_eq(filter_init(&f, cases[_i].inc_d, cases[_i].inc_e, cases[_i].inc_g,
                                 cases[_i].exc_d, cases[_i].exc_e, cases[_i].exc_g),
                     0);
    ck_assert_msg(filter_match(&f, cases[_i].entity) == cases[_i].pass,
                  "case %d: %s should %s", _i, cases[_i].entity,
                  cases[_i].pass ? "pass" : "be filtered");
    filter_fini(&f);
}
END_TEST

START_TEST(test_no_entity_passes)
{
    filter f;
    ck_assert_int_eq(filter_init(&f, "sensor", NULL, NULL, NULL, NULL, NULL), 0);
    ck_assert(!filter_is_empty(&f));
    ck_assert(filter_match(&f, NULL));
    filter_fini(&f);
    ck_assert_int_eq(filter_init(&f, NULL, NULL, NULL, NULL, NULL, NULL), 0);
    ck_assert(filter_is_empty(&f));
    filter_fini(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_no_entity_passes);
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
