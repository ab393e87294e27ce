/* test-enricher-config.c - the enricher's configuration table and the checks
 * across variables (enricher/config.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Environment given as "NAME=value" strings, NULL-terminated. */
static const char *fake_getenv(const char *name, void *ud)
{
    const char *const *env = ud;
    size_t n = strlen(name);
    for (; *env; env++) {
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    }
    return NULL;
}

typedef struct {
    const char *name;
    const char *env[8];
    int load_rc;
    int validate_rc;
    weather_provider_kind provider;
    const char *err; /* substring of the error, when one fails */
} config_case;

static const config_case cases[] = {
    {"defaults", {NULL}, 0, 0, WEATHER_NONE, NULL},
    {"a key selects openweathermap",
     {"WEATHER_API_KEY=k", "WEATHER_LAT=1", NULL},
     0,
     0,
     WEATHER_OPENWEATHERMAP,
     NULL},
    {"openweathermap needs a location",
     {"WEATHER_API_KEY=k", NULL},
     0,
     -1,
     WEATHER_OPENWEATHERMAP,
     "WEATHER_LAT"},
    {"openweathermap needs a key",
     {"WEATHER_PROVIDER=openweathermap", "WEATHER_LAT=1", NULL},
     0,
     -1,
     WEATHER_OPENWEATHERMAP,
     "WEATHER_API_KEY"},
    {"none wins over a key",
     {"WEATHER_PROVIDER=none", "WEATHER_API_KEY=k", NULL},
     0,
     0,
     WEATHER_NONE,
     NULL},
    {"open-meteo",
     {"WEATHER_PROVIDER=open-meteo", "WEATHER_LON=-0.1", NULL},
     0,
     0,
     WEATHER_OPEN_METEO,
     NULL},
    {"open-meteo needs a location",
     {"WEATHER_PROVIDER=open-meteo", NULL},
     0,
     -1,
     WEATHER_OPEN_METEO,
     "WEATHER_LAT"},
    {"entity",
     {"WEATHER_PROVIDER=entity", "WEATHER_ENTITY=weather.home", NULL},
     0,
     0,
     WEATHER_ENTITY,
     NULL},
    {"entity needs a weather entity",
     {"WEATHER_PROVIDER=entity", "WEATHER_ENTITY=sensor.t", NULL},
     0,
     -1,
     WEATHER_ENTITY,
     "WEATHER_ENTITY"},
    {"entity needs an object id",
     {"WEATHER_PROVIDER=entity", "WEATHER_ENTITY=weather.", NULL},
     0,
     -1,
     WEATHER_ENTITY,
     "WEATHER_ENTITY"},
    {"unknown provider",
     {"WEATHER_PROVIDER=darksky", NULL},
     -1,
     0,
     WEATHER_NONE,
     "WEATHER_PROVIDER"},
    {"latitude out of range",
     {"WEATHER_LAT=90.5", NULL},
     -1,
     0,
     WEATHER_NONE,
     "WEATHER_LAT"},
    {"cache minutes out of range",
     {"WEATHER_CACHE_MINUTES=0", NULL},
     -1,
     0,
     WEATHER_NONE,
     "WEATHER_CACHE_MINUTES"},
    {"bad units", {"UNITS=imperial", NULL}, -1, 0, WEATHER_NONE, "UNITS"},
    {"presence URL scheme",
     {"PRESENCE_URL=ftp://x/", NULL},
     -1,
     0,
     WEATHER_NONE,
     "PRESENCE_URL"},
    {"stats interval at its maximum",
     {"STATS_INTERVAL_S=3600", NULL},
     0,
     0,
     WEATHER_NONE,
     NULL},
    {"stats interval out of range",
     {"STATS_INTERVAL_S=3601", NULL},
     -1,
     0,
     WEATHER_NONE,
     "STATS_INTERVAL_S"},
    {"negative stats interval",
     {"STATS_INTERVAL_S=-1", NULL},
     -1,
     0,
     WEATHER_NONE,
     "STATS_INTERVAL_S"},
};

START_TEST(test_config)
{
    const config_case *c = &cases[_i];
    struct enricher_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[256] = "";
    int rc = hs_cfg_load(config_vars, config_nvars, &cfg, fake_getenv, (void *)c->env,
                         err, sizeof err);
    ck_assert_msg(rc == c->load_rc, "%s: load %d (%s)", c->name, rc, err);
    if (rc == 0) {
        ck_assert_int_eq(config_weather_provider(&cfg), c->provider);
        rc = config_validate(&cfg, err, sizeof err);
        ck_assert_msg(rc == c->validate_rc, "%s: validate %d (%s)", c->name, rc, err);
    }
    if (c->err)
        ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\"", c->name, err);
    hs_cfg_free(config_vars, config_nvars, &cfg);
}
END_TEST

START_TEST(test_defaults)
{
    const char *const env[] = {NULL};
    struct enricher_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[256];
    ck_assert_int_eq(hs_cfg_load(config_vars, config_nvars, &cfg, fake_getenv,
                                 (void *)env, err, sizeof err),
                     0);
    ck_assert_str_eq(cfg.kafka_group, "homestream-enricher");
    ck_assert_str_eq(cfg.common.admin_addr, "127.0.0.1:8082");
    ck_assert_int_eq(cfg.weather_cache_minutes, 15);
    ck_assert_str_eq(cfg.units, "native");
    ck_assert_ptr_null(cfg.weather_provider);
    ck_assert_ptr_null(cfg.presence_url);
    ck_assert_int_eq(cfg.stats_interval_s, 10);
    hs_cfg_free(config_vars, config_nvars, &cfg);
}
END_TEST

START_TEST(test_runtime_rows)
{
    /* Exactly these may change through PUT /config. */
    static const char *const runtime[] = {"LOG_LEVEL", "WEATHER_LAT", "WEATHER_LON",
                                          "WEATHER_CACHE_MINUTES"};
    size_t found = 0;
    for (size_t i = 0; i < config_nvars; i++) {
        bool is_runtime = false;
        for (size_t k = 0; k < sizeof runtime / sizeof runtime[0]; k++)
            is_runtime |= strcmp(config_vars[i].name, runtime[k]) == 0;
        ck_assert_msg(((config_vars[i].flags & HS_CFG_RUNTIME) != 0) == is_runtime, "%s",
                      config_vars[i].name);
        found += is_runtime;
    }
    ck_assert_uint_eq(found, sizeof runtime / sizeof runtime[0]);
}
END_TEST

START_TEST(test_provider_names)
{
    ck_assert_str_eq(config_weather_provider_name(WEATHER_NONE), "none");
    ck_assert_str_eq(config_weather_provider_name(WEATHER_OPENWEATHERMAP),
                     "openweathermap");
    ck_assert_str_eq(config_weather_provider_name(WEATHER_OPEN_METEO), "open-meteo");
    ck_assert_str_eq(config_weather_provider_name(WEATHER_ENTITY), "entity");
    /* Only these two are fetched over HTTP (libcurl is set up for them). */
    ck_assert(config_weather_fetches(WEATHER_OPENWEATHERMAP));
    ck_assert(config_weather_fetches(WEATHER_OPEN_METEO));
    ck_assert(!config_weather_fetches(WEATHER_ENTITY));
    ck_assert(!config_weather_fetches(WEATHER_NONE));
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("enricher-config");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_config, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_runtime_rows);
    tcase_add_test(tc, test_provider_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
