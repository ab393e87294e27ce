#!/bin/sh
# writer_bench.sh - runs homestream-writer-bench (tests/bench/writer_bench.c):
# the writer's points/s from the dev broker into influxd against a direct bulk
# write of the same line protocol in the same run, CPU per million points,
# then its latency at a steady 1000 events/s, then its CPU from its first
# point on a longer backlog (--backlog: 300,000 events of 2,000 entities).
# It starts its own influxd and dev broker. Usage:
# tests/bench/writer_bench.sh <build dir> [events]
set -eu
build=${1:?usage: $0 <build dir> [events]}
events=${2:-120000}
bench="$build/writer/homestream-writer-bench"
if [ ! -x "$bench" ]; then
    ninja -C "$build" writer/homestream-writer-bench >&2
fi
"$bench" "$events" 200
"$bench" --latency 10 1000
"$bench" --backlog
