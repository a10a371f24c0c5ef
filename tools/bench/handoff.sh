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
#    partition alone is not timed by itself; its events / the catch-up rate is the figure).
# --quick: 2,000 customers, 4 partitions (a smoke test, < 60 s on a running broker).
# Without --brokers it starts its own broker on BENCH_KAFKA_PORT (39392) in BENCH_DIR.
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
	--quick) users=2000 partitions=4 ;;
	*) echo "usage: handoff.sh [--scale mid|full] [--users N] [--partitions P] [--brokers B] [--quick]" >&2
		exit 2 ;;
	esac
	shift
done
port=${BENCH_KAFKA_PORT:-39392}
work=${BENCH_DIR:-/tmp/segstream-handoff-$$}
py=${BENCH_PYTHON:-$repo/.venv/bin/python}
tail_events=${BENCH_TAIL:-2000}
trap bench_cleanup EXIT
bench_setup
run=handoff-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names" --dlq-topic "$run.dlq")

# 1. The data, the topic with P partitions, the history but its tail.
"$seg" gen --users "$users" --out "$work/data" --catalog "$repo/data/instacart" > "$work/gen.out"
total=$(sed -n 's/.* orders, \([0-9]*\) prior lines.*/\1/p' "$work/gen.out")
history=$((total - tail_events))
"$py" - "$brokers" "$run.events" "$partitions" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.create_topics([NewTopic(sys.argv[2], int(sys.argv[3]), 1)]).values():
    f.result(timeout=60)
PY
"$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --limit "$history" > "$work/replay1.out" 2>&1
echo "handoff bench: $users customers, $total events over $partitions partitions; $history replayed first"

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
"$seg" replay --data "$work/data" --brokers "$brokers" "${topics[@]}" --skip "$history" > "$work/replay2.out" 2>&1
"$seg" consume --state "$work/new" --brokers "$brokers" "${topics[@]}" --group "$run.g" --changelog \
	--changelog-topic "$run.changelog" --exit-at-end --verbose > "$work/new.out" 2>&1
"$seg" state records --state "$work/off" --partition 0 --topic "$run.events" | awk 'NR == 1' > "$work/p0.offset"

# 4. The figures, from the log lines' times.
"$py" - "$work" "$partitions" <<'PY'
import re, sys
from datetime import datetime
work, parts = sys.argv[1], int(sys.argv[2])
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
p0 = int(open(f"{work}/p0.offset").read().split()[1])
print(f"replay of partition 0 from offset 0 instead: {p0} events at the catch-up's {rate:.0f} events/s = "
      f"{p0 / rate:.2f} s (the whole catch-up of {parts} partitions: {seconds:.2f} s)")
PY
