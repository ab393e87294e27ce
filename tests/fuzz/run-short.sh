#!/bin/sh
# run-short.sh - builds the fuzz targets with clang and libFuzzer (ASan and
# UBSan on) in BUILD_DIR (default: build-fuzz at the top of the tree) and
# runs the 'fuzz' suite: a short campaign per target over its corpus, under
# two minutes in all. Needs clang and libclang-rt-14-dev (Debian packages).
#
#   tests/fuzz/run-short.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$top/build-fuzz"}
for tool in clang meson ninja; do
    command -v "$tool" >/dev/null 2>&1 || { echo "run-short.sh: $tool not found" >&2; exit 1; }
done
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$top" -Dwerror=true \
        -Db_sanitize=address,undefined -Db_lundef=false
fi
if ! grep -qF '"libFuzzer" : links: YES' "$build/meson-logs/meson-log.txt"; then
    echo "run-short.sh: clang cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)" >&2
    exit 1
fi
targets=$(cd "$top/tests/fuzz" && ls fuzz-*.c | sed 's/\.c$//; s|^|tests/fuzz/|')
# shellcheck disable=SC2086
ninja -C "$build" -j2 $targets
meson test -C "$build" --no-rebuild --suite fuzz --print-errorlogs --num-processes 2
