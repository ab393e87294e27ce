#!/usr/bin/env bash
# tests/docs/gen-configuration.sh - prints docs/configuration.md from the
# binaries' own config tables (--config-markdown), so the reference cannot
# drift from the code. Usage: gen-configuration.sh BUILD_DIR > docs/configuration.md
set -euo pipefail
build=${1:?usage: gen-configuration.sh BUILD_DIR}
cat <<'HEAD'
# Configuration reference

Every homestream daemon is configured through environment variables (docker
compose friendly). This page is generated from the daemons' own config tables
by `tests/docs/gen-configuration.sh`; a test fails when it and the code
differ. Each daemon also prints its table with `--help`, validates an
environment with `--check-config` (exit status 1 and a message naming the bad
variable), and shows the effective values at `GET /config` with secrets
masked to their last four characters.

Rules that hold for every variable:

- A value that does not parse (a word where a number belongs, a number out of
  range, an unknown choice, a URL with the wrong scheme) stops the daemon at
  start with a message that names the variable.
- An empty value of a number, boolean, choice or URL means "use the default".
- Secrets (marked below) may instead be read from a file: `NAME_FILE=/path`
  (trailing newline stripped; setting both is an error). Secrets are never
  logged and appear in `/config` as `****` plus their last four characters.
- Variables marked "changeable at run time" can be changed with
  `PUT /config` on the admin endpoint, e.g.
  `curl -X PUT -d '{"LOG_LEVEL":"debug"}' http://127.0.0.1:8081/config`.
HEAD
for stage in ingestor enricher writer; do
    printf '\n## homestream-%s\n\n' "$stage"
    "$build/$stage/homestream-$stage" --config-markdown
done
