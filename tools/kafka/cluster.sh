#!/usr/bin/env bash
# A 3-node Apache Kafka 3.9 cluster (KRaft: each node broker + controller, one quorum of 3) on
# 127.0.0.1, from the same Maven Central jars as broker.sh (common.sh fetches them).
#
#   tools/kafka/cluster.sh start|stop [N]|status|kill N|restart N|resume [N]|bootstrap|fetch
#
#   start      formats fresh storage for the 3 nodes and starts them; waits until each answers
#   stop [N]   SIGTERM to every node (or node N), then waits for it to exit (SIGKILL after 30 s)
#   status     a line per node; exit 0 when all 3 run, 3 otherwise
#   kill N     kill -9 node N (a crash: its storage stays, resume brings it back)
#   restart N  stop + resume node N (SIGTERM, as an operator would)
#   resume [N] starts node N (or every stopped node) again on its storage (topics, messages,
#              committed offsets kept)
#   bootstrap  prints the bootstrap list: 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#
# Environment (all optional):
#   SEGSTREAM_CLUSTER_PORT  base port (default 29092): node N's clients use BASE+2(N-1), its
#                           controller listener the port after (so BASE..BASE+5 are taken)
#   SEGSTREAM_CLUSTER_DIR   run directory, a subdirectory per node (default .kafka/cluster-BASE)
#   SEGSTREAM_CLUSTER_HEAP  JVM heap of each node (default 384M: 3 JVMs and the tests on 2 cores)
#   SEGSTREAM_KAFKA_CACHE   where the jars are kept (common.sh)
#
# Topics get 3 replicas and min.insync.replicas=2 by default here (the offsets and transaction
# topics too), so one node may be down with nothing lost: acks=all still succeeds on 2.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log_prefix=cluster.sh
# shellcheck source=common.sh
. "$here/common.sh"
base=${SEGSTREAM_CLUSTER_PORT:-29092}
rundir=${SEGSTREAM_CLUSTER_DIR:-$repo/.kafka/cluster-$base}
heap=${SEGSTREAM_CLUSTER_HEAP:-384M}
nodes=(1 2 3)

port_of() { echo $((base + 2 * ($1 - 1))); }
cport_of() { echo $((base + 2 * ($1 - 1) + 1)); }
dir_of() { echo "$rundir/node$1"; }
pid_of() { cat "$(dir_of "$1")/broker.pid" 2>/dev/null; }

is_running() {
	local pid; pid=$(pid_of "$1") || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

bootstrap() {
	local list="" n
	for n in "${nodes[@]}"; do list="$list${list:+,}127.0.0.1:$(port_of "$n")"; done
	echo "$list"
}

check_node() {
	case "${1:-}" in 1 | 2 | 3) ;; *) log "node must be 1, 2 or 3 (got '${1:-}')"; exit 2 ;; esac
}

write_config() {
	local n=$1 dir voters="" m
	dir=$(dir_of "$n")
	for m in "${nodes[@]}"; do voters="$voters${voters:+,}$m@127.0.0.1:$(cport_of "$m")"; done
	mkdir -p "$dir/data"
	{
		server_properties "$n" "$voters" "PLAINTEXT://127.0.0.1:$(port_of "$n")" "$(cport_of "$n")" \
			CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT "$dir/data" 3
		cat <<PROPS
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
PROPS
	} > "$dir/server.properties"
	write_log4j "$dir"
}

# Starts node N's JVM on its configuration and storage (does not wait).
launch() {
	local n=$1 dir
	dir=$(dir_of "$n")
	kafka_java "$heap" "$dir" small
	: > "$dir/server.log" # the start-up line is looked for in this run's log only
	nohup "${java[@]}" kafka.Kafka "$dir/server.properties" > "$dir/stdout.log" 2>&1 < /dev/null &
	echo $! > "$dir/broker.pid"
}

# Waits until node N has started and answers on its client port (a quorum needs 2 nodes up).
wait_up() {
	local n=$1 dir waited=0
	dir=$(dir_of "$n")
	until grep -q 'Kafka Server started' "$dir/server.log" 2>/dev/null && port_answers "$(port_of "$n")"; do
		if ! is_running "$n"; then
			log "node $n exited during start-up:"; tail -30 "$dir/stdout.log" "$dir/server.log" >&2 || true
			return 1
		fi
		if [ "$waited" -ge 900 ]; then log "node $n did not answer within 90 s"; return 1; fi
		sleep 0.1; waited=$((waited + 1))
	done
	log "node $n up on 127.0.0.1:$(port_of "$n") (pid $(pid_of "$n"), dir $dir)"
}

