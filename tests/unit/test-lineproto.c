/* test-lineproto.c - unit tests for the writer's line-protocol encoder:
 * the escaping table, float formatting, Python's float(), HA's event_to_json
 * mapping on real-shaped events, the events schema, homestream_stats
 * records in both schemas, and the property that no input adds, splits or
 * merges a line (checked with a reference parser that follows influxd 1.6's
 * scanner). */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hs_statsrec.h"
#include "lineproto.h"
#include "msgjson.h"

/* ---- the escaping table ------------------------------------------------ */

typedef struct {
    lineproto_part part;
    const char *in;
    const char *out;
} esc_case;

#define M LINEPROTO_MEASUREMENT
#define K LINEPROTO_KEY
#define S LINEPROTO_STRING
#define F LINEPROTO_FIELD_KEY
#define FFFD "\xEF\xBF\xBD"
#define RSO "\xE2\xA7\xB5"

static const esc_case esc_cases[] = {
    /* plain text and UTF-8 pass */
    {M, "temperature", "temperature"},
    {K, "Living room", "Living\\ room"},
    {S, "Living room", "Living room"},
    {M,
     "\xC2\xB0"
     "C",
     "\xC2\xB0"
     "C"},
    {K, "\xE2\x82\xAC", "\xE2\x82\xAC"},
    {S, "\xF0\x9F\x8F\xA0", "\xF0\x9F\x8F\xA0"},
    /* comma at start, middle, end */
    {M, ",a", "\\,a"},
    {M, "a,b", "a\\,b"},
    {M, "a,", "a\\,"},
    {K, ",a", "\\,a"},
    {K, "a,b", "a\\,b"},
    {K, "a,", "a\\,"},
    {S, ",a,", ",a,"},
    /* space */
    {M, " a", "\\ a"},
    {M, "a b", "a\\ b"},
    {M, "a ", "a\\ "},
    {K, " a", "\\ a"},
    {K, "a b", "a\\ b"},
    {K, "a ", "a\\ "},
    {S, " a b ", " a b "},
    /* equals: only keys and tag values */
    {M, "=a=b=", "=a=b="},
    {K, "=a", "\\=a"},
    {K, "a=b", "a\\=b"},
    {K, "a=", "a\\="},
    {S, "a=b", "a=b"},
    /* double quote: only string values */
    {M, "\"a\"", "\"a\""},
    {K, "\"a\"", "\"a\""},
    {S, "\"a", "\\\"a"},
    {S, "a\"b", "a\\\"b"},
    {S, "a\"", "a\\\""},
    /* backslash: kept in names, doubled in strings; trailing one replaced */
    {M, "\\a", "\\a"},
    {M, "a\\b", "a\\b"},
    {M, "a\\", "a" RSO},
    {M, "\\", RSO},
    /* before what influxd unescapes in a measurement (twice), replaced too */
    {M, "a\\,b", "a" RSO "\\,b"},
    {M, "a\\ b", "a" RSO "\\ b"},
    {M, "a\\=b", "a" RSO "=b"},
    {M, "a\\\"b", "a" RSO "\"b"},
    {M, "a\\\\=b", "a\\" RSO "=b"},
    {K, "\\a", "\\a"},
    {K, "a\\b", "a\\b"},
    {K, "a\\", "a" RSO},
    {K, "a\\,b", "a\\\\,b"},
    {K, "a\\ b", "a\\\\ b"},
    {K, "a\\=b", "a\\\\=b"},
    {K, "a\\\\", "a\\" RSO},
    {S, "\\a", "\\\\a"},
    {S, "a\\b", "a\\\\b"},
    {S, "a\\", "a\\\\"},
    {S, "\\\"", "\\\\\\\""},
    /* newline and carriage return */
    {M, "\na", "\\na"},
    {M, "a\nb", "a\\nb"},
    {M, "a\n", "a\\n"},
    {M, "a\rb", "a\\rb"},
    {K, "\na", "\\na"},
    {K, "a\nb", "a\\nb"},
    {K, "a\n", "a\\n"},
    {K, "a\r\n", "a\\r\\n"},
    {S, "a\nb", "a\nb"},
    {S, "\r\n", "\r\n"},
    /* field keys: influxd reads a backslash and the byte after it as a pair,
     * so a backslash before a special character or another backslash is
     * doubled to stay a harmless pair */
    {F, "a b", "a\\ b"},
    {F, "a=b", "a\\=b"},
    {F, "a,b", "a\\,b"},
    {F, "\"a\"", "\"a\""},
    {F, "a\\b", "a\\b"},
    {F, "a\\,b", "a\\\\\\,b"},
    {F, "a\\ b", "a\\\\\\ b"},
    {F, "a\\=b", "a\\\\\\=b"},
    {F, "a\\\\b", "a\\\\\\b"},
    {F, "a\\\nb", "a\\\\\\nb"},
    {F, "a\\", "a" RSO},
    {F, "a\\\\", "a\\\\" RSO},
    {F, "#a", "#a"},
    /* '#' only matters at the start of a measurement (a comment line) */
    {M, "#a", "\\#a"},
    {M, "a#", "a#"},
    {K, "#a", "#a"},
    {S, "#a", "#a"},
    /* tab is an ordinary character, but at the start of a line influxd
     * skips it (and would then take a '#' for a comment) */
    {M, "\tx", "\\tx"},
    {M, "\t#x", "\\t#x"},
    {K, "\tx", "\tx"},
    {M, "a\tb", "a\tb"},
    {K, "a\tb", "a\tb"},
    {S, "a\tb", "a\tb"},
    /* invalid UTF-8 becomes U+FFFD, byte by byte */
    {M,
     "a\xFF"
     "b",
     "a" FFFD "b"},
    {K, "\xC3\x28", FFFD "("},
    {S, "\xC0\xAF", FFFD FFFD},                   /* overlong '/' */
    {S, "\xED\xA0\x80", FFFD FFFD FFFD},          /* surrogate */
    {S, "\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* past U+10FFFF */
    {K, "\xE2\x82", FFFD FFFD},                   /* truncated */
    {M, "\x80", FFFD},
};

START_TEST(test_escape_table)
{
    const esc_case *c = &esc_cases[_i];
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_append_escaped(&b, c->part, c->in, strlen(c->in)), 0);
    ck_assert_msg(b.len == strlen(c->out) && memcmp(b.data, c->out, b.len) == 0,
                  "case %d: part %d of \"%s\": got \"%s\", want \"%s\"", _i, (int)c->part,
                  c->in, b.data, c->out);
    lineproto_buf_fini(&b);
}
END_TEST

START_TEST(test_escape_nul)
{
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_append_escaped(&b, LINEPROTO_STRING, "a\0b", 3), 0);
    ck_assert_str_eq(b.data, "a" FFFD "b");
    lineproto_buf_fini(&b);
}
END_TEST

/* ---- floats ------------------------------------------------------------ */

typedef struct {
    double v;
    const char *out;
} dbl_case;

static const dbl_case dbl_cases[] = {
    {21.5, "21.5"},
    {0.1, "0.1"},
    {100, "100"},
    {-0.0, "-0"},
    {1e20, "1e+20"},
    {1.5e-7, "1.5e-07"},
    {123456789012.0, "123456789012"},
    {1.0 / 3.0, "0.3333333333333333"},
    {1e16, "10000000000000000"},
    {1.5e-5, "0.000015"},
    {-2500, "-2500"},
    {1e17, "1e+17"},
    {5e-324, "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {0.30000000000000004, "0.30000000000000004"},
};

START_TEST(test_double)
{
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_append_double(&b, dbl_cases[_i].v), 0);
    /* The output must read back exactly and be no longer than needed. */
    ck_assert(strtod(b.data, NULL) == dbl_cases[_i].v);
    ck_assert_str_eq(b.data, dbl_cases[_i].out);
    lineproto_buf_fini(&b);
}
END_TEST

/* Random doubles of every magnitude: the output reads back exactly and is
 * as short as the shortest %g form that does. */
START_TEST(test_double_random)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        if (i % 3 == 0) {
            memcpy(&v, &x, sizeof v);
        } else {
            v = (double)(x % 100000000) / (i % 2 ? 1000.0 : 10.0);
        }
        if (!isfinite(v))
            continue;
        lineproto_buf b;
        lineproto_buf_init(&b);
        ck_assert_int_eq(lineproto_append_double(&b, v), 0);
        ck_assert_msg(strtod(b.data, NULL) == v, "%.17g printed as %s", v, b.data);
        char ref[48];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(ref, sizeof ref, "%.*g", prec, v);
            if (strtod(ref, NULL) == v)
                break;
        }
        size_t digits = 0, rdigits = 0;
        for (const char *p = b.data; *p && *p != 'e'; p++)
            digits += (*p >= '0' && *p <= '9');
        for (const char *p = ref; *p && *p != 'e'; p++)
            rdigits += (*p >= '0' && *p <= '9');
        /* plain decimals may add zeros ("0.000015"), never significant digits */
        if (strchr(b.data, 'e') != NULL || strchr(ref, 'e') == NULL)
            ck_assert_msg(digits <= rdigits, "%.17g: %s longer than %s", v, b.data, ref);
        ck_assert_ptr_null(strpbrk(b.data, " ,=\n"));
        lineproto_buf_fini(&b);
    }
}
END_TEST

