#!/usr/bin/env bash
# Hostile snapshots, built here by hand (issue #14, defect 2): the C reader (`snapshot verify`,
# `snapshot diff`) and the Python loader both refuse a customers file the manifest does not
# list, a row count other than the manifest's, a container declaring more elements than the
# bytes left (a 563-byte file declaring 2^32 elements, which asked msgpack for 128 GiB), a
# string running past the end, an unlisted report.json, a user_id outside 0..2^32-1; they both
# read the good one; `snapshot diff` of two identical copies reports no change, also when a
# user appears twice.
#   snapshot_hostile.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$py" - "$tmp/snaps" <<'PY'
import json
import os
import sys
import zlib

root = sys.argv[1]
COLS = [{"name": "user_id", "type": "int", "nullable": False},
        {"name": "persona", "type": "text", "nullable": True}]


def snapshot(seq, rows, customers, files=("customers.msgpack", "report.json"), cols=COLS):
    d = os.path.join(root, f"{seq:010d}")
    os.makedirs(d)
    with open(f"{d}/customers.msgpack", "wb") as f:
        f.write(rows)
    with open(f"{d}/report.json", "w") as f:
        f.write('{"format": 1}\n')
    entries = []
    for name in files:
        data = open(f"{d}/{name}", "rb").read()
        entries.append({"name": name, "bytes": len(data), "crc32": zlib.crc32(data)})
    manifest = {"format": 2, "sequence": seq, "customers": customers, "columns": cols, "files": entries}
    with open(f"{d}/manifest.json", "w") as f:
        json.dump(manifest, f)
    return d


good = bytes([0x92, 0x01, 0xa0, 0x92, 0x02, 0xa3]) + b"abc"  # [1, ""], [2, "abc"]
snapshot(1, good, 2)
# The customers entry removed from the manifest, the file truncated after it was listed.
d = snapshot(2, good + bytes([0x92, 0x03, 0xc0]), 3, files=("report.json",))
# Two rows in the file, three in the manifest.
snapshot(3, good, 3)
# 563 bytes declaring an array of 2^32-1 elements (then a map of as many pairs).
snapshot(4, bytes([0xdd, 0xff, 0xff, 0xff, 0xff]) + b"\xdf\xff\xff\xff\xff" + bytes(553), 1)
# A string declaring 200 bytes with 3 left.
snapshot(5, bytes([0x92, 0x01, 0xd9, 200]) + b"abc", 1)
# report.json not listed (read by `show` and the Python loader without a check).
snapshot(6, good, 2, files=("customers.msgpack",))
# A user_id of 2^32 + 1 (diff keys rows by a 32-bit user id).
snapshot(7, bytes([0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 1, 0xc0]), 1)
# The same user twice with different rows, and an identical copy of it.
dup = bytes([0x92, 0x05, 0xa1]) + b"x" + bytes([0x92, 0x05, 0xa1]) + b"y" + bytes([0x92, 0x04, 0xc0])
for i in range(8):
    dup += bytes([0x92, 0x05, 0xa1]) + bytes([0x61 + i])
snapshot(8, dup, 11)
snapshot(9, dup, 11)
# A nested container inside a row.
snapshot(10, bytes([0x92, 0x01, 0x91, 0x01]), 1)
PY
fail=0
expect() { # expect ok|refused SEQ WHY
	local want=$1 seq=$2 why=$3 c=ok p=ok
	"$seg" snapshot verify "$tmp/snaps" "$seq" > "$tmp/c.out" 2>&1 || c=refused
	"$py" - "$tmp/snaps" "$seq" "$repo" > "$tmp/p.out" 2>&1 <<'PY' || p=refused
import sys
sys.path.insert(0, f"{sys.argv[3]}/tools/python")
from segstream_snapshot import SnapshotError, load
try:
    snap = load(sys.argv[1], int(sys.argv[2]))
except SnapshotError as e:
    print("refused:", e)
    sys.exit(1)
print(len(snap.customers), "rows")
PY
	if grep -q "Sanitizer\|Traceback" "$tmp/c.out" "$tmp/p.out"; then
		echo "FAIL: snapshot $seq ($why): a reader crashed"
		grep -h -m3 "Sanitizer\|Error" "$tmp/c.out" "$tmp/p.out"
		fail=1
	elif [ "$c" != "$want" ] || [ "$p" != "$want" ]; then
		echo "FAIL: snapshot $seq ($why): C reader $c, Python $p, expected $want"
		cat "$tmp/c.out" "$tmp/p.out"
		fail=1
	else
		echo "snapshot $seq ($why): both $want: $(head -c 200 "$tmp/c.out" | head -1)"
	fi
}
expect ok 1 "two good rows"
grep -q "2 customer rows" "$tmp/c.out" || { echo "FAIL: the good snapshot is not 2 rows"; fail=1; }
expect refused 2 "customers.msgpack not in the manifest"
expect refused 3 "3 rows in the manifest, 2 in the file"
expect refused 4 "a container of 2^32-1 elements in 563 bytes"
expect refused 5 "a string past the end"
expect refused 6 "report.json not in the manifest"
expect refused 7 "user_id 2^32+1"
expect ok 8 "a user twice"
expect refused 10 "a nested container"
"$seg" snapshot diff "$tmp/snaps" 8 9 > "$tmp/diff" 2>&1 || { cat "$tmp/diff"; echo "FAIL: diff 8 9"; fail=1; }
grep -q "0 changed, 0 added, 0 removed, 11 unchanged" "$tmp/diff" \
	|| { cat "$tmp/diff"; echo "FAIL: diff of two identical copies reports changes"; fail=1; }
# And every input of the fuzz_snapshot seed corpus: both read it or both refuse it.
"$py" "$repo/tests/check_snapshot_readers.py" "$seg" "$repo" "$repo/tests/fuzz/corpus/fuzz_snapshot" || fail=1
[ "$fail" = 0 ] || exit 1
echo "snapshot_hostile: 8 hostile snapshots refused by both readers, the good ones read, diff of copies is empty"
