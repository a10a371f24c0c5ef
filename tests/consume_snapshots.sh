#!/usr/bin/env bash
# consume's snapshots on librdkafka's mock cluster (no real broker): -T reaches them (their
# low_activity follows -T low_activity_below, as dump's does); a snapshot with no new event
# since the last one is skipped (--exit-at-end writes one, not two identical ones; a live
# consumer's timer publishes nothing new), except on SIGUSR1, which always publishes.
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
# One snapshot, not the catch-up one and an identical one at exit.
snapshots() { find "$tmp/snaps" -maxdepth 1 -regex '.*/[0-9]+' | wc -l; }
[ "$(snapshots)" = 1 ] && grep -q "^consume: 1 snapshots published, 0 failed, 1 skipped" "$tmp/consume.out" \
	|| { cat "$tmp/consume.out"; ls "$tmp/snaps"; echo "FAIL: --exit-at-end wrote $(snapshots) snapshots, not 1"; exit 1; }

# A live consumer with nothing new: its first snapshot, then every 0.2 s nothing, SIGUSR1 one.
"$seg" consume --state "$tmp/state" --brokers "$brokers" --no-sync --snapshot-dir "$tmp/snaps" \
	--snapshot-every 0.2 > "$tmp/live.out" 2> "$tmp/live.err" &
live=$!
wait_snapshots() { # wait_snapshots N: until the live consumer has published N
	for _ in $(seq 300); do
		[ "$(grep -c ' consume: snapshot [0-9]* (' "$tmp/live.err")" -ge "$1" ] && return 0
		sleep 0.1
	done
	kill $live; cat "$tmp/live.err"; echo "FAIL: the live consumer did not publish $1 snapshot(s)"; exit 1
}
wait_snapshots 1
sleep 1.5
kill -USR1 $live
wait_snapshots 2
kill -TERM $live
wait $live || { cat "$tmp/live.out" "$tmp/live.err"; echo "FAIL: the live consumer failed"; exit 1; }
grep -qE "^consume: 2 snapshots published, 0 failed, ([4-9]|[0-9]{2,}) skipped" "$tmp/live.out" \
	&& [ "$(snapshots)" = 3 ] \
	|| { cat "$tmp/live.out" "$tmp/live.err"; echo "FAIL: live: $(snapshots) snapshots in all, want 3"; exit 1; }

echo "consume_snapshots: -T reaches consume's snapshots ($got low-activity customers, $default by default); unchanged snapshots skipped, SIGUSR1 publishes"
