/* msgjson.h - a strict, reusable reader of one enriched message's JSON text.
 *
 * msgjson_parse reads a JSON text (RFC 8259) into a flat array of nodes in
 * document order, reusing the document's buffers from one message to the
 * next, so reading a message allocates nothing once the buffers are large
 * enough. It accepts a text only when jansson's json_loadb (flags 0) would
 * accept it and build the same tree: same types (a number without '.', 'e'
 * or 'E' is an integer), same values (strtod for reals), same strings (valid
 * UTF-8 only, escapes and surrogate pairs decoded). It declines, rather than
 * guesses, everything else and a few valid texts it leaves to jansson on
 * purpose (a key repeated in one object, nesting deeper than
 * MSGJSON_MAX_DEPTH, a top level that is not an object); the caller then
 * falls back to jansson, which decides and explains. msgjson_from_json fills
 * a document from a jansson tree instead, so both paths feed the same
 * encoder.
 *
 * Layout: node 0 is the root. A container's members follow it directly; an
 * object's members are pairs of a key node (MSGJSON_STRING) and a value
 * node. Every node's span counts the nodes of its subtree, so a value is
 * skipped in one step. Nodes point into the document: they stay valid until
 * the document is read again or released. */
#ifndef MSGJSON_H
#define MSGJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "lineproto.h"

/* Deeper texts are declined (jansson allows JSON_PARSER_MAX_DEPTH). */
#define MSGJSON_MAX_DEPTH 64

typedef enum {
    MSGJSON_NULL,
    MSGJSON_TRUE,
    MSGJSON_FALSE,
    MSGJSON_INTEGER,
    MSGJSON_REAL,
    MSGJSON_STRING,
    MSGJSON_ARRAY,
    MSGJSON_OBJECT,
    MSGJSON_SKIPPED, /* a member a filter left out: validated, not read */
} msgjson_type;

typedef struct {
    msgjson_type type;
    uint32_t span;  /* nodes in this node's subtree, itself included */
    uint32_t count; /* members of a container, bytes of a string */
    union {
        int64_t i;     /* MSGJSON_INTEGER */
        double d;      /* MSGJSON_REAL */
        size_t off;    /* MSGJSON_STRING while msgjson_from_json fills d: offset in str */
        const char *s; /* MSGJSON_STRING once read: NUL-terminated, in str */
    } u;
} msgjson_node;

/* Which members of an object msgjson_parse_filtered leaves out: entries up
 * to one whose key is NULL. A member whose key is listed without a sub
 * filter keeps its key node, and its value, validated as strictly as a
 * built one, becomes one MSGJSON_SKIPPED node; a member listed with a sub
 * filter whose value is an object has that object's members filtered by
 * sub in turn. A member listed with memo set (MSGJSON_FILTER_MEMO; its sub
 * is not used) is built whole, as an unlisted one, and an object value of it
 * is remembered by the document: the next text whose same member, at the
 * same depth, is the same bytes gets a copy of the nodes instead of a
 * second reading (see msgjson_memo). Members not listed are built. Keep the
 * lists short: every key of a filtered object is looked up in its list. len
 * is strlen(key): MSGJSON_FILTER_KEY and MSGJSON_FILTER_MEMO fill it. */
typedef struct msgjson_filter {
    const char *key;
    size_t len;
    const struct msgjson_filter *sub;
    bool memo;
} msgjson_filter;

#define MSGJSON_FILTER_KEY(k, sub) {(k), sizeof(k) - 1, (sub), false}
#define MSGJSON_FILTER_MEMO(k) {(k), sizeof(k) - 1, NULL, true}
#define MSGJSON_FILTER_END {NULL, 0, NULL, false}

/* How many memoized members a document remembers at once; a member whose
 * filter entry has no slot takes the one used least recently. */
#define MSGJSON_MEMO_SLOTS 4

/* Memoized values larger than this many bytes of text, or of more nodes
 * than MSGJSON_MEMO_MAX_NODES, are read every time and not remembered. */
#define MSGJSON_MEMO_MAX_TEXT 4096
#define MSGJSON_MEMO_MAX_NODES 256

/* The last object value of one memoized member, as the reader built it:
 * its text (from '{' to '}'), its nodes (a string node's u.off is the
 * offset of its bytes in the memo's strings) and its decoded strings, all
 * in one buffer, buf, of cap bytes, owned by the document. A JSON object's
 * text is self-delimiting and the reader is deterministic, so the same
 * bytes at the same depth always give these nodes: the memo is only ever
 * filled from an object the reader accepted. Only msgjson.c (and its
 * white-box tests) read it. At most MSGJSON_MEMO_SLOTS of about 14 KB. */
