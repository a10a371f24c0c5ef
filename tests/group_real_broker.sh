#!/usr/bin/env bash
# consume --group (#18): 3 members with static membership over 12 partitions while the replay
# streams. One member is killed with kill -9 and restarted with the same --instance-id; another
# is frozen (SIGSTOP) past its session timeout, so its partitions go to the others and it logs
# them as lost when it wakes; on the 3-node cluster a broker is also killed (kill -9) and
# restarted. Then, per partition, the member with the highest offset must hold exactly the
# records a backfill of the same files gives that partition (tests/check_group_states.py):
# nothing lost, nothing applied twice, whatever the rebalances and the broker did. Last, members
# stopped (SIGTERM) during their first rebalance must exit cleanly (librdkafka#4312: consumer.c).
#   group_real_broker.sh SEGSTREAM_BINARY REPO_DIR
# SEGSTREAM_BOOTSTRAP names the brokers. With SEGSTREAM_CLUSTER_PORT (and _DIR) set, they are
# tools/kafka/cluster.sh's and a node is killed and resumed; without, a single broker (the
# default suite's short form; group_cluster runs it on the cluster). SEGSTREAM_GROUP_USERS
# sizes the data (default 1500).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/members.sh"
cluster=$repo/tools/kafka/cluster.sh
users=${SEGSTREAM_GROUP_USERS:-1500}
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -CONT "$p" 2> /dev/null || true; kill -KILL "$p" 2> /dev/null || true; done
	if [ -n "${SEGSTREAM_CLUSTER_PORT:-}" ]; then # a node this test stopped comes back for the next test
		"$cluster" resume > /dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
run=group-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names" --dlq-topic "$run.dlq")
"$seg" gen --users "$users" --seed 18 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null

# The events topic is created with 12 partitions and gets the first 100,000 events; the rest are
# streamed once the members have their partitions, while the faults happen.
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --partitions 12 --limit 100000 \
	> "$tmp/replay1.log" 2>&1 || fail "the first replay failed: $(tail -3 "$tmp/replay1.log")"

# member N [extra flags]: starts member N (state s N, instance cN) in the background.
declare -A member
start_member() {
	local n=$1
	"$seg" consume --state "$tmp/s$n" --brokers "$brokers" "${topics[@]}" --group "$run" --instance-id "c$n" \
		--session-timeout-ms 6000 --batch-ms 50 --catchup-batch-ms 100 --status-every 0 \
		>> "$tmp/c$n.log" 2>&1 &
	member[$n]=$!
	pids+=("$!")
}
for n in 1 2 3; do start_member "$n"; done

assigned() { grep -q 'rebalance: partitions assigned.*count=[1-9]' "$tmp/c$1.log"; }
for n in 1 2 3; do until_true 90 assigned "$n" || fail "member $n got no partition"; done
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --partitions 12 --skip 100000 --rate 6000 \
	> "$tmp/replay.log" 2>&1 &
replay=$!
pids+=("$replay")
echo "group: 3 members have partitions; the rest of the events stream"

"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --partitions 4 --limit 1 \
	> "$tmp/mismatch.out" 2>&1 && fail "replay --partitions 4 on a topic of 12 succeeded"
grep -q "exists with 12 partitions, not 4" "$tmp/mismatch.out" || fail "no clear error: $(cat "$tmp/mismatch.out")"

# kill -9 member 2, restart it with the same instance id within the session timeout.
supervise 2
kill -KILL "${member[2]}"
wait "${member[2]}" 2>/dev/null || true
echo "group: member 2 killed (kill -9)"
sleep 1
start_member 2

# kill -9 broker node 2 (a controller too), resume it on its storage.
if [ -n "${SEGSTREAM_CLUSTER_PORT:-}" ]; then
	"$cluster" kill 2
	sleep 2
	"$cluster" resume 2
fi

