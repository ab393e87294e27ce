/* lineproto.h - enriched homestream messages as InfluxDB line protocol.
 *
 * Pure functions: no I/O and no clock, so every rule below is unit-tested.
 *
 * Escaping follows what InfluxDB 1.x and 2.x parse (checked against influxd
 * 1.6): measurements escape ',' and ' '; tag keys, tag values and field keys
 * escape ',', '=' and ' '; string field values escape '"' and '\'. A
 * backslash is otherwise written as is, because InfluxDB keeps it as is.
 * What InfluxDB cannot store is replaced so the line keeps its structure:
 * a newline or carriage return in a measurement, tag or field key becomes
 * the two characters "\n" or "\r"; an element ending in a backslash (which
 * would escape the separator after it) has that last backslash replaced by
 * U+29F5 REVERSE SOLIDUS OPERATOR, and so has, in a measurement, a backslash
 * before ',', '"', ' ' or '=' (influxd 1.6 unescapes a measurement twice: it
 * would drop such a backslash, and list the measurement but find none of its
 * points); a measurement starting with '#' (a comment
 * line to InfluxDB) gets a backslash in front, one starting with a tab (which
 * InfluxDB would skip) has that tab written as the two characters "\t".
 * Field keys that InfluxDB would store alike after these replacements are
 * written once (the first; the others are counted as dropped fields). influxd reads field
 * keys in backslash pairs (a backslash always takes the next byte with it), unlike
 * measurements and tags, so in a field key a backslash that comes before a
 * ',', '=', ' ', another backslash or a line break is written doubled: the
 * line keeps its structure and the stored key shows two backslashes there. String field
 * values keep raw newlines: influxd stores and returns them byte for byte. Invalid UTF-8
 * and NUL bytes become U+FFFD everywhere. */
#ifndef LINEPROTO_H
#define LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A growable byte buffer. Zero-initialise it (or lineproto_buf_init) and
 * release it with lineproto_buf_fini. data is NUL-terminated when non-NULL. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} lineproto_buf;

void lineproto_buf_init(lineproto_buf *b);
void lineproto_buf_fini(lineproto_buf *b);
/* Makes room for extra more bytes. Returns 0, or -1 when out of memory. */
int lineproto_buf_reserve(lineproto_buf *b, size_t extra);
/* Appends n bytes. Returns 0, or -1 when out of memory (b unchanged). */
int lineproto_buf_append(lineproto_buf *b, const void *p, size_t n);
/* Shrinks the content to len bytes (len <= b->len). */
void lineproto_buf_truncate(lineproto_buf *b, size_t len);

/* Where a text goes in a line; decides what is escaped. */
typedef enum {
    LINEPROTO_MEASUREMENT, /* ',' and ' ' */
    LINEPROTO_KEY,         /* tag key or tag value: ',', '=' and ' ' */
    LINEPROTO_STRING,      /* string field value, without the quotes: '"' and '\' */
    LINEPROTO_FIELD_KEY,   /* field key: as LINEPROTO_KEY, and see below */
} lineproto_part;

/* Appends n bytes of s escaped for part. Returns 0, or -1 when out of memory
 * (b then holds a partial append; callers truncate back). */
int lineproto_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                             size_t n);

/* Appends v in decimal, as printf's "%lld" prints it, eight digits at a
 * time from the end (a timestamp has 19), then two. Returns 0 or -1 when
 * out of memory. */
int lineproto_append_int(lineproto_buf *b, int64_t v);

/* Appends a finite double in the shortest form that reads back to the same
 * value ("21.5", "1e+20", "-0"). Returns 0, -1 when out of memory, -2 when v
 * is NaN or infinite (nothing appended). */
int lineproto_append_double(lineproto_buf *b, double v);

/* Python's float() on a string, as HA's integration applies it: surrounding
 * ASCII whitespace, a sign, digits with single '_' between digits, a
 * fraction, an exponent, or "nan", "inf", "infinity" in any case. Hex and
 * other forms strtod accepts are refused. Returns 0 and sets *out, or -1. */
int lineproto_parse_pyfloat(const char *s, size_t n, double *out);

/* Rewrites every "\u0000" escape inside the JSON strings of text (n bytes)
 * into "\ufffd", in place (same length), so a NUL in a message becomes
 * U+FFFD as everywhere else instead of making the message unparsable.
 * "\\u0000" (an escaped backslash) is left alone. Returns how many were
 * rewritten. */
size_t lineproto_scrub_nul_escapes(char *text, size_t n);

