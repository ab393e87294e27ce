/* test-weather.c - weather parsers on real response shapes, condition maps,
 * metric conversion and the attached JSON. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "units.h"
#include "weather.h"

#define NS INT64_C(1000000000)

/* The sample of OpenWeatherMap's documentation (standard units, so the
 * temperature is in kelvin there; the parser takes main.temp as given). */
static const char owm_doc_sample[] =
    "{\"coord\":{\"lon\":10.99,\"lat\":44.34},\"weather\":[{\"id\":501,\"main\":\"Rain\","
    "\"description\":\"moderate "
    "rain\",\"icon\":\"10d\"}],\"base\":\"stations\",\"main\":{"
    "\"temp\":298.48,\"feels_like\":298.74,\"temp_min\":297.56,\"temp_max\":300.05,"
    "\"pressure\":1015,\"humidity\":64,\"sea_level\":1015,\"grnd_level\":933},"
    "\"visibility\":"
    "10000,\"wind\":{\"speed\":0.62,\"deg\":349,\"gust\":1.18},\"rain\":{\"1h\":3.16},"
    "\"clouds\":{\"all\":100},\"dt\":1661870592,\"sys\":{\"type\":2,\"id\":2075663,"
    "\"country\":\"IT\",\"sunrise\":1661834187,\"sunset\":1661882248},\"timezone\":7200,"
    "\"id\":3163858,\"name\":\"Zocca\",\"cod\":200}";

/* A metric answer at night, clear sky. */
static const char owm_metric_night[] =
    "{\"coord\":{\"lon\":13.41,\"lat\":52.52},\"weather\":[{\"id\":800,\"main\":"
    "\"Clear\","
    "\"description\":\"clear "
    "sky\",\"icon\":\"01n\"}],\"base\":\"stations\",\"main\":{\"temp\":"
    "-2.5,\"feels_like\":-6.1,\"temp_min\":-3.9,\"temp_max\":-1.1,\"pressure\":1031,"
    "\"humidity\":86},\"visibility\":10000,\"wind\":{\"speed\":3.09,\"deg\":90},"
    "\"clouds\":{"
    "\"all\":0},\"dt\":1795300000,\"sys\":{\"type\":2,\"id\":2011538,\"country\":\"DE\"},"
    "\"timezone\":3600,\"id\":2950159,\"name\":\"Berlin\",\"cod\":200}";

static const char open_meteo_doc_sample[] =
    "{\"latitude\":52.52,\"longitude\":13.419998,\"generationtime_ms\":0."
    "0350475311279297,"
    "\"utc_offset_seconds\":3600,\"timezone\":\"Europe/"
    "Berlin\",\"timezone_abbreviation\":"
    "\"CET\",\"elevation\":38.0,\"current_units\":{\"time\":\"iso8601\",\"interval\":"
    "\"seconds\","
    "\"temperature_2m\":\"°C\",\"relative_humidity_2m\":\"%\",\"surface_pressure\":"
    "\"hPa\","
    "\"weather_code\":\"wmo "
    "code\"},\"current\":{\"time\":\"2026-11-21T23:45\",\"interval\":900,"
    "\"temperature_2m\":4.2,\"relative_humidity_2m\":91,\"surface_pressure\":1008.7,"
    "\"weather_code\":61}}";

static const char open_meteo_unixtime[] =
    "{\"latitude\":52.52,\"longitude\":13.42,\"generationtime_ms\":0.03,\"utc_offset_"
    "seconds\":0,"
    "\"timezone\":\"GMT\",\"timezone_abbreviation\":\"GMT\",\"elevation\":38.0,\"current_"
    "units\":"
    "{\"time\":\"unixtime\",\"interval\":\"seconds\",\"temperature_2m\":\"°F\","
    "\"relative_humidity_2m\":\"%\",\"surface_pressure\":\"hPa\",\"weather_code\":\"wmo "
    "code\","
    "\"wind_speed_10m\":\"mph\",\"is_day\":\"\"},\"current\":{\"time\":1795300200,"
    "\"interval\":"
    "900,\"temperature_2m\":50.0,\"relative_humidity_2m\":70,\"surface_pressure\":1000.0,"
    "\"weather_code\":0,\"wind_speed_10m\":10.0,\"is_day\":0}}";

