/* wconfig.c - the writer's configuration: its struct and variable table. */
#include "wconfig.h"

#include <stdio.h>
#include <string.h>

const hs_cfg_var wconfig_vars[] = {
    HS_CFG_COMMON_ROWS(wconfig, "127.0.0.1:8083"),
    {"KAFKA_GROUP", HS_CFG_STR, "homestream-writer", 0, -1, NULL, HS_CFG_REQUIRED,
     offsetof(wconfig, kafka_group), "Kafka consumer group of the writer."},
    {"INFLUX_URL", HS_CFG_URL, "http://127.0.0.1:8086", 0, -1, "http://|https://",
     HS_CFG_REQUIRED, offsetof(wconfig, influx_url), "Base URL of InfluxDB."},
    {"INFLUX_API_VERSION", HS_CFG_ENUM, "2", 0, -1, "1|2|3", 0,
     offsetof(wconfig, influx_api_version),
     "1: /write with db/rp and user/password; 2: /api/v2/write with org/bucket and "
     "token; "
     "3: InfluxDB 3's /api/v2/write compatibility endpoint with bucket (else INFLUX_DB) "
     "and token."},
    {"INFLUX_DB", HS_CFG_STR, "home_assistant", 0, -1, NULL, 0,
     offsetof(wconfig, influx_db),
     "Database (API 1; API 3 when INFLUX_BUCKET is unset)."},
    {"INFLUX_RP", HS_CFG_STR, NULL, 0, -1, NULL, 0, offsetof(wconfig, influx_rp),
     "Retention policy (API 1); unset uses the database's default."},
    {"INFLUX_USER", HS_CFG_STR, NULL, 0, -1, NULL, 0, offsetof(wconfig, influx_user),
     "User for basic auth (API 1)."},
    {"INFLUX_PASSWORD", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET,
     offsetof(wconfig, influx_password), "Password for basic auth (API 1)."},
    {"INFLUX_ORG", HS_CFG_STR, NULL, 0, -1, NULL, 0, offsetof(wconfig, influx_org),
     "Organisation (API 2)."},
    {"INFLUX_BUCKET", HS_CFG_STR, NULL, 0, -1, NULL, 0, offsetof(wconfig, influx_bucket),
     "Bucket (API 2 and 3)."},
    {"INFLUX_TOKEN", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET,
     offsetof(wconfig, influx_token),
     "API token, sent as \"Authorization: Token\" (API 2 and 3)."},
    {"INFLUX_SCHEMA", HS_CFG_ENUM, "ha", 0, -1, "ha|events", 0,
     offsetof(wconfig, influx_schema),
     "ha: what Home Assistant's InfluxDB integration writes; events: one measurement "
     "home_assistant_events."},
    {"INFLUX_MEASUREMENT_ATTR", HS_CFG_ENUM, "unit_of_measurement", 0, -1,
     "unit_of_measurement|domain__device_class|device_class|entity_id", 0,
     offsetof(wconfig, influx_measurement_attr),
     "What names the measurement in the ha schema (HA's measurement_attr)."},
    {"INFLUX_OVERRIDE_MEASUREMENT", HS_CFG_STR, NULL, 0, -1, NULL, 0,
     offsetof(wconfig, influx_override_measurement),
     "One measurement for every state in the ha schema (HA's override_measurement)."},
    {"DEFAULT_MEASUREMENT", HS_CFG_STR, NULL, 0, -1, NULL, 0,
     offsetof(wconfig, default_measurement),
     "Measurement of states without a unit in the ha schema; unset uses the entity_id."},
    {"INFLUX_GZIP", HS_CFG_BOOL, "false", 0, -1, NULL, 0, offsetof(wconfig, influx_gzip),
     "Compress write bodies with gzip."},
    {"INFLUX_TIMEOUT_MS", HS_CFG_INT, "10000", 100, 600000, NULL, 0,
     offsetof(wconfig, influx_timeout_ms),
     "Timeout of one write request in milliseconds."},
    {"BATCH_MAX_POINTS", HS_CFG_INT, "5000", 1, 1000000, NULL, 0,
     offsetof(wconfig, batch_max_points), "Most points in one write."},
    {"BATCH_MAX_BYTES", HS_CFG_INT, "1048576", 1024, 268435456, NULL, 0,
     offsetof(wconfig, batch_max_bytes), "Most bytes of line protocol in one write."},
    {"FLUSH_INTERVAL_MS", HS_CFG_INT, "100", 0, 60000, NULL, 0,
     offsetof(wconfig, flush_interval_ms),
     "Longest a point waits for its batch to fill while events keep arriving; the batch "
     "is written at once whenever the consumer has nothing more queued."},
    {"STATS_INTERVAL_S", HS_CFG_INT, "10", 0, 3600, NULL, 0,
     offsetof(wconfig, stats_interval_s),
     "Seconds between the stage's own statistics records on TOPIC_ENRICHED "
     "(measurement homestream in InfluxDB); 0 disables them."},
};

const size_t wconfig_nvars = sizeof wconfig_vars / sizeof wconfig_vars[0];

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

int wconfig_validate(const wconfig *cfg, char *err, size_t errlen)
{
    const char *v = cfg->influx_api_version ? cfg->influx_api_version : "2";
    if (strcmp(v, "1") == 0) {
        if (empty(cfg->influx_db)) {
            snprintf(err, errlen, "INFLUX_DB: required with INFLUX_API_VERSION=1");
            return -1;
        }
        if (!empty(cfg->influx_password) && empty(cfg->influx_user)) {
            snprintf(err, errlen, "INFLUX_USER: required when INFLUX_PASSWORD is set");
            return -1;
        }
        return 0;
    }
    if (strcmp(v, "2") == 0) {
        if (empty(cfg->influx_org)) {
            snprintf(err, errlen, "INFLUX_ORG: required with INFLUX_API_VERSION=2");
            return -1;
        }
        if (empty(cfg->influx_bucket)) {
            snprintf(err, errlen, "INFLUX_BUCKET: required with INFLUX_API_VERSION=2");
            return -1;
        }
    } else if (empty(cfg->influx_bucket) && empty(cfg->influx_db)) {
        snprintf(err, errlen,
                 "INFLUX_BUCKET: required with INFLUX_API_VERSION=3 "
                 "(or INFLUX_DB)");
        return -1;
    }
    if (strcmp(v, "2") == 0 && empty(cfg->influx_token)) {
        snprintf(err, errlen, "INFLUX_TOKEN: required with INFLUX_API_VERSION=2");
        return -1;
    }
    return 0;
}
