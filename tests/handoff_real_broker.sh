#!/usr/bin/env bash
# Partition hand-off through the changelog (#18), against the real broker, 4 partitions, 2 members:
#  (a) A consumes alone while the replay streams; B joins mid-run (A drops two partitions, B
#      restores them), (d) B is killed with kill -9 and restarted on its state, then A leaves;
#      B, the last owner of every partition, ends equal to the oracle, and no run re-applied an
#      event (every event once);
#  (b) every partition's stored records are byte-identical to a single-instance backfill's;
#  (c) with the events topic's records deleted (as a retention limit would), a new instance
#      still takes every partition over exactly, where one without the changelog stops;
#  (z) zombies are fenced (KIP-447): a member frozen (SIGSTOP) past its session timeout while the
#      events stream, and a static member whose --instance-id a newer process took, each try to
#      flush stale records when they go on: the flush is refused (aborted) and never read (the
#      second case with SEGSTREAM_HANDOFF_LONG=1 only: -DSEGSTREAM_LONG_TESTS=ON; it adds ~25 s).
#   handoff_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
set -euo pipefail
seg=$1
repo=$2
brokers=${SEGSTREAM_BOOTSTRAP:?}
py=$repo/.venv/bin/python
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
run=handoff-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names")
group=(--group "$run.g" --changelog --changelog-topic "$run.changelog" --changelog-ms 200 --dlq-topic "$run.dlq"
	--batch-ms 50 --catchup-batch-ms 100 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
fail() { echo "FAIL: $*"; exit 1; }

"$seg" gen --users 2000 --seed 41 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
# The replay makes the events topic with the broker's default partition count, 4 (broker.sh);
# the consumers wait for it, so they load the whole catalog first.
long=${SEGSTREAM_HANDOFF_LONG:-}
rate=15000
[ -z "$long" ] || rate=10000 # the events still stream during the second zombie case
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --rate "$rate" > "$tmp/replay.out" 2>&1 &
replay=$!
pids+=("$replay")

start() { # NAME ARGS...: a member on state $tmp/NAME, output $tmp/NAME.N.out, its pid in $pid
	local n=0
	while [ -e "$tmp/$1.$n.out" ]; do n=$((n + 1)); done
	"$seg" consume --state "$tmp/$1" --brokers "$brokers" "${topics[@]}" "${group[@]}" "${@:2}" \
		> "$tmp/$1.$n.out" 2>&1 &
	pid=$!
	pids+=("$pid")
}
wait_log() { # FILE PATTERN SECONDS
	local waited=0
	until grep -q "$2" "$1" 2>/dev/null; do
		[ "$waited" -lt "$(($3 * 10))" ] || { cat "$1"; fail "no '$2' in $1 after $3 s"; }
		sleep 0.1
		waited=$((waited + 1))
	done
}

count() { grep -c "$2" "$1" 2>/dev/null || true; }
until_count() { # FILE PATTERN N SECONDS: waits until PATTERN is in FILE more than N times
	local waited=0
	until [ "$(count "$1" "$2")" -gt "$3" ]; do
		[ "$waited" -lt "$(($4 * 10))" ] || { cat "$1"; fail "'$2' not more than $3 times in $1 after $4 s"; }
		sleep 0.1
		waited=$((waited + 1))
	done
}

start a
a=$pid
wait_log "$tmp/a.0.out" "catch-up started" 60

# (z1) Z takes two partitions and flushes only when it gives them up (--changelog-ms 600000), then
# is frozen while the events stream until A has taken them back. When it wakes, it has applied
# events past its last flush with a membership the group has replaced: its flush is refused.
start z --changelog-ms 600000 --verbose
z=$pid
wait_log "$tmp/z.0.out" "restore of partition .* done" 60
wait_log "$tmp/z.0.out" "batch committed" 60
owned=$(count "$tmp/a.0.out" "rebalance: partitions assigned.*count=[1-9]")
kill -STOP "$z"
until_count "$tmp/a.0.out" "rebalance: partitions assigned.*count=[1-9]" "$owned" 60
joined=$(count "$tmp/z.0.out" "rebalance: partitions assigned")
kill -CONT "$z"
wait_log "$tmp/z.0.out" "partition .* dropped (lost; this member was fenced" 60
grep -q "rebalance: partitions lost" "$tmp/z.0.out" || fail "Z did not log its partitions as lost"
until_count "$tmp/z.0.out" "rebalance: partitions assigned" "$joined" 60 # rejoined (librdkafka#4312: see assign.c)
kill -TERM "$z"
wait "$z" || fail "Z did not stop cleanly after it was fenced: $(tail -5 "$tmp/z.0.out")"
grep -q "transactions aborted [1-9][0-9]* (fenced [1-9]" "$tmp/z.0.out" || fail "Z's flush was not fenced"
echo "handoff: (z1) a member frozen past its session timeout was fenced when it woke:"
grep -h "was fenced\|(fenced" "$tmp/z.0.out" | sed 's/^/  /'

# (z2) Y is a static member (--instance-id y) that flushes after every batch and heartbeats only
# every 60 s; a second process with the same instance id takes its place and partitions (with a
# transactional id of its own, as on another host: the same one would fence Y's producer first).
# Until its next heartbeat would tell it, Y flushes with its replaced member id: the group
# coordinator refuses the offsets (FENCED_INSTANCE_ID) and the transaction aborts. Then Y is killed.
if [ -n "$long" ]; then
	start y --instance-id y --changelog-ms 0 -X session.timeout.ms=120000 -X heartbeat.interval.ms=60000
	y=$pid
	wait_log "$tmp/y.0.out" "restore of partition .* done" 60
	start y2 --instance-id y --changelog-id "$run.y2"
	y2=$pid
	wait_log "$tmp/y2.0.out" "restore of partition .* done" 60
	wait_log "$tmp/y.0.out" "the group refused this member's markers" 60
	kill -9 "$y"
	wait "$y" 2> /dev/null || true
	kill -TERM "$y2"
	wait "$y2" || fail "Y2 did not stop cleanly: $(tail -5 "$tmp/y2.0.out")"
	echo "handoff: (z2) the group refused the flush of a static member whose instance id was taken:"
	grep -h "refused this member" "$tmp/y.0.out" | head -2 | sed 's/^/  /'
fi

sleep 1
start b
b=$pid
wait_log "$tmp/b.0.out" "restore of partition .* done: replace" 60
wait_log "$tmp/a.0.out" "partition .* dropped (revoked" 60
echo "handoff: B joined; A dropped, B restored:"
grep -h "dropped\|done: replace" "$tmp/a.0.out" "$tmp/b.0.out" | sed 's/^/  /'
sleep 2
kill -9 "$b"
wait "$b" 2>/dev/null || true
echo "handoff: B killed with kill -9"
wait_log "$tmp/a.0.out" "rebalance: partitions assigned.*count=4" 60 # A took B's partitions after the session timeout
start b --exit-at-end --idle-ms 3000
b=$pid
wait_log "$tmp/b.1.out" "restore of partition .* done" 60
sleep 2
kill -TERM "$a"
wait "$a" || fail "A did not stop cleanly: $(tail -5 "$tmp/a.0.out")"
echo "handoff: A left; its summary:"
grep "^consume:" "$tmp/a.0.out" | sed 's/^/  /'
wait "$replay" || fail "replay: $(cat "$tmp/replay.out")"
wait "$b" || fail "B's second run: $(tail -20 "$tmp/b.1.out")"
grep "^consume:\|restore of partition .* done" "$tmp/b.1.out" | sed 's/^/  /'
for f in "$tmp"/a.0.out "$tmp"/b.1.out; do
	grep -q "duplicates 0," "$f" || fail "$f: an event was applied twice"
done
grep -q "action=republish\|action=replace" "$tmp/b.1.out" || fail "B's restart neither replaced nor republished"
"$seg" dump --state "$tmp/b" > "$tmp/b.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/b.csv"
echo "handoff: (a)+(d) the last owner's state equals the oracle"

"$seg" backfill --data "$tmp/data" --state "$tmp/ref" --partitions 4 > /dev/null
for p in 0 1 2 3; do
	"$seg" state records --state "$tmp/b" --partition "$p" --topic "$run.events" | tail -n +2 > "$tmp/b.$p.raw"
	"$seg" state records --state "$tmp/ref" --partition "$p" --topic "$run.events" | tail -n +2 > "$tmp/ref.$p.raw"
	[ -s "$tmp/ref.$p.raw" ] || fail "the backfill has no customer in partition $p"
	cmp -s "$tmp/b.$p.raw" "$tmp/ref.$p.raw" || fail "partition $p: records differ from the backfill's"
done
echo "handoff: (b) every partition's records are byte-identical to the backfill's"

# (c) Delete every event record (what retention does to old segments), then a new member.
"$py" - "$brokers" "$run.events" <<'PY'
import os, sys
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "handoff-test-watermarks"})
high = [c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)[1] for p in range(4)]
admin = AdminClient({"bootstrap.servers": sys.argv[1]})  # kept alive until the results are in
for f in admin.delete_records([TopicPartition(sys.argv[2], p, high[p]) for p in range(4)]).values():
    f.result(timeout=60)
low = [c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)[0] for p in range(4)]
assert low == high and min(low) > 0, (low, high)
print("handoff: events deleted below", low, flush=True)
c.close()
os._exit(0)  # confluent-kafka 2.6.1 can crash at interpreter exit after delete_records
PY
if "$seg" consume --state "$tmp/plain" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --exit-at-end \
	> "$tmp/plain.out" 2>&1; then
	fail "a consumer without the changelog started at offset 0 of a topic whose events are gone"
fi
grep -q "missing from the broker\|out of range" "$tmp/plain.out" || fail "plain consumer: $(tail -3 "$tmp/plain.out")"
start c --exit-at-end --idle-ms 1000
c=$pid
wait "$c" || fail "C: $(tail -20 "$tmp/c.0.out")"
[ "$(grep -c "done: replace" "$tmp/c.0.out")" -eq 4 ] || fail "C did not restore 4 partitions: $(cat "$tmp/c.0.out")"
"$seg" dump --state "$tmp/c" > "$tmp/c.csv"
cmp -s "$tmp/c.csv" "$tmp/b.csv" || fail "C's state differs from B's"
grep "done: replace" "$tmp/c.0.out" | sed 's/^/  /'
echo "handoff: (c) with the events deleted, a new instance took every partition over exactly"
