/* jbuf.h - growable byte buffer that writes JSON text the way Home Assistant
 * (orjson) does: compact separators, UTF-8 kept as is, Python float repr and
 * Python datetime.isoformat() timestamps.
 *
 * A jbuf that ran out of memory remembers it: every later append is a no-op
 * and jbuf_failed() returns true, so callers check once at the end. */
#ifndef HASIM_JBUF_H
#define HASIM_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* NUL-terminated while not failed */
    size_t len;
    size_t cap;
    size_t head; /* bytes reserved before data[0] for protocol headers */
    bool failed;
} jbuf;

/* Initialises an empty buffer whose text will be preceded by `head` spare
 * bytes (libwebsockets needs LWS_PRE bytes before a frame). */
void jbuf_init(jbuf *b, size_t head);
/* Releases the memory; the buffer may be initialised again. */
void jbuf_fini(jbuf *b);
/* Empties the buffer, keeping its memory. */
void jbuf_reset(jbuf *b);
bool jbuf_failed(const jbuf *b);

void jbuf_put(jbuf *b, const void *src, size_t n);
void jbuf_puts(jbuf *b, const char *s);
void jbuf_putc(jbuf *b, char c);
void jbuf_put_i64(jbuf *b, int64_t v);
/* Appends s (n bytes of valid UTF-8) as a quoted JSON string, escaping '"',
 * '\\' and control characters exactly as orjson does. */
void jbuf_put_jstr(jbuf *b, const char *s, size_t n);
void jbuf_put_jcstr(jbuf *b, const char *s);
/* Appends the epoch timestamp us/1e6 as Python's repr(float) writes it
 * ("1763765318.123456", "1763765318.5", "1763765318.0"). */
void jbuf_put_ts(jbuf *b, int64_t us);
/* Appends a double as Python's repr(float) (shortest text that reads back as
 * the same value, always with a '.' or an exponent). NaN/inf become null. */
void jbuf_put_double(jbuf *b, double v);
/* Appends the UTC time us as Python's datetime.isoformat() writes it, without
 * quotes: "2026-11-21T22:48:38.123456+00:00", or without the fraction when the
 * microseconds are zero ("2026-11-21T22:48:38+00:00"), as HA does. */
void jbuf_put_iso(jbuf *b, int64_t us);

/* Formats a timestamp like jbuf_put_iso into buf (at least 40 bytes). */
void hasim_iso(int64_t us, char *buf, size_t buflen);

/* Hands the text over to the caller: returns the malloc'd block, which starts
 * `head` bytes before the text, and sets *len to the text length. Returns NULL
 * when the buffer failed. The buffer is left empty and reusable. */
char *jbuf_steal(jbuf *b, size_t *len);

#endif
