#!/usr/bin/env bash
# port_forward_api.sh start|stop|status [--namespace NS] [--release NAME] [--context CTX]
#
# Exposes the chart's APIs on loopback with `kubectl port-forward`, in the
# background:
#   write API  localhost:9595 -> svc/<release>-api:9595
#   query API  localhost:9596 -> svc/<release>-query:9596
#
# start   starts each forward that is not running and waits until kubectl
#         says it is forwarding; running it twice is harmless.
# stop    stops the forwards this script started (pid files); harmless when
#         none runs.
# status  tells what runs; exits 0 when both forwards run, 3 otherwise.
#
# State (pid files) and kubectl's logs live in $SOMA_PORT_FORWARD_DIR
# (default: a per-user directory under $TMPDIR or /tmp).
set -euo pipefail

PROG=${0##*/}
NAMESPACE=${SOMA_NAMESPACE:-soma}
CONTEXT=${SOMA_KUBE_CONTEXT:-}
RELEASE=${SOMA_RELEASE:-soma}
API_PORT=${SOMA_API_LOCAL_PORT:-9595}
QUERY_PORT=${SOMA_QUERY_LOCAL_PORT:-9596}
TIMEOUT=${SOMA_PORT_FORWARD_TIMEOUT:-30}
STATE=${SOMA_PORT_FORWARD_DIR:-${TMPDIR:-/tmp}/soma-port-forward-$(id -u)}

usage() {
	cat <<EOF
Usage: $PROG start|stop|status [--namespace NS] [--release NAME] [--context CTX]

Forward the chart's APIs to loopback in the background:
  write API  localhost:$API_PORT -> svc/<release>-api:9595
  query API  localhost:$QUERY_PORT -> svc/<release>-query:9596

Commands:
  start    start the forwards that are not running (idempotent)
  stop     stop them (idempotent)
  status   show them; exit 0 when both run, 3 otherwise

Options:
  -n, --namespace NS   Kubernetes namespace (default \$SOMA_NAMESPACE or soma)
  --release NAME       Helm release (default \$SOMA_RELEASE or soma)
  --context CTX        kubeconfig context (default \$SOMA_KUBE_CONTEXT or the current one)
  -h, --help           show this help

Environment: SOMA_API_LOCAL_PORT, SOMA_QUERY_LOCAL_PORT (local ports),
SOMA_PORT_FORWARD_TIMEOUT (seconds to wait for kubectl, default 30),
SOMA_PORT_FORWARD_DIR (pid files and logs).
EOF
}

bad_usage() {
	printf '%s: %s\n\n' "$PROG" "$1" >&2
	usage >&2
	exit 2
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
	printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
	exit 1
}

cmd=""
while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	-n | --namespace)
		(($# >= 2)) || bad_usage "$1 needs a value"
		NAMESPACE=$2
		shift
		;;
	--release)
		(($# >= 2)) || bad_usage "$1 needs a value"
		RELEASE=$2
		shift
		;;
	--context)
		(($# >= 2)) || bad_usage "$1 needs a value"
		CONTEXT=$2
		shift
		;;
	start | stop | status)
		[[ -z $cmd ]] || bad_usage "one command only (got $cmd and $1)"
		cmd=$1
		;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done
[[ -n $cmd ]] || bad_usage "a command is required"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || bad_usage "SOMA_PORT_FORWARD_TIMEOUT=$TIMEOUT: want whole seconds"

KUBECTL=(kubectl)
[[ -z $CONTEXT ]] || KUBECTL+=(--context "$CONTEXT")

# The forwards: name, service, local port, service port.
FORWARDS=(
	"api $RELEASE-api $API_PORT 9595"
	"query $RELEASE-query $QUERY_PORT 9596"
)

# running NAME: prints the pid of NAME's forward when it runs.
running() {
	local pidfile=$STATE/$1.pid pid
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# A recycled pid is not ours: the process must be a port-forward.
	[[ $(ps -o args= -p "$pid" 2>/dev/null) == *port-forward* ]] || return 1
	printf '%s' "$pid"
}

# gone PID: the process has exited (a zombie waiting for its reaper counts).
gone() {
	! kill -0 "$1" 2>/dev/null || [[ $(ps -o stat= -p "$1" 2>/dev/null) == Z* ]]
}

start_one() {
	local name=$1 svc=$2 local_port=$3 remote_port=$4 pid logfile deadline
	if pid=$(running "$name"); then
		log "$name: already forwarding localhost:$local_port (pid $pid)"
		return 0
	fi
	logfile=$STATE/$name.log
	: >"$logfile"
	log "$name: ${KUBECTL[*]} -n $NAMESPACE port-forward --address 127.0.0.1 svc/$svc $local_port:$remote_port (log $logfile)"
	nohup "${KUBECTL[@]}" -n "$NAMESPACE" port-forward --address 127.0.0.1 "svc/$svc" "$local_port:$remote_port" \
		>"$logfile" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$STATE/$name.pid"
	deadline=$((SECONDS + TIMEOUT))
	until grep -q '^Forwarding from' "$logfile"; do
		if gone "$pid"; then
			rm -f "$STATE/$name.pid"
			sed 's/^/    /' "$logfile" >&2
			die "$name: kubectl port-forward to svc/$svc in namespace $NAMESPACE exited (log above, $logfile)"
		fi
		if ((SECONDS >= deadline)); then
			kill "$pid" 2>/dev/null || true
			rm -f "$STATE/$name.pid"
			sed 's/^/    /' "$logfile" >&2
			die "$name: kubectl port-forward to svc/$svc is not forwarding after ${TIMEOUT}s (log above, $logfile)"
		fi
		sleep 0.2
	done
	log "$name: forwarding http://localhost:$local_port -> svc/$svc:$remote_port (pid $pid)"
}

stop_one() {
	local name=$1 pid deadline
	if ! pid=$(running "$name"); then
		rm -f "$STATE/$name.pid"
		log "$name: not running"
		return 0
	fi
	kill "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 5))
	until gone "$pid"; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$STATE/$name.pid"
	log "$name: stopped (pid $pid)"
}

status_one() {
	local name=$1 svc=$2 local_port=$3 pid
	if pid=$(running "$name"); then
		log "$name: forwarding http://localhost:$local_port -> svc/$svc (pid $pid, log $STATE/$name.log)"
		return 0
	fi
	log "$name: not running"
	return 1
}

case $cmd in
start)
	command -v kubectl >/dev/null || die "kubectl is not on PATH"
	mkdir -p "$STATE"
	[[ -O $STATE ]] || die "$STATE belongs to another user"
	chmod 700 "$STATE"
	for f in "${FORWARDS[@]}"; do
		# shellcheck disable=SC2086 # each entry is four words
		start_one $f
	done
	;;
stop)
	for f in "${FORWARDS[@]}"; do
		read -r name _ <<<"$f"
		stop_one "$name"
	done
	;;
status)
	rc=0
	for f in "${FORWARDS[@]}"; do
		# shellcheck disable=SC2086 # each entry is four words
		status_one $f || rc=3
	done
	exit "$rc"
	;;
esac
