#!/usr/bin/env python3
"""The chart set of a segstream snapshot, PNG and SVG (what `segstream report --charts` runs):

    charts.py SNAPSHOT_DIR OUT_DIR [DEPARTMENTS_CSV]

SNAPSHOT_DIR is a snapshots directory (the newest) or one snapshot's directory. Every number
comes from the snapshot: report.json for the aggregates, the customer rows for what needs a
customer at a time (age vs income, dependants, spend per customer). Titles say the finding,
axes their units; each chart is CHART.png and CHART.svg in OUT_DIR, and findings.json holds the
numbers the three findings' charts draw (tier1_revenue_by_age, spending_by_income_region,
region_department_mix) for checking against the pandas oracle. Customers of low activity and
without demographics are left out of the demographic charts, as in the report. Department names
come from DEPARTMENTS_CSV (long or transposed layout) when given, else their ids.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from segstream_snapshot import CATEGORY_ORDERS, load  # noqa: E402

AGES = CATEGORY_ORDERS["age_group"]
INCOMES = CATEGORY_ORDERS["income_group"]
REGIONS = CATEGORY_ORDERS["region"]
PROFILES = CATEGORY_ORDERS["primary_profile"]
TIER1 = "Tier 1 Core"
BLUE, ORANGE, GREY = "#2f6f9f", "#d9822b", "#9a9a9a"
DOLLARS = matplotlib.ticker.StrMethodFormatter("${x:,.2f}")


def department_names(departments_csv, n=21, report=None):
    """{id: name}: the snapshot report's names (the state's, from the reference data) where it has
    them, else departments.csv's (long or transposed layout), else the ids."""
    names = {i: f"dept {i}" for i in range(1, n + 1)}
    if departments_csv:
        d = pd.read_csv(departments_csv, header=None)
        d = d.T.iloc[1:] if d.shape[0] == 2 else d.iloc[1:]
        names.update(dict(zip(d[0].astype(int), d[1])))
    if report:
        names.update({i + 1: name for i, name in enumerate(report.get("department_names") or []) if name})
    return names


def source_text(snap):
    """What every chart names as its source: "snapshot 3, as of 2019-03-02" (the event-time watermark)."""
    return f"snapshot {snap.sequence}" + (f", as of {snap.as_of.isoformat()}" if getattr(snap, "as_of", None) else "")


class ChartSet:
    """Where the charts go: a directory, the footnote every chart carries (its source), the names written."""

    def __init__(self, directory, footnote=""):
        self.dir = directory
        self.footnote = footnote
        self.written = []

    def save(self, fig, name):
        fig.tight_layout()
        if self.footnote:
            fig.text(0.995, 0.005, self.footnote, ha="right", va="bottom", fontsize=7, color="#666666")
        for ext in ("png", "svg"):
            fig.savefig(os.path.join(self.dir, f"{name}.{ext}"), dpi=100)
        plt.close(fig)
        self.written.append(name)


def eligible(c):
    """Customers of the demographic reports: not low-activity, with demographics."""
    return c[(c.low_activity == 0) & c.region.notna()]


# ---- The three findings: their numbers, then their charts ----

def tier1_revenue_by_age(rep):
    """Revenue ($) of the Tier 1 Core personas by age group (persona names start with the age group)."""
    tier1 = [p for p in rep["personas"] if p["tier"] == TIER1]
    return {a: sum(p["revenue_cents"] for p in tier1 if p["name"].split(" | ")[0] == a) / 100 for a in AGES}


def spending_by_income_region(c):
    """Mean spend ($) per customer by region (rows) and income group (columns)."""
    e = eligible(c)
    mean = e.groupby(["region", "income_group"], observed=True).spend_cents.mean().unstack()
    return mean.reindex(index=REGIONS, columns=INCOMES) / 100


