#!/usr/bin/env bash
# run_ci.sh [--namespace NS] [--release NAME] [--context CTX] [--timeout SECONDS] [--keep-forward]
#
# End-to-end check of a release installed by the chart (make kind-up):
#   1. waits for every workload of the release (the soma Deployments and the
#      in-chart dependencies) to finish rolling out;
#   2. forwards the write API to localhost:9595 and the query API to :9596
#      (scripts/port_forward_api.sh; stopped again at the end unless it was
#      already running or --keep-forward is given);
#   3. runs the live end-to-end tests (cmd/soma/live_e2e_test.go) against
#      them with SOMA_E2E_REQUIRED=1, so they fail instead of skipping.
# On a failure it names the failing component, prints what the cluster says
# about it (pods, recent logs) and exits 1. Bad arguments exit 2.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=${0##*/}
NAMESPACE=${SOMA_NAMESPACE:-soma}
CONTEXT=${SOMA_KUBE_CONTEXT:-}
RELEASE=${SOMA_RELEASE:-soma}
TIMEOUT=${SOMA_CI_TIMEOUT:-600}
KEEP_FORWARD=0
GO=${GO:-go}
API_PORT=${SOMA_API_LOCAL_PORT:-9595}
QUERY_PORT=${SOMA_QUERY_LOCAL_PORT:-9596}

usage() {
	cat <<EOF
Usage: $PROG [--namespace NS] [--release NAME] [--context CTX] [--timeout SECONDS] [--keep-forward]

Wait for the release's pods, forward its APIs to localhost:$API_PORT (write) and
localhost:$QUERY_PORT (query), run the live end-to-end tests against them, and
name the failing component on error.

Options:
  -n, --namespace NS   Kubernetes namespace (default \$SOMA_NAMESPACE or soma)
  --release NAME       Helm release (default \$SOMA_RELEASE or soma)
  --context CTX        kubeconfig context (default \$SOMA_KUBE_CONTEXT or the current one)
  --timeout SECONDS    rollout wait per workload (default \$SOMA_CI_TIMEOUT or 600)
  --keep-forward       leave the port-forwards running afterwards
  -h, --help           show this help

Environment: GO (go binary), SOMA_E2E_TOKEN (bearer token when the release
sets SOMA_API_TOKEN), SOMA_API_LOCAL_PORT, SOMA_QUERY_LOCAL_PORT.
EOF
}

bad_usage() {
	printf '%s: %s\n\n' "$PROG" "$1" >&2
	usage >&2
	exit 2
}

log() { printf '%s: %s\n' "$PROG" "$*"; }

# fail COMPONENT MESSAGE: the verdict, naming the component, then exit 1.
fail() {
	printf '\n%s: FAILED: component %s: %s\n' "$PROG" "$1" "$2" >&2
	exit 1
}

while (($#)); do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	-n | --namespace | --release | --context | --timeout)
		(($# >= 2)) || bad_usage "$1 needs a value"
		case $1 in
		-n | --namespace) NAMESPACE=$2 ;;
		--release) RELEASE=$2 ;;
		--context) CONTEXT=$2 ;;
		--timeout) TIMEOUT=$2 ;;
		esac
		shift
		;;
	--keep-forward) KEEP_FORWARD=1 ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || bad_usage "--timeout $TIMEOUT: want a positive number of seconds"

for tool in kubectl "$GO"; do
	command -v "$tool" >/dev/null || fail "$tool" "$tool is not on PATH"
done

KUBECTL=(kubectl)
[[ -z $CONTEXT ]] || KUBECTL+=(--context "$CONTEXT")
k() { "${KUBECTL[@]}" -n "$NAMESPACE" "$@"; }

# diagnose COMPONENT: what the cluster says about a component's pods.
diagnose() {
	local selector=app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$1
	printf '\n--- pods of %s\n' "$1" >&2
	k get pods -l "$selector" -o wide >&2 || true
	printf '\n--- recent logs of %s\n' "$1" >&2
	k logs -l "$selector" --all-containers --tail=50 --prefix >&2 || true
}

# 1. Rollouts. The release's workloads carry app.kubernetes.io/instance;
# the three soma Deployments must be among them.
log "waiting for the workloads of release $RELEASE in namespace $NAMESPACE (${TIMEOUT}s each)"
if ! workloads=$(k get deployments,statefulsets -l "app.kubernetes.io/instance=$RELEASE" -o name); then
	fail cluster "cannot list the workloads in namespace $NAMESPACE (is the cluster up and the context right?)"
fi
for c in api query projector; do
	grep -qx "deployment.apps/$RELEASE-$c" <<<"$workloads" ||
		fail "$c" "deployment $RELEASE-$c not found in namespace $NAMESPACE (is the chart installed? make helm-install)"
done
while read -r w; do
	[[ -n $w ]] || continue
	component=${w#*/}
	component=${component#"$RELEASE"-}
	log "rollout status $w"
	if ! k rollout status "$w" --timeout="${TIMEOUT}s"; then
		diagnose "$component"
		fail "$component" "$w did not become ready within ${TIMEOUT}s"
	fi
done <<<"$workloads"

# 2. Port-forwards.
forward=("$ROOT/scripts/port_forward_api.sh" --namespace "$NAMESPACE" --release "$RELEASE")
[[ -z $CONTEXT ]] || forward+=(--context "$CONTEXT")
if "${forward[@]}" status >/dev/null; then
	log "port-forwards already running; leaving them as they are"
else
	if ((!KEEP_FORWARD)); then
		trap '"${forward[@]}" stop >/dev/null || true' EXIT
	fi
	"${forward[@]}" start || fail port-forward "cannot forward the APIs to localhost:$API_PORT and :$QUERY_PORT"
fi

# 3. The live end-to-end tests. Their subtests are named after the
# component they exercise (api, query, projector).
out=$(mktemp "${TMPDIR:-/tmp}/soma-run-ci.XXXXXX")
log "end-to-end tests against http://localhost:$API_PORT and http://localhost:$QUERY_PORT (output also in $out)"
set +e
(cd "$ROOT" && SOMA_E2E_URL=http://127.0.0.1:$API_PORT SOMA_E2E_QUERY_URL=http://127.0.0.1:$QUERY_PORT SOMA_E2E_REQUIRED=1 \
	"$GO" test -count=1 -v -run '^TestLive' ./cmd/soma/) 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
if ((rc != 0)); then
	failed=$(sed -nE 's/^ *--- FAIL: TestLive[A-Za-z]*\/([a-z]+).*/\1/p' "$out" | sort -u | tr '\n' ' ')
	failed=${failed% }
	if [[ -z $failed ]]; then
		fail e2e "the end-to-end tests did not run to completion (exit $rc; output above and in $out)"
	fi
	for c in $failed; do diagnose "$c"; done
	fail "${failed// /, }" "end-to-end tests failed (output above and in $out)"
fi
rm -f "$out"
log "PASSED: every workload of $RELEASE is ready and the end-to-end tests pass"
