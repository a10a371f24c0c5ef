#!/usr/bin/env bash
# Snapshot deltas through the real broker: after a full snapshot to the compacted segments
# topic, new events for 10 customers arrive; the next snapshot's transaction holds exactly
# those 10 customers' rows (and a manifest record), as a read_committed reader sees them.
#   snapshot_delta_real_broker.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
run=delta-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
"$seg" gen --users 1500 --seed 41 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" > /dev/null
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --exit-at-end --no-sync > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --brokers "$brokers" --segments-topic "$run.segments" | tee "$tmp/s1.out"
grep -q "1500 changed rows" "$tmp/s1.out" || { echo "FAIL: the first snapshot is not complete"; exit 1; }
policy=$("$py" - "$brokers" "$run.segments" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
admin, res = AdminClient({"bootstrap.servers": sys.argv[1]}), ConfigResource("topic", sys.argv[2])
print(admin.describe_configs([res])[res].result()["cleanup.policy"].value)
PY
)
[ "$policy" = compact ] || { echo "FAIL: the segments topic's cleanup.policy is '$policy', not compact"; exit 1; }

# New orders for 10 customers, in the Kaggle layout, replayed into the same topic.
"$py" - "$tmp/data" "$tmp/more" <<'PY'
import os, shutil, sys
import pandas as pd
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
orders = pd.read_csv(f"{src}/orders.csv")
users = sorted(orders["user_id"].unique())[::150][:10]
last = orders[orders.eval_set == "prior"].groupby("user_id")["order_number"].max()
new = pd.DataFrame({"order_id": orders["order_id"].max() + 1 + pd.RangeIndex(10), "user_id": users,
                    "eval_set": "prior", "order_number": [last[u] + 1 for u in users], "order_dow": 2,
                    "order_hour_of_day": 10, "days_since_prior_order": 7.0})
new.to_csv(f"{dst}/orders.csv", index=False)
lines = pd.DataFrame([(o, p, k + 1, 0) for o in new.order_id for k, p in enumerate([24852, 13176, 196])],
                     columns=["order_id", "product_id", "add_to_cart_order", "reordered"])
lines.to_csv(f"{dst}/order_products__prior.csv", index=False)
shutil.copy(f"{src}/products.csv", dst)
with open(f"{dst}/users", "w") as f:
    f.write("\n".join(str(u) for u in users) + "\n")
PY
"$seg" replay --data "$tmp/more" --brokers "$brokers" "${topics[@]}" > /dev/null
# This time the consumer publishes the snapshot itself when it stops (files and Kafka delta).
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --exit-at-end --no-sync \
	--snapshot-dir "$tmp/snaps" --segments-topic "$run.segments" 2>&1 | tee "$tmp/c2.out"
grep -q "events read 30, applied 30" "$tmp/c2.out" || { echo "FAIL: the 30 new events were not applied"; exit 1; }
# Snapshots at the end of the catch-up and at exit: the first carries the delta, the second none.
grep -q "10 changed rows, 0 removed, 1490 unchanged (delta against 1)" "$tmp/c2.out" \
	|| { echo "FAIL: the second snapshot's delta is not exactly the 10 customers"; exit 1; }

"$seg" snapshot diff "$tmp/snaps" 1 "$(ls "$tmp/snaps" | grep -E '^[0-9]{10}$' | tail -1)" | tee "$tmp/diff.out" | tail -1
grep -q "10 changed, 0 added, 0 removed, 1490 unchanged" "$tmp/diff.out" || { echo "FAIL: snapshot diff"; exit 1; }
[ "$(grep '^~ ' "$tmp/diff.out" | cut -c3- | sort -n | tr '\n' ' ')" = "$(sort -n "$tmp/more/users" | tr '\n' ' ')" ] \
	|| { echo "FAIL: snapshot diff names other customers"; exit 1; }

# What a read_committed reader sees after the first manifest: the 10 customers, then a manifest.
"$py" - "$brokers" "$run.segments" "$tmp/more/users" "$tmp/snaps" <<'PY'
import json
import os
import sys
import msgpack
from confluent_kafka import Consumer, TopicPartition
brokers, topic, users_file = sys.argv[1:4]
want = {int(u) for u in open(users_file).read().split()}
c = Consumer({"bootstrap.servers": brokers, "group.id": "delta-check", "isolation.level": "read_committed",
              "enable.partition.eof": True, "enable.auto.commit": False})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, p, 0) for p in parts])
records, eof = [], set()
while len(eof) < len(parts):
    for m in c.consume(1000, timeout=1.0):
        if m.error():
            eof.add(m.partition())
        else:
            records.append((m.partition(), m.offset(), m.key().decode(), m.value()))
c.close()
manifests = [r for r in records if r[2] == "__manifest"]
assert len(manifests) >= 2, f"{len(manifests)} manifest records"
# The manifest record carries the event-time watermark, as the latest snapshot's files say.
snaps = sys.argv[4]
latest = json.load(open(f"{snaps}/{max(n for n in os.listdir(snaps) if n.isdigit())}/manifest.json"))
carried = json.loads(manifests[-1][3])
assert carried["format"] == 3 and carried["as_of"] and carried["as_of"] == latest["as_of"], (carried, latest)
assert carried["event_time_max_ms"] == latest["event_time_max_ms"]
rows = [r for r in records if r[2] != "__manifest"]
assert len(rows) == 1500 + 10, len(rows)
by_key = {}
for p, o, k, v in rows:
    by_key.setdefault(int(k), []).append(v)
twice = {k for k, vs in by_key.items() if len(vs) == 2}
assert twice == want, (sorted(twice), sorted(want))
for k in want:
    old, new = (msgpack.unpackb(v) for v in by_key[k])
    assert new[4] == old[4] + 3 and new[2] == old[2] + 1, (k, old[:8], new[:8])
print(f"delta: the second snapshot carried exactly the 10 customers {sorted(want)}")
PY
