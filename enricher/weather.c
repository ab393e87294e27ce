/* weather.c - weather observations and their parsers (see weather.h). */
#include "weather.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hs_time.h"
#include "units.h"

#define NS_PER_S INT64_C(1000000000)
/* The widest UTC offset a zone may have (ISO 8601 allows up to 18 h; real
 * zones stay within -12 h..+14 h). */
#define MAX_UTC_OFFSET_S INT64_C(64800)

static void obs_init(weather_obs *o, const char *provider)
{
    memset(o, 0, sizeof *o);
    o->temperature = o->humidity = o->pressure = o->wind_speed = NAN;
    snprintf(o->provider, sizeof o->provider, "%s", provider);
}

static void set_str(char *dst, size_t n, const char *src)
{
    if (src == NULL)
        src = "";
    size_t len = strlen(src);
    if (len >= n) {
        /* Cut before the character the first byte left out belongs to, so
         * that a valid UTF-8 text stays valid (a unit such as "°C" cut in
         * its middle would not render as JSON). */
        len = n - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* A finite JSON number as double, else NAN. */
static double num(const json_t *v)
{
    if (!json_is_number(v))
        return NAN;
    double d = json_number_value(v);
    return isfinite(d) ? d : NAN;
}

/* An observation time is valid when it is after the epoch and fits in
 * int64_t nanoseconds (before 2262-04-11). Anything else comes from a broken
 * or hostile body, and would overflow the age and time arithmetic later. */
static bool obs_time_valid(int64_t ns)
{
    return ns > 0;
}

/* Converts unix seconds to ns. Returns 0, or -1 when s is not positive or
 * the product does not fit in int64_t. */
static int seconds_to_ns(json_int_t s, int64_t *ns)
{
    if (s <= 0 || s > INT64_MAX / NS_PER_S)
        return -1;
    *ns = (int64_t)s * NS_PER_S;
    return 0;
}

static json_t *parse_body(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    json_t *j = json_loadb(body ? body : "", len, 0, &e);
    if (!j) {
        snprintf(err, errlen, "response is not JSON: %s", e.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, errlen, "response is not a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *weather_owm_condition(int id, bool is_day)
{
    if ((id >= 200 && id <= 202) || (id >= 230 && id <= 232))
        return "lightning-rainy";
    if (id >= 210 && id <= 221)
        return "lightning";
    if (id >= 300 && id <= 321)
        return "rainy";
    if (id == 502 || id == 503 || id == 504 || id == 522)
        return "pouring";
    if (id == 511)
        return "snowy-rainy";
    if ((id >= 500 && id <= 501) || (id >= 520 && id <= 531))
        return "rainy";
    if (id >= 611 && id <= 616)
        return "snowy-rainy";
    if ((id >= 600 && id <= 602) || (id >= 620 && id <= 622))
        return "snowy";
    if (id >= 701 && id <= 761)
        return "fog";
    if (id == 762 || id == 781)
        return "exceptional";
    if (id == 771)
        return "windy-variant";
    if (id == 800)
        return is_day ? "sunny" : "clear-night";
    if (id == 801 || id == 802)
        return "partlycloudy";
    if (id == 803 || id == 804)
        return "cloudy";
    return NULL;
}

const char *weather_wmo_condition(int code, bool is_day)
{
    switch (code) {
    case 0:
    case 1:
        return is_day ? "sunny" : "clear-night";
    case 2:
        return "partlycloudy";
    case 3:
        return "cloudy";
    case 45:
    case 48:
        return "fog";
    case 51:
    case 53:
    case 55:
    case 61:
    case 63:
    case 80:
    case 81:
        return "rainy";
    case 65:
    case 82:
        return "pouring";
    case 56:
    case 57:
    case 66:
    case 67:
        return "snowy-rainy";
    case 71:
    case 73:
    case 75:
    case 77:
    case 85:
    case 86:
        return "snowy";
    case 95:
    case 96:
    case 99:
        return "lightning-rainy";
    default:
        return NULL;
    }
}

int weather_parse_owm(const char *body, size_t len, weather_obs *out, char *err,
                      size_t errlen)
{
    json_t *j = parse_body(body, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    const json_t *cod = json_object_get(j, "cod");
    /* A good answer has "cod":200 (a number); errors carry the HTTP code,
     * sometimes as a string, and a message. */
    if (cod && !(json_is_integer(cod) && json_integer_value(cod) == 200)) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        char code[32];
        if (json_is_string(cod))
            snprintf(code, sizeof code, "%s", json_string_value(cod));
        else if (json_is_integer(cod))
            snprintf(code, sizeof code, "%lld", (long long)json_integer_value(cod));
        else
            snprintf(code, sizeof code, "?");
        snprintf(err, errlen, "openweathermap error %s: %s", code,
                 msg ? msg : "(no message)");
        goto done;
    }
    const json_t *main_ = json_object_get(j, "main");
    const json_t *dt = json_object_get(j, "dt");
    weather_obs o;
    obs_init(&o, "openweathermap");
    o.temperature = num(json_object_get(main_, "temp"));
    if (!json_is_object(main_) || isnan(o.temperature)) {
        snprintf(err, errlen, "openweathermap: main.temp missing or not a number");
        goto done;
    }
    if (!json_is_integer(dt) || json_integer_value(dt) <= 0) {
        snprintf(err, errlen, "openweathermap: dt missing or not a positive integer");
        goto done;
    }
    if (seconds_to_ns(json_integer_value(dt), &o.observed_at_ns) != 0) {
        snprintf(err, errlen, "openweathermap: dt %lld is out of range",
                 (long long)json_integer_value(dt));
        goto done;
    }
    o.humidity = num(json_object_get(main_, "humidity"));
    o.pressure = num(json_object_get(main_, "pressure"));
    o.wind_speed = num(json_object_get(json_object_get(j, "wind"), "speed"));
    set_str(o.temperature_unit, sizeof o.temperature_unit, "°C");
    set_str(o.pressure_unit, sizeof o.pressure_unit, "hPa");
    set_str(o.wind_speed_unit, sizeof o.wind_speed_unit, "m/s");
    const json_t *w0 = json_array_get(json_object_get(j, "weather"), 0);
    const json_t *id = json_object_get(w0, "id");
    if (json_is_integer(id)) {
        const char *icon = json_string_value(json_object_get(w0, "icon"));
        bool is_day = !(icon && strlen(icon) > 0 && icon[strlen(icon) - 1] == 'n');
        const char *c = weather_owm_condition((int)json_integer_value(id), is_day);
        set_str(o.condition, sizeof o.condition, c);
    }
    *out = o;
    rc = 0;
done:
    json_decref(j);
    return rc;
}

/* Parses Open-Meteo's local "YYYY-MM-DDTHH:MM[:SS]" with an offset, which
 * the caller has checked to be within MAX_UTC_OFFSET_S. Returns 0, or -1
 * when the text is not such a time or the shifted time does not fit in
 * int64_t. The result may be any int64_t: the caller checks it with
 * obs_time_valid(). */
static int parse_local_time(const char *text, int64_t offset_s, int64_t *ns)
{
    char buf[48];
    size_t n = strlen(text);
    if (n == 16)
        snprintf(buf, sizeof buf, "%s:00+00:00", text);
    else if (n == 19)
        snprintf(buf, sizeof buf, "%s+00:00", text);
    else
        return -1;
    int64_t local = 0;
    if (hs_time_parse_iso(buf, &local) != 0)
        return -1;
    int64_t shift = offset_s * NS_PER_S;
    if ((shift > 0 && local < INT64_MIN + shift) ||
        (shift < 0 && local > INT64_MAX + shift))
        return -1;
    *ns = local - shift;
    return 0;
}

int weather_parse_open_meteo(const char *body, size_t len, weather_obs *out, char *err,
                             size_t errlen)
{
    json_t *j = parse_body(body, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    if (json_is_true(json_object_get(j, "error"))) {
        const char *reason = json_string_value(json_object_get(j, "reason"));
        snprintf(err, errlen, "open-meteo error: %s", reason ? reason : "(no reason)");
        goto done;
    }
    const json_t *cur = json_object_get(j, "current");
    const json_t *units = json_object_get(j, "current_units");
    weather_obs o;
    obs_init(&o, "open-meteo");
    o.temperature = num(json_object_get(cur, "temperature_2m"));
    if (!json_is_object(cur) || isnan(o.temperature)) {
        snprintf(err, errlen,
                 "open-meteo: current.temperature_2m missing or not a number");
        goto done;
    }
    const json_t *t = json_object_get(cur, "time");
    const json_t *off = json_object_get(j, "utc_offset_seconds");
    if (json_is_integer(t) && json_integer_value(t) > 0) {
        if (seconds_to_ns(json_integer_value(t), &o.observed_at_ns) != 0) {
            snprintf(err, errlen, "open-meteo: current.time %lld is out of range",
                     (long long)json_integer_value(t));
            goto done;
        }
    } else {
        int64_t off_s = json_is_integer(off) ? (int64_t)json_integer_value(off) : 0;
        if (off_s < -MAX_UTC_OFFSET_S || off_s > MAX_UTC_OFFSET_S) {
            snprintf(err, errlen, "open-meteo: utc_offset_seconds %lld is out of range",
                     (long long)off_s);
            goto done;
        }
        if (!json_is_string(t) ||
            parse_local_time(json_string_value(t), off_s, &o.observed_at_ns) != 0) {
            snprintf(err, errlen, "open-meteo: current.time missing or not a time");
            goto done;
        }
    }
    if (!obs_time_valid(o.observed_at_ns)) {
        snprintf(err, errlen, "open-meteo: current.time is out of range");
        goto done;
    }
    o.humidity = num(json_object_get(cur, "relative_humidity_2m"));
    o.pressure = num(json_object_get(cur, "surface_pressure"));
    o.wind_speed = num(json_object_get(cur, "wind_speed_10m"));
    const char *tu = json_string_value(json_object_get(units, "temperature_2m"));
    const char *pu = json_string_value(json_object_get(units, "surface_pressure"));
    const char *wu = json_string_value(json_object_get(units, "wind_speed_10m"));
    set_str(o.temperature_unit, sizeof o.temperature_unit, tu ? tu : "°C");
    set_str(o.pressure_unit, sizeof o.pressure_unit, pu ? pu : "hPa");
    set_str(o.wind_speed_unit, sizeof o.wind_speed_unit, wu ? wu : "km/h");
    const json_t *code = json_object_get(cur, "weather_code");
    if (json_is_number(code)) {
        const json_t *day = json_object_get(cur, "is_day");
        bool is_day = !(json_is_integer(day) && json_integer_value(day) == 0);
        double c = json_number_value(code);
        if (c == (int)c)
            set_str(o.condition, sizeof o.condition,
                    weather_wmo_condition((int)c, is_day));
    }
    *out = o;
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int weather_from_entity(const json_t *new_state, weather_obs *out, char *err,
                        size_t errlen)
{
    const char *state = json_string_value(json_object_get(new_state, "state"));
    if (!state) {
        snprintf(err, errlen, "weather entity: no state");
        return -1;
    }
    if (strcmp(state, "unavailable") == 0 || strcmp(state, "unknown") == 0) {
        snprintf(err, errlen, "weather entity is %s", state);
        return -1;
    }
    const json_t *attrs = json_object_get(new_state, "attributes");
    weather_obs o;
    obs_init(&o, "entity");
    o.temperature = num(json_object_get(attrs, "temperature"));
    if (isnan(o.temperature)) {
        snprintf(err, errlen,
                 "weather entity: attributes.temperature missing or not a number");
        return -1;
    }
    const char *lu = json_string_value(json_object_get(new_state, "last_updated"));
    if (!lu || hs_time_parse_iso(lu, &o.observed_at_ns) != 0) {
        snprintf(err, errlen, "weather entity: last_updated missing or not a timestamp");
        return -1;
    }
    if (!obs_time_valid(o.observed_at_ns)) {
        snprintf(err, errlen, "weather entity: last_updated %s is out of range", lu);
        return -1;
    }
    o.humidity = num(json_object_get(attrs, "humidity"));
    o.pressure = num(json_object_get(attrs, "pressure"));
    o.wind_speed = num(json_object_get(attrs, "wind_speed"));
    set_str(o.temperature_unit, sizeof o.temperature_unit,
            json_string_value(json_object_get(attrs, "temperature_unit")));
    set_str(o.pressure_unit, sizeof o.pressure_unit,
            json_string_value(json_object_get(attrs, "pressure_unit")));
    set_str(o.wind_speed_unit, sizeof o.wind_speed_unit,
            json_string_value(json_object_get(attrs, "wind_speed_unit")));
    set_str(o.condition, sizeof o.condition, state);
    *out = o;
    return 0;
}

/* Converts one value and its unit buffer in place. */
static void convert_one(double *v, char *unit, size_t n)
{
    const char *to = NULL;
    double x = *v;
    if (units_to_metric(unit, &x, &to) == 1) {
        if (!isnan(*v))
            *v = x;
        set_str(unit, n, to);
    }
}

void weather_to_metric(weather_obs *o)
{
    convert_one(&o->temperature, o->temperature_unit, sizeof o->temperature_unit);
    convert_one(&o->pressure, o->pressure_unit, sizeof o->pressure_unit);
    convert_one(&o->wind_speed, o->wind_speed_unit, sizeof o->wind_speed_unit);
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

int64_t weather_age_s(const weather_obs *o, int64_t now_ns)
{
    return now_ns > o->observed_at_ns ? (now_ns - o->observed_at_ns) / NS_PER_S : 0;
}

json_t *weather_to_json(const weather_obs *o, int64_t now_ns, bool stale)
{
    char iso[40];
    if (hs_time_format_iso(o->observed_at_ns, iso, sizeof iso) != 0)
        return NULL;
    int64_t age = weather_age_s(o, now_ns);
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:I, s:b, s:{s:o, s:o, s:o}}", "temperature",
        num_or_null(o->temperature), "humidity", num_or_null(o->humidity), "pressure",
        num_or_null(o->pressure), "wind_speed", num_or_null(o->wind_speed), "condition",
        str_or_null(o->condition), "provider", o->provider, "observed_at", iso, "age_s",
        (json_int_t)age, "stale", stale, "units", "temperature",
        str_or_null(o->temperature_unit), "pressure", str_or_null(o->pressure_unit),
        "wind_speed", str_or_null(o->wind_speed_unit));
}
