#!/usr/bin/env bash
# tests/run.sh - runs every homestream test: installs what is missing
# (Debian 12, as root), builds with warnings as errors and runs every suite
# (unit, integration, hostile, fuzz corpus replay, faults, deploy, docs);
# then unit, integration, hostile and fuzz replay again under ASan+UBSan (less
# the 'slow' tests: writer_faults and weather), a short libFuzzer campaign,
# and the unit suite under valgrind (less the HA simulator's own unit tests,
# which run natively and under ASan+UBSan: under valgrind the generated-home
# test alone takes over four minutes). Ends with the plain line
# "N passed, N failed".
#
# Environment: HS_SKIP_ASAN=1 / HS_SKIP_VALGRIND=1 / HS_SKIP_FUZZ=1 skip those passes (for a
# quick local loop; CI runs everything).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

PACKAGES=(build-essential pkg-config meson ninja-build python3 python3-jsonschema
          libwebsockets-dev librdkafka-dev libcurl4-openssl-dev libjansson-dev
          libmicrohttpd-dev zlib1g-dev check valgrind influxdb docker-compose
          clang libclang-rt-14-dev curl binutils systemd)

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run.sh: missing packages (${missing[*]}); run as root or install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || { echo "tests/run.sh: apt-get install failed" >&2; exit 1; }
    # influxdb's package starts a system influxd on :8086; the tests run their
    # own on free ports, so that one is not needed.
    systemctl disable --now influxdb >/dev/null 2>&1 || true
}

install_missing

results=()   # each: "<label> <testlog.json>"
failed_builds=0

build() {   # build <dir> <meson options...>
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 \
            || { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -80 "$dir.ninja.log"; return 1; }
}

run_suite() {   # run_suite <label> <dir> <meson test args...>
    local label=$1 dir=$2 log=testlog.json arg; shift 2
    for arg in "$@"; do   # meson names the log after the test setup
        case $arg in --setup=*) log="testlog-${arg#--setup=}.json" ;; esac
    done
    echo "== $label (at ${SECONDS}s)"
    rm -f "$dir/meson-logs/$log"
    meson test -C "$dir" --print-errorlogs "$@"
    cp "$dir/meson-logs/$log" "$ROOT/.hs-testlog-$label.json" 2>/dev/null || true
    [ -n "${label}" ] && results+=("$label $ROOT/.hs-testlog-$label.json")
}

rm -f "$ROOT"/.hs-testlog-*.json

echo "== build (warnings are errors)"
if build build; then
    run_suite default build
else
    failed_builds=$((failed_builds + 1))
fi

if [ -z "${HS_SKIP_ASAN:-}" ]; then
    echo "== build with ASan+UBSan"
    if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
        export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
        # The differential unit tests' sweeps ran in full natively just
        # above; here they take every 7th position (tests/unit/test_scale.h),
        # which reaches the same code paths for the sanitizers.
        export HS_TEST_QUICK=1
        export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
        run_suite asan build-asan --no-suite deploy --no-suite docs --no-suite faults \
            --no-suite slow
        unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS HS_TEST_QUICK
    else
        failed_builds=$((failed_builds + 1))
    fi
fi

if [ -z "${HS_SKIP_FUZZ:-}" ]; then
    echo "== short fuzz campaign (clang, libFuzzer, ASan+UBSan)"
    if tests/fuzz/run-short.sh "$ROOT/build-fuzz" >"$ROOT/build-fuzz.log" 2>&1; then
        tail -12 "$ROOT/build-fuzz.log"
    else
        tail -60 "$ROOT/build-fuzz.log"
    fi
    [ -f build-fuzz/meson-logs/testlog.json ] && \
        cp build-fuzz/meson-logs/testlog.json "$ROOT/.hs-testlog-fuzz.json" && \
        results+=("fuzz $ROOT/.hs-testlog-fuzz.json") || failed_builds=$((failed_builds + 1))
fi

if [ -z "${HS_SKIP_VALGRIND:-}" ] && [ -f build/build.ninja ]; then
    run_suite valgrind build --setup=valgrind --suite unit --no-suite hasim
fi

python3 - "$failed_builds" "${results[@]}" <<'PY'
import json, sys
failed_builds = int(sys.argv[1])
passed = failed = skipped = 0
for arg in sys.argv[2:]:
    label, path = arg.split(" ", 1)
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except OSError:
        print("no test log for %s" % label)
        failed += 1
failed += failed_builds
print("%d passed, %d failed" % (passed, failed) + (", %d skipped" % skipped if skipped else ""))
sys.exit(1 if failed else 0)
PY