START_TEST(test_double_nonfinite)
{
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_append_double(&b, NAN), -2);
    ck_assert_int_eq(lineproto_append_double(&b, INFINITY), -2);
    ck_assert_int_eq(lineproto_append_double(&b, -INFINITY), -2);
    ck_assert_uint_eq(b.len, 0);
    lineproto_buf_fini(&b);
}
END_TEST

/* ---- Python's float() -------------------------------------------------- */

typedef struct {
    const char *in;
    int rc;
    double v; /* NAN: expect NaN */
} pyf_case;

static const pyf_case pyf_cases[] = {
    {"1", 0, 1},
    {"21.5", 0, 21.5},
    {" 1.5 ", 0, 1.5},
    {"\t-2\n", 0, -2},
    {"+3", 0, 3},
    {"1_000", 0, 1000},
    {"1_000.5_5", 0, 1000.55},
    {"1e5", 0, 1e5},
    {"1E-2", 0, 0.01},
    {".5", 0, 0.5},
    {"5.", 0, 5},
    {"1e999", 0, INFINITY},
    {"nan", 0, NAN},
    {"-NaN", 0, NAN},
    {"inf", 0, INFINITY},
    {"-Infinity", 0, -INFINITY},
    {"", -1, 0},
    {" ", -1, 0},
    {"abc", -1, 0},
    {"0x10", -1, 0},
    {"1__0", -1, 0},
    {"_1", -1, 0},
    {"1_", -1, 0},
    {"1e", -1, 0},
    {"1e_5", -1, 0},
    {".", -1, 0},
    {"1.5.2", -1, 0},
    {"12 km", -1, 0},
    {"nan(1)", -1, 0},
    {"infinit", -1, 0},
    {"--1", -1, 0},
    {"1._5", -1, 0},
};

START_TEST(test_pyfloat)
{
    const pyf_case *c = &pyf_cases[_i];
    double v = -12345;
    int rc = lineproto_parse_pyfloat(c->in, strlen(c->in), &v);
    ck_assert_msg(rc == c->rc, "\"%s\": rc %d", c->in, rc);
    if (rc == 0) {
        if (isnan(c->v))
            ck_assert(isnan(v));
        else
            ck_assert_msg(v == c->v, "\"%s\": %.17g", c->in, v);
    }
}
END_TEST

/* ---- the ha schema on real-shaped events ------------------------------- */

#define T "1763765318123456000"
#define BASE                                                                             \
    "\"schema\":1,\"site\":\"home\",\"event_type\":\"state_changed\",\"origin\":"        \
    "\"LOCAL\","                                                                         \
    "\"time_fired\":\"2025-11-21T22:48:38.123456+00:00\",\"time_ns\":" T ","

typedef struct {
    const char *name;
    const char *mattr;    /* NULL: unit_of_measurement */
    const char *def;      /* DEFAULT_MEASUREMENT */
    const char *override; /* INFLUX_OVERRIDE_MEASUREMENT */
    const char *msg;
    const char *line; /* NULL: no point; "!": an error */
    unsigned dropped;
} ha_case;

