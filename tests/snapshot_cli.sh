#!/usr/bin/env bash
# get and dump print the same fields: get's names are dump's header (the column table), and
# get --json gives each customer's dump row value for value (but the cluster, a snapshot's: null
# in get); thresholds (-T) reach get, dump and snapshot's summary alike.
#   snapshot_cli.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 500 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
for u in 1 77 500; do
	"$seg" get --state "$tmp/state" "$u" > "$tmp/get-$u.txt"
	"$seg" get --state "$tmp/state" --json "$u" > "$tmp/get-$u.json"
done
"$seg" dump --state "$tmp/state" -T low_activity_below=3 > "$tmp/dump-T.csv"
"$seg" get --state "$tmp/state" -T low_activity_below=3 --json 1 > "$tmp/get-T.json"
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" -T low_activity_below=3 > "$tmp/snapshot.out"
grep -q "low activity (max_order < 3): " "$tmp/snapshot.out" \
	|| { cat "$tmp/snapshot.out"; echo "FAIL: the summary does not follow -T low_activity_below"; exit 1; }
"$py" - "$tmp" <<'PY'
import json
import math
import sys

import pandas as pd

tmp = sys.argv[1]
dump = pd.read_csv(f"{tmp}/dump.csv", keep_default_na=False, na_values=[""]).set_index("user_id", drop=False)
header = list(dump.columns)
assert "order_median_days" in header, header


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return b is None
    if isinstance(b, float) or isinstance(a, float):
        return b is not None and math.isclose(float(a), float(b), rel_tol=1e-15)
    return str(a) == str(b)


for u in (1, 77, 500):
    got = json.load(open(f"{tmp}/get-{u}.json"))
    assert list(got)[:len(header)] == header, (list(got), header)
    for col in header:
        if col == "cluster":  # a snapshot's (dump's) clustering, not one record's: null in get
            assert got[col] is None and dump.loc[u, col] >= -1, (u, got[col], dump.loc[u, col])
            continue
        assert same(dump.loc[u, col], got[col]), (u, col, dump.loc[u, col], got[col])
    names = [line.split()[0] for line in open(f"{tmp}/get-{u}.txt")]
    assert names[:len(header)] == header, names
    assert names[len(header):] in ([], ["state", "fam_status"]), names
    assert header[-4:] == ["age", "income", "n_dependants", "cluster"], header
    assert (got["age"] is None) == (got["state"] is None), got
cust = pd.read_csv(f"{tmp}/data/customers.csv").set_index("user_id").reindex(dump.index)
for col, src in [("age", "Age"), ("income", "income"), ("n_dependants", "n_dependants")]:
    assert (dump[col].isna() == cust[src].isna()).all(), col
    assert (dump[col].dropna() == cust[src].dropna()).all(), col
t = pd.read_csv(f"{tmp}/dump-T.csv").set_index("user_id")
assert (t["low_activity"] == (t["max_order"] < 3)).all() and (dump["low_activity"] == (dump["max_order"] < 5)).all()
assert json.load(open(f"{tmp}/get-T.json"))["low_activity"] == int(t.loc[1, "max_order"] < 3)
print(f"cli: get (text and --json) equals dump on 3 customers, {len(header)} columns; -T reaches all three")
PY
