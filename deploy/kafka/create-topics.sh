#!/bin/bash
# create-topics.sh - creates homestream's topics on the Kafka broker and keeps
# their retention as configured. Run by the kafka-init service of
# docker-compose.yml (image apache/kafka); safe to run again at any time.
#
# Partitions: raw and enriched have TOPIC_PARTITIONS (6) so that up to that
# many enricher and writer replicas share the work (a consumer group has at
# most one active member per partition); messages are keyed by entity_id, so
# each entity's events stay in order on one partition. The DLQ has 1
# partition: it is small and read in arrival order. Partitions are only ever
# added by hand (kafka-topics.sh --alter --partitions), never here: adding
# them moves keys to other partitions and so reorders an entity's events.
#
# Retention: raw and enriched keep TOPIC_RETENTION_DAYS (7) so that a week of
# events can be replayed after an InfluxDB or writer outage; the DLQ keeps
# DLQ_RETENTION_DAYS (30) for investigation. Retention is re-applied on every
# run, so changing .env and restarting kafka-init updates it.
set -euo pipefail

bin=/opt/kafka/bin
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
partitions=${TOPIC_PARTITIONS:-6}
days=${TOPIC_RETENTION_DAYS:-7}
dlq_days=${DLQ_RETENTION_DAYS:-30}

for n in "$partitions" "$days" "$dlq_days"; do
    if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
        echo "create-topics: '$n' is not a positive integer" >&2
        exit 2
    fi
done

echo "create-topics: waiting for $bootstrap"
for _ in $(seq 1 60); do
    if "$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" >/dev/null 2>&1; then
        break
    fi
    sleep 2
done

# topic <name> <partitions> <retention days>
topic() {
    local name=$1 parts=$2 ms=$(($3 * 24 * 3600 * 1000))
    "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$name" --partitions "$parts" --replication-factor 1 \
        --config "retention.ms=$ms" --config cleanup.policy=delete \
        --config min.insync.replicas=1
    "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter \
        --entity-type topics --entity-name "$name" --add-config "retention.ms=$ms"
    local have
    have=$("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --topic "$name" |
        sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
    if [ "$have" != "$parts" ]; then
        echo "create-topics: warning: $name has $have partitions, not $parts (left as is)" >&2
    fi
    echo "create-topics: $name ready: $have partitions, retention $3 days"
}

topic "${TOPIC_RAW:-ha.events.raw}" "$partitions" "$days"
topic "${TOPIC_ENRICHED:-ha.events.enriched}" "$partitions" "$days"
topic "${TOPIC_DLQ:-ha.events.dlq}" 1 "$dlq_days"
