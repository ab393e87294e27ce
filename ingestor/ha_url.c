/* ha_url.c - parses HA_URL, the Home Assistant WebSocket address. */
#include "ha_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *prefix;
    bool tls;
} schemes[] = {
    {"ws://", false},
    {"wss://", true},
    {"http://", false},
    {"https://", true},
};

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

static bool v6_char_ok(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.' || c == '%';
}

int ha_url_parse(const char *url, ha_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL || *url == '\0') {
        snprintf(err, errlen, "empty URL");
        return -1;
    }
    const char *p = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            p = url + n;
            out->tls = schemes[i].tls;
            break;
        }
    }
    if (p == NULL) {
        snprintf(err, errlen, "URL must start with ws://, wss://, http:// or https://");
        return -1;
    }
    size_t auth_len = strcspn(p, "/?#");
    if (memchr(p, '@', auth_len) != NULL) {
        snprintf(err, errlen, "URL must not carry user information; use HA_TOKEN");
        return -1;
    }
    const char *host = p;
    size_t host_len;
    const char *after;
    bool v6 = false;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (close == NULL) {
            snprintf(err, errlen, "unterminated IPv6 address in URL");
            return -1;
        }
        host = p + 1;
        host_len = (size_t)(close - host);
        after = close + 1;
        v6 = true;
        for (size_t i = 0; i < host_len; i++) {
            if (!v6_char_ok(host[i])) {
                snprintf(err, errlen, "invalid IPv6 address in URL");
                return -1;
            }
        }
    } else {
        host_len = strcspn(p, ":/?#");
        after = p + host_len;
        for (size_t i = 0; i < host_len; i++) {
            if (!host_char_ok(host[i])) {
                snprintf(err, errlen, "invalid character in URL host");
                return -1;
            }
        }
    }
    if (host_len == 0) {
        snprintf(err, errlen, "URL has no host");
        return -1;
    }
    if (host_len >= sizeof(out->host)) {
        snprintf(err, errlen, "URL host is too long");
        return -1;
    }
    memcpy(out->host, host, host_len);
    out->port = out->tls ? 443 : 80;
    bool explicit_port = false;
    if (*after == ':') {
        after++;
        long port = 0;
        size_t digits = 0;
        while (*after >= '0' && *after <= '9' && digits < 6) {
            port = port * 10 + (*after - '0');
            after++;
            digits++;
        }
        if (digits == 0 || port < 1 || port > 65535) {
            snprintf(err, errlen, "URL port must be 1..65535");
            return -1;
        }
        out->port = (int)port;
        explicit_port = true;
    }
    if (*after != '\0' && *after != '/' && *after != '?') {
        snprintf(err, errlen, "unexpected character after URL host");
        return -1;
    }
    if (strchr(after, '#') != NULL) {
        snprintf(err, errlen, "URL must not have a fragment");
        return -1;
    }
    const char *path = after;
    if (*path == '\0' || strcmp(path, "/") == 0)
        path = "/api/websocket";
    if (*path == '?') {
        snprintf(err, errlen, "URL query needs a path");
        return -1;
    }
    for (const char *c = path; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(err, errlen, "URL path contains spaces or control characters");
            return -1;
        }
    }
    if (strlen(path) >= sizeof(out->path)) {
        snprintf(err, errlen, "URL path is too long");
        return -1;
    }
    strcpy(out->path, path);
    bool default_port = out->port == (out->tls ? 443 : 80);
    snprintf(out->host_header, sizeof(out->host_header), v6 ? "[%s]" : "%s", out->host);
    if (explicit_port && !default_port) {
        size_t n = strlen(out->host_header);
        snprintf(out->host_header + n, sizeof(out->host_header) - n, ":%d", out->port);
    }
    return 0;
}
