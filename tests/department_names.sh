#!/usr/bin/env bash
# Department names come from the data, not from fixed ids: a catalog whose departments.csv (in
# the long layout) names ids 2 and 4 the other way round moves those lines to the other
# shopper profile, and report.json, serve's /segments and the plots name the departments as
# the file does. The pandas oracle (tests/check_snapshot.py, SPEC §4 by name) checks the whole
# snapshot; the same data with the catalog's own names must give other profiles.
#   department_names.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_HTTP_PORT names a free port)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fail() { echo "FAIL: $*"; exit 1; }
"$seg" gen --users 1500 --seed 13 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/plain" --partitions 2 > /dev/null 2>&1
"$seg" dump --state "$tmp/plain" > "$tmp/plain.csv"
# The long layout, with "other" (2) and "produce" (4) swapped.
"$py" - "$tmp/data/departments.csv" <<'PY'
import sys
import pandas as pd
path = sys.argv[1]
d = pd.read_csv(path, header=None).T.iloc[1:]
names = dict(zip(d[0].astype(int), d[1]))
names[2], names[4] = names[4], names[2]
with open(path, "w") as f:
    f.write("department_id,department\n" + "".join(f"{i},{names[i]}\n" for i in sorted(names)))
PY
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$py" "$repo/tests/check_snapshot.py" "$tmp/data" "$tmp/snaps" > "$tmp/check.out" || { grep FAIL "$tmp/check.out"; fail "oracle"; }
"$seg" dump --state "$tmp/state" > "$tmp/named.csv"
cmp -s "$tmp/plain.csv" "$tmp/named.csv" && fail "swapping two department names changed no profile"
"$py" - "$tmp/snaps" "$repo" <<'PY' || fail "report names"
import json, sys
rep = json.load(open(f"{sys.argv[1]}/0000000001/report.json"))
names = rep["department_names"]
assert names[1] == "produce" and names[3] == "other" and names[0] == "frozen", names[:4]
assert {d["name"] for d in rep["departments"]} <= set(names), rep["departments"]
PY
# get and serve: the customer's profile by the stored names (get == dump's row is snapshot_cli's).
user=$(awk -F, 'NR == 2 { print $1 }' "$tmp/named.csv")
"$seg" get --state "$tmp/state" --json "$user" > "$tmp/get.json"
port=${SEGSTREAM_HTTP_PORT:?SEGSTREAM_HTTP_PORT names a free port}
"$seg" serve --state "$tmp/state" --http "127.0.0.1:$port" 2> "$tmp/serve.err" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/segments" > "$tmp/segments.json" 2> /dev/null && break
	sleep 0.1
done
curl -sf "http://127.0.0.1:$port/customers/$user" > "$tmp/served.json"
kill -TERM $server
wait $server || true
"$py" - "$tmp/snaps" "$tmp/segments.json" "$tmp/get.json" "$tmp/served.json" "$user" <<'PY' || fail "get/serve"
import csv, json, sys
snaps, segments, got, served, user = sys.argv[1:6]
rep = json.load(open(f"{snaps}/0000000001/report.json"))
seg = json.load(open(segments))
assert seg["department_names"] == rep["department_names"] and seg["departments"] == rep["departments"]
assert seg["profiles"] == rep["profiles"]
g, s = json.load(open(got)), json.load(open(served))
assert g == s, (g, s)
row = next(r for r in csv.DictReader(open(f"{snaps}/../named.csv")) if r["user_id"] == user)
assert g["primary_profile"] == row["primary_profile"], (g, row)
PY
# The plots name the departments from the snapshot itself (no departments.csv given).
"$py" "$repo/tools/python/plot_findings.py" "$tmp/snaps" "$tmp/plots" > "$tmp/plots.out" || fail "plots without departments.csv"
"$py" - "$tmp/snaps" "$tmp/plots/findings.json" <<'PY' || fail "the plots do not name the departments as the snapshot does"
import glob, json, os, sys
snapdir = sorted(d for d in glob.glob(os.path.join(sys.argv[1], "*")) if os.path.basename(d).isdigit())[-1]
want = json.load(open(os.path.join(snapdir, "report.json")))["department_names"]
got = json.load(open(sys.argv[2]))["department_names"]
assert [got[str(i + 1)] for i in range(len(want))] == want, (got, want)
PY
echo "department_names: profiles and reports by the names of departments.csv (long layout, two swapped)"
