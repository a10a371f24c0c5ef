#!/usr/bin/env bash
# Long-running commands stop on SIGTERM and SIGINT (issue #14, defect 6): gen and backfill stop
# within seconds with a message and a non-zero status (backfill leaves no state: its one
# transaction is not committed); a negative number is refused, not wrapped to 4 billion users.
#   cli_signals.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fail() { echo "FAIL: $*"; exit 1; }
set +e
"$seg" gen --users -5 --out "$tmp/neg" > "$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- "--users" "$tmp/out" || { cat "$tmp/out"; fail "gen --users -5 exits $rc"; }
[ ! -e "$tmp/neg" ] || fail "gen --users -5 wrote $tmp/neg"

# Starts "$@" in the background, sends signal $1 after $2 s, and waits: sets rc and took (s).
signal_after() {
	local sig=$1 after=$2
	shift 2
	"$@" > "$tmp/out" 2>&1 &
	local pid=$!
	sleep "$after"
	local t0=$(date +%s.%N)
	kill -s "$sig" "$pid" 2> /dev/null || true
	set +e
	wait "$pid"
	rc=$?
	set -e
	took=$(echo "$(date +%s.%N) - $t0" | bc)
}
for sig in TERM INT; do
	signal_after "$sig" 0.5 "$seg" gen --users 150000 --seed 2 --out "$tmp/gen-$sig" --catalog "$repo/data/instacart"
	echo "gen, SIG$sig after 0.5 s: status $rc, stopped $took s after the signal"
	[ "$rc" != 0 ] || { cat "$tmp/out"; fail "gen ran to the end despite SIG$sig (status 0)"; }
	grep -q "stopped by a signal" "$tmp/out" || { cat "$tmp/out"; fail "gen: no message after SIG$sig"; }
	(($(echo "$took < 5" | bc))) || fail "gen took $took s to stop after SIG$sig"
done

# Large enough that the signal comes well before the end: 40,000 customers took 0.31 s once the
# lines were parsed and bucketed in one loop (ninth session), and ran to the end before a 0.3 s signal.
"$seg" gen --users 120000 --seed 2 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
for sig in TERM INT; do
	signal_after "$sig" 0.2 "$seg" backfill --data "$tmp/data" --state "$tmp/state-$sig" --partitions 2
	echo "backfill, SIG$sig after 0.2 s: status $rc, stopped $took s after the signal"
	[ "$rc" != 0 ] || { cat "$tmp/out"; fail "backfill ran to the end despite SIG$sig (status 0)"; }
	grep -q "stopped by a signal" "$tmp/out" || { cat "$tmp/out"; fail "backfill: no message after SIG$sig"; }
	(($(echo "$took < 5" | bc))) || fail "backfill took $took s to stop after SIG$sig"
	if [ -e "$tmp/state-$sig/data.mdb" ]; then
		n=$("$seg" dump --state "$tmp/state-$sig" | tail -n +2 | wc -l)
		[ "$n" = 0 ] || fail "backfill stopped by SIG$sig left $n customers in the state"
	fi
done
echo "cli_signals: gen --users -5 refused; gen and backfill stop on SIGTERM and SIGINT"