static const ha_case ha_cases[] = {
    {"numeric sensor with unit, area, weather and presence", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.living_room_temperature\",\"domain\":\"sensor\","
     "\"object_id\":\"living_room_temperature\",\"area\":\"Living Room\","
     "\"new_state\":{\"state\":\"21.5\",\"attributes\":{\"unit_of_measurement\":"
     "\"\xC2\xB0"
     "C\","
     "\"device_class\":\"temperature\",\"state_class\":\"measurement\","
     "\"friendly_name\":\"Living "
     "room\"},\"last_updated\":\"2025-11-21T22:48:38.123456+00:00\"},"
     "\"value\":21.5,\"unit\":\"\xC2\xB0"
     "C\",\"device_class\":\"temperature\","
     "\"weather\":{\"temperature\":7.5,\"humidity\":81,\"pressure\":1012.3,\"condition\":"
     "\"cloudy\",\"provider\":\"open-meteo\",\"age_s\":120,\"stale\":false},"
     "\"presence\":{\"anyone_home\":true,\"people_home\":2,\"people\":[]}}",
     "\xC2\xB0"
     "C,area=Living\\ Room,domain=sensor,entity_id=living_room_temperature,site=home "
     "value=21.5,device_class_str=\"temperature\",state_class_str=\"measurement\","
     "friendly_name_str=\"Living room\",weather_temperature=7.5,weather_humidity=81,"
     "weather_pressure=1012.3,weather_condition=\"cloudy\",anyone_home=true,people_home="
     "2 " T "\n",
     0},
    {"boolean-like state without unit: measurement is the entity_id", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"binary_sensor.front_door\",\"domain\":\"binary_sensor\","
     "\"object_id\":\"front_door\",\"new_state\":{\"state\":\"on\",\"attributes\":{"
     "\"device_class\":\"door\",\"friendly_name\":\"Front "
     "door\"}},\"value\":1,\"unit\":null}",
     "binary_sensor.front_door,domain=binary_sensor,entity_id=front_door,site=home "
     "state=\"on\",value=1,device_class_str=\"door\",friendly_name_str=\"Front door\" " T
     "\n",
     0},
    {"not_home is 0, domain split from entity_id when not given", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"person.anna\",\"new_state\":{\"state\":\"not_home\","
     "\"attributes\":{\"source\":\"device_tracker.phone\",\"latitude\":52.37,"
     "\"gps_accuracy\":12}},\"value\":0}",
     "person.anna,domain=person,entity_id=anna,site=home state=\"not_home\",value=0,"
     "source_str=\"device_tracker.phone\",latitude=52.37,gps_accuracy=12 " T "\n",
     0},
    {"light: integers, lists as JSON, digit tail of a list", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"light.kitchen\",\"domain\":\"light\",\"object_id\":\"kitchen\","
     "\"new_state\":{\"state\":\"off\",\"attributes\":{\"brightness\":255,"
     "\"supported_color_modes\":[\"brightness\"],\"rgb_color\":[255,0,0],\"effect\":null,"
     "\"is_group\":false}},\"value\":0}",
     "light.kitchen,domain=light,entity_id=kitchen,site=home state=\"off\",value=0,"
     "brightness=255,supported_color_modes_str=\"[\\\"brightness\\\"]\","
     "rgb_color_str=\"[255,0,0]\",rgb_color=25500,effect_str=\"None\",is_group=0 " T "\n",
     0},
    {"other state: text only; attribute clashes get a '_'", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"climate.hall\",\"domain\":\"climate\",\"object_id\":\"hall\","
     "\"new_state\":{\"state\":\"heat\",\"attributes\":{\"temperature\":21,"
     "\"current_temperature\":\"20.5\",\"state\":\"x\",\"hvac_modes\":[\"off\",\"heat\"]}"
     "},"
     "\"value\":null}",
     "climate.hall,domain=climate,entity_id=hall,site=home state=\"heat\",temperature=21,"
     "current_temperature=20.5,state__str=\"x\",hvac_modes_str=\"[\\\"off\\\","
     "\\\"heat\\\"]\" " T "\n",
     0},
    {"numeric state with an attribute named value", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.power\",\"domain\":\"sensor\",\"object_id\":\"power\","
     "\"new_state\":{\"state\":\"1200\",\"attributes\":{\"unit_of_measurement\":\"W\","
     "\"value\":7,\"version\":\"v1.2.3\",\"range\":\"12 "
     "km\"}},\"value\":1200,\"unit\":\"W\"}",
     "W,domain=sensor,entity_id=power,site=home "
     "value=1200,value_=7,version_str=\"v1.2.3\","
     "range_str=\"12 km\",range=12 " T "\n",
     0},
    {"unavailable is kept as state, with its unit as measurement", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.power\",\"domain\":\"sensor\",\"object_id\":\"power\","
     "\"new_state\":{\"state\":\"unavailable\",\"attributes\":{\"unit_of_measurement\":"
     "\"W\","
     "\"friendly_name\":\"Power\"}},\"value\":null,\"unit\":\"W\"}",
     "W,domain=sensor,entity_id=power,site=home "
     "state=\"unavailable\",friendly_name_str=\"Power\" " T "\n",
     0},
    {"unknown is kept as state, never value 0", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"domain\":\"sensor\",\"object_id\":\"x\","
     "\"new_state\":{\"state\":\"unknown\",\"attributes\":{}},\"value\":0}",
     "sensor.x,domain=sensor,entity_id=x,site=home state=\"unknown\" " T "\n", 0},
    {"empty state is kept", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"\",\"attributes\":{}}}",
     "sensor.x,domain=sensor,entity_id=x,site=home state=\"\" " T "\n", 0},
    {"NaN and infinite attributes are dropped and counted", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"3\",\"attributes\":{"
     "\"a\":\"nan\",\"b\":\"1e999\",\"c\":\"-inf\",\"d\":2}},\"value\":3}",
     "sensor.x,domain=sensor,entity_id=x,site=home value=3,d=2 " T "\n", 3},
    {"state nan: the NaN value is dropped, the text kept", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"nan\",\"attributes\":{}},"
     "\"value\":null}",
     "sensor.x,domain=sensor,entity_id=x,site=home state=\"nan\" " T "\n", 1},
    {"a word the enricher reads as a number: state and its value", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"cover.garage\",\"new_state\":{\"state\":\"opening\","
     "\"attributes\":{}},\"value\":1}",
     "cover.garage,domain=cover,entity_id=garage,site=home state=\"opening\",value=1 " T
     "\n",
     0},
    {"a word without enriched value: text only", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"cover.garage\",\"new_state\":{\"state\":\"opening\","
     "\"attributes\":{}},\"value\":null}",
     "cover.garage,domain=cover,entity_id=garage,site=home state=\"opening\" " T "\n", 0},
    {"Python's float() reads 1_000 even when the enricher did not", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"1_000\",\"attributes\":{}},"
     "\"value\":null}",
     "sensor.x,domain=sensor,entity_id=x,site=home value=1000 " T "\n", 0},
    {"without an enriched value, Python's float() decides", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\" 1_000 "
     "\",\"attributes\":{}}}",
     "sensor.x,domain=sensor,entity_id=x,site=home value=1000 " T "\n", 0},
    {"keys stored alike after replacement are written once (a newline vs \\n)", NULL,
     NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"3\",\"attributes\":{"
     "\"a\\n\":1,\"a\\\\n\":2,\"b\\\\,\":3}},\"value\":3}",
     "sensor.x,domain=sensor,entity_id=x,site=home value=3,a\\n=1,b\\\\\\,=3 " T "\n", 1},
    {"an attribute named time becomes time_ (influxd refuses the key time)", NULL, NULL,
     NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"3\",\"attributes\":{"
     "\"time\":5,\"mode\":\"x\"}},\"value\":3}",
     "sensor.x,domain=sensor,entity_id=x,site=home value=3,time_=5,mode_str=\"x\" " T
     "\n",
     0},
    {"bool attributes are numbers, as float(True) in Python", NULL, NULL, NULL,
     "{" BASE
     "\"entity_id\":\"switch.x\",\"new_state\":{\"state\":\"on\",\"attributes\":{"
     "\"assumed_state\":true}},\"value\":1}",
     "switch.x,domain=switch,entity_id=x,site=home "
     "state=\"on\",value=1,assumed_state=1 " T "\n",
     0},
    {"DEFAULT_MEASUREMENT for states without unit", NULL, "state", NULL,
     "{" BASE
     "\"entity_id\":\"switch.x\",\"new_state\":{\"state\":\"off\",\"attributes\":{}},"
     "\"value\":0}",
     "state,domain=switch,entity_id=x,site=home state=\"off\",value=0 " T "\n", 0},
    {"empty unit falls back too, and is written as a field", NULL, "units", NULL,
     "{" BASE "\"entity_id\":\"sensor.x\",\"new_state\":{\"state\":\"1\",\"attributes\":{"
     "\"unit_of_measurement\":\"\"}},\"value\":1}",
     "units,domain=sensor,entity_id=x,site=home value=1,unit_of_measurement_str=\"\" " T
     "\n",
     0},
    {"override measurement", NULL, "ignored", "ha",
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\",\"attributes\":{"
     "\"unit_of_measurement\":\"W\"}},\"value\":1,\"unit\":\"W\"}",
     "ha,domain=sensor,entity_id=t,site=home value=1,unit_of_measurement_str=\"W\" " T
     "\n",
     0},
    {"measurement_attr domain__device_class", "domain__device_class", NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\",\"attributes\":{"
     "\"unit_of_measurement\":\"W\",\"device_class\":\"power\"}},\"value\":1,\"unit\":"
     "\"W\"}",
     "sensor__power,domain=sensor,entity_id=t,site=home "
     "value=1,unit_of_measurement_str=\"W\" " T "\n",
     0},
    {"measurement_attr domain__device_class without device class", "domain__device_class",
     NULL, NULL,
     "{" BASE
     "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\",\"attributes\":{}},"
     "\"value\":1}",
     "sensor,domain=sensor,entity_id=t,site=home value=1 " T "\n", 0},
    {"measurement_attr device_class", "device_class", NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\",\"attributes\":{"
     "\"unit_of_measurement\":\"W\",\"device_class\":\"power\"}},\"value\":1,\"unit\":"
     "\"W\"}",
     "power,domain=sensor,entity_id=t,site=home value=1,unit_of_measurement_str=\"W\","
     "device_class_str=\"power\" " T "\n",
     0},
    {"measurement_attr entity_id", "entity_id", NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\",\"attributes\":{"
     "\"unit_of_measurement\":\"W\"}},\"value\":1,\"unit\":\"W\"}",
     "sensor.t,domain=sensor,entity_id=t,site=home "
     "value=1,unit_of_measurement_str=\"W\" " T "\n",
     0},
    {"time from last_updated when time_ns is missing", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"state_changed\",\"entity_id\":"
     "\"sensor.t\","
     "\"new_state\":{\"state\":\"1\",\"attributes\":{},"
     "\"last_updated\":\"2025-11-21T22:48:38.123456+00:00\"}}",
     "sensor.t,domain=sensor,entity_id=t,site=home value=1 " T "\n", 0},
    {"weather record", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"weather\",\"entity_id\":null,"
     "\"time_fired\":\"2025-11-21T22:48:38.123456+00:00\",\"time_ns\":" T ",\"weather\":{"
     "\"temperature\":7.5,\"humidity\":81,\"pressure\":1012.3,\"condition\":\"cloudy\","
     "\"provider\":\"open-meteo\",\"observed_at\":\"x\",\"age_s\":0,\"stale\":false}}",
     "weather,provider=open-meteo,site=home temperature=7.5,humidity=81,pressure=1012.3,"
     "condition=\"cloudy\",age_s=0 " T "\n",
     0},
    {"presence record", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"presence\",\"entity_id\":null,"
     "\"time_ns\":" T
     ",\"presence\":{\"anyone_home\":false,\"people_home\":0,\"people\":[]}}",
     "presence,site=home anyone_home=false,people_home=0 " T "\n", 0},
    {"weather record without observation: no point", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"weather\",\"time_ns\":" T
     ",\"weather\":null}",
     NULL, 0},
    {"weather record without values: no point", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"weather\",\"time_ns\":" T
     ",\"weather\":{\"provider\":\"open-meteo\",\"temperature\":null}}",
     NULL, 0},
    {"presence record without values: no point", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"presence\",\"time_ns\":" T
     ",\"presence\":{\"people\":[]}}",
     NULL, 0},
    {"entity removed: no point", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":null}", NULL, 0},
    {"other event types: no point", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"call_service\",\"time_ns\":1,"
     "\"data\":{}}",
     NULL, 0},
    {"no time at all: error", NULL, NULL, NULL,
     "{\"schema\":1,\"site\":\"home\",\"event_type\":\"state_changed\",\"entity_id\":"
     "\"sensor.t\","
     "\"new_state\":{\"state\":\"1\"}}",
     "!", 0},
    {"state not a string: error", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":1}}", "!", 0},
    {"no entity_id: error", NULL, NULL, NULL, "{" BASE "\"new_state\":{\"state\":\"1\"}}",
     "!", 0},
    {"malformed entity_id: error", NULL, NULL, NULL,
     "{" BASE "\"entity_id\":\"nodot\",\"new_state\":{\"state\":\"1\"}}", "!", 0},
    {"no event_type: error", NULL, NULL, NULL, "{\"time_ns\":1}", "!", 0},
    {"not an object: error", NULL, NULL, NULL, "[1]", "!", 0},
};

static void opts_for(lineproto_opts *o, const char *mattr, const char *def,
                     const char *ovr)
{
    memset(o, 0, sizeof *o);
    o->schema = LINEPROTO_SCHEMA_HA;
    ck_assert_int_eq(lineproto_mattr_parse(mattr ? mattr : "unit_of_measurement",
                                           &o->measurement_attr),
                     0);
    o->default_measurement = def;
    o->override_measurement = ovr;
}

