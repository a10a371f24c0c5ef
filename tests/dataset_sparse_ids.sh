#!/usr/bin/env bash
# Input tables are not sized by the largest id (issue #14, defect 5): one orders row with
# order_id 100,000,000, one with user_id 4,000,000,000, a product 4,294,967,295 and a customer
# 3,000,000,000 in small files. backfill stays small in peak memory (/usr/bin/time -v), names
# each refused row with the limit, and applies the rest exactly as without those rows.
#   dataset_sparse_ids.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 100 --seed 4 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/clean" --partitions 2 > /dev/null 2>&1
"$seg" dump --state "$tmp/clean" > "$tmp/clean.dump"
echo "100000000,7,prior,99,2,8,5.0" >> "$tmp/data/orders.csv"
echo "3999999,4000000000,prior,1,2,8," >> "$tmp/data/orders.csv"
echo "100000000,196,1,1" >> "$tmp/data/order_products__prior.csv"
echo "4294967295,Huge,1,1,1.99" >> "$tmp/data/products.csv"

tail -1 "$tmp/data/customers.csv" | awk -F, -v OFS=, '{ $1 = "3000000000"; print }' >> "$tmp/data/customers.csv"
/usr/bin/time -v "$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > "$tmp/out" 2>&1 \
	|| { cat "$tmp/out"; echo "FAIL: backfill with huge ids"; exit 1; }
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/out")
echo "backfill with huge ids: peak RSS $rss KB"
[ "$rss" -lt 300000 ] || { echo "FAIL: peak RSS $rss KB with one huge id (the tables follow the largest id)"; exit 1; }
for what in "order_id 100000000" "user_id 4000000000" "product_id 4294967295" "user_id 3000000000"; do
	grep "$what" "$tmp/out" | grep -q "limit" \
		|| { grep -v '^\s' "$tmp/out"; echo "FAIL: no row named with '$what' and its limit"; exit 1; }
done
"$seg" dump --state "$tmp/state" > "$tmp/state.dump"
cmp -s "$tmp/clean.dump" "$tmp/state.dump" || { echo "FAIL: the other rows did not apply as without the huge ids"; exit 1; }
echo "dataset_sparse_ids: 4 huge ids refused by name with the limit, peak RSS $rss KB, state as without them"
