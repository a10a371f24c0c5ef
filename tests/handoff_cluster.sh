#!/usr/bin/env bash
# The acceptance of the partition hand-off (#18) on the 3-node cluster (label `cluster`: it runs
# with -DSEGSTREAM_LONG_TESTS=ON). The events topic has 12 partitions; the first events are in it,
# the rest stream while 3 members (`consume --group G --changelog`, static instance ids c1..c3,
# each its own state) consume them, and meanwhile:
#   - member 2 is killed with kill -9; once its partitions have moved (session timeout 6 s) it is
#     started again on its state with the same instance id, and takes some back;
#   - a fourth member (dynamic) joins, takes partitions over from the changelog, and later leaves
#     (SIGTERM: its partitions go back to the others, restored from the changelog);
#   - broker node 2 is killed with kill -9 and resumed on its storage.
# Then, once every partition is at its end in some member: each live member stops (SIGTERM,
# together: static members keep their partitions), its snapshot is taken, and `snapshot merge` of
# the three equals one backfill's snapshot of the same files (customers.csv and customers.msgpack
# byte for byte), which equals the oracle; every event is counted once (the merged rows' `items`
# add up to the history's lines, no member applied a duplicate); and the logs show the
# rebalances, the restores (start, end, records, seconds), the revokes and drops.
#   handoff_cluster.sh SEGSTREAM_BINARY REPO_DIR
# SEGSTREAM_BOOTSTRAP names the cluster's brokers; SEGSTREAM_CLUSTER_PORT (and _DIR) are
# tools/kafka/cluster.sh's. Knobs: SEGSTREAM_ACCEPT_USERS (customers, default 3000),
# SEGSTREAM_ACCEPT_RATE (events/s of the streamed part, default 8000).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/members.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the cluster}"
: "${SEGSTREAM_CLUSTER_PORT:?the cluster test needs SEGSTREAM_CLUSTER_PORT of tools/kafka/cluster.sh}"
cluster=$repo/tools/kafka/cluster.sh
users=${SEGSTREAM_ACCEPT_USERS:-3000}
rate=${SEGSTREAM_ACCEPT_RATE:-8000}
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2> /dev/null || true; done
	"$cluster" resume > /dev/null 2>&1 || true # a node this test stopped comes back for the next test
	rm -rf "$tmp"
}
trap cleanup EXIT
run=accept-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names" --dlq-topic "$run.dlq")
"$seg" gen --users "$users" --seed 18 --out "$tmp/data" --catalog "$repo/data/instacart" > "$tmp/gen.out"
lines=$(sed -n 's/.* orders, \([0-9]*\) prior lines.*/\1/p' "$tmp/gen.out")
[ -n "$lines" ] || fail "no line count in gen's output: $(cat "$tmp/gen.out")"
first=$((lines / 4))
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --partitions 12 --limit "$first" \
	> "$tmp/replay1.log" 2>&1 || fail "the first replay failed: $(tail -3 "$tmp/replay1.log")"
echo "accept: $users customers, $lines events over 12 partitions; $first in the topic before the members start"

# member N [flags]: member N (state sN, log cN.log) in the background, static instance cN unless
# N is 4 (a dynamic member: it leaves the group when it stops).
declare -A member
start_member() {
	local n=$1 id=()
	[ "$n" = 4 ] || id=(--instance-id "c$n")
	"$seg" consume --state "$tmp/s$n" --brokers "$brokers" "${topics[@]}" --group "$run" "${id[@]}" \
		--session-timeout-ms 6000 --batch-ms 50 --catchup-batch-ms 100 --status-every 0 \
		--changelog --changelog-topic "$run.changelog" --changelog-ms 300 >> "$tmp/c$n.log" 2>&1 &
	member[$n]=$!
	pids+=("$!")
}

count() { grep -c "$2" "$1" 2> /dev/null || true; }
more_than() { [ "$(count "$1" "$2")" -gt "$3" ]; }
supervise_all() {
	local n
	for n in "$@"; do supervise "$n"; done
}

for n in 1 2 3; do start_member "$n"; done
assigned() { grep -q 'rebalance: partitions assigned.*count=[1-9]' "$tmp/c$1.log"; }
for n in 1 2 3; do until_true 120 assigned "$n" || fail "member $n got no partition"; done
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --partitions 12 --skip "$first" --rate "$rate" \
	> "$tmp/replay.log" 2>&1 &
