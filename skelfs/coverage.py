"""Kernel coverage on a sparse kNN graph, and its lazy greedy maximiser.

Facility location and MaxHerding (Bae et al., ECCV 2024) both maximise a *generalised
coverage*

    C(S) = sum_i w_i * max_{j in S} k(i, j)

over a set ``S`` of selected rows, for a similarity kernel ``k`` and customer weights
``w`` (1 by default). They differ only in the kernel: facility location uses the cosine
similarity ``1 - d``, MaxHerding a Gaussian ``exp(-d / bandwidth)`` of the cosine
distance ``d`` (on L2-normalised rows, ``||x - x'||**2 = 2 d``, so this is the usual
Gaussian kernel of width ``sqrt(bandwidth)``). The published implementations build the
dense ``n x n`` kernel; here ``k(i, j)`` is kept only for ``j`` among the ``k`` nearest
rows of ``i`` (and ``k(i, i) = 1``), so memory is ``O(n * k)``. With a Gaussian whose
bandwidth is small against the kNN radius (see :func:`auto_bandwidth`), what the graph
drops is a few percent of the kernel at most.

``C`` is monotone submodular, so greedy selection is ``(1 - 1/e)``-optimal, and lazy
evaluations (stale gains are upper bounds) give the plain greedy's answer faster.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp

from ._utils import progress

KERNELS = ("cosine", "gaussian")
# bandwidth="auto": the kernel at the median row's k-th neighbour is exp(-AUTO_DECAY),
# about 2%, so truncating the kernel to the kNN graph loses little of it.
AUTO_DECAY = 4.0


def auto_bandwidth(distances):
    """Gaussian bandwidth for ``exp(-d / bandwidth)`` from kNN distances (sorted rows).

    ``median(d_k) / AUTO_DECAY``, with ``d_k`` every row's distance to its farthest
    listed neighbour: the kernel then decays to ``exp(-4)`` at the typical kNN radius,
    so the sparse graph approximates the dense kernel, and the coverage stays local
    (a row is served by rows of its own neighbourhood, as in ProbCover) without
    ProbCover's sensitivity to a hard radius. A tiny floor keeps duplicated pools finite.
    """
    radius = float(np.median(np.asarray(distances, dtype=np.float64)[:, -1]))
    return max(radius / AUTO_DECAY, 1e-12)


def similarity_graph(distances, indices, *, kernel="cosine", bandwidth=None):
    """Sparse kernel ``k`` (rows = served rows, columns = facilities) from kNN lists.

    ``k[i, i] = 1`` and, for ``j`` in ``kNN(i)``, ``k[i, j] = max(0, 1 - d_ij)``
    (``kernel="cosine"``) or ``exp(-d_ij / bandwidth)`` (``kernel="gaussian"``).

    Parameters
    ----------
    distances : ndarray of shape (n_samples, n_neighbors)
        Cosine distances to each row's neighbours.
    indices : ndarray of shape (n_samples, n_neighbors)
        The neighbours' row indices (self excluded).
    kernel : {"cosine", "gaussian"}, default="cosine"
        Similarity as a function of the cosine distance.
    bandwidth : float, default=None
        Width of the Gaussian kernel (required for ``kernel="gaussian"``).

    Returns
    -------
    similarity : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
    """
    n, k = indices.shape
    d = distances.astype(np.float64)
    if kernel == "cosine":
        near = np.clip(1.0 - d, 0.0, None)
    elif kernel == "gaussian":
        near = np.exp(-np.clip(d, 0.0, None) / bandwidth)
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    cols = np.concatenate([np.arange(n)[:, None], indices], axis=1)
    vals = np.concatenate([np.ones((n, 1)), near], axis=1)
    # Stored zeros (orthogonal rows) stay: harmless, and they keep k + 1 entries per row.
    return sp.csr_matrix(
        (vals.ravel(), cols.ravel(), np.arange(0, n * (k + 1) + 1, k + 1)), shape=(n, n)
    )


def greedy_coverage(
    similarity, n_select, *, weights=None, candidates=None, verbose=0, desc="coverage greedy"
):
    """Greedily pick ``n_select`` facilities maximising ``sum_i w_i max_{j in S} k(i, j)``.

    Parameters
    ----------
    similarity : sparse matrix of shape (n_samples, n_samples)
        ``k(i, j)``, rows = served rows, columns = facilities (from
        :func:`similarity_graph`); every row must hold its own entry.
    n_select : int
        Number of picks, at most the number of candidates.
    weights : array-like of shape (n_samples,), default=None
        Non-negative customer weights ``w_i`` (how much serving row ``i`` is worth).
    candidates : array-like of bool or int indices, default=None
        Rows allowed as facilities (all rows by default). Every row stays a customer.
    verbose : int, default=0
        Progress bar over picks.
    desc : str, default="coverage greedy"
        Label of the progress bar.

    Returns
    -------
    ranking : ndarray of int, shape (n_select,)
        The picks in order (equal gains: lowest index first).
    gains : ndarray of shape (n_select,)
        Marginal gain of each pick (non-increasing).
    served : ndarray of shape (n_samples,)
        ``max_{j in S} k(i, j)`` per row after the last pick (unweighted).
    """
    sim = sp.csr_matrix(similarity, dtype=np.float64)
    n = sim.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    by_facility = sim.T.tocsr()  # row j: the rows j serves, and how well
    indptr, customers, sims = by_facility.indptr, by_facility.indices, by_facility.data
    allowed = np.arange(n)
    if candidates is not None:
        allowed = np.asarray(candidates)
        allowed = np.flatnonzero(allowed) if allowed.dtype == bool else np.unique(allowed)
    if n_select > allowed.size:
        raise ValueError(f"cannot pick {n_select} rows from {allowed.size} candidates.")
    served = np.zeros(n)  # max similarity of each row to a selected row so far
    worth = sims * w[customers]
    # With nothing selected the gain of j is its weighted similarity sum (every row holds
    # at least its own entry, so no reduceat segment is empty).
    initial = np.add.reduceat(worth, indptr[:-1])[allowed]
    heap = list(zip((-initial).tolist(), allowed.tolist(), [0] * allowed.size))
    heapq.heapify(heap)
    ranking, gains = [], []
    bar = progress(n_select, desc, verbose)
    try:
        while len(ranking) < n_select:
            neg, j, stamp = heapq.heappop(heap)
            lo, hi = indptr[j], indptr[j + 1]
            rows = customers[lo:hi]
            if stamp != len(ranking):
                gain = (np.maximum(sims[lo:hi] - served[rows], 0.0) * w[rows]).sum()
                heapq.heappush(heap, (-float(gain), j, len(ranking)))
                continue
            ranking.append(j)
            gains.append(-neg)
            served[rows] = np.maximum(served[rows], sims[lo:hi])
            bar.update()
    finally:
        bar.close()
    return np.asarray(ranking, dtype=np.intp), np.asarray(gains), served
