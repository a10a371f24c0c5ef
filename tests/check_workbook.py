"""The stakeholder workbook against its snapshot: every sheet's numbers equal report.json's (and
the manifest's), numbers are numbers with currency / percent formats, each question's sheet
has its native charts, header rows are frozen and columns fitted.
    check_workbook.py WORKBOOK.xlsx SNAPSHOT_DIR/NNNNNNNNNN"""
import datetime
import json
import math
import sys

import openpyxl

book, snap = sys.argv[1], sys.argv[2]
rep = json.load(open(f"{snap}/report.json"))
man = json.load(open(f"{snap}/manifest.json"))
wb = openpyxl.load_workbook(book)
checked = 0


def close(a, b, rel=1e-12):
    global checked
    checked += 1
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return a is not None and math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def money(a, cents):
    global checked
    checked += 1
    return a is not None and abs(a * 100 - cents) < 1e-6 * max(1, abs(cents))


def table(ws, col, key_col=0):
    """The table whose header is in row 1 from column col (1-based) on: {key: {head: value}}."""
    heads = []
    c = col
    while ws.cell(1, c).value is not None:
        heads.append(ws.cell(1, c).value)
        c += 1
    rows = {}
    r = 2
    while ws.cell(r, col).value is not None:
        vals = [ws.cell(r, col + i).value for i in range(len(heads))]
        rows[vals[key_col]] = dict(zip(heads, vals))
        r += 1
    return rows, heads


def fmt(ws, col, row=2):
    return ws.cell(row, col).number_format


EXPECTED = ["Cover", "Labels", "Days and hours", "Regions", "Age income family", "Departments", "Shopper profiles",
            "Personas", "Revenue concentration", "Value drivers", "Clusters"]
assert wb.sheetnames == EXPECTED, wb.sheetnames
for ws in wb.worksheets:
    assert ws.freeze_panes == "A2", (ws.title, ws.freeze_panes)
    if ws.title != "Cover":
        assert len(ws._charts) >= 2, (ws.title, len(ws._charts))
    for c in range(1, ws.max_column + 1):  # fitted: every used column wider than its header
        head = ws.cell(1, c).value
        if isinstance(head, str) and c > 0:
            width = ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width
            assert width >= min(len(head), 58), (ws.title, head, width)

# Cover
ws = wb["Cover"]
cover = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 13)}
assert cover["Sequence"] == man["sequence"]
t = cover["Time (UTC)"].replace(tzinfo=datetime.timezone.utc).timestamp()
assert abs(t - man["created_unix"]) < 1, (t, man["created_unix"])
for label, key in [("Customers", "customers"), ("Orders", "orders"), ("Lines", "items"),
                   ("Priced lines", "priced_items"), ("Reordered lines", "reorders"),
                   ("Low-activity customers", "low_activity"), ("Customers with demographics", "with_demographics")]:
    assert cover[label] == rep[key], (label, cover[label], rep[key])
assert money(cover["Spend"], rep["spend_cents"])
spend_row = [ws.cell(r, 1).value for r in range(1, 13)].index("Spend") + 1
assert "$" in ws.cell(spend_row, 2).number_format, ws.cell(spend_row, 2).number_format
offsets = [(ws.cell(r, 1).value, ws.cell(r, 2).value, ws.cell(r, 3).value) for r in range(15, 15 + len(man["source_offsets"]))]
assert offsets == [(o["topic"], o["partition"], o["next"]) for o in man["source_offsets"]], offsets

# Labels
ws = wb["Labels"]
for col, key in [(1, "loyalty"), (5, "spending"), (9, "frequency")]:
    rows, _ = table(ws, col)
    assert {k: v["Customers"] for k, v in rows.items()} == rep[key], (key, rows)
    total = sum(rep[key].values())
    for k, v in rows.items():
        assert close(v["Share"], rep[key][k] / total)
    assert "%" in fmt(ws, col + 2)

# Days and hours
ws = wb["Days and hours"]
assert len(ws._charts) == 4, len(ws._charts)  # orders and mean spend per order, by day and by hour
for col, what in [(1, "dow"), (9, "hour")]:
    rows, _ = table(ws, col)
    assert {str(k): v["Orders"] for k, v in rows.items()} == rep[f"orders_by_{what}"]
    assert {str(k): v["Lines"] for k, v in rows.items()} == rep[f"lines_by_{what}"]
    total = sum(rep[f"orders_by_{what}"].values())
    for k, v in rows.items():
        n, cents = rep[f"orders_by_{what}"][str(k)], rep[f"spend_cents_by_{what}"][str(k)]
        assert close(v["Share of orders"], n / total)
        assert money(v["Spend"], cents), (what, k, v)
        assert close(v["Spend per order"], cents / 100 / n if n else None), (what, k, v)
    assert "$" in fmt(ws, col + 3) and "$" in fmt(ws, col + 6), (fmt(ws, col + 3), fmt(ws, col + 6))


