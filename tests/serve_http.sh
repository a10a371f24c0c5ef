#!/usr/bin/env bash
# segstream serve on a backfilled state (no broker): /customers/{id} equals get --json, /segments
# and /snapshots/* equal the published files, bad requests get their 4xx, 1,000 parallel
# connections are answered, and SIGTERM stops it cleanly (tests/check_serve.py).
#   serve_http.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_HTTP_PORT names a free port)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
"$seg" gen --users 300 --seed 21 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null
"$seg" dump --state "$tmp/state" > "$tmp/state.csv"
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" serve --state "$tmp/state" --snapshots "$tmp/snaps" --http "127.0.0.1:$port" 2> "$tmp/serve.err" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
"$py" "$repo/tests/check_serve.py" "$seg" "$port" "$tmp/state" "$tmp/snaps"
kill -TERM $server
wait $server || { cat "$tmp/serve.err"; echo "FAIL: serve did not exit cleanly on SIGTERM"; exit 1; }
grep -q "serve: stopped" "$tmp/serve.err" || { cat "$tmp/serve.err"; echo "FAIL: no clean stop"; exit 1; }
# A port in use is refused with a message, not a crash.
"$seg" serve --state "$tmp/state" --http "127.0.0.1:$port" 2> /dev/null &
other=$!
sleep 0.3
if "$seg" serve --state "$tmp/state" --http "127.0.0.1:$port" 2> "$tmp/taken.err"; then
	echo "FAIL: a second serve on the same port started"; exit 1
fi
kill -TERM $other; wait $other
grep -q "cannot listen" "$tmp/taken.err" || { cat "$tmp/taken.err"; echo "FAIL: no message for a taken port"; exit 1; }
echo "serve_http: get --json, the snapshots, bad requests and 1000 parallel connections"
