#!/usr/bin/env bash
# test-services.sh up|down|status
#
# Starts, stops and reports the real services the test suite needs, all on
# loopback, with throwaway data:
#   PostgreSQL 15  127.0.0.1:55432  (Debian package, run as the postgres user)
#   Redis 7        127.0.0.1:56379  (Debian package, no persistence)
#   Kafka 4.x      127.0.0.1:59092  (KRaft, single node; jars fetched from
#                                    Maven Central once into the cache)
#
# up      installs what is missing, starts what is not running, waits until
#         each service answers, and writes $STATE/env (shell `export` lines
#         read by internal/testenv). Running it twice is harmless.
# down    stops what up started (pid files in the state dir only) and deletes
#         the state dir; the download cache stays.
# status  tells what runs; exits 0 only when all three run.
#
# Environment:
#   SOMA_TEST_STATE_DIR  state dir (default <repo>/.test-services)
#   SOMA_CACHE_DIR       download cache kept across runs (default ~/.cache/soma)
#   SOMA_TEST_PG_PORT, SOMA_TEST_REDIS_PORT, SOMA_TEST_KAFKA_PORT,
#   SOMA_TEST_KAFKA_CONTROLLER_PORT   override the ports
#   SOMA_KAFKA_VERSION   Kafka release from Maven Central (default below)
#   SOMA_KAFKA_READY_TIMEOUT  seconds to wait for the broker (default 120)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SOMA_TEST_STATE_DIR:-$REPO/.test-services}
CACHE=${SOMA_CACHE_DIR:-$HOME/.cache/soma}
HOST=127.0.0.1

