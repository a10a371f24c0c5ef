"""Notebook-side reader of segstream snapshots: loads the latest complete snapshot (or a given
sequence) into a pandas DataFrame, after checking every file against the manifest's size and
CRC-32. The DataFrame's columns are those the manifest lists (format 2), so a column added
to the snapshot appears here with no change. Needs msgpack and pandas (PyPI).

    from segstream_snapshot import load
    snap = load("/var/lib/segstream/snapshots")              # the latest complete snapshot
    snap = load("/var/lib/segstream/snapshots", 12)          # snapshot 12
    snap = load("/var/lib/segstream/snapshots/0000000012")   # the same: a snapshot directory itself
    every = load(["/srv/a/snapshots", "/srv/b/snapshots"])  # several instances' rows as one (load_many)
    snap.customers.groupby("persona").spend_cents.sum()
    snap.report["value_drivers"]
    snap.as_of                                               # datetime.date of the latest event applied

`as_of` (and `event_time_max_ms`) is the event-time watermark of manifest format 3: the UTC day
of the latest event time the snapshot's state had applied, the date a report is "as of". It is
None for a snapshot of an empty state and for formats 1 and 2, which did not carry it.

The label and group columns (CATEGORY_ORDERS) load as ordered pandas Categoricals in the rule
order of segment/segment.c, so `income_group` sorts Low < Middle < High and `loyalty` New <
Regular < Loyal. A value the order does not know (a snapshot of a newer segstream) is kept, not
lost: it is added after the known ones, in the order of first appearance. A null stays NaN. The
nullable integer columns (age, income, n_dependants) are float with NaN where null.
"""
import datetime
import json
import os
import zlib
from dataclasses import dataclass

import msgpack
import pandas as pd

FORMATS = (1, 2, 3)  # 3 adds the event-time watermark (and, since #18, events_topic and partitions);
#                     2 lists the columns; 1 had these fixed ones
FORMAT1_COLUMNS = ["user_id", "partition", "orders", "max_order", "items", "priced_items", "spend_cents", "reorders",
                   "median_days", "loyalty", "spending", "frequency", "low_activity", "region", "age_group",
                   "income_group", "family", "primary_profile", "persona", "basket_size", "order_rate",
                   "reorder_rate"]

# The rule order of every label and group column: the order of the names in segment/segment.c
# (segment_*_name), which is the order of their enums. The one place the Python side keeps it.
CATEGORY_ORDERS = {
    "loyalty": ["New customer", "Regular customer", "Loyal customer"],
    "spending": ["unknown", "Low spender", "High spender"],
    "frequency": ["unknown", "Frequent customer", "Regular customer", "Non-frequent customer"],
    "region": ["Northeast", "Midwest", "South", "West"],
    "age_group": ["18-35", "36-55", "56+"],
    "income_group": ["Low", "Middle", "High"],
    "family": ["Family", "Single"],
    "primary_profile": ["Health-Focused", "Family Stock-Up", "Convenience", "Snack & Beverage",
                        "Household Essentials", "Mixed / Other", "Unknown"],
}


@dataclass
class Snapshot:
    sequence: int
    path: str
    manifest: dict
    report: dict
    customers: pd.DataFrame
    parts: list = None  # load_many(): the snapshots merged

    @property
    def event_time_max_ms(self):
        """The latest event time applied (ms since the epoch), or None (no event; format < 3)."""
        return self.manifest.get("event_time_max_ms")

    @property
    def as_of(self):
        """The UTC day of the watermark as a datetime.date, or None."""
        ms = self.event_time_max_ms
        return None if ms is None else (datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)).date()


class SnapshotError(Exception):
    pass


def _crc(path):
    crc, size = 0, 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, crc


# Format 1's column types (type, nullable), as the C reader's format1_columns.
FORMAT1_TYPES = [("int", False)] * 8 + [("real", True)] + [("text", False)] * 3 + [("int", False)] + \
                [("text", True)] * 4 + [("text", False), ("text", True)] + [("real", True)] * 3


def _verify(path, manifest):
    """Checks every file the manifest lists (plain names, each once) against its size and CRC-32,
    as the C reader does; customers.msgpack and report.json, the files read, must be listed.
    @return the bytes of customers.msgpack, the very bytes checked."""
    files = manifest.get("files")
    if not isinstance(files, list):
        raise SnapshotError(f"{path}: the manifest lists no files")
    names, rows = set(), None
    for entry in files:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name in (".", "..") or len(name) >= 128:
            raise SnapshotError(f"{path}: unreadable file entry in the manifest")
        if name in names:
            raise SnapshotError(f"{path}: the manifest lists {name} twice")
        names.add(name)
        if name == "customers.msgpack":
            with open(os.path.join(path, name), "rb") as f:
                rows = f.read()
            size, crc = len(rows), zlib.crc32(rows)
        else:
            size, crc = _crc(os.path.join(path, name))
        if (size, crc) != (entry.get("bytes"), entry.get("crc32")):
            raise SnapshotError(f"{path}/{name} does not match its manifest")
    for needed in ("customers.msgpack", "report.json"):
        if needed not in names:
            raise SnapshotError(f"{path}: the manifest does not list {needed}")
    return rows


