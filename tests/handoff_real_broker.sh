#!/usr/bin/env bash
# Partition hand-off through the changelog (#18), against the real broker, 4 partitions, 2 members:
#  (a) A consumes alone while the replay streams; B joins mid-run (A drops two partitions, B
#      restores them), (d) B is killed with kill -9 and restarted on its state, then A leaves;
#      B, the last owner of every partition, ends equal to the oracle, and no run re-applied an
#      event (every event once);
#  (b) every partition's stored records are byte-identical to a single-instance backfill's;
#  (c) with the events topic's records deleted (as a retention limit would), a new instance
#      still takes every partition over exactly, where one without the changelog stops.
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
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --rate 15000 > "$tmp/replay.out" 2>&1 &
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

start a
a=$pid
wait_log "$tmp/a.0.out" "catch-up started" 60
sleep 3
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
