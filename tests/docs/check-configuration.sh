#!/usr/bin/env bash
# Fails when docs/configuration.md differs from what the config tables say.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! diff -u "$root/docs/configuration.md" <("$here/gen-configuration.sh" "${HS_BUILD_DIR:?}"); then
    echo "docs/configuration.md is out of date: run tests/docs/gen-configuration.sh BUILD_DIR > docs/configuration.md" >&2
    exit 1
fi
echo "docs/configuration.md matches the config tables"
