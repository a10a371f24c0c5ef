#!/usr/bin/env bash
# Partition hand-off through the changelog (#18) against a real Kafka 3.9 broker (not part of the
# default test suite; BENCHMARKS.md):
#   bash tools/bench/handoff.sh [--scale mid|full] [--users N] [--partitions P] [--brokers HOST:PORT] [--quick]
# 1. gen (mid: 40,000 customers; full: 206,209), the events topic made with P partitions (12),
#    the history but its last TAIL events (BENCH_TAIL, 2,000) replayed into it;
# 2. a consumer alone catches it up with the changelog off, then another (fresh state) with it on
#    (--group, --changelog, default --changelog-ms): what the changelog costs the catch-up;
# 3. the last TAIL events replayed, then a fresh instance joins the group and takes every partition
#    over from the changelog: each partition's restore (assignment -> its records and offset in the
#    state, from the log line), and assignment -> the first batch of events applied;
# 4. against that, replaying one partition from offset 0: the changelog-off catch-up time of step 2
#    times that partition's share of the events (the partitions are consumed together, so one
#    partition alone is not timed by itself; its events / the catch-up rate is the figure). Its
#    offset counts messages: in replay's default encoding (BENCH_ENCODING=order) orders, so its
#    events are its share of the messages times the events (about: orders differ in lines);
# 5. throughput: 2 and 3 instances (--changelog, fresh states, a group each) started together
#    catch the history up (1 instance: step 2's changelog-on run): events / wall time until the
#    last one is at the end;
# 6. the rebalance pause: the instance of step 3 (caught up) alone, the last events streamed at
#    BENCH_RATE (20,000) events/s for BENCH_SECONDS (50); a second instance joins at 10 s (it
#    restores half the partitions), and is killed with kill -9 at 30 s (session timeout 6 s: the
#    first takes them back). Each instance serves --http (BENCH_HTTP_PORT, 39610, and the next);
#    a watcher reads every partition's committed offset from /metrics every 0.2 s (the stats are
#    refreshed every 0.5 s): the pause of a partition is the time between two advances of its
#    highest committed offset, and the figure the longest pause of any partition around each event.
# --quick: 2,000 customers, 4 partitions (a smoke test, < 90 s on a running broker).
# Without --brokers it starts its own broker on BENCH_KAFKA_PORT (39392) in BENCH_DIR.
# The set-up's writes are flushed (`sync`) before the timed steps; BENCH_NO_SYNC=1 skips it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
. tools/bench/common.sh
users=40000 partitions=12 brokers=""
while [ $# -gt 0 ]; do
	case $1 in
	--scale) case $2 in mid) users=40000 ;; full) users=206209 ;; *) echo "--scale mid|full" >&2; exit 2 ;; esac; shift ;;
	--users) users=$2; shift ;;
	--partitions) partitions=$2; shift ;;
	--brokers) brokers=$2; shift ;;
	--quick) users=2000 partitions=4 quick=1 ;;
	*) echo "usage: handoff.sh [--scale mid|full] [--users N] [--partitions P] [--brokers B] [--quick]" >&2
		exit 2 ;;
	esac
	shift
done
port=${BENCH_KAFKA_PORT:-39392}
work=${BENCH_DIR:-/tmp/segstream-handoff-$$}
py=${BENCH_PYTHON:-$repo/.venv/bin/python}
tail_events=${BENCH_TAIL:-2000}
http=${BENCH_HTTP_PORT:-39610}
stream_rate=${BENCH_RATE:-20000}
[ -z "${quick:-}" ] || stream_rate=${BENCH_RATE:-4000}
stream_seconds=${BENCH_SECONDS:-50}
trap bench_cleanup EXIT
bench_setup
run=handoff-$$-$(date +%s)
encoding=${BENCH_ENCODING:-order} # replay's: one message per order (default) or per line
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names" --dlq-topic "$run.dlq")

# 1. The data, the topic with P partitions, the history but its tail.
"$seg" gen --users "$users" --out "$work/data" --catalog "$repo/data/instacart" > "$work/gen.out"
total=$(sed -n 's/.* orders, \([0-9]*\) prior lines.*/\1/p' "$work/gen.out")
stream_events=$((stream_rate * stream_seconds))
history=$((total - tail_events - stream_events))
"$py" - "$brokers" "$run.events" "$partitions" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.create_topics([NewTopic(sys.argv[2], int(sys.argv[3]), 1)]).values():
    f.result(timeout=60)
PY
"$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --encoding "$encoding" --limit "$history" \
	> "$work/replay1.out" 2>&1