def _value_ok(v, kind, nullable):
    if v is None:
        return nullable
    if kind == "int":
        return type(v) is int and -2**63 <= v < 2**63
    if kind == "real":
        return type(v) is float or (type(v) is int and -2**63 <= v < 2**64)
    return kind == "text" and type(v) is str


def _rows(path, data, columns, types, count):
    """The rows of customers.msgpack, each checked as the C reader checks it: an array of the
    columns (no container inside, msgpack bounded by the column count before it allocates),
    values of the column's type, user_id in 0..2^32-1, exactly the manifest's count, no byte after."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1), max_array_len=len(columns),
                                max_map_len=0, max_bin_len=0, max_ext_len=0, max_str_len=len(data))
    unpacker.feed(data)
    rows, user = [], columns.index("user_id") if "user_id" in columns else -1
    try:
        for row in unpacker:
            if type(row) is not list or len(row) != len(columns) or \
                    not all(_value_ok(v, *t) for v, t in zip(row, types)) or \
                    (user >= 0 and row[user] is not None and not 0 <= row[user] <= 0xFFFFFFFF):
                raise SnapshotError(f"{path}: row {len(rows)} does not have the {len(columns)} columns of the manifest")
            rows.append(row)
    except (ValueError, msgpack.UnpackException) as e:
        raise SnapshotError(f"{path}: row {len(rows)}: {e}") from None
    if unpacker.tell() != len(data):
        raise SnapshotError(f"{path}: customers.msgpack ends inside row {len(rows)}")
    if type(count) is not int or count != len(rows):
        raise SnapshotError(f"{path}: {len(rows)} rows, the manifest says {count}")
    return rows


def latest_sequence(directory):
    seqs = [int(n) for n in os.listdir(directory) if len(n) == 10 and n.isdigit()]
    if not seqs:
        raise SnapshotError(f"no snapshot under {directory}")
    return max(seqs)


def _is_snapshot_dir(path):
    name = os.path.basename(os.path.normpath(path))
    return len(name) == 10 and name.isdigit() and os.path.isfile(os.path.join(path, "manifest.json"))


def categorize(customers):
    """The CATEGORY_ORDERS columns of customers as ordered Categoricals, in place; a value not in
    the order is added after the known ones (first appearance first). @return customers."""
    for col, order in CATEGORY_ORDERS.items():
        if col not in customers.columns:
            continue
        extra = [v for v in pd.unique(customers[col].dropna()) if v not in order]
        customers[col] = pd.Categorical(customers[col], categories=order + extra, ordered=True)
    return customers


def load(directory, sequence=None):
    """The snapshot `sequence` under `directory` (the latest complete one if None), or, when
    `directory` is a snapshot directory itself (DIR/NNNNNNNNNN), that one (a `sequence` given
    too must be its own). Every file is checked against the manifest first. A list or tuple of
    directories is the global view of several instances' snapshots: load_many()."""
    if isinstance(directory, (list, tuple)):
        if sequence is not None:
            raise SnapshotError("a sequence names one snapshot: give each as DIR/NNNNNNNNNN")
        return load_many(directory)
    seq, path, manifest, report, columns, types, rows = _read(directory, sequence)
    customers = categorize(pd.DataFrame(rows, columns=columns))
    return Snapshot(seq, path, manifest, report, customers)


def _read(directory, sequence):
    """One snapshot, checked: (sequence, path, manifest, report, columns, types, rows)."""
    if _is_snapshot_dir(directory):
        own = int(os.path.basename(os.path.normpath(directory)))
        if sequence is not None and sequence != own:
            raise SnapshotError(f"{directory} is snapshot {own}, not {sequence}")
        directory, sequence = os.path.dirname(os.path.normpath(directory)), own
    seq = sequence or latest_sequence(directory)
    path = os.path.join(directory, f"{seq:010d}")
    try:
        with open(os.path.join(path, "manifest.json"), "rb") as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path} has no manifest") from None
    except ValueError as e:  # not UTF-8, not JSON
        raise SnapshotError(f"{path}: the manifest is not JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{path}: the manifest is not a JSON object")
    if manifest.get("format") not in FORMATS:
        raise SnapshotError(f"{path}: format {manifest.get('format')} is not one of {FORMATS}")
    data = _verify(path, manifest)
    try:
        with open(os.path.join(path, "report.json"), "rb") as f:
            report = json.loads(f.read().decode("utf-8"))
    except ValueError as e:
        raise SnapshotError(f"{path}: report.json is not JSON ({e})") from None
    try:
        listed = manifest["columns"] if manifest["format"] >= 2 else None
        columns = [c["name"] for c in listed] if listed is not None else FORMAT1_COLUMNS
        types = [(c["type"], c["nullable"]) for c in listed] if listed is not None else FORMAT1_TYPES
    except (KeyError, TypeError):
        raise SnapshotError(f"{path}: unreadable column entry in the manifest") from None
    rows = _rows(path, data, columns, types, manifest.get("customers"))
    return seq, path, manifest, report, columns, types, rows


