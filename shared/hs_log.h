/* hs_log.h - levelled JSON (or text) logging to stdout, one object per line.
 *
 * The logger holds process-wide state (level, format, stage name); it is the
 * one deliberate exception to "no mutable globals", because every module logs
 * and threading a logger through every call buys nothing. The level may be
 * changed at run time from any thread (PUT /config). Writing is thread-safe:
 * each record is formatted into a local buffer and written with one write(2).
 *
 * Never pass a secret to these functions. */
#ifndef HS_LOG_H
#define HS_LOG_H

#include <stdbool.h>

typedef enum {
    HS_LOG_DEBUG = 0,
    HS_LOG_INFO = 1,
    HS_LOG_WARN = 2,
    HS_LOG_ERROR = 3,
} hs_log_level;

/* Parses "debug", "info", "warn"/"warning", "error" (any case).
 * Returns 0 and sets *out, or -1 for an unknown name. */
int hs_log_level_parse(const char *name, hs_log_level *out);
const char *hs_log_level_name(hs_log_level level);

/* Sets the stage name written in every record ("ingestor", ...), the level
 * and the format ("json" or "text"). Returns 0, or -1 for a bad format. */
int hs_log_setup(const char *stage, hs_log_level level, const char *format);
void hs_log_set_level(hs_log_level level);
hs_log_level hs_log_get_level(void);

static inline bool hs_log_enabled(hs_log_level level);

/* Writes one record: {"ts":"…","level":"info","stage":"…","component":"…",
 * "msg":"…"}. The message is JSON-escaped. */
void hs_log_write(hs_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Internal: the current level, read by hs_log_enabled(). */
extern volatile int hs_log_current_level;

static inline bool hs_log_enabled(hs_log_level level)
{
    return (int)level >= hs_log_current_level;
}

#define HS_LOG(level, component, ...)                                           \
    do {                                                                        \
        if (hs_log_enabled(level))                                              \
            hs_log_write(level, component, __VA_ARGS__);                        \
    } while (0)

#define hs_debug(component, ...) HS_LOG(HS_LOG_DEBUG, component, __VA_ARGS__)
#define hs_info(component, ...) HS_LOG(HS_LOG_INFO, component, __VA_ARGS__)
#define hs_warn(component, ...) HS_LOG(HS_LOG_WARN, component, __VA_ARGS__)
#define hs_error(component, ...) HS_LOG(HS_LOG_ERROR, component, __VA_ARGS__)

#endif
