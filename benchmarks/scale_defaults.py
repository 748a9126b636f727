"""Which passes pay at scale: selections with fewer proxy epochs or k-means restarts.

For each ``--sizes`` n (the ``benchmarks/scale.py`` synthetic memory map, n x 768
float32), the pseudo-labels come from the default ``KMeansClusterer`` (K by the
selector's rule, ``n_init=3``), the difficulty scores from ``DynamicsScorer`` with
20 epochs (the full setting, seeds 0 and 1) and with fewer epochs (seed 0), and the
10% selection from ``DoubleEndPruner`` with one fixed beta (0.3, what ``beta="auto"``
picks most often) and seed 0. Reported per variant: wall time, Spearman correlation of
its scores with the full setting's, and the overlap of its selection with the full
setting's (|A & B| / budget). The noise floor is the same 20-epoch run with another
seed: a cheaper setting whose overlap reaches it changes the selection no more than
the seed does. ``--restarts`` also compares k-means ``n_init=1`` with 3 (the labels'
adjusted Rand index, and the overlap of the 20-epoch selections built on each).
``--batch-sizes`` adds 5-epoch variants at other batch sizes (fewer, larger SGD steps at
the same learning rate), with the proxy loop's GFLOP/s (``4 n d K epochs`` over the
scorer's fit time, standardisation included) beside the plain matmul's.

Command (alone on the machine)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/scale_defaults.py \
        --sizes 100000 300000 1000000 --epochs 10 5 3 --restarts
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from scale import _matmul_gflops, ensure_data, proxy_loop_flops  # noqa: E402

from skelfs import DoubleEndPruner, DynamicsScorer, KMeansClusterer  # noqa: E402
from skelfs._utils import floor_count  # noqa: E402
from skelfs.selector import MAX_AUTO_CLUSTERS  # noqa: E402

BETA = 0.3
BUDGET = 0.1


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def select(scores, labels, n_select):
    pruner = DoubleEndPruner(beta=BETA, random_state=0)
    return pruner.select(scores, n_select, groups=labels, beta=BETA)


def overlap(a, b, n_select):
    return np.intersect1d(a, b).size / n_select


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 5, 3])
    parser.add_argument("--restarts", action="store_true")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    args = parser.parse_args()
    print("| n | variant | seconds | score Spearman vs full | selection overlap vs full |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        X = np.load(ensure_data(args.workdir, n, 768, 0), mmap_mode="r")
        n_select = floor_count(BUDGET, n)
        k = min(max(2, n_select // 2), MAX_AUTO_CLUSTERS, n)
        km, t_km = timed(lambda: KMeansClusterer(n_clusters=k, random_state=0).fit(X))
        labels = km.labels_
        print(f"| {n:,} | k-means n_init=3 (K={k}) | {t_km:.1f} | | |", flush=True)

        def scores(epochs, seed, y=labels, batch_size=256):
            scorer = DynamicsScorer(epochs=epochs, batch_size=batch_size, random_state=seed)
            return timed(lambda: scorer.fit(X, y).scores_)

        full, t_full = scores(20, 0)
        ref = select(full, labels, n_select)
        print(f"| {n:,} | 20 epochs (full) | {t_full:.1f} | 1 | 1 |", flush=True)
        other, t_other = scores(20, 1)
        print(
            f"| {n:,} | 20 epochs, scorer seed 1 (noise floor) | {t_other:.1f} | "
            f"{spearmanr(full, other)[0]:.3f} | "
            f"{overlap(ref, select(other, labels, n_select), n_select):.3f} |",
            flush=True,
        )
        for epochs in args.epochs:
            s, t = scores(epochs, 0)
            print(
                f"| {n:,} | {epochs} epochs | {t:.1f} | {spearmanr(full, s)[0]:.3f} | "
                f"{overlap(ref, select(s, labels, n_select), n_select):.3f} |",
                flush=True,
            )
        for batch_size in args.batch_sizes:
            s, t = scores(5, 0, batch_size=batch_size)
            gflops = proxy_loop_flops(n, X.shape[1], k, 5) / t / 1e9
            print(
                f"| {n:,} | 5 epochs, batch {batch_size} ({gflops:.0f} GFLOP/s; matmul "
                f"{_matmul_gflops(torch, 50):.0f}) | {t:.1f} | {spearmanr(full, s)[0]:.3f} | "
                f"{overlap(ref, select(s, labels, n_select), n_select):.3f} |",
                flush=True,
            )
        if args.restarts:
            from sklearn.metrics import adjusted_rand_score

            one, t_one = timed(
                lambda: KMeansClusterer(n_clusters=k, n_init=1, random_state=0).fit(X)
            )
            s, _ = scores(20, 0, y=one.labels_)
            print(
                f"| {n:,} | k-means n_init=1 (ARI vs n_init=3: "
                f"{adjusted_rand_score(labels, one.labels_):.3f}) | {t_one:.1f} | | "
                f"{overlap(ref, select(s, one.labels_, n_select), n_select):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
