/* hs_jscan.h - a strict, allocation-free JSON scanner over raw text, for
 * fast paths that read a few members of a message without building a tree.
 *
 * The contract. A function here either succeeds or declines (returns -1).
 * It succeeds only on text that jansson 2.14's json_loadb with the flags
 * JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL accepts, read the way jansson
 * reads it: RFC 8259 syntax with whitespace ' ', '\t', '\n', '\r'; strings
 * without raw control bytes (0x00-0x1F), with the escapes \" \\ \/ \b \f \n
 * \r \t \uXXXX (a high surrogate must be followed by an escaped low one, a
 * lone low surrogate is an error, \u0000 is allowed), and with UTF-8 as
 * jansson checks it (no overlong forms, no surrogates, nothing above
 * U+10FFFF); numbers without leading zeros, "+", a bare "." or exponent,
 * integers within int64_t and reals that do not overflow a double; no two
 * members of one object with the same key, at any depth.
 *
 * It declines, besides everything jansson rejects, some text jansson
 * accepts, which a caller must then hand to jansson: nesting deeper than
 * HS_JSCAN_MAX_DEPTH, an object with more than HS_JSCAN_MAX_KEYS members,
 * an object key written with an escape, a real whose magnitude might reach
 * 1e308 (its integer digits plus its exponent above 308). A decline never
 * says which of the two it is.
 *
 * Nothing is allocated, and only hs_jscan_string copies text out; the spans
 * handed back point into the caller's text, which must outlive them. The
 * scan recurses once per nesting level with about 1.1 KB of stack each
 * (the keys of the object being read, for the duplicate check): at most
 * about 40 KB at HS_JSCAN_MAX_DEPTH. */
#ifndef HS_JSCAN_H
#define HS_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_JSCAN_MAX_DEPTH 32    /* objects and arrays nested in one another */
#define HS_JSCAN_MAX_KEYS 64     /* members of one object */
#define HS_JSCAN_MAX_PATHS 32    /* paths one hs_jscan_extract looks for */
#define HS_JSCAN_MAX_PATH_KEYS 4 /* keys of one such path */

typedef enum {
    HS_JSCAN_ABSENT, /* hs_jscan_extract: the path is not in the document */
    HS_JSCAN_NULL,
    HS_JSCAN_FALSE,
    HS_JSCAN_TRUE,
    HS_JSCAN_NUMBER,
    HS_JSCAN_STRING,
    HS_JSCAN_ARRAY,
    HS_JSCAN_OBJECT
} hs_jscan_type;

/* One value, validated in full: its bytes are text[0..len) (a string with
 * its quotes, an object with its braces). */
typedef struct {
    hs_jscan_type type;
    const char *text;
    size_t len;
    int depth;    /* nesting depth of the value: 1 for a top-level member */
    bool escaped; /* a string with at least one backslash escape */
    bool integer; /* a number with neither fraction nor exponent */
} hs_jscan_value;

/* Iterates the members of one object. Embedded and set up by
 * hs_jscan_iter_document or hs_jscan_iter_object; no _fini is needed. */
typedef struct {
    const char *text;
    size_t len;
    size_t pos;
    int depth; /* of the object */
    bool top;  /* the document itself: only whitespace may follow it */
    bool started, done;
    size_t nkeys;
    const char *key_p[HS_JSCAN_MAX_KEYS];
    size_t key_n[HS_JSCAN_MAX_KEYS];
} hs_jscan_iter;

/* Reads one value starting at text[*pos] (whitespace before it skipped)
 * at nesting depth depth (0 for a document), validates it in full, fills
 * *out and moves *pos past it. Returns 0, or -1 to decline. */
int hs_jscan_value_at(const char *text, size_t len, size_t *pos, int depth,
                      hs_jscan_value *out);

/* Validates text[0..len) as a whole document that must be one object
 * (whitespace around it allowed), in one pass, and meanwhile finds the
 * values at paths[0..npaths): each path a NULL-terminated list of keys
 * from the document down through nested objects ({"a", "b", NULL} is the
 * member "b" of the object that is the member "a"). values[i] receives
 * the value at paths[i], or type HS_JSCAN_ABSENT when there is none (a
 * key missing, or a value on the way that is not an object). At most
 * HS_JSCAN_MAX_PATHS paths of 1 to HS_JSCAN_MAX_PATH_KEYS keys each. Returns
 * 0, or -1 to decline (or for paths beyond those limits; values are then
 * undefined). */
