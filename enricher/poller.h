/* poller.h - the enricher's background sources: the weather provider and the
 * presence URL, fetched with libcurl on a thread of their own, each behind
 * its own circuit breaker ("weather", "presence").
 *
 * The event path never waits: it reads the latest weather observation, a
 * copy taken under a mutex, and picks up a presence document when one has
 * arrived. With WEATHER_PROVIDER=entity no HTTP is involved; the pipeline
 * offers the stream's weather.* states instead.
 *
 * All functions are thread-safe. */
#ifndef POLLER_H
#define POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "weather.h"

typedef struct {
    weather_provider_kind provider;
    const char *weather_url; /* base URL; NULL: the provider's public one */
    const char *api_key;     /* openweathermap */
    double lat, lon;
    int64_t cache_minutes;      /* fetch interval; stale after twice this */
    int64_t timeout_s;          /* per request */
    const char *weather_entity; /* entity provider */
    bool metric;                /* UNITS=metric */
    const char *presence_url;   /* NULL: no presence polling */
    int64_t presence_poll_s;
} poller_opts;

typedef struct poller poller;

/* Copies opts and starts the thread when there is anything to fetch.
 * Returns NULL with a reason in err. */
poller *poller_new(const poller_opts *opts, char *err, size_t errlen);

/* Stops the thread (an HTTP request in progress is abandoned within a
 * second) and frees everything. Accepts NULL. */
void poller_free(poller *p);

/* Changes the location and interval at run time (PUT /config); the next
 * fetch starts at once. */
void poller_set_location(poller *p, double lat, double lon, int64_t cache_minutes);

/* The weather object to attach to an event at now_ns, as a new reference,
 * or NULL when there is no provider or no observation yet. *version (when
 * not NULL) receives a number that changes whenever a new observation
 * arrives. */
json_t *poller_weather(poller *p, int64_t now_ns, uint64_t *version);

/* What poller_weather's object at now_ns is made of, taken together: a
 * copy of the observation, whether it is stale, and its version (as
 * poller_weather gives it). Returns 0, or -1 when there is no provider's
 * observation yet. */
int poller_weather_parts(poller *p, int64_t now_ns, weather_obs *obs, bool *stale,
                         uint64_t *version);

/* The observation time of the current weather in ns (0 when none). */
int64_t poller_weather_observed_ns(poller *p);

/* True when entity_id is the configured WEATHER_ENTITY of the entity
 * provider. */
bool poller_wants_entity(poller *p, const char *entity_id);

/* Offers a state of the weather entity. Returns 1 when it became the new
 * observation, 0 when it is ignored, -1 when its shape is wrong (counted
 * as a failure of the "weather" breaker). */
int poller_offer_entity(poller *p, const json_t *new_state, int64_t now_ns);

/* A presence document fetched since the last call, as a new reference, or
 * NULL. Each document is handed out once. */
json_t *poller_take_presence(poller *p);

/* Reports a presence document the pipeline could not use (wrong shape), so
 * the "presence" breaker counts it as a failure. */
void poller_presence_rejected(poller *p, const char *reason);

/* Adds {"weather":{…},"presence_url":{…}} counters to obj. */
void poller_stats(poller *p, json_t *obj);

/* Adds the "weather" and "presence" dependencies to deps and returns the
 * worst state: 0 ok, 1 degraded, 2 unhealthy. */
int poller_health(poller *p, json_t *deps);

/* Adds {"weather":…, "presence":…} breaker objects to obj. */
void poller_breakers(poller *p, json_t *obj);

#endif
