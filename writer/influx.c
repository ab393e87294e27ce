/* influx.c - InfluxDB writes over HTTP with one keep-alive libcurl handle. */
#include "influx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <zlib.h>

#include "outcome.h"

#define RESPONSE_MAX 65536

struct influx {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    char *userpwd;
    bool gzip;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    /* per request */
    char *resp;
    size_t resp_len;
    char retry_after[64];
    const volatile sig_atomic_t *abort_flag;
};

/* Appends "&name=value" (or "?name=value" first) with value URL-escaped. */
static int add_param(char **url, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;
    char *esc = curl_easy_escape(NULL, value, 0);
    if (esc == NULL)
        return -1;
    char sep = strchr(*url, '?') ? '&' : '?';
    size_t need = strlen(*url) + strlen(name) + strlen(esc) + 3;
    char *n = malloc(need);
    if (n != NULL)
        snprintf(n, need, "%s%c%s=%s", *url, sep, name, esc);
    curl_free(esc);
    if (n == NULL)
        return -1;
    free(*url);
    *url = n;
    return 0;
}

char *influx_write_url(const influx_opts *o)
{
    const char *base = o->url ? o->url : "";
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    const char *path = o->api_version == 1 ? "/write" : "/api/v2/write";
    size_t need = blen + strlen(path) + 1;
    char *url = malloc(need);
    if (url == NULL)
        return NULL;
    snprintf(url, need, "%.*s%s", (int)blen, base, path);
    int rc = 0;
    if (o->api_version == 1) {
        rc |= add_param(&url, "db", o->db);
        rc |= add_param(&url, "rp", o->rp);
    } else if (o->api_version == 2) {
        rc |= add_param(&url, "org", o->org);
        rc |= add_param(&url, "bucket", o->bucket);
    } else {
        rc |= add_param(&url, "bucket", (o->bucket && o->bucket[0]) ? o->bucket : o->db);
    }
    rc |= add_param(&url, "precision", "ns");
    if (rc != 0) {
        free(url);
        return NULL;
    }
    return url;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    influx *ix = ud;
    size_t n = size * nmemb;
    size_t take = n;
    if (ix->resp_len + take > RESPONSE_MAX)
        take = RESPONSE_MAX - ix->resp_len;
    if (take > 0) {
        char *p = realloc(ix->resp, ix->resp_len + take + 1);
        if (p == NULL)
            return 0;
        ix->resp = p;
        memcpy(ix->resp + ix->resp_len, ptr, take);
        ix->resp_len += take;
        ix->resp[ix->resp_len] = '\0';
    }
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    influx *ix = ud;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        const char *v = buf + sizeof name - 1;
        size_t vl = n - (sizeof name - 1);
        while (vl > 0 && isspace((unsigned char)*v)) {
            v++;
            vl--;
        }
        while (vl > 0 && isspace((unsigned char)v[vl - 1]))
            vl--;
        if (vl >= sizeof ix->retry_after)
            vl = sizeof ix->retry_after - 1;
        memcpy(ix->retry_after, v, vl);
        ix->retry_after[vl] = '\0';
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const influx *ix = ud;
    return ix->abort_flag != NULL && *ix->abort_flag ? 1 : 0;
}

void influx_set_abort_flag(influx *ix, const volatile sig_atomic_t *flag)
{
    ix->abort_flag = flag;
}

void influx_free(influx *ix)
{
    if (ix == NULL)
        return;
    if (ix->curl != NULL)
        curl_easy_cleanup(ix->curl);
    curl_slist_free_all(ix->headers);
    free(ix->url);
    if (ix->userpwd != NULL) {
        memset(ix->userpwd, 0, strlen(ix->userpwd));
        free(ix->userpwd);
    }
    free(ix->resp);
    free(ix);
}

static bool set_ok(CURLcode c)
{
    return c == CURLE_OK;
}

