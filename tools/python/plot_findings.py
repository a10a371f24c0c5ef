#!/usr/bin/env python3
"""The seed analysis' three findings as PNG (and SVG), from a segstream snapshot (no notebook
needed); the drawing is charts.py's (the whole chart set: `segstream report --charts`):

    plot_findings.py SNAPSHOT_DIR [DEPARTMENTS_CSV] OUT_DIR

  tier1_revenue_by_age.png       revenue of the Tier 1 Core personas, by age group
  spending_by_income_region.png  mean spend per customer by income group, per region
  region_department_mix.png      each region's revenue share per department (heatmap)
Departments are named as the snapshot's report names them (the names the state holds, from
departments.csv through the reference data); DEPARTMENTS_CSV names those a snapshot carries no
names for (older snapshots). Customers of low activity and without demographics are left out, as
in the report. Each chart names its snapshot and the day its data is "as of" (the event-time
watermark) in a footnote.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import charts  # noqa: E402
from segstream_snapshot import load  # noqa: E402


def main(snapdir, departments_csv, out):
    snap = load(snapdir)
    os.makedirs(out, exist_ok=True)
    dest = charts.ChartSet(out, charts.source_text(snap))
    charts.findings(snap, dest, charts.department_names(departments_csv, report=snap.report))
    print(f"plots of {charts.source_text(snap)} in {out}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 4 else None, sys.argv[-1])
