#!/usr/bin/env python3
"""Checks docker-compose.yml without Docker (none runs here): valid YAML, a Kafka 3.9 KRaft
service, and segstream services built from this repository's Dockerfile; Kafka keeps its log
in a volume and is reachable from the host; loading is a one-shot profile; the consumer
restarts, has a health check and writes its snapshots where the host reads them; the build
context leaves out .venv and build/ (.dockerignore)."""
import os
import sys

import yaml

doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
kafka = services["kafka"]
assert kafka["image"].startswith("apache/kafka:3.9"), kafka["image"]
env = kafka["environment"]
assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft combined mode"
assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
for name in ("replay", "consumer"):
    s = services[name]
    assert s["build"] == ".", name
    assert "kafka:9092" in s["command"], name
    assert s["depends_on"]["kafka"]["condition"] == "service_healthy", name
# Kafka's log survives down/up (the state's offsets point into it), and the host can reach it.
log_dir = env["KAFKA_LOG_DIRS"]
assert any(v.split(":")[1] == log_dir and v.split(":")[0] in doc["volumes"] for v in kafka["volumes"]), kafka
assert "9094:9094" in kafka["ports"], kafka.get("ports")
assert "EXTERNAL://localhost:9094" in env["KAFKA_ADVERTISED_LISTENERS"].split(","), env
assert "EXTERNAL:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
# Generating and replaying run once, on demand, not on every `up`.
for name in ("generate", "replay"):
    assert services[name].get("profiles") == ["load"], name
consumer = services["consumer"]
assert "profiles" not in consumer and "profiles" not in kafka
assert consumer["restart"] == "unless-stopped" and "test" in consumer["healthcheck"], consumer
# Snapshots in a host directory (a bind mount), not only inside the named volume.
assert any(v.startswith("./") and v.endswith(":/var/lib/segstream/snapshots") for v in consumer["volumes"]), consumer
assert "/var/lib/segstream/snapshots" in consumer["command"]
ignore = open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), ".dockerignore")).read().split()
assert ".venv" in ignore and "build" in ignore, ignore
print(f"docker-compose.yml: {len(services)} services, Kafka {kafka['image']}")