echo "handoff bench: $users customers, $total events over $partitions partitions; $history replayed first;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_flush # gen's files and the broker's log on disk before the timed catch-ups

# summary FILE: "S s, R events/s" of the catch-up, and the whole run (with the final flush and close).
summary() {
	awk '/catch-up finished/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { printf "%.2f s, %.0f events/s", v["seconds"], v["events"] / v["seconds"] }' "$1"
	echo " (run $(sed -n 's/^consume: \([0-9.]*\) s, .*/\1 s/p' "$1"))"
}

# 2. Catch-up alone: the changelog off, then on.
"$seg" consume --state "$work/off" --brokers "$brokers" "${topics[@]}" --group "$run.off" --exit-at-end \
	> "$work/off.out" 2>&1
"$seg" consume --state "$work/on" --brokers "$brokers" "${topics[@]}" --group "$run.g" --changelog \
	--changelog-topic "$run.changelog" --exit-at-end > "$work/on.out" 2>&1
echo "catch-up, changelog off: $(summary "$work/off.out")"
echo "catch-up, changelog on:  $(summary "$work/on.out") ($(grep -o 'changelog flushes [0-9]* ([0-9]* records)' "$work/on.out"))"

# 3. The tail, then a fresh instance takes every partition over.
"$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --encoding "$encoding" --skip "$history" \
	--limit "$tail_events" \
	> "$work/replay2.out" 2>&1
"$seg" consume --state "$work/new" --brokers "$brokers" "${topics[@]}" --group "$run.g" --changelog \
	--changelog-topic "$run.changelog" --exit-at-end --verbose > "$work/new.out" 2>&1
"$seg" state records --state "$work/off" --partition 0 --topic "$run.events" | awk 'NR == 1' > "$work/p0.offset"

# 4. The figures, from the log lines' times.
"$py" - "$work" "$partitions" <<'PY'
import re, sys
from datetime import datetime
work, parts = sys.argv[1], int(sys.argv[2])
# The history's messages: the replay's order messages (one per order), or its events (one per line).
replay1 = open(f"{work}/replay1.out").read()
sent = re.search(r"^replay: encoding order: (\d+) messages", replay1, re.M) or \
    re.search(r"events produced (\d+)", replay1)
def t(line):
    return datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lines = open(f"{work}/new.out").read().splitlines()
assigned = next(t(l) for l in lines if "partitions assigned" in l)
restores = [(int(m.group(1)), float(m.group(3)), int(m.group(2))) for l in lines
            for m in [re.search(r"partition=(\d+) action=replace records=(\d+).* seconds=([0-9.e-]+)", l)] if m]
# The first batch's line comes after its commit and the changelog flush that follows it: less commit_ms,
# it is when that batch's events were applied (in memory) and its commit began.
first = next(t(l) - float(re.search(r"commit_ms=([0-9.e+-]+)", l).group(1)) / 1e3 for l in lines if "batch committed" in l)
secs = [s for _, s, _ in restores]
print(f"restore: {len(restores)} partitions replaced; per partition {min(secs):.3f} - {max(secs):.3f} s "
      f"(mean {sum(secs) / len(secs):.3f} s, {sum(r for *_, r in restores) / len(restores):.0f} customers)")
print(f"assignment -> first events applied (all {parts} partitions restored first): {first - assigned:.2f} s")
off = open(f"{work}/off.out").read()
m = re.search(r"catch-up finished events=(\d+) seconds=([0-9.e+-]+)", off)
seconds = float(m.group(2))
rate = int(m.group(1)) / seconds
p0_messages = int(open(f"{work}/p0.offset").read().split()[1])
p0 = round(int(m.group(1)) * p0_messages / int(sent.group(1)))  # its share of the messages, in events
print(f"replay of partition 0 from offset 0 instead: {p0} events ({p0_messages} messages) at the catch-up's "
      f"{rate:.0f} events/s = {p0 / rate:.2f} s (the whole catch-up of {parts} partitions: {seconds:.2f} s)")
PY

