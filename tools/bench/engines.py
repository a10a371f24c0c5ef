#!/usr/bin/env python3
"""The peers segstream is measured against, each computing the per-customer table of SPEC §3-§4
from the same files, the way an analyst would without segstream:

    engines.py pandas DATA_DIR OUT_CSV   the seed notebook's method: read the CSVs, merge, group
                                         by customer, label
    engines.py duckdb DATA_DIR OUT_CSV   the same result as one DuckDB SQL query

Both write one row per customer with the columns in COLUMNS (the names of `segstream dump`), so
tools/bench/onerun.py can check every engine agrees on every customer. Generated data is clean:
these read typed columns the fast way, as the notebook does (tests/oracle.py is the slow,
validating oracle for dirty files). Prices become integer cents from their decimal text
(SPEC §3: never through a binary float), the last row of a duplicated product id wins.
"""
import os
import sys
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

THRESHOLDS = dict(loyal_above=40, regular_above=10, high_spender_cents=1000, nonfrequent_above=20,
                  regular_freq_above=10, low_activity_below=5)

COLUMNS = ["user_id", "orders", "max_order", "items", "priced_items", "spend_cents", "reorders", "median_days",
           "loyalty", "spending", "frequency", "low_activity", "region", "age_group", "income_group", "family",
           "basket_size", "order_rate", "reorder_rate"]

# SPEC §4's census regions by the full state names customers.csv carries: the oracle's table,
# written once for every Python engine.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from oracle import REGION_STATES as REGIONS  # noqa: E402
STATE_REGION = {state: region for region, states in REGIONS.items() for state in states}


def price_cents(text):
    try:
        d = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    if not (0 < d <= 100):
        return None
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def run_pandas(data_dir):
    import pandas as pd
    t = THRESHOLDS
    orders = pd.read_csv(f"{data_dir}/orders.csv",
                         usecols=["order_id", "user_id", "order_number", "days_since_prior_order"])
    lines = pd.read_csv(f"{data_dir}/order_products__prior.csv", usecols=["order_id", "product_id", "reordered"])
    products = pd.read_csv(f"{data_dir}/products.csv", usecols=["product_id", "prices"], dtype={"prices": str},
                           keep_default_na=False)
    products = products.drop_duplicates("product_id", keep="last")
    products["cents"] = products["prices"].map(price_cents).astype("Float64")
    customers = pd.read_csv(f"{data_dir}/customers.csv", usecols=["user_id", "STATE", "Age", "n_dependants", "income"])

    m = lines.merge(orders, on="order_id").merge(products[["product_id", "cents"]], on="product_id", how="left")
    g = m.groupby("user_id")
    out = pd.DataFrame({
        "orders": g["order_id"].nunique(),
        "max_order": g["order_number"].max(),
        "items": g.size(),
        "priced_items": g["cents"].count(),
        "spend_cents": g["cents"].sum().astype("int64"),
        "reorders": g["reordered"].sum(),
        "median_days": g["days_since_prior_order"].median(),
    })
    span = m.drop_duplicates("order_id").groupby("user_id")["days_since_prior_order"].sum()
    out["loyalty"] = "New customer"
    out.loc[out["max_order"] > t["regular_above"], "loyalty"] = "Regular customer"
    out.loc[out["max_order"] > t["loyal_above"], "loyalty"] = "Loyal customer"
    out["spending"] = "unknown"
    priced = out["priced_items"] > 0
    high = out["spend_cents"] >= t["high_spender_cents"] * out["priced_items"]
    out.loc[priced & high, "spending"] = "High spender"
    out.loc[priced & ~high, "spending"] = "Low spender"
    out["frequency"] = "unknown"
    md = out["median_days"]
    out.loc[md <= t["regular_freq_above"], "frequency"] = "Frequent customer"
    out.loc[md > t["regular_freq_above"], "frequency"] = "Regular customer"
    out.loc[md > t["nonfrequent_above"], "frequency"] = "Non-frequent customer"
    out["low_activity"] = (out["max_order"] < t["low_activity_below"]).astype(int)
    out["basket_size"] = out["items"] / out["orders"]
    span = span.reindex(out.index)
    out["order_rate"] = ((out["orders"] - 1) * 30 / span).where(span > 0)
    out["reorder_rate"] = out["reorders"] / out["items"]
    out = out.reset_index().merge(customers, on="user_id", how="left")
    out["region"] = out["STATE"].map(STATE_REGION)
    out["age_group"] = pd.cut(out["Age"], [0, 35, 55, 200], labels=["18-35", "36-55", "56+"]).astype(str)
    out["income_group"] = pd.cut(out["income"], [-1, 60000, 120000, float("inf")],
                                 labels=["Low", "Middle", "High"]).astype(str)
    out["family"] = out["n_dependants"].map(lambda n: "Family" if n > 0 else "Single")
    return out[COLUMNS]


