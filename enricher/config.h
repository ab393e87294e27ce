/* config.h - homestream-enricher's configuration: its struct, its table of
 * environment variables and the checks that span several variables. */
#ifndef ENRICHER_CONFIG_H
#define ENRICHER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

/* Filled by hs_cfg_load() from config_vars; released with hs_cfg_free(). */
struct enricher_config {
    hs_common_cfg common;
    char *kafka_group;
    char *weather_provider; /* NULL: openweathermap when a key is set, else none */
    char *weather_url;
    char *weather_api_key;
    double weather_lat; /* (0, 0) means unset */
    double weather_lon;
    char *weather_entity;
    int64_t weather_cache_minutes;
    int64_t weather_timeout_s;
    char *presence_url;
    int64_t presence_poll_s;
    char *presence_state_file;
    char *units; /* "native" or "metric" */
    int64_t stats_interval_s; /* 0: no homestream_stats records */
};

extern const hs_cfg_var config_vars[];
extern const size_t config_nvars;

typedef enum {
    WEATHER_NONE = 0,
    WEATHER_OPENWEATHERMAP,
    WEATHER_OPEN_METEO,
    WEATHER_ENTITY,
} weather_provider_kind;

/* The provider in effect: WEATHER_PROVIDER when set, else openweathermap
 * when WEATHER_API_KEY is set, else none. */
weather_provider_kind config_weather_provider(const struct enricher_config *cfg);
const char *config_weather_provider_name(weather_provider_kind kind);
/* True for the providers fetched over HTTP (openweathermap, open-meteo). */
bool config_weather_fetches(weather_provider_kind kind);

/* Checks what the table alone cannot: openweathermap needs WEATHER_API_KEY,
 * openweathermap and open-meteo need WEATHER_LAT/WEATHER_LON (not both 0),
 * entity needs WEATHER_ENTITY naming a weather.* entity. Returns 0, or -1
 * with a message naming the variable in err. */
int config_validate(const struct enricher_config *cfg, char *err, size_t errlen);

#endif
