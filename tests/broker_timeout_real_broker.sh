#!/usr/bin/env bash
# No waiting forever (#14 defect 7): with nothing listening at the brokers' address, replay,
# consume (with and without --exit-at-end) and snapshot --brokers give up after --broker-timeout
# with exit 1 and a clear error, and say that they wait while they do. With a broker (the
# real-broker variant sets SEGSTREAM_BOOTSTRAP): a missing events topic and a SASL setting the
# broker does not speak end the same way.
#   broker_timeout_real_broker.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 50 --seed 3 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1

# expect_gives_up NAME PATTERN CMD...: exit 1 within 60 s (not killed), stderr says PATTERN and
# logged the wait.
expect_gives_up() {
	local name=$1 pattern=$2 rc=0 t0=$SECONDS
	shift 2
	timeout 60 "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
	if [ "$rc" -ne 1 ] || ! grep -qE -- "$pattern" "$tmp/err" || ! grep -qE "waiting for (the brokers|topic)" "$tmp/err"; then
		echo "FAIL: $name exited $rc after $((SECONDS - t0)) s (want 1, '$pattern' and a waiting line):"
		grep -v '^%' "$tmp/err" | sed 's/^/    /' | tail -5
		exit 1
	fi
	echo "broker_timeout: $name gave up after $((SECONDS - t0)) s: $(grep -E -- "$pattern" "$tmp/err" | head -1)"
}

if [ -z "$brokers" ]; then
	nobody=127.0.0.1:1 # nothing listens on port 1
	expect_gives_up "replay" "no answer from the brokers" \
		"$seg" replay --data "$tmp/data" --brokers "$nobody" --broker-timeout 3
	expect_gives_up "consume" "no answer from the brokers" \
		"$seg" consume --state "$tmp/c1" --brokers "$nobody" --broker-timeout 3
	expect_gives_up "consume --exit-at-end" "no answer from the brokers" \
		"$seg" consume --state "$tmp/c2" --brokers "$nobody" --exit-at-end --broker-timeout 3
	expect_gives_up "snapshot --brokers" "no answer from the brokers" \
		"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --brokers "$nobody" --broker-timeout 3
	exit 0
fi
run=timeout-$$-$(date +%s)
expect_gives_up "consume (missing topic)" "topic $run.events did not appear" \
	"$seg" consume --state "$tmp/c3" --brokers "$brokers" --topic "$run.events" --exit-at-end --broker-timeout 4
sasl=(-X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN -X sasl.username=u -X sasl.password=secret)
expect_gives_up "consume (SASL mismatch)" "no answer from the brokers" \
	"$seg" consume --state "$tmp/c4" --brokers "$brokers" --exit-at-end --broker-timeout 4 "${sasl[@]}"
expect_gives_up "replay (SASL mismatch)" "no answer from the brokers" \
	"$seg" replay --data "$tmp/data" --brokers "$brokers" --topic "$run.events" --broker-timeout 4 "${sasl[@]}"
expect_gives_up "snapshot (SASL mismatch)" "no answer from the brokers" \
	"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" --brokers "$brokers" --broker-timeout 4 "${sasl[@]}"
! grep -q secret "$tmp/err" || { echo "FAIL: the password is in the output"; exit 1; }