ports_free() {
	local n
	for n in "$@"; do
		if port_answers "$(port_of "$n")" || port_answers "$(cport_of "$n")"; then
			log "port $(port_of "$n") or $(cport_of "$n") (node $n) is taken by another process"; return 1
		fi
	done
}

start() {
	fetch
	local n running=0
	for n in "${nodes[@]}"; do is_running "$n" && running=$((running + 1)); done
	if [ "$running" -eq 3 ]; then log "already running on $(bootstrap)"; return 0; fi
	if [ "$running" -gt 0 ]; then log "some nodes already run: stop them first"; exit 1; fi
	ports_free "${nodes[@]}" || exit 1
	rm -rf "$rundir" && mkdir -p "$rundir"
	local id pids=()
	id=$(uuid_for_cluster)
	for n in "${nodes[@]}"; do
		write_config "$n"
		kafka_java "$heap" "$(dir_of "$n")" small
		format_storage "$(dir_of "$n")" "$id" &
		pids+=($!)
	done
	for n in "${pids[@]}"; do wait "$n" || exit 1; done
	for n in "${nodes[@]}"; do launch "$n"; done
	for n in "${nodes[@]}"; do wait_up "$n" || { stop_nodes "${nodes[@]}"; exit 1; }; done
	log "Kafka $version cluster up: $(bootstrap)"
}

resume() {
	fetch
	local todo=() n
	if [ $# -gt 0 ]; then check_node "$1"; todo=("$1"); else todo=("${nodes[@]}"); fi
	[ -f "$(dir_of "${todo[0]}")/server.properties" ] || { log "nothing to resume in $rundir: use start"; exit 1; }
	local started=()
	for n in "${todo[@]}"; do
		if is_running "$n"; then log "node $n already running (pid $(pid_of "$n"))"; continue; fi
		ports_free "$n" || exit 1
		launch "$n"
		started+=("$n")
	done
	for n in "${started[@]}"; do wait_up "$n" || exit 1; done
}

# SIGTERM to each node given at once (a controlled shutdown needs the quorum: stopping them one
# by one would leave the last waiting for a majority), then waits; SIGKILL after 30 s.
stop_nodes() {
	local n pid waited=0 left
	for n in "$@"; do
		if is_running "$n"; then kill -TERM "$(pid_of "$n")"; fi
	done
	while :; do
		left=0
		for n in "$@"; do is_running "$n" && left=$((left + 1)); done
		[ "$left" -eq 0 ] && break
		if [ "$waited" -eq 300 ]; then
			log "$left node(s) ignored SIGTERM for 30 s; killing"
			for n in "$@"; do if is_running "$n"; then kill -KILL "$(pid_of "$n")"; fi; done
		fi
		sleep 0.1; waited=$((waited + 1))
	done
	for n in "$@"; do rm -f "$(dir_of "$n")/broker.pid"; done
	log "stopped node(s) $*"
}

kill_node() {
	check_node "${1:-}"
	if ! is_running "$1"; then log "node $1 is not running"; exit 1; fi
	local pid; pid=$(pid_of "$1")
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	log "node $1 killed (kill -9, pid $pid)"
}

status() {
	local n all=0
	for n in "${nodes[@]}"; do
		if is_running "$n"; then
			echo "node $n running pid $(pid_of "$n") port $(port_of "$n")"
		else
			echo "node $n stopped port $(port_of "$n")"; all=3
		fi
	done
	return "$all"
}

case "${1:-}" in
	start) start ;;
	stop) if [ $# -gt 1 ]; then check_node "$2"; stop_nodes "$2"; else stop_nodes "${nodes[@]}"; fi ;;
	status) status ;;
	kill) kill_node "${2:-}" ;;
	restart) check_node "${2:-}"; stop_nodes "$2"; resume "$2" ;;
	resume) shift; resume "$@" ;;
	bootstrap) bootstrap ;;
	fetch) fetch ;;
	*) echo "usage: $0 start|stop [N]|status|kill N|restart N|resume [N]|bootstrap|fetch" >&2; exit 2 ;;
esac
