#!/usr/bin/env bash
# The notebook side: the Python reader loads a snapshot into pandas, and the three findings
# are drawn as PNG images that are real pictures (decoded, non-blank).
#   snapshot_plots.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 3000 --seed 9 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 4 > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$py" "$repo/tools/python/plot_findings.py" "$tmp/snaps" "$repo/data/instacart/departments.csv" "$tmp/plots" \
	> "$tmp/plots.out"
cat "$tmp/plots.out"
"$py" - "$tmp/snaps" "$tmp/plots" "$repo/tools/python" "$tmp/plots.out" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import matplotlib.image as mpimg
from segstream_snapshot import load
snap = load(sys.argv[1])
df = snap.customers
assert len(df) == 3000 and df.user_id.is_unique, len(df)
assert set(df.loyalty) <= {"New customer", "Regular customer", "Loyal customer"}
assert df.spend_cents.sum() == snap.report["spend_cents"]
# The plots say the day their data is as of (the event-time watermark).
assert snap.as_of is not None and open(sys.argv[4]).read().startswith(f"plots of snapshot 1, as of {snap.as_of}")
for name in ["tier1_revenue_by_age", "spending_by_income_region", "region_department_mix"]:
    img = mpimg.imread(f"{sys.argv[2]}/{name}.png")
    assert img.shape[0] > 200 and img.shape[1] > 400, (name, img.shape)
    assert img[..., :3].std() > 0.05, f"{name} looks blank"
print("plots: 3 PNG images decoded, reader DataFrame matches the report")
PY
