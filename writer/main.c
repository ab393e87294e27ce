/* main.c - homestream-writer: enriched Home Assistant events from Kafka into
 * InfluxDB, what InfluxDB rejects for good into the DLQ. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "hs_admin.h"
#include "hs_config.h"
#include "hs_log.h"
#include "hs_mem.h"
#include "hs_time.h"
#include "replay.h"
#include "sink.h"
#include "wconfig.h"

#define PROG "homestream-writer"
#define SUMMARY                                                                          \
    "Consumes enriched Home Assistant events and writes them to InfluxDB as line\n"      \
    "protocol; points InfluxDB rejects go to the DLQ topic.\n"                           \
    "\n"                                                                                 \
    "  --replay-dlq   re-drive the writer's DLQ records into TOPIC_ENRICHED (after\n"    \
    "                 fixing what InfluxDB rejected), then exit."

/* The one mutable global: set by the signal handler, read by the loops. */
static volatile sig_atomic_t stop_flag = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    wconfig *cfg;
    sink *sink;
    pthread_mutex_t cfg_lock; /* guards cfg against PUT /config */
} app;

static json_t *admin_health(void *ud)
{
    return sink_health(((app *)ud)->sink);
}

static json_t *admin_stats(void *ud)
{
    return sink_stats(((app *)ud)->sink);
}

static json_t *admin_recent(void *ud, int limit, const char *entity_id)
{
    return sink_recent(((app *)ud)->sink, limit, entity_id);
}

static json_t *admin_config_get(void *ud)
{
    app *a = ud;
    pthread_mutex_lock(&a->cfg_lock);
    json_t *j = hs_cfg_to_json(wconfig_vars, wconfig_nvars, a->cfg);
    pthread_mutex_unlock(&a->cfg_lock);
    return j;
}

/* The text of a JSON value given for a setting; NULL for objects/arrays. */
static char *setting_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v))
        return json_dumps(v, JSON_ENCODE_ANY);
    return NULL;
}

static int admin_config_put(void *ud, json_t *body, char *err, size_t errlen)
{
    app *a = ud;
    if (!json_is_object(body)) {
        snprintf(err, errlen, "the body must be a JSON object of settings");
        return -1;
    }
    /* Validate everything on a scratch struct first: all or nothing. */
    wconfig scratch;
    memset(&scratch, 0, sizeof scratch);
    const char *name;
    json_t *v;
    int rc = 0;
    json_object_foreach(body, name, v)
    {
        char *text = setting_text(v);
        if (text == NULL) {
            snprintf(err, errlen, "%s: expected a string, number or boolean", name);
            rc = -1;
        } else {
            rc = hs_cfg_set(wconfig_vars, wconfig_nvars, &scratch, name, text, true, err,
                            errlen);
        }
        free(text);
        if (rc < 0)
            break;
    }
    hs_cfg_free(wconfig_vars, wconfig_nvars, &scratch);
    if (rc < 0)
        return -1;
    pthread_mutex_lock(&a->cfg_lock);
    json_object_foreach(body, name, v)
    {
        char *text = setting_text(v);
        if (text != NULL &&
            hs_cfg_set(wconfig_vars, wconfig_nvars, a->cfg, name, text, true, err,
                       errlen) == 0 &&
            strcmp(name, "LOG_LEVEL") == 0) {
            hs_log_level lvl;
            if (hs_log_level_parse(text, &lvl) == 0)
                hs_log_set_level(lvl);
        }
        free(text);
    }
    pthread_mutex_unlock(&a->cfg_lock);
    return 0;
}

