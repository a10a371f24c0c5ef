#!/usr/bin/env bash
# The global view (#18): one state backfilled over 4 partitions, and the same files backfilled as
# three instances' shares ({0,3}, {1}, {2}, backfill --only-partitions); `snapshot merge` of the
# three instances' snapshots is byte-identical to the one state's snapshot (rows, CSV, report,
# manifest but its time), a second round too (clusters warm started from the previous snapshot on
# both sides); overlapping partitions, other columns, other row files and an input as the output
# are refused; the Python reader given the three directories gives the merged snapshot's rows.
#   snapshot_merge.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 600 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
backfill() { "$seg" backfill --data "$tmp/data" --partitions 4 "$@" > /dev/null 2>&1; }
backfill --state "$tmp/all"
backfill --state "$tmp/a" --only-partitions 0,3
backfill --state "$tmp/b" --only-partitions 1
backfill --state "$tmp/c" --only-partitions 2
for s in all a b c; do
	"$seg" snapshot --state "$tmp/$s" --out "$tmp/snap-$s" --csv > /dev/null 2>&1
done

# same_snapshot SEQ: the merged snapshot SEQ is the one state's snapshot SEQ, but for its time.
same_snapshot() {
	local d=$(printf %010d "$1") f
	for f in customers.msgpack customers.csv report.json; do
		cmp "$tmp/merged/$d/$f" "$tmp/snap-all/$d/$f" || { echo "FAIL: $f of snapshot $1 differs"; exit 1; }
	done
	diff <(grep -v '"created_unix"' "$tmp/merged/$d/manifest.json") \
		<(grep -v '"created_unix"' "$tmp/snap-all/$d/manifest.json") ||
		{ echo "FAIL: the manifests of snapshot $1 differ"; exit 1; }
}
"$seg" snapshot merge "$tmp/merged" "$tmp/snap-c" "$tmp/snap-a" "$tmp/snap-b" > "$tmp/out"
grep -q "snapshot 1 published in $tmp/merged/0000000001: 3 snapshots merged, 4 partitions" "$tmp/out" ||
	{ cat "$tmp/out"; echo "FAIL: merge output"; exit 1; }
grep -q '"partitions": \[0, 1, 2, 3\]' "$tmp/merged/0000000001/manifest.json"
grep -q '"partitions": \[0, 3\]' "$tmp/snap-a/0000000001/manifest.json"
same_snapshot 1
"$seg" snapshot verify "$tmp/merged" | grep -q "checksums verified, 600 customer rows"
# A second round: each side warm starts its clusters from its previous snapshot.
for s in all a b c; do
	"$seg" snapshot --state "$tmp/$s" --out "$tmp/snap-$s" --csv > /dev/null 2>&1
done
"$seg" snapshot merge "$tmp/merged" "$tmp/snap-a" "$tmp/snap-b/0000000002" "$tmp/snap-c" > /dev/null
grep -q '"initial_centres_from": "snapshot 1"' "$tmp/merged/0000000002/report.json"
same_snapshot 2

# refused STATUS PATTERN ARGS...: the merge fails with STATUS and says PATTERN.
refused() {
	local want=$1 pattern=$2 got=0
	shift 2
	"$seg" snapshot merge "$@" > "$tmp/out" 2>&1 || got=$?
	if [ "$got" != "$want" ] || ! grep -qE -- "$pattern" "$tmp/out"; then
		echo "FAIL: snapshot merge $* exited $got (want $want):"
		cat "$tmp/out"
		exit 1
	fi
}
refused 1 "cannot be merged: .*partition 1 of segstream.events is in both .*snap-all and .*snap-b" \
	"$tmp/m2" "$tmp/snap-all" "$tmp/snap-b"
refused 1 "partition 0 of segstream.events is in both" "$tmp/m2" "$tmp/snap-a" "$tmp/snap-a/0000000001"
refused 1 "is one of the snapshots merged" "$tmp/snap-a" "$tmp/snap-a" "$tmp/snap-b"
refused 1 "clusters were made with k 5" "$tmp/m2" -T clusters=4 "$tmp/snap-a" "$tmp/snap-b"
refused 2 "usage: segstream snapshot merge OUT_DIR SNAPSHOT_DIR" "$tmp/m2"
"$seg" snapshot --state "$tmp/c" --out "$tmp/snap-c-rows" > /dev/null 2>&1 # no CSV
refused 1 "customers.csv" "$tmp/m2" "$tmp/snap-a" "$tmp/snap-c-rows"
# Other columns: a column renamed in a copy (the manifest is not checksummed; the files are).
cp -r "$tmp/snap-c/0000000002" "$tmp/snap-c/0000000009"
sed -i 's/"name": "order_rate"/"name": "order_rate2"/' "$tmp/snap-c/0000000009/manifest.json"
refused 1 "other columns than this segstream writes" "$tmp/m2" "$tmp/snap-a" "$tmp/snap-b" "$tmp/snap-c"
rm -r "$tmp/snap-c/0000000009"
[ ! -e "$tmp/m2" ] || [ -z "$(ls "$tmp/m2")" ] || { echo "FAIL: a refused merge published"; exit 1; }

"$py" - "$tmp" "$repo" <<'PY'
import sys

tmp, repo = sys.argv[1], sys.argv[2]
sys.path.insert(0, f"{repo}/tools/python")
from segstream_snapshot import SnapshotError, load

merged = load(f"{tmp}/merged")
view = load([f"{tmp}/snap-b", f"{tmp}/snap-c", f"{tmp}/snap-a"])
assert view.sequence is None and view.report is None and len(view.parts) == 3
assert view.customers["cluster"].isna().all()  # clusters are the merge's, over all rows
assert merged.customers["cluster"].notna().all()
a, b = view.customers.drop(columns="cluster"), merged.customers.drop(columns="cluster")
assert a.equals(b), "the rows of the three snapshots are not the merged snapshot's"
assert len(a) == merged.manifest["customers"] == 600
for key in ("partitions", "source_offsets", "customers", "event_time_max_ms", "events_topic"):
    assert view.manifest[key] == merged.manifest[key], key
assert view.as_of == merged.as_of
assert view.parts[2].customers["cluster"].notna().any()  # the parts keep their own
for dirs, pattern in (([f"{tmp}/snap-a", f"{tmp}/snap-all"], "partition 0 of segstream.events is in both"),
                      ([f"{tmp}/snap-a", f"{tmp}/snap-a/0000000001"], "is in both")):
    try:
        load(dirs)
        raise AssertionError(f"{dirs} loaded")
    except SnapshotError as e:
        assert pattern in str(e), e
print(f"python: {len(a)} rows of 3 snapshots == the merged snapshot's; overlaps refused")
PY
echo "snapshot merge: 3 instances == 1 state, twice; overlaps, columns, row files refused"
