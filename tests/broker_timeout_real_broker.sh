#!/usr/bin/env bash
# broker_timeout.sh with the real broker (SEGSTREAM_BOOTSTRAP set by CTest): besides nothing
# listening, a missing events topic and a SASL setting the broker does not speak.
#   broker_timeout_real_broker.sh SEGSTREAM_BINARY REPO_DIR   (SEGSTREAM_BOOTSTRAP names the broker)
exec bash "$(dirname "${BASH_SOURCE[0]}")/broker_timeout.sh" "$@"
