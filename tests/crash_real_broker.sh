#!/usr/bin/env bash
# Crash test through the real broker: while the replay streams events, the consumer is killed
# with SIGKILL at random points (SEGSTREAM_CRASHES times, default 20; 100+ for the long run)
# and restarted from its LMDB state. At the end the state must equal the pandas oracle, and the
# last run must find no duplicates: offsets and state were always committed together.
#   crash_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
set -euo pipefail
seg=$1
repo=$2
brokers=${SEGSTREAM_BOOTSTRAP:?}
crashes=${SEGSTREAM_CRASHES:-20}
tmp=$(mktemp -d)
replay=
trap '[ -n "$replay" ] && kill "$replay" 2>/dev/null; rm -rf "$tmp"' EXIT
run=crash-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
"$seg" gen --users 3000 --seed 23 --out "$tmp/data" --catalog "$repo/data/instacart" --dirty
# Stream at a bounded rate so that the kills land while events are still arriving.
rate=$((480000 * 10 / (crashes * 17)))
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --rate "$rate" > "$tmp/replay.out" 2>&1 &
replay=$!

kills=0
RANDOM=$$
while [ "$kills" -lt "$crashes" ]; do
	"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--batch-events 20000 --catchup-batch-ms 50 --batch-ms 50 > "$tmp/consumer-$kills.out" 2>&1 &
	pid=$!
	sleep "$((RANDOM % 2 + 1)).$((RANDOM % 10))"
	if kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
	else
		echo "consumer exited by itself:"; cat "$tmp/consumer-$kills.out"; exit 1
	fi
	wait "$pid" 2>/dev/null || true
done
alive=no
kill -0 "$replay" 2>/dev/null && alive=yes
echo "crash: $kills consumers killed with SIGKILL (replay still streaming at the last kill: $alive)"
wait "$replay" || { echo "FAIL: replay failed"; cat "$tmp/replay.out"; exit 1; }
replay=
cat "$tmp/replay.out"
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
	--exit-at-end | tee "$tmp/final.out"
grep -q "duplicates 0," "$tmp/final.out" || { echo "FAIL: the final run re-applied events"; exit 1; }
delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0.*/\1/p' "$tmp/replay.out")
left=$(sed -n 's/.*events read \([0-9]*\),.*/\1/p' "$tmp/final.out")
[ "$left" -lt "$delivered" ] || { echo "FAIL: the killed consumers committed nothing"; exit 1; }
echo "crash: the killed consumers had committed $((delivered - left)) of $delivered events"
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
"$repo/.venv/bin/python" "$repo/tests/oracle.py" "$tmp/data" "$tmp/dump.csv"
echo "crash: state after $kills kills equals the oracle"
