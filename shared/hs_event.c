/* hs_event.c - Home Assistant events as homestream's raw message (schema 1). */
#include "hs_event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hs_time.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The domain may be NULL (with domain_len 0) to only check the form. A domain
 * that does not fit in domain_len bytes makes the split fail rather than
 * hand back a truncated domain. */
const char *hs_event_split_entity(const char *entity_id, char *domain, size_t domain_len)
{
    if (entity_id == NULL)
        return NULL;
    const char *p = entity_id;
    while (is_id_char(*p))
        p++;
    if (p == entity_id || *p != '.')
        return NULL;
    size_t dlen = (size_t)(p - entity_id);
    const char *object_id = p + 1;
    const char *q = object_id;
    while (is_id_char(*q))
        q++;
    if (q == object_id || *q != '\0')
        return NULL;
    if (domain != NULL) {
        if (dlen >= domain_len)
            return NULL;
        memcpy(domain, entity_id, dlen);
        domain[dlen] = '\0';
    }
    return object_id;
}

/* Adds key -> value to obj, taking the reference to value. A NULL value (an
 * allocation that failed) or a failed insertion returns -1. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return -1;
    return json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

/* A deep copy of v when it is a string, else JSON null. */
static json_t *copy_string_or_null(const json_t *v)
{
    return json_is_string(v) ? json_deep_copy(v) : json_null();
}

/* Adds entity_id and the domain and object_id split off it. */
static int put_entity(json_t *msg, const char *entity_id, const char *domain,
                      const char *object_id)
{
    if (put(msg, "entity_id", json_string(entity_id)) < 0 ||
        put(msg, "domain", json_string(domain)) < 0 ||
        put(msg, "object_id", json_string(object_id)) < 0)
        return -1;
    return 0;
}

/* A state as HA sent it (deep copy), or null when it is missing. Returns NULL
 * (and sets *bad) when the state is neither an object nor null. */
static json_t *copy_state(const json_t *state, bool *bad)
{
    if (state == NULL || json_is_null(state))
        return json_null();
    if (!json_is_object(state)) {
        *bad = true;
        return NULL;
    }
    return json_deep_copy(state);
}

/* For state_changed the entity id is required and must be well formed; other
 * event types (call_service, automation_triggered, ...) carry whatever HA put
 * in data, so for them a missing, non-string or malformed data.entity_id only
 * means the message has no top-level entity_id: the data keeps it as sent. */
