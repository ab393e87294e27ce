/* influx.h - InfluxDB writes over HTTP with one keep-alive libcurl handle.
 *
 * API 1: POST {url}/write?db=&rp=&precision=ns, basic auth from user and
 * password when a user is set. API 2: POST {url}/api/v2/write?org=&bucket=
 * &precision=ns with "Authorization: Token <token>". API 3 (InfluxDB 3
 * Core/Enterprise) uses its v2-compatible endpoint: POST {url}/api/v2/write?
 * bucket=<bucket, else db>&precision=ns with the token the same way. With
 * gzip the body is compressed and sent with "Content-Encoding: gzip".
 * Not thread-safe: one thread writes. */
#ifndef INFLUX_H
#define INFLUX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int api_version;                       /* 1, 2 or 3 */
    const char *url;                       /* base URL, no trailing path needed */
    const char *db, *rp, *user, *password; /* v1 (db also v3's default) */
    const char *org, *bucket, *token;      /* v2 / v3 */
    bool gzip;
    long timeout_ms; /* whole request */
} influx_opts;

typedef struct {
    long status;          /* HTTP status, 0 when no answer came */
    char error[512];      /* InfluxDB's error text, or the transport error */
    char retry_after[64]; /* the Retry-After header, "" when absent */
    double seconds;       /* time the request took */
    size_t body_bytes;    /* bytes sent (after compression) */
} influx_result;

typedef struct influx influx;

/* Builds the write URL for opts. Returns a malloc'd string, or NULL when out
 * of memory. Exposed for unit tests. */
char *influx_write_url(const influx_opts *opts);

/* Copies what it needs from opts. Returns NULL with a reason in err. */
influx *influx_new(const influx_opts *opts, char *err, size_t errlen);
void influx_free(influx *ix);

/* POSTs body. Returns 0 when the request ran (res says how it went: a
 * transport failure has status 0 and the reason in res->error), -1 when it
 * could not be attempted (out of memory, compression failure). */
int influx_write(influx *ix, const char *body, size_t len, influx_result *res);

/* While *flag is non-zero, a write in progress is abandoned within about a
 * second (status 0, "aborted"), so a stop signal is not held up by a hanging
 * InfluxDB. NULL turns this off. The flag must outlive the client. */
void influx_set_abort_flag(influx *ix, const volatile sig_atomic_t *flag);

/* Changes the whole-request timeout for later writes (the shutdown path
 * shortens it to fit its deadline). */
void influx_set_timeout_ms(influx *ix, long timeout_ms);

/* Compresses in into a gzip member. Returns 0 and a malloc'd *out, or -1.
 * Exposed for unit tests. */
int influx_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen);

#endif
