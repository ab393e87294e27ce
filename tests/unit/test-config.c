/* test-config.c - unit tests for hs_config: every variable type, secrets from
 * files, masking, runtime changes, defaults and the command line. */
#include <check.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_config.h"

typedef struct {
    hs_common_cfg common;
    char *url;
    int64_t points;
    double lat;
    bool gzip;
    char *version;
    char *domains;
    char *token;
    char *password;
    char *db;
    int64_t plain_int;
    double plain_double;
    char *any_url;
} tcfg;

static const hs_cfg_var vars[] = {
    HS_CFG_COMMON_ROWS(tcfg, "127.0.0.1:8083"),
    {"INFLUX_URL", HS_CFG_URL, "http://127.0.0.1:8086", 0, -1, "http://|https://",
     HS_CFG_REQUIRED, offsetof(tcfg, url), "InfluxDB base URL."},
    {"BATCH_MAX_POINTS", HS_CFG_INT, "5000", 1, 1000000, NULL, 0, offsetof(tcfg, points),
     "Points per write."},
    {"WEATHER_LAT", HS_CFG_DOUBLE, NULL, -90, 90, NULL, HS_CFG_RUNTIME,
     offsetof(tcfg, lat), "Latitude."},
    {"INFLUX_GZIP", HS_CFG_BOOL, "false", 0, -1, NULL, 0, offsetof(tcfg, gzip),
     "Compress writes."},
    {"INFLUX_API_VERSION", HS_CFG_ENUM, "2", 0, -1, "1|2|3", 0, offsetof(tcfg, version),
     "API version."},
    {"INCLUDE_DOMAINS", HS_CFG_LIST, NULL, 0, -1, NULL, HS_CFG_RUNTIME,
     offsetof(tcfg, domains), "Domains to keep."},
    {"INFLUX_TOKEN", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET, offsetof(tcfg, token),
     "API token."},
    {"INFLUX_PASSWORD", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET | HS_CFG_REQUIRED,
     offsetof(tcfg, password), "Password."},
    {"INFLUX_DB", HS_CFG_STR, "", 0, -1, NULL, 0, offsetof(tcfg, db), "Database | name."},
    {"PLAIN_INT", HS_CFG_INT, "-3", 0, -1, NULL, 0, offsetof(tcfg, plain_int),
     "No range."},
    {"PLAIN_DOUBLE", HS_CFG_DOUBLE, "0.5", 0, -1, NULL, 0, offsetof(tcfg, plain_double),
     "No range."},
    {"ANY_URL", HS_CFG_URL, NULL, 0, -1, NULL, 0, offsetof(tcfg, any_url), "Any scheme."},
};
#define NVARS (sizeof vars / sizeof vars[0])

/* An injected environment: NULL-terminated name/value pairs. */
typedef struct {
    const char *pairs[16][2];
} fake_env;

static const char *fake_getenv(const char *name, void *ud)
{
    const fake_env *env = ud;
    for (size_t i = 0; i < 16 && env->pairs[i][0] != NULL; i++)
        if (strcmp(env->pairs[i][0], name) == 0)
            return env->pairs[i][1];
    return NULL;
}

/* The required password is set in every environment unless a case is about it. */
#define PW                                                                               \
    {                                                                                    \
        "INFLUX_PASSWORD", "hunter22"                                                    \
    }

