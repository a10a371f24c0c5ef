# Sourced by the shell tests: their arguments and a scratch directory removed on exit.
#   SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker for real-broker tests)
set -euo pipefail
seg=$1
repo=$2
brokers=${SEGSTREAM_BOOTSTRAP:-}
py=$repo/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