DUCKDB_QUERY = """
WITH products AS (
    SELECT product_id,
           CASE WHEN TRY_CAST(prices AS DECIMAL(18, 3)) > 0 AND TRY_CAST(prices AS DECIMAL(18, 3)) <= 100
                THEN CAST(round(TRY_CAST(prices AS DECIMAL(18, 3)) * 100) AS BIGINT) END AS cents
    FROM (SELECT product_id, prices, row_number() OVER () AS row_in_file
          FROM read_csv('{d}/products.csv', header = true, all_varchar = true))
    QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY row_in_file DESC) = 1
),
lines AS (
    SELECT o.user_id, o.order_id, o.order_number, o.days_since_prior_order AS days, l.reordered, p.cents
    FROM read_csv('{d}/order_products__prior.csv', header = true,
                  columns = {{'order_id': 'BIGINT', 'product_id': 'VARCHAR', 'add_to_cart_order': 'INTEGER',
                             'reordered': 'INTEGER'}}) l
    JOIN read_csv('{d}/orders.csv', header = true,
                  columns = {{'order_id': 'BIGINT', 'user_id': 'BIGINT', 'eval_set': 'VARCHAR',
                             'order_number': 'INTEGER', 'order_dow': 'INTEGER', 'order_hour_of_day': 'INTEGER',
                             'days_since_prior_order': 'DOUBLE'}}) o USING (order_id)
    LEFT JOIN products p ON p.product_id = l.product_id
),
per_order AS (
    SELECT user_id, sum(days) AS span FROM (SELECT DISTINCT user_id, order_id, days FROM lines) GROUP BY user_id
),
per_customer AS (
    SELECT user_id, count(DISTINCT order_id) AS orders, max(order_number) AS max_order, count(*) AS items,
           count(cents) AS priced_items, coalesce(sum(cents), 0) AS spend_cents, sum(reordered) AS reorders,
           median(days) AS median_days
    FROM lines GROUP BY user_id
),
region AS (
    SELECT * FROM (VALUES {regions}) AS r(state, region)
)
SELECT c.user_id, orders, max_order, items, priced_items, spend_cents, reorders, median_days,
       CASE WHEN max_order > {t[loyal_above]} THEN 'Loyal customer'
            WHEN max_order > {t[regular_above]} THEN 'Regular customer' ELSE 'New customer' END AS loyalty,
       CASE WHEN priced_items = 0 THEN 'unknown'
            WHEN spend_cents >= {t[high_spender_cents]} * priced_items THEN 'High spender'
            ELSE 'Low spender' END AS spending,
       CASE WHEN median_days IS NULL THEN 'unknown'
            WHEN median_days > {t[nonfrequent_above]} THEN 'Non-frequent customer'
            WHEN median_days > {t[regular_freq_above]} THEN 'Regular customer'
            ELSE 'Frequent customer' END AS frequency,
       CAST(max_order < {t[low_activity_below]} AS INTEGER) AS low_activity,
       r.region,
       CASE WHEN d.Age <= 35 THEN '18-35' WHEN d.Age <= 55 THEN '36-55' ELSE '56+' END AS age_group,
       CASE WHEN d.income <= 60000 THEN 'Low' WHEN d.income <= 120000 THEN 'Middle' ELSE 'High' END AS income_group,
       CASE WHEN d.n_dependants > 0 THEN 'Family' ELSE 'Single' END AS family,
       items / orders AS basket_size,
       CASE WHEN s.span > 0 THEN (orders - 1) * 30 / s.span END AS order_rate,
       reorders / items AS reorder_rate
FROM per_customer c
JOIN per_order s USING (user_id)
LEFT JOIN read_csv('{d}/customers.csv', header = true) d ON d.user_id = c.user_id
LEFT JOIN region r ON r.state = d.STATE
ORDER BY c.user_id
"""


def run_duckdb(data_dir):
    import duckdb
    regions = ", ".join(f"('{s}', '{r}')" for s, r in STATE_REGION.items())
    query = DUCKDB_QUERY.format(d=data_dir, t=THRESHOLDS, regions=regions)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")  # row_in_file above is the file's order
    return con.execute(query).df()[COLUMNS]


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("pandas", "duckdb"):
        print(__doc__, file=sys.stderr)
        return 2
    table = run_pandas(sys.argv[2]) if sys.argv[1] == "pandas" else run_duckdb(sys.argv[2])
    table.to_csv(sys.argv[3], index=False, float_format="%.17g")
    print(f"{sys.argv[1]}: {len(table)} customers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
