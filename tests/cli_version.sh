#!/usr/bin/env bash
# segstream --version and -V: the project version (CMakeLists.txt), the versions of what it
# writes (from the headers that define them: replay's default event schema, one message per order,
# then the line encoding's) and of the libraries it was built with (pkg-config).
#   cli_version.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
define() { sed -n "s/^#define $1  *\([0-9]*\)\( .*\)\{0,1\}\$/\1/p" "$repo/$2"; }
project=$(sed -n 's/^project(segstream VERSION \([0-9.]*\) .*/\1/p' "$repo/CMakeLists.txt")
expected="segstream $project
  event schema      $(define EVENT_ORDER_SCHEMA_VERSION event/event.h) ($(define EVENT_SCHEMA_VERSION event/event.h) with \
--encoding line; products $(define EVENT_PRODUCT_SCHEMA_VERSION event/event.h), customers \
$(define EVENT_CUSTOMER_SCHEMA_VERSION event/event.h))
  customer record   $(define STATE_RECORD_VERSION state/state.h)
  snapshot format   $(define SNAP_FORMAT_VERSION snapshot/snapshot_reader.h) (report.json $(define SNAP_REPORT_FORMAT \
	snapshot/snapshot.h))
  librdkafka        $(pkg-config --modversion rdkafka)
  LMDB              $(pkg-config --modversion lmdb)"
for flag in --version -V; do
	"$seg" $flag > "$tmp/out" || { echo "FAIL: segstream $flag exited $?"; exit 1; }
	if [ "$(cat "$tmp/out")" != "$expected" ]; then
		echo "FAIL: segstream $flag printed:"
		cat "$tmp/out"
		echo "expected:"
		echo "$expected"
		exit 1
	fi
done
echo "cli_version: $(head -1 "$tmp/out"), every version as its source says"
