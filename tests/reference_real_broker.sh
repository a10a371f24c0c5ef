#!/usr/bin/env bash
# Reference data is republished only when it differs from what the compacted topics hold: a
# second replay of the same files produces no products, customers or names record, a changed
# price exactly one, --reference always all of them, never none; a consumer then loads each
# product record once (plus the change), not once per replay, and the department names.
#   reference_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
run=reference-$$-$(date +%s)
fail() { echo "FAIL: $*"; exit 1; }
"$seg" gen --users 200 --seed 8 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
replay() {
	"$seg" replay --data "$tmp/data" --brokers "$brokers" --topic "$run.events" --products-topic "$run.products" \
		--customers-topic "$run.customers" --names-topic "$run.names" --dlq-topic "$run.dlq" --limit 0 "$@" \
		> "$tmp/replay.out" 2> "$tmp/replay.err" || { cat "$tmp/replay.err"; fail "replay $*"; }
	sed -n 's/^replay: reference records produced: products \([0-9]*\) ([0-9]* held as they are), customers \([0-9]*\) ([0-9]* held as they are), names \([0-9]*\) .*/\1 \2 \3/p' \
		"$tmp/replay.out"
}
read -r products customers names <<< "$(replay)"
[ "${products:-0}" -gt 40000 ] && [ "${customers:-0}" = 200 ] && [ "${names:-0}" = $((21 + 134)) ] \
	|| fail "first replay produced '$products' '$customers' '$names'"
got=$(replay)
[ "$got" = "0 0 0" ] || fail "a second replay of the same data produced '$got' (products customers names), not 0 0 0"
# One product's price changes: exactly that record is produced again.
awk -F, 'BEGIN { OFS = "," } NR == 2 { $NF = $NF + 1 } { print }' "$tmp/data/products.csv" > "$tmp/p.csv"
mv "$tmp/p.csv" "$tmp/data/products.csv"
got=$(replay)
[ "$got" = "1 0 0" ] || fail "one changed price produced '$got', not 1 0 0"
got=$(replay --reference never)
[ "$got" = "0 0 0" ] || fail "--reference never produced '$got'"
# The consumer loads each product once, and the change once more.
"$seg" consume --brokers "$brokers" --topic "$run.events" --products-topic "$run.products" \
	--customers-topic "$run.customers" --names-topic "$run.names" --dlq-topic "$run.dlq" --state "$tmp/state" \
	--exit-at-end > "$tmp/consume.out" \
	2> "$tmp/consume.err" || { cat "$tmp/consume.err"; fail "consume"; }
loaded=$(sed -n 's/.*, products \([0-9]*\), customers \([0-9]*\),.*/\1 \2/p' "$tmp/consume.out")
[ "$loaded" = "$((products + 1)) $customers" ] || fail "the consumer loaded '$loaded', not '$((products + 1)) $customers'"
# The names reached the state: the report names the departments.
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
grep -q '"department_names": \["frozen", "other", "bakery", "produce"' "$tmp/snaps/0000000001/report.json" \
	|| fail "the consumer did not load the department names"
got=$(replay --reference always)
[ "$got" = "$products $customers $names" ] || fail "--reference always produced '$got', not '$products $customers $names'"
"$seg" replay --data "$tmp/data" --brokers "$brokers" --reference sometimes > /dev/null 2> "$tmp/err" && fail "a bad --reference"
grep -q "changed, always, never" "$tmp/err" || fail "--reference: $(cat "$tmp/err")"
echo "reference: $products products and $customers customers once; 0 again, 1 after a price change"
