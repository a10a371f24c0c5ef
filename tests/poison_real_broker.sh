#!/usr/bin/env bash
# A poison message never stops the stream (#14 defect 1): a 5 MB event (the events topic takes
# messages up to 8 MiB) sits in a partition before the replay's events. Its dead letter cannot
# go out whole (the dead-letter producer's limit is 1 MB), so it goes out truncated, with the
# original size in `segstream.truncated` and the reason saying so; the consumer goes on, commits,
# a restart reads nothing again and does not die, and the state equals the oracle.
# Then per line, in the replay's default encoding (one message per order): a copy of a replayed
# order with one line out of range (product_id 0) is produced again; that line alone is
# dead-lettered (the order with that line only, `segstream.line` = its position) and the other
# lines are counted as duplicates (the guard holds line by line): the state is still the oracle's.
#   poison_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
run=poison-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers" --dlq-topic "$run.dlq")
"$seg" gen --users 300 --seed 31 --out "$tmp/data" --catalog "$repo/data/instacart"
# The events topic with a raised message limit, and the 5 MB poison (a msgpack str, keyed like
# a real event) first in its partition: every later event of that partition waits behind it.
"$py" - "$brokers" "$run.events" <<'PY'
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
brokers, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": brokers})
fs = admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1,
                                   config={"max.message.bytes": str(8 << 20)})])
fs[topic].result(timeout=30)
n = 5 << 20
poison = b"\xdb" + n.to_bytes(4, "big") + b"p" * n
p = Producer({"bootstrap.servers": brokers, "message.max.bytes": str(16 << 20)})
errors = []
p.produce(topic, key=b"7", value=poison, on_delivery=lambda e, m: errors.append(e) if e else None)
p.flush(60)
sys.exit(1 if errors or len(p) else 0)
PY
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" > "$tmp/replay.out"
delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$tmp/replay.out")
[ -n "$delivered" ] || { cat "$tmp/replay.out"; echo "FAIL: replay did not deliver everything"; exit 1; }

"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --exit-at-end --no-sync \
	> "$tmp/consume.out" 2> "$tmp/consume.err" || {
	cat "$tmp/consume.out" "$tmp/consume.err"
	echo "FAIL: the poison message stopped the consumer"
	exit 1
}
cat "$tmp/consume.out"
grep -q "events read $((delivered + 1)), applied $delivered, duplicates 0, train ignored 0, dead-lettered 1," \
	"$tmp/consume.out" || { echo "FAIL: not every event applied and the poison dead-lettered once"; exit 1; }
grep -q "truncated" "$tmp/consume.err" || { cat "$tmp/consume.err"; echo "FAIL: the truncation is not logged"; exit 1; }
# A restart finds everything committed: it neither dies nor reads the poison again.
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --exit-at-end --no-sync \
	> "$tmp/again.out" 2>&1 || { cat "$tmp/again.out"; echo "FAIL: the restarted consumer died"; exit 1; }
grep -q "events read 0," "$tmp/again.out" || { cat "$tmp/again.out"; echo "FAIL: the restart read events again"; exit 1; }
# An order replayed again with its second line out of range, in the partition of the original
# (its user's): the first order message of the events with 3 lines or more.
bad=$("$py" - "$brokers" "$run.events" <<'PY'
import sys
import msgpack
from confluent_kafka import Consumer, Producer, TopicPartition
brokers, topic = sys.argv[1], sys.argv[2]
c = Consumer({"bootstrap.servers": brokers, "group.id": "poison-order", "enable.auto.commit": False})
c.assign([TopicPartition(topic, p, 0) for p in c.list_topics(topic, timeout=10).topics[topic].partitions])
found = None
for _ in range(200):
    m = c.poll(0.5)
    if m is None or m.error() or len(m.value()) > 100000:
        continue
    u = msgpack.unpackb(m.value())
    if u[0] == 2 and len(u[9]) >= 3:
        found = m
        break
c.close()
assert found is not None, "no order message of 3 lines or more: is the replay's default not one per order?"
u = msgpack.unpackb(found.value())
u[9][1][0] = 0  # the second line's product_id
p = Producer({"bootstrap.servers": brokers})
p.produce(topic, key=found.key(), value=msgpack.packb(u), partition=found.partition())
assert p.flush(30) == 0, "the bad order was not delivered"
print(len(u[9]), found.partition(), msgpack.packb(u[:9] + [[u[9][1]]]).hex())
PY
) || { echo "FAIL: the order with a bad line was not produced"; exit 1; }
read -r lines bad_partition bad_letter <<< "$bad"
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --exit-at-end --no-sync \
	> "$tmp/line.out" 2>&1 || { cat "$tmp/line.out"; echo "FAIL: the consumer died on an order with a bad line"; exit 1; }
grep -q "events read $lines, applied 0, duplicates $((lines - 1)), train ignored 0, dead-lettered 1," "$tmp/line.out" \
	|| { cat "$tmp/line.out"; echo "FAIL: not the bad line dead-lettered and the $((lines - 1)) others duplicates"; exit 1; }
# The dead letters: the poison, truncated under 1 MB, the original size and a reason that says
# so; and the bad line's, the order with that line alone and its position.
"$py" - "$brokers" "$run.dlq" "$lines" "$bad_partition" "$bad_letter" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "poison-check", "enable.auto.commit": False})
parts = c.list_topics(sys.argv[2], timeout=10).topics[sys.argv[2]].partitions
c.assign([TopicPartition(sys.argv[2], p, 0) for p in parts])
got = []
for _ in range(50):
    m = c.poll(0.2)
    if m is not None and not m.error():
        got.append(m)
c.close()
assert len(got) == 2, f"{len(got)} dead letters, want 2"
letters = [m for m in got if "segstream.line" in dict(m.headers() or [])]
assert len(letters) == 1, f"{len(letters)} dead letters with segstream.line, want 1"
m = letters[0]
h = dict(m.headers())
lines, partition, want = int(sys.argv[3]), sys.argv[4], bytes.fromhex(sys.argv[5])
reason = h.get("segstream.error", b"").decode()
print(f"poison: the bad line's dead letter: line {h['segstream.line'].decode()}, reason: {reason}")
assert h["segstream.line"] == b"2", h["segstream.line"]
assert reason.startswith(f"EVENT_RANGE: line 2 of {lines}: product_id"), reason
assert m.value() == want, (m.value().hex(), want.hex())
assert h.get("segstream.source", b"").decode().startswith(sys.argv[2][:-4] + f".events/{partition}/"), h
m = [m for m in got if m is not letters[0]][0]
h = dict(m.headers() or [])
n = 5 << 20
reason = h.get("segstream.error", b"").decode()
print(f"poison: dead letter of {len(m.value())} bytes, reason: {reason}")
assert h.get("segstream.truncated") == str(n + 5).encode(), h.get("segstream.truncated")
assert "EVENT_SHAPE" in reason and "truncated" in reason and str(n + 5) in reason, reason
assert 0 < len(m.value()) < 1000000, len(m.value())
assert m.value() == (b"\xdb" + n.to_bytes(4, "big") + b"p" * n)[: len(m.value())], "not the poison's first bytes"
assert m.key() == b"7" and h.get("segstream.source", b"").decode().startswith(sys.argv[2][:-4] + ".events/")
PY
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/dump.csv"
echo "poison: the 5 MB event was dead-lettered truncated, an order's bad line alone; the stream went on and equals the oracle"
