#!/usr/bin/env bash
# Creates the event topic and the dead-letter topic with infinite retention
# (the event log is the source of truth: it is replayed from offset 0 to
# rebuild any read model), or re-asserts infinite retention on topics that
# already exist. Idempotent; partitions of an existing topic are left alone.
#
# Runs with rpk (the Redpanda image); used by the compose topic-init job and
# by the chart's topics hook. Reads the same variables as soma:
#   KAFKA_BOOTSTRAP_SERVERS (required), KAFKA_MEMORY_EVENTS_TOPIC, KAFKA_DLQ_TOPIC,
#   KAFKA_TOPIC_PARTITIONS, KAFKA_TOPIC_REPLICATION_FACTOR,
#   KAFKA_ALLOW_FINITE_RETENTION (true: leave the retention of an existing
#   event topic as it is), KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
#   KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION,
#   KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION
#
# Usage: create-topics.sh   (no arguments: settings come from the environment)
set -euo pipefail

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  "") ;;
  *)
    echo "usage: ${0##*/} [--help]   (no arguments: settings come from the environment)" >&2
    exit 2
    ;;
esac

: "${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS is required}"
events=${KAFKA_MEMORY_EVENTS_TOPIC:-memory.events}
dlq=${KAFKA_DLQ_TOPIC:-memory.dlq}
partitions=${KAFKA_TOPIC_PARTITIONS:-12}
replicas=${KAFKA_TOPIC_REPLICATION_FACTOR:-1}
protocol=${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}

rpk_args=(-X "brokers=${KAFKA_BOOTSTRAP_SERVERS}")
case "$protocol" in
  PLAINTEXT | SASL_PLAINTEXT) ;;
  SSL | SASL_SSL)
    rpk_args+=(-X tls.enabled=true)
    if [[ -n "${KAFKA_SSL_CA_LOCATION:-}" ]]; then rpk_args+=(-X "tls.ca=${KAFKA_SSL_CA_LOCATION}"); fi
    if [[ -n "${KAFKA_SSL_CERTIFICATE_LOCATION:-}" ]]; then rpk_args+=(-X "tls.cert=${KAFKA_SSL_CERTIFICATE_LOCATION}"); fi
    if [[ -n "${KAFKA_SSL_KEY_LOCATION:-}" ]]; then rpk_args+=(-X "tls.key=${KAFKA_SSL_KEY_LOCATION}"); fi
    ;;
  *)
    echo "create-topics: KAFKA_SECURITY_PROTOCOL=$protocol: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL" >&2
    exit 2
    ;;
esac
case "$protocol" in
  SASL_*)
    rpk_args+=(-X "sasl.mechanism=${KAFKA_SASL_MECHANISM:-PLAIN}" -X "user=${KAFKA_SASL_USERNAME:-}" -X "pass=${KAFKA_SASL_PASSWORD:-}")
    ;;
esac

existing=$(rpk topic list "${rpk_args[@]}" | awk 'NR > 1 { print $1 }')

for topic in "$events" "$dlq"; do
  if grep -qxF -- "$topic" <<<"$existing"; then
    if [[ "$topic" == "$events" && "${KAFKA_ALLOW_FINITE_RETENTION:-false}" == "true" ]]; then
      echo "create-topics: $topic exists; retention left as it is (KAFKA_ALLOW_FINITE_RETENTION=true)"
      continue
    fi
    echo "create-topics: $topic exists; asserting infinite retention"
    rpk topic alter-config "$topic" "${rpk_args[@]}" --set retention.ms=-1 --set retention.bytes=-1
  else
    echo "create-topics: creating $topic ($partitions partitions, replication factor $replicas, infinite retention)"
    rpk topic create "$topic" "${rpk_args[@]}" -p "$partitions" -r "$replicas" \
      -c retention.ms=-1 -c retention.bytes=-1
  fi
done
