#!/usr/bin/env bash
# consume's snapshots on librdkafka's mock cluster (no real broker): -T reaches them (their
# low_activity follows -T low_activity_below, as dump's does).
#   consume_snapshots.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 300 --seed 3 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" mock-cluster --partitions 2 --bootstrap-file "$tmp/bootstrap" > "$tmp/mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$tmp/bootstrap")
"$seg" replay --data "$tmp/data" --brokers "$brokers" > "$tmp/replay.out" 2> "$tmp/replay.err" \
	|| { cat "$tmp/replay.out" "$tmp/replay.err"; echo "FAIL: replay"; exit 1; }

"$seg" consume --state "$tmp/state" --brokers "$brokers" --exit-at-end --no-sync --snapshot-dir "$tmp/snaps" \
	--snapshot-every 60 -T low_activity_below=12 > "$tmp/consume.out" 2> "$tmp/consume.err" \
	|| { cat "$tmp/consume.out" "$tmp/consume.err"; echo "FAIL: consume"; exit 1; }

# low_activity of the snapshot (snapshot verify counts it) against dump's with and without -T.
low_count() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "low_activity") c = i; next } $c == 1 { n++ }
	END { print n + 0 }' "$1"; }
"$seg" dump --state "$tmp/state" -T low_activity_below=12 > "$tmp/dump-T.csv"
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
want=$(low_count "$tmp/dump-T.csv")
default=$(low_count "$tmp/dump.csv")
got=$("$seg" snapshot verify "$tmp/snaps" | sed -n 's/.*customer rows (\([0-9]*\) low activity).*/\1/p')
if [ "$want" = "$default" ]; then
	echo "FAIL: the test cannot tell: low_activity_below=12 and the default both give $want"
	exit 1
fi
if [ "$got" != "$want" ]; then
	echo "FAIL: consume -T low_activity_below=12: the snapshot has ${got:-?} low-activity customers," \
		"dump -T has $want (the default gives $default)"
	exit 1
fi
echo "consume_snapshots: -T reaches consume's snapshots ($got low-activity customers, $default by default)"
