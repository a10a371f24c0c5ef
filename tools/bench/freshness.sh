#!/usr/bin/env bash
# Freshness against a real Kafka 3.9 broker (not part of the default test suite; BENCHMARKS.md):
#   bash tools/bench/freshness.sh [--scale mid|full] [--users N] [--seconds S] [--orders N]
#                                 [--brokers HOST:PORT] [--quick]
# 1. gen (mid: 40,000 customers; full: 206,209), then the history's first part into the broker and
#    a full catch-up of the consumer (timed);
# 2. the rest of the same history, continued exactly where the catch-up stopped (replay --skip), at
#    fixed rates of 10K, 100K and 500K events/s (S seconds each, 500K: 0.4 S) with the produce-time
#    header, a freshly started consumer (fsync on, default batches) caught up beside it: its
#    summary gives p50/p99/max of produce -> committed per rate. A stamp is per Kafka message: in
#    replay's default encoding (BENCH_ENCODING=order) a message is an order, every one is stamped
#    (about one header per 10 events), and the figures are per order; with BENCH_ENCODING=line a
#    message is a line and one in BENCH_STAMP_EVERY (10) is stamped (a header costs the producer
#    ~4 us, which at every line halves what it can send), the figures per line;
# 3. the incremental update: `serve` beside the consumer, N orders of 10 lines for one customer
#    each, produced one at a time (one message per order, or per line with BENCH_ENCODING=line),
#    and GET /customers/{id} polled until it shows the order (tools/bench/freshness_probe.py):
#    p50/p99/max;
# 4. beside it, the time pandas (the seed's method) and DuckDB (one query) need to recompute every
#    customer (tools/bench/engines.py).
# --quick: 2,000 customers, S = 0.5, 20 orders (a smoke test, < 60 s on a running broker).
# Without --brokers it starts its own broker on BENCH_KAFKA_PORT (39292) in BENCH_DIR.
# BENCH_CONSUME_ARGS: more flags for the live consumers (e.g. "--batch-ms 50"; "--log-level debug" logs
# each batch's latency split: produce -> fetched, batch wait, LMDB put and commit, free list).
# BENCH_APPEND_TIME=1: the events topic keeps the broker's append time (LogAppendTime) once the history
# is in, so that the debug lines split produce -> fetched at the broker append.
# BENCH_KEEP=1 keeps the work directory (data, state, the broker's logs, every process's output) at exit.
# The set-up's writes (gen's CSVs, ~670 MiB at full scale, and the history in the broker's log) are
# flushed (`sync`) before the catch-up and before the live phases: else the kernel writes them back
# 30 s after they were made (vm.dirty_expire_centisecs), in whichever phase that falls, and every
# fsync of the consumer waits behind them (BENCHMARKS.md, tenth session). BENCH_NO_SYNC=1 skips it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
. tools/bench/common.sh
users=40000 seconds=10 orders=1000 brokers="" quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--scale) case $2 in mid) users=40000 ;; full) users=206209 ;; *) echo "--scale mid|full" >&2; exit 2 ;; esac; shift ;;
	--users) users=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--orders) orders=$2; shift ;;
	--brokers) brokers=$2; shift ;;
	--quick) quick=1 users=2000 seconds=0.5 orders=20 ;;
	*) echo "usage: freshness.sh [--scale mid|full] [--users N] [--seconds S] [--orders N] [--brokers B] [--quick]" >&2
		exit 2 ;;
	esac
	shift
done
port=${BENCH_KAFKA_PORT:-39292}
http=${BENCH_HTTP_PORT:-38180}
work=${BENCH_DIR:-/tmp/segstream-freshness-$$}
py=${BENCH_PYTHON:-$repo/.venv/bin/python}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
	bench_cleanup
}
trap cleanup EXIT
bench_setup
encoding=${BENCH_ENCODING:-order}
case $encoding in order | line) ;; *) echo "freshness: BENCH_ENCODING=$encoding is not order or line" >&2; exit 2 ;; esac
run=fresh-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--dlq-topic "$run.dlq")
replay_topics=("${topics[@]}" --encoding "$encoding")

