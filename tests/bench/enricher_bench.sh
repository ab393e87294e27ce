#!/bin/sh
# enricher_bench.sh - runs tests/bench/enricher_bench.c against a fresh
# homestream-devbroker. Usage: tests/bench/enricher_bench.sh <build dir> [events]
set -eu
build=${1:?usage: $0 <build dir> [events]}
events=${2:-10000}
exec "$(dirname "$0")/with-devbroker.sh" "$build" \
    --topic bench.pass:3 --topic bench.enriched:3 --topic bench.dlq:3 -- \
    "$build/enricher/enricher-bench" "$events"