PG_PORT=${SOMA_TEST_PG_PORT:-55432}
REDIS_PORT=${SOMA_TEST_REDIS_PORT:-56379}
KAFKA_PORT=${SOMA_TEST_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${SOMA_TEST_KAFKA_CONTROLLER_PORT:-59093}

KAFKA_VERSION=${SOMA_KAFKA_VERSION:-4.1.2}
SLF4J_VERSION=2.0.17
LOG4J_VERSION=2.25.3
DEPENDENCY_PLUGIN_VERSION=3.8.1
KAFKA_READY_TIMEOUT=${SOMA_KAFKA_READY_TIMEOUT:-120}
KAFKA_HEAP="-Xms256m -Xmx512m"

PG_BIN=/usr/lib/postgresql/15/bin
MARKER=.soma-test-services
ENV_FILE=$STATE/env

# ---------------------------------------------------------------- helpers

log() { printf 'test-services: %s\n' "$*"; }
warn() { printf 'test-services: WARNING: %s\n' "$*" >&2; }
die() {
	printf '\ntest-services: ERROR: %s\n\n' "$*" >&2
	exit 1
}

now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

port_owner() {
	if command -v ss >/dev/null; then
		ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
	fi
}

# require_free_port NAME PORT: fail loudly when a process we did not start
# already listens on PORT.
require_free_port() {
	if port_open "$HOST" "$2"; then
		die "$1: port $HOST:$2 is already in use by a process this script did not start:
$(port_owner "$2")
Stop it, or pick another port with the SOMA_TEST_*_PORT variables."
	fi
}

# pid_matches PID COMM [CMDLINE_SUBSTRING]: PID is alive, its command name
# is COMM and (optionally) its command line contains the substring. This
# guards against pid files whose process is gone and whose pid was reused.
pid_matches() {
	local pid=$1 comm=$2 needle=${3:-}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
	if [[ -n $needle ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle" || return 1
	fi
}

# proc_state PID: the one-letter state from /proc/PID/stat (empty when
# PID does not exist). The command name may hold spaces and parentheses,
# so the fields are read after the last ')'.
proc_state() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	printf '%s' "${stat%% *}"
}

# alive PID: the process exists and is not a zombie (a child of this
# script that exited stays a zombie until reaped, and kill -0 still works).
alive() {
	local st
	st=$(proc_state "$1")
	[[ -n $st && $st != Z ]]
}

# child_pids PID: the direct children of PID, from /proc.
child_pids() {
	local f stat rest
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		rest=${stat##*) }
		rest=${rest#* }
		if [[ ${rest%% *} == "$1" ]]; then
			f=${f#/proc/}
			printf '%s\n' "${f%/stat}"
		fi
	done
}

read_pid() {
	if [[ -f $1 ]]; then head -n1 "$1" | tr -d '[:space:]'; fi
}

rss_mib() {
	awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

# tree_rss_mib PID: resident memory of PID and its direct children.
tree_rss_mib() {
	local total=0 p kb
	for p in "$1" $(child_pids "$1"); do
		kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
		total=$((total + ${kb:-0}))
	done
	echo $((total / 1024))
}

# wait_pid_exit PID SECONDS: true when PID is gone before the deadline.
wait_pid_exit() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# stop_pid NAME PID SECONDS: SIGTERM, then SIGKILL after the deadline.
stop_pid() {
	local name=$1 pid=$2 grace=$3
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! wait_pid_exit "$pid" "$grace"; then
		warn "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_pid_exit "$pid" 10 || die "$name (pid $pid) survived SIGKILL"
	fi
}

show_log_tail() {
	if [[ -f $1 ]]; then
		printf -- '----- last %s lines of %s -----\n' "${2:-40}" "$1" >&2
		tail -n "${2:-40}" "$1" >&2
		printf -- '-----\n' >&2
	fi
}

ensure_state_dir() {
	if [[ -d $STATE && ! -f $STATE/$MARKER ]] && [[ -n $(ls -A "$STATE") ]]; then
		die "state dir $STATE exists, is not empty and was not made by this script; refusing to use it"
	fi
	mkdir -p "$STATE"
	touch "$STATE/$MARKER"
	chmod 755 "$STATE"
}

# take_lock: one up/down/status at a time per state dir.
take_lock() {
	mkdir -p "$CACHE/locks"
	local key
	key=$(printf '%s' "$STATE" | sha256sum | cut -c1-16)
	exec 9>"$CACHE/locks/state-$key.lock"
	if ! flock -n 9; then
		log "waiting for another test-services.sh on $STATE to finish"
		flock -w 600 9 || die "another test-services.sh holds $CACHE/locks/state-$key.lock for over 10 minutes"
	fi
}

# ----------------------------------------------------------- installation

apt_install() {
	log "installing Debian packages: $*"
	local t0 added_policy=0
	t0=$(now)
	[[ $(id -u) -eq 0 ]] || die "installing $* needs root (apt-get); install them by hand or run as root"
	# Keep the packages' own services (postgres on 5432, redis on 6379)
	# from starting: this script runs its own throwaway instances.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		added_policy=1
	fi
	local rc=0
	{
		DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
	} >"$CACHE/apt.log" 2>&1 || rc=$?
	if ((added_policy)); then rm -f /usr/sbin/policy-rc.d; fi
	if ((rc != 0)); then
		show_log_tail "$CACHE/apt.log" 30
		die "apt-get install $* failed (exit $rc); full log in $CACHE/apt.log"
	fi
	log "installed $* in $(since "$t0")"
}

ensure_packages() {
	local missing=()
	[[ -x $PG_BIN/postgres && -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] || missing+=(postgresql-15)
	{ command -v redis-server && command -v redis-cli; } >/dev/null || missing+=(redis-server)
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || missing+=(maven)
	if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
	command -v runuser >/dev/null || die "runuser (util-linux) is missing"
	id postgres >/dev/null 2>&1 || die "the postgres user does not exist although postgresql-15 is installed"
	command -v go >/dev/null || die "go is not on PATH (needed to build the Kafka readiness probe)"

	local major
	major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2 }')
	if ! [[ ${major%%.*} =~ ^[0-9]+$ ]] || ((${major%%.*} < 17)); then
		die "Kafka $KAFKA_VERSION needs Java 17 or newer; java on PATH is '${major:-unknown}'"
	fi
}

kafka_home() { printf '%s' "$CACHE/kafka-$KAFKA_VERSION"; }

# ensure_kafka_jars fetches the broker's runtime jars into the cache once.
ensure_kafka_jars() {
	local home
	home=$(kafka_home)
	[[ -f $home/.complete ]] && return 0
	mkdir -p "$home"
	exec 8>"$home.lock"
	flock -w 900 8 || die "kafka: could not lock $home.lock"
	if [[ -f $home/.complete ]]; then
		exec 8>&-
		return 0
	fi
	log "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central into $home (once)"
	local t0
	t0=$(now)
	cat >"$home/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/test-services.sh: the runtime classpath of a
     Kafka $KAFKA_VERSION broker (kafka_2.13 holds kafka.Kafka and
     kafka.tools.StorageTool), with log4j2 as the slf4j binding. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.soma.testservices</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- scala-logging would otherwise pull slf4j 1.7, which ignores the
         slf4j2 binding below. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>$DEPENDENCY_PLUGIN_VERSION</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
	rm -rf "$home/libs" "$home/libs.tmp"
	if ! (cd "$home" && mvn -B -q -Dmaven.repo.local="$CACHE/m2" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=libs.tmp) >"$home/mvn.log" 2>&1; then
		show_log_tail "$home/mvn.log" 40
		die "kafka: fetching Kafka $KAFKA_VERSION with Maven failed; full log in $home/mvn.log"
	fi
	[[ -f $home/libs.tmp/kafka_2.13-$KAFKA_VERSION.jar ]] ||
		die "kafka: Maven finished but $home/libs.tmp has no kafka_2.13-$KAFKA_VERSION.jar"
	mv "$home/libs.tmp" "$home/libs"
	touch "$home/.complete"
	exec 8>&-
	log "kafka: fetched $(find "$home/libs" -name '*.jar' | wc -l) jars ($(du -sh "$home/libs" | cut -f1)) in $(since "$t0")"
}

# ------------------------------------------------------------- PostgreSQL

# The data lives under the state dir when the postgres user can reach it
# and the socket path fits in a sockaddr_un; otherwise under /tmp. The
# chosen dir is recorded in $STATE/postgres.dir for status and down.
pg_base() { read_pid "$STATE/postgres.dir"; }

pg_pid() {
	local base pid
	base=$(pg_base)
	[[ -n $base ]] || return 1
	pid=$(read_pid "$base/data/postmaster.pid")
	pid_matches "$pid" postgres "$base/data" || return 1
	printf '%s' "$pid"
}

pg_choose_base() {
	local base=$STATE/postgres
	mkdir -p "$base"
	chown postgres:postgres "$base"
	if ! runuser -u postgres -- test -w "$base" || ((${#base} > 80)); then
		base=$(mktemp -d /tmp/soma-test-postgres.XXXXXX)
		chown postgres:postgres "$base"
		log "postgres: $STATE is not usable by the postgres user (or too long for a socket path); data in $base"
	fi
	printf '%s\n' "$base" >"$STATE/postgres.dir"
}

pg_up() {
	local t0 pid base
	t0=$(now)
	if pid=$(pg_pid); then
		log "postgres: already running (pid $pid) on $HOST:$PG_PORT"
		return 0
	fi
	require_free_port postgres "$PG_PORT"
	pg_choose_base
	base=$(pg_base)
	rm -rf "$base/data" "$base/run"
	runuser -u postgres -- mkdir -p "$base/run"
	if ! (cd "$base" && runuser -u postgres -- "$PG_BIN/initdb" -D "$base/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions) >"$base/initdb.log" 2>&1; then
		show_log_tail "$base/initdb.log" 30
		die "postgres: initdb failed; log in $base/initdb.log"
	fi
	cat >>"$base/data/postgresql.conf" <<EOF

# scripts/test-services.sh: throwaway test server, speed over durability.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$base/run'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
EOF
	if ! (cd "$base" && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$base/data" -l "$base/postgres.log" \
		-w -t 60 start) >"$base/pg_ctl.log" 2>&1 </dev/null 8>&- 9>&-; then
		cat "$base/pg_ctl.log" >&2
		show_log_tail "$base/postgres.log" 40
		die "postgres: server did not start on $HOST:$PG_PORT within 60s"
	fi
	if ! "$PG_BIN/psql" -X -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>"$base/psql.err"; then
		cat "$base/psql.err" >&2
		show_log_tail "$base/postgres.log" 40
		die "postgres: started but does not answer over TCP on $HOST:$PG_PORT"
	fi
	pid=$(pg_pid) || die "postgres: started but its postmaster.pid is not readable"
	STARTED+=(postgres)
	log "postgres: ready on $HOST:$PG_PORT (pid $pid) in $(since "$t0")"
}

pg_down() {
	local base pid
	base=$(pg_base)
	[[ -n $base ]] || return 0
	if pid=$(pg_pid); then
		if ! (cd "$base" && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$base/data" -m fast -w -t 30 stop) >/dev/null 2>&1; then
			warn "postgres: fast shutdown failed; stopping pid $pid"
			stop_pid postgres "$pid" 10
		fi
		log "postgres: stopped (pid $pid)"
	fi
	if [[ $base != "$STATE"/* && $base == /tmp/soma-test-postgres.* ]]; then
		rm -rf "$base"
	fi
}

# ------------------------------------------------------------------ Redis

redis_pid() {
	local pid
	pid=$(read_pid "$STATE/redis/redis.pid")
	pid_matches "$pid" redis-server "$HOST:$REDIS_PORT" || return 1
	printf '%s' "$pid"
}

redis_up() {
	local t0 pid deadline
	t0=$(now)
	if pid=$(redis_pid); then
		log "redis: already running (pid $pid) on $HOST:$REDIS_PORT"
		return 0
	fi
	require_free_port redis "$REDIS_PORT"
	rm -rf "$STATE/redis"
	mkdir -p "$STATE/redis"
	if ! redis-server --bind "$HOST" --port "$REDIS_PORT" --protected-mode yes \
		--save '' --appendonly no --daemonize yes \
		--pidfile "$STATE/redis/redis.pid" --logfile "$STATE/redis/redis.log" \
		--dir "$STATE/redis" >"$STATE/redis/start.log" 2>&1 </dev/null 8>&- 9>&-; then
		cat "$STATE/redis/start.log" >&2
		show_log_tail "$STATE/redis/redis.log"
		die "redis: redis-server failed to start"
	fi
	deadline=$((SECONDS + 30))
	until [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; do
		if ((SECONDS >= deadline)); then
			show_log_tail "$STATE/redis/redis.log"
			die "redis: no PONG from $HOST:$REDIS_PORT within 30s"
		fi
		sleep 0.1
	done
	pid=$(redis_pid) || die "redis: answers but its pid file $STATE/redis/redis.pid does not name it"
	STARTED+=(redis)
	log "redis: ready on $HOST:$REDIS_PORT (pid $pid, $(redis-server --version | awk '{ print $3 }')) in $(since "$t0")"
}

redis_down() {
	local pid
	if pid=$(redis_pid); then
		stop_pid redis "$pid" 10
		log "redis: stopped (pid $pid)"
	fi
}

# ------------------------------------------------------------------ Kafka

KAFKA_DIR=$STATE/kafka

kafka_pid() {
	local pid
	pid=$(read_pid "$KAFKA_DIR/kafka.pid")
	pid_matches "$pid" java "$KAFKA_DIR/server.properties" || return 1
	printf '%s' "$pid"
}

# kafka_random_cluster_id: 16 random bytes, base64url without padding, as
# kafka-storage random-uuid prints (never starting with '-').
kafka_random_cluster_id() {
	local id
	while :; do
		id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		[[ $id == -* ]] || break
	done
	printf '%s' "$id"
}

kafka_write_config() {
	cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/test-services.sh: single-node KRaft (broker+controller).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
	cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
# Written by scripts/test-services.sh.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
}

# kafka_launch formats fresh storage and starts the broker in the
# background; kafka_wait_ready then waits for it.
kafka_launch() {
	KAFKA_T0=$(now)
	local pid
	if pid=$(kafka_pid); then
		log "kafka: already running (pid $pid) on $HOST:$KAFKA_PORT"
		return 0
	fi
	require_free_port kafka "$KAFKA_PORT"
	require_free_port "kafka controller" "$KAFKA_CONTROLLER_PORT"
	rm -rf "$KAFKA_DIR"
	mkdir -p "$KAFKA_DIR/data"
	kafka_write_config
	local home cluster_id
	home=$(kafka_home)
	cluster_id=$(kafka_random_cluster_id)
	if ! java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$home/libs/*" \
		kafka.tools.StorageTool format --standalone --cluster-id "$cluster_id" \
		--config "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/format.log" 2>&1 </dev/null; then
		show_log_tail "$KAFKA_DIR/format.log" 30
		die "kafka: formatting storage failed; log in $KAFKA_DIR/format.log"
	fi
	# setsid: the broker must not die with the terminal or make's process
	# group; the pid file names the java process itself (exec).
	# shellcheck disable=SC2086,SC2016 # KAFKA_HEAP is a list of JVM flags; $$ is the inner bash's
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_DIR/kafka.pid" \
		java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
		-cp "$home/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
		>"$KAFKA_DIR/kafka.log" 2>&1 </dev/null 8>&- 9>&- &
	STARTED+=(kafka)
	log "kafka: launched Kafka $KAFKA_VERSION (cluster id $cluster_id), waiting for it in the background"
}

kafka_build_probe() {
	local t0
	t0=$(now)
	mkdir -p "$STATE/bin"
	if ! (cd "$REPO" && go build -o "$STATE/bin/kafkaready" ./internal/testenv/cmd/kafkaready) >"$STATE/bin/build.log" 2>&1; then
		cat "$STATE/bin/build.log" >&2
		die "kafka: building the readiness probe internal/testenv/cmd/kafkaready failed"
	fi
	log "kafka: readiness probe built in $(since "$t0")"
}

kafka_wait_ready() {
	local pid probe rc=0
	kafka_build_probe
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pid=$(read_pid "$KAFKA_DIR/kafka.pid")
		[[ -n $pid ]] && break
		sleep 0.1
	done
	"$STATE/bin/kafkaready" -quiet -brokers "$HOST:$KAFKA_PORT" -timeout "${KAFKA_READY_TIMEOUT}s" \
		>"$KAFKA_DIR/ready.log" 2>&1 8>&- 9>&- &
	probe=$!
	# Fail fast when the broker dies instead of waiting out the deadline.
	while kill -0 "$probe" 2>/dev/null; do
		if ! alive "$pid"; then
			kill "$probe" 2>/dev/null || true
			wait "$probe" 2>/dev/null || true
			show_log_tail "$KAFKA_DIR/kafka.log" 60
			die "kafka: the broker process exited during startup; log in $KAFKA_DIR/kafka.log"
		fi
		sleep 0.2
	done
	wait "$probe" || rc=$?
	if ((rc != 0)); then
		cat "$KAFKA_DIR/ready.log" >&2
		show_log_tail "$KAFKA_DIR/kafka.log" 60
		die "kafka: broker on $HOST:$KAFKA_PORT did not become ready within ${KAFKA_READY_TIMEOUT}s; log in $KAFKA_DIR/kafka.log"
	fi
	log "kafka: ready on $HOST:$KAFKA_PORT (pid $pid, Kafka $KAFKA_VERSION, RSS $(rss_mib "$pid") MiB) in $(since "$KAFKA_T0")"
}

kafka_down() {
	local pid
	if pid=$(kafka_pid); then
		stop_pid kafka "$pid" 30
		log "kafka: stopped (pid $pid)"
	fi
}

# --------------------------------------------------------------- commands

write_env() {
	local tmp=$ENV_FILE.tmp
	cat >"$tmp" <<EOF
# Written by scripts/test-services.sh up; removed by down.
# Load with: set -a; . $ENV_FILE; set +a
export SOMA_TEST_POSTGRES_URL="postgres://postgres@$HOST:$PG_PORT/postgres?sslmode=disable"
export SOMA_TEST_REDIS_URL="redis://$HOST:$REDIS_PORT/0"
export SOMA_TEST_KAFKA_BROKERS="$HOST:$KAFKA_PORT"
export SOMA_TEST_KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
export SOMA_TEST_POSTGRES_DATADIR="$(pg_base)/data"
export SOMA_TEST_PG_CTL="$PG_BIN/pg_ctl"
EOF
	mv "$tmp" "$ENV_FILE"
}

# On a failed up, stop what this invocation started and keep the logs.
STARTED=()
cleanup_failed_up() {
	local rc=$?
	((rc != 0)) || return 0
	set +e
	rm -f "$ENV_FILE"
	local s
	for s in "${STARTED[@]}"; do
		case $s in
		kafka) kafka_down ;;
		redis) redis_down ;;
		postgres) pg_down ;;
		esac
	done
	printf 'test-services: up failed; stopped what it had started; logs stay in %s (scripts/test-services.sh down removes them)\n' "$STATE" >&2
	exit "$rc"
}

cmd_up() {
	local t0
	t0=$(now)
	take_lock
	ensure_state_dir
	trap cleanup_failed_up EXIT
	ensure_packages
	ensure_kafka_jars
	# Kafka boots slowest, so it starts first and is waited for last.
	kafka_launch
	pg_up
	redis_up
	kafka_wait_ready
	write_env
	trap - EXIT
	log "all services ready in $(since "$t0"); env in $ENV_FILE"
}

cmd_down() {
	local t0
	t0=$(now)
	take_lock
	if [[ ! -d $STATE ]]; then
		log "nothing to stop ($STATE does not exist)"
		return 0
	fi
	[[ -f $STATE/$MARKER ]] || die "$STATE was not made by this script; refusing to stop or delete anything there"
	rm -f "$ENV_FILE"
	kafka_down
	redis_down
	pg_down
	rm -rf "$STATE"
	log "down in $(since "$t0"); removed $STATE (cache $CACHE kept)"
}

cmd_status() {
	local pid all=0 base
	if pid=$(pg_pid); then
		log "postgres: running  pid $pid  $HOST:$PG_PORT  RSS $(tree_rss_mib "$pid") MiB (postmaster + children)  data $(pg_base)/data"
	else
		log "postgres: stopped"
		all=1
	fi
	if pid=$(redis_pid); then
		log "redis:    running  pid $pid  $HOST:$REDIS_PORT  RSS $(rss_mib "$pid") MiB"
	else
		log "redis:    stopped"
		all=1
	fi
	if pid=$(kafka_pid); then
		log "kafka:    running  pid $pid  $HOST:$KAFKA_PORT  RSS $(rss_mib "$pid") MiB  Kafka $KAFKA_VERSION  log $KAFKA_DIR/kafka.log"
	else
		log "kafka:    stopped"
		all=1
	fi
	if [[ -f $ENV_FILE ]]; then
		log "env file: $ENV_FILE"
	else
		log "env file: absent"
	fi
	base=$(kafka_home)
	if [[ -f $base/.complete ]]; then
		log "cache:    $base ($(du -sh "$base/libs" | cut -f1))"
	else
		log "cache:    Kafka $KAFKA_VERSION not fetched yet ($base)"
	fi
	return "$all"
}

usage() {
	echo "usage: $0 up|down|status" >&2
	exit 2
}

help() {
	echo "Usage: ${0##*/} up|down|status"
	echo
	sed -n '4,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[0]}"
}

[[ $# -eq 1 ]] || usage
case $1 in
-h | --help) help ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*) usage ;;
esac
