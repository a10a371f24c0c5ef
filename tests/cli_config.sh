#!/usr/bin/env bash
# Settings from --config FILE (INI) and SEGSTREAM_* variables: each reaches the subcommands
# that take it, and flags win over the environment, which wins over the file.
#   cli_config.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
unset SEGSTREAM_CONFIG SEGSTREAM_BROKERS SEGSTREAM_STATE SEGSTREAM_X SEGSTREAM_LOG_LEVEL SEGSTREAM_LOG_FORMAT
"$seg" gen --users 50 --seed 2 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1
"$seg" dump --state "$tmp/state" > "$tmp/want.csv"
fail() { echo "FAIL: $*"; exit 1; }

printf '[segstream]\nstate = %s\n\n[kafka]\nno.such.property = 1\n' "$tmp/state" > "$tmp/seg.ini"
"$seg" dump --config "$tmp/seg.ini" > "$tmp/file.csv" || fail "dump --config"
cmp -s "$tmp/want.csv" "$tmp/file.csv" || fail "dump with state from the file differs"
SEGSTREAM_CONFIG=$tmp/seg.ini "$seg" get 7 > /dev/null || fail "SEGSTREAM_CONFIG does not name the file"
# The environment over the file, flags over the environment.
SEGSTREAM_STATE=$tmp/nowhere "$seg" dump --config "$tmp/seg.ini" > /dev/null 2> "$tmp/err" && fail "env over file"
grep -q "$tmp/nowhere" "$tmp/err" || fail "SEGSTREAM_STATE is not the state dump opened: $(cat "$tmp/err")"
SEGSTREAM_STATE=$tmp/nowhere "$seg" dump --config "$tmp/seg.ini" --state "$tmp/state" > "$tmp/flag.csv" \
	|| fail "--state does not win over SEGSTREAM_STATE"
cmp -s "$tmp/want.csv" "$tmp/flag.csv" || fail "dump --state differs"
# Brokers from the environment and [kafka] properties from the file reach backfill's client.
code=0
SEGSTREAM_BROKERS=127.0.0.1:1 "$seg" backfill --config "$tmp/seg.ini" --data "$tmp/data" > /dev/null 2> "$tmp/err" \
	|| code=$?
[ "$code" = 1 ] && grep -q 'No such configuration property: "no.such.property"' "$tmp/err" \
	|| fail "backfill: the file's [kafka] property did not reach the client (exit $code): $(cat "$tmp/err")"
SEGSTREAM_X="no.such.env.property=2" SEGSTREAM_BROKERS=127.0.0.1:1 "$seg" backfill --state "$tmp/s2" \
	--data "$tmp/data" > /dev/null 2> "$tmp/err" || true
grep -q 'No such configuration property: "no.such.env.property"' "$tmp/err" || fail "SEGSTREAM_X: $(cat "$tmp/err")"
# snapshot verify takes no settings; gen ignores them.
"$seg" snapshot --config "$tmp/seg.ini" --out "$tmp/snaps" > /dev/null || fail "snapshot with state from the file"
"$seg" snapshot verify "$tmp/snaps" --config "$tmp/seg.ini" > /dev/null || fail "snapshot verify --config"
# log_format from the file reaches every command (snapshot verify's too); the flag wins over it.
printf 'log_format = json\nstate = %s\n' "$tmp/nowhere" > "$tmp/log.ini"
"$seg" dump --config "$tmp/log.ini" > /dev/null 2> "$tmp/err" && fail "dump of a missing state"
grep -q '^{"ts":"[^"]*","level":"error","component":"dump","msg":' "$tmp/err" || fail "log_format = json: $(cat "$tmp/err")"
"$seg" dump --config "$tmp/log.ini" --log-format text > /dev/null 2> "$tmp/err" && fail "dump of a missing state"
grep -q '^[0-9T:.-]*Z error dump: ' "$tmp/err" || fail "--log-format text over the file: $(cat "$tmp/err")"
SEGSTREAM_LOG_LEVEL=error "$seg" snapshot verify "$tmp/snaps" --config "$tmp/log.ini" > /dev/null \
	|| fail "snapshot verify with logging settings"
# serve takes the state from the file and the environment too (it reads the state get reads).
SEGSTREAM_STATE=$tmp/nowhere "$seg" serve --http 127.0.0.1:0 > /dev/null 2> "$tmp/err" && fail "serve: env over file"
grep -q "$tmp/nowhere" "$tmp/err" || fail "serve: SEGSTREAM_STATE is not the state it opened: $(cat "$tmp/err")"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
"$seg" serve --config "$tmp/seg.ini" --http "127.0.0.1:$port" 2> "$tmp/serve.err" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/customers/7" > "$tmp/served.json" 2> /dev/null && break
	kill -0 $server 2> /dev/null || break
	sleep 0.1
done
"$seg" get --state "$tmp/state" --json 7 > "$tmp/get.json"
[ "$(cat "$tmp/get.json")" = "$(cat "$tmp/served.json")" ] || fail "serve --config: /customers/7 is not get --json 7: $(cat "$tmp/serve.err")"
kill -TERM $server
wait $server || fail "serve did not stop cleanly"
# An unknown key is a usage error that lists the keys.
printf 'brokers = x\nstat = y\n' > "$tmp/bad.ini"
code=0
"$seg" dump --config "$tmp/bad.ini" > /dev/null 2> "$tmp/err" || code=$?
[ "$code" = 2 ] && grep -q "unknown setting 'stat'.*state" "$tmp/err" || fail "unknown key: exit $code, $(cat "$tmp/err")"
code=0
"$seg" dump --config "$tmp/none.ini" > /dev/null 2> "$tmp/err" || code=$?
[ "$code" = 2 ] && grep -q "none.ini: cannot be read" "$tmp/err" || fail "missing file: exit $code, $(cat "$tmp/err")"
echo "cli_config: file, environment and flags in that order of precedence"
