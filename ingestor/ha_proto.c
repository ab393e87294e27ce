/* ha_proto.c - Home Assistant WebSocket API messages. */
#include "ha_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [HA_MSG_AUTH_REQUIRED] = "auth_required",
    [HA_MSG_AUTH_OK] = "auth_ok",
    [HA_MSG_AUTH_INVALID] = "auth_invalid",
    [HA_MSG_RESULT] = "result",
    [HA_MSG_EVENT] = "event",
    [HA_MSG_PONG] = "pong",
    [HA_MSG_INVALID] = "invalid",
};

const char *ha_msg_type_name(ha_msg_type type)
{
    if ((int)type < 0 || (size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
        return "invalid";
    return type_names[type];
}

static const char *opt_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void set_invalid(ha_msg *m, const char *reason)
{
    m->type = HA_MSG_INVALID;
    m->invalid_reason = reason;
}

/* Fills m from one element; an unexpected shape makes it HA_MSG_INVALID. */
static void classify(ha_msg *m, const json_t *el)
{
    memset(m, 0, sizeof(*m));
    m->obj = el;
    m->id = -1;
    if (!json_is_object(el)) {
        set_invalid(m, "message is not a JSON object");
        return;
    }
    const char *type = opt_string(el, "type");
    if (type == NULL) {
        set_invalid(m, "message has no string \"type\"");
        return;
    }
    const json_t *id = json_object_get(el, "id");
    if (id != NULL) {
        if (!json_is_integer(id) || json_integer_value(id) < 0) {
            set_invalid(m, "message \"id\" is not a non-negative integer");
            return;
        }
        m->id = json_integer_value(id);
    }
    if (strcmp(type, "auth_required") == 0 || strcmp(type, "auth_ok") == 0) {
        m->type = type[5] == 'r' ? HA_MSG_AUTH_REQUIRED : HA_MSG_AUTH_OK;
        m->ha_version = opt_string(el, "ha_version");
    } else if (strcmp(type, "auth_invalid") == 0) {
        m->type = HA_MSG_AUTH_INVALID;
        m->message = opt_string(el, "message");
    } else if (strcmp(type, "result") == 0) {
        const json_t *success = json_object_get(el, "success");
        if (m->id < 0) {
            set_invalid(m, "result without \"id\"");
            return;
        }
        if (!json_is_boolean(success)) {
            set_invalid(m, "result without boolean \"success\"");
            return;
        }
        m->type = HA_MSG_RESULT;
        m->success = json_is_true(success);
        m->result = json_object_get(el, "result");
        if (!m->success) {
            const json_t *error = json_object_get(el, "error");
            m->error_code = opt_string(error, "code");
            m->message = opt_string(error, "message");
        }
    } else if (strcmp(type, "event") == 0) {
        if (m->id < 0) {
            set_invalid(m, "event without \"id\"");
            return;
        }
        m->event = json_object_get(el, "event");
        if (m->event == NULL) {
            set_invalid(m, "event message without \"event\"");
            return;
        }
        m->type = HA_MSG_EVENT;
    } else if (strcmp(type, "pong") == 0) {
        if (m->id < 0) {
            set_invalid(m, "pong without \"id\"");
            return;
        }
        m->type = HA_MSG_PONG;
    } else {
        set_invalid(m, "unknown message type");
    }
}

int ha_frame_parse(ha_frame *f, const char *buf, size_t len, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "frame is not valid JSON: %s (at byte %d)", jerr.text,
                 jerr.position);
        return -1;
    }
    if (json_is_object(root)) {
        f->msgs = calloc(1, sizeof(ha_msg));
        if (f->msgs == NULL)
            goto oom;
        f->n = 1;
        classify(&f->msgs[0], root);
    } else if (json_is_array(root)) {
        size_t n = json_array_size(root);
        if (n > 0) {
            f->msgs = calloc(n, sizeof(ha_msg));
            if (f->msgs == NULL)
                goto oom;
        }
        f->n = n;
        for (size_t i = 0; i < n; i++)
            classify(&f->msgs[i], json_array_get(root, i));
    } else {
        json_decref(root);
        snprintf(err, errlen, "frame is neither a JSON object nor an array");
        return -1;
    }
    f->root = root;
    return 0;
oom:
    json_decref(root);
    snprintf(err, errlen, "out of memory");
    return -1;
}

void ha_frame_fini(ha_frame *f)
{
    if (f == NULL)
        return;
    free(f->msgs);
    json_decref(f->root);
    memset(f, 0, sizeof(*f));
}

/* Serialises and releases obj (NULL obj: out of memory, returns NULL). */
static char *dump(json_t *obj)
{
    if (obj == NULL)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

char *ha_proto_auth(const char *token)
{
    return dump(json_pack("{s:s, s:s}", "type", "auth", "access_token",
                          token != NULL ? token : ""));
}

char *ha_proto_command(int64_t id, const char *type, const json_t *fields)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    if (fields != NULL && json_object_update(obj, (json_t *)fields) != 0)
        goto fail;
    if (json_object_set_new(obj, "id", json_integer(id)) != 0 ||
        json_object_set_new(obj, "type", json_string(type)) != 0)
        goto fail;
    return dump(obj);
fail:
    json_decref(obj);
    return NULL;
}

char *ha_proto_supported_features(int64_t id)
{
    return dump(json_pack("{s:I, s:s, s:{s:i}}", "id", (json_int_t)id, "type",
                          "supported_features", "features", "coalesce_messages", 1));
}

char *ha_proto_subscribe_events(int64_t id, const char *event_type)
{
    if (event_type == NULL)
        return dump(
            json_pack("{s:I, s:s}", "id", (json_int_t)id, "type", "subscribe_events"));
    return dump(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "type",
                          "subscribe_events", "event_type", event_type));
}

char *ha_proto_ping(int64_t id)
{
    return dump(json_pack("{s:I, s:s}", "id", (json_int_t)id, "type", "ping"));
}

char *ha_proto_history(int64_t id, const char *start_iso, const char *end_iso,
                       const json_t *entity_ids)
{
    json_t *obj =
        json_pack("{s:I, s:s, s:s, s:b, s:b, s:b, s:b}", "id", (json_int_t)id, "type",
                  "history/history_during_period", "start_time", start_iso,
                  "significant_changes_only", 0, "include_start_time_state", 0,
                  "minimal_response", 0, "no_attributes", 0);
    if (obj == NULL)
        return NULL;
    if (end_iso != NULL &&
        json_object_set_new(obj, "end_time", json_string(end_iso)) != 0)
        goto fail;
    if (entity_ids != NULL &&
        json_object_set_new(obj, "entity_ids", json_deep_copy(entity_ids)) != 0)
        goto fail;
    return dump(obj);
fail:
    json_decref(obj);
    return NULL;
}
