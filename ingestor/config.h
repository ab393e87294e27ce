/* config.h - the ingestor's configuration: its struct and variable table. */
#ifndef INGESTOR_CONFIG_H
#define INGESTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

struct ingestor_config {
    hs_common_cfg common;
    char *ha_url;
    char *ha_token;
    char *ha_event_types;
    char *ha_ca_file;
    bool ha_tls_insecure;
    int64_t ha_ping_interval_s;
    int64_t ha_pong_timeout_s;
    int64_t ha_reconnect_max_s;
    int64_t ha_recorder_commit_s;
    char *include_domains;
    char *exclude_domains;
    char *include_entities;
    char *exclude_entities;
    char *include_entity_globs;
    char *exclude_entity_globs;
    char *spool_dir;
    int64_t spool_max_mb;
    int64_t memq_max_events;
    int64_t stats_interval_s;
};

/* The table hs_config reads (see DESIGN.md section 6). */
extern const hs_cfg_var ingestor_config_vars[];
extern const size_t ingestor_config_nvars;

#endif