# 5. Throughput of 2 and 3 instances started together (1: step 2's changelog-on run), over the
# history and step 3's tail; the wall time counts the group's joins and hand-offs too.
for n in 2 3; do
	start=$(date +%s.%N)
	members=()
	for i in $(seq 1 "$n"); do
		"$seg" consume --state "$work/t$n.$i" --brokers "$brokers" "${topics[@]}" --group "$run.t$n" \
			--instance-id "m$i" --changelog --changelog-topic "$run.t$n.changelog" --exit-at-end --idle-ms 1000 \
			--status-every 0 > "$work/t$n.$i.out" 2>&1 &
		members+=("$!")
	done
	for pid in "${members[@]}"; do wait "$pid"; done
	end=$(date +%s.%N)
	events=$(cat "$work"/t$n.*.out | sed -n 's/^consume: events read \([0-9]*\),.*/\1/p' | paste -sd+ | bc)
	topic_events=$((history + tail_events))
	echo "throughput, $n instances: $(echo "$end - $start - 1" | bc -l | xargs printf %.2f) s wall for $topic_events events" \
		"($(echo "$topic_events / ($end - $start - 1)" | bc -l | xargs printf %.0f) events/s; $events read in all," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "throughput, 1 instance: $(summary "$work/on.out")"

# 6. The rebalance pause: A (step 3's state, caught up) alone while the last events stream; B
# joins at 10 s, is killed with kill -9 at 30 s.
member() { # NAME STATE PORT
	"$seg" consume --state "$work/$2" --brokers "$brokers" "${topics[@]}" --group "$run.g" --instance-id "$1" \
		--changelog --changelog-topic "$run.changelog" --session-timeout-ms 6000 --http "127.0.0.1:$3" \
		--status-every 0 --verbose > "$work/pause.$1.out" 2>&1 &
}
member a new "$http"
a=$!
for i in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$http/ready" && break; sleep 0.1; done
"$py" - "$work/pause.samples" "$http" "$((http + 1))" <<'PY' &
import re, signal, sys, time, urllib.request
out, ports = sys.argv[1], sys.argv[2:]
run = True
def stop(*_):
    global run
    run = False
signal.signal(signal.SIGTERM, stop)
with open(out, "w") as f:
    while run:
        now = time.time()
        for port in ports:
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=0.3).read().decode()
            except Exception:
                continue
            for m in re.finditer(r'^segstream_partition_committed_offset\{partition="(\d+)"\} (\d+)', text, re.M):
                f.write(f"{now:.3f} {port} {m.group(1)} {m.group(2)}\n")
        f.flush()
        time.sleep(max(0.0, 0.2 - (time.time() - now)))
PY
watcher=$!
"$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --encoding "$encoding" \
	--skip "$((history + tail_events))" \
	--rate "$stream_rate" > "$work/replay3.out" 2>&1 &
stream=$!
sleep 10
date +%s.%N > "$work/pause.add"
member b b "$((http + 1))"
b=$!
sleep 20
date +%s.%N > "$work/pause.kill"
kill -9 "$b"
wait "$stream"
sleep 5
kill "$watcher"
wait "$watcher" || true
kill "$a"
wait "$a" || true
"$py" - "$work" "$partitions" <<'PY'
import re, sys
from datetime import datetime
work, parts = sys.argv[1], int(sys.argv[2])
add, kill = (float(open(f"{work}/pause.{e}").read()) for e in ("add", "kill"))
best, last, gaps = {}, {}, []
for line in open(f"{work}/pause.samples"):
    t, _, p, off = line.split()
    t, p, off = float(t), int(p), int(off)
    if off > best.get(p, -1):
        if p in last:
            gaps.append((p, last[p], t))
        best[p], last[p] = off, t
def worst(t0, t1):
    g = [(e - s, p) for p, s, e in gaps if e >= t0 and s <= t1]
    return max(g) if g else (0.0, -1)
steady = sorted(e - s for p, s, e in gaps if e < add)
print(f"pause, steady state (before the join): median {steady[len(steady) // 2]:.2f} s, max {max(steady):.2f} s "
      f"between advances of a partition's committed offset ({len(steady)} advances)")
g, p = worst(add, add + 15)
print(f"pause, an instance added: the longest any partition went unprocessed {g:.2f} s (partition {p})")
g, p = worst(kill, kill + 20)
print(f"pause, an instance killed (kill -9, session timeout 6 s): {g:.2f} s (partition {p})")
def t(line):
    return datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lines = open(f"{work}/pause.b.out").read().splitlines()
assigned = next(t(l) for l in lines if re.search(r"partitions assigned.*count=[1-9]", l))
restores = [float(m.group(2)) for l in lines for m in [re.search(r"partition=(\d+) action=\w+ .*seconds=([0-9.e-]+)", l)] if m]
first = next(t(l) - float(re.search(r"commit_ms=([0-9.e+-]+)", l).group(1)) / 1e3 for l in lines
             if "batch committed" in l and t(l) > assigned)
print(f"the added instance: assignment -> first events applied {first - assigned:.2f} s, {len(restores)} partitions "
      f"restored one after another ({min(restores):.3f} - {max(restores):.3f} s each)")
PY