# Freeze member 3 past its session timeout: the group gives its partitions to the others; when
# it wakes, librdkafka tells it they are lost.
supervise 3
kill -STOP "${member[3]}"
sleep 10
kill -CONT "${member[3]}"
streaming=no
kill -0 "$replay" 2>/dev/null && streaming=yes
echo "group: member 3 frozen for 10 s, then woken (the replay still streaming: $streaming)"
wait "$replay" || fail "the replay failed while a broker was down"
grep -q "failed 0, undelivered 0" "$tmp/replay.log" || fail "the replay lost events: $(grep delivered "$tmp/replay.log")"
echo "group: replays done: $(grep -ho 'events produced [0-9]*, delivered [0-9]*' "$tmp/replay1.log" "$tmp/replay.log" |
	tr '\n' ' ')"
until_true 30 grep -q 'rebalance: partitions lost' "$tmp/c3.log" || fail "member 3 did not log its partitions as lost"
grep 'rebalance: partitions lost' "$tmp/c3.log" | grep -q '^[^ ]* warn ' || fail "the lost line is not a warning"

# The truth: a backfill of the same files over the same topic (its offsets are the ends).
"$seg" backfill --data "$tmp/data" --state "$tmp/bf" --brokers "$brokers" --topic "$run.events" > /dev/null
"$seg" snapshot --state "$tmp/bf" --out "$tmp/bf.snap" > /dev/null
"$seg" dump --state "$tmp/bf" > "$tmp/bf.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/bf.csv" > /dev/null || fail "the backfill differs from the oracle"
pairs=("$tmp/bf.snap:$tmp/bf.csv")
for n in 1 2 3; do pairs+=("$tmp/s$n.snap:$tmp/s$n.csv"); done
caught_up() {
	local n
	for n in 1 2 3; do supervise "$n"; done
	for n in 1 2 3; do "$seg" snapshot --state "$tmp/s$n" --out "$tmp/s$n.snap" --keep 1 > /dev/null || return 1; done
	"$py" "$repo/tests/check_group_states.py" --caught-up "$run.events" "${pairs[@]}" > "$tmp/caught_up.out"
}
until_true 90 caught_up || fail "the members did not catch up: $(cat "$tmp/caught_up.out")"
for n in 1 2 3; do supervise "$n"; done
for n in 1 2 3; do kill -TERM "${member[$n]}"; done
for n in 1 2 3; do wait "${member[$n]}" || fail "member $n exited with $? on SIGTERM"; done
pids=()
for n in 1 2 3; do
	grep -q "duplicates 0," "$tmp/c$n.log" || fail "member $n applied an event twice"
	"$seg" snapshot --state "$tmp/s$n" --out "$tmp/s$n.snap" --keep 1 > /dev/null
	"$seg" dump --state "$tmp/s$n" > "$tmp/s$n.csv"
done
for n in 1 2 3; do
	echo "group: member $n: $(grep -c 'partitions assigned' "$tmp/c$n.log") assigned, $(grep -c 'partitions revoked' \
		"$tmp/c$n.log") revoked, $(grep -c 'partitions lost' "$tmp/c$n.log") lost"
done
[ "$(grep -c 'rebalance: partitions assigned.*count=[1-9]' "$tmp/c2.log")" -ge 2 ] ||
	fail "member 2 had no partitions after its restart with the same --instance-id"
"$py" "$repo/tests/check_group_states.py" "$run.events" "${pairs[@]}" || fail "a partition's owner differs"

# Members stopped while they join a group (fresh group: no static member to wait for) exit 0.
for delay in 0.5 1.0 1.5 2.0 2.5; do
	"$seg" consume --state "$tmp/early" --brokers "$brokers" "${topics[@]}" --group "$run-early" \
		--status-every 0 > "$tmp/early.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -TERM "$pid"
	wait "$pid" || fail "a member stopped $delay s after its start exited with $?: $(tail -3 "$tmp/early.out")"
done
echo "group: members stopped 0.5 to 2.5 s after their start exit cleanly"