START_TEST(test_defaults)
{
    fake_env env = {{PW}};
    tcfg c;
    memset(&c, 0xab, sizeof c); /* load must not care what was there */
    char err[256] = "";
    ck_assert_msg(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(c.common.kafka_brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c.common.site, "home");
    ck_assert_str_eq(c.common.log_level, "info");
    ck_assert_str_eq(c.common.log_format, "json");
    ck_assert_str_eq(c.common.admin_addr, "127.0.0.1:8083");
    ck_assert_ptr_null(c.common.admin_token);
    ck_assert_str_eq(c.common.topic_raw, "ha.events.raw");
    ck_assert_str_eq(c.common.topic_enriched, "ha.events.enriched");
    ck_assert_str_eq(c.common.topic_dlq, "ha.events.dlq");
    ck_assert_str_eq(c.url, "http://127.0.0.1:8086");
    ck_assert_int_eq(c.points, 5000);
    ck_assert(c.lat == 0.0);
    ck_assert(!c.gzip);
    ck_assert_str_eq(c.version, "2");
    ck_assert_ptr_null(c.domains);
    ck_assert_ptr_null(c.token);
    ck_assert_str_eq(c.password, "hunter22");
    ck_assert_str_eq(c.db, "");
    ck_assert_int_eq(c.plain_int, -3);
    ck_assert(c.plain_double == 0.5);
    ck_assert_ptr_null(c.any_url);
    hs_cfg_free(vars, NVARS, &c);
    ck_assert_ptr_null(c.common.site);
    ck_assert_ptr_null(c.url);
    hs_cfg_free(vars, NVARS, &c); /* twice is harmless */
}
END_TEST

/* One variable set to one value: accepted with the stored text/number, or
 * refused with an error that names the variable and contains `expect`. */
typedef struct {
    const char *name;
    const char *value;
    bool ok;
    const char *expect; /* stored value as text when ok, error fragment when not */
} value_case;

static const value_case value_cases[] = {
    /* INT, strict and within [1, 1000000]. */
    {"BATCH_MAX_POINTS", "1", true, "1"},
    {"BATCH_MAX_POINTS", "1000000", true, "1000000"},
    {"BATCH_MAX_POINTS", "+42", true, "42"},
    {"BATCH_MAX_POINTS", "007", true, "7"},
    {"BATCH_MAX_POINTS", "", true, "5000"}, /* empty selects the default */
    {"BATCH_MAX_POINTS", "12x", false, "BATCH_MAX_POINTS: '12x' is not an integer"},
    {"BATCH_MAX_POINTS", "x", false, "'x' is not an integer"},
    {"BATCH_MAX_POINTS", " 12", false, "is not an integer"},
    {"BATCH_MAX_POINTS", "12 ", false, "is not an integer"},
    {"BATCH_MAX_POINTS", "1.5", false, "is not an integer"},
    {"BATCH_MAX_POINTS", "0x10", false, "is not an integer"},
    {"BATCH_MAX_POINTS", "-", false, "is not an integer"},
    {"BATCH_MAX_POINTS", "0", false,
     "BATCH_MAX_POINTS: '0' is out of range [1, 1000000]"},
    {"BATCH_MAX_POINTS", "1000001", false, "out of range"},
    {"BATCH_MAX_POINTS", "-5", false, "out of range"},
    {"BATCH_MAX_POINTS", "99999999999999999999", false, "out of range"},
    {"PLAIN_INT", "-9223372036854775808", true, "-9223372036854775808"},
    {"PLAIN_INT", "9223372036854775807", true, "9223372036854775807"},
    {"PLAIN_INT", "9223372036854775808", false,
     "PLAIN_INT: '9223372036854775808' is out of"},
    /* DOUBLE, strict, finite and within [-90, 90]. */
    {"WEATHER_LAT", "52.52", true, "52.52"},
    {"WEATHER_LAT", "-90", true, "-90"},
    {"WEATHER_LAT", "1e1", true, "10"},
    {"WEATHER_LAT", "90.0001", false, "WEATHER_LAT: '90.0001' is out of range [-90, 90]"},
    {"WEATHER_LAT", "52,52", false, "WEATHER_LAT: '52,52' is not a number"},
    {"WEATHER_LAT", "abc", false, "is not a number"},
    {"WEATHER_LAT", " 1", false, "is not a number"},
    {"WEATHER_LAT", "nan", false, "is not a number"},
    {"WEATHER_LAT", "inf", false, "not a finite number"},
    {"PLAIN_DOUBLE", "-1e300", true, "-1e+300"},
    {"PLAIN_DOUBLE", "1e999", false, "PLAIN_DOUBLE: '1e999' is not a finite number"},
    {"PLAIN_DOUBLE", "-infinity", false, "not a finite number"},
    /* BOOL in any case. */
    {"INFLUX_GZIP", "1", true, "true"},
    {"INFLUX_GZIP", "true", true, "true"},
    {"INFLUX_GZIP", "TRUE", true, "true"},
    {"INFLUX_GZIP", "Yes", true, "true"},
    {"INFLUX_GZIP", "on", true, "true"},
    {"INFLUX_GZIP", "0", true, "false"},
    {"INFLUX_GZIP", "False", true, "false"},
    {"INFLUX_GZIP", "no", true, "false"},
    {"INFLUX_GZIP", "OFF", true, "false"},
    {"INFLUX_GZIP", "", true, "false"},
    {"INFLUX_GZIP", "maybe", false, "INFLUX_GZIP: 'maybe' is not a boolean"},
    {"INFLUX_GZIP", "2", false, "is not a boolean"},
    {"INFLUX_GZIP", "truee", false, "is not a boolean"},
    /* ENUM: exact match. */
    {"INFLUX_API_VERSION", "1", true, "1"},
    {"INFLUX_API_VERSION", "3", true, "3"},
    {"INFLUX_API_VERSION", "", true, "2"},
    {"INFLUX_API_VERSION", "4", false, "INFLUX_API_VERSION: must be one of 1|2|3"},
    {"INFLUX_API_VERSION", "1|2", false, "must be one of 1|2|3"},
    {"INFLUX_API_VERSION", " 1", false, "must be one of 1|2|3"},
    {"LOG_LEVEL", "debug", true, "debug"},
    {"LOG_LEVEL", "DEBUG", false, "LOG_LEVEL: must be one of debug|info|warn|error"},
    /* URL: one of the schemes and something after it. */
    {"INFLUX_URL", "https://influx.example:8086/base", true,
     "https://influx.example:8086/base"},
    {"INFLUX_URL", "HTTP://upper", true, "HTTP://upper"},
    {"INFLUX_URL", "", true, "http://127.0.0.1:8086"},
    {"INFLUX_URL", "ws://x", false,
     "INFLUX_URL: 'ws://x' must start with http://|https://"},
    {"INFLUX_URL", "http://", false, "must start with"},
    {"INFLUX_URL", "localhost:8086", false, "must start with"},
    {"INFLUX_URL", "http://a b", false, "INFLUX_URL: 'http://a b' contains a blank"},
    {"ANY_URL", "mqtt://broker", true, "mqtt://broker"},
    {"ANY_URL", "broker", false, "ANY_URL: 'broker' is not a URL"},
    {"ANY_URL", "://x", false, "is not a URL"},
    /* LIST: blanks around commas trimmed, empty items dropped. */
    {"INCLUDE_DOMAINS", "sensor, light ,  climate", true, "sensor,light,climate"},
    {"INCLUDE_DOMAINS", " sensor ", true, "sensor"},
    {"INCLUDE_DOMAINS", "a,,b,", true, "a,b"},
    {"INCLUDE_DOMAINS", "", true, ""},
    /* STR: kept exactly; required ones may not be empty. */
    {"SITE", " my site ", true, " my site "},
    {"SITE", "", false, "SITE: must not be empty"},
    {"INFLUX_DB", "", true, ""},
    {"ADMIN_ADDR", "", true, ""},
    /* Secrets: the value never appears in an error. */
    {"INFLUX_PASSWORD", "", false, "INFLUX_PASSWORD: must not be empty"},
};

/* The stored value of variable `name` as text, for comparison. */
static void stored_text(const tcfg *c, const char *name, char *buf, size_t len)
{
    json_t *obj = hs_cfg_to_json(vars, NVARS, c);
    ck_assert_ptr_nonnull(obj);
    const json_t *v = json_object_get(obj, name);
    ck_assert_ptr_nonnull(v);
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, len, "null");
    json_decref(obj);
}

