"""consume --http, seen from outside (tests/http_real_broker.sh):
  check_http_metrics.py before PORT                        /health 200, /ready 503, /metrics parses
  check_http_metrics.py poison BROKERS TOPIC N             N messages that are no event (dead letters)
  check_http_metrics.py caught-up PORT EVENTS SCRAPE_FILE SNAPSHOT_DIR [ORDERS]
                                                           waits for /ready 200, every lag 0, a snapshot;
                                                           ORDERS: the order messages read, and the offsets
                                                           (messages) are those plus the dead letters
  check_http_metrics.py still-serving PORT                 bad requests get 4xx, then /metrics and /ready 200
  check_http_metrics.py summary SCRAPE_FILE CONSUME_OUT    the scrape equals the consumer's summary
  check_http_metrics.py ready PORT STATUS TIMEOUT          waits until /ready answers STATUS (200, or 503
                                                           with "broker unreachable"); broker_up agrees
"""
import os
import re
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def fetch(port, path):
    """(status, content type, body) of GET path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def wait_for(port, path, timeout=60):
    """The first answer of the server, retried while it is not listening yet."""
    deadline = time.time() + timeout
    while True:
        try:
            return fetch(port, path)
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def samples(text):
    """{(name, frozenset(labels)): value} through prometheus_client's parser (which raises on bad text)."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def before(port):
    status, _, body = wait_for(port, "/health")
    if status != 200:
        fail(f"/health answered {status} {body}")
    status, _, _ = fetch(port, "/ready")
    if status != 503:
        fail(f"/ready answered {status} before any event was consumed")
    status, ctype, body = fetch(port, "/metrics")
    if status != 200 or ctype != "text/plain; version=0.0.4; charset=utf-8":
        fail(f"/metrics: {status} {ctype}")
    m = samples(body)
    if m[("segstream_ready", frozenset())] != 0:
        fail("segstream_ready is not 0 before the events")


def poison(brokers, topic, n):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": brokers})
    for i in range(int(n)):
        p.produce(topic, value=b"not msgpack \xc1" + bytes([i]), key=str(i).encode())
    if p.flush(30) != 0:
        fail("the poison messages were not delivered")


def caught_up(port, events, scrape_file, snaps, orders=None):
    events = int(events)
    deadline = time.time() + 60
    while True:
        status, _, _ = fetch(port, "/ready")
        _, _, body = fetch(port, "/metrics")
        m = samples(body)
        lags = {dict(k[1])["partition"]: v for k, v in m.items() if k[0] == "segstream_partition_lag_events"}
        read = m[("segstream_events_read_total", frozenset())]
        published = m[("segstream_snapshots_published_total", frozenset())]
        if status == 200 and lags and all(v == 0 for v in lags.values()) and read == events and published:
            break
        if time.time() > deadline:
            fail(f"not caught up after 60 s: /ready {status}, lags {lags}, read {read} of {events}")
        time.sleep(0.2)
    highs = {dict(k[1])["partition"]: v for k, v in m.items() if k[0] == "segstream_partition_high_watermark_offset"}
    done = {dict(k[1])["partition"]: v for k, v in m.items() if k[0] == "segstream_partition_committed_offset"}
    if highs != done or set(highs) != set(lags):
        fail(f"committed {done} != high watermarks {highs}")
    if m[("segstream_ready", frozenset())] != 1:
        fail("segstream_ready is not 1 while /ready answers 200")
    # The histogram: cumulative buckets, +Inf = count = the batches committed.
    h = "segstream_batch_commit_duration_seconds"
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items() if k[0] == h + "_bucket")
    counts = [v for _, v in buckets]
    if counts != sorted(counts) or buckets[-1][0] != float("inf"):
        fail(f"histogram buckets are not cumulative: {buckets}")
    if not (buckets[-1][1] == m[(h + "_count", frozenset())] == m[("segstream_batches_committed_total", frozenset())]):
        fail("histogram count != batches committed")
    if m[(h + "_sum", frozenset())] <= 0:
        fail("histogram sum is not positive")
    if m[("segstream_process_resident_memory_bytes", frozenset())] < 1 << 20:
        fail("resident memory below 1 MiB")
    # Snapshots (a fresh directory, none failed): the last one is number `published`, and it is there.
    seq = m[("segstream_snapshot_last_sequence", frozenset())]
    if seq != published or m[("segstream_snapshots_failed_total", frozenset())] != 0:
        fail(f"last snapshot {seq}, {published} published")
    if not os.path.exists(f"{snaps}/{int(seq):010d}/manifest.json"):
        fail(f"snapshot {seq} is not in {snaps}")
    if not (0 <= m[("segstream_snapshot_last_age_seconds", frozenset())] < 60
            and m[("segstream_snapshot_last_duration_seconds", frozenset())] > 0):
        fail("snapshot age or duration out of range")
    # Dead letters by reason: they add up to the total, each under an event error's name.
    reasons = {dict(k[1])["reason"]: v for k, v in m.items() if k[0] == "segstream_dead_letters_total"}
    if sum(reasons.values()) != m[("segstream_events_dead_lettered_total", frozenset())] or \
            not all(r.startswith("EVENT_") for r in reasons):
        fail(f"dead letters by reason {reasons} do not add up to the total")
    # Batch sizes: cumulative, count = batches, sum = the events read (all committed by now).
    b = "segstream_batch_size_events"
    sizes = sorted((float(dict(k[1])["le"]), v) for k, v in m.items() if k[0] == b + "_bucket")
    if [v for _, v in sizes] != sorted(v for _, v in sizes) or sizes[-1][0] != float("inf"):
        fail(f"batch size buckets are not cumulative: {sizes}")
    if sizes[-1][1] != m[(b + "_count", frozenset())] or \
            m[(b + "_count", frozenset())] != m[("segstream_batches_committed_total", frozenset())]:
        fail("batch size count != batches committed")
    if m[(b + "_sum", frozenset())] != read:
        fail(f"batch sizes add up to {m[(b + '_sum', frozenset())]}, not the {read} events read")
    # LMDB: a map larger than what is used, which is more than nothing; the tables as loaded.
    size, used = m[("segstream_lmdb_map_size_bytes", frozenset())], m[("segstream_lmdb_used_bytes", frozenset())]
    if not 0 < used < size:
        fail(f"LMDB used {used} of a map of {size}")
    tables = {dict(k[1])["table"]: v for k, v in m.items() if k[0] == "segstream_state_table_entries"}
    loaded = {dict(k[1])["table"]: v for k, v in m.items() if k[0] == "segstream_reference_records"}
    if tables.get("products") != loaded["products"] or tables.get("demographics") != loaded["customers"] or \
            not tables.get("customers"):
        fail(f"state tables {tables}, loaded {loaded}")
    if m[("segstream_broker_up", frozenset())] != 1:
        fail("segstream_broker_up is not 1 while the consumer reads")
    # One message per order (replay's default): offsets, and so lags, count messages, not events.
    if orders is not None:
        read_orders = m[("segstream_order_messages_read_total", frozenset())]
        dead = m[("segstream_events_dead_lettered_total", frozenset())]
        if read_orders != int(orders) or sum(done.values()) != read_orders + dead or read_orders >= read:
            fail(f"order messages read {read_orders} (want {orders}), offsets {sum(done.values())} "
                 f"(want them plus {dead} dead letters), events {read}")
    with open(scrape_file, "w") as f:
        f.write(body)
    print(f"caught up: {events} events, lags {lags}, dead letters {reasons}")


