#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, builds twice (plain with
# -Werror, and with AddressSanitizer + UndefinedBehaviorSanitizer) and runs every CTest test in
# both builds, including the ones against a real Kafka 3.9 broker that CTest starts and stops;
# then each libFuzzer target for 30 s (tools/fuzz.sh; SEGSTREAM_FUZZ_SECONDS changes it, 0 skips).
#   tools/test.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash tools/setup.sh
jobs=$(nproc)
status=0
for variant in release asan; do
	dir=build/$variant
	flags=(-DSEGSTREAM_WERROR=ON)
	port=19092
	if [ "$variant" = asan ]; then
		flags+=(-DSEGSTREAM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
		port=19192
	else
		flags+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	fi
	echo "== $variant build =="
	cmake -S . -B "$dir" "${flags[@]}" -DSEGSTREAM_TEST_KAFKA_PORT=$port > build.cmake.log 2>&1 \
		|| { cat build.cmake.log; exit 1; }
	cmake --build "$dir" -j "$jobs"
	echo "== $variant tests =="
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	if [ $# -eq 0 ]; then
		# The unit tests share nothing (tests on the HTTP port hold a CTest lock): two at a time;
		# the real-broker tests share one broker and one after the other is what they assume.
		ctest --test-dir "$dir" --output-on-failure -L unit -j "$jobs" || status=1
		ctest --test-dir "$dir" --output-on-failure -LE unit || status=1
	else
		ctest --test-dir "$dir" --output-on-failure "$@" || status=1
	fi
done
fuzz_seconds=${SEGSTREAM_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
	echo "== fuzz targets ($fuzz_seconds s each) =="
	bash tools/fuzz.sh --seconds "$fuzz_seconds" || status=1
fi
exit $status