typedef enum {
    LINEPROTO_SCHEMA_HA = 0, /* what HA's InfluxDB integration writes */
    LINEPROTO_SCHEMA_EVENTS, /* one measurement home_assistant_events */
} lineproto_schema;

typedef enum {
    LINEPROTO_MATTR_UNIT = 0,            /* unit_of_measurement (HA's default) */
    LINEPROTO_MATTR_DOMAIN_DEVICE_CLASS, /* "<domain>__<device_class>", else domain */
    LINEPROTO_MATTR_DEVICE_CLASS,        /* the device_class attribute */
    LINEPROTO_MATTR_ENTITY_ID,           /* the full entity_id */
} lineproto_mattr;

typedef struct {
    lineproto_schema schema;
    lineproto_mattr measurement_attr;
    const char *default_measurement;  /* NULL or "" for none (borrowed) */
    const char *override_measurement; /* NULL or "" for none (borrowed) */
} lineproto_opts;

/* Parses "ha"/"events" and the measurement_attr names. Return 0 or -1. */
int lineproto_schema_parse(const char *name, lineproto_schema *out);
int lineproto_mattr_parse(const char *name, lineproto_mattr *out);

/* What encoding one message did, for counters. */
typedef struct {
    unsigned points;         /* lines appended: 0 or 1 */
    unsigned dropped_fields; /* NaN/infinite values and unusable keys left out */
    const char *skip_reason; /* static text when points == 0, else NULL */
    int64_t time_ns;         /* the message's point time, INT64_MIN when it has none */
} lineproto_info;

/* Appends the line for one enriched message (see writer/README.md for the
 * mapping), ending in '\n', to out. A homestream_stats record
 * (hs_statsrec.h) becomes measurement "homestream" in both schemas. A
 * message that maps to no point (an entity removal in the ha schema, a
 * weather record without observation, a homestream_stats record without
 * numbers, an event type the schema does not write) appends nothing, returns
 * 0 and sets info->skip_reason. Returns -1 with a reason in err when the message is
 * malformed (no usable time, a state that is not a string, no entity_id on
 * a state_changed event) or memory runs out; out is then unchanged. */
int lineproto_encode(const json_t *msg, const lineproto_opts *opts, lineproto_buf *out,
                     lineproto_info *info, char *err, size_t errlen);

/* The same from a message read by msgjson_parse or msgjson_from_json
 * (msgjson.h), with the same result for the same message: the writer's
 * path, which builds no jansson tree. A message read by
 * msgjson_parse_filtered with lineproto_filter(opts) gives the same result
 * with these opts too. */
struct msgjson_doc;
int lineproto_encode_doc(const struct msgjson_doc *doc, const lineproto_opts *opts,
                         lineproto_buf *out, lineproto_info *info, char *err,
                         size_t errlen);

/* Remembers, per entity, what the ha schema made of the last state change
 * it encoded in full, so that the next one in the same shape (the same ids,
 * unit, area, site, attributes, and weather and presence values written;
 * any state, value and time) costs a few copies instead of its encoding,
 * with the same result. It keeps up to 4,096 entities of at most 16 KB
 * each (an entity's 8 slots, when full, give up the least recently used
 * one), holds no memory until its first entry (then a table of about 1 MB
 * and the entries, typically under 1 KB each, in slabs of 256 KB, at most
 * 8 MB: past that it forgets them all and starts over), and is for one
 * thread at a time. */
typedef struct lineproto_cache lineproto_cache;

/* NULL when out of memory. */
lineproto_cache *lineproto_cache_new(void);
/* Forgets every entity and releases all their memory, the table's too; c
 * stays usable. */
void lineproto_cache_clear(lineproto_cache *c);
void lineproto_cache_free(lineproto_cache *c);
/* Lines composed from an entry, state changes it had no entry for (or one
 * of another shape), and entries made, since c was made. */
void lineproto_cache_counts(const lineproto_cache *c, uint64_t *hits, uint64_t *misses,
                            uint64_t *kept);

/* lineproto_encode_doc with cache (NULL: none), which must not be shared
 * between threads. The result is the same as without it. */
int lineproto_encode_cached(const struct msgjson_doc *doc, const lineproto_opts *opts,
                            lineproto_cache *cache, lineproto_buf *out,
                            lineproto_info *info, char *err, size_t errlen);

/* The members of a message lineproto_encode_doc reads with opts, as a
 * filter for msgjson_parse_filtered (static, never freed), or NULL when it
 * may read any member (the events schema writes an event's data from the
 * member its event_type names). */
struct msgjson_filter;
const struct msgjson_filter *lineproto_filter(const lineproto_opts *opts);

#endif