typedef struct {
    const struct msgjson_filter *entry; /* whose value this is; NULL: empty */
    size_t depth;                       /* open containers around the value */
    uint64_t used;                      /* d->memo_clock when last used */
    size_t tlen;                        /* bytes of text */
    size_t nn;                          /* nodes */
    size_t slen;                        /* bytes of strings, NULs included */
    char *buf;                          /* nodes, then strings, then text */
    size_t cap;
} msgjson_memo;

/* Zero-initialise it (or msgjson_init); release with msgjson_fini. */
typedef struct msgjson_doc {
    msgjson_node *nodes;
    size_t n;
    size_t cap;
    char *str; /* decoded strings, each NUL-terminated */
    size_t slen;
    size_t scap;
    msgjson_memo memo[MSGJSON_MEMO_SLOTS];
    uint64_t memo_clock;
    /* When the nodes were read from a skeleton (msgjson_parse_keyed): the
     * skeleton's MSGJSON_SKEL_SCRATCH bytes, zeroed when it was made, for
     * the caller to keep what it derives from the nodes' structure alone
     * (where containers and keys lie, which keys an object has), which
     * every document read from the same skeleton shares; never what it
     * derives from a scalar's value. NULL otherwise. Valid as the nodes. */
    unsigned char *scratch;
} msgjson_doc;

void msgjson_init(msgjson_doc *d);
void msgjson_fini(msgjson_doc *d);

/* Releases d's buffers (its memos' included) when together they take more
 * than keep bytes, so one huge message does not hold its memory until the
 * next one; d stays usable (and empty then, its memos forgotten). */
void msgjson_trim(msgjson_doc *d, size_t keep);

/* Reads text (n bytes, need not be NUL-terminated) into d, replacing what d
 * held. Returns 0; -1 when the text is declined (see above: invalid, or
 * left to jansson); -2 when out of memory. d is only usable after 0. Room
 * for every node the text may hold is reserved up front (24 bytes each:
 * half a node per byte of text up to about 8 KB of text, beyond that one
 * per '{', '[', ',' and ':' in it, counted when d has less room) and n + 1
 * bytes for its strings, so that the reading itself never checks for room;
 * msgjson_trim releases it after a large text. */
int msgjson_parse(msgjson_doc *d, const char *text, size_t n);

/* msgjson_parse without building the members filter lists (see
 * msgjson_filter; NULL builds everything, as msgjson_parse). It accepts
 * exactly the texts msgjson_parse accepts, and every node it builds is the
 * one msgjson_parse builds: a skipped value is read as strictly (same
 * nesting limit, same checks of its strings, numbers and keys), then its
 * nodes and strings are dropped. Skipping saves the encoder the skipped
 * members and the document their room, not the reading. A memoized
 * member's object whose bytes d remembers is not read again: its nodes
 * and strings are copied from d's memo, as reading it would build them. */
int msgjson_parse_filtered(msgjson_doc *d, const char *text, size_t n,
                           const msgjson_filter *filter);

/* Skeletons: what a key's last text was made of, so that the next text of
 * the same key is read against it. A skeleton holds a text the reader
 * accepted with a filter, its nodes (and their strings), and where each of
 * its scalar values lies in it; everything between two scalars (keys,
 * brackets, separators, whitespace) is the text's structure. A new text is
 * compared with the skeleton's, 32 bytes a step; a scalar whose bytes
 * differ is read again where it now lies, and the structure around it must
 * be the same bytes. The reader is deterministic and reads a text left to
 * right, so a text made of the skeleton's structure and valid scalars is
 * accepted, and makes the skeleton's nodes with those scalars' values:
 * exactly what msgjson_parse_filtered would make of it. Any other text
 * (another structure, a container where a scalar was, an invalid scalar)
 * is read in full, and a skeleton made of it when it is accepted.
 *
 * Keys are hashed; a key is only a hint of which skeleton to try, never
 * trusted. The cache keeps MSGJSON_SKEL_SETS sets of MSGJSON_SKEL_WAYS
 * skeletons (the least recently used of a full set makes room), each of at
 * most MSGJSON_SKEL_MAX_TEXT bytes of text and MSGJSON_SKEL_MAX_NODES nodes,
 * and at most MSGJSON_SKEL_MAX_BYTES in all: a skeleton that would take
 * more is not made. A key whose texts keep changing their structure gets a
 * new skeleton only at its 1st, 2nd, 4th, 8th... such text in a row. */