typedef struct {
    const char *name;
    int provider; /* 0 owm, 1 open-meteo */
    const char *body;
    int rc;
    double temperature, humidity, pressure, wind_speed;
    const char *condition;
    int64_t observed_at_ns;
    const char *err; /* substring when rc != 0 */
} parse_case;

static const parse_case parse_cases[] = {
    {"owm documentation sample", 0, owm_doc_sample, 0, 298.48, 64, 1015, 0.62, "rainy",
     INT64_C(1661870592) * NS, NULL},
    {"owm metric night", 0, owm_metric_night, 0, -2.5, 86, 1031, 3.09, "clear-night",
     INT64_C(1795300000) * NS, NULL},
    {"owm minimal", 0, "{\"main\":{\"temp\":1},\"dt\":5}", 0, 1, NAN, NAN, NAN, "",
     5 * NS, NULL},
    {"owm 401", 0,
     "{\"cod\":401, \"message\": \"Invalid API key. Please see "
     "https://openweathermap.org/faq#error401 for more info.\"}",
     -1, 0, 0, 0, 0, NULL, 0, "openweathermap error 401: Invalid API key"},
    {"owm 400 with string cod", 0, "{\"cod\":\"400\",\"message\":\"wrong latitude\"}", -1,
     0, 0, 0, 0, NULL, 0, "openweathermap error 400: wrong latitude"},
    {"owm no temp", 0, "{\"main\":{\"humidity\":3},\"dt\":5,\"cod\":200}", -1, 0, 0, 0, 0,
     NULL, 0, "main.temp"},
    {"owm temp as string", 0, "{\"main\":{\"temp\":\"3\"},\"dt\":5}", -1, 0, 0, 0, 0,
     NULL, 0, "main.temp"},
    {"owm no dt", 0, "{\"main\":{\"temp\":3}}", -1, 0, 0, 0, 0, NULL, 0, "dt"},
    {"owm not json", 0, "<html>Bad gateway</html>", -1, 0, 0, 0, 0, NULL, 0, "not JSON"},
    {"owm array", 0, "[1,2]", -1, 0, 0, 0, 0, NULL, 0, "not a JSON object"},
    {"owm empty", 0, "", -1, 0, 0, 0, 0, NULL, 0, "not JSON"},
    {"open-meteo documentation shape", 1, open_meteo_doc_sample, 0, 4.2, 91, 1008.7, NAN,
     "rainy", INT64_C(1795301100) * NS, NULL},
    {"open-meteo unixtime night", 1, open_meteo_unixtime, 0, 50, 70, 1000, 10,
     "clear-night", INT64_C(1795300200) * NS, NULL},
    {"open-meteo error", 1,
     "{\"error\":true,\"reason\":\"Latitude must be in range of -90 to 90°. Given: "
     "100.0.\"}",
     -1, 0, 0, 0, 0, NULL, 0, "open-meteo error: Latitude must be in range"},
    {"open-meteo no current", 1, "{\"latitude\":1}", -1, 0, 0, 0, 0, NULL, 0,
     "current.temperature_2m"},
    {"open-meteo bad time", 1,
     "{\"current\":{\"time\":\"yesterday\",\"temperature_2m\":1}}", -1, 0, 0, 0, 0, NULL,
     0, "current.time"},
    {"open-meteo unknown code", 1,
     "{\"current\":{\"time\":100,\"temperature_2m\":1,\"weather_code\":42}}", 0, 1, NAN,
     NAN, NAN, "", 100 * NS, NULL},
    {"open-meteo truncated", 1, "{\"current\":{\"time\":100,", -1, 0, 0, 0, 0, NULL, 0,
     "not JSON"},
    /* Regressions (fuzz corpus crash-*-overflow.json): a time that does not
     * fit in int64_t nanoseconds was multiplied anyway (signed overflow).
     * It is garbage from the provider: refused. */
    {"owm dt overflow", 0, "{\"main\":{\"temp\":4.5},\"dt\":17637655318,\"cod\":200}", -1,
     0, 0, 0, 0, NULL, 0, "openweathermap: dt 17637655318 is out of range"},
    {"owm dt last second that fits", 0, "{\"main\":{\"temp\":1},\"dt\":9223372036}", 0, 1,
     NAN, NAN, NAN, "", INT64_C(9223372036) * NS, NULL},
    {"owm dt first second that does not fit", 0,
     "{\"main\":{\"temp\":1},\"dt\":9223372037}", -1, 0, 0, 0, 0, NULL, 0,
     "out of range"},
    {"owm dt largest integer", 0, "{\"main\":{\"temp\":1},\"dt\":9223372036854775807}",
     -1, 0, 0, 0, 0, NULL, 0, "out of range"},
    {"open-meteo unix time overflow", 1,
     "{\"utc_offset_seconds\":3600,\"current\":{\"time\":17637655318,"
     "\"temperature_2m\":4.5}}",
     -1, 0, 0, 0, 0, NULL, 0, "open-meteo: current.time 17637655318 is out of range"},
    {"open-meteo offset overflow", 1,
     "{\"utc_offset_seconds\":99999999999,\"current\":{\"time\":\"2026-11-21T23:45\","
     "\"temperature_2m\":4.5}}",
     -1, 0, 0, 0, 0, NULL, 0,
     "open-meteo: utc_offset_seconds 99999999999 is out of range"},
    {"open-meteo offset past -18 h", 1,
     "{\"utc_offset_seconds\":-64801,\"current\":{\"time\":\"2026-11-21T23:45\","
     "\"temperature_2m\":4.5}}",
     -1, 0, 0, 0, 0, NULL, 0, "utc_offset_seconds -64801 is out of range"},
    {"open-meteo offset -18 h", 1,
     "{\"utc_offset_seconds\":-64800,\"current\":{\"time\":\"2026-11-21T23:45\","
     "\"temperature_2m\":4.5}}",
     0, 4.5, NAN, NAN, NAN, "", INT64_C(1795369500) * NS, NULL},
    {"open-meteo local time before the epoch", 1,
     "{\"utc_offset_seconds\":3600,\"current\":{\"time\":\"1970-01-01T00:30\","
     "\"temperature_2m\":4.5}}",
     -1, 0, 0, 0, 0, NULL, 0, "open-meteo: current.time is out of range"},
    {"open-meteo local time shifted past 2262", 1,
     "{\"utc_offset_seconds\":-64800,\"current\":{\"time\":\"2262-04-11T23:00\","
     "\"temperature_2m\":4.5}}",
     -1, 0, 0, 0, 0, NULL, 0, "current.time"},
};

