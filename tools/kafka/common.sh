# Shared by broker.sh and cluster.sh (sourced, not run): the Kafka version and its jars from Maven
# Central, the JVM command line, the server.properties template, the log4j file, the KRaft cluster
# id and small helpers.
#
# The sourcing script sets `here` (this directory) and `log_prefix` first. Environment:
#   SEGSTREAM_KAFKA_CACHE  where the jars are kept between runs (default ~/.cache/segstream/kafka-VERSION)

version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${SEGSTREAM_KAFKA_CACHE:-$HOME/.cache/segstream/kafka-$version}

log() { printf '%s: %s\n' "$log_prefix" "$*" >&2; }

fetch() {
	if [ -f "$cache/.complete" ]; then return 0; fi
	command -v mvn >/dev/null || { log "mvn not found: run tools/setup.sh first"; exit 1; }
	log "fetching Apache Kafka $version and its runtime dependencies from Maven Central into $cache"
	rm -rf "$cache" && mkdir -p "$cache"
	mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$cache" >&2
	touch "$cache/.complete"
}

port_answers() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# kafka_java HEAP DIR [small]: sets the array `java` to the JVM command line of a Kafka process
# whose log4j.properties is in DIR. small: the serial collector and the quick JIT only, for
# several nodes on a small box (less CPU at start-up and in GC threads; speed is not the point).
kafka_java() {
	local jvm=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20)
	if [ "${3:-}" = small ]; then jvm=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1); fi
	java=(java "-Xmx$1" "-Xms$1" "${jvm[@]}"
		-Djava.awt.headless=true "-Dlog4j.configuration=file:$2/log4j.properties"
		-cp "$cache/*")
}

# server_properties NODE_ID VOTERS LISTENERS CONTROLLER_PORT PROTOCOLS LOG_DIR REPLICAS: prints the
# server.properties of a KRaft node that is broker and controller, as both scripts run them.
# LISTENERS are the client listeners (advertised as they are); the controller listens on
# 127.0.0.1:CONTROLLER_PORT; PROTOCOLS is the listener.security.protocol.map. REPLICAS above 1 (the
# cluster): new topics, the offsets and the transaction topics get that many replicas and a
# min.insync.replicas of one less, so one node may be down. The caller appends its own lines.
server_properties() {
	local replicas=$7 min_isr=1 defaults=""
	if [ "$replicas" -gt 1 ]; then
		min_isr=$((replicas - 1))
		defaults="default.replication.factor=$replicas
min.insync.replicas=$min_isr
"
	fi
	cat <<PROPS
process.roles=broker,controller
node.id=$1
controller.quorum.voters=$2
listeners=$3,CONTROLLER://127.0.0.1:$4
advertised.listeners=$3
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=$5
log.dirs=$6
num.partitions=4
${defaults}auto.create.topics.enable=true
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
log.retention.ms=-1
log.retention.bytes=-1
message.max.bytes=10485760
PROPS
}

# write_log4j DIR: the server's log goes to DIR/server.log (INFO).
write_log4j() {
	cat > "$1/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$1/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
}

# A fresh KRaft cluster id: 16 random bytes, base64url without padding (what random-uuid prints).
# Like Kafka's Uuid.randomUuid, reject an id that starts with '-': the storage tool's argument
# parser would take it for an option (this failed CI once, 1 start in 64).
uuid_for_cluster() {
	local id=-
	while [ "${id#-}" != "$id" ]; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	done
	printf '%s' "$id"
}

# format_storage DIR CLUSTER_ID: formats the KRaft storage of DIR/server.properties (the java
# array must be set for DIR).
format_storage() {
	"${java[@]}" kafka.tools.StorageTool format -t "$2" -c "$1/server.properties" > "$1/format.log" 2>&1 \
		|| { log "formatting storage in $1 failed:"; cat "$1/format.log" >&2; exit 1; }
}
