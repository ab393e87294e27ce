#!/bin/sh
# with-devbroker.sh - runs a command against a fresh homestream-devbroker.
# Starts the broker (extra arguments before "--" go to it), waits for its
# bootstrap address, runs the command after "--" with KAFKA_BROKERS set, and
# stops the broker however the command ends; exits with the command's status.
# Usage: tests/bench/with-devbroker.sh <build dir> [devbroker args] -- command...
set -eu
build=${1:?usage: $0 <build dir> [devbroker args] -- command...}
shift
broker_args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    broker_args="$broker_args $1"
    shift
done
[ $# -gt 0 ] || { echo "usage: $0 <build dir> [devbroker args] -- command..." >&2; exit 2; }
shift
tmp=$(mktemp -d)
# shellcheck disable=SC2086
"$build/tests/devbroker/homestream-devbroker" --bootstrap-file "$tmp/boot" $broker_args \
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
KAFKA_BROKERS=$(sed 's/^BOOTSTRAP=//' "$tmp/boot")
export KAFKA_BROKERS
"$@"
