#!/bin/sh
# entrypoint.sh - starts one homestream stage in the container image.
#
# The first argument names the stage (ingestor, enricher or writer, with or
# without the "homestream-" prefix); the remaining arguments go to the daemon
# (--help, --version, --check-config). When ADMIN_ADDR is unset the admin
# endpoint listens on 0.0.0.0 at the stage's port (8081, 8082, 8083) so that
# the healthcheck and `docker run -p` reach it; an empty ADMIN_ADDR still
# disables it. Any other first argument is run as a command.
# HOMESTREAM_BIN_DIR (default /usr/local/bin) is where the daemons are.
set -eu

usage() {
    echo "usage: docker run [options] homestream ingestor|enricher|writer [--help|--version|--check-config]"
}

case "${1:-help}" in
ingestor | homestream-ingestor) port=8081 ;;
enricher | homestream-enricher) port=8082 ;;
writer | homestream-writer) port=8083 ;;
help | -h | --help)
    usage
    exit 0
    ;;
*) exec "$@" ;;
esac

stage=${1#homestream-}
shift
: "${ADMIN_ADDR=0.0.0.0:$port}"
export ADMIN_ADDR
exec "${HOMESTREAM_BIN_DIR:-/usr/local/bin}/homestream-$stage" "$@"
