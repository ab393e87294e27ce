/* config.c - homestream-enricher's configuration table and checks. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#define CFG struct enricher_config

const hs_cfg_var config_vars[] = {
    HS_CFG_COMMON_ROWS(CFG, "127.0.0.1:8082"),
    {"KAFKA_GROUP", HS_CFG_STR, "homestream-enricher", 0, -1, NULL, HS_CFG_REQUIRED,
     offsetof(CFG, kafka_group), "Kafka consumer group of the enricher."},
    {"WEATHER_PROVIDER", HS_CFG_ENUM, NULL, 0, -1,
     "openweathermap|open-meteo|entity|none", 0, offsetof(CFG, weather_provider),
     "Weather source; unset means openweathermap when WEATHER_API_KEY is set, else "
     "none."},
    {"WEATHER_URL", HS_CFG_URL, NULL, 0, -1, "http://|https://", 0,
     offsetof(CFG, weather_url),
     "Base URL of the weather API (default: the provider's public one), for tests and "
     "proxies."},
    {"WEATHER_API_KEY", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET,
     offsetof(CFG, weather_api_key), "OpenWeatherMap API key."},
    {"WEATHER_LAT", HS_CFG_DOUBLE, "0", -90, 90, NULL, HS_CFG_RUNTIME,
     offsetof(CFG, weather_lat),
     "Latitude of the weather location in degrees (0 with WEATHER_LON 0 means unset)."},
    {"WEATHER_LON", HS_CFG_DOUBLE, "0", -180, 180, NULL, HS_CFG_RUNTIME,
     offsetof(CFG, weather_lon), "Longitude of the weather location in degrees."},
    {"WEATHER_ENTITY", HS_CFG_STR, NULL, 0, -1, NULL, 0, offsetof(CFG, weather_entity),
     "Home Assistant weather.* entity used by WEATHER_PROVIDER=entity."},
    {"WEATHER_CACHE_MINUTES", HS_CFG_INT, "15", 1, 1440, NULL, HS_CFG_RUNTIME,
     offsetof(CFG, weather_cache_minutes),
     "Minutes between weather fetches; an observation older than twice this is stale."},
    {"WEATHER_TIMEOUT_S", HS_CFG_INT, "10", 1, 120, NULL, 0,
     offsetof(CFG, weather_timeout_s),
     "Timeout of one weather or presence HTTP request, in seconds."},
    {"PRESENCE_URL", HS_CFG_URL, NULL, 0, -1, "http://|https://", 0,
     offsetof(CFG, presence_url),
     "URL of a JSON document of who is home, polled as a further presence source."},
    {"PRESENCE_POLL_S", HS_CFG_INT, "60", 5, 86400, NULL, 0,
     offsetof(CFG, presence_poll_s), "Seconds between PRESENCE_URL polls."},
    {"PRESENCE_STATE_FILE", HS_CFG_STR, NULL, 0, -1, NULL, 0,
     offsetof(CFG, presence_state_file),
     "File where the presence snapshot is saved on every change and read back at start; "
     "unset keeps presence in memory only."},
    {"UNITS", HS_CFG_ENUM, "native", 0, -1, "native|metric", 0, offsetof(CFG, units),
     "metric converts °F to °C, mph to km/h and inHg to hPa in value/unit and weather; "
     "native keeps units as given."},
    {"STATS_INTERVAL_S", HS_CFG_INT, "10", 0, 3600, NULL, 0,
     offsetof(CFG, stats_interval_s),
     "Seconds between the stage's own statistics records on TOPIC_ENRICHED "
     "(measurement homestream in InfluxDB); 0 disables them."},
};

const size_t config_nvars = sizeof config_vars / sizeof config_vars[0];

weather_provider_kind config_weather_provider(const struct enricher_config *cfg)
{
    const char *p = cfg->weather_provider;
    if (p == NULL || p[0] == '\0')
        return cfg->weather_api_key && cfg->weather_api_key[0] ? WEATHER_OPENWEATHERMAP
                                                               : WEATHER_NONE;
    if (strcmp(p, "openweathermap") == 0)
        return WEATHER_OPENWEATHERMAP;
    if (strcmp(p, "open-meteo") == 0)
        return WEATHER_OPEN_METEO;
    if (strcmp(p, "entity") == 0)
        return WEATHER_ENTITY;
    return WEATHER_NONE;
}

bool config_weather_fetches(weather_provider_kind kind)
{
    return kind == WEATHER_OPENWEATHERMAP || kind == WEATHER_OPEN_METEO;
}

const char *config_weather_provider_name(weather_provider_kind kind)
{
    switch (kind) {
    case WEATHER_OPENWEATHERMAP:
        return "openweathermap";
    case WEATHER_OPEN_METEO:
        return "open-meteo";
    case WEATHER_ENTITY:
        return "entity";
    case WEATHER_NONE:
        break;
    }
    return "none";
}

int config_validate(const struct enricher_config *cfg, char *err, size_t errlen)
{
    weather_provider_kind kind = config_weather_provider(cfg);
    if (kind == WEATHER_OPENWEATHERMAP &&
        !(cfg->weather_api_key && cfg->weather_api_key[0])) {
        snprintf(err, errlen,
                 "WEATHER_API_KEY: is required by WEATHER_PROVIDER=openweathermap "
                 "(set WEATHER_API_KEY or WEATHER_API_KEY_FILE)");
        return -1;
    }
    if ((kind == WEATHER_OPENWEATHERMAP || kind == WEATHER_OPEN_METEO) &&
        cfg->weather_lat == 0 && cfg->weather_lon == 0) {
        snprintf(err, errlen,
                 "WEATHER_LAT: WEATHER_LAT and WEATHER_LON are required by "
                 "WEATHER_PROVIDER=%s",
                 config_weather_provider_name(kind));
        return -1;
    }
    if (kind == WEATHER_ENTITY &&
        (!cfg->weather_entity || strncmp(cfg->weather_entity, "weather.", 8) != 0 ||
         cfg->weather_entity[8] == '\0')) {
        snprintf(err, errlen,
                 "WEATHER_ENTITY: must name a weather.* entity when "
                 "WEATHER_PROVIDER=entity");
        return -1;
    }
    return 0;
}
