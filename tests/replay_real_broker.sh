#!/usr/bin/env bash
# The replay tool against the real broker: a small generated data set is replayed, read back
# and checked event by event against the CSVs (tests/check_replay.py), in the default encoding
# (one message per order) and with --encoding line (one message per line).
#   replay_real_broker.sh SEGSTREAM_BINARY REPO_DIR     (SEGSTREAM_BOOTSTRAP names the broker)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${brokers:?SEGSTREAM_BOOTSTRAP names the broker}"
run=replay-$$-$(date +%s)
"$seg" gen --users 2000 --seed 5 --out "$tmp/data" --catalog "$repo/data/instacart"
"$seg" replay --data "$tmp/data" --brokers "$brokers" --topic "$run.events" \
	--products-topic "$run.products" --customers-topic "$run.customers" --dlq-topic "$run.dlq"
# The dead-letter topic exists before the first dead letter (a kcat reader finds it).
"$repo/.venv/bin/python" - "$brokers" "$run.dlq" <<'PY' || { echo "FAIL: replay did not create the dead-letter topic"; exit 1; }
import sys
from confluent_kafka.admin import AdminClient
topics = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=10).topics
sys.exit(0 if sys.argv[2] in topics else 1)
PY
"$repo/.venv/bin/python" "$repo/tests/check_replay.py" "$tmp/data" "$brokers" "$run" order
"$seg" replay --data "$tmp/data" --brokers "$brokers" --topic "$run-line.events" --encoding line \
	--products-topic "$run-line.products" --customers-topic "$run-line.customers" --dlq-topic "$run-line.dlq"
"$repo/.venv/bin/python" "$repo/tests/check_replay.py" "$tmp/data" "$brokers" "$run-line" line
