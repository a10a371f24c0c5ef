#!/usr/bin/env python3
"""One run, every engine, the same files: segstream against the tools its users would pick instead.

    onerun.py [--scale F | --users N] [--quick] [--brokers HOST:PORT] [--segstream BIN]
              [--work DIR] [--record FILE | --no-record]
              [--e2e-encodings line,order] [--e2e-rounds N] [--order-x PROP=VALUE ...]
    onerun.py --compare CSV CSV...   only the identity check of per-customer tables
    onerun.py --curve 0.1,0.33,1,3   the scaling curve: floor and backfill (and the peers up to
                                     --peers-up-to) at each scale, time and CPU per line, peak RSS

Generates a data set (F x 206,209 customers; --quick: 1,000), then measures, each with wall time,
CPU time (user + system) and peak RSS:
  1. pandas    the seed notebook's method (tools/bench/engines.py pandas)
  2. duckdb    the same table as one DuckDB query (engines.py duckdb)
  3. floor     one plain pass over the lines file: read and split, nothing else
  4. backfill  segstream backfill into a fresh state
  5. consume   the consumer alone on a topic a replay --encoding line filled beforehand; then again
               into a fresh state with a snapshot every 2 s beside it (consume+snapshots: #15's
               peak RSS); consume-order(+snapshots) the same on a topic filled with replay
               --encoding order (one message per order, replay's default)
  6. e2e       replay --encoding line and consumer together through the broker, from nothing to
               the final state;
     e2e-order the same with replay --encoding order (replay's default); with --e2e-rounds N
               the encodings alternate N times (line, order, line, order, ...)
Every replay names its encoding, and each row's note says which it is (and which is the default).
  7. snapshot  a full snapshot of the consumer's state
It then checks that pandas, DuckDB, backfill and the streamed state agree on every column they
share for every customer (exit 1 naming the first differences if not), prints one Markdown table
with the machine, the versions, every figure and the ratios to pandas and DuckDB of that run, and
writes it at the top of BENCHMARKS.md (--no-record: print only). Ratios from one run are what mean something
on a shared machine; absolute times vary +-10% from hour to hour.

Without --brokers it starts its own broker with tools/kafka/broker.sh (port BENCH_KAFKA_PORT,
default 39092) and stops it at the end.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FULL_USERS = 206209


def fail(msg):
    print(f"onerun: {msg}", file=sys.stderr)
    sys.exit(1)


class Figure:
    def __init__(self, name, wall, cpu, rss_kib, note=""):
        self.name, self.wall, self.cpu, self.rss_kib, self.note = name, wall, cpu, rss_kib, note


def measure(name, argv, work, env=None):
    """Runs argv under /usr/bin/time; its stdout and stderr go to WORK/NAME.out and .err."""
    timing = f"{work}/{name}.time"
    start = time.monotonic()  # /usr/bin/time's wall clock has 10 ms steps: too coarse for small runs
    with open(f"{work}/{name}.out", "w") as out, open(f"{work}/{name}.err", "w") as err:
        rc = subprocess.call(["/usr/bin/time", "-f", "%e %U %S %M", "-o", timing] + argv, stdout=out, stderr=err,
                             env=env)
    wall = time.monotonic() - start
    if rc != 0:
        tail = open(f"{work}/{name}.err").read()[-3000:] + open(f"{work}/{name}.out").read()[-2000:]
        fail(f"{name} failed (rc {rc}): {' '.join(argv)}\n{tail}")
    cpu, rss = cpu_of(timing)
    return Figure(name, wall, cpu, rss)


def cpu_of(times_file):
    _, user, system, rss = open(times_file).read().split()[-4:]
    return float(user) + float(system), int(rss)


def topics(prefix):
    return ["--topic", f"{prefix}.events", "--products-topic", f"{prefix}.products", "--customers-topic",
            f"{prefix}.customers"]


def encoding_note(encoding):
    """How a row names its replay's encoding."""
    return f"{encoding} encoding" + (", replay's default" if encoding == "order" else "")


