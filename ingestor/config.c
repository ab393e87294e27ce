/* config.c - the ingestor's configuration table. */
#include "config.h"

#define ROW_LIST(name, field, doc)                                                       \
    {                                                                                    \
        name, HS_CFG_LIST, NULL, 0, -1, NULL, HS_CFG_RUNTIME,                            \
            offsetof(struct ingestor_config, field), doc                                 \
    }

const hs_cfg_var ingestor_config_vars[] = {
    HS_CFG_COMMON_ROWS(struct ingestor_config, "127.0.0.1:8081"),
    {"HA_URL", HS_CFG_URL, "ws://homeassistant.local:8123/api/websocket", 0, -1,
     "ws://|wss://|http://|https://", HS_CFG_REQUIRED,
     offsetof(struct ingestor_config, ha_url),
     "Home Assistant WebSocket API URL (ws:// or wss://; http(s):// is accepted too)."},
    {"HA_TOKEN", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET | HS_CFG_REQUIRED,
     offsetof(struct ingestor_config, ha_token),
     "Home Assistant long-lived access token (or HA_TOKEN_FILE)."},
    {"HA_EVENT_TYPES", HS_CFG_LIST, "state_changed", 0, -1, NULL, 0,
     offsetof(struct ingestor_config, ha_event_types),
     "Event types to subscribe to, comma-separated; \"*\" or empty for all events."},
    {"HA_CA_FILE", HS_CFG_STR, NULL, 0, -1, NULL, 0,
     offsetof(struct ingestor_config, ha_ca_file),
     "PEM CA bundle to verify a wss:// server (default: the system's)."},
    {"HA_TLS_INSECURE", HS_CFG_BOOL, "false", 0, -1, NULL, 0,
     offsetof(struct ingestor_config, ha_tls_insecure),
     "Accept self-signed or expired certificates and any host name (testing only)."},
    {"HA_PING_INTERVAL_S", HS_CFG_INT, "30", 1, 3600, NULL, 0,
     offsetof(struct ingestor_config, ha_ping_interval_s),
     "Seconds between WebSocket API pings to Home Assistant."},
    {"HA_PONG_TIMEOUT_S", HS_CFG_INT, "15", 1, 600, NULL, 0,
     offsetof(struct ingestor_config, ha_pong_timeout_s),
     "Seconds without a pong (or without finishing authentication) before reconnecting."},
    {"HA_RECONNECT_MAX_S", HS_CFG_INT, "60", 1, 3600, NULL, 0,
     offsetof(struct ingestor_config, ha_reconnect_max_s),
     "Cap of the exponential reconnect backoff (it starts at 1 s, full jitter)."},
    {"HA_RECORDER_COMMIT_S", HS_CFG_INT, "5", 0, 300, NULL, 0,
     offsetof(struct ingestor_config, ha_recorder_commit_s),
     "Home Assistant recorder commit interval: after a reconnect, history is asked again "
     "this long (+1 s) after resubscribing, to close the gap completely."},
    ROW_LIST("INCLUDE_DOMAINS", include_domains,
             "Only these domains (HA entityfilter rules)."),
    ROW_LIST("EXCLUDE_DOMAINS", exclude_domains, "Never these domains."),
    ROW_LIST("INCLUDE_ENTITIES", include_entities, "Always these entity ids."),
    ROW_LIST("EXCLUDE_ENTITIES", exclude_entities, "Never these entity ids."),
    ROW_LIST("INCLUDE_ENTITY_GLOBS", include_entity_globs,
             "Entity id patterns to include (* and ?)."),
    ROW_LIST("EXCLUDE_ENTITY_GLOBS", exclude_entity_globs,
             "Entity id patterns to exclude (* and ?)."),
    {"SPOOL_DIR", HS_CFG_STR, "/var/lib/homestream/ingestor", 0, -1, NULL, 0,
     offsetof(struct ingestor_config, spool_dir),
     "Directory for the disk spool and the last produced event time."},
    {"SPOOL_MAX_MB", HS_CFG_INT, "256", 1, 1048576, NULL, 0,
     offsetof(struct ingestor_config, spool_max_mb),
     "Largest size of the disk spool in MiB."},
    {"MEMQ_MAX_EVENTS", HS_CFG_INT, "100000", 1, 100000000, NULL, 0,
     offsetof(struct ingestor_config, memq_max_events),
     "Events held in memory while the Kafka producer cannot take them."},
    {"STATS_INTERVAL_S", HS_CFG_INT, "10", 0, 3600, NULL, 0,
     offsetof(struct ingestor_config, stats_interval_s),
     "Seconds between the stage's own statistics records on TOPIC_ENRICHED "
     "(measurement homestream in InfluxDB); 0 disables them."},
};

const size_t ingestor_config_nvars =
    sizeof(ingestor_config_vars) / sizeof(ingestor_config_vars[0]);
