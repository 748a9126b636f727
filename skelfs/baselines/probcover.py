"""ProbCoverSelector: greedy max coverage of delta-balls (Yehuda et al., NeurIPS 2022).

Each row covers the rows within cosine distance ``delta`` of it; the selection greedily
maximises the number of covered rows. The delta-balls are read off a sparse kNN graph
(``O(n_samples * n_neighbors)`` memory, never ``n x n``), and unlike the original no
row is ever skipped: once everything is covered the budget is filled at random.
"""

from __future__ import annotations

import heapq
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._utils import check_n_clusters, progress
from .._validation import Int, Real, check_n_clusters_param
from ..clustering import KMeansClusterer
from ._graph import KNNGraphSelector, fill_doc


def ball_purity(distances, indices, labels, delta):
    """Fraction of rows whose whole delta-ball (inside the kNN lists) shares their label.

    The ball of row ``i`` is ``{i} U {j in kNN(i) : d_ij <= delta}``.
    """
    first_impure = _first_impure_distance(distances, indices, labels)
    return float(np.mean(first_impure > delta))


def _first_impure_distance(distances, indices, labels):
    """Per row, the smallest kNN distance to a row of another cluster (inf if none).

    A row's ball is pure exactly when ``delta`` is below this value, so purity is
    ``mean(first_impure > delta)``: no grid search needed.
    """
    impure = labels[indices] != labels[:, None]
    return np.where(impure, distances, np.inf).min(axis=1)


@fill_doc
class ProbCoverSelector(KNNGraphSelector):
    """Select rows whose delta-balls cover the most rows, greedily (ProbCover).

    Definitions (``d`` = cosine distance ``1 - cos``, in ``[0, 2]``):

    * ``kNN(i)``: the ``k = min(n_neighbors, n_samples - 1)`` nearest other rows of
      ``i`` (self excluded by index, duplicates at distance 0; see
      :func:`skelfs.neighbors.kneighbors`).
    * Ball of ``i``: ``B(i) = {i} U {j in kNN(i) : d_ij <= delta}``. The kNN truncation
      bounds the ball: it never holds more than ``k + 1`` rows, however large
      ``delta`` is, so ``n_neighbors`` must exceed the ball sizes that matter.
      (Original ProbCover uses L2 distance between L2-normalised embeddings; its
      ``delta_L2`` corresponds to ``delta = delta_L2**2 / 2`` here.)
    * Greedy: repeatedly pick the row ``i`` maximising ``|B(i) minus covered|`` (equal
      counts: lowest index), then mark ``B(i)`` covered (covered rows' incoming edges no
      longer count). Since a row's ball holds itself, this goes on until every row is
      covered; the rest of the budget is then drawn uniformly at random (seeded) from
      the rows not selected yet.
    * ``delta=None`` chooses delta label-free: k-means pseudo-labels, purity(delta) =
      fraction of rows whose whole ball shares the row's k-means cluster, and
      ``delta_`` = the largest candidate with purity ``>= purity_threshold``. The
      candidates are 0 and every kNN distance, the only values at which a ball changes,
      so this is exact rather than a coarse grid. If even 0 misses the threshold
      (rows at cosine distance 0 in different clusters), ``delta_`` is 0.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    delta : float or None, default=None
        Ball radius in cosine distance, ``>= 0``; None chooses it by purity (above).
    n_neighbors : int, default=50
        Neighbours per row in the graph the balls are read from; clipped to
        ``n_samples - 1``.
    n_clusters : int or None, default=None
        k-means clusters for the purity when ``delta=None`` (None: estimated, see
        :class:`~skelfs.KMeansClusterer`). Unused when ``delta`` is given.
    purity_threshold : float, default=0.95
        Purity the chosen delta must reach, in (0, 1].
    %(neighbors)s
    %(backend)s
    %(device)s
    random_state : int, RandomState instance or None, default=0
        Seeds k-means, the random fill and the approximate kNN backends.
    verbose : int, default=0
        Progress bar over picks.

    Attributes
    ----------
    ranking_ : ndarray of shape ``(n_selected_,)``
        The picks in order: the first ``n_greedy_`` by coverage, the rest random fill.
    n_greedy_ : int
        Picks made by greedy coverage (before every row was covered).
    delta_ : float
        The radius used.
    purity_ : float or None
        Purity at ``delta_`` when it was chosen (``delta=None``), else None.
    coverage_ : float
        Fraction of rows inside the ball of a selected row.
    labels_ : ndarray of shape (n_samples,) or None
        k-means clusters used for the purity (None when ``delta`` is given).
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.baselines.probcover import ProbCoverSelector
    >>> angles = np.r_[0.0, 0.01, 0.02, 0.03, 0.04, 1.5, 1.51]  # points on a circle
    >>> X = np.c_[np.cos(angles), np.sin(angles)]
    >>> sel = ProbCoverSelector(budget=2, delta=3e-4).fit(X)  # 1 - cos(0.02) = 2e-4
    >>> sel.ranking_.tolist(), sel.coverage_
    ([2, 5], 1.0)
    """

    _parameter_constraints: ClassVar[dict] = {
        **KNNGraphSelector._parameter_constraints,
        "delta": Real(0, none=True),
        "n_neighbors": Int(1),
        "n_clusters": check_n_clusters_param(1),  # then against n_samples in _select
        "purity_threshold": Real(0, 1, closed="right"),
    }

    def __init__(
        self,
        budget=0.1,
        *,
        delta=None,
        n_neighbors=50,
        n_clusters=None,
        purity_threshold=0.95,
        neighbors=None,
        backend="auto",
        device="cpu",
        random_state=0,
        verbose=0,
    ):
        self.budget = budget
        self.delta = delta
        self.n_neighbors = n_neighbors
        self.n_clusters = n_clusters
        self.purity_threshold = purity_threshold
        self.neighbors = neighbors
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, n_select):
        n = X.shape[0]
        delta = None if self.delta is None else float(self.delta)
        n_neighbors, threshold = int(self.n_neighbors), float(self.purity_threshold)
        n_clusters = check_n_clusters(self.n_clusters, n, minimum=1, allow_none=True)
        rng = check_random_state(self.random_state)

        distances, indices = self._kneighbors(X, n_neighbors, rng)
        labels = purity = None
        if delta is None:
            labels = KMeansClusterer(n_clusters=n_clusters, random_state=rng).fit(X).labels_
            delta, purity = _choose_delta(distances, indices, labels, threshold)

        picks, covered = _greedy_cover(distances, indices, delta, n_select, self.verbose)
        n_greedy = len(picks)
        if n_greedy < n_select:
            # Everything is covered: no pick can add coverage, so the rest is random.
            free = np.ones(n, dtype=bool)
            free[picks] = False
            fill = rng.permutation(np.flatnonzero(free))[: n_select - n_greedy]
            picks = np.concatenate([picks, fill])
        ranking = np.asarray(picks, dtype=np.intp)
        return {
            "sample_indices_": ranking,
            "ranking_": ranking,
            "n_greedy_": n_greedy,
            "delta_": float(delta),
            "purity_": purity,
            "coverage_": float(covered.mean()),
            "labels_": labels,
        }


