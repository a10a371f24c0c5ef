#!/usr/bin/env bash
# State and snapshot files get the configured modes whatever the umask: 0640 files and 0750
# directories by default, --file-mode (or SEGSTREAM_FILE_MODE) otherwise; a bad mode is refused
# naming the flag and the accepted range.
#   file_modes.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 40 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null

# expect_modes WANT_DIR WANT_FILE PATH...: every directory and file under each PATH
expect_modes() {
	local want_dir=$1 want_file=$2
	shift 2
	local bad
	bad=$(find "$@" \( -type d ! -perm "$want_dir" -o -type f ! -perm "$want_file" \) -printf '%m %p\n')
	[ -z "$bad" ] || { echo "FAIL: want dirs $want_dir, files $want_file; got:"; echo "$bad"; exit 1; }
	[ "$(find "$@" -type f | wc -l)" -ge 2 ] || { echo "FAIL: no files under $*"; exit 1; }
}

for mask in 000 077 022; do
	(
		umask $mask
		"$seg" backfill --data "$tmp/data" --state "$tmp/state-$mask" --partitions 2 > /dev/null 2>&1
		"$seg" snapshot --state "$tmp/state-$mask" --out "$tmp/snaps-$mask" --csv > /dev/null
	)
	expect_modes 750 640 "$tmp/state-$mask" "$tmp/snaps-$mask"
done
(
	umask 077
	"$seg" backfill --data "$tmp/data" --state "$tmp/state-660" --partitions 2 --file-mode 0660 > /dev/null 2>&1
	SEGSTREAM_FILE_MODE=600 "$seg" snapshot --state "$tmp/state-660" --out "$tmp/snaps-600" > /dev/null
)
expect_modes 770 660 "$tmp/state-660"
expect_modes 700 600 "$tmp/snaps-600"
# A state opened again with another mode takes it (LMDB alone would leave the old one).
"$seg" backfill --data "$tmp/data" --state "$tmp/state-660" --partitions 2 --file-mode 0600 > /dev/null 2>&1 || true
[ "$(stat -c %a "$tmp/state-660/data.mdb")" = 600 ] || { echo "FAIL: data.mdb kept its old mode"; exit 1; }

for bad in 0400 1777 9 abc "" 06400; do
	if "$seg" backfill --data "$tmp/data" --state "$tmp/x" --partitions 1 --file-mode "$bad" 2> "$tmp/err"; then
		echo "FAIL: --file-mode '$bad' accepted"; exit 1
	fi
	grep -q -- "--file-mode: '$bad' is not an octal file mode in \[0600, 0777\]" "$tmp/err" \
		|| { cat "$tmp/err"; echo "FAIL: no clear message for --file-mode '$bad'"; exit 1; }
done
echo "PASS: state and snapshot modes 0640/0750 under umasks 000/077/022, --file-mode and SEGSTREAM_FILE_MODE"
