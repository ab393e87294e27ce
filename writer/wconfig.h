/* wconfig.h - the writer's configuration: its struct and variable table. */
#ifndef WCONFIG_H
#define WCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

typedef struct {
    hs_common_cfg common;
    char *kafka_group;
    char *influx_url;
    char *influx_api_version; /* "1" | "2" | "3" */
    char *influx_db;
    char *influx_rp;
    char *influx_user;
    char *influx_password;
    char *influx_org;
    char *influx_bucket;
    char *influx_token;
    char *influx_schema; /* "ha" | "events" */
    char *influx_measurement_attr;
    char *influx_override_measurement;
    char *default_measurement;
    bool influx_gzip;
    int64_t influx_timeout_ms;
    int64_t batch_max_points;
    int64_t batch_max_bytes;
    int64_t flush_interval_ms;
    int64_t stats_interval_s; /* 0: no homestream_stats records */
} wconfig;

/* The table (hs_config.h) and its length. */
extern const hs_cfg_var wconfig_vars[];
extern const size_t wconfig_nvars;

/* Checks what the table cannot: the settings each INFLUX_API_VERSION needs
 * (v1: INFLUX_DB, and INFLUX_USER when a password is set; v2: INFLUX_ORG,
 * INFLUX_BUCKET and INFLUX_TOKEN; v3: INFLUX_BUCKET or INFLUX_DB, the token
 * being optional since InfluxDB 3 may run without authentication). Returns 0, or -1 with
 * a message naming the variable in err. */
int wconfig_validate(const wconfig *cfg, char *err, size_t errlen);

#endif
