"""TypiClustSelector: typical points of k-means clusters (Hacohen et al., ICML 2022).

The budget is spread over k-means clusters (one pick per cluster, largest clusters
first) and inside each cluster the densest row wins: the one whose nearest neighbours
in that cluster are closest. The original is an active-learning strategy that counts
already labelled rows per cluster; label-free there are none, so every cluster starts
at zero.

The parameters it shares with the graph baselines (ProbCover, D2, facility location)
are checked and documented in ``_graph.KNNGraphSelector``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state

from .._utils import draw_seed, progress
from .._validation import Int
from ..clustering import KMeansClusterer
from ..neighbors import kneighbors
from ._graph import KNNGraphSelector, fill_doc

# ------------------------------------------------------------------------- selector


@fill_doc
class TypiClustSelector(KNNGraphSelector):
    """Select the most typical row of each of the largest k-means clusters (TypiClust).

    1. k-means (:class:`~skelfs.KMeansClusterer`, on ``X`` as given) with
       ``n_clusters = min(n_select, max_clusters)`` clusters.
    2. Typicality of a row ``x`` in cluster ``C``::

           typicality(x) = 1 / mean_{z in kNN_C(x)} d(x, z)

       where ``d`` is the cosine distance ``1 - cos(x, z)`` (half the squared Euclidean
       distance between the L2-normalised rows, so the order is the original's squared
       Euclidean one on normalised embeddings) and ``kNN_C(x)`` are the
       ``k_C = min(n_neighbors, |C| - 1)`` nearest *other* rows of ``C`` (the row
       itself is excluded by index; an exact duplicate counts at distance 0). A mean
       distance of 0 gives ``inf`` (a stack of duplicates is maximally typical). A
       cluster of size 1 has no neighbours: its row gets typicality 0 (least typical).
    3. Clusters of size ``<= min_cluster_size`` are dropped, unless that would drop
       every cluster (tiny pools), in which case all clusters are kept.
    4. Round-robin: the kept clusters are visited from the largest down (equal sizes:
       lower k-means label first); each visit takes the most typical row of that
       cluster not selected yet (equal typicality: lowest index). When the budget is
       larger than the number of kept clusters (they were dropped as too small, or
       ``n_select > max_clusters``), the visits go round again, taking each
       cluster's second most typical row, and so on; exhausted clusters are skipped.
    5. If every kept cluster is exhausted before the budget is filled, the remaining
       rows (those of the dropped clusters) follow in decreasing typicality (ties:
       lowest index), so exactly ``n_select`` rows always come back.

    Typicality is computed once per cluster on all its rows; the original recomputes
    it after each pick without the picked row, which changes the order inside a
    cluster only on a later round.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    n_neighbors : int, default=20
        Neighbours inside the cluster for the typicality; clipped to ``|C| - 1`` per
        cluster (so small pools and small clusters never fail).
    max_clusters : int, default=500
        Upper bound on the number of k-means clusters.
    min_cluster_size : int, default=5
        Clusters of this size or smaller are dropped (see step 3); 0 keeps all.
    backend : {"auto", "exact", "faiss", "pynndescent"}, default="auto"
        Nearest-neighbour search inside each cluster; see :func:`skelfs.neighbors.kneighbors`.
    %(device)s
    random_state : int, RandomState instance or None, default=0
        Seeds k-means (and the approximate kNN backends).
    verbose : int, default=0
        Progress bar over clusters.

    Attributes
    ----------
    ranking_ : ndarray of shape ``(n_selected_,)``
        The picks in the order they were made.
    typicality_ : ndarray of shape (n_samples,)
        Typicality of every row inside its own cluster (higher = denser).
    labels_ : ndarray of shape (n_samples,)
        k-means cluster of each row.
    n_clusters_ : int
        Number of (non-empty) k-means clusters.
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.baselines.typiclust import TypiClustSelector
    >>> rng = np.random.RandomState(0)
    >>> directions = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> X = np.repeat(directions * 10, 20, axis=0) + rng.normal(scale=0.5, size=(60, 2))
    >>> sel = TypiClustSelector(budget=3).fit(X)
    >>> np.unique(sel.labels_[sel.sample_indices_]).size  # one row per cluster
    3
    """

    _parameter_constraints: ClassVar[dict] = {
        **KNNGraphSelector._parameter_constraints,
        "n_neighbors": Int(1),  # clipped to |C| - 1 per cluster
        "max_clusters": Int(1),
        "min_cluster_size": Int(0),
    }

    def __init__(
        self,
        budget=0.1,
        *,
        n_neighbors=20,
        max_clusters=500,
        min_cluster_size=5,
        backend="auto",
        device="cpu",
        random_state=0,
        verbose=0,
    ):
        self.budget = budget
        self.n_neighbors = n_neighbors
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, n_select):
        n_neighbors = int(self.n_neighbors)
        max_clusters, min_cluster_size = int(self.max_clusters), int(self.min_cluster_size)
        rng = check_random_state(self.random_state)

        km = KMeansClusterer(n_clusters=min(n_select, max_clusters), random_state=rng).fit(X)
        labels = km.labels_
        sizes = np.bincount(labels, minlength=km.n_clusters_)
        mean_dist = self._mean_neighbor_distances(X, labels, sizes, n_neighbors, rng)
        with np.errstate(divide="ignore"):
            typicality = 1.0 / mean_dist  # 0 -> inf (duplicates), inf -> 0 (singletons)

        kept = np.flatnonzero(sizes > min_cluster_size)
        if kept.size == 0:
            kept = np.arange(sizes.size)
        # Visit order: largest cluster first, lower label on equal sizes.
        kept = kept[np.lexsort((kept, -sizes[kept]))]
        visit = np.full(sizes.size, -1)
        visit[kept] = np.arange(kept.size)

        # Every row of a kept cluster gets (round, visit position): its rank inside its
        # cluster by decreasing typicality is the round in which it is taken.
        rows = np.flatnonzero(visit[labels] >= 0)
        by_cluster = rows[np.lexsort((rows, mean_dist[rows], labels[rows]))]
        starts = np.searchsorted(labels[by_cluster], labels[by_cluster], side="left")
        rounds = np.arange(by_cluster.size) - starts
        ranking = by_cluster[np.lexsort((visit[labels[by_cluster]], rounds))][:n_select]
        if ranking.size < n_select:
            rest = np.flatnonzero(visit[labels] < 0)
            rest = rest[np.lexsort((rest, mean_dist[rest]))]
            ranking = np.concatenate([ranking, rest[: n_select - ranking.size]])
        ranking = ranking.astype(np.intp)
        return {
            "sample_indices_": ranking,
            "ranking_": ranking,
            "typicality_": typicality,
            "labels_": labels,
            "n_clusters_": int(km.n_clusters_),
        }

    def _mean_neighbor_distances(self, X, labels, sizes, n_neighbors, rng):
        """Mean cosine distance of each row to its k nearest rows of its own cluster."""
        mean_dist = np.full(X.shape[0], np.inf)  # stays inf for singleton clusters
        order = np.argsort(labels, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        bar = progress(sizes.size, "TypiClust typicality", self.verbose)
        try:
            for c in range(sizes.size):
                members = order[bounds[c] : bounds[c + 1]]  # increasing row index
                if members.size >= 2:
                    k = min(n_neighbors, members.size - 1)
                    dist, _ = kneighbors(
                        X[members],
                        k,
                        backend=self.backend,
                        device=self.device,
                        random_state=draw_seed(rng),
                    )
                    mean_dist[members] = dist.mean(axis=1, dtype=np.float64)
                bar.update()
        finally:
            bar.close()
        return mean_dist