def end_to_end(seg, brokers, data, work, prefix, name="e2e", encoding="line", extra=(), idle_ms=3000):
    """Replay (--encoding ENCODING, -X EXTRA) and consumer started together on fresh topics; wall
    from the start to the final state (the consumer's idle check at the end is not counted), CPU of
    both, the larger peak RSS. The state is WORK/NAME-state."""
    topics_e2e = topics(f"{prefix}-{name}")
    start = time.monotonic()
    consumer = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", f"{work}/{name}-consume.time", seg,
                                 "consume", "--state", f"{work}/{name}-state", "--brokers", brokers, "--exit-at-end",
                                 "--idle-ms", str(idle_ms)] + topics_e2e,
                                stdout=open(f"{work}/{name}-consume.out", "w"),
                                stderr=open(f"{work}/{name}-consume.err", "w"))
    props = [arg for prop in extra for arg in ("-X", prop)]
    replay = measure(f"{name}-replay", [seg, "replay", "--data", data, "--brokers", brokers, "--encoding", encoding]
                     + props + topics_e2e, work)
    if consumer.wait() != 0:
        fail(f"{name} consumer failed:\n" + open(f"{work}/{name}-consume.err").read()[-3000:])
    wall = time.monotonic() - start - idle_ms / 1000
    cpu, rss = cpu_of(f"{work}/{name}-consume.time")
    note = f"replay alone {replay.wall:.2f} s ({encoding_note(encoding)})"
    note += f"; -X {' '.join(extra)}" if extra else ""
    return Figure(name, wall, cpu + replay.cpu, max(rss, replay.rss_kib), note)


def dump(seg, state, path):
    with open(path, "w") as out:
        if subprocess.call([seg, "dump", "--state", state], stdout=out) != 0:
            fail(f"dump of {state} failed")


def compare(tables):
    """Every engine against the first, on the columns both have, for every customer."""
    import pandas as pd
    loaded = {name: pd.read_csv(path, keep_default_na=False, na_values=[""]).set_index("user_id")
              for name, path in tables.items()}
    base_name, base = next(iter(loaded.items()))
    problems = []
    for name, other in loaded.items():
        if name == base_name:
            continue
        if set(base.index) != set(other.index):
            problems.append(f"{name}: {len(set(other.index) - set(base.index))} customers not in {base_name}, "
                            f"{len(set(base.index) - set(other.index))} missing")
            continue
        other = other.loc[base.index]
        shared = [c for c in base.columns if c in other.columns]
        for col in shared:
            a, b = base[col], other[col]
            if a.dtype.kind in "fi" or b.dtype.kind in "fi":
                a, b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
                differ = ~((a.isna() & b.isna()) | (a == b))
            else:
                differ = a.fillna("").astype(str) != b.fillna("").astype(str)
            if differ.any():
                first = differ[differ].index[:3].tolist()
                problems.append(f"{name} vs {base_name}: column {col} differs for {int(differ.sum())} customers, "
                                f"e.g. user {first[0]}: {a.loc[first[0]]!r} vs {b.loc[first[0]]!r}")
        print(f"onerun: {name} = {base_name} on {len(base)} customers x {len(shared)} columns"
              if not any(p.startswith(name) for p in problems) else f"onerun: {name} DIFFERS")
    return problems


def versions(seg):
    import duckdb
    import pandas
    lines = subprocess.run([seg, "--version"], capture_output=True, text=True).stdout.strip().split("\n")
    out = "; ".join(" ".join(line.split()) for line in lines)
    return f"{out}; pandas {pandas.__version__}; duckdb {duckdb.__version__}; Python {platform.python_version()}"


def machine():
    mem_kib = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.machine())
    return f"{os.cpu_count()} cores ({model}), {mem_kib / 2**20:.0f} GiB"