replay=$!
pids+=("$replay")
echo "accept: 3 members have partitions; the rest of the events stream at $rate/s"
sleep 2

# Member 2: kill -9; its partitions move to members 1 and 3 once its session has expired.
restored=$(($(count "$tmp/c1.log" "restore of partition .* done") + $(count "$tmp/c3.log" "restore of partition .* done")))
kill -KILL "${member[2]}"
wait "${member[2]}" 2> /dev/null || true
echo "accept: member 2 killed (kill -9)"
moved() {
	supervise_all 1 3
	[ $(($(count "$tmp/c1.log" "restore of partition .* done") + $(count "$tmp/c3.log" "restore of partition .* done"))) \
		-gt "$restored" ]
}
until_true 90 moved || fail "member 2's partitions did not move to the others"
echo "accept: member 2's partitions restored by the others"

# A fourth member joins and takes partitions over from the changelog.
start_member 4
until_true 90 grep -q "restore of partition .* done: replace" "$tmp/c4.log" || fail "member 4 restored nothing"
echo "accept: member 4 joined and restored partitions"

# Broker node 2 (a controller too): kill -9, then resumed on its storage.
"$cluster" kill 2
sleep 3
"$cluster" resume 2
echo "accept: broker node 2 killed (kill -9) and resumed"

# Member 2 again, on its state, with its instance id: it drops what it held and was not given,
# and restores what it is given.
joins=$(count "$tmp/c2.log" "rebalance: partitions assigned.*count=[1-9]")
start_member 2
until_true 120 more_than "$tmp/c2.log" "rebalance: partitions assigned.*count=[1-9]" "$joins" ||
	fail "member 2 got no partition after its restart"
echo "accept: member 2 restarted with its instance id and has partitions again"

# Member 4 leaves (SIGTERM): its partitions are flushed (kept at exit) and restored by the others;
# or, stopped while a rebalance of the restart is still under way, librdkafka reports them lost
# and they are dropped unflushed (the others restore the last flush and replay after it).
sleep 3
supervise_all 1 2 3
restored=$(($(count "$tmp/c1.log" "done: replace") + $(count "$tmp/c2.log" "done: replace") + $(count "$tmp/c3.log" "done: replace")))
if ! kill -0 "${member[4]}" 2> /dev/null; then
	status=0
	wait "${member[4]}" || status=$?
	fail "member 4 exited by itself (status $status) before its SIGTERM"
fi
kill -TERM "${member[4]}"
wait "${member[4]}" || fail "member 4 exited with $? on SIGTERM: $(tail -5 "$tmp/c4.log")"
grep -q "partition .* kept at exit (flushed to the changelog)\|partition .* dropped (lost; this member was fenced\|partition .*: its last changes are not in the changelog" \
	"$tmp/c4.log" || fail "member 4 neither flushed nor dropped its partitions at exit, nor said it could not flush"
took_over() {
	supervise_all 1 2 3
	[ $(($(count "$tmp/c1.log" "done: replace") + $(count "$tmp/c2.log" "done: replace") + $(count "$tmp/c3.log" \
		"done: replace"))) -gt "$restored" ]
}
until_true 90 took_over || fail "nobody restored member 4's partitions"
echo "accept: member 4 left; its partitions restored by the others"

wait "$replay" || fail "the replay failed: $(tail -3 "$tmp/replay.log")"
grep -q "failed 0, undelivered 0" "$tmp/replay.log" || fail "the replay lost events: $(grep delivered "$tmp/replay.log")"
echo "accept: replays done: $(grep -ho 'events produced [0-9]*, delivered [0-9]*' "$tmp/replay1.log" "$tmp/replay.log" |
	tr '\n' ' ')"