START_TEST(test_values_load)
{
    const value_case *vc = &value_cases[_i];
    fake_env env = {{PW, {vc->name, vc->value}}};
    if (strcmp(vc->name, "INFLUX_PASSWORD") == 0) {
        env.pairs[0][1] = vc->value;
        env.pairs[1][0] = NULL;
    }
    tcfg c;
    char err[256] = "";
    int rc = hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err);
    if (vc->ok) {
        ck_assert_msg(rc == 0, "%s=%s: %s", vc->name, vc->value, err);
        char got[128];
        stored_text(&c, vc->name, got, sizeof got);
        ck_assert_str_eq(got, vc->expect);
    } else {
        ck_assert_msg(rc == -1, "%s=%s accepted", vc->name, vc->value);
        ck_assert_msg(strncmp(err, vc->name, strlen(vc->name)) == 0,
                      "error does not start with the name: %s", err);
        ck_assert_msg(strstr(err, vc->expect) != NULL, "error '%s' lacks '%s'", err,
                      vc->expect);
    }
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

/* The same values through hs_cfg_set on a loaded config: a valid value
 * replaces the old one, an invalid one leaves it untouched. */
START_TEST(test_values_set)
{
    const value_case *vc = &value_cases[_i];
    fake_env env = {{PW}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err), 0);
    char before[128], after[128];
    stored_text(&c, vc->name, before, sizeof before);
    int rc = hs_cfg_set(vars, NVARS, &c, vc->name, vc->value, false, err, sizeof err);
    stored_text(&c, vc->name, after, sizeof after);
    if (vc->ok) {
        ck_assert_msg(rc == 0, "%s=%s: %s", vc->name, vc->value, err);
        ck_assert_str_eq(after, vc->expect);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err, vc->expect) != NULL, "error '%s' lacks '%s'", err,
                      vc->expect);
        ck_assert_str_eq(after, before);
    }
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

