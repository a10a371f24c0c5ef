#!/usr/bin/env bash
# The main job on the embedded default, from a fresh machine: installs what is missing, builds,
# generates a small data set, runs librdkafka's mock cluster, replays the history into it,
# consumes it into the LMDB state (exactly once), publishes a snapshot and prints the segments.
#   tools/demo.sh            (DEMO_USERS=2000 customers by default)
# The mock cluster keeps ~5 MiB per partition: past ~10,000 customers the consumer stops with
# "events are missing from the broker" rather than skip anything; use the real broker then.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
users=${DEMO_USERS:-2000}
work=$repo/demo
bash tools/setup.sh --no-kafka
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.cmake.log 2>&1 || { cat build.cmake.log; exit 1; }
cmake --build build/release -j "$(nproc)" > /dev/null
seg=build/release/tools/segstream

rm -rf "$work/state" "$work/bootstrap" && mkdir -p "$work"
$seg gen --users "$users" --out "$work/data" --catalog data/instacart

$seg mock-cluster --bootstrap-file "$work/bootstrap" > "$work/mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$work/bootstrap")
echo "mock Kafka cluster on $brokers"

$seg replay --data "$work/data" --brokers "$brokers" | tee "$work/replay.out"
$seg consume --state "$work/state" --brokers "$brokers" --exit-at-end | tee "$work/consume.out"

delivered=$(sed -n 's/.*events produced [0-9]*, delivered \([0-9]*\).*/\1/p' "$work/replay.out")
consumed=$(sed -n 's/.*events read \([0-9]*\).*/\1/p' "$work/consume.out")
if [ -z "$delivered" ] || [ "$delivered" != "$consumed" ]; then
	echo "demo: FAILED: replay delivered ${delivered:-?} events but the consumer read ${consumed:-?}" >&2
	exit 1
fi
echo "demo: all $consumed events delivered and consumed exactly once"
$seg snapshot --state "$work/state" --out "$work/snapshots"
echo "try: $seg get --state $work/state 1   |   $seg dump --state $work/state | head"