json_t *hs_event_from_ha(const json_t *ha_event, const hs_event_ctx *ctx, char *err,
                         size_t errlen)
{
    if (ctx == NULL || ctx->site == NULL) {
        set_err(err, errlen, "no site in the event context");
        return NULL;
    }
    if (!json_is_object(ha_event)) {
        set_err(err, errlen, "event is not a JSON object");
        return NULL;
    }
    const char *event_type = json_string_value(json_object_get(ha_event, "event_type"));
    if (event_type == NULL || event_type[0] == '\0') {
        set_err(err, errlen, "event has no event_type string");
        return NULL;
    }
    const json_t *data = json_object_get(ha_event, "data");
    if (data != NULL && !json_is_object(data)) {
        set_err(err, errlen, "event data is not an object");
        return NULL;
    }
    const bool state_changed = strcmp(event_type, "state_changed") == 0;
    const char *entity_id = json_string_value(json_object_get(data, "entity_id"));
    char domain[256];
    const char *object_id = hs_event_split_entity(entity_id, domain, sizeof domain);
    if (state_changed) {
        if (entity_id == NULL) {
            set_err(err, errlen, "state_changed event has no data.entity_id string");
            return NULL;
        }
        if (object_id == NULL) {
            set_err(err, errlen, "malformed entity_id '%.200s'", entity_id);
            return NULL;
        }
    } else if (object_id == NULL) {
        entity_id = NULL;
    }

    char ingested[40];
    if (hs_time_format_iso(ctx->ingested_at_ns, ingested, sizeof ingested) < 0) {
        set_err(err, errlen, "ingested_at cannot be formatted");
        return NULL;
    }

    json_t *msg = json_object();
    if (msg == NULL)
        goto oom;
    if (put(msg, "schema", json_integer(HS_EVENT_SCHEMA)) < 0 ||
        put(msg, "site", json_string(ctx->site)) < 0 ||
        put(msg, "event_type", json_string(event_type)) < 0 ||
        put(msg, "origin", copy_string_or_null(json_object_get(ha_event, "origin"))) < 0)
        goto oom;
    if (entity_id != NULL && put_entity(msg, entity_id, domain, object_id) < 0)
        goto oom;
    if (put(msg, "time_fired",
            copy_string_or_null(json_object_get(ha_event, "time_fired"))) < 0)
        goto oom;
    if (state_changed) {
        bool bad_new = false, bad_old = false;
        json_t *new_state = copy_state(json_object_get(data, "new_state"), &bad_new);
        json_t *old_state = copy_state(json_object_get(data, "old_state"), &bad_old);
        if (bad_new || bad_old) {
            json_decref(new_state);
            json_decref(old_state);
            json_decref(msg);
            set_err(err, errlen, "%s of %s is neither an object nor null",
                    bad_new ? "new_state" : "old_state", entity_id);
            return NULL;
        }
        if (put(msg, "new_state", new_state) < 0) {
            json_decref(old_state);
            goto oom;
        }
        if (put(msg, "old_state", old_state) < 0)
            goto oom;
    } else {
        json_t *copy = data != NULL ? json_deep_copy(data) : json_object();
        if (put(msg, "data", copy) < 0)
            goto oom;
    }
    const json_t *context = json_object_get(ha_event, "context");
    if (put(msg, "context",
            json_is_object(context) ? json_deep_copy(context) : json_null()) < 0 ||
        put(msg, "area", ctx->area != NULL ? json_string(ctx->area) : json_null()) < 0 ||
        put(msg, "device", ctx->device != NULL ? json_string(ctx->device) : json_null()) <
            0 ||
        put(msg, "ingested_at", json_string(ingested)) < 0 ||
        put(msg, "backfill", json_boolean(ctx->backfill)) < 0)
        goto oom;
    return msg;

oom:
    json_decref(msg);
    set_err(err, errlen, "out of memory (or a string that is not valid UTF-8)");
    return NULL;
}

int hs_event_validate_raw(const json_t *msg, char *err, size_t errlen)
{
    if (!json_is_object(msg)) {
        set_err(err, errlen, "message is not a JSON object");
        return -1;
    }
    const json_t *schema = json_object_get(msg, "schema");
    if (!json_is_integer(schema) || json_integer_value(schema) != HS_EVENT_SCHEMA) {
        set_err(err, errlen, "schema is not %d", HS_EVENT_SCHEMA);
        return -1;
    }
    const char *event_type = json_string_value(json_object_get(msg, "event_type"));
    if (event_type == NULL || event_type[0] == '\0') {
        set_err(err, errlen, "event_type is not a non-empty string");
        return -1;
    }
    if (!json_is_string(json_object_get(msg, "site"))) {
        set_err(err, errlen, "site is not a string");
        return -1;
    }
    if (strcmp(event_type, "state_changed") != 0)
        return 0;
    const json_t *entity = json_object_get(msg, "entity_id");
    if (!json_is_string(entity)) {
        set_err(err, errlen, "state_changed message has no entity_id string");
        return -1;
    }
    if (hs_event_split_entity(json_string_value(entity), NULL, 0) == NULL) {
        set_err(err, errlen, "malformed entity_id '%.200s'", json_string_value(entity));
        return -1;
    }
    const json_t *new_state = json_object_get(msg, "new_state");
    if (new_state == NULL) {
        set_err(err, errlen, "state_changed message has no new_state");
        return -1;
    }
    if (!json_is_object(new_state) && !json_is_null(new_state)) {
        set_err(err, errlen, "new_state is neither an object nor null");
        return -1;
    }
    return 0;
}