def check_groups(ws, col, groups, with_customers, with_tier, key="name"):
    rows, heads = table(ws, col)
    assert len(rows) == len(groups), (ws.title, col, len(rows), len(groups))
    total = sum(g["revenue_cents"] for g in groups)
    for g in groups:
        row = rows[g[key]]
        assert row["Items"] == g["items"], (g, row)
        assert money(row["Revenue"], g["revenue_cents"]), (g, row)
        assert close(row["Revenue share"], g["revenue_cents"] / total if total else None)
        assert close(row["Efficiency index"], g["efficiency"]), (g, row)
        if with_customers:
            assert row["Customers"] == g["customers"]
        if with_tier:
            assert row["Revenue tier"] == g["tier"]
    i = heads.index("Revenue")
    assert "$" in fmt(ws, col + i) and "%" in fmt(ws, col + i + 1), (ws.title, fmt(ws, col + i))
    return rows


check_groups(wb["Regions"], 1, rep["regions"], True, False)
for col, key in [(1, "age_groups"), (8, "income_groups"), (15, "family_groups")]:
    check_groups(wb["Age income family"], col, rep[key], True, False)

# Departments: overall by name, then the revenue by region (by id) and each region's mix
ws = wb["Departments"]
depts = rep["departments"]
rows, _ = table(ws, 1)
items = sum(d["items"] for d in depts)
for d in depts:
    row = rows[d["name"]]
    assert row["Items"] == d["items"] and money(row["Revenue"], d["revenue_cents"])
    assert close(row["Item share"], d["items"] / items)
rows, heads = table(ws, 8)
for i, name in enumerate(rep["department_names"]):
    assert rows[i + 1]["Department"] == (name if name is not None else str(i + 1)), (i, rows[i + 1], name)
for region, cents in rep["region_department_cents"].items():
    total = sum(cents)
    for i, c in enumerate(cents):
        assert money(rows[i + 1][region], c), (region, i, rows[i + 1][region], c)
        assert close(rows[i + 1][f"{region} share"], c / total if total else None)
assert ws.conditional_formatting, "the region mix has no heat map"

rows = check_groups(wb["Shopper profiles"], 1, rep["profiles"], False, True)
ws = wb["Shopper profiles"]
for r in range(2, 2 + len(rows)):
    assert ws.cell(r, 8).value == rep["primary_profile_customers"][ws.cell(r, 1).value]

ws = wb["Personas"]
check_groups(ws, 1, rep["personas"], False, True)
revenue = [ws.cell(r, 3).value for r in range(2, 2 + len(rep["personas"]))]
assert revenue == sorted(revenue, reverse=True), "personas are not by revenue"

ws = wb["Revenue concentration"]
for col, groups in [(1, rep["personas"]), (6, rep["profiles"])]:
    rows, heads = table(ws, col)
    total = sum(g["revenue_cents"] for g in groups)
    for tier, row in rows.items():
        mine = [g for g in groups if g["tier"] == tier]
        assert row[heads[1]] == len(mine) and money(row["Revenue"], sum(g["revenue_cents"] for g in mine))
        assert close(row["Revenue share"], sum(g["revenue_cents"] for g in mine) / total)
    assert sum(r[heads[1]] for r in rows.values()) == len(groups)

ws = wb["Value drivers"]
rows, _ = table(ws, 1)
assert set(rows) == set(rep["value_drivers"])
for name, d in rep["value_drivers"].items():
    row = rows[name]
    assert row["Customers"] == d["customers"] and close(row["Pearson r with spend"], d["pearson_with_value"])
    for q in range(5):
        v = d["mean_value_cents_by_quintile"][q]
        assert (row[f"Q{q + 1} mean spend"] is None) if v is None else money(row[f"Q{q + 1} mean spend"], v)

ws = wb["Clusters"]
rows, _ = table(ws, 1)
cl = rep["clusters"]
assert len(rows) == cl["k"] == len(cl["clusters"]) > 0
for c in cl["clusters"]:
    row = rows[c["cluster"]]
    assert row["Name"] == c["name"] and row["Customers"] == c["customers"]
    assert money(row["Spend"], c["spend_cents"]) and close(row["Share of clustered"], c["customers"] / cl["customers"])
    assert close(row["Basket size"], c["centre"]["basket_size"]) and close(row["Order rate (per 30 days)"],
                                                                            c["centre"]["order_rate"])
    assert close(row["Reorder rate"], c["centre"]["reorder_rate"])
    assert close(row["Typical spend (centre)"], c["centre"]["spend_dollars"])
charts = sum(len(ws._charts) for ws in wb.worksheets)
print(f"workbook: {len(wb.sheetnames)} sheets, {checked} numbers equal report.json, {charts} charts")
