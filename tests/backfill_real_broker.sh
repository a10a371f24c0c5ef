#!/usr/bin/env bash
# Backfill against streaming, through the real broker: for clean and --dirty data, the state
# built by `backfill` equals the state the consumer builds from the replayed topic (the whole
# dump, partitions included) and the pandas oracle; and backfill up to a time T followed by
# the consumer from the stored offsets gives the same final state, with no event applied twice.
# The replay's default encoding is one message per order (so the seam is at an order message);
# `replay --encoding line` (a message per line) + `consume` gives that same state too, and
# --skip/--limit cut orders, since they count events.
#   backfill_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"

run_case() {
	local name=$1
	shift
	local dir=$tmp/$name run=backfill-$name-$$-$(date +%s)
	local topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
	mkdir -p "$dir"
	"$seg" gen --users 2500 --seed 31 --out "$dir/data" --catalog "$repo/data/instacart" "$@"
	"$seg" replay --data "$dir/data" --brokers "$brokers" "${topics[@]}" > "$dir/replay.out"
	local delivered
	delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$dir/replay.out")
	"$seg" consume --state "$dir/stream" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --exit-at-end --no-sync \
		> "$dir/consume.out"
	grep -q "consume: order messages [1-9]" "$dir/consume.out" || { echo "FAIL($name): no order messages read"; exit 1; }
	"$seg" dump --state "$dir/stream" > "$dir/stream.csv"

	"$seg" backfill --data "$dir/data" --state "$dir/backfill" --brokers "$brokers" --topic "$run.events"
	"$seg" dump --state "$dir/backfill" > "$dir/backfill.csv"
	cmp "$dir/stream.csv" "$dir/backfill.csv" || { echo "FAIL($name): backfill differs from streaming"; diff "$dir/stream.csv" "$dir/backfill.csv" | head; exit 1; }
	"$py" "$repo/tests/oracle.py" "$dir/data" "$dir/backfill.csv"
	# The line encoding (a message per line, schema version 1): the same state as backfill, and the oracle's.
	local ltopics=(--topic "$run-line.events" --products-topic "$run-line.products" --customers-topic "$run-line.customers")
	"$seg" replay --data "$dir/data" --brokers "$brokers" "${ltopics[@]}" --encoding line > "$dir/replay-line.out"
	grep -q "events produced $delivered, delivered $delivered, failed 0, undelivered 0" "$dir/replay-line.out" ||
		{ echo "FAIL($name): replay --encoding line did not deliver the $delivered events"; cat "$dir/replay-line.out"; exit 1; }
	"$seg" consume --state "$dir/line-stream" --brokers "$brokers" "${ltopics[@]}" --dlq-topic "$run-line.dlq" \
		--exit-at-end --no-sync > "$dir/consume-line.out"
	grep -q "events read $delivered, applied $delivered, duplicates 0" "$dir/consume-line.out" \
		|| { echo "FAIL($name): the line encoding's events were not each applied once"; cat "$dir/consume-line.out"; exit 1; }
	if grep -q "consume: order messages" "$dir/consume-line.out"; then echo "FAIL($name): order messages in the line encoding"; exit 1; fi
	"$seg" dump --state "$dir/line-stream" > "$dir/line-stream.csv"
	cmp "$dir/backfill.csv" "$dir/line-stream.csv" || { echo "FAIL($name): replay --encoding line + consume differs from backfill"; diff "$dir/backfill.csv" "$dir/line-stream.csv" | head; exit 1; }
	"$py" "$repo/tests/oracle.py" "$dir/data" "$dir/line-stream.csv"
	# --skip and --limit count events (lines), not messages, in the order encoding too: orders are cut.
	local stopics=(--topic "$run-skip.events" --products-topic "$run-skip.products" --customers-topic "$run-skip.customers")
	"$seg" replay --data "$dir/data" --brokers "$brokers" "${stopics[@]}" --skip 1003 --limit 2501 \
		> "$dir/replay-skip.out"
	grep -q "events produced 2501, delivered 2501, failed 0" "$dir/replay-skip.out" || { echo "FAIL($name): --skip/--limit in events"; cat "$dir/replay-skip.out"; exit 1; }
	"$seg" consume --state "$dir/skip-stream" --brokers "$brokers" "${stopics[@]}" --dlq-topic "$run-skip.dlq" \
		--exit-at-end --no-sync > "$dir/consume-skip.out"
	grep -q "events read 2501, applied 2501," "$dir/consume-skip.out" || { echo "FAIL($name): consumer did not apply the 2501 events"; cat "$dir/consume-skip.out"; exit 1; }
	# Nothing left for the consumer: the stored offsets are the topic's end.
	"$seg" consume --state "$dir/backfill" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--exit-at-end --no-sync | tee "$dir/after.out"
	grep -q "events read 0," "$dir/after.out" || { echo "FAIL($name): consumer re-read backfilled events"; exit 1; }

	# The seam: backfill up to T, then stream the rest.
	"$seg" backfill --data "$dir/data" --state "$dir/seam" --brokers "$brokers" --topic "$run.events" --until 2018-09-01
	"$seg" consume --state "$dir/seam" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
		--exit-at-end --no-sync | tee "$dir/seam.out"
	local read
	read=$(sed -n 's/.*events read \([0-9]*\), applied \([0-9]*\), duplicates 0,.*/\1=\2/p' "$dir/seam.out")
	[ -n "$read" ] && [ "${read%=*}" = "${read#*=}" ] || { echo "FAIL($name): events at the seam applied twice or skipped"; exit 1; }
	[ "${read%=*}" -gt 0 ] && [ "${read%=*}" -lt "$delivered" ] || { echo "FAIL($name): T did not split the history ($read of $delivered)"; exit 1; }
	"$seg" dump --state "$dir/seam" > "$dir/seam.csv"
	cmp "$dir/stream.csv" "$dir/seam.csv" || { echo "FAIL($name): backfill to T + stream differs"; exit 1; }
	echo "backfill($name): equals streaming and the oracle; the seam at 2018-09-01 streamed ${read%=*} of $delivered events"
}

run_case clean
run_case dirty --dirty
