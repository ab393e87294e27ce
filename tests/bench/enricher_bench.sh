#!/bin/sh
# enricher_bench.sh - runs tests/bench/enricher_bench.c against a fresh
# homestream-devbroker. Usage: tests/bench/enricher_bench.sh <build dir> [events]
# The dev broker keeps about 5 MiB per partition and drops the oldest
# beyond that, so the topics are sized to the events: the raw topic gets a
# partition per 2,500 events (about 1.3 KB each), and every run of the
# benchmark (3 rounds of pass-through and enricher, one of the tree path
# only) writes to an output topic of its own with a partition per 1,500
# events (an enriched event is about 1.9 KB). Nothing is dropped; the
# broker holds about 1 GB at 100,000 events.
set -eu
build=${1:?usage: $0 <build dir> [events]}
events=${2:-100000}
in_parts=$((events / 2500 + 3))
out_parts=$((events / 1500 + 3))
topics="--topic bench.dlq:3"
for r in 1 2 3; do
    for t in bench.pass bench.enriched; do
        topics="$topics --topic $t.$r:$out_parts"
    done
done
topics="$topics --topic bench.tree.1:$out_parts"
# shellcheck disable=SC2086
exec "$(dirname "$0")/with-devbroker.sh" "$build" --partitions "$in_parts" $topics -- \
    "$build/enricher/enricher-bench" "$events"
