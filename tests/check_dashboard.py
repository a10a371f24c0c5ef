"""The dashboard's rendered DOM (Chromium --dump-dom) against its snapshot: every number the page
shows (an element with data-key and data-value) equals what report.json and the manifest give,
its text shows the same number, and every number the test expects is on the page.
    check_dashboard.py DOM.html SNAPSHOT_DIR/NNNNNNNNNN"""
import html
import json
import math
import re
import sys
from html.parser import HTMLParser

dom, snap = sys.argv[1], sys.argv[2]
rep = json.load(open(f"{snap}/report.json"))
man = json.load(open(f"{snap}/manifest.json"))


class Numbers(HTMLParser):
    def __init__(self):
        super().__init__()
        self.shown, self.open, self.attrs = {}, None, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs.setdefault(tag, []).append(a)
        if "data-key" in a:
            self.open = (a["data-key"], a.get("data-value"))
            self.shown[self.open[0]] = [self.open[1], ""]

    def handle_data(self, data):
        if self.open:
            self.shown[self.open[0]][1] += data

    def handle_endtag(self, tag):
        self.open = None


p = Numbers()
p.feed(open(dom).read())
shown = p.shown
body = [a for a in p.attrs["body"]][0]
assert body.get("data-rendered") == str(man["sequence"]), body
source = [a for a in p.attrs["div"] if a.get("id") == "source"][0]
assert source.get("data-sequence") == str(man["sequence"]), source

expected = {"headline/customers": rep["customers"], "headline/orders": rep["orders"],
            "headline/items": rep["items"], "headline/spend_dollars": rep["spend_cents"] / 100,
            "headline/low_activity": rep["low_activity"]}
for key in ("loyalty", "spending", "frequency"):
    total = sum(rep[key].values())
    for name, n in rep[key].items():
        expected[f"{key}/{name}/customers"] = n
        expected[f"{key}/{name}/share"] = n / total
personas = rep["personas"]
total = sum(p["revenue_cents"] for p in personas)
for tier in ("Tier 1 Core", "Tier 2 Growth", "Tier 3 Long tail"):
    mine = [p for p in personas if p["tier"] == tier]
    expected[f"tiers/{tier}/personas"] = len(mine)
    expected[f"tiers/{tier}/revenue"] = sum(p["revenue_cents"] for p in mine) / 100
    expected[f"tiers/{tier}/share"] = sum(p["revenue_cents"] for p in mine) / total
for age in ("18-35", "36-55", "56+"):
    expected[f"tier1/{age}"] = sum(p["revenue_cents"] for p in personas
                                   if p["tier"] == "Tier 1 Core" and p["name"].split(" | ")[0] == age) / 100
for region, row in rep["region_income"].items():
    for income, v in row.items():
        expected[f"income/{region}/{income}"] = v["spend_cents"] / 100 / v["customers"] if v["customers"] else None
for region, cents in rep["region_department_cents"].items():
    for d, c in enumerate(cents):
        expected[f"mix/{region}/{d + 1}"] = 100 * c / sum(cents) if sum(cents) else None
for c in rep["clusters"]["clusters"]:
    k = c["cluster"]
    expected[f"clusters/{k}/customers"] = c["customers"]
    expected[f"clusters/{k}/spend"] = c["spend_cents"] / 100
    for f in ("basket_size", "order_rate", "reorder_rate", "spend_dollars"):
        expected[f"clusters/{k}/{f}"] = c["centre"][f]

missing = set(expected) - set(shown)
assert not missing, f"not on the page: {sorted(missing)[:10]}"
extra = set(shown) - set(expected)
assert not extra, f"on the page, not expected: {sorted(extra)[:10]}"
for key, want in expected.items():
    value, text = shown[key]
    if want is None:
        assert value is None and text.strip() == "-", (key, value, text)
        continue
    got = float(value)
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9), (key, got, want)
    number = float(re.sub(r"[$,%]", "", text))  # the text shows the same number, rounded for display
    scale = 100 if text.endswith("%") else 1
    assert abs(number - got * scale) <= 0.051 * (1 if text.endswith("%") or "." in text else 10), (key, text, got)
# The heat map's columns are the departments by the snapshot's names; the source line says the
# day the data is as of.
page = open(dom).read()
heads = re.findall(r"<th>([^<]*)</th>", page[page.index('id="mix"'):])
names = [n or str(i + 1) for i, n in enumerate(rep.get("department_names") or [None] * 21)]
assert heads[1:1 + len(names)] == [html.escape(n, quote=False) for n in names], (heads[:25], names)
if man.get("as_of"):
    assert f"data as of {man['as_of']}" in page, "the page does not say what day its data is as of"
print(f"dashboard: {len(expected)} numbers on the page equal snapshot {man['sequence']}'s report")
