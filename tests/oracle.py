#!/usr/bin/env python3
"""Independent batch oracle: SPEC §3-§4 per customer with pandas, straight from the CSVs.

    oracle.py DATA_DIR DUMP_CSV     compares `segstream dump` output with the oracle, column by
                                    column; exit 1 and the first differences if any differ.
    oracle.py DATA_DIR --print      prints the oracle's table as CSV.
    oracle.py DATA_DIR --findings FINDINGS_JSON
                                    compares the numbers of the three findings' charts
                                    (tools/python/charts.py's findings.json) with the oracle's:
                                    Tier 1 revenue by age group, mean spend by region and income
                                    group, each region's revenue share per department.

It shares no code with segstream: prices are converted with Decimal, medians with pandas.
"""
import sys
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

import pandas as pd

THRESHOLDS = dict(loyal_above=40, regular_above=10, high_spender=10.0, nonfrequent_above=20,
                  regular_freq_above=10, low_activity_below=5)


def price_cents(text):
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not (0 < d <= 100):
        return None
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def load_products(path):
    p = pd.read_csv(path, dtype=str, keep_default_na=False)
    p["product_id"] = p["product_id"].astype(int)
    p = p.drop_duplicates("product_id", keep="last")  # SPEC §3: the last row wins
    p["cents"] = p["prices"].map(price_cents) if "prices" in p else None
    p["department_id"] = p["department_id"].astype(int)
    return p[["product_id", "cents", "department_id"]]


def as_int(col, lo, hi, allow_float_zero=False):
    """Integers lo..hi written as digits (optionally "15.0"); anything else becomes NA."""
    pattern = r"^\s*(\d+)(\.0+)?\s*$" if allow_float_zero else r"^\s*(\d+)\s*$"
    digits = col.str.extract(pattern)[0]
    v = pd.to_numeric(digits, errors="coerce")
    return v.where((v >= lo) & (v <= hi))


def load_orders(path):
    """SPEC §1 validation, written independently of the C reader: a row with any bad field is
    dropped (reported there, not counted), and so are the lines of its order."""
    o = pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="skip")
    out = pd.DataFrame({
        "order_id": as_int(o["order_id"], 1, 2**32 - 2),
        "user_id": as_int(o["user_id"], 1, 2**32 - 1),
        "order_number": as_int(o["order_number"], 1, 65535),
        "order_dow": as_int(o["order_dow"], 0, 6),
        "order_hour_of_day": as_int(o["order_hour_of_day"], 0, 23),
        "days_since_prior_order": as_int(o["days_since_prior_order"], 0, 30, allow_float_zero=True),
    })
    days_ok = out["days_since_prior_order"].notna() | (o["days_since_prior_order"].str.strip() == "")
    ok = out.drop(columns="days_since_prior_order").notna().all(axis=1) & days_ok & \
        o["eval_set"].isin(["prior", "train", "test"])
    out = out[ok].drop_duplicates("order_id", keep="first")
    return out.astype({c: "int64" for c in out.columns if c != "days_since_prior_order"})


def load_lines(path):
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, skiprows=1,
                       names=["order_id", "product_id", "add_to_cart_order", "reordered", "extra"],
                       engine="python")
    out = pd.DataFrame({
        "order_id": as_int(rows["order_id"], 1, 2**32 - 2),
        "product_id": as_int(rows["product_id"], 1, 2**32 - 1),
        "add_to_cart_order": as_int(rows["add_to_cart_order"], 1, 65535),
        "reordered": as_int(rows["reordered"], 0, 1),
    })
    ok = out.notna().all(axis=1) & (rows["extra"].fillna("") == "") & (rows["reordered"] != "")
    return out[ok].astype("int64")


