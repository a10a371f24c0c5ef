#!/usr/bin/env bash
# Single-node Apache Kafka 3.9 (KRaft, broker+controller) on 127.0.0.1, from Maven Central jars.
#
#   tools/kafka/broker.sh start|stop|restart|resume|status|fetch
#
# start formats fresh storage (tests want a clean broker). resume starts a stopped broker again on
# the storage it had (its topics, messages and committed offsets kept): tests of an unreachable
# broker stop it and resume it. restart is stop + resume (SIGTERM, as an operator would: the
# fault tests' outage).
#
# Environment (all optional):
#   SEGSTREAM_KAFKA_PORT   client port (default 9092); the controller listens on PORT+1
#   SEGSTREAM_KAFKA_DIR    run directory: config, logs, data (default .kafka/run-PORT in the repo)
#   SEGSTREAM_KAFKA_CACHE  where the jars are kept between runs (default ~/.cache/segstream/kafka-VERSION)
#   SEGSTREAM_KAFKA_HEAP   JVM heap (default 1G)
#   SEGSTREAM_KAFKA_SASL_PASSWORD  if set, a second listener on PORT+2 speaks SASL_SSL: SASL/PLAIN
#                          user `segstream` with this password, TLS with a key made at start
#                          (JDK keytool, SAN 127.0.0.1); clients trust DIR/tls/ca.pem
#
# 3.9 rather than 4.x: Debian's librdkafka 2.0.2 loses its balanced consumer group against 4.x
# (see docs/KAFKA.md). start formats fresh storage; restart and resume keep it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log_prefix=broker.sh
# shellcheck source=common.sh
. "$here/common.sh"
port=${SEGSTREAM_KAFKA_PORT:-9092}
cport=$((port + 1))
rundir=${SEGSTREAM_KAFKA_DIR:-$repo/.kafka/run-$port}
heap=${SEGSTREAM_KAFKA_HEAP:-1G}
pidfile=$rundir/broker.pid
sasl_password=${SEGSTREAM_KAFKA_SASL_PASSWORD:-}
sport=$((port + 2))

is_running() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
	fetch
	if is_running; then log "already running (pid $(cat "$pidfile")) on port $port"; return 0; fi
	if port_answers "$port" || port_answers "$cport"; then
		log "port $port or $cport is taken by another process"; exit 1
	fi
	rm -rf "$rundir" && mkdir -p "$rundir/data"
	local listeners="PLAINTEXT://127.0.0.1:$port" protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	if [ -n "$sasl_password" ]; then
		if port_answers "$sport"; then log "port $sport (SASL_SSL) is taken by another process"; exit 1; fi
		make_tls_key
		listeners="$listeners,SASL_SSL://127.0.0.1:$sport"
		protocols="$protocols,SASL_SSL:SASL_SSL"
	fi
	server_properties 1 "1@127.0.0.1:$cport" "$listeners" "$cport" "$protocols" "$rundir/data" 1 \
		> "$rundir/server.properties"
	if [ -n "$sasl_password" ]; then
		cat >> "$rundir/server.properties" <<PROPS
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="segstream" password="$sasl_password" user_segstream="$sasl_password";
ssl.keystore.type=PKCS12
ssl.keystore.location=$rundir/tls/broker.p12
ssl.keystore.password=$(cat "$rundir/tls/storepass")
ssl.key.password=$(cat "$rundir/tls/storepass")
PROPS
	fi
	write_log4j "$rundir"
	format_storage "$rundir" "$(uuid_for_cluster)"
	launch
}

kafka_java "$heap" "$rundir"

# Runs the broker on the configuration and storage in $rundir and waits until it answers.
launch() {
	: > "$rundir/server.log" # the start-up line is looked for in this run's log only
	nohup "${java[@]}" kafka.Kafka "$rundir/server.properties" \
		> "$rundir/stdout.log" 2>&1 < /dev/null &
	echo $! > "$pidfile"
	local waited=0
	until grep -q 'Kafka Server started' "$rundir/server.log" 2>/dev/null && port_answers "$port"; do
		if ! is_running; then log "broker exited during start-up:"; tail -30 "$rundir/stdout.log" "$rundir/server.log" >&2 || true; exit 1; fi
		if [ "$waited" -ge 600 ]; then log "broker did not answer within 60 s"; stop; exit 1; fi
		sleep 0.1; waited=$((waited + 1))
	done
	log "Kafka $version up on 127.0.0.1:$port (pid $(cat "$pidfile"), dir $rundir)"
	if [ -n "$sasl_password" ]; then log "SASL_SSL (PLAIN, user segstream) on 127.0.0.1:$sport, CA $rundir/tls/ca.pem"; fi
}

# The SASL_SSL listener's key: self-signed for 127.0.0.1 (its certificate is the clients' CA file),
# made fresh at every start like the storage, with the JDK's keytool.
make_tls_key() {
	mkdir -p "$rundir/tls"
	head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$rundir/tls/storepass"
	local pass; pass=$(cat "$rundir/tls/storepass")
	keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 30 -dname CN=127.0.0.1 \
		-ext SAN=ip:127.0.0.1,dns:localhost -storetype PKCS12 -keystore "$rundir/tls/broker.p12" \
		-storepass "$pass" -keypass "$pass" > "$rundir/tls/keytool.log" 2>&1 \
		|| { log "keytool failed:"; cat "$rundir/tls/keytool.log" >&2; exit 1; }
	keytool -exportcert -rfc -alias broker -keystore "$rundir/tls/broker.p12" -storepass "$pass" \
		-file "$rundir/tls/ca.pem" >> "$rundir/tls/keytool.log" 2>&1 \
		|| { log "keytool -exportcert failed:"; cat "$rundir/tls/keytool.log" >&2; exit 1; }
}

# Stops the broker and starts it again on the same storage.
restart() {
	[ -f "$rundir/server.properties" ] || { log "no broker storage in $rundir to restart on"; exit 1; }
	stop
	resume
}

resume() {
	fetch
	if is_running; then log "already running (pid $(cat "$pidfile")) on port $port"; return 0; fi
	[ -f "$rundir/server.properties" ] || { log "nothing to resume in $rundir: use start"; exit 1; }
	if port_answers "$port" || port_answers "$cport"; then
		log "port $port or $cport is taken by another process"; exit 1
	fi
	launch
}

stop() {
	if ! is_running; then log "not running"; rm -f "$pidfile"; return 0; fi
	local pid; pid=$(cat "$pidfile")
	kill -TERM "$pid"
	local waited=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge 300 ]; then log "broker ignored SIGTERM for 30 s; killing"; kill -KILL "$pid"; fi
		sleep 0.1; waited=$((waited + 1))
	done
	rm -f "$pidfile"
	log "stopped"
}

case "${1:-}" in
	start) start ;;
	stop) stop ;;
	restart) restart ;;
	resume) resume ;;
	status) if is_running; then echo "running pid $(cat "$pidfile") port $port"; else echo "stopped"; exit 3; fi ;;
	fetch) fetch ;;
	*) echo "usage: $0 start|stop|restart|resume|status|fetch" >&2; exit 2 ;;
esac
