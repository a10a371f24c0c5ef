#!/usr/bin/env bash
# Usage errors exit 2 and say which flag and which range; --help exits 0 in every subcommand.
# None of these runs reaches a broker or a state: each fails (or helps) while parsing.
#   cli_usage.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fails=0

# expect CODE PATTERN ARGS...: the exit code is CODE and stderr+stdout match PATTERN (grep -E).
expect() {
	local want=$1 pattern=$2 got=0
	shift 2
	timeout 20 "$seg" "$@" > "$tmp/out" 2>&1 || got=$? # a regression may reach for the broker
	if [ "$got" != "$want" ] || ! grep -qE -- "$pattern" "$tmp/out"; then
		echo "FAIL: segstream $* exited $got (want $want), output:"
		sed 's/^/    /' "$tmp/out"
		fails=$((fails + 1))
	fi
}

b=(--brokers 127.0.0.1:1)
expect 2 "replay: --rate: 'abc' is not a number in \[0, " replay --data "$tmp" "${b[@]}" --rate abc
expect 2 "replay: --speed: '-1' is not a number" replay --data "$tmp" "${b[@]}" --speed -1
expect 2 "replay: --speed: 'nan'" replay --data "$tmp" "${b[@]}" --speed nan
expect 2 "replay: --limit: '5k' is not an integer in \[0, 18446744073709551615\]" replay --data "$tmp" "${b[@]}" \
	--limit 5k
expect 2 "replay: --partitions: '0' is not an integer in \[1, 100000\]" replay --data "$tmp" "${b[@]}" --partitions 0
expect 2 "gen: --users: '10x' is not an integer in \[1, 4294967295\]" gen --out "$tmp/g" --users 10x
expect 2 "gen: --users: '0' is not an integer in \[1, " gen --out "$tmp/g" --users 0
expect 2 "gen: --seed: '-3' is not an integer" gen --out "$tmp/g" --seed -3
expect 2 "gen: --seed: ' 3' is not an integer" gen --out "$tmp/g" --seed ' 3'
expect 2 "gen: --seed: '99999999999999999999' is not an integer" gen --out "$tmp/g" --seed 99999999999999999999
expect 2 "snapshot: --keep: 'abc' is not an integer in \[0, 2147483647\]" snapshot --state "$tmp" --out "$tmp" \
	--keep abc
expect 2 "snapshot: SEQUENCE: 'x' is not an integer" snapshot verify "$tmp" x
expect 2 "snapshot: SEQUENCE_B: '2a' is not an integer" snapshot diff "$tmp" 1 2a
expect 2 "consume: --batch-events: '0' is not an integer in \[1, " consume --state "$tmp" "${b[@]}" --batch-events 0
expect 2 "consume: --batch-ms: '1e3' is not an integer" consume --state "$tmp" "${b[@]}" --batch-ms 1e3
expect 2 "consume: --idle-ms: 'soon'" consume --state "$tmp" "${b[@]}" --idle-ms soon
expect 2 "consume: --catchup-batch-ms: '0' is not an integer in \[1, " consume --state "$tmp" "${b[@]}" \
	--catchup-batch-ms 0
expect 2 "consume: --live-lag: 'lots' is not an integer" consume --state "$tmp" "${b[@]}" --live-lag lots
expect 2 "consume: --session-timeout-ms: '5999' is not an integer in \[6000, 1800000\]" consume --state "$tmp" \
	"${b[@]}" --group g --session-timeout-ms 5999
expect 2 "consume: --instance-id and --session-timeout-ms need --group" consume --state "$tmp" "${b[@]}" \
	--instance-id i1
expect 2 "consume: --instance-id: empty" consume --state "$tmp" "${b[@]}" --group g --instance-id ""
expect 2 "replay: --stamp-every: '0' is not an integer in \[1, " replay --data "$tmp" "${b[@]}" --stamp-every 0
expect 2 "replay: --skip: '-1' is not an integer" replay --data "$tmp" "${b[@]}" --skip -1
expect 2 "replay: --encoding: 'orders' is not one of line, order" replay --data "$tmp" "${b[@]}" --encoding orders
expect 2 "consume: --wake-ms: '-5'" consume --state "$tmp" "${b[@]}" --wake-ms -5
expect 2 "consume: --snapshot-every: '1m' is not a number in \[0, 31536000\]" consume --state "$tmp" "${b[@]}" \
	--snapshot-every 1m
expect 2 "consume: --snapshot-every-events: 'many'" consume --state "$tmp" "${b[@]}" --snapshot-every-events many
expect 2 "consume: --keep: '2.5'" consume --state "$tmp" "${b[@]}" --snapshot-keep 2.5 # the old name
expect 2 "consume: --keep: 'abc' is not an integer in \[0, " consume --state "$tmp" "${b[@]}" --keep abc
expect 2 "backfill: --partitions: 'four' is not an integer in \[1, 2147483647\]" backfill --data "$tmp" \
	--state "$tmp" --partitions four
expect 2 "mock-cluster: --partitions: '0'" mock-cluster --partitions 0
expect 2 "get: USER_ID: '12ab' is not an integer in \[1, 4294967295\]" get --state "$tmp" 12ab
# Other usage errors: unknown options, missing required ones, a bad command.
expect 2 "unrecognized option" replay --bogus
expect 2 "required" consume --state "$tmp"
expect 2 "usage: segstream get" get --state "$tmp"
expect 2 "usage: segstream dump" dump --state "$tmp" extra
expect 2 "unknown command" frobnicate
expect 2 "usage: segstream COMMAND" # no command at all

# One name per concept: --segments-topic and --keep in snapshot as in consume (snapshot's old
# --topic still works, with a warning); backfill takes -X (its watermark client gets it); -b is
# --brokers everywhere. Each run gets past the options and fails on the missing state or broker.
expect 1 "mdb_env_open" snapshot --state "$tmp/none" --out "$tmp/s" --segments-topic T --keep 2 -b 127.0.0.1:1
expect 1 "warning: --topic is deprecated.*use --segments-topic" snapshot --state "$tmp/none" --out "$tmp/s" --topic T
expect 1 "No such configuration property: \"no.such.property\"" backfill --data "$tmp" --state "$tmp/st" \
	-b 127.0.0.1:1 -X no.such.property=1
expect 1 "No such configuration property: \"no.such.property\"" replay --data "$repo/data/instacart" \
	-b 127.0.0.1:1 -X no.such.property=1
for cmd in replay consume snapshot backfill; do
	expect 0 "--brokers\|-b HOST:PORT" $cmd --help
done
# One message per order is replay's default encoding (#15), and consume's help says what its lags count.
expect 0 "order, the default" replay --help
expect 0 "count Kafka messages: orders as" consume --help

# --help: exit 0 and a usage line on stdout, for the program and every subcommand.
for cmd in gen replay consume get dump backfill snapshot mock-cluster report "snapshot verify" "snapshot diff"; do
	# shellcheck disable=SC2086 # "snapshot verify" is two words
	expect 0 "usage: segstream" $cmd --help
done
expect 0 "usage: segstream" --help
expect 0 "usage: segstream" -h

# A valid number is still accepted: gen --users 3 makes 3 customers.
expect 0 "gen: 3 customers" gen --users 3 --seed 1 --out "$tmp/g3" --catalog "$repo/data/instacart"

if [ "$fails" -ne 0 ]; then
	echo "cli_usage: $fails failed"
	exit 1
fi
echo "cli_usage: exit codes and messages as documented"
