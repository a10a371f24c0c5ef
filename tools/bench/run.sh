#!/usr/bin/env bash
# Full-scale benchmarks against a real Kafka 3.9 broker (not part of the default test suite):
#   bash tools/bench/run.sh [USERS]          (default 206,209 customers, ~32.4M prior lines)
# Prints one line per figure; BENCHMARKS.md records them with the machine they ran on.
# BENCH_ENCODING: the replays' encoding, order (replay's default: one message per order) or line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
users=${1:-206209}
port=${BENCH_KAFKA_PORT:-39092}
work=${BENCH_DIR:-/tmp/segstream-bench}
brokers=127.0.0.1:$port
encoding=${BENCH_ENCODING:-order}
bash tools/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.cmake.log 2>&1 || { cat build.cmake.log; exit 1; }
cmake --build build/release -j "$(nproc)" > /dev/null
seg=$repo/build/release/tools/segstream
rm -rf "$work" && mkdir -p "$work"
export SEGSTREAM_KAFKA_PORT=$port SEGSTREAM_KAFKA_DIR=$work/kafka
tools/kafka/broker.sh start
trap 'tools/kafka/broker.sh stop' EXIT

# measure NAME COMMAND...: runs it under /usr/bin/time, keeps its output in $work/NAME.out
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" \
		|| { echo "$name failed:"; tail -20 "$work/$name.err" "$work/$name.out"; exit 1; }
	read -r wall rss < "$work/$name.time"
	printf '%-10s %8.2f s wall  %7.0f MiB peak RSS   %s\n' "$name" "$wall" "$((rss / 1024))" \
		"$(grep -h -E '^(gen|replay|consume|backfill): .*(events/s|customers| s \()' "$work/$name.out" | tr '\n' ' ')"
}

echo "== $users customers, broker $brokers, $(nproc) cores, replay --encoding $encoding =="
measure gen "$seg" gen --users "$users" --out "$work/data" --catalog data/instacart
measure replay "$seg" replay --data "$work/data" --brokers "$brokers" --encoding "$encoding"
sync # the replay leaves GBs of broker logs to write back; a consumer started at once is slower
sleep 5
measure consume "$seg" consume --state "$work/state" --brokers "$brokers" --exit-at-end
grep -h 'batch commit' "$work/consume.out"

measure snapshot "$seg" snapshot --state "$work/state" --out "$work/snapshots"
# Batch commit latency while snapshots run beside the consumer (every 2 s) vs without.
measure consume-snap "$seg" consume --state "$work/state-snap" --brokers "$brokers" --exit-at-end \
	--snapshot-dir "$work/snapshots-live" --snapshot-every 2
grep -h 'batch commit' "$work/consume.out" | sed 's/^/without snapshots: /'
grep -h 'batch commit' "$work/consume-snap.out" | sed 's/^/with snapshots:    /'
grep -h 'snapshots published' "$work/consume-snap.out"
# Backfill three times once the disk has settled (see above); BENCHMARKS.md gives the median.
sync
sleep 5
for run in 1 2 3; do
	rm -rf "$work/backfill"
	measure backfill "$seg" backfill --data "$work/data" --state "$work/backfill" --brokers "$brokers"
done

# End to end: replay and consumer together, from nothing to the final state of the whole history.
# The replay stands in for producers that would run elsewhere; on these 2 shared cores it runs
# at nice 10 so that the consumer (what is measured) keeps up with it. Also measured at equal
# priority (e2e-equal): then the consumer finishes a second or two after the replay.
# end_to_end NAME NICENESS
end_to_end() {
	local name=$1 niceness=$2
	local topics=(--topic "$name.events" --products-topic "$name.products" --customers-topic "$name.customers")
	local start end
	start=$(date +%s.%N)
	"$seg" consume --state "$work/$name-state" --brokers "$brokers" "${topics[@]}" \
		--exit-at-end --idle-ms 3000 > "$work/$name-consume.out" 2> "$work/$name-consume.err" &
	local consumer=$!
	nice -n "$niceness" "$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --encoding "$encoding" \
		> "$work/$name-replay.out" 2> "$work/$name-replay.err"
	local replay_end
	replay_end=$(date +%s.%N)
	wait $consumer
	end=$(date +%s.%N)
	printf '%-10s %8.2f s wall (replay start to final state, less the 3 s idle check; replay at nice %d ended at %.2f s)\n' \
		"$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a - 3 }')" "$niceness" \
		"$(awk -v a="$start" -v b="$replay_end" 'BEGIN { print b - a }')"
	grep -h 'consume: events' "$work/$name-consume.out"
}
sync
sleep 5
# Three rounds: the broker's JVM is still compiling its hot paths during the first ones (its
# CPU per run fell from 14 to 9 seconds over five consecutive runs); BENCHMARKS.md gives each.
for round in 1 2 3; do
	end_to_end "e2e-$round" 10
	end_to_end "e2e-equal-$round" 0
done
for round in 1 2 3; do
	"$seg" dump --state "$work/e2e-$round-state" | md5sum | sed "s/^/e2e-$round state  /"
	"$seg" dump --state "$work/e2e-equal-$round-state" | md5sum | sed "s/^/e2e-equal-$round state  /"
done
"$seg" dump --state "$work/state" | md5sum | sed 's/^/consume state /'
"$seg" dump --state "$work/backfill" | md5sum | sed 's/^/backfill state /'
