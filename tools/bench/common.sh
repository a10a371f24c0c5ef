# Sourced by the benchmark scripts (freshness.sh, handoff.sh): the segstream binary, a fresh work
# directory, and a broker of the script's own unless --brokers named one. The script sets repo,
# port, work and brokers first; bench_setup sets seg (SEGSTREAM_BINARY, else build/release's,
# built) and starts the broker; bench_flush syncs the set-up's writes; bench_cleanup (call it
# from the script's EXIT trap) stops that broker and removes the work directory unless BENCH_KEEP
# is set.

bench_setup() {
	seg=${SEGSTREAM_BINARY:-}
	if [ -z "$seg" ]; then
		cmake -S "$repo" -B "$repo/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
		cmake --build "$repo/build/release" -j2 > /dev/null
		seg=$repo/build/release/tools/segstream
	fi
	rm -rf "$work" && mkdir -p "$work"
	if [ -z "$brokers" ]; then
		own_broker=1
		brokers=127.0.0.1:$port
		SEGSTREAM_KAFKA_PORT=$port SEGSTREAM_KAFKA_DIR=$work/kafka "$repo/tools/kafka/broker.sh" start
	fi
}

# bench_flush: what the set-up wrote so far reaches the disk now (timed), not in a measured step:
# else the kernel writes it back ~30 s later and the consumer's fsyncs wait behind it
# (BENCHMARKS.md, tenth session). BENCH_NO_SYNC=1 skips it.
bench_flush() {
	[ -z "${BENCH_NO_SYNC:-}" ] || return 0
	local t0
	t0=$(date +%s.%N)
	sync
	echo "sync: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
}

bench_cleanup() {
	if [ -n "${own_broker:-}" ]; then
		SEGSTREAM_KAFKA_PORT=$port SEGSTREAM_KAFKA_DIR=$work/kafka "$repo/tools/kafka/broker.sh" stop || true
	fi
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