influx *influx_new(const influx_opts *o, char *err, size_t errlen)
{
    influx *ix = calloc(1, sizeof *ix);
    if (ix == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ix->gzip = o->gzip;
    ix->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    ix->url = influx_write_url(o);
    ix->curl = curl_easy_init();
    if (ix->url == NULL || ix->curl == NULL) {
        snprintf(err, errlen, "cannot set up libcurl");
        influx_free(ix);
        return NULL;
    }
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    if (h != NULL && o->gzip) {
        struct curl_slist *h2 = curl_slist_append(h, "Content-Encoding: gzip");
        h = h2 ? h2 : NULL;
    }
    if (h != NULL && o->api_version != 1 && o->token != NULL && o->token[0] != '\0') {
        size_t need = strlen(o->token) + 24;
        char *auth = malloc(need);
        struct curl_slist *h2 = NULL;
        if (auth != NULL) {
            snprintf(auth, need, "Authorization: Token %s", o->token);
            h2 = curl_slist_append(h, auth);
            memset(auth, 0, strlen(auth));
            free(auth);
        }
        if (h2 == NULL) {
            curl_slist_free_all(h);
            h = NULL;
        } else {
            h = h2;
        }
    }
    ix->headers = h;
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        influx_free(ix);
        return NULL;
    }
    if (o->api_version == 1 && o->user != NULL && o->user[0] != '\0') {
        const char *pw = o->password ? o->password : "";
        size_t need = strlen(o->user) + strlen(pw) + 2;
        ix->userpwd = malloc(need);
        if (ix->userpwd == NULL) {
            snprintf(err, errlen, "out of memory");
            influx_free(ix);
            return NULL;
        }
        snprintf(ix->userpwd, need, "%s:%s", o->user, pw);
    }
    CURL *c = ix->curl;
    bool ok = set_ok(curl_easy_setopt(c, CURLOPT_URL, ix->url)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_POST, 1L)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_HTTPHEADER, ix->headers)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_WRITEDATA, ix)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_HEADERDATA, ix)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ix->errbuf)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ix->timeout_ms)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                                      ix->timeout_ms < 5000 ? ix->timeout_ms : 5000L)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_XFERINFODATA, ix)) &&
              set_ok(curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L));
    /* "Expect: 100-continue" would add a round trip to every large batch. */
    if (ok) {
        struct curl_slist *h2 = curl_slist_append(ix->headers, "Expect:");
        ok = h2 != NULL;
        if (ok)
            ix->headers = h2;
        ok = ok && set_ok(curl_easy_setopt(c, CURLOPT_HTTPHEADER, ix->headers));
    }
    if (ok && ix->userpwd != NULL)
        ok = set_ok(curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC)) &&
             set_ok(curl_easy_setopt(c, CURLOPT_USERPWD, ix->userpwd));
    if (!ok) {
        snprintf(err, errlen, "cannot configure libcurl");
        influx_free(ix);
        return NULL;
    }
    return ix;
}

void influx_set_timeout_ms(influx *ix, long timeout_ms)
{
    if (timeout_ms < 1)
        timeout_ms = 1;
    ix->timeout_ms = timeout_ms;
    curl_easy_setopt(ix->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(ix->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < 5000 ? timeout_ms : 5000L);
}

int influx_gzip(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&zs, (uLong)len);
    unsigned char *buf = malloc(bound);
    if (buf == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = produced;
    return 0;
}

int influx_write(influx *ix, const char *body, size_t len, influx_result *res)
{
    memset(res, 0, sizeof *res);
    unsigned char *packed = NULL;
    size_t packed_len = 0;
    const void *send = body;
    size_t send_len = len;
    if (ix->gzip) {
        if ((uint64_t)len > UINT32_MAX ||
            influx_gzip(body, len, &packed, &packed_len) < 0) {
            snprintf(res->error, sizeof res->error, "gzip compression failed");
            return -1;
        }
        send = packed;
        send_len = packed_len;
    }
    ix->resp_len = 0;
    ix->retry_after[0] = '\0';
    ix->errbuf[0] = '\0';
    curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDS, send);
    curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send_len);
    CURLcode cc = curl_easy_perform(ix->curl);
    res->body_bytes = send_len;
    double secs = 0;
    curl_easy_getinfo(ix->curl, CURLINFO_TOTAL_TIME, &secs);
    res->seconds = secs;
    if (cc != CURLE_OK) {
        res->status = 0;
        snprintf(res->error, sizeof res->error, "%s",
                 ix->errbuf[0] ? ix->errbuf : curl_easy_strerror(cc));
    } else {
        long code = 0;
        curl_easy_getinfo(ix->curl, CURLINFO_RESPONSE_CODE, &code);
        res->status = code;
        if (code < 200 || code >= 300)
            outcome_error_text(ix->resp, ix->resp_len, res->error, sizeof res->error);
        snprintf(res->retry_after, sizeof res->retry_after, "%s", ix->retry_after);
    }
    /* POSTFIELDS points into our buffer; never leave it dangling. */
    curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    free(packed);
    return 0;
}
