#!/usr/bin/env python3
"""Independent batch oracle: SPEC §3-§4 per customer with pandas, straight from the CSVs.

    oracle.py DATA_DIR DUMP_CSV     compares `segstream dump` output with the oracle, column by
                                    column; exit 1 and the first differences if any differ.
    oracle.py DATA_DIR --print      prints the oracle's table as CSV.

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


def main():
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