static void assert_num(double got, double want, const char *what, const char *name)
{
    if (isnan(want))
        ck_assert_msg(isnan(got), "%s: %s = %g, expected unknown", name, what, got);
    else
        ck_assert_msg(fabs(got - want) < 1e-9, "%s: %s = %g, expected %g", name, what,
                      got, want);
}

START_TEST(test_parse)
{
    const parse_case *c = &parse_cases[_i];
    weather_obs o;
    char err[256] = "";
    int rc =
        c->provider == 0
            ? weather_parse_owm(c->body, strlen(c->body), &o, err, sizeof err)
            : weather_parse_open_meteo(c->body, strlen(c->body), &o, err, sizeof err);
    ck_assert_msg(rc == c->rc, "%s: rc %d (%s)", c->name, rc, err);
    if (rc != 0) {
        ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\"", c->name, err);
        return;
    }
    assert_num(o.temperature, c->temperature, "temperature", c->name);
    assert_num(o.humidity, c->humidity, "humidity", c->name);
    assert_num(o.pressure, c->pressure, "pressure", c->name);
    assert_num(o.wind_speed, c->wind_speed, "wind_speed", c->name);
    ck_assert_msg(strcmp(o.condition, c->condition) == 0, "%s: condition %s", c->name,
                  o.condition);
    ck_assert_msg(o.observed_at_ns == c->observed_at_ns, "%s: observed %lld", c->name,
                  (long long)o.observed_at_ns);
    ck_assert_str_eq(o.provider, c->provider == 0 ? "openweathermap" : "open-meteo");
}
END_TEST

