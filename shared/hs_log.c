/* hs_log.c - levelled JSON (or text) logging to stdout. */
#include "hs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

volatile int hs_log_current_level = HS_LOG_INFO;
static const char *log_stage = "homestream";
static bool log_text;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int hs_log_level_parse(const char *name, hs_log_level *out)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (hs_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = HS_LOG_WARN;
        return 0;
    }
    return -1;
}

const char *hs_log_level_name(hs_log_level level)
{
    if ((int)level < 0 || (int)level > 3)
        return "info";
    return level_names[level];
}

int hs_log_setup(const char *stage, hs_log_level level, const char *format)
{
    if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
        return -1;
    if (stage != NULL)
        log_stage = stage;
    log_text = format != NULL && strcmp(format, "text") == 0;
    hs_log_set_level(level);
    return 0;
}

void hs_log_set_level(hs_log_level level)
{
    __atomic_store_n(&hs_log_current_level, (int)level, __ATOMIC_RELAXED);
}

hs_log_level hs_log_get_level(void)
{
    return (hs_log_level)__atomic_load_n(&hs_log_current_level, __ATOMIC_RELAXED);
}

/* Appends src to buf[*len..cap) as JSON string content; truncates safely. */
static void append_escaped(char *buf, size_t *len, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        char esc[7];
        size_t n = 0;
        switch (*p) {
        case '"': esc[n++] = '\\'; esc[n++] = '"'; break;
        case '\\': esc[n++] = '\\'; esc[n++] = '\\'; break;
        case '\n': esc[n++] = '\\'; esc[n++] = 'n'; break;
        case '\r': esc[n++] = '\\'; esc[n++] = 'r'; break;
        case '\t': esc[n++] = '\\'; esc[n++] = 't'; break;
        default:
            if (*p < 0x20) {
                esc[n++] = '\\'; esc[n++] = 'u'; esc[n++] = '0'; esc[n++] = '0';
                esc[n++] = hex[*p >> 4]; esc[n++] = hex[*p & 0xf];
            } else {
                esc[n++] = (char)*p;
            }
        }
        if (*len + n >= cap)
            return;
        memcpy(buf + *len, esc, n);
        *len += n;
    }
}

static void append_raw(char *buf, size_t *len, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (*len + n >= cap)
        n = cap - *len - 1;
    memcpy(buf + *len, src, n);
    *len += n;
}

void hs_log_write(hs_log_level level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%03ldZ", ts.tv_nsec / 1000000);

    char line[4608];
    size_t len = 0;
    const size_t cap = sizeof line - 2;
    if (log_text) {
        append_raw(line, &len, cap, when);
        append_raw(line, &len, cap, " ");
        append_raw(line, &len, cap, hs_log_level_name(level));
        append_raw(line, &len, cap, " ");
        append_raw(line, &len, cap, log_stage);
        append_raw(line, &len, cap, "/");
        append_raw(line, &len, cap, component);
        append_raw(line, &len, cap, ": ");
        append_raw(line, &len, cap, msg);
    } else {
        append_raw(line, &len, cap, "{\"ts\":\"");
        append_raw(line, &len, cap, when);
        append_raw(line, &len, cap, "\",\"level\":\"");
        append_raw(line, &len, cap, hs_log_level_name(level));
        append_raw(line, &len, cap, "\",\"stage\":\"");
        append_escaped(line, &len, cap, log_stage);
        append_raw(line, &len, cap, "\",\"component\":\"");
        append_escaped(line, &len, cap, component);
        append_raw(line, &len, cap, "\",\"msg\":\"");
        append_escaped(line, &len, cap - 2, msg);
        append_raw(line, &len, cap, "\"}");
    }
    line[len++] = '\n';
    ssize_t off = 0;
    while (off < (ssize_t)len) {
        ssize_t w = write(STDOUT_FILENO, line + off, len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
}
