#!/usr/bin/env bash
# Installs whatever segstream needs and is missing, from Debian's packages (and the Kafka jars
# from Maven Central through tools/kafka/broker.sh fetch). Idempotent: a second run does nothing.
#   tools/setup.sh            C toolchain, libraries, JDK + Maven, Kafka jars
#   tools/setup.sh --no-kafka without the broker's jars and the Python test tools (the demo needs neither)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

packages=(build-essential cmake pkg-config librdkafka-dev libmsgpack-dev liblmdb-dev
	libcmocka-dev libcsv-dev zlib1g-dev libmicrohttpd-dev libcjson-dev libinih-dev libxlsxwriter-dev chromium clang-format clang-14 libclang-rt-14-dev openjdk-17-jre-headless maven python3 python3-venv time)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ "${1:-}" = "--no-kafka" ]; then exit 0; fi
# Python for tests and oracles only, in a project-local virtualenv.
repo=$(cd "$here/.." && pwd)
if [ ! -f "$repo/.venv/.complete" ] || ! cmp -s "$here/requirements.txt" "$repo/.venv/.complete"; then
	echo "setup: creating .venv (tests and oracles)" >&2
	rm -rf "$repo/.venv"
	python3 -m venv "$repo/.venv"
	"$repo/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
	cp "$here/requirements.txt" "$repo/.venv/.complete"
fi
"$here/kafka/broker.sh" fetch
