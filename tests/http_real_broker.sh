#!/usr/bin/env bash
# consume --http through the real broker: /health answers at once, /ready is 503 while the
# consumer waits for the events (no stats yet) and 200 once every partition's lag is 0; the
# /metrics scrape, parsed by prometheus_client, equals the consumer's own summary at exit
# (with 5 messages that are no event, so dead letters count too). While the consumer runs, serve
# reads its state (port + 1): 100 customers equal get --json, bad requests, 1,000 parallel
# connections; then both servers still answer.
#   http_real_broker.sh SEGSTREAM_BINARY REPO_DIR  (SEGSTREAM_BOOTSTRAP, SEGSTREAM_HTTP_PORT)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
run=http-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers")
"$seg" gen --users 400 --seed 13 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --dlq-topic "$run.dlq" --no-sync --batch-events 5000 \
	--snapshot-dir "$tmp/snaps" \
	--http "127.0.0.1:$port" --ready-lag 0 > "$tmp/consume.out" 2> "$tmp/consume.err" &
consumer=$!
trap 'kill $consumer 2> /dev/null || true; rm -rf "$tmp"' EXIT
# Before the replay: alive, not ready.
"$py" "$repo/tests/check_http_metrics.py" before "$port"
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" > "$tmp/replay.out"
delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$tmp/replay.out")
[ -n "$delivered" ] || { cat "$tmp/replay.out"; echo "FAIL: the replay did not deliver everything"; exit 1; }
orders=$(sed -n 's/^replay: encoding order: \([0-9]*\) messages.*/\1/p' "$tmp/replay.out")
[ -n "$orders" ] || { cat "$tmp/replay.out"; echo "FAIL: the default replay did not send one message per order"; exit 1; }
"$py" "$repo/tests/check_http_metrics.py" poison "$brokers" "$run.events" 5
delivered=$((delivered + 5))
# Caught up: ready, lag 0 (in messages: orders, and the 5), the scrape kept for the comparison with the summary.
"$py" "$repo/tests/check_http_metrics.py" caught-up "$port" "$delivered" "$tmp/scrape.txt" "$tmp/snaps" "$orders"
# serve beside the running consumer, on the state it writes.
"$seg" dump --state "$tmp/state" > "$tmp/state.csv"
"$seg" serve --state "$tmp/state" --http "127.0.0.1:$((port + 1))" 2> "$tmp/serve.err" &
server=$!
trap 'kill $consumer $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
"$py" "$repo/tests/check_serve.py" "$seg" $((port + 1)) "$tmp/state" -
kill -TERM $server
wait $server || { cat "$tmp/serve.err"; echo "FAIL: serve did not exit cleanly"; exit 1; }
"$py" "$repo/tests/check_http_metrics.py" still-serving "$port"
kill -TERM $consumer
wait $consumer || { cat "$tmp/consume.err"; echo "FAIL: the consumer did not exit cleanly on SIGTERM"; exit 1; }
"$py" "$repo/tests/check_http_metrics.py" summary "$tmp/scrape.txt" "$tmp/consume.out"
echo "http_real_broker: $delivered events; /metrics equals the summary, /ready turned 200"
