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
"$py" - "$tmp/snaps" "$repo" "$tmp/data" <<'PY'
import datetime
import json
import re
import shutil
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
latest_as_of = latest.as_of
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
# The event-time watermark: the latest event time of a prior line, computed from the files as
# SPEC §2 says (first order on date_joined, each next days_since_prior later, at its hour; a
# same-day earlier hour held at the previous order's time).
data = sys.argv[3]
joined = {int(r.user_id): datetime.datetime.strptime(r.date_joined, "%m/%d/%Y")
          for r in pd.read_csv(f"{data}/customers.csv").itertuples()}
orders = pd.read_csv(f"{data}/orders.csv").sort_values(["user_id", "order_number"])
with_lines = set(pd.read_csv(f"{data}/order_products__prior.csv").order_id)
latest = None
for user, o in orders.groupby("user_id"):
    day, t = joined[user], None
    for r in o.itertuples():
        day += datetime.timedelta(days=0 if pd.isna(r.days_since_prior_order) else int(r.days_since_prior_order))
        t = max(t or day, day + datetime.timedelta(hours=int(r.order_hour_of_day)))
        if r.eval_set == "prior" and r.order_id in with_lines:
            latest = max(latest or t, t)
ms = int((latest - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
assert latest.date() == a.as_of == latest_as_of == datetime.date.fromisoformat(a.report["as_of"]), (latest, a.as_of)
assert a.event_time_max_ms == ms == a.manifest["event_time_max_ms"] == a.report["event_time_max_ms"], ms
assert a.manifest["format"] == 3 and a.manifest["as_of"] == latest.date().isoformat()
# Format 2 (no watermark) still loads, with as_of None.
old = f"{snaps}/0000000009"
shutil.copytree(f"{snaps}/0000000001", old)
m = json.load(open(f"{old}/manifest.json"))
m["format"] = 2
del m["event_time_max_ms"], m["as_of"]
json.dump(m, open(f"{old}/manifest.json", "w"))
o = load(old)
assert o.as_of is None and o.event_time_max_ms is None and o.customers.equals(a.customers)
print(f"loader: as of {a.as_of} as the files say; format 2 still loads")
print(f"loader: snapshot dir == parent + sequence, {len(CATEGORY_ORDERS)} ordered categoricals as segment.c")
PY
