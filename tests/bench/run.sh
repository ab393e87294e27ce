#!/usr/bin/env bash
# tests/bench/run.sh - runs homestream's benchmarks, prints the results as
# tables and writes them into docs/performance.md (between the lines
# "<!-- bench:begin -->" and "<!-- bench:end -->").
#
# Usage: tests/bench/run.sh [build dir]      (default: build-bench)
#
# The build directory is set up with --buildtype=release if it does not
# exist yet; an existing one is used as it is (its build type is printed with
# the results). Then, within HS_BENCH_BUDGET_S (19 minutes) on two cores:
#  1. each stage's own benchmark, through its wrapper
#     tests/bench/<stage>_bench.sh <build dir>, else its program run without
#     arguments (a stage with neither is reported as "not measured");
#  2. tests/bench/e2e_bench.py: the whole pipeline with real processes
#     (influxd, homestream-devbroker, homestream-hasim, the three stages):
#     latency at 1,000 events/s, RSS idle and under a flood, throughput, at
#     1k, 3k, 10k and 100k entities;
#  3. tests/bench/e2e_report.py: the tables, with the machine described.
#
# Environment: HS_BENCH_ENTITIES (1000,3000,10000,100000), HS_BENCH_RATE (1000),
# HS_BENCH_SECONDS (15, latency measuring window per entity count),
# HS_BENCH_FLOOD (10000 events per flood run), HS_BENCH_SAMPLE (10: the
# latency poller follows every 10th event), HS_BENCH_PARTITIONS (0: the dev
# broker's partitions per topic sized to the entity count, see
# e2e_bench.py's partitions_for), HS_BENCH_HASIM_START_S (60: how long hasim
# may take to generate a home; larger homes are then skipped),
# HS_BENCH_STAGE_TIMEOUT (240 s per stage benchmark), HS_BENCH_BUDGET_S
# (1140: the whole run's time; end-to-end runs that would start later are
# reported as not measured), HS_BENCH_NO_DOC=1 (print only, leave
# docs/performance.md alone).
#
# A benchmark, not a test: nothing here fails on slowness. It exits non-zero
# only when it could not build or produce results at all.
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${1:-build-bench}
case $BUILD in
    /*) ;;
    *) BUILD=$ROOT/$BUILD ;;
esac
ENTITIES=${HS_BENCH_ENTITIES:-1000,3000,10000,100000}
RATE=${HS_BENCH_RATE:-1000}
SECONDS_PER_RUN=${HS_BENCH_SECONDS:-15}
FLOOD=${HS_BENCH_FLOOD:-10000}
SAMPLE=${HS_BENCH_SAMPLE:-10}
PARTITIONS=${HS_BENCH_PARTITIONS:-0}
HASIM_START_S=${HS_BENCH_HASIM_START_S:-60}
BUDGET_S=${HS_BENCH_BUDGET_S:-1140}
SECONDS=0

say() { printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ ! -f "$BUILD/build.ninja" ]; then
    say "setting up $BUILD (release)"
    meson setup "$BUILD" --buildtype=release -Dwerror=true >&2 || exit 1
fi

# Everything the default build makes (the stage benchmarks' wrappers may
# use any tool); when some unrelated target does not build, at least the
# daemons and the tools the end-to-end runs start. Then every benchmark
# program that is not built by default (names containing "bench").
say "building $BUILD"
if ! ninja -C "$BUILD" -j2 >&2; then
    say "the full build failed; building what the end-to-end runs need"
    ninja -C "$BUILD" -j2 ingestor/homestream-ingestor enricher/homestream-enricher \
        writer/homestream-writer tests/devbroker/homestream-devbroker \
        tests/hasim/homestream-hasim >&2 || exit 1
fi
bench_targets=$(ninja -C "$BUILD" -t targets all 2>/dev/null \
    | sed -n 's/^\([^:]*bench[^:]*\): c_LINKER$/\1/p')
for t in $bench_targets; do
    ninja -C "$BUILD" -j2 "$t" >&2 || say "$t does not build"
done

RESULTS=$BUILD/bench-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
date -u '+%Y-%m-%d %H:%M' >"$RESULTS/started"
cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/load_start"

# 1. The stage benchmarks: each through its wrapper script
# tests/bench/<stage>_bench.sh <build dir> when there is one, else its
# program (an executable named *<stage>*bench* in the build) run without
# arguments. Each gets STAGE_TIMEOUT seconds.
STAGE_TIMEOUT=${HS_BENCH_STAGE_TIMEOUT:-240}
for stage in ingestor enricher writer; do
    wrapper=tests/bench/${stage}_bench.sh
    cmd=()
    if [ -f "$wrapper" ]; then
        cmd=(sh "$wrapper" "$BUILD")
    else
        prog=$(find "$BUILD" -path "$RESULTS" -prune -o -type f -perm -u+x \
                    -name "*${stage}*bench*" -print 2>/dev/null | head -n 1)
        if [ -n "$prog" ]; then
            cmd=("$prog")
        fi
    fi
    if [ ${#cmd[@]} -eq 0 ]; then
        echo "no $wrapper and no ${stage} benchmark program in the build" \
            >"$RESULTS/${stage}_bench.missing"
        say "$stage benchmark: not measured (no $wrapper, no program)"
        continue
    fi
    say "$stage benchmark: ${cmd[*]}"
    if ! HS_BUILD_DIR=$BUILD timeout "$STAGE_TIMEOUT" "${cmd[@]}" \
            >"$RESULTS/${stage}_bench.txt" 2>&1; then
        touch "$RESULTS/${stage}_bench.failed"
        say "$stage benchmark failed or timed out; its output is kept in the report"
    fi
done

# 2. The whole pipeline, in what is left of the time budget: e2e_bench.py
# starts no run once its budget is spent (those runs are reported as not
# measured); the timeout (SIGINT first, so it stops its processes) is only
# a safety net.
left=$((BUDGET_S - SECONDS))
if [ "$left" -lt 60 ]; then
    left=60
fi
say "end-to-end runs (entities $ENTITIES, ${left} s left of the budget)"
HS_BUILD_DIR=$BUILD timeout -s INT -k 30 $((left + 240)) python3 tests/bench/e2e_bench.py \
    --out "$RESULTS/e2e.json" --entities "$ENTITIES" --rate "$RATE" \
    --seconds "$SECONDS_PER_RUN" --flood-events "$FLOOD" --sample "$SAMPLE" \
    --partitions "$PARTITIONS" --hasim-start-s "$HASIM_START_S" --budget-s "$left" \
    || say "e2e_bench.py exited with $? (what it measured is still reported)"

# 3. The tables.
command="tests/bench/run.sh${1:+ $1}"
doc=(--doc docs/performance.md)
if [ -n "${HS_BENCH_NO_DOC:-}" ]; then
    doc=()
fi
say "report"
python3 tests/bench/e2e_report.py --results "$RESULTS" --build "$BUILD" \
    --command "$command" "${doc[@]}"
