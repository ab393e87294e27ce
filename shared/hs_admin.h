/* hs_admin.h - the admin HTTP endpoint every stage runs (libmicrohttpd).
 *
 * Routes: GET /health, /stats, /metrics, /events/recent, /config and
 * PUT /config. The stage supplies callbacks that build JSON; they run on the
 * admin thread, so what they read must be safe to read concurrently
 * (atomics, or the stage's own lock). With a token set, every route but
 * /health needs "Authorization: Bearer <token>" or "X-API-Key: <token>";
 * otherwise 401. Errors are {"detail":{"code":"…","message":"…"}}.
 *
 * Answers: /health, /stats and GET /config answer the handler's JSON as is
 * (/health with 503 when "status" is "unhealthy" or missing);
 * /events/recent answers the handler's array (limit 1..1000, default 50;
 * anything else 400 BAD_REQUEST; an empty entity_id means all); PUT /config
 * takes a JSON object of at most 64 KiB (413 PAYLOAD_TOO_LARGE beyond, 400
 * BAD_REQUEST when it is not a JSON object) and answers the new GET /config.
 * Without the token every route but /health is 401 UNAUTHORIZED (with
 * "WWW-Authenticate: Bearer"), unknown ones included; then unknown paths are
 * 404 NOT_FOUND and other methods 405 METHOD_NOT_ALLOWED (with "Allow"). HEAD
 * is served like GET. A handler returning NULL gives 500 INTERNAL_ERROR.
 *
 * Prometheus mapping (hs_admin_prometheus, GET /metrics):
 *  - every number, and every boolean as 0/1, becomes a sample named
 *    homestream_<stage>_<key path joined with '_'>; characters outside
 *    [a-zA-Z0-9_] (in the stage too) become '_'; nested objects recurse;
 *  - under a key "breakers" or "partitions" (object or array) the member's
 *    name becomes a label instead of a path part, and the path part is the
 *    singular: {"breakers":{"influxdb":{"state":"open"}}} renders
 *    homestream_writer_breaker_state{breaker="influxdb"} 1. In an array the
 *    label is the element's "name" (else "partition", else its index), and
 *    that member is not rendered itself;
 *  - strings, nulls and arrays of values are skipped, except a breaker's
 *    "state" (under "breakers" or a key "breaker"): closed 0, open 1,
 *    half-open 2; "breakers":{"name":"open"} reads as that breaker's state;
 *  - a family ending in _total is typed counter, any other gauge; each
 *    family gets one "# TYPE" line followed by all its samples; a sample
 *    that sanitizes to the name and labels of an earlier one is dropped;
 *    nesting deeper than 32 levels is ignored. */
#ifndef HS_ADMIN_H
#define HS_ADMIN_H

#include <stddef.h>

#include <jansson.h>

typedef struct {
    /* Returns a new object with "status" ("ok", "degraded" or "unhealthy")
     * and each dependency's state. The HTTP status is 503 when unhealthy,
     * else 200. Required. */
    json_t *(*health)(void *ud);
    /* Returns a new object of counters (nested objects allowed). /metrics is
     * derived from it: every number becomes a Prometheus sample named
     * homestream_<stage>_<path_joined_with_underscores>. Required. */
    json_t *(*stats)(void *ud);
    /* Returns a new array of the last `limit` events (all when entity_id is
     * NULL, else only that entity). Optional: 404 without it. */
    json_t *(*recent)(void *ud, int limit, const char *entity_id);
    /* Returns the effective configuration, secrets masked. Required. */
    json_t *(*config_get)(void *ud);
    /* Applies {"NAME":"value",…}; all or nothing. Returns 0, or -1 with a
     * message in err (answered 400 VALIDATION_ERROR). Optional: 405 without. */
    int (*config_put)(void *ud, json_t *body, char *err, size_t errlen);
    void *ud;
} hs_admin_handlers;

typedef struct hs_admin hs_admin;

/* Starts the server on addr ("host:port", "[::1]:port" or ":port") in its own
 * thread. stage names the metrics prefix. token may be NULL or "" for no
 * auth; it is copied. Returns NULL with a reason in err on failure. */
hs_admin *hs_admin_start(const char *addr, const char *stage, const char *token,
                         const hs_admin_handlers *handlers, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
unsigned hs_admin_port(const hs_admin *admin);

/* Stops the server and frees it. Accepts NULL. */
void hs_admin_stop(hs_admin *admin);

/* Renders stats JSON as Prometheus text exposition. Returns a malloc'd
 * string. Exposed for unit tests. */
char *hs_admin_prometheus(const char *stage, const json_t *stats);

#endif