def table(figures, users, lines, header):
    by = {f.name: f for f in figures}
    rows = [header, "",
            "| step | wall s | CPU s | peak RSS MiB | ns/line (CPU) | pandas / this | DuckDB / this | note |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for f in figures:
        rows.append(f"| {f.name} | {f.wall:.2f} | {f.cpu:.2f} | {f.rss_kib / 1024:.0f} | {f.cpu * 1e9 / lines:.0f} | "
                    f"{by['pandas'].wall / f.wall:.2f}x | {by['duckdb'].wall / f.wall:.2f}x | {f.note} |")
    rows.append("")
    rows.append(f"{users:,} customers, {lines:,} prior lines. Ratios are wall time of pandas or DuckDB over the "
                "step's, from this one run (above 1: the step is faster).")
    return "\n".join(rows) + "\n"


def record(path, text):
    """The newest table goes at the top, under the title: older sections stay below."""
    old = open(path).read().split("\n") if os.path.exists(path) else ["# Benchmarks", ""]
    title = next((i for i, line in enumerate(old) if line.startswith("# ")), -1)
    new = old[:title + 1] + [""] + text.rstrip("\n").split("\n") + old[title + 1:]
    with open(path + ".tmp", "w") as out:
        out.write("\n".join(new))
    os.replace(path + ".tmp", path)


def curve(args, seg, floor, work):
    """Floor and backfill (and pandas and DuckDB up to --peers-up-to) at each scale: time and CPU per
    line must stay flat, peak RSS should follow customers and orders, not lines."""
    rows = ["| scale | customers | prior lines | floor s | backfill wall s | backfill CPU ns/line | backfill peak RSS MiB "
            "| pandas wall s (RSS MiB) | DuckDB wall s (RSS MiB) | DuckDB / backfill |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    engines = os.path.join(REPO, "tools", "bench", "engines.py")
    for scale in args.curve:
        here = f"{work}/x{scale}"
        os.makedirs(here)
        users = round(FULL_USERS * scale)
        data = f"{here}/data"
        measure("gen", [seg, "gen", "--users", str(users), "--out", data], here)
        lines = sum(1 for _ in open(f"{data}/order_products__prior.csv")) - 1
        # gen's files are written back before the floor and backfill are timed: the kernel's
        # write-back of ~2 GB at 300% otherwise lands in them (the 12:27 curve: 1.5x the CPU a line)
        subprocess.call(["sync"])
        fl = measure("floor", [floor, f"{data}/order_products__prior.csv"], here)
        bf = measure("backfill", [seg, "backfill", "--data", data, "--state", f"{here}/state", "--partitions", "4"],
                     here)
        peers = ["-", "-"]
        ratio = "-"
        if scale <= args.peers_up_to:
            pd_ = measure("pandas", [sys.executable, engines, "pandas", data, f"{here}/pandas.csv"], here)
            dd = measure("duckdb", [sys.executable, engines, "duckdb", data, f"{here}/duckdb.csv"], here)
            peers = [f"{pd_.wall:.2f} ({pd_.rss_kib / 1024:.0f})", f"{dd.wall:.2f} ({dd.rss_kib / 1024:.0f})"]
            ratio = f"{dd.wall / bf.wall:.2f}x"
        rows.append(f"| {scale:g} | {users:,} | {lines:,} | {fl.wall:.2f} | {bf.wall:.2f} | {bf.cpu * 1e9 / lines:.0f} | "
                    f"{bf.rss_kib / 1024:.0f} | {peers[0]} | {peers[1]} | {ratio} |")
        print(rows[-1], flush=True)
        shutil.rmtree(here)  # 300% is ~3 GB of files: one scale on disk at a time
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full 206,209 customers (default 1)")
    ap.add_argument("--users", type=int, help="customers (overrides --scale)")
    ap.add_argument("--quick", action="store_true", help="1,000 customers: a smoke test, figures mean nothing")
    ap.add_argument("--brokers", help="use this broker instead of starting one")
    ap.add_argument("--segstream", default=f"{REPO}/build/release/tools/segstream")
    ap.add_argument("--work", default=os.environ.get("BENCH_DIR", "/tmp/segstream-onerun"))
    ap.add_argument("--record", default=f"{REPO}/BENCHMARKS.md", help="file the table is appended to")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--compare", nargs="+", metavar="CSV",
                    help="only compare these per-customer tables (the first is the reference) and exit")
    ap.add_argument("--curve", type=lambda text: [float(x) for x in text.split(",")], metavar="F,F,...",
                    help="the scaling curve instead: floor and backfill at each scale (e.g. 0.1,0.33,1,3)")
    ap.add_argument("--e2e-encodings", default="line,order", metavar="E,E",
                    help="replay encodings of the end-to-end step, each its own row (default line,order)")
    ap.add_argument("--e2e-rounds", type=int, default=1, metavar="N",
                    help="run the end-to-end encodings N times, alternating (line, order, line, order, ...)")
    ap.add_argument("--order-x", action="append", default=[], metavar="PROP=VALUE",
                    help="a librdkafka property for the replays of the order encoding (producer levers)")
    ap.add_argument("--peers-up-to", type=float, default=1.0, metavar="F",
                    help="with --curve: run pandas and DuckDB at scales up to F (default 1: 3x needs ~21 GB)")
    args = ap.parse_args()
    if args.compare:
        problems = compare({f"{i}:{path}": path for i, path in enumerate(args.compare)})
        for p in problems:
            print(f"onerun: DIFFERENCE {p}")
        return 1 if problems else 0
    users = 1000 if args.quick else args.users or round(FULL_USERS * args.scale)
    if users < 1 or args.scale <= 0:
        ap.error("--scale and --users take positive numbers")
    seg = os.path.abspath(args.segstream)
    floor = os.path.join(os.path.dirname(seg), "segstream-floor")
    for binary in (seg, floor):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} not built (cmake --build build/release)")
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if args.curve:
        if any(scale <= 0 for scale in args.curve):
            ap.error("--curve takes positive fractions, e.g. 0.1,0.33,1,3")
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        text = (f"### Scaling curve, {when}: `python3 tools/bench/onerun.py {' '.join(sys.argv[1:])}`\n\n"
                f"{machine()}; {versions(seg)}.\n\n" + curve(args, seg, floor, work))
        print(text)
        if not args.no_record:
            record(args.record, text)
        return 0
    py = sys.executable
    prefix = f"onerun-{os.getpid()}"  # fresh topics even on a broker other runs have used
    engines = os.path.join(REPO, "tools", "bench", "engines.py")

    broker_env = None
    brokers = args.brokers
    if not brokers:
        port = int(os.environ.get("BENCH_KAFKA_PORT", "39092"))
        broker_env = dict(os.environ, SEGSTREAM_KAFKA_PORT=str(port), SEGSTREAM_KAFKA_DIR=f"{work}/kafka")
        subprocess.check_call([f"{REPO}/tools/kafka/broker.sh", "start"], env=broker_env)
        brokers = f"127.0.0.1:{port}"
    try:
        data = f"{work}/data"
        gen = measure("gen", [seg, "gen", "--users", str(users), "--out", data], work)
        lines = sum(1 for _ in open(f"{data}/order_products__prior.csv")) - 1
        print(f"onerun: {users:,} customers, {lines:,} lines generated in {gen.wall:.1f} s", flush=True)
        figures = []

        def step(figure):
            figures.append(figure)
            print(f"onerun: {figure.name:9s} {figure.wall:8.2f} s wall {figure.cpu:8.2f} s CPU "
                  f"{figure.rss_kib / 1024:7.0f} MiB  {figure.note}", flush=True)

        step(measure("pandas", [py, engines, "pandas", data, f"{work}/pandas.csv"], work))
        step(measure("duckdb", [py, engines, "duckdb", data, f"{work}/duckdb.csv"], work))
        step(measure("floor", [floor, f"{data}/order_products__prior.csv"], work))
        # The replay that fills the topic comes first: backfill takes its partition count from it.
        # One message per line, named: the `consume` rows read it (replay's default is order).
        fill = measure("fill", [seg, "replay", "--data", data, "--brokers", brokers, "--encoding", "line"]
                       + topics(prefix), work)
        subprocess.call(["sync"])  # the broker's log writes back before anything else is timed
        step(measure("backfill", [seg, "backfill", "--data", data, "--state", f"{work}/backfill", "--brokers",
                                  brokers, "--topic", f"{prefix}.events"], work))
        consumed = []
        for encoding in args.e2e_encodings.split(","):
            # the consumer alone, and with snapshots beside it, on a topic of each encoding
            suffix = "" if encoding == "line" else f"-{encoding}"
            topic_prefix = prefix + suffix
            if encoding != "line":
                fill = measure(f"fill{suffix}", [seg, "replay", "--data", data, "--brokers", brokers, "--encoding",
                                                 encoding] + topics(topic_prefix), work)
                subprocess.call(["sync"])
            consume = measure(f"consume{suffix}", [seg, "consume", "--state", f"{work}/state{suffix}", "--brokers",
                                                   brokers, "--exit-at-end"] + topics(topic_prefix), work)
            consume.note = f"topic filled by a replay of {fill.wall:.2f} s beforehand ({encoding_note(encoding)})"
            step(consume)
            consumed.append(f"consume{suffix}")
            name = f"consume{suffix}+snapshots"
            snaps = measure(name, [seg, "consume", "--state", f"{work}/state{suffix}-snapshots", "--brokers", brokers,
                                   "--exit-at-end", "--snapshot-dir", f"{work}/consume{suffix}-snapshots",
                                   "--snapshot-every", "2"] + topics(topic_prefix), work)
            log = open(f"{work}/{name}.err").read() + open(f"{work}/{name}.out").read()
            published = len(re.findall(r"snapshot \d+ \(\d+ customers\) in", log))
            snaps.note = f"the same, with a snapshot every 2 s beside it ({published} published)"
            step(snaps)
        e2e_names = []
        for r in range(max(1, args.e2e_rounds)):
            for encoding in args.e2e_encodings.split(","):
                name = ("e2e" if encoding == "line" else f"e2e-{encoding}") + (f"-{r + 1}" if r else "")
                step(end_to_end(seg, brokers, data, work, prefix, name, encoding,
                                args.order_x if encoding == "order" else ()))
                e2e_names.append(name)
        step(measure("snapshot", [seg, "snapshot", "--state", f"{work}/state", "--out", f"{work}/snapshots"], work))

        dump(seg, f"{work}/backfill", f"{work}/backfill.csv")
        tables = {"pandas": f"{work}/pandas.csv", "duckdb": f"{work}/duckdb.csv", "backfill": f"{work}/backfill.csv"}
        for name in consumed:
            dump(seg, f"{work}/state{name[len('consume'):]}", f"{work}/{name}.csv")
            tables[name] = f"{work}/{name}.csv"
        for name in e2e_names:
            dump(seg, f"{work}/{name}-state", f"{work}/{name}.csv")
            tables[name] = f"{work}/{name}.csv"
        problems = compare(tables)
        if problems:
            fail("the engines disagree:\n  " + "\n  ".join(problems))
    finally:
        if broker_env:
            subprocess.call([f"{REPO}/tools/kafka/broker.sh", "stop"], env=broker_env)

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python3 tools/bench/onerun.py " + " ".join(sys.argv[1:])
    header = (f"### One run, {when}: `{command}`\n\n{machine()}; {versions(seg)}. "
              "Every engine's per-customer table was checked equal (all shared columns) before this was written.")
    text = table(figures, users, lines, header)
    print(text)
    if not args.no_record:
        record(args.record, text)
        print(f"onerun: written at the top of {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
