/* poller.c - the enricher's background weather and presence sources (see
 * poller.h).
 *
 * Failure handling. Each source sits behind its own breaker (3 consecutive
 * failures open it; cool-down 30 s doubling to 30 min). A timeout, a refused
 * connection, any non-2xx answer, a body over 1 MiB, a body that is not JSON
 * or has the wrong shape is a failure. After a failure the next attempt is
 * 30 s later (or when the open breaker admits a trial). HTTP 401 (and 403)
 * means the key or URL is wrong: /health reports it as a configuration
 * problem, and the source waits an hour before trying again. The last good
 * observation stays attached meanwhile, marked stale. */
#include "poller.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "hs_breaker.h"
#include "hs_log.h"
#include "hs_time.h"
#include "weather.h"

#define COMPONENT "poller"
#define BODY_MAX (1024 * 1024)
#define RETRY_AFTER_FAILURE_MS (30 * 1000)
#define AUTH_BACKOFF_MS (60 * 60 * 1000)
#define OWM_BASE "https://api.openweathermap.org"
#define OPEN_METEO_BASE "https://api.open-meteo.com"

/* One polled HTTP source and what /stats and /health say about it. */
typedef struct {
    hs_breaker *breaker;
    int64_t next_ms; /* monotonic time of the next attempt */
    uint64_t fetches, failures;
    bool auth_problem; /* the last answer was 401/403 */
    bool last_failed;
    int64_t last_success_ns;
    char last_error[256];
} source;

struct poller {
    poller_opts o; /* strings owned */
    pthread_mutex_t lock;
    bool lock_init;
    pthread_cond_t wake;
    bool wake_init;
    pthread_t thread;
    bool thread_started;
    bool stop;
    atomic_bool stopping; /* read by curl's progress callback */

    /* Guarded by lock. */
    double lat, lon;
    int64_t cache_minutes;
    bool have_obs;
    weather_obs obs;
    uint64_t version;
    json_t *presence_doc;
    source weather, presence;
    uint64_t entity_updates, entity_rejects;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Copies what err says into a source under the lock. */
static void source_failed(poller *p, source *s, const char *what, const char *err,
                          bool auth, int64_t retry_after_ms, int64_t now_ms)
{
    int64_t wait = auth ? AUTH_BACKOFF_MS : RETRY_AFTER_FAILURE_MS;
    if (retry_after_ms > wait)
        wait = retry_after_ms < AUTH_BACKOFF_MS ? retry_after_ms : AUTH_BACKOFF_MS;
    pthread_mutex_lock(&p->lock);
    s->failures++;
    s->last_failed = true;
    s->auth_problem = auth;
    snprintf(s->last_error, sizeof s->last_error, "%s", err);
    s->next_ms = now_ms + wait;
    pthread_mutex_unlock(&p->lock);
    hs_breaker_failure(s->breaker, now_ms);
    hs_breaker_set_last_error(s->breaker, err);
    hs_warn(COMPONENT, "%s fetch failed: %s", what, err);
}

static void source_ok(poller *p, source *s, int64_t started_ms, int64_t interval_ms)
{
    int64_t now = hs_now_mono_ms();
    pthread_mutex_lock(&p->lock);
    s->last_failed = false;
    s->auth_problem = false;
    s->last_error[0] = '\0';
    s->last_success_ns = hs_now_wall_ns();
    s->next_ms = started_ms + interval_ms;
    pthread_mutex_unlock(&p->lock);
    hs_breaker_success(s->breaker, now, now - started_ms);
}

typedef struct {
    char *data;
    size_t len;
    bool too_big;
} buffer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buffer *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > BODY_MAX) {
        b->too_big = true;
        return 0;
    }
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    poller *p = ud;
    return atomic_load(&p->stopping) ? 1 : 0;
}

/* GETs url. Returns the HTTP status (and the body in *body, to free) or -1
 * with a reason in err; *retry_after_ms receives the answer's Retry-After
 * (0 when none). The URL may hold a secret and is never logged. */
