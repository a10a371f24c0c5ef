#!/usr/bin/env bash
# Faults through the real broker (#14), each ending in the state of the pandas oracle:
#  - a replay killed with SIGKILL part-way, then run again in full (its duplicates are absorbed);
#    the killed one sends a message per line (--encoding line), the full one replay's default, a
#    message per order: the duplicate guard holds line by line across the two, in one topic;
#  - a flood of 20,000 malformed events (random bytes, random keys): all dead-lettered, counted;
#  - the broker stopped and started again on the same storage (tools/kafka/broker.sh restart)
#    while the replay streams and a live consumer reads: both ride it out.
#   faults_real_broker.sh SEGSTREAM_BINARY REPO_DIR
#   (SEGSTREAM_BOOTSTRAP names the broker; SEGSTREAM_KAFKA_PORT and SEGSTREAM_KAFKA_DIR are the
#    fixture broker's, which this test restarts)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}" "${SEGSTREAM_KAFKA_DIR:?the broker to restart}"
replay= consumer=
trap '[ -n "$replay" ] && kill -9 "$replay" 2>/dev/null; [ -n "$consumer" ] && kill -9 "$consumer" 2>/dev/null; rm -rf "$tmp"' EXIT
run=faults-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers" --dlq-topic "$run.dlq")
"$seg" gen --users 2000 --seed 47 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null

# 1. A replay killed part-way (a message per line).
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --encoding line --rate 20000 > "$tmp/replay1.out" 2>&1 &
replay=$!
sleep 4
for _ in $(seq 300); do # killed once it has produced events (its progress line), even on a loaded machine
	grep -q "progress events=[1-9]" "$tmp/replay1.out" && break
	sleep 0.2
done
kill -9 "$replay"
wait "$replay" 2>/dev/null || true
replay=

# 2. The flood of malformed events.
flood=20000
"$py" - "$brokers" "$run.events" "$flood" <<'PY'
import random, sys
from confluent_kafka import Producer
brokers, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(47)
p = Producer({"bootstrap.servers": brokers, "linger.ms": 20})
failed = []
for i in range(n):
    value = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
    key = str(rng.randrange(1, 3000)).encode()
    while True:
        try:
            p.produce(topic, key=key, value=value, on_delivery=lambda e, m: failed.append(e) if e else None)
            break
        except BufferError:
            p.poll(0.1)
    p.poll(0)
p.flush(60)
sys.exit(1 if failed or len(p) else 0)
PY

# 3. A live consumer and the full replay, and the broker restarted under them.
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --no-sync --catchup-batch-ms 200 --batch-ms 200 \
	> "$tmp/live.out" 2> "$tmp/live.err" &
consumer=$!
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --rate 30000 > "$tmp/replay2.out" 2>&1 &
replay=$!
sleep 4
"$repo/tools/kafka/broker.sh" restart
echo "faults: broker restarted on its storage while the replay streamed"
wait "$replay" || { cat "$tmp/replay2.out"; echo "FAIL: the replay did not survive the broker restart"; exit 1; }
replay=
grep -q "failed 0, undelivered 0" "$tmp/replay2.out" || { cat "$tmp/replay2.out"; echo "FAIL: the replay lost events"; exit 1; }
sleep 3
kill -TERM "$consumer"
wait "$consumer" || { cat "$tmp/live.out"; tail -5 "$tmp/live.err"; echo "FAIL: the live consumer failed"; exit 1; }
consumer=
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --no-sync --exit-at-end > "$tmp/final.out" 2>&1 \
	|| { cat "$tmp/final.out"; echo "FAIL: the final consumer failed"; exit 1; }
cat "$tmp/live.out" "$tmp/final.out" | grep "events read"
dups=$(cat "$tmp/live.out" "$tmp/final.out" | sed -n 's/.*duplicates \([0-9]*\),.*/\1/p' | awk '{ s += $1 } END { print s }')
[ "$dups" -gt 0 ] || { echo "FAIL: the killed replay's lines were not absorbed as duplicates of the orders"; exit 1; }
cat "$tmp/live.out" "$tmp/final.out" | grep -q "order messages [1-9]" || { echo "FAIL: no order messages read"; exit 1; }
dead=$(cat "$tmp/live.out" "$tmp/final.out" | sed -n 's/.*dead-lettered \([0-9]*\),.*/\1/p' | awk '{ s += $1 } END { print s }')
[ "$dead" -eq "$flood" ] || { echo "FAIL: $dead events dead-lettered, want the $flood malformed ones"; exit 1; }
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/dump.csv"
echo "faults: killed replay, $flood malformed events and a broker restart: the state equals the oracle"
