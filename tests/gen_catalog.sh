#!/usr/bin/env bash
# gen without --catalog finds the bundled catalog from any working directory, in the order
# gen.h documents: ./data/instacart, then under the executable's directory and its parents,
# then the source tree. Run from a directory that has none.
#   gen_catalog.sh SEGSTREAM_BINARY REPO_DIR
set -euo pipefail
seg=$(realpath "$1")
repo=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "gen_catalog: $*" >&2; exit 1; }

# The built binary, from elsewhere: the tree above it (or the source tree) has the catalog.
"$seg" gen --users 30 --out "$tmp/a" > /dev/null
cmp -s "$tmp/a/products.csv" "$repo/data/instacart/products.csv" || fail "run from $tmp: not the bundled catalog"

# A copy of the binary with a smaller catalog two levels above it: that one wins over the
# source tree (the executable's parents come first).
mkdir -p "$tmp/inst/data/instacart" "$tmp/inst/lib/bin"
cp "$seg" "$tmp/inst/lib/bin/segstream"
head -2001 "$repo/data/instacart/products.csv" > "$tmp/inst/data/instacart/products.csv"
cp "$repo/data/instacart/aisles.csv" "$repo/data/instacart/departments.csv" "$tmp/inst/data/instacart/"
"$tmp/inst/lib/bin/segstream" gen --users 30 --out "$tmp/b" > /dev/null
cmp -s "$tmp/b/products.csv" "$tmp/inst/data/instacart/products.csv" ||
	fail "the executable's parents were not searched first"

# The same copy run where ./data/instacart exists: the current directory comes first.
mkdir -p "$tmp/cwd/data/instacart"
head -1001 "$repo/data/instacart/products.csv" > "$tmp/cwd/data/instacart/products.csv"
cp "$repo/data/instacart/aisles.csv" "$repo/data/instacart/departments.csv" "$tmp/cwd/data/instacart/"
(cd "$tmp/cwd" && "$tmp/inst/lib/bin/segstream" gen --users 30 --out "$tmp/c" > /dev/null)
cmp -s "$tmp/c/products.csv" "$tmp/cwd/data/instacart/products.csv" || fail "./data/instacart was not searched first"

# A copy with no catalog above it: the source tree's.
mkdir -p "$tmp/bare"
cp "$seg" "$tmp/bare/segstream"
"$tmp/bare/segstream" gen --users 30 --out "$tmp/d" > /dev/null
cmp -s "$tmp/d/products.csv" "$repo/data/instacart/products.csv" || fail "the source tree was not searched"
echo "gen_catalog: ok"
