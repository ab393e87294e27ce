/* hs_time.h - clocks and ISO 8601 timestamps as Home Assistant writes them. */
#ifndef HS_TIME_H
#define HS_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds (for breakers, timeouts and backoff). */
int64_t hs_now_mono_ms(void);
/* Wall clock in nanoseconds since the epoch. */
int64_t hs_now_wall_ns(void);

/* Parses an ISO 8601 / RFC 3339 timestamp such as
 * "2026-11-21T22:48:38.123456+00:00", "...Z", or without fraction, into ns
 * since the epoch (UTC). Fractions beyond 9 digits are truncated. Returns 0,
 * or -1 when the text is not such a timestamp (trailing garbage included). */
int hs_time_parse_iso(const char *text, int64_t *ns_out);

/* Formats ns since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" (HA's
 * form, microseconds) into buf. Returns 0, or -1 when buf is too small
 * (it needs 33 bytes). */
int hs_time_format_iso(int64_t ns, char *buf, size_t buflen);

#endif