START_TEST(test_ha_schema)
{
    const ha_case *c = &ha_cases[_i];
    json_error_t jerr;
    json_t *msg = json_loads(c->msg, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(msg != NULL, "%s: bad test JSON: %s", c->name, jerr.text);
    lineproto_opts o;
    opts_for(&o, c->mattr, c->def, c->override);
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_buf_append(&b, "prev\n", 5), 0);
    lineproto_info info;
    char err[256] = "";
    int rc = lineproto_encode(msg, &o, &b, &info, err, sizeof err);
    if (c->line != NULL && strcmp(c->line, "!") == 0) {
        ck_assert_msg(rc == -1, "%s: expected an error", c->name);
        ck_assert_msg(err[0] != '\0', "%s: no reason", c->name);
        ck_assert_str_eq(b.data, "prev\n");
    } else if (c->line == NULL) {
        ck_assert_msg(rc == 0, "%s: %s", c->name, err);
        ck_assert_uint_eq(info.points, 0);
        ck_assert_ptr_nonnull(info.skip_reason);
        ck_assert_str_eq(b.data, "prev\n");
    } else {
        ck_assert_msg(rc == 0, "%s: %s", c->name, err);
        ck_assert_uint_eq(info.points, 1);
        ck_assert_msg(strcmp(b.data + 5, c->line) == 0, "%s:\n got  %s want %s", c->name,
                      b.data + 5, c->line);
        ck_assert_uint_eq(info.dropped_fields, c->dropped);
    }
    lineproto_buf_fini(&b);
    json_decref(msg);
}
END_TEST

/* ---- the events schema ------------------------------------------------- */

START_TEST(test_events_schema)
{
    static const struct {
        const char *msg;
        const char *line;
    } cases[] = {
        {"{" BASE "\"entity_id\":\"sensor.t\",\"domain\":\"sensor\",\"object_id\":\"t\","
         "\"area\":\"Hall\",\"new_state\":{\"state\":\"21.5\",\"attributes\":{\"a\":1}},"
         "\"old_state\":{\"state\":\"21\"},\"value\":21.5,\"unit\":\"W\",\"backfill\":"
         "false}",
         "home_assistant_events,area=Hall,domain=sensor,entity_id=sensor.t,"
         "event_type=state_changed,site=home state=\"21.5\",attributes=\"{\\\"a\\\":1}\","
         "old_state=\"21\",value=21.5,unit=\"W\",backfill=false " T "\n"},
        {"{" BASE "\"entity_id\":\"sensor.t\",\"new_state\":null}",
         "home_assistant_events,domain=sensor,entity_id=sensor.t,event_type=state_"
         "changed,"
         "site=home removed=true " T "\n"},
        {"{\"schema\":1,\"site\":\"home\",\"event_type\":\"weather\",\"time_ns\":" T
         ",\"weather\":{\"temperature\":1}}",
         "home_assistant_events,event_type=weather,site=home "
         "data=\"{\\\"temperature\\\":1}\" " T "\n"},
        {"{\"schema\":1,\"site\":\"home\",\"event_type\":\"call_service\",\"time_ns\":" T
         "}",
         "home_assistant_events,event_type=call_service,site=home data=\"{}\" " T "\n"},
    };
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_EVENTS};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *msg = json_loads(cases[i].msg, 0, NULL);
        ck_assert_ptr_nonnull(msg);
        lineproto_buf b;
        lineproto_buf_init(&b);
        lineproto_info info;
        char err[128];
        ck_assert_int_eq(lineproto_encode(msg, &o, &b, &info, err, sizeof err), 0);
        ck_assert_msg(b.data && strcmp(b.data, cases[i].line) == 0,
                      "case %zu:\n got  %s want %s", i, b.data ? b.data : "(none)",
                      cases[i].line);
        lineproto_buf_fini(&b);
        json_decref(msg);
    }
}
END_TEST

/* ---- homestream_stats records (hs_statsrec.h), both schemas ------------ */

#define STATS_HEAD                                                                       \
    "{\"schema\":1,\"event_type\":\"homestream_stats\",\"site\":\"home\","               \
    "\"stage\":\"writer\",\"entity_id\":null,\"time_ns\":" T ","

typedef struct {
    const char *name;
    const char *msg;
    const char *line; /* NULL: no point; "!": an error */
    unsigned dropped;
} stats_case;

static const stats_case stats_cases[] = {
    {"the writer's record as hs_statsrec_build makes it",
     STATS_HEAD "\"stats\":{\"events_in_total\":120.0,\"events_out_total\":118.0,"
                "\"errors_total\":0.0,\"dlq_total\":2.0,\"consumer_lag\":3.0,"
                "\"write_latency_p50_ms\":4.5,\"write_latency_p99_ms\":31.25,"
                "\"health\":1.0,\"breaker_influxdb_state\":2.0}}",
     "homestream,site=home,stage=writer events_in_total=120,events_out_total=118,"
     "errors_total=0,dlq_total=2,consumer_lag=3,write_latency_p50_ms=4.5,"
     "write_latency_p99_ms=31.25,health=1,breaker_influxdb_state=2 " T "\n",
     0},
    {"integers and large numbers are floats too",
     STATS_HEAD "\"stats\":{\"n\":-5,\"big\":1e20,\"small\":0.000125}}",
     "homestream,site=home,stage=writer n=-5,big=1e+20,small=0.000125 " T "\n", 0},
    {"keys are escaped like any field key, tag values like any tag",
     "{\"schema\":1,\"event_type\":\"homestream_stats\",\"site\":\"my home\","
     "\"stage\":\"a,b=c\",\"entity_id\":null,\"time_ns\":" T ",\"stats\":{"
     "\"a b\":1,\"c,d\":2,\"e=f\":3,\"g\\\\\":4,\"h\\n\":5,\"i\\\\,j\":6}}",
     "homestream,site=my\\ home,stage=a\\,b\\=c a\\ b=1,c\\,d=2,e\\=f=3,g" RSO "=4,"
     "h\\n=5,i\\\\\\,j=6 " T "\n",
     0},
    {"entries that are not numbers, and an empty key, are left out and counted",
     STATS_HEAD "\"stats\":{\"a\":\"1\",\"b\":true,\"c\":null,\"d\":[1],\"e\":{},"
                "\"\":1,\"f\":2}}",
     "homestream,site=home,stage=writer f=2 " T "\n", 6},
    {"a key named time becomes time_ (influxd refuses it); the first time_ wins",
     STATS_HEAD "\"stats\":{\"time\":1,\"time_\":2,\"x\":3}}",
     "homestream,site=home,stage=writer time_=1,x=3 " T "\n", 1},
    {"keys stored alike after replacement are written once",
     STATS_HEAD "\"stats\":{\"a\\n\":1,\"a\\\\n\":2}}",
     "homestream,site=home,stage=writer a\\n=1 " T "\n", 1},
    {"no stage or site: those tags are left out",
     "{\"schema\":1,\"event_type\":\"homestream_stats\",\"site\":\"\",\"time_ns\":" T
     ",\"stats\":{\"health\":0}}",
     "homestream health=0 " T "\n", 0},
    {"no numbers at all: no point", STATS_HEAD "\"stats\":{\"a\":\"x\"}}", NULL, 1},
    {"empty stats: no point", STATS_HEAD "\"stats\":{}}", NULL, 0},
    {"stats missing: no point", STATS_HEAD "\"x\":1}", NULL, 0},
    {"stats not an object: no point", STATS_HEAD "\"stats\":[1,2]}", NULL, 0},
    {"no time: error",
     "{\"schema\":1,\"event_type\":\"homestream_stats\",\"site\":\"home\","
     "\"stage\":\"writer\",\"stats\":{\"health\":0}}",
     "!", 0},
};

#define NSTATS ((int)(sizeof stats_cases / sizeof stats_cases[0]))

/* Each case runs in the ha schema (_i < NSTATS) and in the events schema,
 * which must give the same line. */