typedef struct {
    int code;
    bool day;
    const char *condition;
} code_case;

static const code_case wmo_cases[] = {
    {0, true, "sunny"},
    {0, false, "clear-night"},
    {1, true, "sunny"},
    {2, true, "partlycloudy"},
    {3, false, "cloudy"},
    {45, true, "fog"},
    {48, true, "fog"},
    {51, true, "rainy"},
    {61, true, "rainy"},
    {65, true, "pouring"},
    {82, true, "pouring"},
    {66, true, "snowy-rainy"},
    {71, true, "snowy"},
    {86, true, "snowy"},
    {95, true, "lightning-rainy"},
    {99, true, "lightning-rainy"},
    {4, true, NULL},
    {-1, true, NULL},
    {100, true, NULL},
};

static const code_case owm_cases[] = {
    {200, true, "lightning-rainy"},
    {211, true, "lightning"},
    {301, true, "rainy"},
    {500, true, "rainy"},
    {502, true, "pouring"},
    {511, true, "snowy-rainy"},
    {601, true, "snowy"},
    {615, true, "snowy-rainy"},
    {741, true, "fog"},
    {781, true, "exceptional"},
    {771, true, "windy-variant"},
    {800, true, "sunny"},
    {800, false, "clear-night"},
    {802, true, "partlycloudy"},
    {804, true, "cloudy"},
    {900, true, NULL},
    {0, true, NULL},
};

START_TEST(test_wmo)
{
    const code_case *c = &wmo_cases[_i];
    const char *got = weather_wmo_condition(c->code, c->day);
    if (!c->condition)
        ck_assert_msg(got == NULL, "wmo %d: %s", c->code, got);
    else
        ck_assert_msg(got && strcmp(got, c->condition) == 0, "wmo %d: %s", c->code,
                      got ? got : "NULL");
}
END_TEST

START_TEST(test_owm_codes)
{
    const code_case *c = &owm_cases[_i];
    const char *got = weather_owm_condition(c->code, c->day);
    if (!c->condition)
        ck_assert_msg(got == NULL, "owm %d: %s", c->code, got);
    else
        ck_assert_msg(got && strcmp(got, c->condition) == 0, "owm %d: %s", c->code,
                      got ? got : "NULL");
}
END_TEST

typedef struct {
    const char *unit;
    double in;
    int rc;
    double out;
    const char *to;
} unit_case;

static const unit_case unit_cases[] = {
    {"°F", 212, 1, 100, "°C"},
    {"°F", -40, 1, -40, "°C"},
    {"°F", 32, 1, 0, "°C"},
    {"mph", 10, 1, 16.09344, "km/h"},
    {"inHg", 29.92, 1, 1013.20749, "hPa"},
    {"°C", 5, 0, 5, NULL},
    {"F", 5, 0, 5, NULL},
    {"MPH", 5, 0, 5, NULL},
    {"hPa", 5, 0, 5, NULL},
    {"", 5, 0, 5, NULL},
    /* Overflow: the value keeps its unit. */
    {"inHg", 1e308, 0, 1e308, NULL},
    {"mph", -1.5e308, 0, -1.5e308, NULL},
};

START_TEST(test_units)
{
    const unit_case *c = &unit_cases[_i];
    double v = c->in;
    const char *to = NULL;
    int rc = units_to_metric(c->unit, &v, &to);
    ck_assert_int_eq(rc, c->rc);
    ck_assert_msg(fabs(v - c->out) < 1e-4 * (fabs(c->out) > 1 ? fabs(c->out) : 1),
                  "%s: %g", c->unit, v);
    if (c->to)
        ck_assert_str_eq(to, c->to);
    else
        ck_assert_ptr_null(to);
}
END_TEST

START_TEST(test_units_null)
{
    double v = 1;
    const char *to = NULL;
    ck_assert_int_eq(units_to_metric(NULL, &v, &to), 0);
}
END_TEST

