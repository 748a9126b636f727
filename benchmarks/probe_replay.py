"""Replay the beta="auto" search with two probes on the same stored stages.

For each real set and budget (seed 0), one default ``ELFSSelector(beta=0.0)`` fit gives
the pseudo-labels and scores; ``selector._auto_beta`` then runs once with this checkout's
probe and once with the ``probe_accuracy`` of another ``_probe.py`` (e.g. from an older
commit), each with 1 and 2 threads. Prints the chosen betas, times, the largest
accuracy difference between the probes and whether each probe's accuracies are the
same with 1 and 2 threads.

    git show 9f3d58b:skelfs/_probe.py > /tmp/old_probe.py
    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/probe_replay.py \\
        --old-probe /tmp/old_probe.py
"""

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch

from common import DATA_DIR, DATASETS, load_dataset

import skelfs.selector as selector
from skelfs import ELFSSelector
from skelfs._threads import limit_threads
from skelfs.pruning import DoubleEndPruner


def search(probe, X, labels, scores, n_select, seed, threads):
    original = selector.probe_accuracy
    selector.probe_accuracy = probe
    try:
        with limit_threads(threads):
            t0 = time.perf_counter()
            beta, accuracies = selector._auto_beta(
                X,
                labels,
                scores,
                n_select,
                DoubleEndPruner(random_state=seed),
                np.random.RandomState(seed),
                device=torch.device("cpu"),
            )
            return beta, accuracies, time.perf_counter() - t0
    finally:
        selector.probe_accuracy = original


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-probe", required=True, help="path of another _probe.py")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.05, 0.1, 0.3])
    parser.add_argument("--data-dir", default=DATA_DIR)
    args = parser.parse_args()
    # Loaded as a module of the skelfs package, so that its relative imports resolve.
    spec = importlib.util.spec_from_file_location("skelfs._replayed_probe", args.old_probe)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    probes = {"old": old.probe_accuracy, "new": selector.probe_accuracy}
    totals = dict.fromkeys(probes, 0.0)
    same_beta = invariant_old = invariant_new = cells = 0
    for name in args.datasets:
        X = load_dataset(Path(args.data_dir), name)[0]
        for budget in args.budgets:
            fit = ELFSSelector(budget=budget, beta=0.0, random_state=0, n_jobs=2).fit(X)
            stages = (X, fit.pseudo_labels_, fit.scores_, fit.n_selected_, 0)
            runs = {
                k: [search(p, *stages, threads) for threads in (2, 1)] for k, p in probes.items()
            }
            for k in probes:
                totals[k] += runs[k][0][2]
            cells += 1
            same_beta += runs["old"][0][0] == runs["new"][0][0]
            same = {k: runs[k][0][1] == runs[k][1][1] for k in probes}
            invariant_old += same["old"]
            invariant_new += same["new"]
            diff = max(abs(runs["old"][0][1][b] - runs["new"][0][1][b]) for b in runs["old"][0][1])
            print(
                f"{name} {budget:g}: beta old {runs['old'][0][0]} new {runs['new'][0][0]} | "
                f"{runs['old'][0][2]:.2f} s / {runs['new'][0][2]:.2f} s | largest accuracy "
                f"difference {diff:.4f} | same with 1 and 2 threads: old "
                f"{same['old']}, new {same['new']}",
                flush=True,
            )
    print(
        f"time old {totals['old']:.1f} s, new {totals['new']:.1f} s; "
        f"same beta {same_beta}/{cells}; "
        f"thread-invariant: old {invariant_old}/{cells}, new {invariant_new}/{cells}"
    )


if __name__ == "__main__":
    main()
