/* lineproto-ref.h - the writer's jansson-based encoder, kept as a reference
 * for the differential tests (test-lineproto.c, fuzz-lineproto.c). */
#ifndef LINEPROTO_REF_H
#define LINEPROTO_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lineproto.h"
#include "msgjson.h"

/* What lineproto_encode did before the writer read messages with msgjson:
 * same contract, same result for the same message. */
int lineproto_ref_encode(const json_t *msg, const lineproto_opts *opts,
                         lineproto_buf *out, lineproto_info *info, char *err,
                         size_t errlen);

/* lineproto_append_double as it was (the same contract). */
int lineproto_ref_append_double(lineproto_buf *b, double v);

/* lineproto_append_escaped and lineproto_parse_pyfloat as they were, a
 * byte at a time and with strtod (the same contracts). */
int lineproto_ref_append_escaped(lineproto_buf *b, lineproto_part part, const char *s,
                                 size_t n);
int lineproto_ref_parse_pyfloat(const char *s, size_t n, double *out);

/* The differential property on one message text (n bytes), for every
 * option set the tests use: the writer's path (writer/sink.c: "\u0000"
 * escapes made U+FFFD, msgjson_parse, jansson for what it declines) and
 * lineproto_ref_encode on json_loadb's tree give the same result, bytes,
 * counters, skip reason and error, reading with msgjson_parse_filtered and
 * the option set's lineproto_filter as the writer does; a text msgjson
 * accepts, filtered or not, is one jansson accepts (filtered: one
 * msgjson_parse accepts), and msgjson_dump prints its root as json_dumps
 * does. Returns 0
 * (*fast tells whether msgjson_parse accepted the text), or -1 with what
 * differs in why. */
int lineproto_ref_check(const char *text, size_t n, bool *fast, char *why, size_t whylen);

/* lineproto_ref_check also encodes each text with a shape cache per option
 * set (twice: the second may use the entry the first made), kept from one
 * text to the next: the lines composed from entries so far, over all sets,
 * and the caches released (the next check makes new ones). */
uint64_t lineproto_ref_cache_hits(void);

/* lineproto_ref_check also reads each text with msgjson_parse_keyed, with
 * a skeleton cache per option set kept from one text to the next and the
 * same key for every text (so each is read against the one before), and
 * compares its result and nodes with msgjson_parse_filtered's; the lines
 * are then encoded from that document. The texts read from a skeleton so
 * far, over all sets; lineproto_ref_cache_free releases these caches too. */
uint64_t lineproto_ref_skel_hits(void);
void lineproto_ref_cache_free(void);

/* True when two msgjson nodes are the same: type, span, count and value
 * (a real's bits, a string's bytes with its NUL, not where those bytes lie,
 * as a document read from a skeleton points into the skeleton's; for a
 * node without a value the union, which msgjson zeroes). How the tests
 * compare a document read through skeletons with one read in full. */
bool lineproto_ref_same_node(const msgjson_node *x, const msgjson_node *y);

#endif
