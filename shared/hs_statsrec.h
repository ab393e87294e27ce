/* hs_statsrec.h - a stage's own statistics as a record for InfluxDB.
 *
 * Every STATS_INTERVAL_S each stage puts one record on TOPIC_ENRICHED:
 *   {"schema":1,"event_type":"homestream_stats","site":…,"stage":…,
 *    "entity_id":null,"time_ns":…,"stats":{"<field>":<number>,…}}
 * and the writer stores it as measurement `homestream` (tags stage, site), so
 * the Grafana "Pipeline" dashboard draws the pipeline from InfluxDB itself.
 * The field names are the contract documented in docs/dashboards.md; one
 * table in hs_statsrec.c maps them from /stats and /health. Pure: no I/O. */
#ifndef HS_STATSREC_H
#define HS_STATSREC_H

#include <stdint.h>

#include <jansson.h>

#define HS_STATSREC_EVENT_TYPE "homestream_stats"

/* Builds the record from the stage's /stats and /health objects (borrowed).
 * Fields missing from stats are left out; "health" is 0 ok, 1 degraded,
 * 2 unhealthy; each breakers.<name>.state becomes breaker_<name>_state 0/1/2.
 * Returns a new object, or NULL when out of memory. */
json_t *hs_statsrec_build(const char *stage, const char *site, int64_t now_ns,
                          const json_t *stats, const json_t *health);

/* Builds the record as hs_statsrec_build does and returns it as compact JSON
 * text, which the caller frees with free(). Takes ownership of stats and
 * health, either of which may be NULL (then no record is made); both are
 * released before returning. Returns NULL when stats or health is NULL or
 * when out of memory. */
char *hs_statsrec_text(const char *stage, const char *site, int64_t now_ns, json_t *stats,
                       json_t *health);

#endif