def _offset_key(o):
    """The state's key order of source offsets: topic (bytes), then partition (unsigned)."""
    return o["topic"].encode(), o["partition"] & 0xFFFFFFFF


def load_many(directories):
    """The global view of several instances' snapshots (each a directory as load() takes), each
    covering its own partitions of one events topic: one Snapshot whose `customers` holds every
    row, in the order one state of all their partitions has them (partition, then user_id), as
    `segstream snapshot merge` writes them. Refused (SnapshotError, as the merge refuses them): a
    partition two snapshots cover (the message names it and both), other events topics, formats
    or columns, a manifest without "partitions" (written before segstream listed them), a row of
    a partition its snapshot does not cover.

    `manifest` lists the partitions, the source offsets (one per topic and partition; a
    reference topic's that instances read to different offsets: the highest), the customers and
    the watermark of all of them; `sequence` is None, `path` the list of the snapshots' paths,
    `parts` the snapshots themselves. The `cluster` column is null: clusters are made over all
    rows at once, which `segstream snapshot merge` does, with the report (`report` is None here:
    its value drivers and clusters are not sums of the instances' reports)."""
    if not directories:
        raise SnapshotError("no snapshot to merge")
    parts = [_read(d, None) for d in directories]
    first = parts[0]
    owner, offsets, rows = {}, {}, []
    for seq, path, manifest, report, columns, types, part_rows in parts:
        if manifest.get("format") != first[2].get("format") or (columns, types) != (first[4], first[5]):
            raise SnapshotError(f"{path}: another manifest format or other columns than {first[1]}")
        topic, partitions = manifest.get("events_topic"), manifest.get("partitions")
        if not isinstance(topic, str) or not isinstance(partitions, list) or \
                not all(type(p) is int and 0 <= p < 2**31 for p in partitions):
            raise SnapshotError(f"{path}: the manifest names no events topic and partitions "
                                "(written before segstream listed them: publish a new snapshot)")
        if topic != first[2].get("events_topic"):
            raise SnapshotError(f"{path}: its events topic is {topic}, {first[1]}'s {first[2].get('events_topic')}")
        for p in partitions:
            if p in owner:
                raise SnapshotError(f"partition {p} of {topic} is in both {owner[p]} and {path}: "
                                    "one partition, one owner")
            owner[p] = path
        for o in manifest.get("source_offsets") or []:
            key = (o["topic"], o["partition"])
            if key in offsets and o["topic"] == topic:
                raise SnapshotError(f"two snapshots hold an offset of partition {o['partition']} of {topic}")
            if key not in offsets or o["next_offset"] > offsets[key]["next_offset"]:
                offsets[key] = dict(o)
        if "partition" in columns:
            at = columns.index("partition")
            stray = {r[at] for r in part_rows} - set(partitions)
            if stray:
                raise SnapshotError(f"{path}: rows of partition {min(stray)}, which it does not cover")
        rows.extend(list(r) for r in part_rows)  # copies: the cluster is cleared below, not in parts
    columns = first[4]
    if "partition" in columns and "user_id" in columns:
        p, u = columns.index("partition"), columns.index("user_id")
        rows.sort(key=lambda r: (r[p], r[u]))
    if "cluster" in columns:
        c = columns.index("cluster")
        for r in rows:
            r[c] = None
    marks = [m.get("event_time_max_ms") for _, _, m, *_ in parts if m.get("event_time_max_ms") is not None]
    manifest = {"format": first[2].get("format"), "events_topic": first[2].get("events_topic"),
                "partitions": sorted(owner), "source_offsets": sorted(offsets.values(), key=_offset_key),
                "customers": len(rows), "event_time_max_ms": max(marks) if marks else None,
                "columns": first[2].get("columns")}
    customers = categorize(pd.DataFrame(rows, columns=columns))
    snaps = [Snapshot(seq, path, m, rep, categorize(pd.DataFrame(r, columns=cols)))
             for seq, path, m, rep, cols, _, r in parts]
    return Snapshot(None, [s.path for s in snaps], manifest, None, customers, snaps)
