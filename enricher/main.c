/* main.c - homestream-enricher: ha.events.raw -> ha.events.enriched, adding
 * time_ns, value, unit, device_class, presence and weather. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config.h"
#include "hs_admin.h"
#include "hs_config.h"
#include "hs_log.h"
#include "hs_mem.h"
#include "hs_statsrec.h"
#include "hs_time.h"
#include "pipeline.h"
#include "poller.h"

/* Deliveries, commit and close; the producer's purge adds at most 1 s, so
 * the daemon exits within 5 s of SIGTERM. */
#define SHUTDOWN_BUDGET_MS 3500

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* What the admin callbacks need. */
typedef struct {
    struct enricher_config *cfg;
    pthread_mutex_t cfg_lock; /* guards cfg against PUT /config */
    pipeline *pipe;
    poller *poller;
    int64_t started_ms;
    int64_t next_stats_ms; /* monotonic; 0: no homestream_stats records */
} app;

static json_t *on_health(void *ud)
{
    app *a = ud;
    json_t *deps = json_object();
    json_t *kafka = pipeline_health_kafka(a->pipe);
    const char *ks = json_string_value(json_object_get(kafka, "state"));
    int sev = ks && strcmp(ks, "unhealthy") == 0 ? 2
              : ks && strcmp(ks, "ok") != 0      ? 1
                                                 : 0;
    json_object_set_new(deps, "kafka", kafka ? kafka : json_null());
    int psev = poller_health(a->poller, deps);
    if (psev > sev)
        sev = psev;
    static const char *const names[] = {"ok", "degraded", "unhealthy"};
    return json_pack("{s:s, s:s, s:o}", "status", names[sev], "stage", "enricher",
                     "dependencies", deps);
}

static json_t *on_stats(void *ud)
{
    app *a = ud;
    pthread_mutex_lock(&a->cfg_lock);
    json_t *o =
        json_pack("{s:s, s:s, s:I}", "stage", "enricher", "site", a->cfg->common.site,
                  "uptime_s", (json_int_t)((hs_now_mono_ms() - a->started_ms) / 1000));
    pthread_mutex_unlock(&a->cfg_lock);
    if (!o)
        return NULL;
    pipeline_stats(a->pipe, o);
    json_t *breakers = json_object();
    poller_breakers(a->poller, breakers);
    json_object_set_new(o, "breakers", breakers);
    poller_stats(a->poller, o);
    json_object_set_new(o, "presence", pipeline_presence(a->pipe));
    return o;
}

static json_t *on_recent(void *ud, int limit, const char *entity_id)
{
    app *a = ud;
    return pipeline_recent(a->pipe, limit, entity_id);
}

static json_t *on_config_get(void *ud)
{
    app *a = ud;
    pthread_mutex_lock(&a->cfg_lock);
    json_t *o = hs_cfg_to_json(config_vars, config_nvars, a->cfg);
    pthread_mutex_unlock(&a->cfg_lock);
    return o;
}

/* The text of a PUT /config value: strings as they are, numbers and
 * booleans printed; anything else is refused. */
static int value_text(const char *name, json_t *v, char *buf, size_t len, char *err,
                      size_t errlen)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else {
        snprintf(err, errlen, "%s: value must be a string or a number", name);
        return -1;
    }
    return 0;
}

/* All or nothing: every name/value is first applied to a scratch copy of
 * the configuration, then to the real one. */