/* A unit longer than its field is cut before a whole character, never in
 * the middle of one, so the observation still renders as JSON (found by
 * fuzz-enrich: "time_n\u00b0C" cut to 7 bytes ended in half a '°'); a
 * condition likewise. */
START_TEST(test_long_units_cut_whole)
{
    static const char body[] =
        "{\"current_units\":{\"temperature_2m\":\"time_n\u00b0C\","
        "\"surface_pressure\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\"},"
        "\"current\":{\"time\":\"2026-11-21T23:45\",\"temperature_2m\":4.5,"
        "\"relative_humidity_2m\":93,\"surface_pressure\":1011,\"weather_code\":61,"
        "\"wind_speed_10m\":10,\"is_day\":0}}";
    weather_obs o;
    char err[256];
    ck_assert_int_eq(weather_parse_open_meteo(body, strlen(body), &o, err, sizeof err),
                     0);
    ck_assert_str_eq(o.temperature_unit, "time_n");
    ck_assert_str_eq(o.pressure_unit, "\xc3\xa9\xc3\xa9\xc3\xa9");
    for (int metric = 0; metric < 2; metric++) {
        if (metric)
            weather_to_metric(&o);
        json_t *j = weather_to_json(&o, o.observed_at_ns, false);
        ck_assert_ptr_nonnull(j);
        json_decref(j);
    }
    json_t *attrs = json_pack("{s:f,s:s}", "temperature", 3.0, "temperature_unit",
                              "\xc2\xb0\xc2\xb0\xc2\xb0\xc2\xb0");
    json_t *entity =
        json_pack("{s:s,s:s,s:s,s:o}", "entity_id", "weather.home", "state",
                  "a condition of thirty bytes, \xc3\xa9\xc3\xa9", "last_updated",
                  "2026-11-21T23:45:00+00:00", "attributes", attrs);
    ck_assert_int_eq(weather_from_entity(entity, &o, err, sizeof err), 0);
    ck_assert_str_eq(o.temperature_unit, "\xc2\xb0\xc2\xb0\xc2\xb0");
    ck_assert_str_eq(o.condition, "a condition of thirty bytes, \xc3\xa9");
    json_t *j = weather_to_json(&o, o.observed_at_ns, false);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
    json_decref(entity);
}
END_TEST

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
    return j;
}

typedef struct {
    const char *name;
    const char *state;
    int rc;
    double temperature;
    const char *temperature_unit;
    const char *err;
} entity_case;

static const entity_case entity_cases[] = {
    {"met.no entity",
     "{\"state\":\"partlycloudy\",\"attributes\":{\"temperature\":7.1,\"dew_point\":2.0,"
     "\"temperature_unit\":\"°C\",\"humidity\":71,\"cloud_coverage\":40.6,\"pressure\":"
     "1012.4,"
     "\"pressure_unit\":\"hPa\",\"wind_bearing\":225.5,\"wind_speed\":14.4,\"wind_speed_"
     "unit\":"
     "\"km/"
     "h\",\"visibility_unit\":\"km\",\"precipitation_unit\":\"mm\",\"attribution\":\"Met."
     "no\",\"friendly_name\":\"Forecast "
     "Home\"},\"last_changed\":\"2026-11-21T22:00:00+00:00\","
     "\"last_updated\":\"2026-11-21T22:30:00.5+00:00\"}",
     0, 7.1, "°C", NULL},
    {"imperial entity",
     "{\"state\":\"sunny\",\"attributes\":{\"temperature\":70,\"temperature_unit\":"
     "\"°F\","
     "\"pressure\":30.1,\"pressure_unit\":\"inHg\",\"wind_speed\":5,\"wind_speed_unit\":"
     "\"mph\"}"
     ",\"last_updated\":\"2026-11-21T22:30:00+00:00\"}",
     0, 70, "°F", NULL},
    {"unavailable",
     "{\"state\":\"unavailable\",\"attributes\":{},\"last_updated\":"
     "\"2026-11-21T22:30:00+00:00\"}",
     -1, 0, NULL, "unavailable"},
    {"no temperature",
     "{\"state\":\"sunny\",\"attributes\":{},\"last_updated\":"
     "\"2026-11-21T22:30:00+00:00\"}",
     -1, 0, NULL, "temperature"},
    {"bad time",
     "{\"state\":\"sunny\",\"attributes\":{\"temperature\":1},\"last_updated\":5}", -1, 0,
     NULL, "last_updated"},
    {"no state", "{\"attributes\":{\"temperature\":1}}", -1, 0, NULL, "no state"},
    {"last_updated before the epoch",
     "{\"state\":\"sunny\",\"attributes\":{\"temperature\":1},\"last_updated\":"
     "\"1969-12-31T23:59:59+00:00\"}",
     -1, 0, NULL, "out of range"},
};

