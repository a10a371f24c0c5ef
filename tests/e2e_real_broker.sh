#!/usr/bin/env bash
# End to end through the real Kafka broker (CTest fixture): generate, replay, consume in assign()
# mode and in a consumer group, and compare both states with the pandas oracle (zero
# differences). A second consume finds nothing new: offsets live with the state.
#   e2e_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
set -euo pipefail
seg=$1
repo=$2
brokers=${SEGSTREAM_BOOTSTRAP:?}
py=$repo/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run=e2e-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")

"$seg" gen --users 3000 --seed 11 --out "$tmp/data" --catalog "$repo/data/instacart"
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" | tee "$tmp/replay.out"
delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$tmp/replay.out")
[ -n "$delivered" ] || { echo "FAIL: replay did not deliver everything"; exit 1; }

"$seg" consume --state "$tmp/assign" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
	--exit-at-end --no-sync | tee "$tmp/consume.out"
grep -q "events read $delivered, applied $delivered, duplicates 0" "$tmp/consume.out" \
	|| { echo "FAIL: the assign() consumer did not read each of the $delivered events once"; exit 1; }
"$seg" dump --state "$tmp/assign" > "$tmp/assign.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/assign.csv"

# Restart: the offsets in LMDB say everything is applied, so nothing is read again.
"$seg" consume --state "$tmp/assign" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
	--exit-at-end --no-sync | tee "$tmp/again.out"
grep -q "events read 0," "$tmp/again.out" || { echo "FAIL: a restarted consumer read events again"; exit 1; }

"$seg" consume --state "$tmp/group" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
	--group "$run-group" --exit-at-end --no-sync | tee "$tmp/group.out"
grep -q "events read $delivered, applied $delivered" "$tmp/group.out" \
	|| { echo "FAIL: the group consumer did not read each event once"; exit 1; }
"$seg" dump --state "$tmp/group" > "$tmp/group.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/group.csv"
echo "e2e: $delivered events, assign and group states equal the oracle"