def ready(port, want, timeout):
    want, deadline = int(want), time.time() + float(timeout)
    while True:
        status, _, body = fetch(port, "/ready")
        up = samples(fetch(port, "/metrics")[2])[("segstream_broker_up", frozenset())]
        if status == want and (want == 200 and up == 1 or want == 503 and up == 0 and body == "broker unreachable\n"):
            print(f"/ready {status} {body.strip()!r}, broker_up {up}")
            return
        if time.time() > deadline:
            fail(f"/ready still {status} {body.strip()!r} (broker_up {up}) after {timeout} s, want {want}")
        time.sleep(0.2)


def still_serving(port):
    for path, method, status in [("/nope", "GET", 404), ("/metrics/x", "GET", 404), ("/metrics", "POST", 405),
                                 ("/" + "m" * 10000, "GET", 414)]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            urllib.request.urlopen(req, timeout=10)
            fail(f"{method} {path[:40]} answered 2xx")
        except urllib.error.HTTPError as e:
            if e.code != status or e.headers.get("Content-Type") != "application/json":
                fail(f"{method} {path[:40]}: {e.code} {e.headers.get('Content-Type')}, expected {status}")
    for path in ["/metrics", "/ready", "/health"]:
        if fetch(port, path)[0] != 200:
            fail(f"{path} no longer 200")


def summary(scrape_file, consume_out):
    m = samples(open(scrape_file).read())
    text = open(consume_out).read()
    got = re.search(
        r"events read (\d+), applied (\d+), duplicates (\d+), train ignored (\d+), dead-lettered (\d+), "
        r"products (\d+), customers (\d+), batches (\d+)",
        text,
    )
    if not got:
        fail(f"no summary in {text!r}")
    want = dict(zip(
        ["segstream_events_read_total", "segstream_events_applied_total", "segstream_events_duplicate_total",
         "segstream_events_ignored_total", "segstream_events_dead_lettered_total", "products", "customers",
         "segstream_batches_committed_total"],
        map(int, got.groups())))
    want[("segstream_reference_records", "products")] = want.pop("products")
    want[("segstream_reference_records", "customers")] = want.pop("customers")
    for name, value in want.items():
        key = (name[0], frozenset({("table", name[1])})) if isinstance(name, tuple) else (name, frozenset())
        if m[key] != value:
            fail(f"{name}: scraped {m[key]}, the summary says {value}")
    # The exit snapshot is published, or skipped when no event came after the last one.
    printed = re.search(r"consume: (\d+) snapshots published, 0 failed, (\d+) skipped", text)
    scraped = m[("segstream_snapshots_published_total", frozenset())]
    if not printed or int(printed.group(1)) < scraped or \
            int(printed.group(1)) + int(printed.group(2)) < scraped + 1:
        fail("the summary does not count the scraped snapshots plus the one at exit (published or skipped)")
    if want["segstream_events_dead_lettered_total"] != 5:
        fail("the 5 poison messages are not the dead letters")
    print(f"summary equals the scrape: {want}")


if __name__ == "__main__":
    {"before": before, "poison": poison, "caught-up": caught_up, "still-serving": still_serving, "summary": summary,
     "ready": ready}[sys.argv[1]](*sys.argv[2:])