def region_department_mix(rep):
    """Each region's revenue share (%) per department id (columns 1..21)."""
    mix = pd.DataFrame({r: rep["region_department_cents"][r] for r in REGIONS}).T
    mix.columns = range(1, mix.shape[1] + 1)
    return mix.div(mix.sum(axis=1).replace(0, np.nan), axis=0) * 100


def plot_tier1_by_age(snap, dest, by_age=None):
    by_age = by_age or tier1_revenue_by_age(snap.report)
    top = max(by_age, key=by_age.get)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.bar(list(by_age), list(by_age.values()), color=[ORANGE if a == top else BLUE for a in by_age])
    ax.set_title(f"Tier 1 Core revenue comes most from the {top} group ({source_text(snap)})")
    ax.set_xlabel("age group (years)")
    ax.set_ylabel("revenue ($)")
    dest.save(fig, "tier1_revenue_by_age")


def plot_spending_by_income_region(snap, dest, mean=None):
    mean = spending_by_income_region(snap.customers) if mean is None else mean
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(REGIONS))
    for i, inc in enumerate(INCOMES):
        ax.bar(x + (i - 1) * 0.27, mean[inc].fillna(0), width=0.27, label=f"{inc} income")
    ax.set_xticks(x, REGIONS)
    ax.set_xlabel("census region")
    ax.set_ylabel("mean spend per customer ($)")
    spread = (mean.max(axis=1) - mean.min(axis=1)).max()
    ax.set_title(f"Income vs spend by region: income groups differ by at most ${spread:,.0f} per customer")
    ax.set_ylim(0, float(np.nanmax(mean.values)) * 1.25 if mean.notna().any().any() else 1)
    ax.legend(ncol=3, loc="upper center")
    dest.save(fig, "spending_by_income_region")


def plot_region_department_mix(snap, dest, names, share=None):
    share = region_department_mix(snap.report) if share is None else share
    fig, ax = plt.subplots(figsize=(12, 4))
    im = ax.imshow(share.fillna(0).values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(share.shape[1]), [names.get(i, str(i)) for i in share.columns], rotation=60, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(REGIONS)), REGIONS)
    lead = share.mean().idxmax()
    ax.set_title(f"Every region spends most on {names.get(lead, lead)}: share of each region's revenue per "
                 "department (%)")
    fig.colorbar(im, ax=ax, label="share of the region's revenue (%)")
    dest.save(fig, "region_department_mix")


def findings(snap, dest, names):
    """The three findings' charts, and their numbers in findings.json."""
    by_age = tier1_revenue_by_age(snap.report)
    mean = spending_by_income_region(snap.customers)
    share = region_department_mix(snap.report)
    plot_tier1_by_age(snap, dest, by_age)
    plot_spending_by_income_region(snap, dest, mean)
    plot_region_department_mix(snap, dest, names, share)
    numbers = {
        "sequence": snap.sequence,
        "tier1_revenue_by_age": by_age,
        "spending_by_income_region": {r: {i: (None if pd.isna(mean.loc[r, i]) else float(mean.loc[r, i]))
                                          for i in INCOMES} for r in REGIONS},
        "region_department_mix": {r: {str(d): (None if pd.isna(share.loc[r, d]) else float(share.loc[r, d]))
                                      for d in share.columns} for r in REGIONS},
        "department_names": {str(d): names.get(d, str(d)) for d in share.columns},  # as the heatmap shows them
    }
    with open(os.path.join(dest.dir, "findings.json"), "w") as f:
        json.dump(numbers, f, indent=1)


# ---- The rest of the set ----

def bars(dest, name, labels, values, title, xlabel, ylabel, horizontal=False, highlight=None, fmt=None):
    fig, ax = plt.subplots(figsize=(8, 4.5) if not horizontal else (8, max(3.5, 0.35 * len(labels) + 1.2)))
    colors = [ORANGE if highlight is not None and lab == highlight else BLUE for lab in labels]
    if horizontal:
        ax.barh(labels, values, color=colors)
        ax.invert_yaxis()
    else:
        ax.bar(labels, values, color=colors)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if fmt:
        (ax.xaxis if horizontal else ax.yaxis).set_major_formatter(fmt)
    dest.save(fig, name)


