"""Grid search over beta with and without ``ELFSSelector(memory=...)``.

The README's example: ``GridSearchCV(CoresetEstimator(ELFSSelector(budget=0.2), LR),
{"selector__beta": [0.0, 0.1, 0.2]})`` with 5 folds runs 5 x 3 + 1 = 16 ELFS fits, each
redoing k-means and the proxy training although beta changes only the pruning. With
``memory`` the expensive stages run once per distinct training fold (5 + 1 refit on the
whole pool = 6 times). This script counts the stage fits and times both runs on
synthetic clustered embeddings (labels = the generating cluster; nothing downloaded).

Command (results in docs/benchmarks.md, "Grid search over beta")::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/grid_search_memory.py \
        --n 5000 --dim 384
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

import skelfs.selector as selector_module
from skelfs import CoresetEstimator, ELFSSelector


def run(X, y, memory):
    calls = []
    real = selector_module._fit_stages

    def counting(clusterer, scorer, Z):
        calls.append(1)
        return real(clusterer, scorer, Z)

    selector_module._fit_stages = counting
    try:
        est = CoresetEstimator(
            ELFSSelector(budget=0.2, memory=memory), LogisticRegression(max_iter=300)
        )
        t0 = time.perf_counter()
        search = GridSearchCV(est, {"selector__beta": [0.0, 0.1, 0.2]}, cv=5).fit(X, y)
        seconds = time.perf_counter() - t0
    finally:
        selector_module._fit_stages = real
    return len(calls), seconds, search


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--centers", type=int, default=50)
    args = ap.parse_args(argv)
    X, y = make_blobs(
        args.n, centers=args.centers, n_features=args.dim, cluster_std=4.0, random_state=0
    )
    X = X.astype(np.float32)
    fits_plain, secs_plain, plain = run(X, y, None)
    with tempfile.TemporaryDirectory() as cache:
        fits_mem, secs_mem, cached = run(X, y, cache)
    same = np.allclose(plain.cv_results_["mean_test_score"], cached.cv_results_["mean_test_score"])
    print(f"{args.n} x {args.dim}, 5 folds x 3 betas + refit")
    print("| memory | stage fits | seconds |\n|---|---|---|")
    print(f"| None | {fits_plain} | {secs_plain:.1f} |")
    print(f"| cache dir | {fits_mem} | {secs_mem:.1f} |")
    print(f"same cv scores: {same}; best beta {plain.best_params_} / {cached.best_params_}")


if __name__ == "__main__":
    main()
