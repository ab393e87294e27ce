/* fuzz-ha-frame.c - libFuzzer target: the ingestor's Home Assistant frame
 * parser (ha_proto.h) on arbitrary bytes.
 *
 * Properties: ha_frame_parse either fails with a reason and an empty frame,
 * or classifies every element of the frame (one for an object, one per
 * member of an array) consistently with its type: results, events and pongs
 * carry a non-negative id, events their "event" member, invalid elements a
 * reason. The builders round-trip: the token given to ha_proto_auth and the
 * event type given to ha_proto_subscribe_events come back unchanged when the
 * text is parsed again (or the builder refuses text JSON cannot carry). */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "ha_proto.h"

static void check_frame(const uint8_t *data, size_t size)
{
    ha_frame f;
    char err[256] = "";
    int rc = ha_frame_parse(&f, (const char *)data, size, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(f.root == NULL && f.msgs == NULL && f.n == 0,
                   "failed parse left a frame");
        FUZZ_CHECK(err[0] != '\0', "failed parse without a reason");
        ha_frame_fini(&f);
        return;
    }
    FUZZ_CHECK(json_is_object(f.root) || json_is_array(f.root), "root of type %d",
               json_typeof(f.root));
    size_t expect = json_is_object(f.root) ? 1 : json_array_size(f.root);
    FUZZ_CHECK(f.n == expect, "%zu messages for %zu elements", f.n, expect);
    for (size_t i = 0; i < f.n; i++) {
        const ha_msg *m = &f.msgs[i];
        const json_t *el = json_is_object(f.root) ? f.root : json_array_get(f.root, i);
        FUZZ_CHECK(m->obj == el, "message %zu does not point at its element", i);
        FUZZ_CHECK(ha_msg_type_name(m->type) != NULL, "no name for type %d",
                   (int)m->type);
        FUZZ_CHECK(m->id >= -1, "id %lld", (long long)m->id);
        const char *type = json_string_value(json_object_get(el, "type"));
        switch (m->type) {
        case HA_MSG_INVALID:
            FUZZ_CHECK(m->invalid_reason != NULL, "invalid element %zu without reason",
                       i);
            break;
        case HA_MSG_RESULT:
            FUZZ_CHECK(m->id >= 0 && type != NULL && strcmp(type, "result") == 0,
                       "result %zu", i);
            FUZZ_CHECK(m->success == json_is_true(json_object_get(el, "success")),
                       "success flag of %zu", i);
            FUZZ_CHECK(m->result == json_object_get(el, "result"), "result member of %zu",
                       i);
            break;
        case HA_MSG_EVENT:
            FUZZ_CHECK(m->id >= 0 && m->event != NULL &&
                           m->event == json_object_get(el, "event"),
                       "event %zu", i);
            break;
        case HA_MSG_PONG:
            FUZZ_CHECK(m->id >= 0 && type != NULL && strcmp(type, "pong") == 0,
                       "pong %zu", i);
            break;
        case HA_MSG_AUTH_REQUIRED:
        case HA_MSG_AUTH_OK:
        case HA_MSG_AUTH_INVALID:
            FUZZ_CHECK(type != NULL && strncmp(type, "auth_", 5) == 0, "auth %zu", i);
            break;
        default:
            FUZZ_CHECK(0, "unknown type %d", (int)m->type);
        }
        if (m->type != HA_MSG_INVALID) {
            const json_t *id = json_object_get(el, "id");
            FUZZ_CHECK(id == NULL ? m->id == -1 : m->id == json_integer_value(id),
                       "id of %zu", i);
        }
    }
    ha_frame_fini(&f);
    FUZZ_CHECK(f.root == NULL && f.msgs == NULL && f.n == 0, "fini left a frame");
}

/* The input as a NUL-terminated string, or NULL when it holds a NUL byte. */
static char *as_text(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size) != NULL)
        return NULL;
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void check_builders(const uint8_t *data, size_t size)
{
    char *text = as_text(data, size);
    if (text == NULL)
        return;
    char *auth = ha_proto_auth(text);
    if (auth != NULL) {
        json_t *j = json_loads(auth, 0, NULL);
        FUZZ_CHECK(j != NULL, "auth message is not JSON: %s", auth);
        const char *tok = json_string_value(json_object_get(j, "access_token"));
        FUZZ_CHECK(tok != NULL && strcmp(tok, text) == 0, "token changed");
        json_decref(j);
        free(auth);
    }
    char *sub = ha_proto_subscribe_events(7, text);
    if (sub != NULL) {
        ha_frame f;
        char err[256];
        FUZZ_CHECK(ha_frame_parse(&f, sub, strlen(sub), err, sizeof err) == 0,
                   "subscribe message does not parse: %s", err);
        FUZZ_CHECK(f.n == 1, "subscribe message is %zu messages", f.n);
        const char *et = json_string_value(json_object_get(f.root, "event_type"));
        FUZZ_CHECK(et != NULL && strcmp(et, text) == 0, "event type changed");
        FUZZ_CHECK(json_integer_value(json_object_get(f.root, "id")) == 7, "id changed");
        ha_frame_fini(&f);
        free(sub);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_frame(data, size);
    check_builders(data, size);
    return 0;
}
