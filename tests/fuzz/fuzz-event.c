/* fuzz-event.c - libFuzzer target: hs_event_from_ha and
 * hs_event_validate_raw (shared/hs_event.h) on arbitrary JSON-ish input.
 *
 * The input is parsed as JSON; when it is an HA "event" message (or an array
 * of them, a coalesced frame) its "event" members are used, else the value
 * itself is taken as the event.
 *
 * Properties: hs_event_from_ha either refuses with a reason, or builds a
 * message that hs_event_validate_raw accepts, that carries the context's
 * site and backfill flag and the event's event_type, whose entity_id splits
 * into its domain and object_id members, and that serialises and parses back
 * to an equal value. hs_event_validate_raw on the input itself accepts only
 * what its contract describes, and hs_event_split_entity's split puts the
 * entity id back together. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "hs_event.h"

/* The contract of hs_event_validate_raw, written out independently. */
static int expect_valid(const json_t *msg)
{
    if (!json_is_object(msg))
        return -1;
    const json_t *schema = json_object_get(msg, "schema");
    if (!json_is_integer(schema) || json_integer_value(schema) != 1)
        return -1;
    const char *et = json_string_value(json_object_get(msg, "event_type"));
    if (et == NULL || et[0] == '\0' || !json_is_string(json_object_get(msg, "site")))
        return -1;
    if (strcmp(et, "state_changed") != 0)
        return 0;
    const char *id = json_string_value(json_object_get(msg, "entity_id"));
    if (id == NULL)
        return -1;
    const char *dot = strchr(id, '.');
    if (dot == NULL || dot == id || dot[1] == '\0' || strchr(dot + 1, '.') != NULL)
        return -1;
    for (const char *p = id; *p != '\0'; p++)
        if (p != dot &&
            !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return -1;
    if (json_string_length(json_object_get(msg, "entity_id")) != strlen(id))
        return -1; /* an embedded NUL */
    const json_t *ns = json_object_get(msg, "new_state");
    return json_is_object(ns) || json_is_null(ns) ? 0 : -1;
}

static void check_split(const char *entity_id)
{
    if (entity_id == NULL)
        return;
    char domain[256];
    const char *obj = hs_event_split_entity(entity_id, domain, sizeof domain);
    if (obj == NULL)
        return;
    size_t dlen = strlen(domain);
    FUZZ_CHECK(dlen > 0 && obj[0] != '\0', "empty part of '%s'", entity_id);
    FUZZ_CHECK(strncmp(entity_id, domain, dlen) == 0 && entity_id[dlen] == '.' &&
                   strcmp(entity_id + dlen + 1, obj) == 0,
               "split of '%s' gives '%s' and '%s'", entity_id, domain, obj);
}

static void check_event(const json_t *ev, uint32_t h)
{
    hs_event_ctx ctx = {
        .site = (h & 1) ? "home" : "s\xc3\xa9jour \"2\"",
        .area = (h & 2) ? "Living Room" : NULL,
        .device = (h & 4) ? "Aqara TH" : NULL,
        .ingested_at_ns = (h & 8) ? 1763765318123456000LL : 0,
        .backfill = (h & 16) != 0,
    };
    char err[256] = "";
    json_t *msg = hs_event_from_ha(ev, &ctx, err, sizeof err);
    if (msg == NULL) {
        FUZZ_CHECK(err[0] != '\0', "refused without a reason");
        return;
    }
    char verr[256] = "";
    FUZZ_CHECK(hs_event_validate_raw(msg, verr, sizeof verr) == 0,
               "built message fails validation: %s", verr);
    FUZZ_CHECK(expect_valid(msg) == 0, "built message breaks the schema contract");
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(msg, "site")), ctx.site) == 0,
               "site");
    FUZZ_CHECK(json_is_true(json_object_get(msg, "backfill")) == ctx.backfill,
               "backfill");
    const char *et_in = json_string_value(json_object_get(ev, "event_type"));
    const char *et_out = json_string_value(json_object_get(msg, "event_type"));
    FUZZ_CHECK(et_in != NULL && et_out != NULL && strcmp(et_in, et_out) == 0,
               "event_type");
    const char *id = json_string_value(json_object_get(msg, "entity_id"));
    if (id != NULL) {
        const char *dom = json_string_value(json_object_get(msg, "domain"));
        const char *obj = json_string_value(json_object_get(msg, "object_id"));
        FUZZ_CHECK(dom != NULL && obj != NULL, "entity without domain/object_id");
        size_t dlen = strlen(dom);
        FUZZ_CHECK(strncmp(id, dom, dlen) == 0 && id[dlen] == '.' &&
                       strcmp(id + dlen + 1, obj) == 0,
                   "'%s' is not '%s'.'%s'", id, dom, obj);
    } else {
        FUZZ_CHECK(strcmp(et_out, "state_changed") != 0,
                   "state_changed without entity_id");
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "built message does not serialise");
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(back != NULL && json_equal(back, msg), "built message does not read back");
    json_decref(back);
    free(text);
    json_decref(msg);
}

static uint32_t hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (root == NULL)
        return 0;
    uint32_t h = hash(data, size);

    char err[256] = "";
    int rc = hs_event_validate_raw(root, err, sizeof err);
    FUZZ_CHECK(rc == expect_valid(root), "validate_raw says %d (%s)", rc, err);
    FUZZ_CHECK(rc == 0 || err[0] != '\0', "refused without a reason");
    check_split(json_string_value(json_object_get(root, "entity_id")));

    if (json_is_array(root)) {
        size_t i;
        json_t *el;
        json_array_foreach(root, i, el)
        {
            const json_t *ev = json_object_get(el, "event");
            check_event(ev != NULL ? ev : el, h + (uint32_t)i);
        }
    } else {
        const json_t *ev = json_object_get(root, "event");
        check_event(ev != NULL ? ev : root, h);
        const json_t *data_obj = json_object_get(ev != NULL ? ev : root, "data");
        check_split(json_string_value(json_object_get(data_obj, "entity_id")));
    }
    json_decref(root);
    return 0;
}
