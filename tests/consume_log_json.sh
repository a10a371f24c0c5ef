#!/usr/bin/env bash
# Structured logs of a consumer run on librdkafka's mock cluster: with --log-format json every
# stderr line is one JSON object (ts, level, component, msg), among them the catch-up's start
# line (partitions, offsets, high watermarks, lag) and end line (events, seconds, rate) with the
# run's figures (the lag counts messages: the replay's default is one per order, so fewer than
# the events); the summary stays on stdout; --log-level warn drops the info lines;
# SEGSTREAM_LOG_FORMAT=json reaches a command through config.c, and a bad level is a usage error.
#   consume_log_json.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 200 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" mock-cluster --partitions 2 --bootstrap-file "$tmp/bootstrap" > "$tmp/mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$tmp/bootstrap")
"$seg" replay --data "$tmp/data" --brokers "$brokers" --log-format json > "$tmp/replay.out" 2> "$tmp/replay.err" \
	|| { cat "$tmp/replay.out" "$tmp/replay.err"; echo "FAIL: replay"; exit 1; }
delivered=$(sed -n 's/.*delivered \([0-9]*\), failed 0, undelivered 0.*/\1/p' "$tmp/replay.out")
[ -n "$delivered" ] || { cat "$tmp/replay.out"; echo "FAIL: the replay did not deliver everything"; exit 1; }
messages=$(sed -n 's/^replay: encoding order: \([0-9]*\) messages.*/\1/p' "$tmp/replay.out")
[ -n "$messages" ] && [ "$messages" -lt "$delivered" ] \
	|| { cat "$tmp/replay.out"; echo "FAIL: the default replay did not send fewer messages (orders) than events"; exit 1; }

SEGSTREAM_LOG_FORMAT=json "$seg" consume --state "$tmp/state" --brokers "$brokers" --exit-at-end --no-sync \
	--status-every 0.05 > "$tmp/consume.out" 2> "$tmp/consume.err" \
	|| { cat "$tmp/consume.out" "$tmp/consume.err"; echo "FAIL: consume"; exit 1; }
grep -q "^consume: events read $delivered," "$tmp/consume.out" \
	|| { cat "$tmp/consume.out"; echo "FAIL: the summary is not on stdout"; exit 1; }
"$py" - "$tmp/consume.err" "$delivered" "$tmp/replay.err" "$messages" <<'PY'
import json, sys
def lines(path):
    out = []
    for n, line in enumerate(open(path), 1):
        try:
            o = json.loads(line)
        except ValueError:
            sys.exit(f"FAIL: {path}:{n} is not JSON: {line!r}")
        if not isinstance(o, dict) or not all(k in o for k in ("ts", "level", "component", "msg")):
            sys.exit(f"FAIL: {path}:{n} lacks ts/level/component/msg: {line!r}")
        if o["level"] not in ("error", "warn", "info", "debug"):
            sys.exit(f"FAIL: {path}:{n}: level {o['level']!r}")
        out.append(o)
    return out
logs = lines(sys.argv[1])
lines(sys.argv[3])
delivered, messages = int(sys.argv[2]), int(sys.argv[4])
start = [o for o in logs if o["msg"] == "catch-up started"]
end = [o for o in logs if o["msg"] == "catch-up finished"]
if len(start) != 1 or len(end) != 1:
    sys.exit(f"FAIL: {len(start)} start and {len(end)} end lines of the catch-up: {logs}")
s, e = start[0], end[0]
if s["component"] != "consumer" or s["level"] != "info" or s["partitions"] != 2 or s["lag"] != messages:
    sys.exit(f"FAIL: the start line: {s} (want 2 partitions, lag {messages}: the messages, not the events)")
if not s["offsets"].startswith("0:0,1:0") or len(s["high_watermarks"].split(",")) != 2:
    sys.exit(f"FAIL: the start line's offsets and watermarks: {s}")
if e["events"] != delivered or e["seconds"] < 0 or e["events_per_s"] <= 0:
    sys.exit(f"FAIL: the end line: {e} (want {delivered} events)")
if logs.index(s) > logs.index(e):
    sys.exit("FAIL: the end line comes before the start line")
status = [o for o in logs if o["msg"] == "status"]
if status and not all("lag" in o and "events_per_s" in o and "batches" in o for o in status):
    sys.exit(f"FAIL: a status line lacks its fields: {status}")
print(f"consume_log_json: {len(logs)} JSON lines, catch-up of {delivered} events, {len(status)} status lines")
PY

# --log-level warn: no info line at all (the catch-up lines are info).
"$seg" consume --state "$tmp/state2" --brokers "$brokers" --exit-at-end --no-sync --log-level warn \
	--log-format json > /dev/null 2> "$tmp/warn.err" || { cat "$tmp/warn.err"; echo "FAIL: consume at warn"; exit 1; }
if grep -q '"level":"info"' "$tmp/warn.err"; then cat "$tmp/warn.err"; echo "FAIL: info lines at --log-level warn"; exit 1; fi
# Text (the default): the start line reads as text.
"$seg" consume --state "$tmp/state3" --brokers "$brokers" --exit-at-end --no-sync > /dev/null 2> "$tmp/text.err"
grep -qE '^[0-9T:.-]+Z info consumer: catch-up started .*partitions=2 ' "$tmp/text.err" \
	|| { cat "$tmp/text.err"; echo "FAIL: no text start line"; exit 1; }
code=0
"$seg" consume --state "$tmp/state4" --brokers "$brokers" --log-level loud > /dev/null 2> "$tmp/bad.err" || code=$?
[ "$code" = 2 ] && grep -q "log-level: 'loud'" "$tmp/bad.err" || { cat "$tmp/bad.err"; echo "FAIL: bad level: exit $code"; exit 1; }
echo "consume_log_json: ok"
