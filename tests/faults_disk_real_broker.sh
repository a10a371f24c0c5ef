#!/usr/bin/env bash
# A full disk through the real broker (#14), ending in the state of the pandas oracle:
#  - the state's file system fills while the consumer catches up: it stops with "No space left
#    on device" and a non-zero exit, the state it leaves is sound (state verify), and the same
#    state moved to a bigger disk resumes exactly where it stopped;
#  - the snapshots' file system is full: each snapshot fails with the reason logged, the
#    consumer goes on and its state is exact.
# The small disks are tmpfs the test mounts; without the right to mount (not root) the test
# exits 77, which CTest reports as skipped, not passed.
#   faults_disk_real_broker.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
mkdir -p "$tmp/small" "$tmp/snapdisk"
if ! mount -t tmpfs -o size=1m tmpfs "$tmp/small" 2> /dev/null; then
	echo "faults_disk: cannot mount a tmpfs (not root?): skipped"
	exit 77
fi
trap 'umount "$tmp/small" 2> /dev/null || true; umount "$tmp/snapdisk" 2> /dev/null || true; rm -rf "$tmp"' EXIT
mount -t tmpfs -o size=64k tmpfs "$tmp/snapdisk"
run=disk-$$-$(date +%s)
topics=(--topic "$run.events" --products-topic "$run.products" --customers-topic "$run.customers"
	--names-topic "$run.names" --dlq-topic "$run.dlq")
"$seg" gen --users 3000 --seed 53 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" replay --data "$tmp/data" --brokers "$brokers" "${topics[@]}" > "$tmp/replay.out" 2>&1 \
	|| { cat "$tmp/replay.out"; echo "FAIL: replay"; exit 1; }

# 1. The state's disk fills: small batches so that some commit before the disk is full.
if "$seg" consume --state "$tmp/small/state" --brokers "$brokers" "${topics[@]}" --exit-at-end \
	--batch-events 20000 > "$tmp/full.out" 2> "$tmp/full.err"; then
	echo "FAIL: the consumer did not stop on a full disk"; exit 1
fi
grep -q "No space left on device" "$tmp/full.err" || { cat "$tmp/full.err"; echo "FAIL: the full disk is not named"; exit 1; }
"$seg" state verify --state "$tmp/small/state" > "$tmp/verify.out" 2>&1 \
	|| { cat "$tmp/verify.out"; echo "FAIL: the state left on the full disk is not sound"; exit 1; }
cp -a "$tmp/small/state" "$tmp/state"
umount "$tmp/small"
"$seg" consume --state "$tmp/state" --brokers "$brokers" "${topics[@]}" --exit-at-end > "$tmp/resume.out" 2>&1 \
	|| { cat "$tmp/resume.out"; echo "FAIL: resume on a bigger disk"; exit 1; }
grep -q "duplicates 0" "$tmp/resume.out" || { cat "$tmp/resume.out"; echo "FAIL: events applied twice"; exit 1; }
"$seg" dump --state "$tmp/state" > "$tmp/state.csv"
"$py" "$repo/tests/oracle.py" "$tmp/data" "$tmp/state.csv" > "$tmp/oracle.out" \
	|| { cat "$tmp/oracle.out"; echo "FAIL: the resumed state differs from the oracle"; exit 1; }

# 2. The snapshots' disk is full: logged, the consumer goes on.
head -c 60000 /dev/zero > "$tmp/snapdisk/filler"
"$seg" consume --state "$tmp/state2" --brokers "$brokers" "${topics[@]}" --exit-at-end \
	--snapshot-dir "$tmp/snapdisk/snaps" > "$tmp/snaps.out" 2> "$tmp/snaps.err" \
	|| { cat "$tmp/snaps.err"; echo "FAIL: a full snapshot disk stopped the consumer"; exit 1; }
grep -q "No space left on device" "$tmp/snaps.err" || { cat "$tmp/snaps.err"; echo "FAIL: the snapshot failure is not logged"; exit 1; }
"$seg" dump --state "$tmp/state2" > "$tmp/state2.csv"
cmp -s "$tmp/state.csv" "$tmp/state2.csv" || { echo "FAIL: the state beside failing snapshots differs"; exit 1; }
echo "PASS: a full state disk stops the consumer cleanly and resumes exactly; full snapshot disk logged, state exact"
