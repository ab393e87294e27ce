/* enrich.h - the enricher's transform: a raw schema-1 message plus the
 * current presence and weather snapshots in, an enriched message out.
 *
 * Pure functions: no I/O and no clock; everything they depend on is passed
 * in, so they are table-tested directly. */
#ifndef ENRICH_H
#define ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What is attached to every enriched message. Both are borrowed; the
 * enriched message takes its own reference to them. NULL attaches JSON null
 * (no weather provider, or no observation yet; presence never NULL in the
 * daemon but allowed here). */
typedef struct {
    json_t *presence; /* {"anyone_home","people_home","people":[…]} */
    json_t *weather;  /* {"temperature",…,"age_s","stale"} */
    bool metric;      /* UNITS=metric: convert value/unit (see units.h) */
} enrich_ctx;

/* Interprets a Home Assistant state as a number, following HA's
 * helpers/state.py state_as_number for the word states: "on", "locked",
 * "above_horizon", "open", "home" are 1; "off", "unlocked", "below_horizon",
 * "closed", "not_home" are 0 (case-sensitive, as HA compares). "unknown",
 * which state_as_number maps to 0, is not a number here: HA's InfluxDB
 * integration never writes unknown states, and homestream keeps them as the
 * state string only, so a temperature going "unknown" does not graph as 0
 * (the writer does the same). Any other text is a number only when it is, in full, a
 * decimal floating-point literal: an optional sign, digits with an optional
 * fraction (or a fraction alone, ".5"), an optional exponent, and a finite
 * result. So "12abc", "", " 1", "1 ", "0x10", "nan", "inf", "1_000" and
 * "1e999" are not numbers (Python's float() accepts some of these; HA's
 * InfluxDB integration never sees them as values in practice and a strict
 * rule keeps Grafana's series clean). Returns 0 and sets *out, or -1. */
int enrich_state_value(const char *state, double *out);

/* The event's point time in ns since the epoch: new_state.last_updated when
 * the message has a new_state object, else time_fired. Returns 0, or -1 with
 * a reason in err when the chosen field is missing or not an ISO 8601
 * timestamp. */
int enrich_time_ns(const json_t *raw, int64_t *out, char *err, size_t errlen);

/* Builds the enriched message: every field of raw unchanged (shared by
 * reference, so the caller must not modify raw's members afterwards), plus
 * "time_ns", "value" (enrich_state_value of new_state.state, else null),
 * "unit" (new_state.attributes.unit_of_measurement when a string, else
 * null), "device_class" (likewise), "presence" and "weather" from ctx.
 * With ctx->metric, a numeric value in °F, mph or inHg is converted and
 * "unit" names the metric unit (new_state itself stays as HA sent it).
 * raw must already have passed hs_event_validate_raw(). Returns a new
 * object, or NULL with a reason in err when the time cannot be derived or
 * memory runs out. */
json_t *enrich_event(const json_t *raw, const enrich_ctx *ctx, char *err, size_t errlen);

/* The members enrich_event adds to raw, alone, in the order it adds them:
 * {"time_ns","value","unit","device_class","presence","weather"}. Same
 * arguments and failures as enrich_event. Returns a new object. */
json_t *enrich_fields(const json_t *raw, const enrich_ctx *ctx, char *err, size_t errlen);

/* The enriched message as compact-enough JSON text: the same JSON value as
 * json_dumps(enrich_event(raw, ...), JSON_COMPACT), made without dumping raw
 * again. raw_text[0..raw_len) is the text raw was parsed from (by json_loadb
 * with JSON_REJECT_DUPLICATES, so it is one object, whitespace around it at
 * most) and fields what enrich_fields returned for it. When raw has none of
 * fields' keys, the result is raw_text up to its closing brace, then fields'
 * members, then the brace: raw's members keep their bytes (its spacing and
 * escapes included). Otherwise (an input that already carries "value",
 * say) fields replace raw's members as in enrich_event, and the whole
 * message is dumped. Returns a malloc'd NUL-terminated text and its length
 * in *len, or NULL when out of memory. */
char *enrich_text(const char *raw_text, size_t raw_len, const json_t *raw,
                  const json_t *fields, size_t *len);

/* What enrich_scan_raw reads from a raw message's text for the fast path. */
typedef struct {
    char entity_id[256]; /* "" when the message has none */
    bool has_entity_id;
    bool state_changed;
    int64_t time_ns;
    bool has_value;
    double value;
    const char *unit; /* the unit's JSON text (quotes included), or NULL: null */
    size_t unit_len;
    const char *device_class; /* likewise */
    size_t device_class_len;
    size_t head;          /* bytes of the raw text before its closing brace */
    char metric_unit[16]; /* the converted unit's JSON text, unit points here */
} enrich_scan;

/* The fast path's reading of a raw message, with no JSON tree: the same
 * checks as hs_event_validate_raw and the same values as enrich_fields
 * (time_ns, value with the UNITS=metric conversion when metric, unit,
 * device_class), read with hs_jscan straight from raw_text[0..raw_len).
 * Returns 0 when the message is one the fast path handles, or -1 when the
 * caller must take the tree path (enrich_fields and enrich_text), which
 * stays the judge of what goes to the DLQ and why: whenever jansson would
 * reject the text or the message fails validation, and also whenever the
 * scan is unsure (see hs_jscan.h), a string the output would carry is
 * written with escapes, or the message already has a member enrich adds. */
int enrich_scan_raw(const char *raw_text, size_t raw_len, bool metric, enrich_scan *out);

/* Writes the finite real v into buf[0..cap) as jansson 2.14 writes it
 * (json_dumpb of json_real(v): printf's "%.17g", ".0" added to an integer,
 * the exponent without '+' or leading zeros), with no printf for the usual
 * magnitudes. Returns its length (a NUL follows it), or 0 when it does not
 * fit (cap of 40 or more always does). */
size_t enrich_real_text(double v, char *buf, size_t cap);

/* The enriched text for a message enrich_scan_raw accepted: byte for byte
 * what enrich_text gives for it, with presence and weather the compact JSON
 * texts of the snapshots (json_dumps with JSON_COMPACT; NULL attaches null).
 * Returns a malloc'd NUL-terminated text and its length in *len, or NULL
 * when out of memory. */
char *enrich_scan_text(const char *raw_text, const enrich_scan *s, const char *presence,
                       const char *weather, size_t *len);

/* Builds one of the enricher's own records: {"schema":1,"site","event_type",
 * "entity_id":null,"time_fired","time_ns", <event_type>: body}, where
 * event_type is "presence" or "weather" and body is referenced, not copied.
 * time_ns is the instant the record describes. Returns a new object or NULL
 * when memory runs out or time_ns cannot be formatted. */
json_t *enrich_own_record(const char *site, const char *event_type, int64_t time_ns,
                          json_t *body);

#endif
