"""Time and recall@k of the cosine kNN backends in skelfs.neighbors on synthetic embeddings.

Recall is measured against the exact search on a random subset of query rows (the exact
search of those rows only, so it stays cheap at any n): recall@k = mean over queries of
|approximate neighbours & exact neighbours| / k.

Data (float32, L2-normalised, ``--clusters`` clusters of equal size):

* ``blobs``: isotropic Gaussian blobs (centre ~ N(0, I), point = centre + N(0, I)); in high
  dimension the neighbours inside a blob are nearly random, the hard case for any index.
* ``lowrank``: centre + a point of a random ``--latent-dim``-dimensional subspace per cluster
  + small isotropic noise; closer to real encoder embeddings, which have low intrinsic
  dimension.

Examples
--------
PYTHONPATH=. python benchmarks/knn_speed.py --n 50000 --backends exact
PYTHONPATH=. python benchmarks/knn_speed.py --n 50000 200000 --backends faiss pynndescent
PYTHONPATH=. python benchmarks/knn_speed.py --kind blobs --n 50000 200000 \
    --backends pynndescent faiss

Measured (2-core x86_64 CPU shared with another benchmark using about one core; d=768,
k=50, 2000 query rows for recall; seconds / recall@50):

========  ======  ===========  ===========  ===========
data      n       exact        faiss        pynndescent
========  ======  ===========  ===========  ===========
lowrank   50k     47 / 1.000   23 / 1.000   22 / 1.000
lowrank   200k    (~750)       192 / 1.000  78 / 1.000
blobs     50k                  22 / 1.000   26 / 1.000
blobs     200k                 159 / 1.000  59 / 0.988
========  ======  ===========  ===========  ===========

pynndescent's first call in a process adds 27-41 s of numba compilation. The 200k exact
figure is the 50k one times 16 (n^2), not a run.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch

from skelfs.neighbors import _exact_search_rows, kneighbors


def make_embeddings(n, d, n_clusters, kind, latent_dim, seed):
    """Synthetic clustered float32 embeddings, L2-normalised, generated block by block."""
    rng = np.random.RandomState(seed)
    if kind == "blobs":
        centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    else:
        # Unit-norm centres; per cluster a latent subspace of spread ~1.2 and 0.3 of noise.
        centres = (rng.standard_normal((n_clusters, d)) / np.sqrt(d)).astype(np.float32)
        bases = (rng.standard_normal((n_clusters, latent_dim, d)) / np.sqrt(d)).astype(np.float32)
    labels = rng.randint(n_clusters, size=n)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 8192):
        lab = labels[s : s + 8192]
        noise = rng.standard_normal((lab.size, d)).astype(np.float32)
        if kind == "blobs":
            block = centres[lab] + noise
        else:
            z = 0.3 * rng.standard_normal((lab.size, latent_dim)).astype(np.float32)
            block = centres[lab] + 0.01 * noise
            for c in np.unique(lab):
                block[lab == c] += z[lab == c] @ bases[c]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[s : s + lab.size] = block
    return X


def recall_at_k(indices, exact_indices):
    hits = [np.intersect1d(a, b).size for a, b in zip(indices, exact_indices)]
    return float(np.mean(hits)) / indices.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--kind", choices=["blobs", "lowrank"], nargs="+", default=["lowrank"])
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--backends", nargs="+", default=["exact", "faiss", "pynndescent"])
    parser.add_argument(
        "--exact-max-n",
        type=int,
        default=60_000,
        help="skip the full exact search above this n (it grows as n^2)",
    )
    parser.add_argument("--n-queries", type=int, default=2000)
    parser.add_argument("--block-size", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"# {platform.processor() or platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, d={args.d}, k={args.k}"
    )
    if "pynndescent" in args.backends:
        # Numba compiles on the first call; time it apart from the search.
        t = time.perf_counter()
        kneighbors(
            np.random.RandomState(0).standard_normal((500, 16)),
            5,
            backend="pynndescent",
            random_state=0,
        )
        print(f"# pynndescent first-call (numba compile) overhead: {time.perf_counter() - t:.1f} s")
    print("kind,n,backend,seconds,recall_at_k,peak_rss_gb")
    for kind in args.kind:
        for n in args.n:
            X = make_embeddings(n, args.d, args.clusters, kind, args.latent_dim, args.seed)
            rng = np.random.RandomState(args.seed + 1)
            queries = np.sort(rng.choice(n, min(n, args.n_queries), replace=False))
            _, truth = _exact_search_rows(X, queries, args.k, args.block_size, torch.device("cpu"))
            for backend in args.backends:
                if backend == "exact" and n > args.exact_max_n:
                    continue
                t = time.perf_counter()
                _, idx = kneighbors(
                    X, args.k, backend=backend, block_size=args.block_size, random_state=args.seed
                )
                seconds = time.perf_counter() - t
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
                print(
                    f"{kind},{n},{backend},{seconds:.1f},"
                    f"{recall_at_k(idx[queries], truth):.4f},{rss:.2f}",
                    flush=True,
                )
            del X


if __name__ == "__main__":
    main()