static int on_config_put(void *ud, json_t *body, char *err, size_t errlen)
{
    app *a = ud;
    if (!json_is_object(body)) {
        snprintf(err, errlen, "body must be a JSON object of NAME: value");
        return -1;
    }
    const char *name;
    json_t *v;
    char text[512];
    struct enricher_config scratch = {0};
    int rc = 0;
    pthread_mutex_lock(&a->cfg_lock);
    scratch.weather_lat = a->cfg->weather_lat;
    scratch.weather_lon = a->cfg->weather_lon;
    json_object_foreach(body, name, v)
    {
        if (value_text(name, v, text, sizeof text, err, errlen) != 0 ||
            hs_cfg_set(config_vars, config_nvars, &scratch, name, text, true, err,
                       errlen) != 0) {
            rc = -1;
            break;
        }
    }
    weather_provider_kind kind = config_weather_provider(a->cfg);
    if (rc == 0 && (kind == WEATHER_OPENWEATHERMAP || kind == WEATHER_OPEN_METEO) &&
        scratch.weather_lat == 0 && scratch.weather_lon == 0) {
        snprintf(err, errlen,
                 "WEATHER_LAT: WEATHER_LAT and WEATHER_LON must not both be 0");
        rc = -1;
    }
    hs_cfg_free(config_vars, config_nvars, &scratch);
    if (rc == 0) {
        json_object_foreach(body, name, v)
        {
            value_text(name, v, text, sizeof text, err, errlen);
            hs_cfg_set(config_vars, config_nvars, a->cfg, name, text, true, err, errlen);
        }
        hs_log_level level;
        if (hs_log_level_parse(a->cfg->common.log_level, &level) == 0)
            hs_log_set_level(level);
        poller_set_location(a->poller, a->cfg->weather_lat, a->cfg->weather_lon,
                            a->cfg->weather_cache_minutes);
    }
    pthread_mutex_unlock(&a->cfg_lock);
    if (rc == 0)
        hs_info("main", "configuration changed through PUT /config");
    return rc;
}

/* Puts the stage's own statistics, built from what GET /stats and
 * GET /health return, on TOPIC_ENRICHED every STATS_INTERVAL_S
 * (hs_statsrec.h). */
static void publish_stats(app *a, int64_t now)
{
    if (a->next_stats_ms == 0 || now < a->next_stats_ms)
        return;
    a->next_stats_ms = now + a->cfg->stats_interval_s * 1000;
    json_t *stats = on_stats(a);
    json_t *health = on_health(a);
    char *text = hs_statsrec_text("enricher", a->cfg->common.site, hs_now_wall_ns(), stats,
                                  health);
    if (text == NULL || pipeline_publish_stats(a->pipe, text) != 0)
        hs_warn("main", "out of memory building the homestream_stats record");
}

static int run(struct enricher_config *cfg)
{
    int exit_code = 0;
    char err[512];
    app a = {.cfg = cfg, .started_ms = hs_now_mono_ms()};
    a.next_stats_ms =
        cfg->stats_interval_s > 0 ? a.started_ms + cfg->stats_interval_s * 1000 : 0;
    hs_admin *admin = NULL;
    pthread_mutex_init(&a.cfg_lock, NULL);

    weather_provider_kind kind = config_weather_provider(cfg);
    bool metric = strcmp(cfg->units, "metric") == 0;
    poller_opts po = {
        .provider = kind,
        .weather_url = cfg->weather_url,
        .api_key = cfg->weather_api_key,
        .lat = cfg->weather_lat,
        .lon = cfg->weather_lon,
        .cache_minutes = cfg->weather_cache_minutes,
        .timeout_s = cfg->weather_timeout_s,
        .weather_entity = cfg->weather_entity,
        .metric = metric,
        .presence_url = cfg->presence_url,
        .presence_poll_s = cfg->presence_poll_s,
    };
    a.poller = poller_new(&po, err, sizeof err);
    if (!a.poller) {
        hs_error("main", "cannot start the weather/presence poller: %s", err);
        exit_code = 1;
        goto out;
    }
    pipeline_opts opts = {
        .brokers = cfg->common.kafka_brokers,
        .group = cfg->kafka_group,
        .topic_raw = cfg->common.topic_raw,
        .topic_enriched = cfg->common.topic_enriched,
        .topic_dlq = cfg->common.topic_dlq,
        .site = cfg->common.site,
        .metric = metric,
        .presence_file = cfg->presence_state_file,
        .poller = a.poller,
    };
    a.pipe = pipeline_new(&opts, err, sizeof err);
    if (!a.pipe) {
        hs_error("main", "cannot start the Kafka pipeline: %s", err);
        exit_code = 1;
        goto out;
    }
    if (cfg->common.admin_addr && cfg->common.admin_addr[0]) {
        hs_admin_handlers h = {
            .health = on_health,
            .stats = on_stats,
            .recent = on_recent,
            .config_get = on_config_get,
            .config_put = on_config_put,
            .ud = &a,
        };
        admin = hs_admin_start(cfg->common.admin_addr, "enricher",
                               cfg->common.admin_token, &h, err, sizeof err);
        if (!admin) {
            hs_error("main", "cannot start the admin endpoint on %s: %s",
                     cfg->common.admin_addr, err);
            exit_code = 1;
            goto out;
        }
    }
    hs_info("main",
            "enricher started: %s -> %s (DLQ %s), group %s, weather %s, presence URL %s, "
            "units %s, admin %s, STATS_INTERVAL_S %" PRId64,
            cfg->common.topic_raw, cfg->common.topic_enriched, cfg->common.topic_dlq,
            cfg->kafka_group, config_weather_provider_name(kind),
            cfg->presence_url ? "on" : "off", cfg->units,
            admin ? cfg->common.admin_addr : "off", cfg->stats_interval_s);

    while (!stop_requested) {
        if (pipeline_step(a.pipe, 100) != 0) {
            hs_error("main", "stopping on a fatal error");
            exit_code = 1;
            break;
        }
        publish_stats(&a, hs_now_mono_ms());
    }
    hs_info("main", "shutting down");

out:
    hs_admin_stop(admin);
    if (a.pipe) {
        int left = pipeline_close(a.pipe, SHUTDOWN_BUDGET_MS);
        if (left > 0)
            hs_warn("main", "%d messages left undelivered at shutdown", left);
    }
    poller_free(a.poller);
    pipeline_free(a.pipe);
    pthread_mutex_destroy(&a.cfg_lock);
    hs_info("main", "stopped");
    return exit_code;
}