START_TEST(test_entity)
{
    const entity_case *c = &entity_cases[_i];
    json_t *st = load(c->state);
    weather_obs o;
    char err[256] = "";
    int rc = weather_from_entity(st, &o, err, sizeof err);
    ck_assert_msg(rc == c->rc, "%s: rc %d (%s)", c->name, rc, err);
    if (rc == 0) {
        ck_assert(fabs(o.temperature - c->temperature) < 1e-9);
        ck_assert_str_eq(o.temperature_unit, c->temperature_unit);
        ck_assert_str_eq(o.provider, "entity");
    } else {
        ck_assert_msg(strstr(err, c->err) != NULL, "%s: %s", c->name, err);
    }
    json_decref(st);
}
END_TEST

START_TEST(test_metric_and_json)
{
    json_t *st = load(entity_cases[1].state);
    weather_obs o;
    char err[128];
    ck_assert_int_eq(weather_from_entity(st, &o, err, sizeof err), 0);
    weather_to_metric(&o);
    ck_assert(fabs(o.temperature - 21.111111111) < 1e-6);
    ck_assert_str_eq(o.temperature_unit, "°C");
    ck_assert(fabs(o.pressure - 1019.30298866767) < 1e-6);
    ck_assert_str_eq(o.pressure_unit, "hPa");
    ck_assert(fabs(o.wind_speed - 8.04672) < 1e-9);
    ck_assert_str_eq(o.wind_speed_unit, "km/h");

    int64_t observed = o.observed_at_ns;
    json_t *j = weather_to_json(&o, observed + 90 * NS + NS / 2, true);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "age_s")), 90);
    ck_assert(json_is_true(json_object_get(j, "stale")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "observed_at")),
                     "2026-11-21T22:30:00.000000+00:00");
    ck_assert_str_eq(json_string_value(json_object_get(j, "condition")), "sunny");
    ck_assert_str_eq(json_string_value(json_object_get(j, "provider")), "entity");
    ck_assert(json_is_null(json_object_get(j, "humidity")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "units"), "temperature")),
        "°C");
    json_decref(j);

    /* An observation from the future has age 0; unknown condition is null. */
    o.condition[0] = '\0';
    j = weather_to_json(&o, observed - 10 * NS, false);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "age_s")), 0);
    ck_assert(json_is_false(json_object_get(j, "stale")));
    ck_assert(json_is_null(json_object_get(j, "condition")));
    json_decref(j);
    json_decref(st);
}
END_TEST

static Suite *weather_suite(void)
{
    Suite *s = suite_create("weather");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_parse, 0, sizeof parse_cases / sizeof parse_cases[0]);
    tcase_add_loop_test(tc, test_wmo, 0, sizeof wmo_cases / sizeof wmo_cases[0]);
    tcase_add_loop_test(tc, test_owm_codes, 0, sizeof owm_cases / sizeof owm_cases[0]);
    tcase_add_loop_test(tc, test_units, 0, sizeof unit_cases / sizeof unit_cases[0]);
    tcase_add_test(tc, test_units_null);
    tcase_add_test(tc, test_long_units_cut_whole);
    tcase_add_loop_test(tc, test_entity, 0, sizeof entity_cases / sizeof entity_cases[0]);
    tcase_add_test(tc, test_metric_and_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(weather_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