def oracle(data_dir):
    orders = load_orders(f"{data_dir}/orders.csv")
    lines = load_lines(f"{data_dir}/order_products__prior.csv")
    products = load_products(f"{data_dir}/products.csv")
    m = lines.merge(orders, on="order_id", how="inner").merge(products, on="product_id", how="left")
    g = m.groupby("user_id")
    out = pd.DataFrame({
        "orders": g["order_id"].nunique(),
        "max_order": g["order_number"].max(),
        "items": g.size(),
        "priced_items": g["cents"].count(),
        "spend_cents": g["cents"].sum(min_count=0).fillna(0).astype("int64"),
        "reorders": g["reordered"].sum(),
    })
    days = m.dropna(subset=["days_since_prior_order"])
    out["median_days"] = days.groupby("user_id")["days_since_prior_order"].median()
    t = THRESHOLDS
    out["loyalty"] = out["max_order"].map(
        lambda x: "Loyal customer" if x > t["loyal_above"] else
        "Regular customer" if x > t["regular_above"] else "New customer")
    mean_price = (out["spend_cents"] / out["priced_items"].where(out["priced_items"] > 0)) / 100
    out["spending"] = mean_price.map(
        lambda x: "unknown" if pd.isna(x) else "Low spender" if x < t["high_spender"] else "High spender")
    out["frequency"] = out["median_days"].map(
        lambda x: "unknown" if pd.isna(x) else "Non-frequent customer" if x > t["nonfrequent_above"] else
        "Regular customer" if x > t["regular_freq_above"] else "Frequent customer")
    out["low_activity"] = (out["max_order"] < t["low_activity_below"]).astype(int)
    return out.reset_index()


COLUMNS = ["orders", "max_order", "items", "priced_items", "spend_cents", "reorders", "median_days",
           "loyalty", "spending", "frequency", "low_activity"]


def compare(expected, dump_path):
    got = pd.read_csv(dump_path, keep_default_na=False, na_values=[""])
    got_ids, exp_ids = set(got["user_id"]), set(expected["user_id"])
    problems = []
    if got_ids != exp_ids:
        problems.append(f"customers: {len(got_ids - exp_ids)} unexpected, {len(exp_ids - got_ids)} missing")
    j = expected.merge(got, on="user_id", suffixes=("_want", "_got"))
    for col in COLUMNS:
        a, b = j[col + "_want"], j[col + "_got"]
        if col == "median_days":
            differ = ~((a.isna() & b.isna()) | (a.astype(float) == b.astype(float)))
        else:
            differ = a.astype(str) != b.astype(str)
        if differ.any():
            sample = j.loc[differ, ["user_id", col + "_want", col + "_got"]].head(5).to_string(index=False)
            problems.append(f"{col}: {int(differ.sum())} customers differ\n{sample}")
    print(f"oracle: {len(expected)} customers, {len(got)} in the dump, {len(COLUMNS)} columns compared")
    for p in problems:
        print("oracle: DIFFERENCE " + p)
    return 1 if problems else 0


# SPEC §4, written from the spec's own words: census regions by state name, the groups, the
# shopper profile of a line by its department's name.
REGION_STATES = {
    "Northeast": ["Maine", "New Hampshire", "Vermont", "Massachusetts", "Rhode Island", "Connecticut", "New York",
                  "Pennsylvania", "New Jersey"],
    "Midwest": ["Wisconsin", "Michigan", "Illinois", "Indiana", "Ohio", "North Dakota", "South Dakota", "Nebraska",
                "Kansas", "Minnesota", "Iowa", "Missouri"],
    "South": ["Delaware", "Maryland", "District of Columbia", "Virginia", "West Virginia", "North Carolina",
              "South Carolina", "Georgia", "Florida", "Kentucky", "Tennessee", "Mississippi", "Alabama", "Oklahoma",
              "Texas", "Arkansas", "Louisiana"],
    "West": ["Idaho", "Montana", "Wyoming", "Nevada", "Utah", "Colorado", "Arizona", "New Mexico", "Alaska",
             "Washington", "Oregon", "California", "Hawaii"],
}
PROFILE_DEPARTMENTS = [("Health-Focused", ["produce", "dairy eggs"]), ("Family Stock-Up", ["pantry", "frozen"]),
                       ("Convenience", ["deli", "bakery"]), ("Snack & Beverage", ["snacks", "beverages"]),
                       ("Household Essentials", ["household", "personal care", "babies"])]


def load_departments(path):
    d = pd.read_csv(path, header=None, dtype=str)
    d = d.T.iloc[1:] if d.shape[0] == 2 else d.iloc[1:]
    return dict(zip(d[0].astype(int), d[1]))


def profile_of(name):
    for profile, names in PROFILE_DEPARTMENTS:
        if name in names:
            return profile
    return "Mixed / Other" if name is not None else "Unknown"