def time_charts(snap, dest):
    rep = snap.report
    for what, key, unit in (("dow", "day of week", "day of week (0-6)"), ("hour", "hour of day", "hour of day (0-23)")):
        orders = {int(k): v for k, v in rep[f"orders_by_{what}"].items()}
        lines = {int(k): v for k, v in rep[f"lines_by_{what}"].items()}
        busiest = max(orders, key=orders.get)
        bars(dest, f"orders_by_{what}", [str(k) for k in orders], list(orders.values()),
             f"Orders by {key}: the busiest is {busiest}", unit, "orders", highlight=str(busiest))
        cents = {int(k): v for k, v in rep[f"spend_cents_by_{what}"].items()}
        spend = {k: cents.get(k, 0) / 100 / orders[k] if orders[k] else 0 for k in orders}
        top = max(spend, key=spend.get)
        bars(dest, f"spend_by_{what}", [str(k) for k in spend], list(spend.values()),
             f"Mean spend per order by {key}: highest at {top} (${spend[top]:,.2f})", unit, "$ per order",
             highlight=str(top), fmt=DOLLARS)


def customer_charts(snap, dest):
    c = snap.customers
    e = eligible(c)
    if len(e):
        s = e.sample(n=min(2000, len(e)), random_state=1)
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.scatter(s.age, s.income / 1000, s=6, alpha=0.4, color=BLUE)
        r = np.corrcoef(e.age, e.income)[0, 1] if len(e) > 1 else float("nan")
        ax.set_title(f"Age vs income ({len(s)} sampled customers): correlation r = {r:.2f}")
        ax.set_xlabel("age (years)")
        ax.set_ylabel("income ($ thousand a year)")
        dest.save(fig, "age_vs_income")
        dep = e.groupby("age_group", observed=True).n_dependants.mean().reindex(AGES)
        bars(dest, "dependants_by_age", AGES, dep.fillna(0).values,
             f"Mean dependants by age group: most in {dep.idxmax()}", "age group (years)", "dependants per customer",
             highlight=dep.idxmax())
    mean_price = (c.spend_cents / c.priced_items.where(c.priced_items > 0) / 100).dropna()
    if len(mean_price):
        q1, q3 = mean_price.quantile([0.25, 0.75])
        hi = q3 + 1.5 * (q3 - q1)
        lo = q1 - 1.5 * (q3 - q1)
        outliers = mean_price[(mean_price > hi) | (mean_price < lo)]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.hist(mean_price, bins=50, color=BLUE)
        ax.axvline(10, color=ORANGE, label="High spender from $10.00")
        if len(outliers):
            ax.plot(outliers, np.zeros(len(outliers)), "|", color="red", markersize=14,
                    label=f"{len(outliers)} outliers (beyond 1.5 IQR)")
        ax.set_title(f"Mean line price per customer: median ${mean_price.median():.2f}")
        ax.set_xlabel("mean price of a customer's priced lines ($)")
        ax.set_ylabel("customers")
        ax.legend()
        dest.save(fig, "price_distribution")
    if len(e):
        m = e.groupby(["primary_profile", "family"], observed=True).spend_cents.mean().unstack() / 100
        m = m.reindex(index=[p for p in PROFILES if p in m.index], columns=["Family", "Single"])
        fig, ax = plt.subplots(figsize=(8, 4.5))
        y = np.arange(len(m))
        ax.hlines(y, m.min(axis=1), m.max(axis=1), color=GREY)
        ax.plot(m["Family"], y, "o", color=BLUE, label="Family")
        ax.plot(m["Single"], y, "o", color=ORANGE, label="Single")
        ax.set_yticks(y, m.index)
        gap = (m["Family"] - m["Single"]).abs()
        ax.set_title(f"Family vs single spend by profile: the widest gap is in {gap.idxmax()}"
                     if gap.notna().any() else "Family vs single spend by profile")
        ax.set_xlabel("mean spend per customer ($)")
        ax.set_ylabel("primary shopper profile")
        ax.legend()
        dest.save(fig, "family_vs_single_by_profile")


