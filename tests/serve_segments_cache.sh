#!/usr/bin/env bash
# serve's /segments is computed once per state transaction (a walk with the clusters' k-means
# takes about 1.5 s at full scale): asked again with no commit since, the same bytes come from
# the cache (logged at debug level); after a consumer commits beside it, the answer is computed
# again and equals what `snapshot` publishes from that state. On librdkafka's mock cluster.
#   serve_segments_cache.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_HTTP_PORT names a free port)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
"$seg" gen --users 300 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" mock-cluster --partitions 2 --bootstrap-file "$tmp/bootstrap" > "$tmp/mock.log" 2>&1 &
mock=$!
server=
trap 'kill $mock $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$tmp/bootstrap")
consume() {
	"$seg" consume --state "$tmp/state" --brokers "$brokers" --exit-at-end --no-sync > "$tmp/consume.out" \
		2> "$tmp/consume.err" || { cat "$tmp/consume.out" "$tmp/consume.err"; echo "FAIL: consume"; exit 1; }
}
"$seg" replay --data "$tmp/data" --brokers "$brokers" --limit 4000 > "$tmp/replay1.out" 2>&1 \
	|| { cat "$tmp/replay1.out"; echo "FAIL: replay --limit"; exit 1; }
consume

"$seg" serve --log-level debug --state "$tmp/state" --http "127.0.0.1:$port" 2> "$tmp/serve.err" &
server=$!
get() { curl -sf -o "$1" "http://127.0.0.1:$port/segments"; }
for _ in $(seq 100); do get "$tmp/first.json" && break; sleep 0.1; done
[ -s "$tmp/first.json" ] || { cat "$tmp/serve.err"; echo "FAIL: no /segments answer"; exit 1; }
get "$tmp/again.json"
cmp -s "$tmp/first.json" "$tmp/again.json" || { echo "FAIL: /segments changed with no commit"; exit 1; }
[ "$(grep -c '/segments: the answer at transaction [0-9]* again' "$tmp/serve.err")" = 1 ] \
	|| { cat "$tmp/serve.err"; echo "FAIL: the second /segments was not the cached answer"; exit 1; }

# The rest of the events, committed while serve runs: the next answer is the new state's.
"$seg" replay --data "$tmp/data" --brokers "$brokers" --skip 4000 > "$tmp/replay2.out" 2>&1 \
	|| { cat "$tmp/replay2.out"; echo "FAIL: replay --skip"; exit 1; }
consume
get "$tmp/after.json"
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
cmp -s "$tmp/after.json" "$tmp/snaps/0000000001/report.json" \
	|| { echo "FAIL: /segments after a commit is not the state's report.json (a stale cached answer?)"; exit 1; }
if cmp -s "$tmp/first.json" "$tmp/after.json"; then
	echo "FAIL: the test cannot tell: the second replay changed nothing"; exit 1
fi
kill -TERM $server
wait $server || { cat "$tmp/serve.err"; echo "FAIL: serve did not exit cleanly"; exit 1; }
server=
echo "serve_segments_cache: /segments cached until the next commit, then the new state's report"
