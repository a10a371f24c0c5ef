#!/usr/bin/env python3
"""Incremental update, timed (tools/bench/freshness.sh): N times, one new order of LINES lines for
one customer is produced to the events topic, and GET /customers/{id} on a running `serve` is polled
until the customer shows it (items grew by LINES, max_order is the new order's number).

    freshness_probe.py [--encoding order|line] BROKERS TOPIC SERVE_PORT USERS [N (1000)] [LINES (10)]
                       [SEED (13)]

Prints one line: p50, p99 and max of produce -> visible (ms) over the N orders. Each order is the
customer's next one (order_number = max_order + 1), keyed and partitioned as `segstream replay`
does (decimal user_id, murmur2_random), in replay's encodings: one message per order (order, the
default: schema version 2) or one per line (line: version 1), each message stamped with its
produce time (segstream.produced_us), so the consumer's freshness histogram counts these messages
too (an order once, or each line). Event encoding: event/event.h.
"""
import json
import random
import sys
import time
import urllib.error
import urllib.request

import msgpack
from confluent_kafka import Producer


def customer(port, user_id):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/customers/{user_id}", timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def main():
    args = sys.argv[1:]
    encoding = "order"
    if args[:1] == ["--encoding"]:
        encoding, args = args[1], args[2:]
    if encoding not in ("order", "line") or len(args) < 4:
        sys.exit(__doc__)
    brokers, topic, port, users = args[0], args[1], int(args[2]), int(args[3])
    n = int(args[4]) if len(args) > 4 else 1000
    lines = int(args[5]) if len(args) > 5 else 10
    rnd = random.Random(int(args[6]) if len(args) > 6 else 13)
    # A live producer: no lingering (the replay lingers 20 ms for throughput).
    producer = Producer({"bootstrap.servers": brokers, "partitioner": "murmur2_random", "linger.ms": 0,
                         "enable.idempotence": True})
    latencies = []
    order_id = 900_000_000
    # The first order is not timed: it waits for the new producer's id (idempotence), which a
    # long-running producer has long had.
    while len(latencies) < n + 1:
        user_id = rnd.randint(1, users)
        before = customer(port, user_id)
        if before is None or before["max_order"] >= 65535:
            continue
        order_id += 1
        number = before["max_order"] + 1
        now = time.time()
        dow, hour = rnd.randint(0, 6), rnd.randint(6, 22)
        products = rnd.sample(range(1, 49689), lines)
        t0 = time.monotonic()
        stamp = str(time.time_ns() // 1000).encode()
        reordered = [rnd.randint(0, 1) for _ in products]
        if encoding == "order":  # the order's fields, eval_set (0: prior), event time, then its lines
            values = [[2, user_id, order_id, number, dow, hour, 7, 0, int(now * 1000),
                       [[product, k, r] for k, (product, r) in enumerate(zip(products, reordered), 1)]]]
        else:
            values = [[1, user_id, order_id, number, dow, hour, 7, product, k, r, 0, int(now * 1000)]
                      for k, (product, r) in enumerate(zip(products, reordered), 1)]
        for value in values:
            producer.produce(topic, key=str(user_id).encode(), value=msgpack.packb(value),
                             headers=[("segstream.produced_us", stamp)])
        producer.poll(0)
        want_items = before["items"] + lines
        while True:
            c = customer(port, user_id)
            if c["items"] >= want_items and c["max_order"] == number:
                break
            if time.monotonic() - t0 > 60:
                sys.exit(f"freshness_probe: customer {user_id} never showed order {order_id} (60 s)")
            producer.poll(0)
            time.sleep(0.0005)
        latencies.append((time.monotonic() - t0) * 1e3)
    producer.flush(30)
    latencies = sorted(latencies[1:])
    pct = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))]
    print(f"incremental update: {len(latencies)} orders of {lines} lines, produce -> visible in GET "
          f"/customers/{{id}}: p50 {pct(0.5):.1f} ms p99 {pct(0.99):.1f} ms max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()
