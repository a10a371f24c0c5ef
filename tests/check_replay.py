#!/usr/bin/env python3
"""Consumes what `segstream replay` wrote to the real broker and checks every event against
the CSVs (pandas, independent of the C reader): the count, each user's order, every field,
keys, per-partition event-time order, and the reference topics (customers carry no names).
ENCODING (default order, replay's default) is the one the topic must hold: `order`, one
message per order (schema version 2, its lines in add_to_cart order, an order of more than
1,000 lines in several messages), or `line`, one message per line (version 1).

    check_replay.py DATA_DIR BROKERS TOPIC_PREFIX [order|line]
"""
import sys

import msgpack
import pandas as pd
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

data, brokers, prefix = sys.argv[1:4]
encoding = sys.argv[4] if len(sys.argv) > 4 else "order"
if encoding not in ("order", "line"):
    sys.exit(f"check_replay.py: encoding {encoding!r} is not order or line")


def read_topic(topic):
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"check-{topic}", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(md.partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, at_end = [], set()
    while len(at_end) < len(parts):
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    at_end.add(m.partition())
                    continue
                raise RuntimeError(m.error())
            out.append((m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1]))
    c.close()
    return out


orders = pd.read_csv(f"{data}/orders.csv")
prior = pd.read_csv(f"{data}/order_products__prior.csv")
expected = prior.merge(orders, on="order_id")
failures = []


def check(name, ok, got=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name} {got}")
    if not ok:
        failures.append(name)


def events_of(value):
    """The version-1 events a message carries (README, "Event schema"): itself, or an order's lines
    each with the order's fields; a version it does not know is returned as is (the version check
    below fails on it)."""
    u = msgpack.unpackb(value)
    if u[0] != 2:
        return [u]
    v, user, order, number, dow, hour, days, eval_set, time_ms, lines = u
    return [[v, user, order, number, dow, hour, days, pid, cart, reordered, eval_set, time_ms]
            for pid, cart, reordered in lines]


messages = read_topic(f"{prefix}.events")
cols = ["v", "user_id", "order_id", "order_number", "order_dow", "order_hour_of_day", "days_since_prior_order",
        "product_id", "add_to_cart_order", "reordered", "eval_set", "event_time_ms"]
rows, meta = [], []
for (p, o, k, v, ts) in messages:
    for pos, e in enumerate(events_of(v)):
        rows.append(e)
        meta.append((p, o, pos, int(k), ts))
got = pd.DataFrame(rows, columns=cols)
got = pd.concat([got, pd.DataFrame(meta, columns=["partition", "offset", "pos", "key", "ts"])], axis=1)
check("event count", len(got) == len(expected), (len(got), len(expected)))
lines_per_order = expected.groupby("order_id").size()
if encoding == "order":
    want = int(((lines_per_order + 999) // 1000).sum())
    check("one message per order (1,000 lines at most)", len(messages) == want, (len(messages), want))
    check("schema version 2", (got["v"] == 2).all())
    per_msg = got.groupby(["partition", "offset"])
    check("a message carries one order", (per_msg["order_id"].nunique() == 1).all())
    check("a message's lines in add_to_cart order", (per_msg["add_to_cart_order"].diff().dropna() > 0).all())
else:
    check("one message per line", len(messages) == len(expected), (len(messages), len(expected)))
    check("schema version 1", (got["v"] == 1).all())
check("key = user_id", (got["key"] == got["user_id"]).all())
check("Kafka timestamp = event time", (got["ts"] == got["event_time_ms"]).all())
check("a user's events share one partition", (got.groupby("user_id")["partition"].nunique() == 1).all())
g = got.sort_values(["partition", "offset", "pos"])
pos = g["order_number"] * 100000 + g["add_to_cart_order"]
check("per user: order_number, then add_to_cart_order", (pos.groupby(g["user_id"]).diff().dropna() > 0).all())
check("per partition: event time never goes back", (g.groupby("partition")["event_time_ms"].diff().dropna() >= 0).all())
j = expected.merge(got, on=["order_id", "add_to_cart_order"], how="outer", suffixes=("", "_got"), indicator=True)
check("every CSV line is an event and vice versa", (j["_merge"] == "both").all(), j["_merge"].value_counts().to_dict())
for col in ["user_id", "order_number", "order_dow", "order_hour_of_day", "product_id", "reordered"]:
    check(f"field {col}", (j[col] == j[col + "_got"]).all())
days_ok = (j["days_since_prior_order"].isna() & j["days_since_prior_order_got"].isna()) | \
    (j["days_since_prior_order"] == j["days_since_prior_order_got"])
check("field days_since_prior_order (nil on first orders)", days_ok.all())
check("eval_set 0 (prior) on every event", (j["eval_set_got"] == 0).all())

products = read_topic(f"{prefix}.products")
catalog = pd.read_csv(f"{data}/products.csv").drop_duplicates("product_id", keep="last")
check("products topic: one record per distinct product", len(products) == len(catalog), (len(products), len(catalog)))
customers = read_topic(f"{prefix}.customers")
check("customers topic: one record per customer", len(customers) == len(pd.read_csv(f"{data}/customers.csv")))
names = set(pd.read_csv(f"{data}/customers.csv")["Surnam"].dropna())
leaked = any(isinstance(x, (str, bytes)) for (_, _, _, v, _) in customers for x in msgpack.unpackb(v))
check("customers carry no strings (no names)", not leaked and len(names) > 0)
admin = AdminClient({"bootstrap.servers": brokers})
for kind, policy in [("products", "compact"), ("customers", "compact"), ("events", "delete")]:
    res = ConfigResource("topic", f"{prefix}.{kind}")
    got_policy = admin.describe_configs([res])[res].result()["cleanup.policy"].value
    check(f"{kind} topic: cleanup.policy {policy}", got_policy == policy, got_policy)
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
