#!/usr/bin/env python3
"""Checks a generated data set against the real data's numbers (SPEC §5), within stated
tolerances:  check_gen_stats.py DATA_DIR USERS"""
import sys
from decimal import Decimal

import pandas as pd

data, users = sys.argv[1], int(sys.argv[2])
failures = []


def check(name, ok, got):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {got}")
    if not ok:
        failures.append(name)


orders = pd.read_csv(f"{data}/orders.csv")
prior = pd.read_csv(f"{data}/order_products__prior.csv")
products = pd.read_csv(f"{data}/products.csv", dtype={"prices": str}).drop_duplicates("product_id", keep="last")
customers = pd.read_csv(f"{data}/customers.csv")

per_user = orders.groupby("user_id").size()
check("users", per_user.size == users, per_user.size)
check("orders per user in 4..100", per_user.min() >= 4 and per_user.max() <= 100, (per_user.min(), per_user.max()))
check("mean orders per user 16.59 +- 1.0", abs(per_user.mean() - 16.59) <= 1.0, round(per_user.mean(), 2))
last = orders.sort_values("order_number").groupby("user_id").tail(1)
check("each user's last order is train or test", set(last["eval_set"]) <= {"train", "test"}, set(last["eval_set"]))
check("train share of last orders 0.636 +- 0.02", abs((last["eval_set"] == "train").mean() - 0.636) <= 0.02,
      round((last["eval_set"] == "train").mean(), 3))

basket = prior.groupby("order_id").size()
check("basket mean 10.09 +- 0.5", abs(basket.mean() - 10.09) <= 0.5, round(basket.mean(), 2))
check("basket mode 5 +- 1", abs(int(basket.mode().iloc[0]) - 5) <= 1, int(basket.mode().iloc[0]))
check("basket min 1, max <= 145", basket.min() == 1 and basket.max() <= 145, (basket.min(), basket.max()))
check("reorder rate 0.5897 +- 0.03", abs(prior["reordered"].mean() - 0.5897) <= 0.03, round(prior["reordered"].mean(), 4))

days = orders["days_since_prior_order"].dropna()
check("days mean 11.11 +- 0.7", abs(days.mean() - 11.11) <= 0.7, round(days.mean(), 2))
check("days median 7", days.median() == 7, days.median())
top2 = set(days.value_counts().index[:2].astype(int))
check("days peaks at 30 (the cap) and 7", top2 == {30, 7}, top2)
check("first orders have no days", orders.loc[orders["order_number"] == 1, "days_since_prior_order"].isna().all(), "")

dow = orders["order_dow"].value_counts()
check("dow 0 and 1 busiest", set(dow.index[:2]) == {0, 1}, list(dow.index))
check("dow 3 and 4 among the 3 slowest", {3, 4} <= set(dow.index[-3:]), list(dow.index[-3:]))
hour = orders["order_hour_of_day"].value_counts()
check("busiest hour in 9..16", 9 <= hour.index[0] <= 16, hour.index[0])
check("quietest hour in 0..6", hour.index[-1] <= 6, hour.index[-1])

shares = {"produce": 29.3, "dairy eggs": 16.7, "snacks": 8.9, "beverages": 8.3, "frozen": 6.9, "pantry": 5.8,
          "bakery": 3.6, "canned goods": 3.3, "deli": 3.2, "dry goods pasta": 2.7, "household": 2.3}
dept_names = pd.read_csv(f"{data}/departments.csv", header=None).T.iloc[1:]
dept_names = dict(zip(dept_names[0].astype(int), dept_names[1]))
lines = prior.merge(products[["product_id", "department_id", "prices"]], on="product_id", how="left")
got = lines["department_id"].map(dept_names).value_counts(normalize=True) * 100
for name, want in shares.items():
    check(f"department share {name} {want}% +- 1.5", abs(got.get(name, 0) - want) <= 1.5, round(got.get(name, 0), 2))


def price(text):
    try:
        d = Decimal(text)
    except Exception:
        return None
    return float(d) if 0 < d <= 100 else None


prices = lines["prices"].map(price, na_action="ignore").dropna()
check("line price mean 7.79 +- 0.6", abs(prices.mean() - 7.79) <= 0.6, round(prices.mean(), 2))

fam = customers["fam_status"].value_counts(normalize=True)
for name, want in {"married": 0.7027, "single": 0.1647, "divorced/widowed": 0.0855,
                   "living with parents and siblings": 0.0470}.items():
    check(f"fam_status {name} {want:.3f} +- 0.015", abs(fam.get(name, 0) - want) <= 0.015, round(fam.get(name, 0), 4))
alone = customers["fam_status"].isin(["single", "divorced/widowed"])
check("single and divorced/widowed have 0 dependants", (customers.loc[alone, "n_dependants"] == 0).all(), "")
check("others have 1..3", customers.loc[~alone, "n_dependants"].between(1, 3).all(), "")
check("income mean 94,633 +- 2,500", abs(customers["income"].mean() - 94633) <= 2500, round(customers["income"].mean()))
check("income within 25,903..593,901", customers["income"].between(25903, 593901).all(), "")
check("age 18..81", customers["Age"].between(18, 81).all(), (customers["Age"].min(), customers["Age"].max()))
check("51 states", customers["STATE"].nunique() == 51, customers["STATE"].nunique())
joined = pd.to_datetime(customers["date_joined"], format="%m/%d/%Y")
check("sorted by date_joined", joined.is_monotonic_increasing, "")
check("date_joined 2017-01-01..2020-04-01", joined.min() >= pd.Timestamp("2017-01-01") and
      joined.max() <= pd.Timestamp("2020-04-01"), (joined.min().date(), joined.max().date()))
check("First Name missing for ~5.5%", abs(customers["First Name"].isna().mean() - 0.0546) <= 0.01,
      round(customers["First Name"].isna().mean(), 4))

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
