#!/usr/bin/env bash
# End to end through the real Kafka broker (CTest fixture): generate (clean, then --dirty),
# replay (its default encoding: one message per order), consume in assign() mode and in a
# consumer group, and compare each state with the pandas oracle (zero differences); a consumer
# started before the replay ends in the same state. A second consume finds nothing new: offsets
# live with the state. (The line encoding end to end: backfill_real_broker.sh.)
#   e2e_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"

# run_case NAME USERS [gen options...]
run_case() {
	local name=$1 users=$2
	shift 2
	local dir=$tmp/$name run=e2e-$name-$$-$(date +%s)
	local topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
	mkdir -p "$dir"
	"$seg" gen --users "$users" --seed 11 --out "$dir/data" --catalog "$repo/data/instacart" "$@"
	# A consumer started before the replay, as a live deployment would be: it waits for the
	# events topic, which the replay creates only once the reference data is complete.
	"$seg" consume --state "$dir/live-assign" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq-live" \
		--exit-at-end --idle-ms 3000 --no-sync > "$dir/live-consume.out" 2>&1 &
	local live_consumer=$!
	"$seg" replay --data "$dir/data" --brokers "$brokers" "${topics[@]}" | tee "$dir/replay.out"
	local delivered
	delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$dir/replay.out")
	[ -n "$delivered" ] || { echo "FAIL($name): replay did not deliver everything"; exit 1; }

	"$seg" consume --state "$dir/assign" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--exit-at-end --no-sync | tee "$dir/consume.out"
	grep -q "events read $delivered, applied $delivered, duplicates 0" "$dir/consume.out" \
		|| { echo "FAIL($name): the assign() consumer did not read each of the $delivered events once"; exit 1; }
	grep -q "customers $users," "$dir/consume.out" \
		|| { echo "FAIL($name): the consumer did not load $users customers' demographics"; exit 1; }
	local orders
	orders=$(sed -n 's/^replay: encoding order: \([0-9]*\) messages.*/\1/p' "$dir/replay.out")
	grep -q "^consume: order messages ${orders:-none} (schema version 2)" "$dir/consume.out" \
		|| { echo "FAIL($name): the consumer did not read the replay's ${orders:-no} order messages"; exit 1; }
	"$seg" dump --state "$dir/assign" > "$dir/assign.csv"
	"$py" "$repo/tests/oracle.py" "$dir/data" "$dir/assign.csv"
	wait "$live_consumer" || { cat "$dir/live-consume.out"; echo "FAIL($name): the live consumer failed"; exit 1; }
	"$seg" dump --state "$dir/live-assign" > "$dir/live-assign.csv"
	cmp "$dir/assign.csv" "$dir/live-assign.csv" \
		|| { echo "FAIL($name): the consumer started beside the replay ended in another state"; exit 1; }
	# The snapshot's rows and report against an independent pandas computation of SPEC §4.
	"$seg" snapshot --state "$dir/assign" --out "$dir/snapshots" > /dev/null
	"$py" "$repo/tests/check_snapshot.py" "$dir/data" "$dir/snapshots" > "$dir/check_snapshot.out" \
		|| { grep FAIL "$dir/check_snapshot.out"; exit 1; }
	grep -q '"topic": "'"$run"'.events"' "$dir/snapshots/0000000001/manifest.json" \
		|| { echo "FAIL($name): the manifest lacks the source offsets"; exit 1; }

	# Restart: the offsets in LMDB say everything is applied, so nothing is read again.
	"$seg" consume --state "$dir/assign" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--exit-at-end --no-sync | tee "$dir/again.out"
	grep -q "events read 0," "$dir/again.out" || { echo "FAIL($name): a restarted consumer read events again"; exit 1; }

	# The group consumer also publishes snapshots as it goes: every 50,000 events (requests
	# made while one is being written coalesce), at the end of the catch-up and at exit; the
	# last one must equal the oracle too. An order topic is caught up in a fraction of a second
	# (a line topic took seconds), so most requests coalesce: at least the first, part-way
	# (fewer customers than all), and one with every customer.
	"$seg" consume --state "$dir/group" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--group "$run-group" --exit-at-end --no-sync --batch-events 50000 --snapshot-dir "$dir/live" --snapshot-every-events 50000 \
		2> "$dir/group.err" | tee "$dir/group.out"
	local published first
	published=$(sed -n 's/^consume: \([0-9]*\) snapshots published, 0 failed.*/\1/p' "$dir/group.out")
	first=$(sed -n 's/.* snapshot 1 (\([0-9]*\) customers).*/\1/p' "$dir/group.err")
	[ -n "$published" ] && [ "$published" -ge 2 ] && [ -n "$first" ] && [ "$first" -lt "$users" ] \
		|| { cat "$dir/group.err"; echo "FAIL($name): live snapshots: ${published:-none} published, the first of ${first:-?} customers"; exit 1; }
	"$py" "$repo/tests/check_snapshot.py" "$dir/data" "$dir/live" > "$dir/check_live.out" \
		|| { grep FAIL "$dir/check_live.out"; exit 1; }
	grep -q "events read $delivered, applied $delivered" "$dir/group.out" \
		|| { echo "FAIL($name): the group consumer did not read each event once"; exit 1; }
	"$seg" dump --state "$dir/group" > "$dir/group.csv"
	"$py" "$repo/tests/oracle.py" "$dir/data" "$dir/group.csv"
	echo "e2e($name): $delivered events, assign and group states equal the oracle"
}

run_case clean 3000
run_case dirty 2000 --dirty
