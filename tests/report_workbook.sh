#!/usr/bin/env bash
# segstream report --xlsx: the workbook of a snapshot (the newest under a directory, or one
# snapshot's directory) opens in openpyxl and every sheet's numbers equal report.json
# (tests/check_workbook.py); usage errors exit 2, a missing snapshot 1.
#   report_workbook.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 1500 --seed 4 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" -T clusters=4 > /dev/null
"$seg" report "$tmp/snaps" --xlsx "$tmp/latest.xlsx" | grep -q "workbook of snapshot 2"
"$seg" report "$tmp/snaps/0000000001/" --xlsx "$tmp/first.xlsx" | grep -q "workbook of snapshot 1"
"$seg" report "$tmp/snaps" --sequence 1 --xlsx "$tmp/first-again.xlsx" > /dev/null
"$py" "$repo/tests/check_workbook.py" "$tmp/latest.xlsx" "$tmp/snaps/0000000002"
"$py" "$repo/tests/check_workbook.py" "$tmp/first.xlsx" "$tmp/snaps/0000000001"
"$py" "$repo/tests/check_workbook.py" "$tmp/first-again.xlsx" "$tmp/snaps/0000000001"
# the check fails on a workbook of another snapshot (k = 4 clusters vs 5)
if "$py" "$repo/tests/check_workbook.py" "$tmp/first.xlsx" "$tmp/snaps/0000000002" > /dev/null 2>&1; then
	echo "FAIL: check_workbook.py accepts snapshot 1's workbook for snapshot 2"
	exit 1
fi
code=0
"$seg" report "$tmp/snaps" > /dev/null 2>&1 || code=$?
[ "$code" = 2 ] || { echo "FAIL: report without --xlsx or --charts exited $code, not 2"; exit 1; }
code=0
"$seg" report "$tmp/none" --xlsx "$tmp/x.xlsx" > /dev/null 2>&1 || code=$?
[ "$code" = 1 ] || { echo "FAIL: report of a missing snapshot exited $code, not 1"; exit 1; }
echo "report --xlsx: three workbooks equal their snapshots' reports"
