#!/usr/bin/env bash
# serve's dashboard in a real browser: headless Chromium loads / against serve on a generated
# data set, and the numbers the rendered page shows (each element's data-value, and its text)
# equal the snapshot's report.json; a newer snapshot is what the next load shows. The
# screenshot is kept as a test artifact (dashboard.png in the test's working directory, or
# SEGSTREAM_ARTIFACTS).
#   dashboard_browser.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
chrome=${SEGSTREAM_CHROMIUM:-/usr/bin/chromium}
artifacts=${SEGSTREAM_ARTIFACTS:-$PWD}
"$seg" gen --users 800 --seed 13 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" serve --state "$tmp/state" --snapshots "$tmp/snaps" --http 127.0.0.1:0 2> "$tmp/serve.err" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
	port=$(sed -n 's/.*serve: listening on port \([0-9]*\).*/\1/p' "$tmp/serve.err")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/serve.err"; echo "FAIL: serve did not start"; exit 1; }

# load SEQUENCE: the page's DOM once it has rendered that snapshot (Chromium's virtual time lets
# the page's fetches finish; a loaded machine may need another try).
load() {
	for _ in 1 2 3; do
		timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chrome" \
			--virtual-time-budget=15000 --dump-dom "http://127.0.0.1:$port/" > "$tmp/dom.html" 2> /dev/null || true
		grep -q "data-rendered=\"$1\"" "$tmp/dom.html" && return 0
	done
	echo "FAIL: the page did not render snapshot $1"
	head -c 2000 "$tmp/dom.html"
	exit 1
}
load 1
"$py" "$repo/tests/check_dashboard.py" "$tmp/dom.html" "$tmp/snaps/0000000001"
timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chrome" \
	--virtual-time-budget=15000 --window-size=1280,1900 --screenshot="$artifacts/dashboard.png" \
	"http://127.0.0.1:$port/" > /dev/null 2>&1
"$py" - "$artifacts/dashboard.png" <<'PY'
import sys
import matplotlib.image as mpimg
img = mpimg.imread(sys.argv[1])
assert img.shape[0] >= 1000 and img.shape[1] >= 1000 and img[..., :3].std() > 0.05, img.shape
print(f"dashboard: screenshot {img.shape[1]}x{img.shape[0]} in {sys.argv[1]}")
PY
# a new snapshot (3 clusters now): the page shows it
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" -T clusters=3 > /dev/null
load 2
"$py" "$repo/tests/check_dashboard.py" "$tmp/dom.html" "$tmp/snaps/0000000002"
echo "dashboard: the rendered page shows the snapshot's numbers, and the newest snapshot"