START_TEST(test_stats_record)
{
    const stats_case *c = &stats_cases[_i % NSTATS];
    lineproto_opts o;
    opts_for(&o, NULL, "ignored", NULL);
    if (_i >= NSTATS)
        o.schema = LINEPROTO_SCHEMA_EVENTS;
    const char *schema = _i >= NSTATS ? "events" : "ha";
    json_error_t jerr;
    json_t *msg = json_loads(c->msg, 0, &jerr);
    ck_assert_msg(msg != NULL, "%s: bad test JSON: %s", c->name, jerr.text);
    lineproto_buf b;
    lineproto_buf_init(&b);
    ck_assert_int_eq(lineproto_buf_append(&b, "prev\n", 5), 0);
    lineproto_info info;
    char err[256] = "";
    int rc = lineproto_encode(msg, &o, &b, &info, err, sizeof err);
    if (c->line != NULL && strcmp(c->line, "!") == 0) {
        ck_assert_msg(rc == -1 && err[0] != '\0', "%s (%s): expected an error", c->name,
                      schema);
        ck_assert_str_eq(b.data, "prev\n");
    } else if (c->line == NULL) {
        ck_assert_msg(rc == 0, "%s (%s): %s", c->name, schema, err);
        ck_assert_uint_eq(info.points, 0);
        ck_assert_ptr_nonnull(info.skip_reason);
        ck_assert_str_eq(b.data, "prev\n");
        ck_assert_uint_eq(info.dropped_fields, c->dropped);
    } else {
        ck_assert_msg(rc == 0, "%s (%s): %s", c->name, schema, err);
        ck_assert_uint_eq(info.points, 1);
        ck_assert_msg(strcmp(b.data + 5, c->line) == 0, "%s (%s):\n got  %s want %s",
                      c->name, schema, b.data + 5, c->line);
        ck_assert_uint_eq(info.dropped_fields, c->dropped);
    }
    lineproto_buf_fini(&b);
    json_decref(msg);
}
END_TEST

/* The record hs_statsrec_build makes from the writer's /stats and /health
 * carries the fields the Pipeline dashboard reads (docs/dashboards.md). */
START_TEST(test_stats_record_from_statsrec)
{
    json_t *stats = json_loads(
        "{\"stage\":\"writer\",\"events_in_total\":10,\"events_out_total\":9,"
        "\"errors_total\":1,\"dlq_total\":1,\"consumer_lag\":{\"0\":4},"
        "\"consumer_lag_total\":4,\"write_latency_ms\":{\"p50\":2.5,\"p90\":5,"
        "\"p99\":8,\"samples\":3},\"breakers\":{\"influxdb\":{\"state\":\"half-open\"}}}",
        0, NULL);
    json_t *health =
        json_loads("{\"status\":\"degraded\",\"stage\":\"writer\"}", 0, NULL);
    ck_assert_ptr_nonnull(stats);
    ck_assert_ptr_nonnull(health);
    json_t *rec = hs_statsrec_build("writer", "home", 1763765318123456000, stats, health);
    ck_assert_ptr_nonnull(rec);
    static const char *const want[] = {
        "homestream,site=home,stage=writer ",
        "events_in_total=10",
        "events_out_total=9",
        "errors_total=1",
        "dlq_total=1",
        "consumer_lag=4",
        "write_latency_p50_ms=2.5",
        "write_latency_p99_ms=8",
        "health=1",
        "breaker_influxdb_state=2",
        " " T "\n",
    };
    for (int schema = 0; schema < 2; schema++) {
        lineproto_opts o;
        opts_for(&o, NULL, NULL, NULL);
        o.schema = schema ? LINEPROTO_SCHEMA_EVENTS : LINEPROTO_SCHEMA_HA;
        lineproto_buf b;
        lineproto_buf_init(&b);
        lineproto_info info;
        char err[128];
        ck_assert_int_eq(lineproto_encode(rec, &o, &b, &info, err, sizeof err), 0);
        ck_assert_uint_eq(info.points, 1);
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            ck_assert_msg(strstr(b.data, want[i]) != NULL, "%s missing in %s", want[i],
                          b.data);
        lineproto_buf_fini(&b);
    }
    json_decref(rec);
    json_decref(stats);
    json_decref(health);
}
END_TEST

