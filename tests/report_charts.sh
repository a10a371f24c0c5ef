#!/usr/bin/env bash
# segstream report --charts: the chart set of a snapshot (tools/python/charts.py, run with the
# project's .venv python) is a valid PNG and SVG of sensible size for every chart, and the
# numbers the three findings' charts draw (Tier 1 revenue by age group, income vs spend by
# region, region x department mix) equal the pandas oracle's on the same data; report.json's
# items per department by loyalty (the loyal vs regular chart's table) add up to the departments'.
#   report_charts.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 1500 --seed 6 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 2 > /dev/null 2>&1
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" report "$tmp/snaps" --charts "$tmp/charts" | grep -q "charts of snapshot 1"
"$py" "$repo/tests/oracle.py" "$tmp/data" --findings "$tmp/charts/findings.json"
"$py" - "$tmp/charts" "$tmp/snaps/0000000001/report.json" <<'PY'
import json
import os
import sys
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg

out = sys.argv[1]
CHARTS = ["tier1_revenue_by_age", "spending_by_income_region", "region_department_mix", "orders_by_dow",
          "orders_by_hour", "spend_by_dow", "spend_by_hour", "age_vs_income", "dependants_by_age",
          "price_distribution", "family_vs_single_by_profile", "loyalty_distribution", "revenue_by_department",
          "revenue_tiers", "department_pareto", "family_vs_single", "income_groups", "regional_concentration",
          "shopper_profiles", "persona_efficiency", "loyal_vs_regular_departments", "clusters"]
for name in CHARTS:
    png = f"{out}/{name}.png"
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name}.png is not a PNG"
    img = mpimg.imread(png)
    assert 300 <= img.shape[0] <= 2000 and 500 <= img.shape[1] <= 2000, (name, img.shape)
    assert img[..., :3].std() > 0.05, f"{name}.png looks blank"
    svg = f"{out}/{name}.svg"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg"), (name, root.tag)
    width = float(root.get("width").rstrip("pt"))
    assert 300 <= width <= 1500 and 5000 < os.path.getsize(svg) < 5_000_000, (name, width, os.path.getsize(svg))
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 5, f"{name}.svg draws nothing"
extra = {f.rsplit(".", 1)[0] for f in os.listdir(out)} - set(CHARTS) - {"findings"}
assert not extra, f"charts the test does not know: {extra}"
# the loyal vs regular chart's table: items per department by loyalty add up to the departments'
rep = json.load(open(sys.argv[2]))
by_loyalty = rep["loyalty_department_items"]
assert list(by_loyalty) == list(rep["loyalty"]), list(by_loyalty)
for dept in rep["departments"]:
    assert sum(v[dept["id"] - 1] for v in by_loyalty.values()) == dept["items"], dept
for name, v in by_loyalty.items():
    assert 0 < sum(v) <= rep["loyalty_lines"][name], (name, sum(v), rep["loyalty_lines"][name])
print(f"charts: {len(CHARTS)} charts, each a valid PNG and SVG of sensible size")
PY
