#!/usr/bin/env python3
"""The states of a consumer group's members against one backfill of the same files (#18).

    check_group_states.py TOPIC BACKFILL INSTANCE...              exit 0 if every partition's owner
                                                                  holds exactly the backfill's records
    check_group_states.py --caught-up TOPIC BACKFILL INSTANCE...  exit 0 once every partition is at
                                                                  the backfill's end in some instance

Each argument is a pair SNAPSHOT_DIR:DUMP_CSV (DUMP_CSV unused with --caught-up): the latest
snapshot's manifest gives the state's next offsets of TOPIC (`source_offsets`), `segstream dump`
its records. BACKFILL is `segstream backfill --brokers` of the same files over the same topic:
its offsets are the partitions' ends, its records the truth for each partition.

Until the hand-off lands (#18), a member keeps what it consumed, always from its own offset of a
partition onwards: its records of a partition are those of the partition's first events up to its
offset. So the member with the highest offset of a partition (the owner) must be at the end and
hold exactly the backfill's records of that partition: every event applied once, none lost (so
must any other member at the end of that partition). The
`cluster` column is left out: k-means clusters depend on the whole population a state holds.
"""
import csv
import glob
import json
import os
import sys

SKIP = {"cluster"}


def offsets(snap_dir, topic):
    manifests = sorted(glob.glob(os.path.join(snap_dir, "*", "manifest.json")))
    if not manifests:
        return {}
    with open(manifests[-1]) as f:
        m = json.load(f)
    return {o["partition"]: o["next_offset"] for o in m["source_offsets"] if o["topic"] == topic}


def rows_by_partition(dump):
    out = {}
    with open(dump, newline="") as f:
        for row in csv.DictReader(f):
            key = tuple((k, v) for k, v in row.items() if k not in SKIP)
            out.setdefault(int(row["partition"]), {})[int(row["user_id"])] = key
    return out


def main(argv):
    caught_up = argv[:1] == ["--caught-up"]
    if caught_up:
        argv = argv[1:]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    topic, pairs = argv[0], [a.split(":", 1) for a in argv[1:]]
    ends = offsets(pairs[0][0], topic)
    if not ends:
        print(f"no offsets of {topic} in the backfill's snapshot {pairs[0][0]}")
        return 1
    inst = [offsets(s, topic) for s, _ in pairs[1:]]
    owners, behind = {}, []
    for p, end in sorted(ends.items()):
        have = [(o.get(p, 0), i) for i, o in enumerate(inst)]
        best, owner = max(have)
        owners[p] = owner
        if best != end:
            behind.append(f"partition {p}: highest offset {best} (instance {owner + 1}), end {end}")
    if caught_up or behind:
        for b in behind:
            print(b)
        return 1 if behind else 0
    truth = rows_by_partition(pairs[0][1])
    dumps = [rows_by_partition(d) for _, d in pairs[1:]]
    bad = 0
    for p, owner in sorted(owners.items()):
        want = truth.get(p, {})
        at_end = [i for i, o in enumerate(inst) if o.get(p, 0) == ends[p]]  # the owner and any tie
        for i in at_end:
            got = dumps[i].get(p, {})
            if want == got:
                continue
            bad += 1
            owner = i
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            differ = sorted(u for u in set(want) & set(got) if want[u] != got[u])[:5]
            print(f"partition {p} (instance {owner + 1}): missing users {missing}, extra {extra}, differing {differ}")
            for u in differ[:1]:
                print("  backfill:", dict(want[u]))
                print("  instance:", dict(got[u]))
    users = sum(len(v) for v in truth.values())
    print(f"{len(owners)} partitions, {users} customers: owners by partition "
          + ",".join(str(owners[p] + 1) for p in sorted(owners))
          + (": every owner equals the backfill" if not bad else f": {bad} partitions differ"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
