#!/usr/bin/env bash
# The Python loader: a snapshot directory itself reads the same as its parent + sequence; the
# label and group columns are ordered Categoricals in segment.c's rule order (the order the
# loader keeps is checked against segment.c itself); an unknown label is kept, not lost.
#   snapshot_loader.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 400 --seed 11 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$py" - "$tmp/snaps" "$repo" <<'PY'
import re
import sys

import pandas as pd

snaps, repo = sys.argv[1], sys.argv[2]
sys.path.insert(0, f"{repo}/tools/python")
from segstream_snapshot import CATEGORY_ORDERS, SnapshotError, categorize, load

# The orders are segment.c's: its name lists, in enum order.
src = open(f"{repo}/segment/segment.c").read()
fn_of = {"loyalty": "segment_loyalty_name", "spending": "segment_spending_name",
         "frequency": "segment_frequency_name", "region": "segment_region_name", "age_group": "segment_age_name",
         "income_group": "segment_income_name", "family": "segment_family_name",
         "primary_profile": "segment_profile_name"}
for col, fn in fn_of.items():
    m = re.search(r"NAME_OF\(" + fn + r",[^,]*,[^,]*,(.*?)\)\n", src, re.S) or \
        re.search(fn + r"\(.*?names\[\] = \{(.*?)\}", src, re.S)
    assert m, fn
    assert re.findall(r'"([^"]*)"', m.group(1)) == CATEGORY_ORDERS[col], (col, CATEGORY_ORDERS[col])

# A snapshot directory itself, or its parent and sequence: the same snapshot.
a, b, latest = load(f"{snaps}/0000000001"), load(snaps, 1), load(snaps)
assert (a.sequence, b.sequence, latest.sequence) == (1, 1, 2)
assert a.path == b.path and a.report == b.report and a.manifest == b.manifest
assert a.customers.equals(b.customers)
assert load(f"{snaps}/0000000002/").sequence == 2
try:
    load(f"{snaps}/0000000001", 2)
    raise AssertionError("a snapshot directory with another sequence was accepted")
except SnapshotError:
    pass

# Ordered Categoricals in the rule order: income_group sorts Low < Middle < High.
c = a.customers
for col, order in CATEGORY_ORDERS.items():
    assert isinstance(c[col].dtype, pd.CategoricalDtype) and c[col].dtype.ordered, col
    assert list(c[col].cat.categories) == order, (col, list(c[col].cat.categories))
seen = list(dict.fromkeys(c.sort_values("income_group")["income_group"].dropna()))
assert seen == ["Low", "Middle", "High"], seen
assert list(c.sort_values("loyalty")["loyalty"].drop_duplicates()) == \
    [v for v in CATEGORY_ORDERS["loyalty"] if v in set(c["loyalty"])]
assert (c["income_group"] < "High").sum() == c["income_group"].isin(["Low", "Middle"]).sum()

# An unknown value is kept after the known ones; a null stays NaN.
u = categorize(pd.DataFrame({"loyalty": ["Loyal customer", "Gold", None, "New customer"]}))
assert list(u["loyalty"].cat.categories) == CATEGORY_ORDERS["loyalty"] + ["Gold"]
assert u["loyalty"].tolist()[:2] == ["Loyal customer", "Gold"] and pd.isna(u["loyalty"][2])
assert (u["loyalty"] > "Loyal customer").tolist() == [False, True, False, False]
print(f"loader: snapshot dir == parent + sequence, {len(CATEGORY_ORDERS)} ordered categoricals as segment.c")
PY
