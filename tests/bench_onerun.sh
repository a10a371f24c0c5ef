#!/usr/bin/env bash
# The one-run harness (tools/bench/onerun.py) at a tiny scale against the test broker: every step
# runs, pandas / DuckDB / backfill / the streamed states agree on every shared column, the table
# names every step with its ratios, BENCHMARKS.md is left alone (--no-record); and the identity
# check fails when one table differs in one value. No timing is asserted: figures at this scale
# mean nothing.
#   bench_onerun.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the test broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
brokers=${SEGSTREAM_BOOTSTRAP:?SEGSTREAM_BOOTSTRAP names the test broker}
before=$(md5sum < "$repo/BENCHMARKS.md")
"$py" "$repo/tools/bench/onerun.py" --quick --no-record --brokers "$brokers" --segstream "$seg" \
	--work "$tmp/run" > "$tmp/out" 2>&1 || { cat "$tmp/out"; echo "FAIL: onerun.py --quick"; exit 1; }
for engine in duckdb backfill consume consume-order e2e e2e-order; do
	grep -q "^onerun: $engine = pandas on 1000 customers x 18 columns" "$tmp/out" \
		|| { cat "$tmp/out"; echo "FAIL: $engine not checked equal to pandas"; exit 1; }
done
for step in pandas duckdb floor backfill consume 'consume\+snapshots' consume-order 'consume-order\+snapshots' e2e e2e-order snapshot; do
	grep -Eq "^\| $step \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9]+ \| [0-9.]+x \| [0-9.]+x \|" "$tmp/out" \
		|| { cat "$tmp/out"; echo "FAIL: no table row for $step"; exit 1; }
done
# Each consume and e2e row says its encoding, and which is replay's default (order).
for row in "consume|line encoding)" "consume-order|order encoding, replay's default)" "e2e|(line encoding)" \
	"e2e-order|(order encoding, replay's default)"; do
	grep "^| ${row%%|*} |" "$tmp/out" | grep -qF "${row#*|}" \
		|| { cat "$tmp/out"; echo "FAIL: the ${row%%|*} row does not say '${row#*|}'"; exit 1; }
done
[ "$(md5sum < "$repo/BENCHMARKS.md")" = "$before" ] || { echo "FAIL: --no-record wrote BENCHMARKS.md"; exit 1; }

# One changed value in one engine's table must fail the identity check, naming column and customer.
awk -F, 'BEGIN { OFS = "," } NR == 2 { $6 = $6 + 1 } { print }' "$tmp/run/duckdb.csv" > "$tmp/bad.csv"
if "$py" "$repo/tools/bench/onerun.py" --compare "$tmp/run/pandas.csv" "$tmp/bad.csv" > "$tmp/cmp" 2>&1; then
	cat "$tmp/cmp"; echo "FAIL: a changed spend_cents passed the identity check"; exit 1
fi
grep -q "column spend_cents differs for 1 customers" "$tmp/cmp" || { cat "$tmp/cmp"; echo "FAIL: difference not named"; exit 1; }
# The scaling curve at two tiny scales: a row per scale with floor and backfill figures.
"$py" "$repo/tools/bench/onerun.py" --curve 0.002,0.004 --peers-up-to 0 --no-record --segstream "$seg" \
	--work "$tmp/curve" > "$tmp/curve.out" 2>&1 || { cat "$tmp/curve.out"; echo "FAIL: onerun.py --curve"; exit 1; }
for users in 412 825; do
	grep -Eq "^\| [0-9.]+ \| $users \| [0-9,]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9]+ \| - \| - \| - \|" "$tmp/curve.out" \
		|| { cat "$tmp/curve.out"; echo "FAIL: no curve row for $users customers"; exit 1; }
done
echo "PASS: one-run harness smoke (11 steps, 7 engines equal, a one-value difference caught)"
