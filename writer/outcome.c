/* outcome.c - what the writer does with InfluxDB's answer to a write. */
#include "outcome.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

outcome_kind outcome_classify(long status)
{
    if (status >= 200 && status < 300)
        return OUTCOME_OK;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return OUTCOME_RETRY;
    if (status == 400 || status == 413 || status == 422)
        return OUTCOME_DROP;
    return OUTCOME_FATAL;
}

const char *outcome_name(outcome_kind k)
{
    switch (k) {
    case OUTCOME_OK:
        return "ok";
    case OUTCOME_RETRY:
        return "retry";
    case OUTCOME_DROP:
        return "drop";
    case OUTCOME_FATAL:
        return "fatal";
    }
    return "?";
}

static int64_t cap_delay(int64_t s)
{
    if (s < 0)
        return 0;
    if (s > OUTCOME_RETRY_AFTER_MAX_MS / 1000)
        return OUTCOME_RETRY_AFTER_MAX_MS;
    return s * 1000;
}

/* Parses an HTTP date in one of the three forms RFC 9110 lists. Returns 0
 * and sets *out (seconds since the epoch), or -1. */
static int parse_http_date(const char *v, int64_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(v, formats[i], &tm);
        if (end == NULL)
            continue;
        while (isspace((unsigned char)*end))
            end++;
        if (*end != '\0')
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            continue;
        *out = (int64_t)t;
        return 0;
    }
    return -1;
}

int outcome_parse_retry_after(const char *value, int64_t now_wall_s, int64_t *delay_ms)
{
    if (value == NULL)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (*value == '\0')
        return -1;
    if (isdigit((unsigned char)*value)) {
        const char *p = value;
        int64_t s = 0;
        while (isdigit((unsigned char)*p)) {
            if (s < 1000000000)
                s = s * 10 + (*p - '0');
            p++;
        }
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0') {
            *delay_ms = cap_delay(s);
            return 0;
        }
    }
    int64_t when;
    if (parse_http_date(value, &when) < 0)
        return -1;
    *delay_ms = cap_delay(when - now_wall_s);
    return 0;
}

int64_t outcome_backoff_ms(unsigned attempt, uint32_t rnd)
{
    int64_t base = OUTCOME_BACKOFF_MIN_MS;
    for (unsigned i = 0; i < attempt && base < OUTCOME_BACKOFF_MAX_MS; i++)
        base *= 2;
    if (base > OUTCOME_BACKOFF_MAX_MS)
        base = OUTCOME_BACKOFF_MAX_MS;
    int64_t half = base / 2;
    return half + (int64_t)(rnd % (uint32_t)(half + 1));
}

static void copy_trimmed(const char *s, size_t len, char *out, size_t outlen)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (outlen == 0)
        return;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

void outcome_error_text(const char *body, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (body == NULL || len == 0)
        return;
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *msg = NULL;
    if (json_is_object(j)) {
        msg = json_string_value(json_object_get(j, "error"));
        if (msg == NULL)
            msg = json_string_value(json_object_get(j, "message"));
    }
    if (msg != NULL)
        copy_trimmed(msg, strlen(msg), out, outlen);
    else
        copy_trimmed(body, len, out, outlen);
    json_decref(j);
}