int hs_jscan_extract(const char *text, size_t len, const char *const *const *paths,
                     size_t npaths, hs_jscan_value *values);

/* Starts iterating text[0..len) as a whole document that must be one
 * object (whitespace around it allowed, nothing else). Returns 0, or -1 to
 * decline. */
int hs_jscan_iter_document(hs_jscan_iter *it, const char *text, size_t len);

/* Starts iterating obj, which must be an HS_JSCAN_OBJECT value. Returns 0,
 * or -1 to decline. */
int hs_jscan_iter_object(hs_jscan_iter *it, const hs_jscan_value *obj);

/* The next member: its key as raw bytes key[0..*keylen) (never escaped, so
 * also its decoded value; not NUL-terminated) and its value, validated in
 * full and checked for a duplicate key. Returns 1 for a member, 0 at the
 * end of the object (for a document, after checking that only whitespace
 * follows), -1 to decline (and on every call after that). */
int hs_jscan_iter_next(hs_jscan_iter *it, const char **key, size_t *keylen,
                       hs_jscan_value *val);

/* Starts iterating text[0..len) as a whole document that must be one
 * array (whitespace around it allowed, nothing else). Returns 0, or -1 to
 * decline. */
int hs_jscan_iter_array_document(hs_jscan_iter *it, const char *text, size_t len);

/* The next element of an array started by hs_jscan_iter_array_document,
 * validated in full (its depth is 1). Returns 1 for an element, 0 at the
 * end of the array (after checking that only whitespace follows), -1 to
 * decline (and on every call after that). */
int hs_jscan_iter_element(hs_jscan_iter *it, hs_jscan_value *val);

/* Validates text[0..len) as a whole document of any type (whitespace
 * around it allowed, nothing else) and fills *out with its value. Returns
 * 0, or -1 to decline. */
int hs_jscan_document(const char *text, size_t len, hs_jscan_value *out);

/* Decodes the string v into buf[0..cap): its bytes, a NUL after them, and
 * their count in *outlen (the decoded text may itself hold NUL bytes from
 * \u0000). Returns 0, or -1 when v is not a string or does not fit. */
int hs_jscan_string(const hs_jscan_value *v, char *buf, size_t cap, size_t *outlen);

/* The integer v. Returns 0, or -1 when v is not an integer number. */
int hs_jscan_int(const hs_jscan_value *v, int64_t *out);

/* The number v as a double, as strtod reads it. Returns 0, or -1 when v is
 * not a number or is longer than 400 bytes. */
int hs_jscan_number(const hs_jscan_value *v, double *out);

/* The length of the UTF-8 sequence starting at s[i] (a byte >= 0x80,
 * i < n) when it is one jansson accepts in a string, as its
 * utf8_check_first and utf8_check_full check it (no overlong form, no
 * surrogate, nothing above U+10FFFF), else 0. */
size_t hs_jscan_utf8_len(const char *s, size_t n, size_t i);

/* True when the string v has no escape and its bytes equal s[0..n). */
bool hs_jscan_string_is(const hs_jscan_value *v, const char *s, size_t n);

/* The index of the first byte of s[i..n) (i <= n) below 0x20, a quote, a
 * backslash or from 0x80 up, or n when there is none: the end of a run of
 * bytes a JSON string holds (and json_dumps writes) as they are. Scans 16
 * bytes at a time where SSE2 is there, else 8. */
size_t hs_jscan_plain_run(const char *s, size_t n, size_t i);

/* strtod's value of the decimal text s (n bytes: an optional sign, digits
 * with at most one '.' among them, at least one digit, an optional exponent
 * of 'e' or 'E', an optional sign and digits), when it takes one correctly
 * rounded operation: at most 15 significant digits (an exact double) times
 * or over a power of ten up to 1e22 (exact too). IEEE arithmetic rounds
 * that operation as strtod rounds the decimal, so *out is strtod's result
 * bit for bit (Clinger's fast path). Returns false, *out untouched, when
 * the text needs strtod. The writer's JSON reader and its Python float(), and
 * the enricher's state values, use it. */
bool hs_jscan_exact_decimal(const char *s, size_t n, double *out);

#endif
