/* hs_config.h - daemon configuration from a table of environment variables.
 *
 * Each daemon declares one struct and one table of hs_cfg_var rows that say,
 * for every variable, its type, default, range, whether it is a secret and
 * where in the struct it lands. The same table fills the struct from the
 * environment, prints --help, renders /config (secrets masked) and the
 * Markdown configuration reference, so the four cannot drift apart. */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef enum {
    HS_CFG_STR,    /* char *, owned by the struct, NULL when unset */
    HS_CFG_INT,    /* int64_t, within [min, max] */
    HS_CFG_DOUBLE, /* double, within [min, max] */
    HS_CFG_BOOL,   /* bool: 1/0, true/false, yes/no, on/off */
    HS_CFG_ENUM,   /* char *, one of the '|'-separated choices */
    HS_CFG_URL,    /* char *, must start with one of the '|'-separated schemes in
                      choices (e.g. "http://|https://") */
    HS_CFG_LIST,   /* char *, comma-separated list, kept as given (trimmed) */
} hs_cfg_type;

enum {
    HS_CFG_SECRET = 1u << 0,  /* masked in /config, never logged; NAME_FILE read too */
    HS_CFG_RUNTIME = 1u << 1, /* may be changed by PUT /config */
    HS_CFG_REQUIRED = 1u << 2 /* an empty value is an error */
};

typedef struct {
    const char *name;    /* environment variable */
    hs_cfg_type type;
    const char *def;     /* default as text; NULL means unset */
    double min, max;     /* range for INT and DOUBLE (ignored when min > max) */
    const char *choices; /* ENUM choices or URL schemes, '|'-separated */
    unsigned flags;      /* HS_CFG_SECRET | HS_CFG_RUNTIME | HS_CFG_REQUIRED */
    size_t offset;       /* offsetof(daemon struct, field) */
    const char *doc;     /* one sentence for --help and the docs */
} hs_cfg_var;

/* The settings every stage has. Embed it as the member `common` of the
 * daemon's struct and list HS_CFG_COMMON_ROWS(type) in its table. */
typedef struct {
    char *kafka_brokers;
    char *site;
    char *log_level;
    char *log_format;
    char *admin_addr;
    char *admin_token;
    char *topic_raw;
    char *topic_enriched;
    char *topic_dlq;
} hs_common_cfg;

#define HS_CFG_COMMON_ROWS(type, admin_default)                                      \
    {"KAFKA_BROKERS", HS_CFG_STR, "127.0.0.1:9092", 0, -1, NULL, HS_CFG_REQUIRED,    \
     offsetof(type, common.kafka_brokers), "Kafka bootstrap servers, host:port,..."}, \
    {"SITE", HS_CFG_STR, "home", 0, -1, NULL, HS_CFG_REQUIRED,                        \
     offsetof(type, common.site), "Name of this Home Assistant site, tagged on every event."}, \
    {"LOG_LEVEL", HS_CFG_ENUM, "info", 0, -1, "debug|info|warn|error", HS_CFG_RUNTIME, \
     offsetof(type, common.log_level), "Least severe log level written."},           \
    {"LOG_FORMAT", HS_CFG_ENUM, "json", 0, -1, "json|text", 0,                        \
     offsetof(type, common.log_format), "Log format on stdout."},                    \
    {"ADMIN_ADDR", HS_CFG_STR, admin_default, 0, -1, NULL, 0,                         \
     offsetof(type, common.admin_addr), "host:port of the admin HTTP endpoint; empty disables it."}, \
    {"ADMIN_TOKEN", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET,                     \
     offsetof(type, common.admin_token),                                             \
     "When set, every admin route but /health needs it as Bearer token or X-API-Key."}, \
    {"TOPIC_RAW", HS_CFG_STR, "ha.events.raw", 0, -1, NULL, HS_CFG_REQUIRED,          \
     offsetof(type, common.topic_raw), "Topic of raw Home Assistant events."},       \
    {"TOPIC_ENRICHED", HS_CFG_STR, "ha.events.enriched", 0, -1, NULL, HS_CFG_REQUIRED, \
     offsetof(type, common.topic_enriched), "Topic of enriched events."},            \
    {"TOPIC_DLQ", HS_CFG_STR, "ha.events.dlq", 0, -1, NULL, HS_CFG_REQUIRED,          \
     offsetof(type, common.topic_dlq), "Dead-letter topic."}

/* Looks a variable up; the default is getenv(3). Tests inject their own. */
typedef const char *(*hs_cfg_getenv_fn)(const char *name, void *ud);

/* Fills cfg from the environment using the table. For a SECRET variable NAME
 * that is unset, NAME_FILE names a file whose content (trailing newline
 * stripped) is the value; setting both is an error. On failure returns -1 and
 * writes a message that names the variable into err; the struct may then be
 * half filled and must still be released with hs_cfg_free(). */
int hs_cfg_load(const hs_cfg_var *vars, size_t n, void *cfg, hs_cfg_getenv_fn getenv_fn,
                void *ud, char *err, size_t errlen);

/* Frees every string the table owns in cfg and sets them to NULL. */
void hs_cfg_free(const hs_cfg_var *vars, size_t n, void *cfg);

/* Validates and sets one variable from text. With runtime_only, refuses a
 * variable without HS_CFG_RUNTIME. Returns 0, or -1 with a message in err. */
int hs_cfg_set(const hs_cfg_var *vars, size_t n, void *cfg, const char *name,
               const char *value, bool runtime_only, char *err, size_t errlen);

/* Masks a secret for display: "****" followed by its last 4 characters
 * (all stars when it has 4 or fewer). Returns a malloc'd string. */
char *hs_cfg_mask(const char *secret);

/* Effective configuration as a new JSON object {NAME: value}, secrets masked,
 * unset strings as null. */
json_t *hs_cfg_to_json(const hs_cfg_var *vars, size_t n, const void *cfg);

/* Prints usage: the program line, the summary and every variable with its
 * type, default and doc. */
void hs_cfg_print_help(FILE *out, const char *prog, const char *summary,
                       const hs_cfg_var *vars, size_t n);

/* Prints the table as a Markdown table (the docs' configuration reference). */
void hs_cfg_print_markdown(FILE *out, const hs_cfg_var *vars, size_t n);

/* The command line every daemon accepts: --help, --version, --check-config,
 * --config-markdown. Returns HS_CFG_ARGS_RUN to start the daemon,
 * HS_CFG_ARGS_EXIT_OK / HS_CFG_ARGS_EXIT_FAIL when main should return 0 / 1
 * (it has printed what was asked). With --check-config it loads the
 * configuration, prints the masked result or the error, and exits. */
enum { HS_CFG_ARGS_RUN = 0, HS_CFG_ARGS_EXIT_OK = 1, HS_CFG_ARGS_EXIT_FAIL = 2 };
int hs_cfg_handle_args(int argc, char **argv, const char *prog, const char *summary,
                       const hs_cfg_var *vars, size_t n, void *cfg);

#endif
