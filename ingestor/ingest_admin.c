/* ingest_admin.c - the ingestor's admin views: /health, /stats,
 * /events/recent and /config (they run on the admin thread). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hs_config.h"
#include "hs_log.h"
#include "hs_time.h"
#include "ingest_int.h"

static json_int_t get(_Atomic uint64_t *c)
{
    return (json_int_t)atomic_load_explicit(c, memory_order_relaxed);
}

static json_t *iso_or_null(int64_t ns)
{
    char buf[40];
    if (ns == INT64_MIN || hs_time_format_iso(ns, buf, sizeof(buf)) != 0)
        return json_null();
    return json_string(buf);
}

json_t *ingest_health_view(void *ud)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    int ha = atomic_load_explicit(&in->st.ha_state, memory_order_relaxed);
    bool kafka_degraded = false;
    json_t *kafka = outbox_health(in->out, now, &kafka_degraded);
    const char *status = "ok";
    if (ha != HA_CONNECTED || kafka_degraded)
        status = "degraded";
    if (ha == HA_AUTH_REJECTED)
        status = "unhealthy";
    int bf = atomic_load_explicit(&in->st.bf, memory_order_relaxed);
    json_t *ha_dep =
        json_pack("{s:s, s:s, s:s, s:o}", "state", ingest_ha_state_names[ha], "host",
                  in->url.host, "gap_closing", ingest_bf_state_names[bf], "breaker",
                  hs_breaker_to_json(in->ha_breaker, now));
    return json_pack("{s:s, s:s, s:{s:o, s:o}}", "status", status, "stage", "ingestor",
                     "dependencies", "home_assistant", ha_dep, "kafka", kafka);
}

json_t *ingest_stats_view(void *ud)
{
    ingest *in = ud;
    int64_t now = hs_now_mono_ms();
    ingest_stats *st = &in->st;
    int ha = atomic_load_explicit(&st->ha_state, memory_order_relaxed);
    int bf = atomic_load_explicit(&st->bf, memory_order_relaxed);
    pthread_mutex_lock(&in->lock);
    json_t *version = json_string(in->ha_version);
    pthread_mutex_unlock(&in->lock);
    json_t *ha_obj = json_pack(
        "{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "state",
        ingest_ha_state_names[ha], "ha_version", version, "reconnects_total",
        get(&st->reconnects), "connect_attempts_total", get(&st->connect_attempts),
        "connect_failures_total", get(&st->connect_failures), "pong_timeouts_total",
        get(&st->pong_timeouts), "frames_invalid_total", get(&st->frames_invalid),
        "events_invalid_total", get(&st->events_invalid), "registry_loads_total",
        get(&st->registry_loads), "registry_entity_updates_total",
        get(&st->registry_entity_updates));
    json_t *gap = json_pack("{s:s, s:I, s:I, s:I}", "state", ingest_bf_state_names[bf],
                            "backfills_total", get(&st->backfills), "held_live_events",
                            get(&st->held), "deduped_total", get(&st->deduped));
    json_t *kafka = outbox_stats_json(in->out, now);
    uint64_t errors = (uint64_t)get(&st->errors) + outbox_errors(in->out);
    json_t *spool = json_incref(json_object_get(kafka, "spool"));
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:o}, s:o, s:o, s:o, s:o}",
        "stage", "ingestor", "site", in->cfg->common.site, "uptime_s",
        (json_int_t)((now - in->started_ms) / 1000), "events_in_total",
        get(&st->events_in), "events_out_total", (json_int_t)outbox_events_out(in->out),
        "errors_total", (json_int_t)errors, "dlq_total",
        (json_int_t)((uint64_t)get(&st->dlq) + outbox_dlq_made(in->out)),
        "backfilled_total", get(&st->backfilled), "filtered_total", get(&st->filtered),
        "last_event_time",
        iso_or_null(atomic_load_explicit(&st->last_event_ns, memory_order_relaxed)),
        "breakers", "home_assistant", hs_breaker_to_json(in->ha_breaker, now), "ha",
        ha_obj, "gap", gap, "kafka", kafka, "spool", spool != NULL ? spool : json_null());
}

static json_t *view_recent(void *ud, int limit, const char *entity_id)
{
    ingest *in = ud;
    return hs_recent_list(in->recent, limit, entity_id);
}

static json_t *view_config(void *ud)
{
    ingest *in = ud;
    pthread_mutex_lock(&in->lock);
    json_t *j = hs_cfg_to_json(ingestor_config_vars, ingestor_config_nvars, in->cfg);
    pthread_mutex_unlock(&in->lock);
    return j;
}

/* Renders a JSON scalar as the text hs_cfg_set() takes. Returns 0, or -1
 * for arrays, objects, null and text too long for buf. */
static int scalar_text(const json_t *v, char *buf, size_t len)
{
    int n;
    if (json_is_string(v))
        n = snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        n = snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        n = snprintf(buf, len, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        n = snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return -1;
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* Applies {"NAME": value, ...}: every name is validated first on a scratch
 * struct, so the change is all or nothing. LOG_LEVEL applies at once; the
 * filters apply from the next event on (the ingest thread rebuilds them). */
static int view_config_put(void *ud, json_t *body, char *err, size_t errlen)
{
    ingest *in = ud;
    struct ingestor_config scratch;
    memset(&scratch, 0, sizeof(scratch));
    const char *name;
    json_t *v;
    char text[8192];
    int rc = 0;
    json_object_foreach(body, name, v)
    {
        if (scalar_text(v, text, sizeof(text)) != 0) {
            snprintf(err, errlen, "%s: the value must be a string, number or boolean",
                     name);
            rc = -1;
            break;
        }
        if (hs_cfg_set(ingestor_config_vars, ingestor_config_nvars, &scratch, name, text,
                       true, err, errlen) != 0) {
            rc = -1;
            break;
        }
    }
    hs_cfg_free(ingestor_config_vars, ingestor_config_nvars, &scratch);
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&in->lock);
    json_object_foreach(body, name, v)
    {
        scalar_text(v, text, sizeof(text));
        hs_cfg_set(ingestor_config_vars, ingestor_config_nvars, in->cfg, name, text, true,
                   err, errlen);
    }
    hs_log_level level;
    if (hs_log_level_parse(in->cfg->common.log_level, &level) == 0)
        hs_log_set_level(level);
    pthread_mutex_unlock(&in->lock);
    atomic_fetch_add_explicit(&in->cfg_gen, 1, memory_order_release);
    return 0;
}

int ingest_admin_start(ingest *in, char *err, size_t errlen)
{
    const char *addr = in->cfg->common.admin_addr;
    if (addr == NULL || addr[0] == '\0') {
        hs_info("admin", "ADMIN_ADDR is empty: no admin endpoint");
        return 0;
    }
    hs_admin_handlers h = {
        .health = ingest_health_view,
        .stats = ingest_stats_view,
        .recent = view_recent,
        .config_get = view_config,
        .config_put = view_config_put,
        .ud = in,
    };
    char why[256];
    in->admin = hs_admin_start(addr, "ingestor", in->cfg->common.admin_token, &h, why,
                               sizeof(why));
    if (in->admin == NULL) {
        snprintf(err, errlen, "ADMIN_ADDR %s: %s", addr, why);
        return -1;
    }
    return 0;
}
