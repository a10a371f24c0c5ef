#!/usr/bin/env bash
# README's snapshot column table is the code's: the same names in the same order as the dump
# header and snapshot/columns.c's table, with the types and nullability the manifest lists.
#   check_readme_columns.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 50 --seed 2 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 1 > /dev/null
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$py" - "$repo" "$tmp" <<'PY'
import json
import re
import sys

repo, tmp = sys.argv[1], sys.argv[2]
readme = open(f"{repo}/README.md").read()
section = readme.split("### Snapshot columns", 1)[1]
rows = re.findall(r"^\| `(\w+)` \| (int|real|text)(, nullable)? \|", section.split("\n## ", 1)[0], re.M)
doc = [(name, typ, bool(nullable)) for name, typ, nullable in rows]
assert doc, "README has no snapshot column table"
manifest = json.load(open(f"{tmp}/snaps/0000000001/manifest.json"))
code = [(c["name"], c["type"], c["nullable"]) for c in manifest["columns"]]
assert doc == code, ("README", doc, "manifest", code)
header = open(f"{tmp}/dump.csv").readline().strip().split(",")
assert [d[0] for d in doc] == header, ("README", [d[0] for d in doc], "dump", header)
table = re.findall(r"^\s*XX\((\w+), (INT|REAL|TEXT),", open(f"{repo}/snapshot/columns.c").read(), re.M)
assert [(n, t.lower()) for n, t in table] == [(n, t) for n, t, _ in doc], ("columns.c", table)
print(f"README: {len(doc)} snapshot columns, as the manifest, the dump header and columns.c")
PY
