#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang-14, ASan + UBSan) in build/fuzz and runs each
# one in turn from its seed corpus (tests/fuzz/corpus/TARGET/), for a time or a number of inputs.
# New inputs go to build/fuzz/corpus/TARGET (the seed corpus in the repository is only read);
# a crash, leak, timeout or allocation over the limit stops that target, leaves the input in
# build/fuzz/artifacts/TARGET/ and makes the script fail. Prints executions and coverage per target.
#   tools/fuzz.sh [--seconds S (30)] [--runs N (instead of a time)] [TARGET ...]
#   tools/fuzz.sh --runs 1000000          # the long form: 10^6 inputs per target
#   tools/fuzz.sh --coverage [TARGET ...] # line coverage of the fuzzed sources by the corpus so far
#                                         # (seed + build/fuzz/corpus), in build/fuzz-cov
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
seconds=30
runs=
coverage=0
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--coverage) coverage=1; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds takes a positive integer" >&2; exit 2; }
[[ -z $runs || $runs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --runs takes a positive integer" >&2; exit 2; }
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
	echo "fuzz.sh: no clang (tools/setup.sh installs clang-14): fuzz targets skipped" >&2
	exit 0
fi
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_event fuzz_reference fuzz_state_record fuzz_http_path fuzz_dataset fuzz_snapshot)
# The sources each target is there to cover (for --coverage).
declare -A sources=([fuzz_event]="event/event.c" [fuzz_reference]="event/event.c" [fuzz_state_record]="state/record.c"
	[fuzz_http_path]="http/http.c" [fuzz_snapshot]="snapshot/reader.c snapshot/files.c"
	[fuzz_dataset]="dataset/csv.c dataset/reference.c dataset/history.c dataset/load.c dataset/timeline.c")
if [ "$coverage" = 1 ]; then
	cov=build/fuzz-cov
	mkdir -p "$cov"
	prof=$(command -v llvm-profdata-14 || command -v llvm-profdata)
	llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
	CC=$cc cmake -S . -B "$cov" -DSEGSTREAM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" > "$cov.cmake.log" 2>&1 \
		|| { cat "$cov.cmake.log"; exit 1; }
	cmake --build "$cov" -j 2 --target fuzz_all > "$cov.build.log" 2>&1 || { tail -40 "$cov.build.log"; exit 1; }
	printf '%-18s %8s %10s %s\n' target inputs lines sources
	for t in "${targets[@]}"; do
		mkdir -p "build/fuzz/corpus/$t"
		rm -f "$cov/$t".prof*
		LLVM_PROFILE_FILE="$cov/$t.profraw" ASAN_OPTIONS=detect_leaks=0 "$cov/tests/fuzz/$t" -runs=0 \
			"build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "$cov/$t.log" 2>&1 || true
		"$prof" merge -sparse "$cov/$t.profraw" -o "$cov/$t.profdata"
		# shellcheck disable=SC2086
		line=$("$llvmcov" report "$cov/tests/fuzz/$t" -instr-profile="$cov/$t.profdata" ${sources[$t]} | tail -1)
		inputs=$(( $(ls "build/fuzz/corpus/$t" | wc -l) + $(ls "tests/fuzz/corpus/$t" | wc -l) ))
		printf '%-18s %8s %10s %s\n' "$t" "$inputs" "$(awk '{ print $(NF-3) }' <<< "$line")" "${sources[$t]}"
	done
	exit 0
fi
dir=build/fuzz
mkdir -p "$dir" # its logs go beside it: build/ may not exist yet in a fresh worktree
CC=$cc cmake -S . -B "$dir" -DSEGSTREAM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$dir.cmake.log" 2>&1 \
	|| { cat "$dir.cmake.log"; exit 1; }
cmake --build "$dir" -j 2 --target fuzz_all > "$dir.build.log" 2>&1 || { tail -40 "$dir.build.log"; exit 1; }
if [ -n "$runs" ]; then limit=(-runs="$runs"); else limit=(-max_total_time="$seconds"); fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Scratch files of the dataset and snapshot targets: in memory when /dev/shm is there, removed on exit.
scratch_root=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
TMPDIR=$(mktemp -d "$scratch_root/segstream-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
status=0
printf '%-18s %12s %8s %8s %8s %s\n' target executions cov ft corpus result
for t in "${targets[@]}"; do
	mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t"
	log=$dir/$t.log
	result=ok
	"$dir/tests/fuzz/$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/$t/" "$dir/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1 || result=FAILED
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
	execs=$(grep -m1 -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$done_line")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$done_line")
	corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<< "$done_line")
	printf '%-18s %12s %8s %8s %8s %s\n' "$t" "$execs" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
	if [ "$result" != ok ]; then
		status=1
		grep -m5 -E 'ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -20 "$log" >&2
	fi
done
exit $status