def findings(data_dir):
    """The three findings from the CSVs: (Tier 1 revenue $ by age group, mean spend $ by region x
    income group, revenue share % by region x department id), over the customers that are not
    low-activity and have a customers.csv row, as SPEC §4 says."""
    per = oracle(data_dir).set_index("user_id")
    cust = pd.read_csv(f"{data_dir}/customers.csv")
    state_region = {s: r for r, states in REGION_STATES.items() for s in states}
    cust["region"] = cust["STATE"].map(state_region)
    cust["age_group"] = pd.cut(cust["Age"], [-1, 35, 55, 10**9], labels=["18-35", "36-55", "56+"]).astype(str)
    cust["income_group"] = pd.cut(cust["income"], [-1, 60000, 120000, 10**12], labels=["Low", "Middle", "High"]).astype(str)
    cust["family"] = (cust["n_dependants"] > 0).map({True: "Family", False: "Single"})
    cust = cust.drop_duplicates("user_id", keep="last").set_index("user_id")
    ok = per.index[per["low_activity"] == 0].intersection(cust.index[cust["region"].notna()])
    groups = cust.loc[ok]
    spend = per.loc[ok, "spend_cents"]
    mean = spend.groupby([groups["region"], groups["income_group"]]).mean().unstack() / 100

    names = load_departments(f"{data_dir}/departments.csv")
    orders = load_orders(f"{data_dir}/orders.csv")
    lines = load_lines(f"{data_dir}/order_products__prior.csv")
    products = load_products(f"{data_dir}/products.csv")
    m = lines.merge(orders, on="order_id").merge(products, on="product_id", how="left")
    m = m[m["user_id"].isin(ok) & m["cents"].notna()].join(groups, on="user_id")
    m["profile"] = m["department_id"].map(names).map(profile_of)
    persona = m.groupby(["age_group", "family", "income_group", "profile"])["cents"].sum().astype("int64")
    persona = persona.sort_values(ascending=False, kind="stable")
    total, cum, tier1 = int(persona.sum()), 0, {}
    for key, cents in persona.items():
        cum += int(cents)
        if cum * 2 <= total:  # cumulative share including the persona <= 50%: Tier 1 Core
            tier1[key[0]] = tier1.get(key[0], 0) + int(cents)
    by_age = {a: tier1.get(a, 0) / 100 for a in ["18-35", "36-55", "56+"]}
    mix = m.groupby(["region", "department_id"])["cents"].sum().unstack(fill_value=0)
    share = mix.div(mix.sum(axis=1), axis=0) * 100
    return by_age, mean, share


def compare_findings(data_dir, path):
    import json
    import math
    got = json.load(open(path))
    by_age, mean, share = findings(data_dir)
    problems = []

    def same(a, b):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return a is None
        return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)

    for age, v in by_age.items():
        if not same(got["tier1_revenue_by_age"].get(age), v):
            problems.append(f"Tier 1 revenue of {age}: chart {got['tier1_revenue_by_age'].get(age)}, oracle {v}")
    for region, row in got["spending_by_income_region"].items():
        for income, v in row.items():
            want = mean.loc[region, income] if region in mean.index and income in mean.columns else None
            if not same(v, None if want is None or pd.isna(want) else float(want)):
                problems.append(f"mean spend of {region}/{income}: chart {v}, oracle {want}")
    for region, row in got["region_department_mix"].items():
        for dept, v in row.items():
            want = share.loc[region, int(dept)] if region in share.index and int(dept) in share.columns else 0.0
            if not same(v, float(want)):
                problems.append(f"share of department {dept} in {region}: chart {v}, oracle {want}")
    n = len(by_age) + sum(len(r) for r in got["spending_by_income_region"].values()) + \
        sum(len(r) for r in got["region_department_mix"].values())
    print(f"oracle: {n} numbers of the three findings' charts compared")
    for p in problems[:20]:
        print("oracle: DIFFERENCE " + p)
    return 1 if problems or n < 3 + 12 + 4 * 21 else 0


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "--findings":
        return compare_findings(sys.argv[1], sys.argv[3])
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    expected = oracle(sys.argv[1])
    if sys.argv[2] == "--print":
        expected.to_csv(sys.stdout, index=False)
        return 0
    return compare(expected, sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
