#!/usr/bin/env bash
# Fails if a tracked C file differs from what clang-format makes of it with the checked-in
# .clang-format (run `clang-format -i FILE` to fix; tools/setup.sh installs clang-format).
#   tests/check_format.sh REPO_DIR
set -euo pipefail
repo=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$repo"
command -v clang-format > /dev/null || { echo "check_format: clang-format not found: run tools/setup.sh" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2> /dev/null || find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) -print)
[ "${#files[@]}" -gt 0 ] || { echo "check_format: no C files found under $repo" >&2; exit 1; }
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run -Werror "$f" > /dev/null 2>&1; then
		echo "check_format: $f is not formatted (clang-format -i $f)" >&2
		bad=$((bad + 1))
	fi
done
echo "check_format: ${#files[@]} files, $bad not formatted"
[ "$bad" -eq 0 ]
