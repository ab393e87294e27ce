#!/bin/sh
# ingestor_bench.sh - runs tests/bench/ingestor_bench.c against a fresh
# homestream-devbroker. Usage: tests/bench/ingestor_bench.sh <build dir> [events]
set -eu
build=${1:?usage: $0 <build dir> [events]}
events=${2:-50000}
exec "$(dirname "$0")/with-devbroker.sh" "$build" -- \
    "$build/ingestor/ingestor-bench" "$build" "$events"