START_TEST(test_scrub_nul_escapes)
{
    static const struct {
        const char *in, *out;
        size_t count;
    } cases[] = {
        {"{\"a\":\"x\\u0000y\"}", "{\"a\":\"x\\ufffdy\"}", 1},
        {"{\"k\\u0000\":\"\\u0000\\u0000\"}", "{\"k\\ufffd\":\"\\ufffd\\ufffd\"}", 3},
        {"{\"a\":\"\\\\u0000\"}", "{\"a\":\"\\\\u0000\"}", 0}, /* an escaped backslash */
        {"{\"a\":\"\\\"\\u0000\"}", "{\"a\":\"\\\"\\ufffd\"}",
         1}, /* after an escaped quote */
        {"{\"a\":\"\\u00001\"}", "{\"a\":\"\\ufffd1\"}", 1},
        {"{\"a\":\"\\u0001\"}", "{\"a\":\"\\u0001\"}", 0},
        {"{\"a\":\"\\u000\"}", "{\"a\":\"\\u000\"}", 0}, /* truncated */
        {"[1,2]", "[1,2]", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        ck_assert_uint_eq(lineproto_scrub_nul_escapes(buf, strlen(buf)), cases[i].count);
        ck_assert_str_eq(buf, cases[i].out);
        json_t *j = json_loads(buf, 0, NULL);
        if (cases[i].count > 0)
            ck_assert_ptr_nonnull(j);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_parse_names)
{
    lineproto_schema s;
    lineproto_mattr m;
    ck_assert_int_eq(lineproto_schema_parse("ha", &s), 0);
    ck_assert_int_eq(s, LINEPROTO_SCHEMA_HA);
    ck_assert_int_eq(lineproto_schema_parse("events", &s), 0);
    ck_assert_int_eq(s, LINEPROTO_SCHEMA_EVENTS);
    ck_assert_int_eq(lineproto_schema_parse("HA", &s), -1);
    ck_assert_int_eq(lineproto_schema_parse(NULL, &s), -1);
    ck_assert_int_eq(lineproto_mattr_parse("device_class", &m), 0);
    ck_assert_int_eq(m, LINEPROTO_MATTR_DEVICE_CLASS);
    ck_assert_int_eq(lineproto_mattr_parse("unit", &m), -1);
}
END_TEST

/* ---- a reference parser: influxd 1.6's scanner ------------------------- */

typedef struct {
    char key[512];
    char val[2048];
    bool is_string;
} kv;

typedef struct {
    char measurement[512];
    kv tags[16];
    size_t ntags;
    kv fields[64];
    size_t nfields;
    long long ts;
} point;

/* Scans to the first of stops not preceded by a backslash (as influxd's
 * scanner decides escaping: by looking at the previous byte). */
static size_t scan_name(const char *s, size_t i, size_t n, const char *stops)
{
    while (i < n &&
           !(strchr(stops, s[i]) && s[i] != '\0' && (i == 0 || s[i - 1] != '\\')))
        i++;
    return i;
}

/* Scans to the first of stops, taking a backslash and the byte after it as
 * a pair (how influxd's scanner reads field keys). */
static size_t scan_pairs(const char *s, size_t i, size_t n, const char *stops)
{
    while (i < n && !(strchr(stops, s[i]) && s[i] != '\0')) {
        if (s[i] == '\\')
            i++;
        i++;
    }
    return i;
}

/* Copies s[a, b) removing the backslash of each \c with c in escaped. */
static void unescape(char *dst, size_t cap, const char *s, size_t a, size_t b,
                     const char *escaped)
{
    size_t o = 0;
    for (size_t i = a; i < b && o + 1 < cap; i++) {
        if (s[i] == '\\' && i + 1 < b && strchr(escaped, s[i + 1]) && s[i + 1] != '\0')
            i++;
        dst[o++] = s[i];
    }
    dst[o] = '\0';
}

/* Parses one line starting at s[0]; returns the bytes consumed (through its
 * '\n'), or 0 when it is not a valid point. */
static size_t parse_point(const char *s, size_t n, point *p)
{
    memset(p, 0, sizeof *p);
    if (n == 0 || s[0] == '#' || s[0] == ' ')
        return 0;
    size_t i = scan_name(s, 0, n, ", \n");
    if (i == 0 || i >= n || s[i] == '\n')
        return 0;
    unescape(p->measurement, sizeof p->measurement, s, 0, i, ", ");
    while (s[i] == ',') {
        size_t k0 = i + 1;
        size_t k1 = scan_name(s, k0, n, "=, \n");
        if (k1 >= n || s[k1] != '=' || k1 == k0 || p->ntags == 16)
            return 0;
        size_t v1 = scan_name(s, k1 + 1, n, ", \n=");
        if (v1 >= n || s[v1] == '=' || s[v1] == '\n' || v1 == k1 + 1)
            return 0;
        unescape(p->tags[p->ntags].key, sizeof p->tags[0].key, s, k0, k1, ",= ");
        unescape(p->tags[p->ntags].val, sizeof p->tags[0].val, s, k1 + 1, v1, ",= ");
        p->ntags++;
        i = v1;
    }
    if (s[i] != ' ')
        return 0;
    do {
        size_t k0 = i + 1;
        size_t k1 = scan_pairs(s, k0, n, "=, \n");
        if (k1 >= n || s[k1] != '=' || k1 == k0 || p->nfields == 64)
            return 0;
        kv *f = &p->fields[p->nfields++];
        unescape(f->key, sizeof f->key, s, k0, k1, ",= ");
        size_t v0 = k1 + 1, v1;
        if (v0 < n && s[v0] == '"') {
            v1 = v0 + 1;
            while (v1 < n && s[v1] != '"') {
                if (s[v1] == '\\')
                    v1++;
                v1++;
            }
            if (v1 >= n)
                return 0;
            unescape(f->val, sizeof f->val, s, v0 + 1, v1, "\"\\");
            f->is_string = true;
            v1++;
        } else {
            v1 = v0;
            while (v1 < n && s[v1] != ',' && s[v1] != ' ' && s[v1] != '\n')
                v1++;
            if (v1 == v0)
                return 0;
            unescape(f->val, sizeof f->val, s, v0, v1, "");
        }
        i = v1;
    } while (i < n && s[i] == ',');
    if (i >= n || s[i] != ' ')
        return 0;
    char *end;
    p->ts = strtoll(s + i + 1, &end, 10);
    if (end == s + i + 1 || *end != '\n')
        return 0;
    return (size_t)(end - s) + 1;
}

START_TEST(test_reference_parser_self_check)
{
    /* field keys are read in backslash pairs (influxd 1.6: "m40 a\\,b=1 1"
     * is an invalid field format, "m41 a\\\,b=1 1" is stored) */
    point fk;
    const char *f_bad = "m a\\\\,b=1 1\n";
    ck_assert_uint_eq(parse_point(f_bad, strlen(f_bad), &fk), 0);
    const char *f_ok = "m a\\\\\\,b=1 1\n";
    ck_assert_uint_eq(parse_point(f_ok, strlen(f_ok), &fk), strlen(f_ok));
    ck_assert_str_eq(fk.fields[0].key, "a\\\\,b");
    /* The parser must agree with what influxd 1.6 answered to these. */
    point p;
    const char *ok = "m\\ 8,t=a\\ b\\,c\\=d s=\"q\\\"b\\\\s\",v=1 1\n";
    ck_assert_uint_eq(parse_point(ok, strlen(ok), &p), strlen(ok));
    ck_assert_str_eq(p.measurement, "m 8");
    ck_assert_str_eq(p.tags[0].val, "a b,c=d");
    ck_assert_str_eq(p.fields[0].val, "q\"b\\s");
    const char *bad = "m2,t=a\\\\ s=\"x\" 1\n"; /* influxd: invalid tag format */
    ck_assert_uint_eq(parse_point(bad, strlen(bad), &p), 0);
    const char *comment = "#m s=\"x\" 1\n";
    ck_assert_uint_eq(parse_point(comment, strlen(comment), &p), 0);
    const char *nl = "m s=\"a\nb\" 1\n";
    ck_assert_uint_eq(parse_point(nl, strlen(nl), &p), strlen(nl));
    ck_assert_str_eq(p.fields[0].val, "a\nb");
}
END_TEST

/* ---- the property: no input adds, splits or merges a line -------------- */

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A hostile string: specials of every context, UTF-8, invalid bytes. */
static size_t hostile(char *out, size_t cap)
{
    static const char *const atoms[] = {
        "a",
        "Z",
        "0",
        "9",
        ",",
        "=",
        " ",
        "\"",
        "\\",
        "\n",
        "\r",
        "\t",
        "#",
        ".",
        "_",
        "\xFF",
        "\xC3",
        "\xC3\xA9",
        "\xE2\x82\xAC",
        "\xF0\x9F\x8F\xA0",
        "\xED\xA0\x80",
        "\\\\",
        "\\,",
        "\\\"",
        "\",",
        "=\"",
        "\\ ",
        "nan",
        "1e999",
        "12",
        "3.5",
    };
    size_t len = 0, parts = 1 + rnd() % 8;
    for (size_t i = 0; i < parts; i++) {
        const char *a = atoms[rnd() % (sizeof atoms / sizeof atoms[0])];
        size_t al = strlen(a);
        if (len + al + 1 >= cap)
            break;
        memcpy(out + len, a, al);
        len += al;
    }
    out[len] = '\0';
    return len;
}

/* What the encoder must turn a text into inside a string field: the same,
 * with each invalid UTF-8 byte as U+FFFD. */
static void sanitized(char *dst, size_t cap, const char *s)
{
    lineproto_buf b;
    lineproto_buf_init(&b);
    /* Escaping for a string value and undoing it is the identity up to
     * U+FFFD, which the escape table above pins. */
    ck_assert_int_eq(lineproto_append_escaped(&b, LINEPROTO_STRING, s, strlen(s)), 0);
    unescape(dst, cap, b.data, 0, b.len, "\"\\");
    lineproto_buf_fini(&b);
}

static bool valid_plain(const char *s)
{
    /* True when the text needs no lossy replacement in a name or tag. */
    size_t n = strlen(s);
    if (n == 0 || s[n - 1] == '\\' || strpbrk(s, "\n\r") || s[0] == '#')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false; /* kept simple: ASCII only for exact round trips */
    return true;
}

/* valid_plain for a measurement: nor a backslash before ',', '"', ' ' or
 * '=' (replaced: influxd unescapes a measurement twice). */
static bool measurement_plain(const char *s)
{
    for (const char *b = strchr(s, '\\'); b != NULL; b = strchr(b + 1, '\\'))
        if (b[1] != '\0' && strchr(",\" =", b[1]) != NULL)
            return false;
    return valid_plain(s);
}

START_TEST(test_property_one_line)
{
    rng_state = 12345u + (uint32_t)_i * 7919u;
    lineproto_opts o;
    opts_for(&o, NULL, NULL, NULL);
    for (int iter = 0; iter < 250; iter++) {
        char dom[64], obj[64], area[64], site[64], unit[64], state[64];
        char k1[64], v1[64], k2[64], v2[64];
        hostile(dom, sizeof dom);
        hostile(obj, sizeof obj);
        hostile(area, sizeof area);
        hostile(site, sizeof site);
        hostile(unit, sizeof unit);
        hostile(state, sizeof state);
        hostile(k1, sizeof k1);
        hostile(v1, sizeof v1);
        hostile(k2, sizeof k2);
        hostile(v2, sizeof v2);
        /* Attribute keys are distinct and distinct from the state/value
         * fields so every string value is findable under "<key>_str". */
        strcat(k1, "_k1");
        strcat(k2, "_k2");
        json_t *attrs = json_object();
        json_object_set_new_nocheck(attrs, k1, json_stringn_nocheck(v1, strlen(v1)));
        json_object_set_new_nocheck(attrs, k2, json_stringn_nocheck(v2, strlen(v2)));
        json_object_set_new_nocheck(attrs, "unit_of_measurement",
                                    json_stringn_nocheck(unit, strlen(unit)));
        json_t *ns = json_object();
        json_object_set_new(ns, "state", json_stringn_nocheck(state, strlen(state)));
        json_object_set_new(ns, "attributes", attrs);
        json_t *msg = json_object();
        json_object_set_new(msg, "event_type", json_string("state_changed"));
        json_object_set_new(msg, "entity_id", json_string("sensor.x"));
        json_object_set_new(msg, "domain", json_stringn_nocheck(dom, strlen(dom)));
        json_object_set_new(msg, "object_id", json_stringn_nocheck(obj, strlen(obj)));
        json_object_set_new(msg, "area", json_stringn_nocheck(area, strlen(area)));
        json_object_set_new(msg, "site", json_stringn_nocheck(site, strlen(site)));
        json_object_set_new(msg, "time_ns", json_integer(1000 + iter));
        json_object_set_new(msg, "new_state", ns);
        json_object_set_new(msg, "value", json_null());

        lineproto_buf b;
        lineproto_buf_init(&b);
        lineproto_info info;
        char err[128];
        /* Three messages back to back: each must come out as its own line. */
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(lineproto_encode(msg, &o, &b, &info, err, sizeof err), 0);
        size_t off = 0;
        for (int k = 0; k < 3; k++) {
            point p;
            size_t used = parse_point(b.data + off, b.len - off, &p);
            ck_assert_msg(used > 0, "iteration %d: line %d does not parse:\n%s", iter, k,
                          b.data + off);
            off += used;
            ck_assert_int_eq(p.ts, 1000 + iter);
            /* The state text round-trips exactly (up to U+FFFD). */
            char want[256];
            sanitized(want, sizeof want, state);
            bool found_state = false;
            for (size_t f = 0; f < p.nfields; f++)
                if (strcmp(p.fields[f].key, "state") == 0) {
                    found_state = true;
                    ck_assert_msg(p.fields[f].is_string &&
                                      strcmp(p.fields[f].val, want) == 0,
                                  "iteration %d: state \"%s\" came back as \"%s\"", iter,
                                  want, p.fields[f].val);
                }
            double dummy;
            if (lineproto_parse_pyfloat(state, strlen(state), &dummy) != 0 &&
                state[0] != '\0')
                ck_assert_msg(found_state, "iteration %d: no state field", iter);
            /* String attributes come back under <key>_str, byte for byte. */
            const char *keys[2] = {k1, k2}, *vals[2] = {v1, v2};
            for (int a = 0; a < 2; a++) {
                if (lineproto_parse_pyfloat(vals[a], strlen(vals[a]), &dummy) == 0 ||
                    !valid_plain(keys[a]) || strchr(keys[a], '\\') != NULL)
                    continue;
                char key_str[80];
                snprintf(key_str, sizeof key_str, "%s_str", keys[a]);
                sanitized(want, sizeof want, vals[a]);
                bool found = false;
                for (size_t f = 0; f < p.nfields; f++)
                    if (strcmp(p.fields[f].key, key_str) == 0)
                        found =
                            p.fields[f].is_string && strcmp(p.fields[f].val, want) == 0;
                ck_assert_msg(found, "iteration %d: %s=\"%s\" not found in\n%s", iter,
                              key_str, want, b.data);
            }
            /* Tags without lossy characters come back exactly. */
            const char *tvals[4] = {area, dom, obj, site};
            const char *tkeys[4] = {"area", "domain", "entity_id", "site"};
            for (int t = 0; t < 4; t++) {
                bool found = false;
                for (size_t x = 0; x < p.ntags; x++)
                    if (strcmp(p.tags[x].key, tkeys[t]) == 0)
                        found = strcmp(p.tags[x].val, tvals[t]) == 0 ||
                                !valid_plain(tvals[t]);
                ck_assert_msg(found || tvals[t][0] == '\0',
                              "iteration %d: tag %s=\"%s\" lost in\n%s", iter, tkeys[t],
                              tvals[t], b.data);
            }
            if (measurement_plain(unit) && unit[0] != '\t')
                ck_assert_str_eq(p.measurement, unit);
        }
        ck_assert_uint_eq(off, b.len);
        lineproto_buf_fini(&b);
        json_decref(msg);
    }
}
END_TEST

/* info.time_ns is the point's time: time_ns, else new_state.last_updated,
 * else time_fired; INT64_MIN for a message without one. */
START_TEST(test_info_time)
{
    static const struct {
        const char *msg;
        int64_t want;
    } cases[] = {
        {"{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.t\",\"time_ns\":"
         "1700000000000000123,\"new_state\":{\"state\":\"1\",\"attributes\":{},"
         "\"last_updated\":\"2023-11-14T22:13:20+00:00\"}}",
         1700000000000000123LL},
        {"{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.t\",\"new_state\":"
         "{\"state\":\"1\",\"attributes\":{},\"last_updated\":"
         "\"2023-11-14T22:13:20.5+00:00\"}}",
         1700000000500000000LL},
        {"{\"event_type\":\"state_changed\",\"entity_id\":\"sensor.t\",\"new_state\":"
         "{\"state\":\"1\",\"attributes\":{}}}",
         INT64_MIN},
    };
    lineproto_opts o;
    opts_for(&o, NULL, NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *msg = json_loads(cases[i].msg, 0, NULL);
        ck_assert_ptr_nonnull(msg);
        lineproto_buf b;
        lineproto_buf_init(&b);
        lineproto_info info;
        char err[256] = "";
        int rc = lineproto_encode(msg, &o, &b, &info, err, sizeof err);
        ck_assert_int_eq(rc, cases[i].want == INT64_MIN ? -1 : 0);
        ck_assert_msg(info.time_ns == cases[i].want, "case %zu: %" PRId64, i,
                      info.time_ns);
        lineproto_buf_fini(&b);
        json_decref(msg);
    }
}
END_TEST

/* ---- shape cache --------------------------------------------------------- */

/* Encodes text through cache with o and checks the line against the one
 * made without a cache. */
static void cached_line(lineproto_cache *cache, const lineproto_opts *o, const char *text)
{
    msgjson_doc doc;
    msgjson_init(&doc);
    ck_assert_int_eq(msgjson_parse(&doc, text, strlen(text)), 0);
    lineproto_buf a, b;
    lineproto_buf_init(&a);
    lineproto_buf_init(&b);
    lineproto_info ia, ib;
    char err[256];
    ck_assert_int_eq(lineproto_encode_cached(&doc, o, cache, &a, &ia, err, sizeof err),
                     0);
    ck_assert_int_eq(lineproto_encode_doc(&doc, o, &b, &ib, err, sizeof err), 0);
    ck_assert_uint_eq(ia.points, 1);
    ck_assert_uint_eq(ia.dropped_fields, ib.dropped_fields);
    ck_assert_str_eq(a.data, b.data);
    lineproto_buf_fini(&a);
    lineproto_buf_fini(&b);
    msgjson_fini(&doc);
}

static void state_text(char *t, size_t cap, const char *entity, const char *state,
                       const char *attrs)
{
    snprintf(t, cap,
             "{\"event_type\":\"state_changed\",\"entity_id\":\"%s\",\"time_ns\":7,"
             "\"new_state\":{\"state\":\"%s\",\"attributes\":%s}}",
             entity, state, attrs);
}

static void assert_counts(const lineproto_cache *c, uint64_t hits, uint64_t misses,
                          uint64_t kept)
{
    uint64_t h, m, k;
    lineproto_cache_counts(c, &h, &m, &k);
    ck_assert_uint_eq(h, hits);
    ck_assert_uint_eq(m, misses);
    ck_assert_uint_eq(k, kept);
}

/* An entity's second state in the same shape is composed; another shape,
 * other options and a cleared cache encode in full again. */
START_TEST(test_cache_hits_and_misses)
{
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    char t[512];
    state_text(t, sizeof t, "sensor.a", "1.5", "{\"unit_of_measurement\":\"W\",\"f\":1}");
    cached_line(c, &o, t);
    assert_counts(c, 0, 1, 1);
    state_text(t, sizeof t, "sensor.a", "on", "{\"unit_of_measurement\":\"W\",\"f\":1}");
    cached_line(c, &o, t);
    assert_counts(c, 1, 1, 1);
    state_text(t, sizeof t, "sensor.a", "2", "{\"unit_of_measurement\":\"kW\",\"f\":1}");
    cached_line(c, &o, t); /* another shape: a new entry */
    assert_counts(c, 1, 2, 2);
    lineproto_opts o2 = {.schema = LINEPROTO_SCHEMA_HA,
                         .measurement_attr = LINEPROTO_MATTR_ENTITY_ID};
    cached_line(c, &o2, t); /* other options: the entries are forgotten */
    assert_counts(c, 1, 3, 3);
    cached_line(c, &o2, t);
    assert_counts(c, 2, 3, 3);
    lineproto_cache_clear(c);
    cached_line(c, &o2, t);
    assert_counts(c, 2, 4, 4);
    lineproto_cache_free(c);
}
END_TEST

/* An attribute named "state" or "value" makes the line depend on the state
 * beyond its own fields: such an entity never gets an entry. */
START_TEST(test_cache_state_value_attributes)
{
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    static const char *const attrs[] = {"{\"value\":\"x\"}", "{\"state\":1}"};
    static const char *const states[] = {"1", "on", "text", "nan", "2"};
    char t[512];
    for (size_t a = 0; a < 2; a++)
        for (size_t i = 0; i < 5; i++) {
            state_text(t, sizeof t, "sensor.v", states[i], attrs[a]);
            cached_line(c, &o, t);
        }
    assert_counts(c, 0, 10, 0);
    lineproto_cache_free(c);
}
END_TEST

/* An entity whose shape changes with every state gets an entry for its
 * first two changes in a row, then only at the 4th, 8th, 16th...; a hit
 * starts the count over. */
START_TEST(test_cache_changing_shape_backs_off)
{
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    char t[512], attrs[64];
    for (int i = 0; i < 17; i++) {
        snprintf(attrs, sizeof attrs, "{\"effect\":\"e%d\"}", i);
        state_text(t, sizeof t, "light.l", "on", attrs);
        cached_line(c, &o, t);
    }
    /* made at messages 1, 2, 3 (changes 0, 1, 2), then at changes 4, 8, 16 */
    assert_counts(c, 0, 17, 6);
    cached_line(c, &o, t); /* the last shape was kept: a hit */
    assert_counts(c, 1, 17, 6);
    snprintf(attrs, sizeof attrs, "{\"effect\":\"e%d\"}", 99);
    state_text(t, sizeof t, "light.l", "on", attrs);
    cached_line(c, &o, t); /* change 1 after a hit: made again */
    assert_counts(c, 1, 18, 7);
    lineproto_cache_free(c);
}
END_TEST

/* Numbers among the attributes are the message's own (holes): a light
 * whose brightness changes with every state keeps its entry, and every
 * line is the one made without a cache. A number that becomes another type
 * of node, a numeric unit_of_measurement or device_class (a measurement
 * may be made of them) and the numbers past the first eight are still
 * compared. */
START_TEST(test_cache_number_holes)
{
    static const lineproto_opts opts[] = {
        {.schema = LINEPROTO_SCHEMA_HA},
        {.schema = LINEPROTO_SCHEMA_HA, .measurement_attr = LINEPROTO_MATTR_UNIT},
        {.schema = LINEPROTO_SCHEMA_HA,
         .measurement_attr = LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS},
        {.schema = LINEPROTO_SCHEMA_HA, .measurement_attr = LINEPROTO_MATTR_DEVICE_CLASS},
    };
    for (size_t v = 0; v < sizeof opts / sizeof opts[0]; v++) {
        const lineproto_opts *o = &opts[v];
        lineproto_cache *c = lineproto_cache_new();
        ck_assert_ptr_nonnull(c);
        char t[1024], attrs[768];
        /* Brightness, a real and "time" (written as "time_", over the
         * attribute of that name) change every time; the first message
         * makes the entry, every other one is composed. */
        for (int i = 0; i < 20; i++) {
            snprintf(attrs, sizeof attrs,
                     "{\"brightness\":%d,\"color_mode\":\"hs\",\"voltage\":%d.%03d,"
                     "\"time_\":5,\"time\":-%d,\"friendly_name\":\"Lamp\"}",
                     i * 13 % 256, 2 + i % 2, i * 37 % 1000, i * 1000003);
            state_text(t, sizeof t, "light.l", i % 3 ? "on" : "off", attrs);
            cached_line(c, &o[0], t);
        }
        assert_counts(c, 19, 1, 1);
        /* 3 instead of 3.000: an integer where a real was is another shape. */
        state_text(t, sizeof t, "light.l", "on",
                   "{\"brightness\":1,\"color_mode\":\"hs\",\"voltage\":3,"
                   "\"time_\":1,\"time\":-1,\"friendly_name\":\"Lamp\"}");
        cached_line(c, o, t);
        assert_counts(c, 19, 2, 2);
        /* A numeric unit or device class is compared: a new shape each time. */
        for (int i = 0; i < 2; i++) {
            snprintf(attrs, sizeof attrs,
                     "{\"unit_of_measurement\":%d,\"device_class\":%d,\"level\":%d}", i,
                     i + 1, i + 2);
            state_text(t, sizeof t, "sensor.s", "5", attrs);
            cached_line(c, o, t);
        }
        assert_counts(c, 19, 4, 4);
        /* Ten numbers: the first eight are holes, the last two compared. */
        uint64_t hits, misses, kept;
        for (int i = 0; i < 4; i++) {
            int n = snprintf(attrs, sizeof attrs, "{");
            for (int k = 0; k < 10; k++)
                n += snprintf(attrs + n, sizeof attrs - (size_t)n, "%s\"n%d\":%d",
                              k ? "," : "", k, k < 8 ? i * 100 + k : i / 2);
            snprintf(attrs + n, sizeof attrs - (size_t)n, "}");
            state_text(t, sizeof t, "sensor.many", "1", attrs);
            cached_line(c, o, t);
        }
        lineproto_cache_counts(c, &hits, &misses, &kept);
        ck_assert_uint_eq(hits, 19 + 2); /* messages 2 and 4: n8 and n9 unchanged */
        ck_assert_uint_eq(misses, 4 + 2);
        lineproto_cache_free(c);
    }
}
END_TEST

/* 1,400 entities with 6 KB of attributes each outgrow the cache's 8 MB of
 * slabs: it forgets its entries once and makes them again, and every line
 * stays the one made without a cache. */
START_TEST(test_cache_outgrows_its_memory)
{
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    static char attrs[6200], t[6600];
    int n = snprintf(attrs, sizeof attrs, "{\"text\":\"");
    memset(attrs + n, 'x', 6000);
    snprintf(attrs + n + 6000, sizeof attrs - (size_t)n - 6000, "\"}");
    for (int e = 0; e < 1400; e++) {
        char id[32];
        snprintf(id, sizeof id, "sensor.big_%d", e);
        state_text(t, sizeof t, id, "1", attrs);
        cached_line(c, &o, t);
        state_text(t, sizeof t, id, "2", attrs);
        cached_line(c, &o, t);
    }
    uint64_t hits, misses, kept;
    lineproto_cache_counts(c, &hits, &misses, &kept);
    ck_assert_uint_eq(hits + misses, 2800);
    ck_assert_uint_ge(hits, 1390); /* all but the second states after a reset */
    ck_assert_uint_lt(hits, 1400); /* at least one reset */
    lineproto_cache_free(c);
}
END_TEST

/* A state that is a number too large for a double ("21e308": an infinite
 * value, not sent) on an entity without attributes leaves a line with its
 * text as the only field; that line makes no shape, so the next state of
 * the entity is encoded in full, not given the first one's text (found by
 * fuzz-lineproto). */
START_TEST(test_cache_state_fallback_not_kept)
{
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    static const char *const states[] = {"21e308", "3", "nan", "4", "5"};
    char t[256];
    for (size_t i = 0; i < 5; i++) {
        state_text(t, sizeof t, "sensor.d", states[i], "null");
        cached_line(c, &o, t);
    }
    assert_counts(c, 0, 5, 0);
    lineproto_cache_free(c);
}
END_TEST

/* A large home: 3,000 entities, each in turn (the worst order for a cache
 * that gives up its least recently used entry), all keep their entries: the
 * second round of states hits for all but the few whose 8 slots were taken
 * by their neighbours. */
START_TEST(test_cache_holds_a_large_home)
{
    enum { ENTITIES = 3000 };
    lineproto_opts o = {.schema = LINEPROTO_SCHEMA_HA};
    lineproto_cache *c = lineproto_cache_new();
    ck_assert_ptr_nonnull(c);
    char t[512];
    for (int round = 0; round < 2; round++) {
        for (int e = 0; e < ENTITIES; e++) {
            char id[32], state[16];
            snprintf(id, sizeof id, "sensor.room_%d", e);
            snprintf(state, sizeof state, "%d.5", round);
            state_text(t, sizeof t, id, state,
                       "{\"unit_of_measurement\":\"W\",\"friendly_name\":\"Power\"}");
            cached_line(c, &o, t);
        }
    }
    uint64_t hits, misses, kept;
    lineproto_cache_counts(c, &hits, &misses, &kept);
    ck_assert_uint_eq(hits + misses, 2 * ENTITIES);
    ck_assert_uint_ge(hits, ENTITIES - 30);
    lineproto_cache_free(c);
}
END_TEST

static Suite *lineproto_suite(void)
{
    Suite *s = suite_create("lineproto");
    TCase *tc = tcase_create("escape");
    tcase_add_loop_test(tc, test_escape_table, 0,
                        (int)(sizeof esc_cases / sizeof esc_cases[0]));
    tcase_add_test(tc, test_escape_nul);
    tcase_add_loop_test(tc, test_double, 0,
                        (int)(sizeof dbl_cases / sizeof dbl_cases[0]));
    tcase_add_test(tc, test_double_nonfinite);
    tcase_add_test(tc, test_double_random);
    tcase_add_loop_test(tc, test_pyfloat, 0,
                        (int)(sizeof pyf_cases / sizeof pyf_cases[0]));
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("mapping");
    tcase_add_loop_test(tm, test_ha_schema, 0,
                        (int)(sizeof ha_cases / sizeof ha_cases[0]));
    tcase_add_test(tm, test_events_schema);
    tcase_add_loop_test(tm, test_stats_record, 0, 2 * NSTATS);
    tcase_add_test(tm, test_stats_record_from_statsrec);
    tcase_add_test(tm, test_parse_names);
    tcase_add_test(tm, test_scrub_nul_escapes);
    tcase_add_test(tm, test_info_time);
    suite_add_tcase(s, tm);
    TCase *tk = tcase_create("cache");
    tcase_add_test(tk, test_cache_hits_and_misses);
    tcase_add_test(tk, test_cache_state_value_attributes);
    tcase_add_test(tk, test_cache_changing_shape_backs_off);
    tcase_add_test(tk, test_cache_number_holes);
    tcase_add_test(tk, test_cache_outgrows_its_memory);
    tcase_add_test(tk, test_cache_holds_a_large_home);
    tcase_add_test(tk, test_cache_state_fallback_not_kept);
    suite_add_tcase(s, tk);
    TCase *tp = tcase_create("property");
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, test_reference_parser_self_check);
    tcase_add_loop_test(tp, test_property_one_line, 0, 4);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lineproto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
