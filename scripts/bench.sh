#!/usr/bin/env bash
# make bench: Go microbenchmarks of the hot paths, then the HTTP harness
# (soma bench) against `soma serve` on the embedded default and, when the
# test services are up (.test-services/env), against the evented stack
# (real Kafka, Postgres, Redis; in-process Qdrant double and registry fake
# are not available to a separate process, so the evented run uses
# direct writes to Postgres + Redis + embedded vectors and Kafka when a
# registry URL is given in SOMA_BENCH_REGISTRY_URL).
# Results go to bench-results/ as JSON, with a summary on stdout.
#
# Usage: scripts/bench.sh   (no arguments; BENCH_OUT changes the output dir)
set -euo pipefail
case ${1:-} in
-h | --help)
	sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
	exit 0
	;;
"") ;;
*)
	echo "usage: ${0##*/} [--help]   (no arguments; see --help)" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench-results}
mkdir -p "$out"
go build -o bin/soma ./cmd/soma

echo "== Go microbenchmarks"
go test -run '^$' -bench . -benchtime 1s -benchmem \
	./domain/ ./internal/embedding/ ./schemas/ ./internal/vectorindex/ | tee "$out/micro.txt"

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

run_serve() { # name, env...
	local name=$1; shift
	local api qry dir pid
	api=$(port); qry=$(port); dir=$(mktemp -d)
	env "$@" SOMA_DATA_DIR="$dir" SOMA_API_ADDR="127.0.0.1:$api" SOMA_QUERY_ADDR="127.0.0.1:$qry" \
		SOMA_RATE_LIMIT_MAX=0 SOMA_LOG_LEVEL=warn bin/soma serve >"$out/$name-serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	local url=http://127.0.0.1:$api q=http://127.0.0.1:$qry
	echo "== $name: ingest --batch 1000"
	bin/soma bench ingest --url "$url" --n 50000 --batch 1000 --concurrency 2 --json >"$out/$name-ingest-1000.json" || true
	echo "== $name: ingest --batch 100"
	bin/soma bench ingest --url "$url" --n 20000 --batch 100 --concurrency 4 --json >"$out/$name-ingest-100.json" || true
	echo "== $name: single /store at 64 clients"
	bin/soma bench ingest --url "$url" --n 10000 --batch 1 --concurrency 64 --json >"$out/$name-store-64.json" || true
	echo "== $name: recall at 10k"
	bin/soma bench recall --url "$url" --query-url "$q" --load 10000 --requests 3000 --json >"$out/$name-recall-10k.json" || true
	echo "== $name: write→visible with token"
	bin/soma bench e2e --url "$url" --query-url "$q" --rate 300 --duration 10s --json >"$out/$name-e2e.json" || true
	kill "$pid"; wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}

run_serve embedded
if [ -f .test-services/env ]; then
	set -a
	# shellcheck disable=SC1091 # written by scripts/test-services.sh up
	. .test-services/env
	set +a
	run_serve postgres-redis POSTGRES_URL="$SOMA_TEST_POSTGRES_URL" SOMA_POSTGRES_SCHEMA=bench_$$ \
		REDIS_URL="$SOMA_TEST_REDIS_URL" SOMA_REDIS_PREFIX=bench$$
fi
python3 - "$out" <<'PY'
import json, glob, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        r = json.load(open(f))
    except Exception:
        continue
    t = r.get("throughput", {}); l = r.get("latency", {})
    print(f"{os.path.basename(f):36s} {json.dumps(t)[:80]:80s} p50={l.get('p50')} p99={l.get('p99')} errors={r.get('errors')}")
PY
