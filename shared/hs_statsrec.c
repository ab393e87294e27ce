/* hs_statsrec.c - a stage's own statistics as a record for InfluxDB. */
#include "hs_statsrec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Field of the `homestream` measurement <- dotted path in /stats. A stage
 * has only some of these; the first path present wins. */
static const struct {
    const char *field;
    const char *path;
} stats_fields[] = {
    {"events_in_total", "events_in_total"},
    {"events_out_total", "events_out_total"},
    {"errors_total", "errors_total"},
    {"dlq_total", "dlq_total"},
    {"reconnects_total", "ha.reconnects_total"},
    {"backfilled_total", "backfilled_total"},
    {"consumer_lag", "consumer_lag_total"},
    {"consumer_lag", "consumer_lag"},
    {"write_latency_p50_ms", "write_latency_ms.p50"},
    {"write_latency_p99_ms", "write_latency_ms.p99"},
    {"points_written_total", "points_written_total"},
    {"retries_total", "retries_total"},
    {"spool_bytes", "kafka.spool.size_bytes"},
    {"spool_dropped_total", "kafka.not_kept_total"},
};

/* Follows a dotted path through nested objects; NULL when absent. */
static const json_t *lookup(const json_t *root, const char *path)
{
    char key[64];
    const json_t *node = root;
    while (node != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        node = json_is_object(node) ? json_object_get(node, key) : NULL;
        path += n + (dot != NULL ? 1 : 0);
    }
    return node;
}

/* A finite number from an integer, real or boolean; -1 when not one. */
static int as_number(const json_t *v, double *out)
{
    if (json_is_integer(v))
        *out = (double)json_integer_value(v);
    else if (json_is_real(v))
        *out = json_real_value(v);
    else if (json_is_boolean(v))
        *out = json_is_true(v) ? 1.0 : 0.0;
    else
        return -1;
    return isfinite(*out) ? 0 : -1;
}

static int state_number(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "closed") == 0 || strcmp(s, "ok") == 0)
        return 0;
    if (strcmp(s, "open") == 0 || strcmp(s, "degraded") == 0)
        return 1;
    if (strcmp(s, "half_open") == 0 || strcmp(s, "half-open") == 0 ||
        strcmp(s, "unhealthy") == 0)
        return 2;
    return -1;
}

static int add_breakers(json_t *fields, const json_t *breakers)
{
    const char *name;
    json_t *b;
    json_object_foreach((json_t *)breakers, name, b)
    {
        int st = state_number(json_string_value(json_object_get(b, "state")));
        if (st < 0)
            continue;
        char field[96];
        int n = snprintf(field, sizeof field, "breaker_%s_state", name);
        if (n < 0 || (size_t)n >= sizeof field)
            continue;
        for (char *p = field; *p != '\0'; p++)
            if (!isalnum((unsigned char)*p) && *p != '_')
                *p = '_';
        if (json_object_set_new(fields, field, json_real(st)) != 0)
            return -1;
    }
    return 0;
}

json_t *hs_statsrec_build(const char *stage, const char *site, int64_t now_ns,
                          const json_t *stats, const json_t *health)
{
    json_t *fields = json_object();
    if (fields == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof stats_fields / sizeof stats_fields[0]; i++) {
        double v;
        if (json_object_get(fields, stats_fields[i].field) != NULL)
            continue;
        if (as_number(lookup(stats, stats_fields[i].path), &v) != 0)
            continue;
        if (json_object_set_new(fields, stats_fields[i].field, json_real(v)) != 0)
            goto fail;
    }
    int hs = state_number(json_string_value(json_object_get(health, "status")));
    if (hs >= 0 && json_object_set_new(fields, "health", json_real(hs)) != 0)
        goto fail;
    const json_t *breakers = json_object_get(stats, "breakers");
    if (json_is_object(breakers) && add_breakers(fields, breakers) != 0)
        goto fail;

    /* The record owns fields from here on. */
    return json_pack("{s:i, s:s, s:s, s:s, s:n, s:I, s:o}", "schema", 1, "event_type",
                     HS_STATSREC_EVENT_TYPE, "site", site, "stage", stage, "entity_id",
                     "time_ns", (json_int_t)now_ns, "stats", fields);
fail:
    json_decref(fields);
    return NULL;
}

char *hs_statsrec_text(const char *stage, const char *site, int64_t now_ns, json_t *stats,
                       json_t *health)
{
    json_t *rec = stats != NULL && health != NULL
                      ? hs_statsrec_build(stage, site, now_ns, stats, health)
                      : NULL;
    char *text = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    json_decref(stats);
    json_decref(health);
    return text;
}
