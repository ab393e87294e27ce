#!/usr/bin/env bash
# deploy/quickstart.sh - homestream running on this machine in one command.
#
# Installs what is missing (Debian 12, as root), builds, and starts a local
# stack: the dev Kafka broker, influxd (Debian's 1.6) in .hs-run/, the Home
# Assistant simulator (or your Home Assistant when HA_URL and HA_TOKEN are
# set) and the three stages. It then shows events landing in InfluxDB every
# few seconds until you press Ctrl-C, which stops everything.
#
#   ./deploy/quickstart.sh                          # against the simulator
#   HA_URL=ws://ha.local:8123/api/websocket HA_TOKEN=... ./deploy/quickstart.sh
#
# QUICKSTART_SECONDS=N stops it by itself after N seconds (used by the tests).
# HS_BUILD_DIR=dir uses an existing build instead of ./build.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${HS_BUILD_DIR:-$ROOT/build}
RUN=${HS_RUN_DIR:-$ROOT/.hs-run}
DB=homeassistant

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

PACKAGES=(build-essential pkg-config meson ninja-build curl python3
          libwebsockets-dev librdkafka-dev libcurl4-openssl-dev libjansson-dev
          libmicrohttpd-dev zlib1g-dev check influxdb influxdb-client)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root, or install them)"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    systemctl disable --now influxdb >/dev/null 2>&1 || true
fi

say "building in $BUILD"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { if port_free "$1"; then echo "$1"; else free_port; fi; }

rm -rf "$RUN"; mkdir -p "$RUN/influxd" "$RUN/spool"
pids=()
cleanup() {
    trap - EXIT INT TERM
    say "stopping"
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

wait_for() {   # wait_for <seconds> <what> <command...>
    local n=$(( $1 * 10 )) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        n=$((n - 1)); [ $n -gt 0 ] || die "timed out waiting for $what (logs in $RUN)"
        sleep 0.1
    done
}

INFLUX_PORT=$(pick_port 8086)
cat >"$RUN/influxd/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$(free_port)"
[meta]
  dir = "$RUN/influxd/meta"
[data]
  dir = "$RUN/influxd/data"
  wal-dir = "$RUN/influxd/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
say "starting influxd on 127.0.0.1:$INFLUX_PORT"
influxd run -config "$RUN/influxd/influxd.conf" >"$RUN/influxd.log" 2>&1 &
pids+=($!)
INFLUX_URL=http://127.0.0.1:$INFLUX_PORT
wait_for 30 influxd curl -fsS "$INFLUX_URL/ping"
curl -fsS -XPOST "$INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE $DB" >/dev/null

say "starting the dev Kafka broker"
"$BUILD/tests/devbroker/homestream-devbroker" >"$RUN/devbroker.out" 2>"$RUN/devbroker.log" &
pids+=($!)
wait_for 20 "the broker" grep -q '^BOOTSTRAP=' "$RUN/devbroker.out"
KAFKA_BROKERS=$(sed -n 's/^BOOTSTRAP=//p' "$RUN/devbroker.out" | head -1)

if [ -z "${HA_URL:-}" ]; then
    say "starting the Home Assistant simulator"
    HA_TOKEN=quickstart-$RANDOM$RANDOM
    "$BUILD/tests/hasim/homestream-hasim" --port 0 --token "$HA_TOKEN" --entities 40 \
        --rate 20 --events 0 >"$RUN/hasim.out" 2>"$RUN/hasim.log" &
    pids+=($!)
    wait_for 20 "the simulator" grep -q '^LISTENING=' "$RUN/hasim.out"
    HA_URL=ws://127.0.0.1:$(sed -n 's/^LISTENING=//p' "$RUN/hasim.out" | head -1)/api/websocket
else
    [ -n "${HA_TOKEN:-}${HA_TOKEN_FILE:-}" ] || die "HA_URL is set: set HA_TOKEN (a long-lived access token) too"
    say "using your Home Assistant at $HA_URL"
fi
export KAFKA_BROKERS HA_URL HA_TOKEN INFLUX_URL
export INFLUX_API_VERSION=1 INFLUX_DB=$DB SPOOL_DIR=$RUN/spool LOG_FORMAT=${LOG_FORMAT:-text}

for stage in writer enricher ingestor; do
    case $stage in ingestor) p=8081 ;; enricher) p=8082 ;; writer) p=8083 ;; esac
    p=$(pick_port $p)
    say "starting homestream-$stage (admin on http://127.0.0.1:$p)"
    ADMIN_ADDR=127.0.0.1:$p "$BUILD/$stage/homestream-$stage" >"$RUN/$stage.log" 2>&1 &
    pids+=($!)
    echo "$p" >"$RUN/$stage.port"
    wait_for 20 "homestream-$stage" curl -fsS "http://127.0.0.1:$p/health"
done

say "events are flowing; logs in $RUN; Ctrl-C stops everything"
query() { curl -fsS -G "$INFLUX_URL/query" --data-urlencode "db=$DB" --data-urlencode "q=$1"; }
start=$SECONDS
while :; do
    sleep 3
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a process exited; see the logs in $RUN"
    done
    total=$(query 'SELECT count("value") FROM /.*/' | python3 -c '
import json, sys
doc = json.load(sys.stdin)
n = sum(s["values"][0][1] for r in doc["results"] for s in r.get("series", []))
print(n)')
    latest=$(query 'SELECT last("value") FROM /.*/ GROUP BY "entity_id"' | python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = [(s["values"][0][0], s["name"], s["tags"]["entity_id"], s["values"][0][1])
        for r in doc["results"] for s in r.get("series", [])]
for t, m, e, v in sorted(rows, reverse=True)[:3]:
    print("    %s  %-28s %-10s %s" % (t, e, m, v))')
    printf '[%3ds] %s numeric points in InfluxDB (%s, database %s); latest:\n%s\n' \
        $((SECONDS - start)) "$total" "$INFLUX_URL" "$DB" "$latest"
    if [ -n "${QUICKSTART_SECONDS:-}" ] && [ $((SECONDS - start)) -ge "$QUICKSTART_SECONDS" ]; then
        [ "$total" -gt 0 ] || die "no events reached InfluxDB in ${QUICKSTART_SECONDS}s"
        exit 0
    fi
done