# wait_http PORT PATH: until it answers 200 (at most 120 s).
wait_http() {
	local i
	for i in $(seq 1200); do
		curl -sf -o /dev/null "http://127.0.0.1:$1$2" && return 0
		sleep 0.1
	done
	echo "freshness: http://127.0.0.1:$1$2 never answered 200" >&2
	exit 1
}
# metric NAME: its value on the consumer's /metrics.
metric() { curl -sf "http://127.0.0.1:$http/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
# start_consumer NAME: consume --http in the background, caught up (/ready) when it returns.
start_consumer() {
	# shellcheck disable=SC2086 # BENCH_CONSUME_ARGS is a list of flags
	"$seg" consume --state "$work/state" --brokers "$brokers" "${topics[@]}" --http "127.0.0.1:$http" \
		--ready-lag 0 ${BENCH_CONSUME_ARGS:-} > "$work/$1.out" 2> "$work/$1.err" &
	consumer=$!
	pids+=("$consumer")
	wait_http "$http" /ready
}
# stop_consumer NAME EVENTS STAMPED: once it has read EVENTS events this run, SIGTERM; prints its
# freshness and fails unless exactly STAMPED stamped messages were measured (its summary's
# "stamped events" counts messages: an order's lines once).
stop_consumer() {
	local i line
	for i in $(seq 1200); do
		[ "$(metric segstream_events_read_total)" -ge "$2" ] 2> /dev/null && break
		sleep 0.1
	done
	kill -TERM "$consumer"
	wait "$consumer" || { tail "$work/$1.err"; echo "freshness: the consumer failed" >&2; exit 1; }
	line=$(grep -h 'consume: stamped events' "$work/$1.out") || line="consume: stamped events 0"
	echo "$line"
	[ "$(echo "$line" | awk '{ print $4 + 0 }')" = "$3" ] \
		|| { echo "freshness: $1: expected $3 stamped messages" >&2; exit 1; }
}

echo "== freshness: $users customers, broker $brokers, $(nproc) cores, $(date -u +%FT%TZ), encoding $encoding =="
"$seg" gen --users "$users" --out "$work/data" --catalog data/instacart > "$work/gen.out"
total=$(sed -n 's/.* orders, \([0-9]*\) prior lines.*/\1/p' "$work/gen.out")
n10=$(awk -v s="$seconds" 'BEGIN { printf "%d", 10000 * s }')
n100=$(awk -v s="$seconds" 'BEGIN { printf "%d", 100000 * s }')
n500=$(awk -v s="$seconds" 'BEGIN { printf "%d", 500000 * s * 0.4 }')
history=$((total - n10 - n100 - n500))
[ "$history" -gt 0 ] || { echo "freshness: $total events are too few for --seconds $seconds" >&2; exit 1; }
echo "history $total events: catch-up $history, then $n10 at 10K/s, $n100 at 100K/s, $n500 at 500K/s"

# 1. The history's first part, and the full catch-up.
"$seg" replay --data "$work/data" --brokers "$brokers" "${replay_topics[@]}" --limit "$history" \
	> "$work/replay-history.out" 2> "$work/replay-history.err"
if [ -n "${BENCH_APPEND_TIME:-}" ]; then
	"$py" - "$brokers" "$run.events" <<- 'EOF'
		import sys
		from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
		admin = AdminClient({"bootstrap.servers": sys.argv[1]})
		entry = ConfigEntry("message.timestamp.type", "LogAppendTime",
		                    incremental_operation=AlterConfigOpType.SET)
		res = ConfigResource(ConfigResource.Type.TOPIC, sys.argv[2], incremental_configs=[entry])
		for f in admin.incremental_alter_configs([res]).values():
		    f.result()
	EOF
fi
bench_flush
"$seg" consume --state "$work/state" --brokers "$brokers" "${topics[@]}" --exit-at-end > "$work/catchup.out" \
	2> "$work/catchup.err"
grep -h 'consume: [0-9.]* s' "$work/catchup.out" | sed 's/^consume:/catch-up:/'
bench_flush

# 2. The rest at fixed rates. A live producer lingers 5 ms (librdkafka's default; the replay's 20 ms
#    is for throughput).
offset=$history
every=${BENCH_STAMP_EVERY:-10}
[ "$encoding" = line ] || every=1 # an order message each: every one stamped
echo "stamps: one per $([ "$encoding" = line ] && echo "$every lines" || echo "order message"): figures per $(
	[ "$encoding" = line ] && echo line || echo order)"
for phase in "10000 $n10" "100000 $n100" "500000 $n500"; do
	read -r rate n <<< "$phase"
	start_consumer "rate-$rate"
	"$seg" replay --data "$work/data" --brokers "$brokers" "${replay_topics[@]}" --skip "$offset" --limit "$n" \
		--rate "$rate" --stamp-every "$every" -X linger.ms=5 > "$work/replay-$rate.out" 2> "$work/replay-$rate.err"
	produced=$(sed -n 's/.*produce \([0-9.]*\) s, \([0-9]*\) events\/s).*/\2/p' "$work/replay-$rate.out")
	# Stamped messages: one in `every` lines, or each order message the replay sent (its own count).
	stamped=$(((n + every - 1) / every))
	[ "$encoding" = line ] || stamped=$(sed -n 's/^replay: encoding order: \([0-9]*\) messages.*/\1/p' "$work/replay-$rate.out")
	printf 'rate %7d ev/s (replay held %s ev/s): ' "$rate" "$produced"
	stop_consumer "rate-$rate" "$n" "$stamped"
	offset=$((offset + n))
done

# 3. The incremental update through serve.
start_consumer probe
"$seg" serve --state "$work/state" --http "127.0.0.1:$((http + 1))" > "$work/serve.out" 2> "$work/serve.err" &
server=$!
pids+=("$server")
wait_http $((http + 1)) "/customers/1"
"$py" tools/bench/freshness_probe.py --encoding "$encoding" "$brokers" "$run.events" $((http + 1)) "$users" "$orders"
printf 'probe orders in the consumer: '
probe_stamped=$(((orders + 1) * 10))
[ "$encoding" = line ] || probe_stamped=$((orders + 1))
stop_consumer probe $(((orders + 1) * 10)) "$probe_stamped"
kill -TERM "$server"
wait "$server" || true

# 4. What a batch recompute costs instead (BENCH_NO_ORACLE=1: skipped): the seed's method in pandas
#    and the same result in one DuckDB query (tools/bench/engines.py, as the one-run table measures them).
if [ -z "${BENCH_NO_ORACLE:-}" ]; then
	for engine in pandas duckdb; do
		/usr/bin/time -f '%e %U %S %M' -o "$work/$engine.time" \
			"$py" tools/bench/engines.py "$engine" "$work/data" "$work/$engine.csv" > /dev/null
		read -r wall user sys rss < "$work/$engine.time"
		echo "$engine (tools/bench/engines.py), every customer recomputed from the CSVs: $wall s wall, \
$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') CPU-s, $((rss / 1024)) MiB peak RSS"
	done
fi
