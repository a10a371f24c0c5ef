#!/usr/bin/env python3
"""Checks docker-compose.yml without Docker (none runs here): valid YAML, a Kafka 3.9 KRaft
service, and segstream services built from this repository's Dockerfile."""
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
print(f"docker-compose.yml: {len(services)} services, Kafka {kafka['image']}")
