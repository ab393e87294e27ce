/* ha_url.h - parses HA_URL, the Home Assistant WebSocket address (pure).
 *
 * Accepted: ws://, wss://, and for convenience http:// (as ws) and https://
 * (as wss), any case; a host name, IPv4 address or bracketed IPv6 address;
 * an optional port (default 80 or 443); a path with optional query (an empty
 * path or "/" means Home Assistant's "/api/websocket"). User information
 * ("user@host") and fragments are refused: a token belongs in HA_TOKEN. */
#ifndef INGESTOR_HA_URL_H
#define INGESTOR_HA_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    bool tls;              /* wss:// or https:// */
    char host[256];        /* address to connect to, IPv6 without brackets */
    int port;              /* 1..65535 */
    char path[2048];       /* starts with '/', query included */
    char host_header[272]; /* Host header: host, [v6], ":port" when not default */
} ha_url;

/* Parses url into out. Returns 0, or -1 with a reason in err. */
int ha_url_parse(const char *url, ha_url *out, char *err, size_t errlen);

#endif
