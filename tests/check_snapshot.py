#!/usr/bin/env python3
"""Checks a published snapshot against an independent pandas computation of SPEC §4 over the
same CSVs: per-customer rows (via the Python reader) and every aggregate of report.json.

    check_snapshot.py DATA_DIR SNAPSHOT_DIR
"""
import math
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "python"))
import oracle  # noqa: E402  (tests/oracle.py)
from segstream_snapshot import load  # noqa: E402

data, snapdir = sys.argv[1], sys.argv[2]
snap = load(snapdir)
rep = snap.report
failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail if not ok else ''}")
    if not ok:
        failures.append(name)


REGIONS = {
    "Northeast": "ME NH VT MA RI CT NY PA NJ",
    "Midwest": "WI MI IL IN OH ND SD NE KS MN IA MO",
    "South": "DE MD DC VA WV NC SC GA FL KY TN MS AL OK TX AR LA",
    "West": "ID MT WY NV UT CO AZ NM AK WA OR CA HI",
}
ABBREV = dict(zip(
    ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
     "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
     "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
     "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
     "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
     "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington",
     "West Virginia", "Wisconsin", "Wyoming"],
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()))
REGION_OF = {a: r for r, states in REGIONS.items() for a in states.split()}
PROFILE_OF = {"produce": "Health-Focused", "dairy eggs": "Health-Focused", "pantry": "Family Stock-Up",
              "frozen": "Family Stock-Up", "deli": "Convenience", "bakery": "Convenience",
              "snacks": "Snack & Beverage", "beverages": "Snack & Beverage", "household": "Household Essentials",
              "personal care": "Household Essentials", "babies": "Household Essentials"}
PROFILES = ["Health-Focused", "Family Stock-Up", "Convenience", "Snack & Beverage", "Household Essentials",
            "Mixed / Other", "Unknown"]

# Lines with prices and departments, as the oracle validates them.
orders = oracle.load_orders(f"{data}/orders.csv")
lines = oracle.load_lines(f"{data}/order_products__prior.csv")
products = oracle.load_products(f"{data}/products.csv")
m = lines.merge(orders, on="order_id").merge(products, on="product_id", how="left")
# departments.csv in either layout (SPEC §1): long (department_id,department) or transposed.
depts = pd.read_csv(f"{data}/departments.csv", header=None)
depts = depts.iloc[1:] if depts.shape[1] == 2 else depts.T.iloc[1:]
dept_name = dict(zip(depts[0].astype(int), depts[1]))
m["profile"] = m["department_id"].map(lambda d: "Unknown" if pd.isna(d) or int(d) not in dept_name
                                      else PROFILE_OF.get(dept_name[int(d)], "Mixed / Other"))
m["cents"] = m["cents"].fillna(0).astype("int64")

per = oracle.oracle(data).set_index("user_id")
cust = pd.read_csv(f"{data}/customers.csv").set_index("user_id")
per = per.join(cust[["STATE", "Age", "n_dependants", "income"]])
per["region"] = per["STATE"].map(ABBREV).map(REGION_OF)
per["age_group"] = pd.cut(per["Age"], [0, 35, 55, 200], labels=["18-35", "36-55", "56+"]).astype(str)
per["income_group"] = pd.cut(per["income"], [0, 60000, 120000, 1e12], labels=["Low", "Middle", "High"]).astype(str)
per["family"] = np.where(per["n_dependants"] > 0, "Family", "Single")
prof_items = m.pivot_table(index="user_id", columns="profile", values="order_id", aggfunc="size", fill_value=0)
prof_items = prof_items.reindex(columns=PROFILES, fill_value=0)
per["primary_profile"] = prof_items.idxmax(axis=1)  # first maximum: SPEC's tie order
per["persona"] = per["age_group"] + " | " + per["family"] + " | " + per["income_group"] + " | " + per["primary_profile"]

# Rows: every column of the snapshot against the oracle.
rows = snap.customers.set_index("user_id").sort_index()
per = per.sort_index()
check("one row per customer", list(rows.index) == list(per.index))
for col in ["orders", "max_order", "items", "priced_items", "spend_cents", "reorders", "loyalty", "spending",
            "frequency", "low_activity", "region", "age_group", "income_group", "family", "primary_profile", "persona"]:
    check(f"row column {col}", (rows[col].astype(str).values == per[col].astype(str).values).all())
check("row median_days", np.allclose(rows["median_days"].astype(float), per["median_days"], equal_nan=True))
# SPEC §3's order-weighted median: each order once (first orders have no days).
order_days = m.drop_duplicates("order_id").dropna(subset=["days_since_prior_order"])
per["order_median_days"] = order_days.groupby("user_id")["days_since_prior_order"].median()
check("row order_median_days", np.allclose(rows["order_median_days"].astype(float), per["order_median_days"],
                                           equal_nan=True))
# Raw demographics: customers.csv's values, null for a customer without a customers.csv row.
for col, src in [("age", "Age"), ("income", "income"), ("n_dependants", "n_dependants")]:
    got, want = pd.to_numeric(rows[col]), per[src]
    check(f"row {col} null exactly without demographics", (got.isna() == want.isna()).all())
    check(f"row {col} equals customers.csv", (got[want.notna()] == want[want.notna()]).all())
check("the manifest lists the rows' columns", [c["name"] for c in snap.manifest["columns"]] == list(snap.customers.columns))

# Report: counts and sums.
check("customers", rep["customers"] == len(per))
check("low_activity", rep["low_activity"] == int(per["low_activity"].sum()))
for name in ["loyalty", "spending", "frequency"]:
    want = per[name].value_counts().to_dict()
    check(f"counts per {name}", all(rep[name].get(k, 0) == v for k, v in want.items()) and
          sum(rep[name].values()) == len(per), (rep[name], want))
