#!/usr/bin/env python3
"""The seed analysis' three findings as PNG, from a segstream snapshot (no notebook needed):

    plot_findings.py SNAPSHOT_DIR [DEPARTMENTS_CSV] OUT_DIR

  tier1_revenue_by_age.png       revenue of the Tier 1 Core personas, by age group
  spending_by_income_region.png  mean spend per customer by income group, per region
  region_department_mix.png      each region's revenue share per department (heatmap)
Departments are named as the snapshot's report names them (the names the state holds, from
departments.csv through the reference data); DEPARTMENTS_CSV names them instead for snapshots
that carry no names (older ones). Customers of low activity and without demographics are left out, as in the report. Each title
says which snapshot and the day its data is "as of" (the event-time watermark).
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from segstream_snapshot import load  # noqa: E402

AGES = ["18-35", "36-55", "56+"]
INCOMES = ["Low", "Middle", "High"]
REGIONS = ["Northeast", "Midwest", "South", "West"]


def department_names(rep, departments_csv):
    """{id: name}: the report's department_names, or the CSV (either layout) when given."""
    if departments_csv is None:
        return {i + 1: n for i, n in enumerate(rep.get("department_names") or []) if n}
    d = pd.read_csv(departments_csv, header=None)
    d = d.iloc[1:] if d.shape[1] == 2 else d.T.iloc[1:]  # long, or transposed
    return dict(zip(d[0].astype(int), d[1]))


def main(snapdir, departments_csv, out):
    snap = load(snapdir)
    os.makedirs(out, exist_ok=True)
    rep = snap.report
    # "snapshot 3, as of 2019-03-02": the sequence and the event-time watermark's day.
    when = f"snapshot {snap.sequence}" + (f", as of {snap.as_of.isoformat()}" if snap.as_of else "")
    tier1 = [p for p in rep["personas"] if p["tier"] == "Tier 1 Core"]
    by_age = {a: sum(p["revenue_cents"] for p in tier1 if p["name"].startswith(a + " ")) / 100 for a in AGES}
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(list(by_age), list(by_age.values()), color="#2f6f9f")
    ax.set_title(f"Tier 1 Core revenue by age group ({when})")
    ax.set_ylabel("revenue ($)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "tier1_revenue_by_age.png"), dpi=100)
    plt.close(fig)

    c = snap.customers
    c = c[(c.low_activity == 0) & c.region.notna()]
    mean = c.groupby(["region", "income_group"], observed=True).spend_cents.mean().unstack().reindex(index=REGIONS, columns=INCOMES) / 100
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(REGIONS))
    for i, inc in enumerate(INCOMES):
        ax.bar(x + (i - 1) * 0.27, mean[inc].fillna(0), width=0.27, label=f"{inc} income")
    ax.set_xticks(x, REGIONS)
    ax.set_ylabel("mean spend per customer ($)")
    ax.set_title(f"Income vs spending by region ({when})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "spending_by_income_region.png"), dpi=100)
    plt.close(fig)

    names = department_names(rep, departments_csv)
    mix = pd.DataFrame({r: rep["region_department_cents"][r] for r in REGIONS}).T
    mix.columns = [names.get(i + 1, str(i + 1)) for i in range(mix.shape[1])]
    share = mix.div(mix.sum(axis=1).replace(0, np.nan), axis=0) * 100
    fig, ax = plt.subplots(figsize=(12, 3.6))
    im = ax.imshow(share.fillna(0).values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(share.shape[1]), share.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(REGIONS)), REGIONS)
    ax.set_title(f"Revenue mix: share of each region's revenue per department (%) ({when})")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "region_department_mix.png"), dpi=100)
    plt.close(fig)
    print(f"plots of {when} in {out}")
    print(f"departments named by {departments_csv or 'the snapshot'}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 4 else None, sys.argv[-1])