static int load_config(wconfig *cfg)
{
    char err[512];
    if (hs_cfg_load(wconfig_vars, wconfig_nvars, cfg, NULL, NULL, err, sizeof err) < 0 ||
        wconfig_validate(cfg, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    hs_log_level lvl = HS_LOG_INFO;
    hs_log_level_parse(cfg->common.log_level, &lvl);
    hs_log_setup("writer", lvl, cfg->common.log_format);
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run_replay(wconfig *cfg)
{
    replay_result res;
    char err[256];
    int rc = replay_dlq_run(cfg, &stop_flag, 15000, &res, err, sizeof err);
    printf("{\"read\":%" PRIu64 ",\"replayed\":%" PRIu64 ",\"skipped\":%" PRIu64
           ",\"truncated\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"failed\":%" PRIu64 "}\n",
           res.read, res.replayed, res.skipped, res.truncated, res.invalid, res.failed);
    if (res.truncated > 0)
        fprintf(stderr,
                PROG
                ": --replay-dlq: skipped %" PRIu64
                " records whose payload the DLQ holds only in part (payload_truncated)\n",
                res.truncated);
    if (rc < 0)
        fprintf(stderr, PROG ": --replay-dlq: %s\n", err);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    (void)hs_mem_tune(); /* before any thread starts; see hs_mem.h */
    wconfig cfg;
    memset(&cfg, 0, sizeof cfg);
    bool replay = argc > 1 && strcmp(argv[1], "--replay-dlq") == 0;
    if (argc == 2 && strcmp(argv[1], "--check-config") == 0) {
        /* The table's checks run in hs_cfg_handle_args; the checks across
         * variables (what each INFLUX_API_VERSION needs) run here first. */
        char err[512];
        if (hs_cfg_load(wconfig_vars, wconfig_nvars, &cfg, NULL, NULL, err, sizeof err) ==
                0 &&
            wconfig_validate(&cfg, err, sizeof err) < 0) {
            fprintf(stderr, PROG ": %s\n", err);
            hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
            return 1;
        }
        hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
    }
    if (!replay) {
        int a = hs_cfg_handle_args(argc, argv, PROG, SUMMARY, wconfig_vars, wconfig_nvars,
                                   &cfg);
        if (a != HS_CFG_ARGS_RUN) {
            hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
            return a == HS_CFG_ARGS_EXIT_OK ? 0 : 1;
        }
    } else if (argc > 2) {
        fprintf(stderr, PROG ": --replay-dlq takes no further arguments\n");
        return 1;
    }
    if (load_config(&cfg) < 0) {
        hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
        return 1;
    }
    install_signals();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
        return 1;
    }
    if (replay) {
        int rc = run_replay(&cfg);
        curl_global_cleanup();
        hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
        return rc;
    }

    int exit_code = 0;
    char err[512];
    app a = {.cfg = &cfg};
    pthread_mutex_init(&a.cfg_lock, NULL);
    hs_admin *admin = NULL;
    a.sink = sink_new(&cfg, err, sizeof err);
    if (a.sink == NULL) {
        hs_error("main", "cannot start: %s", err);
        fprintf(stderr, PROG ": %s\n", err);
        exit_code = 1;
        goto out;
    }
    sink_set_stop_flag(a.sink, &stop_flag);
    if (cfg.common.admin_addr != NULL && cfg.common.admin_addr[0] != '\0') {
        hs_admin_handlers h = {
            .health = admin_health,
            .stats = admin_stats,
            .recent = admin_recent,
            .config_get = admin_config_get,
            .config_put = admin_config_put,
            .ud = &a,
        };
        admin = hs_admin_start(cfg.common.admin_addr, "writer", cfg.common.admin_token,
                               &h, err, sizeof err);
        if (admin == NULL) {
            hs_error("main", "admin endpoint on %s: %s", cfg.common.admin_addr, err);
            fprintf(stderr, PROG ": ADMIN_ADDR: %s\n", err);
            exit_code = 1;
            goto out;
        }
    }
    hs_info("main", "started: %s -> %s (API %s, schema %s), admin %s",
            cfg.common.topic_enriched, cfg.influx_url, cfg.influx_api_version,
            cfg.influx_schema, admin ? cfg.common.admin_addr : "disabled");
    while (!stop_flag)
        sink_step(a.sink, 100);
    hs_info("main", "stopping");
    sink_shutdown(a.sink, 4000);
out:
    hs_admin_stop(admin);
    sink_free(a.sink);
    pthread_mutex_destroy(&a.cfg_lock);
    curl_global_cleanup();
    hs_cfg_free(wconfig_vars, wconfig_nvars, &cfg);
    return exit_code;
}
