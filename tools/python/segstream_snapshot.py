"""Notebook-side reader of segstream snapshots: loads the latest complete snapshot (or a given
sequence) into a pandas DataFrame, after checking every file against the manifest's size and
CRC-32. The DataFrame's columns are those the manifest lists (format 2), so a column added
to the snapshot appears here with no change. Needs msgpack and pandas (PyPI).

    from segstream_snapshot import load
    snap = load("/var/lib/segstream/snapshots")
    snap.customers.groupby("persona").spend_cents.sum()
    snap.report["value_drivers"]
"""
import json
import os
import zlib
from dataclasses import dataclass

import msgpack
import pandas as pd

FORMATS = (1, 2)  # format 2's manifest lists the columns; format 1 had these fixed ones
FORMAT1_COLUMNS = ["user_id", "partition", "orders", "max_order", "items", "priced_items", "spend_cents", "reorders",
                   "median_days", "loyalty", "spending", "frequency", "low_activity", "region", "age_group",
                   "income_group", "family", "primary_profile", "persona", "basket_size", "order_rate",
                   "reorder_rate"]


@dataclass
class Snapshot:
    sequence: int
    path: str
    manifest: dict
    report: dict
    customers: pd.DataFrame


class SnapshotError(Exception):
    pass


def _crc(path):
    crc, size = 0, 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, crc


def latest_sequence(directory):
    seqs = [int(n) for n in os.listdir(directory) if len(n) == 10 and n.isdigit()]
    if not seqs:
        raise SnapshotError(f"no snapshot under {directory}")
    return max(seqs)


def load(directory, sequence=None):
    seq = sequence or latest_sequence(directory)
    path = os.path.join(directory, f"{seq:010d}")
    with open(os.path.join(path, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest.get("format") not in FORMATS:
        raise SnapshotError(f"{path}: format {manifest.get('format')} is not one of {FORMATS}")
    for entry in manifest["files"]:
        size, crc = _crc(os.path.join(path, entry["name"]))
        if (size, crc) != (entry["bytes"], entry["crc32"]):
            raise SnapshotError(f"{path}/{entry['name']} does not match its manifest")
    with open(os.path.join(path, "report.json")) as f:
        report = json.load(f)
    with open(os.path.join(path, "customers.msgpack"), "rb") as f:
        rows = list(msgpack.Unpacker(f, raw=False))
    columns = [c["name"] for c in manifest["columns"]] if manifest["format"] >= 2 else FORMAT1_COLUMNS
    if any(len(r) != len(columns) for r in rows):
        raise SnapshotError(f"{path}: a row does not have the {len(columns)} columns of the manifest")
    customers = pd.DataFrame(rows, columns=columns)
    return Snapshot(seq, path, manifest, report, customers)