int main(int argc, char **argv)
{
    (void)hs_mem_tune(); /* before any thread starts; see hs_mem.h */
    struct enricher_config cfg = {0};
    static const char summary[] =
        "Consumes Home Assistant events from TOPIC_RAW, adds time_ns, value, unit, "
        "device_class, presence and weather, and produces them to TOPIC_ENRICHED; "
        "invalid messages go to TOPIC_DLQ.";
    char err[512];
    /* --check-config also runs the checks that span several variables. */
    if (argc == 2 && strcmp(argv[1], "--check-config") == 0) {
        int bad = hs_cfg_load(config_vars, config_nvars, &cfg, NULL, NULL, err,
                              sizeof err) == 0 &&
                  config_validate(&cfg, err, sizeof err) != 0;
        hs_cfg_free(config_vars, config_nvars, &cfg);
        if (bad) {
            fprintf(stderr, "homestream-enricher: %s\n", err);
            return 1;
        }
    }
    int r = hs_cfg_handle_args(argc, argv, "homestream-enricher", summary, config_vars,
                               config_nvars, &cfg);
    if (r != HS_CFG_ARGS_RUN) {
        hs_cfg_free(config_vars, config_nvars, &cfg);
        return r == HS_CFG_ARGS_EXIT_OK ? 0 : 1;
    }
    if (hs_cfg_load(config_vars, config_nvars, &cfg, NULL, NULL, err, sizeof err) != 0 ||
        config_validate(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "homestream-enricher: %s\n", err);
        hs_cfg_free(config_vars, config_nvars, &cfg);
        return 1;
    }
    hs_log_level level = HS_LOG_INFO;
    hs_log_level_parse(cfg.common.log_level, &level);
    if (hs_log_setup("enricher", level, cfg.common.log_format) != 0) {
        fprintf(stderr, "homestream-enricher: LOG_FORMAT: unknown format\n");
        hs_cfg_free(config_vars, config_nvars, &cfg);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* libcurl (and with it OpenSSL's configuration and engines, about 2 MB
     * resident) is set up only when a poller will fetch over HTTP: neither
     * a weather entity from the stream nor no weather at all needs it, and
     * the provider and PRESENCE_URL cannot change at run time. */
    bool http = config_weather_fetches(config_weather_provider(&cfg)) ||
                cfg.presence_url != NULL;
    if (http && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "homestream-enricher: curl_global_init failed\n");
        hs_cfg_free(config_vars, config_nvars, &cfg);
        return 1;
    }
    int rc = run(&cfg);
    if (http)
        curl_global_cleanup();
    hs_cfg_free(config_vars, config_nvars, &cfg);
    return rc;
}
