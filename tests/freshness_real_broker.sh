#!/usr/bin/env bash
# Freshness through the real broker: the first part of a replay without the produce-time header,
# the rest with it (replay --skip --stamp); the consumer's segstream_event_commit_latency_seconds
# histogram on /metrics counts exactly the stamped messages (nonzero sum, cumulative buckets), and
# its summary at exit says the same count with p50 <= p99 <= max. A stamp is per message: with
# replay's default encoding, one per order (the order's lines count once), so fewer than events.
#   freshness_real_broker.sh SEGSTREAM_BINARY REPO_DIR  (SEGSTREAM_BOOTSTRAP, SEGSTREAM_HTTP_PORT)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
run=fresh-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
"$seg" gen --users 300 --seed 17 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" \
	--http "127.0.0.1:$port" > "$tmp/consume.out" 2> "$tmp/consume.err" &
consumer=$!
trap 'kill $consumer 2> /dev/null || true; rm -rf "$tmp"' EXIT
plain=3000
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --limit $plain > "$tmp/replay1.out"
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --skip $plain --stamp --rate 20000 \
	> "$tmp/replay2.out"
delivered() { sed -n 's/.*events produced [0-9]*, delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$1"; }
first=$(delivered "$tmp/replay1.out")
stamped=$(delivered "$tmp/replay2.out")
[ "$first" = "$plain" ] && [ -n "$stamped" ] && [ "$stamped" -gt 0 ] \
	|| { cat "$tmp/replay1.out" "$tmp/replay2.out"; echo "FAIL: the replays did not deliver everything"; exit 1; }
# The stamped messages: the second replay's orders (its first one cut by --skip), each stamped once.
orders=$(sed -n 's/^replay: encoding order: \([0-9]*\) messages.*/\1/p' "$tmp/replay2.out")
[ -n "$orders" ] && [ "$orders" -gt 0 ] && [ "$orders" -lt "$stamped" ] \
	|| { cat "$tmp/replay2.out"; echo "FAIL: the default replay did not send one message per order"; exit 1; }
"$py" - "$port" "$orders" "$((first + stamped))" << 'PY'
import sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
port, stamped, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
name = "segstream_event_commit_latency_seconds"
deadline = time.time() + 60
while True:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    fam = {f.name: f for f in text_string_to_metric_families(text)}
    s = {(x.name, x.labels.get("le")): x.value for x in fam[name].samples}
    read = [x.value for x in fam["segstream_events_read"].samples if x.name.endswith("_total")][0]
    if (read >= total and s[(name + "_count", None)] >= stamped) or time.time() > deadline:
        break
    time.sleep(0.2)
count, total_sum = s[(name + "_count", None)], s[(name + "_sum", None)]
buckets = sorted((float(le), v) for (n, le), v in s.items() if n == name + "_bucket")
ok = fam[name].type == "histogram" and count == stamped and total_sum > 0 and read == total
ok = ok and all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and buckets[-1][1] == count
if not ok:
    print(f"FAIL: {name}: count {count} (expected {stamped} messages), sum {total_sum}, events read {read} "
          f"(expected {total}), buckets {buckets}")
    sys.exit(1)
print(f"/metrics: {count:.0f} stamped messages (orders) for {read:.0f} events, mean {1e3 * total_sum / count:.1f} ms")
PY
kill -TERM $consumer
wait $consumer || { cat "$tmp/consume.err"; echo "FAIL: the consumer did not exit cleanly"; exit 1; }
line=$(grep 'consume: stamped events' "$tmp/consume.out") || { cat "$tmp/consume.out"; echo "FAIL: no summary"; exit 1; }
echo "$line"
echo "$line" | awk -v n="$orders" '{ if ($4 != n "," || !($9 <= $12 && $12 <= $15 && $15 > 0)) exit 1 }' \
	|| { echo "FAIL: the summary does not match (stamped $orders messages)"; exit 1; }
echo "freshness_real_broker: $orders stamped orders ($stamped events) of $((first + stamped)) events measured"
