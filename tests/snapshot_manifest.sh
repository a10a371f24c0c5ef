#!/usr/bin/env bash
# The manifest is JSON, read as JSON: the same manifest re-written compact and with its keys in
# another order verifies and reads the same rows; a wrong CRC in it is still caught.
#   snapshot_manifest.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 200 --seed 9 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
cp -r "$tmp/snaps/0000000001" "$tmp/snaps/0000000002"
cp -r "$tmp/snaps/0000000001" "$tmp/snaps/0000000003"
python3 - "$tmp/snaps" <<'PY'
import json
import sys

snaps = sys.argv[1]
m = json.load(open(f"{snaps}/0000000001/manifest.json"))
with open(f"{snaps}/0000000002/manifest.json", "w") as f:
    f.write(json.dumps(m, separators=(",", ":"), sort_keys=True))
m["files"][0]["crc32"] ^= 1
with open(f"{snaps}/0000000003/manifest.json", "w") as f:
    f.write(json.dumps(m, separators=(",", ":")))
PY
grep -q '"crc32":' "$tmp/snaps/0000000002/manifest.json" && ! grep -q '": ' "$tmp/snaps/0000000002/manifest.json" \
	|| { echo "FAIL: the re-written manifest is not compact"; exit 1; }
"$seg" snapshot verify "$tmp/snaps" 1 | sed 's/snapshot 1 at .*: /snapshot: /' > "$tmp/v1"
"$seg" snapshot verify "$tmp/snaps" 2 | sed 's/snapshot 2 at .*: /snapshot: /' > "$tmp/v2" \
	|| { echo "FAIL: a compact manifest does not verify"; exit 1; }
cmp -s "$tmp/v1" "$tmp/v2" || { cat "$tmp/v1" "$tmp/v2"; echo "FAIL: verify differs"; exit 1; }
"$seg" snapshot diff "$tmp/snaps" 1 2 | tail -1 > "$tmp/diff"
grep -q "0 changed, 0 added, 0 removed, 200 unchanged" "$tmp/diff" \
	|| { cat "$tmp/diff"; echo "FAIL: the rows read through a compact manifest differ"; exit 1; }
if "$seg" snapshot verify "$tmp/snaps" 3 > "$tmp/v3" 2>&1 || ! grep -q "does not match the manifest" "$tmp/v3"; then
	cat "$tmp/v3"
	echo "FAIL: a wrong CRC-32 in a compact manifest is not caught"
	exit 1
fi
echo "snapshot_manifest: a compact manifest verifies and reads the same 200 rows; a wrong CRC is caught"