def _choose_delta(distances, indices, labels, threshold):
    """Largest delta in {0} U {kNN distances} with ball purity >= threshold."""
    n = labels.size
    first_impure = np.sort(_first_impure_distance(distances, indices, labels))
    # purity(delta) >= threshold  <=>  at least m rows have first_impure > delta
    #                             <=>  delta < first_impure[n - m]  (ascending order)
    m = int(np.ceil(threshold * n - 1e-9))
    limit = first_impure[n - m]
    below = distances[distances < limit]
    delta = float(below.max()) if below.size else 0.0
    return delta, float(np.mean(first_impure > delta))


def _greedy_cover(distances, indices, delta, n_select, verbose):
    """Greedy max coverage of the delta-balls; stops at ``n_select`` or full coverage.

    ``count[i] = |B(i) minus covered|`` only ever decreases, so a max-heap of stale
    upper bounds (lazy updates) finds the argmax exactly, lowest index on ties.
    """
    n, k = indices.shape
    inside = distances <= delta
    rows = np.repeat(np.arange(n), k)[inside.ravel()]
    cols = indices[inside]
    # reverse[j] lists the rows whose ball holds j (j itself is handled separately).
    reverse = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (cols, rows)), shape=(n, n))
    forward_ptr = np.concatenate([[0], np.cumsum(inside.sum(axis=1))])
    count = 1 + np.diff(forward_ptr)  # the row itself plus its in-ball neighbours
    covered = np.zeros(n, dtype=bool)
    # One int per heap entry, (k + 1 - count) * n + row: smallest = most coverage, then
    # lowest index; a tuple per row would cost three times the memory.
    top = k + 1
    heap = ((top - count) * n + np.arange(n)).tolist()
    heapq.heapify(heap)
    picks = []
    bar = progress(n_select, "ProbCover greedy", verbose)
    try:
        while len(picks) < n_select and heap:
            slot, i = divmod(heapq.heappop(heap), n)
            if top - slot != count[i]:  # stale: push its current count back
                if count[i] > 0:
                    heapq.heappush(heap, int(top - count[i]) * n + i)
                continue
            if count[i] == 0:
                break  # every row is covered
            picks.append(i)
            ball = np.concatenate([[i], cols[forward_ptr[i] : forward_ptr[i + 1]]])
            new = np.unique(ball[~covered[ball]])
            covered[new] = True
            count[new] -= 1  # each newly covered row leaves its own ball
            starts, ends = reverse.indptr[new], reverse.indptr[new + 1]
            lengths = ends - starts
            if lengths.sum():
                pos = np.repeat(ends - np.cumsum(lengths), lengths) + np.arange(lengths.sum())
                np.subtract.at(count, reverse.indices[pos], 1)
            bar.update()
    finally:
        bar.close()
    return np.asarray(picks, dtype=np.intp), covered
