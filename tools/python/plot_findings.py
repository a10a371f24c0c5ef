#!/usr/bin/env python3
"""The seed analysis' three findings as PNG (and SVG), from a segstream snapshot (no notebook
needed); the drawing is charts.py's (the whole chart set: `segstream report --charts`):

    plot_findings.py SNAPSHOT_DIR DEPARTMENTS_CSV OUT_DIR

  tier1_revenue_by_age           revenue of the Tier 1 Core personas, by age group
  spending_by_income_region      mean spend per customer by income group, per region
  region_department_mix          each region's revenue share per department (heatmap)
Customers of low activity and without demographics are left out, as in the report.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import charts  # noqa: E402
from segstream_snapshot import load  # noqa: E402


def main(snapdir, departments_csv, out):
    snap = load(snapdir)
    os.makedirs(out, exist_ok=True)
    charts.findings(snap, out, charts.department_names(departments_csv), [])
    print(f"plots of snapshot {snap.sequence} in {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
