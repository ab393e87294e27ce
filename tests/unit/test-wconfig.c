/* test-wconfig.c - unit tests for the writer's configuration: defaults from
 * the table and the checks each INFLUX_API_VERSION needs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "wconfig.h"

typedef struct {
    const char *const *kv; /* NULL-terminated name, value pairs */
} env;

static const char *fake_getenv(const char *name, void *ud)
{
    const env *e = ud;
    for (size_t i = 0; e->kv[i] != NULL; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

/* Loads and validates; returns 0 or -1 and leaves the message in err. */
static int load(const char *const *kv, wconfig *cfg, char *err, size_t errlen)
{
    env e = {kv};
    memset(cfg, 0, sizeof *cfg);
    int rc = hs_cfg_load(wconfig_vars, wconfig_nvars, cfg, fake_getenv, &e, err, errlen);
    if (rc == 0)
        rc = wconfig_validate(cfg, err, errlen);
    return rc;
}

START_TEST(test_defaults_v1)
{
    static const char *const kv[] = {"INFLUX_API_VERSION", "1", NULL};
    wconfig cfg;
    char err[256];
    ck_assert_int_eq(load(kv, &cfg, err, sizeof err), 0);
    ck_assert_str_eq(cfg.kafka_group, "homestream-writer");
    ck_assert_str_eq(cfg.influx_url, "http://127.0.0.1:8086");
    ck_assert_str_eq(cfg.influx_db, "home_assistant");
    ck_assert_str_eq(cfg.influx_schema, "ha");
    ck_assert_str_eq(cfg.influx_measurement_attr, "unit_of_measurement");
    ck_assert_str_eq(cfg.common.admin_addr, "127.0.0.1:8083");
    ck_assert_int_eq(cfg.batch_max_points, 5000);
    ck_assert_int_eq(cfg.batch_max_bytes, 1048576);
    ck_assert_int_eq(cfg.flush_interval_ms, 100);
    ck_assert_int_eq(cfg.stats_interval_s, 10); /* homestream_stats every 10 s */
    ck_assert(!cfg.influx_gzip);
    hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
}
END_TEST

static const struct {
    const char *kv[12];
    const char *names; /* the variable the message must name; NULL: valid */
} cases[] = {
    {{NULL}, "INFLUX_ORG"}, /* API 2 by default */
    {{"INFLUX_ORG", "o", NULL}, "INFLUX_BUCKET"},
    {{"INFLUX_ORG", "o", "INFLUX_BUCKET", "b", NULL}, "INFLUX_TOKEN"},
    {{"INFLUX_ORG", "o", "INFLUX_BUCKET", "b", "INFLUX_TOKEN", "t", NULL}, NULL},
    {{"INFLUX_API_VERSION", "1", "INFLUX_DB", "", NULL}, "INFLUX_DB"},
    {{"INFLUX_API_VERSION", "1", "INFLUX_PASSWORD", "p", NULL}, "INFLUX_USER"},
    {{"INFLUX_API_VERSION", "3", NULL}, NULL}, /* bucket from INFLUX_DB, no token */
    {{"INFLUX_API_VERSION", "3", "INFLUX_DB", "", NULL}, "INFLUX_BUCKET"},
    {{"INFLUX_API_VERSION", "4", NULL}, "INFLUX_API_VERSION"},
    {{"INFLUX_API_VERSION", "1", "INFLUX_SCHEMA", "raw", NULL}, "INFLUX_SCHEMA"},
    {{"INFLUX_API_VERSION", "1", "BATCH_MAX_POINTS", "0", NULL}, "BATCH_MAX_POINTS"},
    {{"INFLUX_API_VERSION", "1", "INFLUX_URL", "ftp://x", NULL}, "INFLUX_URL"},
    {{"INFLUX_API_VERSION", "1", "INFLUX_MEASUREMENT_ATTR", "domain", NULL},
     "INFLUX_MEASUREMENT_ATTR"},
    {{"INFLUX_API_VERSION", "1", "STATS_INTERVAL_S", "60", NULL}, NULL},
    {{"INFLUX_API_VERSION", "1", "STATS_INTERVAL_S", "3601", NULL}, "STATS_INTERVAL_S"},
    {{"INFLUX_API_VERSION", "1", "STATS_INTERVAL_S", "-1", NULL}, "STATS_INTERVAL_S"},
};

START_TEST(test_validation)
{
    wconfig cfg;
    char err[256] = "";
    int rc = load(cases[_i].kv, &cfg, err, sizeof err);
    if (cases[_i].names == NULL) {
        ck_assert_msg(rc == 0, "case %d: %s", _i, err);
    } else {
        ck_assert_msg(rc == -1, "case %d: accepted", _i);
        ck_assert_msg(strstr(err, cases[_i].names) != NULL,
                      "case %d: \"%s\" does not name %s", _i, err, cases[_i].names);
    }
    hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
}
END_TEST

START_TEST(test_secrets_masked)
{
    static const char *const kv[] = {
        "INFLUX_API_VERSION", "1", "INFLUX_USER", "u", "INFLUX_PASSWORD",
        "hunter2-secret",     NULL};
    wconfig cfg;
    char err[256];
    ck_assert_int_eq(load(kv, &cfg, err, sizeof err), 0);
    json_t *j = hs_cfg_to_json(wconfig_vars, wconfig_nvars, &cfg);
    char *text = json_dumps(j, 0);
    ck_assert_ptr_null(strstr(text, "hunter2"));
    free(text);
    json_decref(j);
    hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
}
END_TEST

static Suite *wconfig_suite(void)
{
    Suite *s = suite_create("wconfig");
    TCase *tc = tcase_create("wconfig");
    tcase_add_test(tc, test_defaults_v1);
    tcase_add_loop_test(tc, test_validation, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_secrets_masked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wconfig_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