def group_charts(snap, dest, names):
    rep = snap.report
    loyalty = rep["loyalty"]
    bars(dest, "loyalty_distribution", list(loyalty), list(loyalty.values()),
         f"Loyalty: most customers are {max(loyalty, key=loyalty.get)}", "loyalty (max order number)", "customers",
         highlight=max(loyalty, key=loyalty.get))
    depts = sorted(rep["departments"], key=lambda d: -d["revenue_cents"])
    labels = [names.get(d["id"], d["name"]) for d in depts]
    bars(dest, "revenue_by_department", labels, [d["revenue_cents"] / 100 for d in depts],
         f"Revenue by department: {labels[0]} leads" if labels else "Revenue by department", "revenue ($)",
         "department", horizontal=True, highlight=labels[0] if labels else None)
    # concentration: revenue tiers over personas, and a Pareto of the departments
    personas = sorted(rep["personas"], key=lambda p: -p["revenue_cents"])
    total = sum(p["revenue_cents"] for p in personas) or 1
    tiers = {}
    for p in personas:
        tiers[p["tier"]] = tiers.get(p["tier"], 0) + p["revenue_cents"] / total * 100
    n1 = sum(1 for p in personas if p["tier"] == TIER1)
    bars(dest, "revenue_tiers", list(tiers), list(tiers.values()),
         f"Revenue concentration: {n1} of {len(personas)} personas make the Tier 1 half", "revenue tier",
         "share of revenue (%)", highlight=TIER1)
    if depts:
        cents = np.array([d["revenue_cents"] for d in depts], dtype=float)
        cum = np.cumsum(cents) / max(cents.sum(), 1) * 100
        fig, ax = plt.subplots(figsize=(10, 4.5))
        ax.bar(range(len(depts)), cents / 100, color=BLUE)
        ax.set_xticks(range(len(depts)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("revenue ($)")
        ax.set_xlabel("department")
        ax2 = ax.twinx()
        ax2.plot(range(len(depts)), cum, color=ORANGE, marker="o")
        ax2.set_ylabel("cumulative share (%)")
        ax2.set_ylim(0, 105)
        k80 = int(np.searchsorted(cum, 80) + 1)
        ax.set_title(f"Pareto of departments: {k80} of {len(depts)} make 80% of revenue, the rest are add-ons")
        dest.save(fig, "department_pareto")
    for key, name, unit in (("family_groups", "family_vs_single", "family"),
                            ("income_groups", "income_groups", "income group"),
                            ("regions", "regional_concentration", "census region")):
        groups = rep[key]
        per = {g["name"]: g["revenue_cents"] / 100 / g["customers"] if g["customers"] else 0 for g in groups}
        share = {g["name"]: g["revenue_cents"] / max(sum(x["revenue_cents"] for x in groups), 1) * 100
                 for g in groups}
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        axes[0].bar(list(share), list(share.values()), color=BLUE)
        axes[0].set_ylabel("share of revenue (%)")
        axes[0].set_xlabel(unit)
        axes[1].bar(list(per), list(per.values()), color=ORANGE)
        axes[1].set_ylabel("revenue per customer ($)")
        axes[1].set_xlabel(unit)
        top = max(share, key=share.get) if share else "-"
        fig.suptitle(f"{unit.capitalize()}: {top} brings the most revenue ({share.get(top, 0):.0f}%)")
        dest.save(fig, name)
    prof = [p for p in rep["profiles"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    axes[0].barh([p["name"] for p in prof], [p["items"] for p in prof], color=BLUE)
    axes[0].set_xlabel("items (lines)")
    axes[0].invert_yaxis()
    axes[1].barh([p["name"] for p in prof], [p["revenue_cents"] / 100 for p in prof], color=ORANGE)
    axes[1].set_xlabel("revenue ($)")
    axes[1].invert_yaxis()
    top = max(prof, key=lambda p: p["revenue_cents"])["name"] if prof else "-"
    fig.suptitle(f"Shopper profiles: {top} leads in items and revenue")
    dest.save(fig, "shopper_profiles")
    top15 = personas[:15]
    if top15:
        eff = [p["efficiency"] or 0 for p in top15]
        best = top15[int(np.argmax(eff))]["name"]
        bars(dest, "persona_efficiency", [p["name"] for p in top15], eff,
             f"Revenue efficiency of the top 15 personas: {best} earns most per item",
             "efficiency index (revenue share / item share)", "persona", horizontal=True, highlight=best)


def loyalty_department_chart(snap, dest, names):
    """The departments whose share of items differs most between loyal and regular customers."""
    items = snap.report.get("loyalty_department_items")
    if not items:
        return
    loyal, regular = np.array(items["Loyal customer"], float), np.array(items["Regular customer"], float)
    if loyal.sum() == 0 or regular.sum() == 0:
        return
    diff = pd.Series((loyal / loyal.sum() - regular / regular.sum()) * 100,
                     index=[names.get(i + 1, str(i + 1)) for i in range(len(loyal))]).sort_values()
    pick = pd.concat([diff.head(5), diff.tail(5)]) if len(diff) > 10 else diff
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.barh(pick.index, pick.values, color=[ORANGE if v > 0 else BLUE for v in pick.values])
    ax.axvline(0, color=GREY)
    ax.set_title(f"Loyal customers buy relatively more {pick.index[-1]}, less {pick.index[0]} than regular ones")
    ax.set_xlabel("loyal minus regular share of items (percentage points)")
    ax.set_ylabel("department (top and bottom five)")
    dest.save(fig, "loyal_vs_regular_departments")


def cluster_charts(snap, dest):
    cl = snap.report.get("clusters", {})
    clusters = cl.get("clusters", [])
    if not clusters:
        return
    c = snap.customers
    inc = c[c.cluster >= 0]
    s = inc.sample(n=min(3000, len(inc)), random_state=1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for k in clusters:
        mine = s[s.cluster == k["cluster"]]
        axes[0].scatter(mine.basket_size, mine.order_rate, s=6, alpha=0.5, label=f"{k['cluster']}: {k['name']}")
    axes[0].set_xlabel("basket size (lines per order)")
    axes[0].set_ylabel("order rate (orders per 30 days)")
    axes[0].legend(fontsize=7, markerscale=2)
    axes[1].barh([f"{k['cluster']}: {k['name']}" for k in clusters], [k["customers"] for k in clusters], color=BLUE)
    axes[1].set_xlabel("customers")
    axes[1].invert_yaxis()
    big = max(clusters, key=lambda k: k["customers"])
    fig.suptitle(f"{len(clusters)} behavioural clusters: the largest is \"{big['name']}\" ({big['customers']} customers)")
    dest.save(fig, "clusters")


def main(snapdir, out, departments_csv=None):
    snap = load(snapdir)
    os.makedirs(out, exist_ok=True)
    names = department_names(departments_csv, report=snap.report)
    dest = ChartSet(out, source_text(snap))
    findings(snap, dest, names)
    time_charts(snap, dest)
    customer_charts(snap, dest)
    group_charts(snap, dest, names)
    loyalty_department_chart(snap, dest, names)
    cluster_charts(snap, dest)
    print(f"charts: {len(dest.written)} charts (PNG and SVG) of {source_text(snap)} in {out}")

if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