#define MSGJSON_SKEL_SETS 1024
#define MSGJSON_SKEL_WAYS 8
#define MSGJSON_SKEL_MAX_TEXT 8192
#define MSGJSON_SKEL_MAX_NODES 512
#define MSGJSON_SKEL_MAX_BYTES (16u << 20)
#define MSGJSON_SKEL_SCRATCH 64 /* bytes, a multiple of a node's alignment */

typedef struct msgjson_skels msgjson_skels;

/* An empty cache (it allocates its table at its first skeleton), or NULL
 * when out of memory. */
msgjson_skels *msgjson_skels_new(void);

/* Forgets every skeleton and releases their memory; c stays usable. The
 * nodes of a document read through c are not valid past this. */
void msgjson_skels_clear(msgjson_skels *c);
void msgjson_skels_free(msgjson_skels *c);

/* Texts read from a skeleton (hits), texts of a key read in full (misses),
 * skeletons made, and the bytes they take now. */
void msgjson_skels_counts(const msgjson_skels *c, uint64_t *hits, uint64_t *misses,
                          uint64_t *made, size_t *bytes);

/* msgjson_parse_filtered, through c's skeleton for key (keylen bytes) when
 * there is one that fits: same result, same nodes. Without c or a key (key
 * NULL or keylen 0) it is msgjson_parse_filtered. The nodes of d may then
 * point into c's skeletons: they stay valid until d is read again or
 * released, or c is cleared, freed or read through again (for any
 * document: that may remake or drop the skeleton they point into). */
int msgjson_parse_keyed(msgjson_doc *d, const char *text, size_t n,
                        const msgjson_filter *filter, msgjson_skels *c, const void *key,
                        size_t keylen);

/* Fills d from a jansson value (any type), in jansson's member order; a
 * string is taken up to its first NUL, as the encoder reads C strings.
 * Returns 0, -1 when nesting is deeper than JSON_PARSER_MAX_DEPTH, or -2
 * when out of memory. */
int msgjson_from_json(msgjson_doc *d, const json_t *v);

/* The root node, or NULL when d is empty. */
const msgjson_node *msgjson_root(const msgjson_doc *d);

/* The value of member key of obj, or NULL when obj is NULL, not an object,
 * or has no such member. */
const msgjson_node *msgjson_get(const msgjson_node *obj, const char *key);

/* A string node's text (NUL-terminated), or NULL when v is NULL or not a
 * string. */
const char *msgjson_str(const msgjson_node *v);

/* True when a[0..n) and b[0..n) are the same bytes. Made for keys, which
 * are short: from 4 to 16 bytes it compares two overlapping words of each
 * instead of calling memcmp. */
static inline bool msgjson_bytes_equal(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return memcmp(a, b, n) == 0;
}

/* A hash of n bytes at s, 8 at a time, ending in MurmurHash3's finaliser,
 * so that every bit of the bytes reaches the low bits (a product alone only
 * carries bits upwards). */
static inline uint64_t msgjson_bytes_hash(const char *s, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h ^= w;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

/* True for the misses in a row after which a per-key cache makes its entry
 * again (a skeleton here, a line's shape in lineproto.c): the 0th, 1st,
 * 2nd, 4th, 8th... and every 64th, so that a key whose texts change every
 * time pays for a new entry now and then only. */
static inline bool msgjson_remake_due(uint32_t misses)
{
    return (misses & (misses - 1)) == 0 || misses % 64 == 0;
}

/* An object's members in order: msgjson_first gives the first key node (or
 * NULL), msgjson_next the key node after key's member (or NULL at the end
 * of obj); the value node is key + 1. */
const msgjson_node *msgjson_first(const msgjson_node *obj);
const msgjson_node *msgjson_next(const msgjson_node *obj, const msgjson_node *key);

/* Appends v as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) prints it, byte
 * for byte (reals "%.17g" with ".0" added and the exponent's '+' and
 * leading zeros removed; strings with '"', '\' and control characters
 * escaped). Returns 0, or -1 when out of memory or v is or holds a
 * MSGJSON_SKIPPED node (out unchanged then). */
int msgjson_dump(const msgjson_node *v, lineproto_buf *out);

/* Appends n bytes of s as one JSON string, quotes included, escaped as
 * json_dumps escapes it (NUL as \u0000). Returns 0; -1 when s is not valid
 * UTF-8 (jansson refuses such a string) or out of memory, out unchanged. */
int msgjson_dump_string(const char *s, size_t n, lineproto_buf *out);

#endif
