#!/usr/bin/env bash
# start_stack.sh MODE [--with-broker]
#
# Starts, from docker-compose.dev.yml, the services a MEMORY_MODE needs for
# running soma from source, waits until they are healthy, creates the topics
# when a broker is among them, and prints the variables to export. Every
# port is published on 127.0.0.1 only. The compose profiles carry the
# choice; a test (internal/deploytest) keeps them equal to the list below.
#
#   development         Postgres, Qdrant (soma keeps the rest embedded);
#                       --with-broker adds Redpanda and Apicurio (profile broker)
#   evented_enterprise  Redpanda, Apicurio, Postgres, Qdrant, Redis
#   cloud_managed       the same five, as local stand-ins for managed services
#   test                none: MEMORY_MODE=test runs on a temporary embedded store
#
# `make dev-down` stops them (the data stays in the soma-dev volumes); the
# README's clean-up table lists the rest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE=$ROOT/docker-compose.dev.yml
PROG=${0##*/}

usage() {
	cat <<EOF
Usage: $PROG MODE [--with-broker]

Start the services MEMORY_MODE=MODE needs, from docker-compose.dev.yml.

Modes:
  development         Postgres, Qdrant
                      (--with-broker: also Redpanda and Apicurio, then the topics)
  evented_enterprise  Redpanda, Apicurio, Postgres, Qdrant, Redis, then the topics
  cloud_managed       the same as evented_enterprise (local stand-ins)
  test                no service (a temporary embedded store)

Options:
  --with-broker       development only: add Redpanda and Apicurio
  -h, --help          show this help

Stop with: make dev-down (data kept) or
  docker compose -f docker-compose.dev.yml --profile '*' down -v (data dropped)
EOF
}

# bad_usage MESSAGE: the message and the usage on stderr, exit 2.
bad_usage() {
	printf '%s: %s\n\n' "$PROG" "$1" >&2
	usage >&2
	exit 2
}

log() { printf '%s: %s\n' "$PROG" "$*"; }

mode=""
with_broker=0
for arg in "$@"; do
	case $arg in
	-h | --help)
		usage
		exit 0
		;;
	--with-broker) with_broker=1 ;;
	-*) bad_usage "unknown option $arg" ;;
	*)
		[[ -z $mode ]] || bad_usage "one MODE only (got $mode and $arg)"
		mode=$arg
		;;
	esac
done
[[ -n $mode ]] || bad_usage "MODE is required"

profiles=()
broker=0
case $mode in
development)
	profiles=(development)
	if ((with_broker)); then
		profiles+=(broker)
		broker=1
	fi
	;;
evented_enterprise | cloud_managed)
	# The broker is part of these modes already; --with-broker changes nothing.
	profiles=("$mode")
	broker=1
	;;
test)
	((with_broker == 0)) || bad_usage "--with-broker: MODE test runs no service"
	log "MEMORY_MODE=test needs no service: soma keeps everything in a temporary embedded store."
	log "run it with: MEMORY_MODE=test go run ./cmd/soma serve   (or make sandbox-up for the container on :8888)"
	exit 0
	;;
*) bad_usage "unknown MODE '$mode' (want development, evented_enterprise, cloud_managed or test)" ;;
esac

compose=(docker compose -f "$COMPOSE_FILE")
for p in "${profiles[@]}"; do compose+=(--profile "$p"); done

run() {
	log "$*"
	"$@"
}

run "${compose[@]}" up -d --wait
if ((broker)); then
	# The topic job is a one-shot container nothing here waits for, so it
	# runs with `compose run` (`up --wait` would count its exit as a failure).
	run "${compose[@]}" --profile topics run --rm topic-init
fi

log "ready. Export for soma (MEMORY_MODE=$mode):"
echo "export MEMORY_MODE=$mode"
echo "export POSTGRES_URL='postgres://soma:soma@127.0.0.1:5432/soma?sslmode=disable'"
echo "export QDRANT_URL=http://127.0.0.1:6334"
if ((broker)); then
	echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092"
	echo "export SCHEMA_REGISTRY_URL=http://127.0.0.1:8080/apis/ccompat/v7"
else
	echo "export EVENTING_ENABLED=false"
fi
if [[ $mode != development ]]; then
	echo "export REDIS_URL=redis://127.0.0.1:6379/0"
fi
