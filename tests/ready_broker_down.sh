#!/usr/bin/env bash
# consume --http while the real broker goes away: /ready answers 200 once caught up, 503 "broker
# unreachable" (segstream_broker_up 0) after the broker is stopped with its script, and 200 again
# once it is resumed on its storage; the consumer keeps running, exits cleanly, and its stderr in
# --log-format json stays all JSON (librdkafka's connection errors included) with the line that
# says the broker answers again.
#   ready_broker_down.sh SEGSTREAM_BINARY REPO_DIR  (SEGSTREAM_BOOTSTRAP, SEGSTREAM_HTTP_PORT,
#                                                    SEGSTREAM_KAFKA_PORT, SEGSTREAM_KAFKA_DIR)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
broker_sh=$repo/tools/kafka/broker.sh
run=ready-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
"$seg" gen --users 100 --seed 17 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" > "$tmp/replay.out" 2>&1 \
	|| { cat "$tmp/replay.out"; echo "FAIL: replay"; exit 1; }
# librdkafka's lines go through our logger: none in its own "%LEVEL|TIME|FACILITY|" format.
if grep -q '^%[0-7]|' "$tmp/replay.out"; then cat "$tmp/replay.out"; echo "FAIL: raw librdkafka lines"; exit 1; fi
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --no-sync \
	--http "127.0.0.1:$port" --ready-lag 0 --log-format json --status-every 1 > "$tmp/consume.out" 2> "$tmp/consume.err" &
consumer=$!
# Whatever happens, the broker is running again for the tests after this one.
trap 'kill $consumer 2> /dev/null || true; "$broker_sh" resume > /dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
"$py" "$repo/tests/check_http_metrics.py" ready "$port" 200 120
"$broker_sh" stop
"$py" "$repo/tests/check_http_metrics.py" ready "$port" 503 60
"$broker_sh" resume
"$py" "$repo/tests/check_http_metrics.py" ready "$port" 200 120
kill -TERM $consumer
wait $consumer || { tail -20 "$tmp/consume.err"; echo "FAIL: the consumer did not exit cleanly"; exit 1; }
"$py" - "$tmp/consume.err" <<'PY'
import json, sys
logs = []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        logs.append(json.loads(line))
    except ValueError:
        sys.exit(f"FAIL: stderr line {n} is not JSON: {line!r}")
if not any(o["msg"] == "the broker answers again" for o in logs):
    sys.exit("FAIL: no line says the broker answers again")
if not any(o["component"] == "librdkafka" for o in logs):
    sys.exit("FAIL: librdkafka's lines about the lost broker are not in the log")
print(f"ready_broker_down: {len(logs)} JSON lines")
PY
echo "ready_broker_down: /ready 200 -> 503 (broker stopped) -> 200 (resumed)"
