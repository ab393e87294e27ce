#!/bin/sh
# healthcheck.sh - the image's HEALTHCHECK: GET /health of the stage running as
# PID 1 (exit 0 when it answers 200, "ok" or "degraded"; 1 otherwise, also
# when 503 "unhealthy"). The port is ADMIN_ADDR's, else the stage's default
# (8081 ingestor, 8082 enricher, 8083 writer); a wildcard host is probed on
# 127.0.0.1. /health needs no ADMIN_TOKEN.
set -eu

addr=${ADMIN_ADDR:-}
if [ -n "$addr" ]; then
    host=${addr%:*}
    port=${addr##*:}
else
    host=
    case "$(tr '\0' ' ' </proc/1/cmdline)" in
    *homestream-ingestor*) port=8081 ;;
    *homestream-enricher*) port=8082 ;;
    *homestream-writer*) port=8083 ;;
    *)
        echo "healthcheck: no homestream stage is running as PID 1" >&2
        exit 1
        ;;
    esac
fi
case "$host" in
"" | 0.0.0.0 | "[::]" | "*") host=127.0.0.1 ;;
esac
exec curl -fsS --max-time 4 -o /dev/null "http://$host:$port/health"