# The truth: one backfill of the same files over the same topic (its offsets are the ends).
"$seg" backfill --data "$tmp/data" --state "$tmp/bf" --brokers "$brokers" --topic "$run.events" > /dev/null
"$seg" snapshot --state "$tmp/bf" --out "$tmp/bf.snap" --csv > /dev/null
"$seg" dump --state "$tmp/bf" > "$tmp/bf.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/bf.csv" > /dev/null || fail "the backfill differs from the oracle"
pairs=("$tmp/bf.snap:$tmp/bf.csv")
for n in 1 2 3; do pairs+=("$tmp/p$n.snap:-"); done
caught_up() {
	local n
	supervise_all 1 2 3
	for n in 1 2 3; do
		rm -rf "$tmp/p$n.snap"
		"$seg" snapshot --state "$tmp/s$n" --out "$tmp/p$n.snap" > /dev/null 2>&1 || return 1
	done
	"$py" "$repo/tests/check_group_states.py" --caught-up "$run.events" "${pairs[@]}" > "$tmp/caught_up.out"
}
until_true 180 caught_up || fail "the members did not catch up: $(cat "$tmp/caught_up.out")"
supervise_all 1 2 3
for n in 1 2 3; do kill -TERM "${member[$n]}"; done
for n in 1 2 3; do wait "${member[$n]}" || fail "member $n exited with $? on SIGTERM: $(tail -5 "$tmp/c$n.log")"; done
pids=()
echo "accept: every partition at its end; the 3 live members stopped"
# The replay is not transactional: its offsets follow one another, so a gap the client makes
# (librdkafka 2.0.2, after a rebalance with a stale generation) is sought back, never accepted.
for n in 1 2 3 4; do
	! grep -q "was next (the same gap" "$tmp/c$n.log" ||
		fail "member $n accepted a gap: $(grep "was next" "$tmp/c$n.log" | head -3)"
	if grep -q "was next (a gap" "$tmp/c$n.log"; then
		echo "member $n: $(grep -c "was next (a gap" "$tmp/c$n.log") gap(s) sought back"
	fi
done

# The global view: the live members' snapshots merged == the backfill's snapshot.
for n in 1 2 3; do
	"$seg" snapshot --state "$tmp/s$n" --out "$tmp/snap$n" --csv > /dev/null || fail "snapshot of member $n"
done
"$seg" snapshot merge "$tmp/merged" "$tmp/snap1" "$tmp/snap2" "$tmp/snap3" > "$tmp/merge.out" 2>&1 ||
	fail "snapshot merge: $(cat "$tmp/merge.out")"
grep -q "3 snapshots merged, 12 partitions" "$tmp/merge.out" || fail "merge: $(cat "$tmp/merge.out")"
for n in 1 2 3; do "$seg" dump --state "$tmp/s$n" > "$tmp/s$n.csv"; done
if ! "$py" "$repo/tests/check_group_states.py" "$run.events" "$tmp/bf.snap:$tmp/bf.csv" "$tmp/snap1:$tmp/s1.csv" \
	"$tmp/snap2:$tmp/s2.csv" "$tmp/snap3:$tmp/s3.csv" > "$tmp/owners.out"; then
	cat "$tmp/owners.out"
	fail "a partition's owner differs from the backfill"
fi
for f in customers.csv customers.msgpack; do
	cmp "$tmp/merged/0000000001/$f" "$tmp/bf.snap/0000000001/$f" ||
		fail "the merged $f differs from the backfill's: $(diff "$tmp/merged/0000000001/customers.csv" \
			"$tmp/bf.snap/0000000001/customers.csv" | head -6)"
done
echo "accept: the 3 members' snapshots merged == one backfill's snapshot (customers.csv, customers.msgpack) == the oracle"

# Every event once: the merged rows' items are the history's lines; no member applied a duplicate.
items=$("$py" -c 'import csv, sys; print(sum(int(r["items"]) for r in csv.DictReader(open(sys.argv[1]))))' \
	"$tmp/merged/0000000001/customers.csv")
[ "$items" = "$lines" ] || fail "the merged rows hold $items lines, the history $lines"
for f in "$tmp"/c[1-4].log; do
	grep "^consume: events read" "$f" | grep -qv "duplicates 0," && fail "$f: an event was applied twice"
done
echo "accept: every event counted once ($items lines in the merged rows; duplicates 0 in every run)"

# The logs: rebalances, restores (start, end with records and seconds), revokes and drops.
all=("$tmp"/c[1-4].log)
need() { # PATTERN WHAT
	grep -q "$1" "${all[@]}" || fail "no log line of $2 ('$1')"
	echo "  $2: $(cat "${all[@]}" | grep -c "$1") lines, e.g. $(grep -h "$1" "${all[@]}" | head -1 | cut -c1-200)"
}
need "rebalance: partitions assigned" "assignments"
need "rebalance: partitions revoked" "revokes"
need "restore of partition [0-9]* started" "restore starts"
need "restore of partition [0-9]* done: replace.*records=[1-9][0-9]*.*seconds=" "restores (records, seconds)"
need "partition [0-9]* dropped (revoked" "drops after a revoke"
need "changelog flushes [1-9]" "changelog summaries"
