"""Wall time of the default DeepClusterer (TEMI) on synthetic 384-d embeddings, kNN included.

Data: ``n`` rows around 100 Gaussian centres on the unit sphere (float32, seed 0),
the regime of sentence embeddings. Reported per stage: the kNN search
(``skelfs.neighbors.kneighbors``, backend "auto", k=50) and the whole ``fit``.

Example (the numbers in docs/benchmarks.md)::

    python benchmarks/temi_speed.py --n 100000 --dim 384
"""

import argparse
import os
import platform
import time

import numpy as np

import common  # noqa: F401  (skelfs from this checkout when it is not installed)

from skelfs import DeepClusterer
from skelfs.neighbors import kneighbors_graph


def make_embeddings(n, dim, n_centres=100, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(n_centres, dim).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = centres[rng.randint(n_centres, size=n)] + 0.6 / np.sqrt(dim) * rng.randn(n, dim)
    return X.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--n-clusters", type=int, default=100)
    ap.add_argument("--n-heads", type=int, default=1)
    args = ap.parse_args()
    import torch

    X = make_embeddings(args.n, args.dim)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads"
    )
    # The two stages timed apart: the search as DeepClusterer runs it (k=50, backend
    # "auto", same seed), then the fit on that precomputed graph.
    t0 = time.perf_counter()
    graph = kneighbors_graph(X, 50, random_state=0, verbose=1)
    knn = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = DeepClusterer(
        n_clusters=args.n_clusters, n_heads=args.n_heads, neighbors=graph, random_state=0, verbose=1
    ).fit(X)
    train = time.perf_counter() - t0
    print(
        f"n={args.n} d={args.dim} K={args.n_clusters} heads={args.n_heads}: "
        f"kNN {knn:.1f} s + TEMI training and assignment {train:.1f} s "
        f"({c.n_epochs_} epochs) = {knn + train:.1f} s; {c.n_clusters_} clusters used"
    )


if __name__ == "__main__":
    main()
