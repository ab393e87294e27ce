/* weather.h - weather observations: the providers' response parsers, the
 * condition vocabulary and the JSON attached to events (pure functions).
 *
 * Every provider is mapped to Home Assistant's weather condition words
 * (clear-night, cloudy, exceptional, fog, hail, lightning, lightning-rainy,
 * partlycloudy, pouring, rainy, snowy, snowy-rainy, sunny, windy,
 * windy-variant), so a Grafana panel reads the same whichever provider runs. */
#ifndef WEATHER_H
#define WEATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* One observation. A number that the source did not give is NAN. */
typedef struct {
    double temperature; /* in temperature_unit */
    double humidity;    /* % */
    double pressure;    /* in pressure_unit */
    double wind_speed;  /* in wind_speed_unit */
    char condition[32]; /* HA condition word; "" when unknown */
    char temperature_unit[8];
    char pressure_unit[8];
    char wind_speed_unit[8];
    char provider[16];      /* "openweathermap", "open-meteo", "entity" */
    int64_t observed_at_ns; /* when the source observed it */
} weather_obs;

/* Parses an OpenWeatherMap /data/2.5/weather answer fetched with
 * units=metric: main.temp (°C), main.humidity, main.pressure (hPa),
 * wind.speed (m/s), weather[0].id mapped to a condition (night by the icon's
 * "n" suffix), dt (observation time, s). main.temp and dt are required; the
 * others may be missing. Every parser here refuses an observation time that
 * is not after the epoch or does not fit in int64_t nanoseconds (after
 * 2262-04-11): such a body is garbage, a provider failure. Returns 0, or -1
 * with a reason in err (not JSON, wrong shape, a time out of range, an error
 * answer such as {"cod":401,"message":…}). */
int weather_parse_owm(const char *body, size_t len, weather_obs *out, char *err,
                      size_t errlen);

/* Parses an Open-Meteo /v1/forecast answer with current=temperature_2m,
 * relative_humidity_2m,surface_pressure,weather_code[,wind_speed_10m,is_day].
 * current.time is either unix seconds (timeformat=unixtime) or local ISO
 * "YYYY-MM-DDTHH:MM" shifted by utc_offset_seconds (at most 18 h either
 * way). Units come from current_units when given. current.temperature_2m
 * and current.time are required. Returns 0, or -1 with a reason in err. */
int weather_parse_open_meteo(const char *body, size_t len, weather_obs *out, char *err,
                             size_t errlen);

/* Reads a HA weather.* entity state: state is the condition, attributes
 * temperature/humidity/pressure/wind_speed with temperature_unit,
 * pressure_unit, wind_speed_unit, last_updated the observation time. A
 * state of "unavailable" or "unknown", no numeric temperature, or a
 * last_updated not after the epoch, is an error. Returns 0, or -1 with a
 * reason in err. */
int weather_from_entity(const json_t *new_state, weather_obs *out, char *err,
                        size_t errlen);

/* The HA condition word of a WMO weather interpretation code (as used by
 * Open-Meteo), or NULL for a code outside the table. Code 0 and 1 at night
 * (is_day false) are "clear-night". */
const char *weather_wmo_condition(int code, bool is_day);

/* The HA condition word of an OpenWeatherMap condition id, or NULL. */
const char *weather_owm_condition(int id, bool is_day);

/* Converts °F, mph and inHg to °C, km/h and hPa in place (UNITS=metric). */
void weather_to_metric(weather_obs *o);

/* Whole seconds from the observation to now_ns, 0 when the observation
 * claims the future: the "age_s" of weather_to_json. */
int64_t weather_age_s(const weather_obs *o, int64_t now_ns);

/* The object attached to events and weather records:
 * {"temperature","humidity","pressure","wind_speed","condition","provider",
 *  "observed_at","age_s","stale","units":{"temperature","pressure",
 *  "wind_speed"}}, unknown numbers and conditions as null. age_s is whole
 * seconds from observed_at to now_ns (0 when the observation claims the
 * future). Returns a new object, or NULL when out of memory. */
json_t *weather_to_json(const weather_obs *o, int64_t now_ns, bool stale);

#endif