static long http_get(poller *p, const char *url, buffer *body, int64_t *retry_after_ms,
                     char *err, size_t errlen)
{
    *retry_after_ms = 0;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(p->o.timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(p->o.timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "homestream-enricher/" HS_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t ra = 0;
        if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            *retry_after_ms = (int64_t)ra * 1000;
    } else if (body->too_big) {
        snprintf(err, errlen, "response body larger than %d bytes", BODY_MAX);
    } else {
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    }
    curl_easy_cleanup(c);
    return status;
}

/* Builds the provider URL for the current location. Returns a malloc'd
 * string or NULL. */
static char *weather_url(poller *p, double lat, double lon)
{
    const char *base = p->o.weather_url;
    char *key = NULL;
    char *url = NULL;
    size_t blen;
    if (p->o.provider == WEATHER_OPENWEATHERMAP) {
        base = base ? base : OWM_BASE;
        CURL *c = curl_easy_init();
        if (!c)
            return NULL;
        char *esc = curl_easy_escape(c, p->o.api_key ? p->o.api_key : "", 0);
        key = esc ? strdup(esc) : NULL;
        curl_free(esc);
        curl_easy_cleanup(c);
        if (!key)
            return NULL;
    } else {
        base = base ? base : OPEN_METEO_BASE;
    }
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (p->o.provider == WEATHER_OPENWEATHERMAP) {
        if (asprintf(&url,
                     "%.*s/data/2.5/weather?lat=%.6f&lon=%.6f&appid=%s&units=metric",
                     (int)blen, base, lat, lon, key) < 0)
            url = NULL;
    } else {
        if (asprintf(
                &url,
                "%.*s/v1/forecast?latitude=%.6f&longitude=%.6f&current=temperature_2m,"
                "relative_humidity_2m,surface_pressure,weather_code,wind_speed_10m,is_day"
                "&timeformat=unixtime",
                (int)blen, base, lat, lon) < 0)
            url = NULL;
    }
    free(key);
    return url;
}

/* Stores o as the observation; bumps the version when it differs. */
static void store_obs(poller *p, const weather_obs *o)
{
    pthread_mutex_lock(&p->lock);
    if (!p->have_obs || memcmp(&p->obs, o, sizeof *o) != 0) {
        p->obs = *o;
        p->have_obs = true;
        p->version++;
    }
    pthread_mutex_unlock(&p->lock);
}

static void fetch_weather(poller *p, int64_t now_ms)
{
    source *s = &p->weather;
    if (!hs_breaker_allow(s->breaker, now_ms)) {
        int64_t wait = hs_breaker_retry_in_ms(s->breaker, now_ms);
        pthread_mutex_lock(&p->lock);
        s->next_ms = now_ms + (wait > 0 ? wait : 1000);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    pthread_mutex_lock(&p->lock);
    double lat = p->lat, lon = p->lon;
    int64_t interval_ms = p->cache_minutes * 60 * 1000;
    s->fetches++;
    pthread_mutex_unlock(&p->lock);

    char err[256];
    char *url = weather_url(p, lat, lon);
    if (!url) {
        source_failed(p, s, "weather", "out of memory building the URL", false, 0,
                      now_ms);
        return;
    }
    buffer body = {0};
    int64_t retry_after = 0;
    long status = http_get(p, url, &body, &retry_after, err, sizeof err);
    free(url);
    if (atomic_load(&p->stopping)) {
        free(body.data);
        return;
    }
    weather_obs o;
    int rc = -1;
    if (status < 0) {
        /* err says why */
    } else if (status == 401 || status == 403) {
        snprintf(err, sizeof err,
                 "HTTP %ld: the API key or URL is rejected (configuration)", status);
    } else if (status < 200 || status > 299) {
        snprintf(err, sizeof err, "HTTP %ld", status);
    } else if (p->o.provider == WEATHER_OPENWEATHERMAP) {
        rc = weather_parse_owm(body.data, body.len, &o, err, sizeof err);
    } else {
        rc = weather_parse_open_meteo(body.data, body.len, &o, err, sizeof err);
    }
    free(body.data);
    if (rc != 0) {
        source_failed(p, s, "weather", err, status == 401 || status == 403, retry_after,
                      now_ms);
        return;
    }
    if (p->o.metric)
        weather_to_metric(&o);
    store_obs(p, &o);
    source_ok(p, s, now_ms, interval_ms);
    hs_debug(COMPONENT, "weather from %s: %.1f %s", o.provider, o.temperature,
             o.temperature_unit);
}

static void fetch_presence(poller *p, int64_t now_ms)
{
    source *s = &p->presence;
    if (!hs_breaker_allow(s->breaker, now_ms)) {
        int64_t wait = hs_breaker_retry_in_ms(s->breaker, now_ms);
        pthread_mutex_lock(&p->lock);
        s->next_ms = now_ms + (wait > 0 ? wait : 1000);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    pthread_mutex_lock(&p->lock);
    s->fetches++;
    pthread_mutex_unlock(&p->lock);
    char err[256];
    buffer body = {0};
    int64_t retry_after = 0;
    long status = http_get(p, p->o.presence_url, &body, &retry_after, err, sizeof err);
    if (atomic_load(&p->stopping)) {
        free(body.data);
        return;
    }
    json_t *doc = NULL;
    if (status >= 200 && status <= 299) {
        json_error_t je;
        doc = json_loadb(body.data ? body.data : "", body.len, 0, &je);
        if (!doc)
            snprintf(err, sizeof err, "response is not JSON: %s", je.text);
        else if (!json_is_object(doc) && !json_is_array(doc)) {
            snprintf(err, sizeof err, "response is neither an object nor an array");
            json_decref(doc);
            doc = NULL;
        }
    } else if (status >= 0) {
        snprintf(err, sizeof err, "HTTP %ld%s", status,
                 status == 401 || status == 403 ? ": rejected (configuration)" : "");
    }
    free(body.data);
    if (!doc) {
        source_failed(p, s, "presence", err, status == 401 || status == 403, retry_after,
                      now_ms);
        return;
    }
    pthread_mutex_lock(&p->lock);
    json_decref(p->presence_doc);
    p->presence_doc = doc;
    pthread_mutex_unlock(&p->lock);
    source_ok(p, s, now_ms, p->o.presence_poll_s * 1000);
}

static bool fetches_weather(const poller *p)
{
    return config_weather_fetches(p->o.provider);
}

static void *run(void *arg)
{
    poller *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        int64_t now = hs_now_mono_ms();
        bool do_weather = fetches_weather(p) && now >= p->weather.next_ms;
        bool do_presence = p->o.presence_url && now >= p->presence.next_ms;
        if (do_weather || do_presence) {
            pthread_mutex_unlock(&p->lock);
            if (do_weather)
                fetch_weather(p, now);
            if (do_presence)
                fetch_presence(p, hs_now_mono_ms());
            pthread_mutex_lock(&p->lock);
            continue;
        }
        int64_t next = INT64_MAX;
        if (fetches_weather(p))
            next = p->weather.next_ms;
        if (p->o.presence_url && p->presence.next_ms < next)
            next = p->presence.next_ms;
        int64_t wait_ms = next - now;
        if (wait_ms > 1000)
            wait_ms = 1000;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static hs_breaker *new_breaker(const char *name)
{
    hs_breaker_opts bo;
    hs_breaker_opts_default(&bo);
    bo.failure_threshold = 3;
    bo.window = 10;
    bo.min_calls = 5;
    bo.open_base_ms = 30 * 1000;
    bo.open_max_ms = 30 * 60 * 1000;
    bo.half_open_successes = 1;
    return hs_breaker_new(name, &bo);
}

poller *poller_new(const poller_opts *o, char *err, size_t errlen)
{
    poller *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->o = *o;
    p->o.weather_url = dup_or_null(o->weather_url);
    p->o.api_key = dup_or_null(o->api_key);
    p->o.weather_entity = dup_or_null(o->weather_entity);
    p->o.presence_url = dup_or_null(o->presence_url);
    p->lat = o->lat;
    p->lon = o->lon;
    p->cache_minutes = o->cache_minutes > 0 ? o->cache_minutes : 15;
    p->weather.breaker = new_breaker("weather");
    p->presence.breaker = new_breaker("presence");
    if ((o->weather_url && !p->o.weather_url) || (o->api_key && !p->o.api_key) ||
        (o->weather_entity && !p->o.weather_entity) ||
        (o->presence_url && !p->o.presence_url) || !p->weather.breaker ||
        !p->presence.breaker) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        goto fail;
    }
    p->lock_init = true;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_cond_init failed");
        goto fail;
    }
    p->wake_init = true;
    if (fetches_weather(p) || p->o.presence_url) {
        if (pthread_create(&p->thread, NULL, run, p) != 0) {
            snprintf(err, errlen, "cannot start the poller thread");
            goto fail;
        }
        p->thread_started = true;
    }
    return p;
fail:
    poller_free(p);
    return NULL;
}

void poller_free(poller *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        atomic_store(&p->stopping, true);
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    if (p->wake_init)
        pthread_cond_destroy(&p->wake);
    if (p->lock_init)
        pthread_mutex_destroy(&p->lock);
    hs_breaker_free(p->weather.breaker);
    hs_breaker_free(p->presence.breaker);
    json_decref(p->presence_doc);
    free((char *)p->o.weather_url);
    free((char *)p->o.api_key);
    free((char *)p->o.weather_entity);
    free((char *)p->o.presence_url);
    free(p);
}

void poller_set_location(poller *p, double lat, double lon, int64_t cache_minutes)
{
    pthread_mutex_lock(&p->lock);
    bool moved = lat != p->lat || lon != p->lon;
    p->lat = lat;
    p->lon = lon;
    p->cache_minutes = cache_minutes > 0 ? cache_minutes : p->cache_minutes;
    /* A new place or interval takes effect at once. */
    p->weather.next_ms = 0;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (moved)
        hs_info(COMPONENT, "weather location changed to %.4f, %.4f", lat, lon);
}

/* Stale: the last attempt failed, or the observation is older than twice
 * the cache interval. Called with the lock held. */
static bool is_stale(const poller *p, int64_t now_ns)
{
    int64_t limit_ns = p->cache_minutes * 2 * 60 * INT64_C(1000000000);
    return p->weather.last_failed || now_ns - p->obs.observed_at_ns > limit_ns;
}

int poller_weather_parts(poller *p, int64_t now_ns, weather_obs *obs, bool *stale,
                         uint64_t *version)
{
    pthread_mutex_lock(&p->lock);
    if (!p->have_obs) {
        pthread_mutex_unlock(&p->lock);
        *version = 0;
        return -1;
    }
    *obs = p->obs;
    *stale = is_stale(p, now_ns);
    *version = p->version;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

json_t *poller_weather(poller *p, int64_t now_ns, uint64_t *version)
{
    weather_obs o;
    bool stale = false;
    uint64_t v = 0;
    int rc = poller_weather_parts(p, now_ns, &o, &stale, &v);
    if (version)
        *version = v;
    return rc == 0 ? weather_to_json(&o, now_ns, stale) : NULL;
}

int64_t poller_weather_observed_ns(poller *p)
{
    pthread_mutex_lock(&p->lock);
    int64_t t = p->have_obs ? p->obs.observed_at_ns : 0;
    pthread_mutex_unlock(&p->lock);
    return t;
}

bool poller_wants_entity(poller *p, const char *entity_id)
{
    return p->o.provider == WEATHER_ENTITY && entity_id && p->o.weather_entity &&
           strcmp(entity_id, p->o.weather_entity) == 0;
}

int poller_offer_entity(poller *p, const json_t *new_state, int64_t now_ns)
{
    if (p->o.provider != WEATHER_ENTITY)
        return 0;
    weather_obs o;
    char err[256];
    int64_t now_ms = hs_now_mono_ms();
    source *s = &p->weather;
    if (weather_from_entity(new_state, &o, err, sizeof err) != 0) {
        pthread_mutex_lock(&p->lock);
        p->entity_rejects++;
        s->failures++;
        s->last_failed = true;
        snprintf(s->last_error, sizeof s->last_error, "%s", err);
        pthread_mutex_unlock(&p->lock);
        hs_breaker_failure(s->breaker, now_ms);
        hs_breaker_set_last_error(s->breaker, err);
        hs_warn(COMPONENT, "%s", err);
        return -1;
    }
    if (p->o.metric)
        weather_to_metric(&o);
    pthread_mutex_lock(&p->lock);
    p->entity_updates++;
    s->fetches++;
    s->last_failed = false;
    s->last_error[0] = '\0';
    s->last_success_ns = now_ns;
    pthread_mutex_unlock(&p->lock);
    hs_breaker_success(s->breaker, now_ms, 0);
    store_obs(p, &o);
    return 1;
}

json_t *poller_take_presence(poller *p)
{
    pthread_mutex_lock(&p->lock);
    json_t *doc = p->presence_doc;
    p->presence_doc = NULL;
    pthread_mutex_unlock(&p->lock);
    return doc;
}

void poller_presence_rejected(poller *p, const char *reason)
{
    int64_t now = hs_now_mono_ms();
    pthread_mutex_lock(&p->lock);
    p->presence.failures++;
    p->presence.last_failed = true;
    snprintf(p->presence.last_error, sizeof p->presence.last_error, "%s", reason);
    pthread_mutex_unlock(&p->lock);
    hs_breaker_failure(p->presence.breaker, now);
    hs_breaker_set_last_error(p->presence.breaker, reason);
}

static json_t *iso_or_null(int64_t ns)
{
    char iso[40];
    if (ns == 0 || hs_time_format_iso(ns, iso, sizeof iso) != 0)
        return json_null();
    return json_string(iso);
}

void poller_stats(poller *p, json_t *obj)
{
    int64_t now_ns = hs_now_wall_ns();
    pthread_mutex_lock(&p->lock);
    json_t *age = p->have_obs
                      ? json_integer((now_ns - p->obs.observed_at_ns) / 1000000000)
                      : json_null();
    json_t *w = json_pack(
        "{s:s, s:I, s:I, s:o, s:o, s:b, s:s?, s:I, s:f, s:f}", "provider",
        config_weather_provider_name(p->o.provider), "fetches_total",
        (json_int_t)p->weather.fetches, "failures_total", (json_int_t)p->weather.failures,
        "last_success", iso_or_null(p->weather.last_success_ns), "cache_age_s", age,
        "stale", p->have_obs && is_stale(p, now_ns), "last_error",
        p->weather.last_error[0] ? p->weather.last_error : NULL, "cache_minutes",
        (json_int_t)p->cache_minutes, "lat", p->lat, "lon", p->lon);
    json_t *pr =
        json_pack("{s:b, s:I, s:I, s:o, s:s?}", "enabled", p->o.presence_url != NULL,
                  "polls_total", (json_int_t)p->presence.fetches, "failures_total",
                  (json_int_t)p->presence.failures, "last_success",
                  iso_or_null(p->presence.last_success_ns), "last_error",
                  p->presence.last_error[0] ? p->presence.last_error : NULL);
    pthread_mutex_unlock(&p->lock);
    json_object_set_new(obj, "weather", w ? w : json_null());
    json_object_set_new(obj, "presence_url", pr ? pr : json_null());
}

/* One dependency's health object; returns its severity. */
static int source_health(poller *p, source *s, bool enabled, json_t **out)
{
    int64_t now = hs_now_mono_ms();
    hs_breaker_state bs = hs_breaker_get_state(s->breaker, now);
    pthread_mutex_lock(&p->lock);
    bool auth = s->auth_problem, failed = s->last_failed;
    char last_error[256];
    snprintf(last_error, sizeof last_error, "%s", s->last_error);
    pthread_mutex_unlock(&p->lock);
    const char *state = "ok";
    int sev = 0;
    if (!enabled) {
        state = "disabled";
    } else if (auth) {
        state = "misconfigured";
        sev = 1;
    } else if (bs != HS_BREAKER_CLOSED || failed) {
        state = "degraded";
        sev = 1;
    }
    *out = json_pack("{s:s, s:o}", "state", state, "breaker",
                     hs_breaker_to_json(s->breaker, now));
    if (*out && auth)
        json_object_set_new(*out, "problem", json_string("configuration"));
    if (*out && last_error[0])
        json_object_set_new(*out, "last_error", json_string(last_error));
    return sev;
}

int poller_health(poller *p, json_t *deps)
{
    json_t *w = NULL, *pr = NULL;
    int sev = source_health(p, &p->weather, p->o.provider != WEATHER_NONE, &w);
    int sev2 = source_health(p, &p->presence, p->o.presence_url != NULL, &pr);
    if (w)
        json_object_set_new(w, "provider",
                            json_string(config_weather_provider_name(p->o.provider)));
    json_object_set_new(deps, "weather", w ? w : json_null());
    json_object_set_new(deps, "presence", pr ? pr : json_null());
    return sev > sev2 ? sev : sev2;
}

void poller_breakers(poller *p, json_t *obj)
{
    int64_t now = hs_now_mono_ms();
    json_object_set_new(obj, "weather", hs_breaker_to_json(p->weather.breaker, now));
    json_object_set_new(obj, "presence", hs_breaker_to_json(p->presence.breaker, now));
}
