#!/bin/sh
# ingestor_bench.sh - runs tests/bench/ingestor_bench.c against a fresh
# homestream-devbroker. Usage: tests/bench/ingestor_bench.sh <build dir> [events]
set -eu
build=${1:?usage: $0 <build dir> [events]}
events=${2:-50000}
tmp=$(mktemp -d)
"$build/tests/devbroker/homestream-devbroker" --bootstrap-file "$tmp/boot" \
    >"$tmp/devbroker.out" 2>"$tmp/devbroker.err" &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
i=0
while [ ! -s "$tmp/boot" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
        echo "devbroker did not start:" >&2
        cat "$tmp/devbroker.err" >&2
        exit 1
    fi
    sleep 0.1
done
KAFKA_BROKERS=$(sed 's/^BOOTSTRAP=//' "$tmp/boot") "$build/ingestor/ingestor-bench" "$build" "$events"
