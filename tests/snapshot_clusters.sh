#!/usr/bin/env bash
# The behavioural clusters of a snapshot equal scikit-learn's KMeans on the same standardised
# matrix from the same initial centres (both exported in report.json): the same cluster for
# every customer, the inertia to 1e-9 relative; excluded customers are -1; the same state gives
# the same clusters on every run (the second snapshot starts from the first's centres, and
# dump from k-means++); -T clusters / cluster_seed reach them.
#   snapshot_clusters.sh SEGSTREAM_BINARY REPO_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$seg" gen --users 3000 --seed 9 --out "$tmp/data" --catalog "$repo/data/instacart" > /dev/null
"$seg" backfill --data "$tmp/data" --state "$tmp/state" --partitions 4 > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" > /dev/null
"$seg" snapshot --state "$tmp/state" --out "$tmp/snaps" -T clusters=3 -T cluster_seed=7 > /dev/null
"$seg" dump --state "$tmp/state" > "$tmp/dump.csv"
"$py" - "$tmp" "$repo/tools/python" <<'PY'
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

sys.path.insert(0, sys.argv[2])
from segstream_snapshot import load

tmp = sys.argv[1]
FEATURES = ["basket_size", "order_rate", "reorder_rate", "log_spend"]


def check(snap, k_expected, seed_expected):
    rep = snap.report["clusters"]
    df = snap.customers.sort_values("user_id")
    assert rep["k"] == k_expected and rep["seed"] == seed_expected, (rep["k"], rep["seed"])
    assert rep["features"] == FEATURES, rep["features"]
    excluded = (df.low_activity == 1) | df.order_rate.isna()
    assert (df.cluster[excluded] == -1).all()
    assert int(excluded.sum()) == rep["excluded"] > 0
    inc = df[~excluded]
    x = np.column_stack([inc.basket_size, inc.order_rate, inc.reorder_rate, np.log1p(inc.spend_cents / 100.0)])
    assert np.allclose(x.mean(axis=0), rep["mean"], rtol=1e-12), (x.mean(axis=0), rep["mean"])
    assert np.allclose(x.std(axis=0), rep["sd"], rtol=1e-12), (x.std(axis=0), rep["sd"])
    z = (x - np.array(rep["mean"])) / np.array(rep["sd"])
    init = np.array(rep["initial_centres"])
    assert init.shape == (k_expected, 4), init.shape
    if rep["initial_centres_from"] == "k-means++":  # k-means++ picks points of the matrix
        for c in init:
            assert np.abs(z - c).max(axis=1).min() < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = KMeans(n_clusters=k_expected, init=init, n_init=1, tol=0.0, max_iter=300, algorithm="lloyd").fit(z)
    got = inc.cluster.to_numpy()
    assert (got == km.labels_).all(), f"{(got != km.labels_).sum()} customers in another cluster than sklearn's"
    assert abs(km.inertia_ - rep["inertia"]) <= 1e-9 * km.inertia_, (km.inertia_, rep["inertia"])
    sizes = np.bincount(got, minlength=k_expected)
    for c, cl in enumerate(rep["clusters"]):
        assert cl["cluster"] == c and cl["customers"] == sizes[c] > 0, (c, cl, sizes)
        assert cl["spend_cents"] == int(inc.spend_cents[got == c].sum())
        assert np.allclose([cl["centre"][f] for f in FEATURES], x[got == c].mean(axis=0), rtol=1e-9)
        assert np.allclose(cl["centre_standardised"], km.cluster_centers_[c], rtol=1e-9, atol=1e-12)
        assert cl["name"].endswith("baskets") or "baskets," in cl["name"], cl["name"]
    return df


starts = [load(f"{tmp}/snaps", s).report["clusters"]["initial_centres_from"] for s in (1, 2, 3)]
assert starts == ["k-means++", "snapshot 1", "k-means++"], starts  # warm from the previous when k and seed agree
a = check(load(f"{tmp}/snaps", 1), 5, 1)
b = check(load(f"{tmp}/snaps", 2), 5, 1)
assert (a.cluster.to_numpy() == b.cluster.to_numpy()).all()
r1, r2 = load(f"{tmp}/snaps", 1).report["clusters"], load(f"{tmp}/snaps", 2).report["clusters"]
assert r1["clusters"] == r2["clusters"] and r1["inertia"] == r2["inertia"], "the same state, other clusters"
check(load(f"{tmp}/snaps", 3), 3, 7)
dump = pd.read_csv(f"{tmp}/dump.csv").sort_values("user_id")
assert (dump.cluster.to_numpy() == a.cluster.to_numpy()).all(), "dump's clusters differ from the snapshot's"
print("clusters: equal to scikit-learn's KMeans (k=5 and k=3), the same on every run")
PY
