# Sourced by the shell tests that run consumer-group members (group_real_broker, handoff_cluster):
# failing with the members' logs, waiting for a condition, and supervising a member as a process
# supervisor would. The test defines start_member N and the array member (N -> pid), and logs its
# members (and its other processes) to $tmp/*.log.

# fail MESSAGE: says it, keeps every log and state beside the test (CTest's working directory:
# NAME-failure, for the post-mortem a tail cannot give), prints each log's last lines, exits 1.
fail() {
	local kept
	kept="$PWD/$(basename "$0" .sh)-failure"
	echo "FAIL: $*"
	rm -rf "$kept" && cp -r "$tmp" "$kept" 2> /dev/null && echo "logs and states kept in $kept"
	for f in "$tmp"/*.log; do echo "--- $f"; grep -v '"level":"debug"' "$f" | tail -15; done
	exit 1
}

# until_true SECONDS CONDITION...: waits for the condition, checked every 0.2 s.
until_true() {
	local left=$(($1 * 5))
	shift
	until "$@"; do
		left=$((left - 1))
		[ "$left" -gt 0 ] || return 1
		sleep 0.2
	done
}

# supervise N: member N runs, or it stopped because the coordinator fenced its static instance id
# after the coordinator's broker was killed (librdkafka: a fatal error; consume exits 1 and says
# so) and is started again with the same --instance-id, at most 3 times in a test. Any other exit
# fails the test.
restarts=0
supervise() {
	local n=$1 rc=0
	kill -0 "${member[$n]}" 2> /dev/null && return 0
	wait "${member[$n]}" || rc=$?
	if [ "$rc" = 1 ] && grep -q 'fenced\|another member took this --instance-id' "$tmp/c$n.log" &&
		[ "$restarts" -lt 3 ]; then
		restarts=$((restarts + 1))
		echo "$(basename "$0" .sh): member $n was fenced (static membership after a coordinator move): restarted"
		start_member "$n"
		return 0
	fi
	fail "member $n exited by itself ($rc)"
}