check("lines per loyalty label", rep["loyalty_lines"] == {k: int(v) for k, v in
      per.groupby("loyalty")["items"].sum().reindex(rep["loyalty_lines"].keys(), fill_value=0).items()})
check("spend", rep["spend_cents"] == int(m["cents"].sum()))
by_dow = m.groupby("order_dow").size()
check("lines by dow", all(rep["lines_by_dow"][str(d)] == int(by_dow.get(d, 0)) for d in range(7)))
by_hour_orders = m.drop_duplicates("order_id").groupby("order_hour_of_day").size()
for key, col, n in [("dow", "order_dow", 7), ("hour", "order_hour_of_day", 24)]:
    cents = m.groupby(col)["cents"].sum()
    check(f"spend by {key}", all(rep[f"spend_cents_by_{key}"][str(k)] == int(cents.get(k, 0)) for k in range(n)),
          (rep[f"spend_cents_by_{key}"], cents.to_dict()))
check("orders by hour", all(rep["orders_by_hour"][str(h)] == int(by_hour_orders.get(h, 0)) for h in range(24)))
dept = m.dropna(subset=["department_id"]).groupby("department_id").agg(items=("order_id", "size"), cents=("cents", "sum"))
got = {d["name"]: (d["items"], d["revenue_cents"]) for d in rep["departments"]}
check("items and revenue per department, by name",
      got == {dept_name[int(k)]: (int(v["items"]), int(v.cents)) for k, v in dept.iterrows()})
check("department names", rep["department_names"] == [dept_name.get(i) for i in range(1, 22)])

prof = m.groupby("profile").agg(items=("order_id", "size"), cents=("cents", "sum"))
got = {p["name"]: (p["items"], p["revenue_cents"]) for p in rep["profiles"]}
check("items and revenue per shopper profile", got == {k: (int(v["items"]), int(v.cents)) for k, v in prof.iterrows()})


def tiers(revenue):
    total = sum(revenue.values())
    out, cum = {}, 0
    for name, r in sorted(revenue.items(), key=lambda kv: -kv[1]):
        cum += r
        share = cum / total
        out[name] = "Tier 1 Core" if r and share <= 0.5 else "Tier 2 Growth" if r and share <= 0.8 else "Tier 3 Long tail"
    return out


check("profile tiers", {p["name"]: p["tier"] for p in rep["profiles"]} ==
      tiers({p["name"]: p["revenue_cents"] for p in rep["profiles"]}) and
      tiers({k: int(v.cents) for k, v in prof.iterrows()}) == {p["name"]: p["tier"] for p in rep["profiles"]})

# Demographic parts: customers not low-activity, with demographics.
active = per[(per["low_activity"] == 0) & per["region"].notna()]
for key, col in [("regions", "region"), ("age_groups", "age_group"), ("income_groups", "income_group"),
                 ("family_groups", "family")]:
    g = active.groupby(col).agg(customers=("orders", "size"), items=("items", "sum"), cents=("spend_cents", "sum"))
    got = {e["name"]: (e["customers"], e["items"], e["revenue_cents"]) for e in rep[key]}
    check(f"customers, items, revenue per {col}", got == {k: (int(v.customers), int(v["items"]), int(v.cents))
                                                          for k, v in g.iterrows()})
ml = m[m["user_id"].isin(active.index)].join(active[["age_group", "family", "income_group"]], on="user_id")
ml["persona"] = ml["age_group"] + " | " + ml["family"] + " | " + ml["income_group"] + " | " + ml["profile"]
pers = ml.groupby("persona").agg(items=("order_id", "size"), cents=("cents", "sum"))
got = {p["name"]: (p["items"], p["revenue_cents"]) for p in rep["personas"]}
check("items and revenue per persona (line-level)", got == {k: (int(v["items"]), int(v.cents)) for k, v in pers.iterrows()})
check("persona tiers", {p["name"]: p["tier"] for p in rep["personas"]} == tiers({k: int(v.cents) for k, v in pers.iterrows()}))
ti, tc = pers["items"].sum(), pers["cents"].sum()
eff = {k: (v.cents / tc) / (v["items"] / ti) for k, v in pers.iterrows()}
check("persona efficiency index", all(math.isclose(p["efficiency"], eff[p["name"]], rel_tol=1e-9) for p in rep["personas"]))

# Value drivers over customers that are not low-activity.
act = per[per["low_activity"] == 0].copy()
act["basket_size"] = act["items"] / act["orders"]
act["order_count"] = act["orders"].astype(float)
span = m.drop_duplicates("order_id").groupby("user_id")["days_since_prior_order"].sum()
act["order_rate"] = ((act["orders"] - 1) * 30 / span.reindex(act.index)).where(span.reindex(act.index) > 0)
act["reorder_rate"] = act["reorders"] / act["items"]
for drv in ["basket_size", "order_count", "order_rate", "reorder_rate"]:
    d = act[[drv, "spend_cents"]].dropna().reset_index().sort_values([drv, "user_id"])
    r = rep["value_drivers"][drv]
    check(f"{drv}: customers", r["customers"] == len(d))
    check(f"{drv}: Pearson with value", math.isclose(r["pearson_with_value"], d[drv].corr(d["spend_cents"].astype(float)),
                                                      rel_tol=1e-9, abs_tol=1e-12))
    n = len(d)
    q = [d["spend_cents"].iloc[n * i // 5: n * (i + 1) // 5].mean() for i in range(5)]
    check(f"{drv}: mean value by quintile", all(math.isclose(a, b, rel_tol=1e-9) for a, b in
                                                zip(r["mean_value_cents_by_quintile"], q)))
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