START_TEST(test_set_runtime_only)
{
    fake_env env = {{PW}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err), 0);
    /* LOG_LEVEL is a runtime setting; SITE and INFLUX_URL are not. */
    ck_assert_int_eq(
        hs_cfg_set(vars, NVARS, &c, "LOG_LEVEL", "warn", true, err, sizeof err), 0);
    ck_assert_str_eq(c.common.log_level, "warn");
    ck_assert_int_eq(hs_cfg_set(vars, NVARS, &c, "SITE", "cabin", true, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "SITE: cannot be changed at run time");
    ck_assert_str_eq(c.common.site, "home");
    ck_assert_int_eq(hs_cfg_set(vars, NVARS, &c, "SITE", "cabin", false, err, sizeof err),
                     0);
    ck_assert_str_eq(c.common.site, "cabin");
    ck_assert_int_eq(
        hs_cfg_set(vars, NVARS, &c, "WEATHER_LAT", "48.1", true, err, sizeof err), 0);
    ck_assert(c.lat == 48.1);
    ck_assert_int_eq(hs_cfg_set(vars, NVARS, &c, "NO_SUCH", "1", false, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "NO_SUCH: unknown setting");
    /* Names are case-sensitive, like the environment. */
    ck_assert_int_eq(
        hs_cfg_set(vars, NVARS, &c, "log_level", "warn", false, err, sizeof err), -1);
    /* NULL resets to the default. */
    ck_assert_int_eq(
        hs_cfg_set(vars, NVARS, &c, "LOG_LEVEL", NULL, true, err, sizeof err), 0);
    ck_assert_str_eq(c.common.log_level, "info");
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

START_TEST(test_required)
{
    fake_env env = {{{"KAFKA_BROKERS", ""}, PW}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "KAFKA_BROKERS: must not be empty");
    hs_cfg_free(vars, NVARS, &c);

    /* A required secret that is not set at all. */
    fake_env none = {{{NULL, NULL}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &none, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "INFLUX_PASSWORD: is required (set INFLUX_PASSWORD or "
                          "INFLUX_PASSWORD_FILE)");
    /* Everything loaded before the failure is freed by hs_cfg_free. */
    ck_assert_str_eq(c.common.site, "home");
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

/* A failing value in the middle leaves a half-filled struct that frees
 * cleanly (valgrind checks the leak). */
START_TEST(test_half_filled)
{
    fake_env env = {{PW, {"INFLUX_GZIP", "perhaps"}}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(c.url);
    ck_assert_ptr_null(c.version); /* after the failing row: untouched, cleared */
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

START_TEST(test_bad_default)
{
    static const hs_cfg_var bad[] = {
        {"N", HS_CFG_INT, "ten", 0, -1, NULL, 0, 0, "A broken default."},
    };
    int64_t n;
    fake_env env = {{{NULL, NULL}}};
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(bad, 1, &n, fake_getenv, &env, err, sizeof err), -1);
    ck_assert_str_eq(err, "N: 'ten' is not an integer");
}
END_TEST

/* Writes content to a new temporary file; returns its malloc'd path. */
static char *temp_file(const char *content)
{
    char *path = strdup("/tmp/hs-test-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(content);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static const struct {
    const char *content;
    const char *value;
} secret_files[] = {
    {"s3cret-token", "s3cret-token"},
    {"s3cret-token\n", "s3cret-token"},
    {"s3cret-token\r\n", "s3cret-token"},
    {"s3cret-token\n\n\r\n", "s3cret-token"},
    {"  spaced token  \n", "  spaced token  "},
    {"line1\nline2\n", "line1\nline2"},
    {"", ""},
};

START_TEST(test_secret_file)
{
    char *path = temp_file(secret_files[_i].content);
    fake_env env = {{PW, {"INFLUX_TOKEN_FILE", path}}};
    tcfg c;
    char err[256] = "";
    ck_assert_msg(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(c.token, secret_files[_i].value);
    hs_cfg_free(vars, NVARS, &c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_secret_file_errors)
{
    tcfg c;
    char err[256] = "";
    char *path = temp_file("from-file\n");

    /* Both the value and the file. */
    fake_env both = {{PW, {"INFLUX_TOKEN", "direct"}, {"INFLUX_TOKEN_FILE", path}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &both, err, sizeof err),
                     -1);
    ck_assert_str_eq(err,
                     "INFLUX_TOKEN: both INFLUX_TOKEN and INFLUX_TOKEN_FILE are set; "
                     "set only one");
    ck_assert_ptr_null(strstr(err, "direct"));
    hs_cfg_free(vars, NVARS, &c);

    /* An empty value (docker compose's ${X:-}) does not conflict with the file. */
    fake_env empty = {{PW, {"INFLUX_TOKEN", ""}, {"INFLUX_TOKEN_FILE", path}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &empty, err, sizeof err),
                     0);
    ck_assert_str_eq(c.token, "from-file");
    hs_cfg_free(vars, NVARS, &c);

    /* A file that is not there: the error names the variable and the file. */
    fake_env missing = {{PW, {"INFLUX_TOKEN_FILE", "/nonexistent/hs-token"}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &missing, err, sizeof err),
                     -1);
    ck_assert_msg(strstr(err, "INFLUX_TOKEN_FILE: cannot read '/nonexistent/hs-token'") ==
                      err,
                  "%s", err);
    hs_cfg_free(vars, NVARS, &c);

    /* A directory cannot be read either. */
    fake_env dir = {{PW, {"INFLUX_TOKEN_FILE", "/tmp"}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &dir, err, sizeof err),
                     -1);
    ck_assert_msg(strstr(err, "INFLUX_TOKEN_FILE: cannot read '/tmp'") == err, "%s", err);
    hs_cfg_free(vars, NVARS, &c);

    /* A required secret may come from its file. */
    fake_env pw = {{{"INFLUX_PASSWORD_FILE", path}}};
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &pw, err, sizeof err), 0);
    ck_assert_str_eq(c.password, "from-file");
    hs_cfg_free(vars, NVARS, &c);

    /* Only secrets read a _FILE. */
    fake_env notsecret = {{PW, {"SITE_FILE", path}}};
    ck_assert_int_eq(
        hs_cfg_load(vars, NVARS, &c, fake_getenv, &notsecret, err, sizeof err), 0);
    ck_assert_str_eq(c.common.site, "home");
    hs_cfg_free(vars, NVARS, &c);

    unlink(path);
    free(path);
}
END_TEST

static const struct {
    const char *secret;
    const char *masked;
} masks[] = {
    {"abcdefgh", "****efgh"},
    {"abcde", "****bcde"},
    {"abcd", "****"},
    {"a", "****"},
    {"", "****"},
    {"tok-\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "****\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"},
    {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "****"},
    {"x\xe2\x82\xac"
     "abc",
     "****\xe2\x82\xac"
     "abc"},
    /* Regression (found by tests/fuzz/fuzz-config): continuation bytes without
     * a lead byte all counted as one character, so the whole run was shown. */
    {"abcdefgh"
     "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
     "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
     "****\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"},
};

START_TEST(test_mask)
{
    char *m = hs_cfg_mask(masks[_i].secret);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, masks[_i].masked);
    free(m);
}
END_TEST

START_TEST(test_to_json)
{
    fake_env env = {{PW,
                     {"ADMIN_TOKEN", "admin-token-1234"},
                     {"INFLUX_TOKEN", ""},
                     {"BATCH_MAX_POINTS", "250"},
                     {"WEATHER_LAT", "-33.5"},
                     {"INFLUX_GZIP", "yes"}}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err), 0);
    json_t *obj = hs_cfg_to_json(vars, NVARS, &c);
    ck_assert_ptr_nonnull(obj);
    ck_assert_uint_eq(json_object_size(obj), NVARS);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "ADMIN_TOKEN")), "****1234");
    ck_assert_str_eq(json_string_value(json_object_get(obj, "INFLUX_PASSWORD")),
                     "****er22");
    ck_assert_str_eq(json_string_value(json_object_get(obj, "INFLUX_TOKEN")), "");
    ck_assert(json_is_null(json_object_get(obj, "INCLUDE_DOMAINS")));
    ck_assert_int_eq(json_integer_value(json_object_get(obj, "BATCH_MAX_POINTS")), 250);
    ck_assert(json_real_value(json_object_get(obj, "WEATHER_LAT")) == -33.5);
    ck_assert(json_is_true(json_object_get(obj, "INFLUX_GZIP")));
    ck_assert_str_eq(json_string_value(json_object_get(obj, "SITE")), "home");
    /* No secret appears anywhere in the dump. */
    char *text = json_dumps(obj, 0);
    ck_assert_ptr_null(strstr(text, "admin-token"));
    ck_assert_ptr_null(strstr(text, "hunter"));
    free(text);
    json_decref(obj);
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

/* Regression (found by tests/fuzz/fuzz-config): a secret whose last four
 * characters are not valid UTF-8 made hs_cfg_to_json return NULL, so /config
 * and --check-config failed; the masked tail now falls back to '?' bytes. */
START_TEST(test_to_json_secret_not_utf8)
{
    fake_env env = {{PW, {"ADMIN_TOKEN", "admin-token-\xff\xfe\xfd"}}};
    tcfg c;
    char err[256] = "";
    ck_assert_int_eq(hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err), 0);
    json_t *obj = hs_cfg_to_json(vars, NVARS, &c);
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "ADMIN_TOKEN")), "****-???");
    json_decref(obj);
    hs_cfg_free(vars, NVARS, &c);
}
END_TEST

