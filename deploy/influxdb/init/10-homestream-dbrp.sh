#!/bin/bash
# 10-homestream-dbrp.sh - maps the InfluxQL database/retention policy that
# Grafana's dashboards query (HS_DBRP_DB / HS_DBRP_RP, default
# homeassistant/autogen) onto the bucket created at setup, so InfluxQL and
# the v1 API reach it. The influxdb:2.7 image runs this once, right after
# the first setup (DOCKER_INFLUXDB_INIT_MODE=setup), with the influx CLI
# already configured with the admin token and DOCKER_INFLUXDB_INIT_BUCKET_ID
# exported. For an existing InfluxDB see docs/deploy.md.
set -euo pipefail

db=${HS_DBRP_DB:-homeassistant}
rp=${HS_DBRP_RP:-autogen}

if influx v1 dbrp list --org "$DOCKER_INFLUXDB_INIT_ORG" --db "$db" --hide-headers 2>/dev/null |
    grep -q .; then
    echo "homestream: DBRP mapping for database $db exists"
    exit 0
fi
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" \
    --bucket-id "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --db "$db" --rp "$rp" --default
echo "homestream: InfluxQL database $db (rp $rp) now maps to bucket $DOCKER_INFLUXDB_INIT_BUCKET"
