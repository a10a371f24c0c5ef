#!/usr/bin/env bash
# A reader never sees a torn snapshot: publications are killed with SIGKILL at random points
# (SEGSTREAM_TORN_KILLS, default 20); afterwards the latest complete snapshot still verifies (C
# reader and Python reader), and the next publication removes what the dead publishers left.
#   snapshot_torn.sh SEGSTREAM_BINARY REPO_DIR
set -euo pipefail
seg=$1
repo=$2
kills=${SEGSTREAM_TORN_KILLS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$seg" gen --users 20000 --seed 3 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 4 > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --keep 3 > /dev/null
RANDOM=$$
torn=0
for i in $(seq "$kills"); do
	"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --keep 3 --csv > /dev/null 2>&1 &
	pid=$!
	# Within 90 ms on odd kills (a release build's publication), within 390 ms on even ones (a
	# sanitizer build's, whose writing starts later: the customers are copied out first).
	if ((i % 2)); then sleep "0.0$((RANDOM % 9))$((RANDOM % 10))"; else sleep "0.$((RANDOM % 4))$((RANDOM % 10))"; fi
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	ls -d "$tmp"/snaps/.tmp-* > /dev/null 2>&1 && torn=$((torn + 1))
	"$seg" snapshot verify "$tmp/snaps" > /dev/null || { echo "FAIL: the latest snapshot does not verify after kill $i"; exit 1; }
	"$repo/.venv/bin/python" -c "import sys; sys.path.insert(0, '$repo/tools/python'); import segstream_snapshot as s; s.load('$tmp/snaps')" \
		|| { echo "FAIL: the Python reader rejects the latest snapshot after kill $i"; exit 1; }
done
echo "torn: $kills publications killed, $torn of them mid-write (temporary directory left behind)"
[ "$torn" -gt 0 ] || { echo "FAIL: no kill landed during a publication"; exit 1; }
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --keep 3 > /dev/null
if ls -d "$tmp"/snaps/.tmp-* > /dev/null 2>&1; then echo "FAIL: dead publishers' directories were not removed"; exit 1; fi
"$seg" snapshot verify "$tmp/snaps" | tee "$tmp/verify.out"
last=$(sed -n 's/^snapshot \([0-9]*\) at .*/\1/p' "$tmp/verify.out")
want=$((last < 3 ? last : 3))
n=$(ls "$tmp/snaps" | wc -l)
[ "$n" -eq "$want" ] || { echo "FAIL: $n snapshots kept, expected $want (the last is $last, --keep 3)"; exit 1; }
