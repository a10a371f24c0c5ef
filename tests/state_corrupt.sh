#!/usr/bin/env bash
# Corrupt state files are refused with a message, never crash a tool and are never misread
# (#14 defect 4): a truncated data.mdb makes get, dump and consume exit 1 naming the problem (it
# gave SIGBUS); 30 copies with 3 random bytes flipped each are dumped: each dump either equals
# the original or is refused (exit 1 with a message), never a signal and never different
# output; `state verify` agrees with the dump on every copy.
#   state_corrupt.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 1500 --seed 41 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null
"$seg" dump --state "$tmp/state" > "$tmp/ref.csv"
"$seg" state verify --state "$tmp/state" > "$tmp/verify.out" || { cat "$tmp/verify.out"; echo "FAIL: verify refused a good state"; exit 1; }

# expect_refused NAME CMD...: exit 1 (not a signal, not 0) with a message that names the fault.
expect_refused() {
	local name=$1 rc=0
	shift
	timeout 60 "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
	if [ "$rc" -ne 1 ] || ! grep -qiE "corrupt|truncated" "$tmp/err"; then
		echo "FAIL: $name exited $rc (want 1 with a message):"
		sed 's/^/    /' "$tmp/err" | head -5
		exit 1
	fi
}
size=$(stat -c %s "$tmp/state/data.mdb")
cp -r "$tmp/state" "$tmp/short"
truncate -s $((size / 2)) "$tmp/short/data.mdb"
expect_refused "get (truncated)" "$seg" get --state "$tmp/short" 1
expect_refused "dump (truncated)" "$seg" dump --state "$tmp/short"
expect_refused "consume (truncated)" "$seg" consume --state "$tmp/short" --brokers 127.0.0.1:1 --exit-at-end
expect_refused "state verify (truncated)" "$seg" state verify --state "$tmp/short"
grep -q "truncated" "$tmp/err" || { cat "$tmp/err"; echo "FAIL: verify does not say truncated"; exit 1; }

refused=0 same=0
for run in $(seq 1 30); do
	rm -rf "$tmp/flip" && cp -r "$tmp/state" "$tmp/flip"
	python3 - "$tmp/flip/data.mdb" "$run" <<'PY'
import random, sys
path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
with open(path, "r+b") as f:
    data = bytearray(f.read())
    for _ in range(3):
        i = rng.randrange(len(data))
        data[i] ^= rng.randrange(1, 256)
    f.seek(0)
    f.write(data)
PY
	rc=0
	timeout 60 "$seg" dump --state "$tmp/flip" > "$tmp/flip.csv" 2> "$tmp/flip.err" || rc=$?
	vrc=0
	timeout 60 "$seg" state verify --state "$tmp/flip" > "$tmp/verify.out" 2>&1 || vrc=$?
	if [ "$rc" -eq 0 ]; then
		cmp -s "$tmp/flip.csv" "$tmp/ref.csv" || { echo "FAIL: copy $run: a silent wrong dump"; exit 1; }
		same=$((same + 1))
	elif [ "$rc" -eq 1 ] && [ -s "$tmp/flip.err" ]; then
		refused=$((refused + 1))
		[ "$vrc" -eq 1 ] || { cat "$tmp/flip.err" "$tmp/verify.out"; echo "FAIL: copy $run: dump refused, verify exited $vrc"; exit 1; }
	else
		echo "FAIL: copy $run: dump exited $rc:"; cat "$tmp/flip.err"; exit 1
	fi
	[ "$vrc" -lt 128 ] || { echo "FAIL: copy $run: state verify exited $vrc"; exit 1; }
done
echo "state_corrupt: truncated file refused by get, dump, consume and verify; 30 flipped copies: $same dumped identical, $refused refused"