/* Runs hs_cfg_handle_args with stdout and stderr captured into out/err. */
static int run_args(int argc, const char *const *args, tcfg *c, char *out, size_t outlen,
                    char *errbuf, size_t errlen)
{
    char opath[] = "/tmp/hs-test-out-XXXXXX", epath[] = "/tmp/hs-test-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    ck_assert(ofd >= 0 && efd >= 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(ofd, STDOUT_FILENO);
    dup2(efd, STDERR_FILENO);
    char *argv[8];
    for (int i = 0; i < argc; i++)
        argv[i] = (char *)args[i];
    argv[argc] = NULL;
    int rc = hs_cfg_handle_args(argc, argv, "homestream-test", "Tests the config module.",
                                vars, NVARS, c);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    ssize_t n = pread(ofd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    n = pread(efd, errbuf, errlen - 1, 0);
    errbuf[n > 0 ? n : 0] = '\0';
    close(ofd);
    close(efd);
    unlink(opath);
    unlink(epath);
    return rc;
}

START_TEST(test_args)
{
    static char out[16384], errb[4096];
    tcfg c;
    memset(&c, 0, sizeof c);

    const char *none[] = {"prog"};
    ck_assert_int_eq(run_args(1, none, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_RUN);

    const char *version[] = {"prog", "--version"};
    ck_assert_int_eq(run_args(2, version, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);
    ck_assert_str_eq(out, "homestream-test " HS_VERSION "\n");
    const char *v[] = {"prog", "-V"};
    ck_assert_int_eq(run_args(2, v, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);

    const char *help[] = {"prog", "--help"};
    ck_assert_int_eq(run_args(2, help, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out, "Usage: homestream-test"));
    ck_assert_ptr_nonnull(strstr(out, "Tests the config module."));
    /* Every variable with its default and doc. */
    for (size_t i = 0; i < NVARS; i++) {
        ck_assert_msg(strstr(out, vars[i].name) != NULL, "--help lacks %s", vars[i].name);
        ck_assert_ptr_nonnull(strstr(out, vars[i].doc));
    }
    ck_assert_ptr_nonnull(
        strstr(out, "BATCH_MAX_POINTS (integer 1..1000000, default \"5000\""));
    ck_assert_ptr_nonnull(strstr(out, "INFLUX_TOKEN_FILE"));
    const char *h[] = {"prog", "-h"};
    ck_assert_int_eq(run_args(2, h, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);

    const char *md[] = {"prog", "--config-markdown"};
    ck_assert_int_eq(run_args(2, md, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);
    ck_assert_ptr_eq(strstr(out, "| Variable | Type | Default | Description |\n"), out);
    ck_assert_ptr_nonnull(
        strstr(out, "| `INFLUX_API_VERSION` | one of `1`, `2`, `3` | `2` |"));
    ck_assert_ptr_nonnull(
        strstr(out, "| `INFLUX_DB` | string | (empty) | Database \\| name. |"));
    ck_assert_ptr_nonnull(strstr(out, "`INFLUX_TOKEN_FILE`"));

    const char *bad[] = {"prog", "--frobnicate"};
    ck_assert_int_eq(run_args(2, bad, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_FAIL);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(errb, "unknown argument '--frobnicate'"));
    ck_assert_ptr_nonnull(strstr(errb, "Usage: homestream-test"));

    const char *two[] = {"prog", "--help", "--version"};
    ck_assert_int_eq(run_args(3, two, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_FAIL);
}
END_TEST

/* --check-config reads the real environment. */
START_TEST(test_check_config)
{
    static char out[16384], errb[4096];
    tcfg c;
    memset(&c, 0, sizeof c);
    const char *check[] = {"prog", "--check-config"};

    unsetenv("INFLUX_PASSWORD");
    unsetenv("INFLUX_PASSWORD_FILE");
    ck_assert_int_eq(run_args(2, check, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_FAIL);
    ck_assert_ptr_nonnull(strstr(errb, "INFLUX_PASSWORD: is required"));
    ck_assert_ptr_null(strstr(out, "configuration OK"));
    hs_cfg_free(vars, NVARS, &c);

    setenv("INFLUX_PASSWORD", "correct-horse", 1);
    setenv("BATCH_MAX_POINTS", "77", 1);
    ck_assert_int_eq(run_args(2, check, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out, "configuration OK\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"INFLUX_PASSWORD\": \"****orse\""));
    ck_assert_ptr_null(strstr(out, "correct-horse"));
    ck_assert_ptr_nonnull(strstr(out, "\"BATCH_MAX_POINTS\": 77"));
    /* The struct is left filled for the caller to free. */
    ck_assert_int_eq(c.points, 77);
    ck_assert_str_eq(c.password, "correct-horse");
    hs_cfg_free(vars, NVARS, &c);

    setenv("BATCH_MAX_POINTS", "lots", 1);
    ck_assert_int_eq(run_args(2, check, &c, out, sizeof out, errb, sizeof errb),
                     HS_CFG_ARGS_EXIT_FAIL);
    ck_assert_ptr_nonnull(strstr(errb, "BATCH_MAX_POINTS: 'lots' is not an integer"));
    hs_cfg_free(vars, NVARS, &c);
    unsetenv("INFLUX_PASSWORD");
    unsetenv("BATCH_MAX_POINTS");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_values_load, 0,
                        sizeof value_cases / sizeof value_cases[0]);
    tcase_add_loop_test(tc, test_values_set, 0,
                        sizeof value_cases / sizeof value_cases[0]);
    tcase_add_test(tc, test_set_runtime_only);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_half_filled);
    tcase_add_test(tc, test_bad_default);
    tcase_add_loop_test(tc, test_secret_file, 0,
                        sizeof secret_files / sizeof secret_files[0]);
    tcase_add_test(tc, test_secret_file_errors);
    tcase_add_loop_test(tc, test_mask, 0, sizeof masks / sizeof masks[0]);
    tcase_add_test(tc, test_to_json);
    tcase_add_test(tc, test_to_json_secret_not_utf8);
    tcase_add_test(tc, test_args);
    tcase_add_test(tc, test_check_config);
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
