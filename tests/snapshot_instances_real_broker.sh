#!/usr/bin/env bash
# Several instances publish to one segments topic (#18): instance A holds partitions {0, 1} and
# sends a full snapshot; then partition 1 moves to instance B (A's state keeps partition 0, with
# fewer customers: backfilled --until an earlier day). A's next delta tombstones the customers gone
# from partition 0 but none of partition 1's (B publishes them: a tombstone after B's row would
# delete a live customer from the compacted topic); every manifest record names its partitions,
# and the topic's last record per key is B's or A's current row for every customer.
#   snapshot_instances_real_broker.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
run=instances-$$-$(date +%s)
"$seg" gen --users 400 --seed 23 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
backfill() { "$seg" backfill --data "$tmp/data" --partitions 4 "$@" > /dev/null 2>&1; }
backfill --state "$tmp/a1" --only-partitions 0,1
backfill --state "$tmp/a2" --only-partitions 0 --until 2019-06-01
backfill --state "$tmp/b" --only-partitions 1,2,3
send() { "$seg" snapshot --state "$1" --out "$2" --brokers "$brokers" --segments-topic "$run.segments" 2> /dev/null; }
send "$tmp/a1" "$tmp/snaps-a" > "$tmp/a1.out"
send "$tmp/b" "$tmp/snaps-b" > "$tmp/b.out"
send "$tmp/a2" "$tmp/snaps-a" | tee "$tmp/a2.out" | tail -1

"$py" - "$brokers" "$run.segments" "$tmp" "$repo" <<'PY'
import json
import re
import sys

from confluent_kafka import Consumer, TopicPartition

brokers, topic, tmp, repo = sys.argv[1:5]
sys.path.insert(0, f"{repo}/tools/python")
from segstream_snapshot import load

a1, a2, b = load(f"{tmp}/snaps-a", 1), load(f"{tmp}/snaps-a", 2), load(f"{tmp}/snaps-b")
assert (a1.manifest["partitions"], a2.manifest["partitions"], b.manifest["partitions"]) == ([0, 1], [0], [1, 2, 3])
gone0 = set(a1.customers[a1.customers.partition == 0].user_id) - set(a2.customers.user_id)
moved = set(a1.customers[a1.customers.partition == 1].user_id)
assert gone0 and moved, (len(gone0), len(moved))
line = open(f"{tmp}/a2.out").read()
m = re.search(r"(\d+) changed rows, (\d+) removed, (\d+) left to their partitions' new owners", line)
assert m and int(m.group(2)) == len(gone0) and int(m.group(3)) == len(moved), (line, len(gone0), len(moved))

c = Consumer({"bootstrap.servers": brokers, "group.id": "instances-check", "isolation.level": "read_committed",
              "enable.partition.eof": True, "enable.auto.commit": False})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, p, 0) for p in parts])
records, eof = [], set()
while len(eof) < len(parts):
    for msg in c.consume(1000, timeout=1.0):
        if msg.error():
            eof.add(msg.partition())
        else:
            records.append((msg.key().decode(), msg.value()))
c.close()
manifests = [json.loads(v) for k, v in records if k == "__manifest"]
assert [m["partitions"] for m in manifests] == [[0, 1], [1, 2, 3], [0]], [m["partitions"] for m in manifests]
tombstones = {int(k) for k, v in records if k != "__manifest" and v is None}
assert tombstones == gone0, (len(tombstones), len(gone0), sorted(tombstones & moved)[:5])
last = {}
for k, v in records:
    if k != "__manifest":
        last[int(k)] = v
live = {u for u, v in last.items() if v is not None}
assert live == set(a2.customers.user_id) | set(b.customers.user_id), "the topic's live customers"
print(f"instances: {len(moved)} customers of the moved partition kept, {len(gone0)} tombstones, "
      f"{len(manifests)} manifests name their partitions")
PY
