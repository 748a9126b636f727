"""D2Selector: D2 pruning, message passing on a kNN graph (Maharana et al., ICLR 2024).

Difficulty scores are spread over the kNN graph (a row in a hard neighbourhood gains),
then rows are picked greedily by score, and each pick lowers the scores of its
neighbours, so the next picks come from elsewhere: difficulty and diversity at once.
Label-free, the initial difficulty is prototypicality or any per-row score the user has
(for example ``ELFSSelector().fit(X).scores_``).
"""

from __future__ import annotations

import heapq
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state

from .._utils import check_n_clusters, progress
from .._validation import NO_VALIDATION, Int, Real, check_n_clusters_param
from ..clustering import KMeansClusterer
from ._graph import KNNGraphSelector, fill_doc
from .prototypicality import distance_to_own_centroid


@fill_doc
class D2Selector(KNNGraphSelector):
    """Select rows by D2 pruning: forward message passing, then a greedy reverse update.

    Definitions (``d_ij`` = cosine distance ``1 - cos(x_i, x_j)``, in ``[0, 2]``;
    ``kNN(i)`` = the ``k = min(n_neighbors, n_samples - 1)`` nearest other rows of
    ``i``, self excluded by index, see :func:`skelfs.neighbors.kneighbors`):

    1. Initial difficulty ``s`` (higher = harder): ``scores="prototypicality"`` is the
       Euclidean distance of each row to its own k-means centroid
       (:class:`~skelfs.baselines.PrototypicalitySelector`'s score), or an array of
       per-row scores given by the user.
    2. Forward message passing, once: ``s'_i = s_i + sum_{j in kNN(i)} exp(-gamma_f *
       d_ij) * s_j``.
    3. Backward greedy: pick ``p = argmax s'`` over rows not picked yet (equal scores:
       lowest index), then for every row ``j`` adjacent to ``p``, ``s'_j -= exp(-gamma_r
       * d_pj) * s'_p`` (``s'_p`` as it is at the moment of the pick). Adjacent means
       ``j in kNN(p)`` *or* ``p in kNN(j)``: the kNN graph is not symmetric, and a row
       that lists ``p`` among its nearest rows is as redundant with ``p`` as one that
       ``p`` lists (each pair is updated once). Picked rows are never picked again.

    Cosine distances are at most 2, so ``exp(-gamma * d)`` only separates near from
    far neighbours for ``gamma`` of a few units or more; the defaults keep the paper's
    values (its distances are Euclidean on unnormalised features). With negative
    scores the update raises the neighbours' scores; it is applied as written.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    scores : "prototypicality" or array-like of shape (n_samples,), default="prototypicality"
        Initial difficulty of every row (finite, higher = harder).
    n_neighbors : int, default=10
        Neighbours per row in the graph; clipped to ``n_samples - 1``.
    gamma_f : float, default=1.0
        Decay of the forward messages with distance, ``>= 0``.
    gamma_r : float, default=0.1
        Decay of the reverse (picking) update with distance, ``>= 0``.
    n_clusters : int or None, default=None
        k-means clusters for ``scores="prototypicality"`` (None: estimated, see
        :class:`~skelfs.KMeansClusterer`).
    %(neighbors)s
    %(backend)s
    %(device)s
    random_state : int, RandomState instance or None, default=0
        Seeds k-means and the approximate kNN backends.
    verbose : int, default=0
        Progress bar over picks.

    Attributes
    ----------
    ranking_ : ndarray of shape ``(n_selected_,)``
        The picks in the order they were made.
    scores_ : ndarray of shape (n_samples,)
        Initial difficulty ``s``.
    graph_scores_ : ndarray of shape (n_samples,)
        Scores after forward message passing, ``s'`` before any pick.
    labels_ : ndarray of shape (n_samples,) or None
        k-means clusters for ``scores="prototypicality"``, else None.
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.baselines.d2 import D2Selector
    >>> angles = np.array([0.0, 0.1, 0.25, 1.0])  # points on a circle
    >>> X = np.c_[np.cos(angles), np.sin(angles)]
    >>> sel = D2Selector(budget=2, scores=[1.0, 1.0, 6.0, 0.5], n_neighbors=1).fit(X)
    >>> sel.ranking_.tolist()
    [2, 0]
    """

    _parameter_constraints: ClassVar[dict] = {
        **KNNGraphSelector._parameter_constraints,
        "scores": NO_VALIDATION,  # "prototypicality" or one score per row: _user_scores
        "n_neighbors": Int(1),
        "gamma_f": Real(0),
        "gamma_r": Real(0),
        "n_clusters": check_n_clusters_param(1),  # then against n_samples in _select
    }

    def __init__(
        self,
        budget=0.1,
        *,
        scores="prototypicality",
        n_neighbors=10,
        gamma_f=1.0,
        gamma_r=0.1,
        n_clusters=None,
        neighbors=None,
        backend="auto",
        device="cpu",
        random_state=0,
        verbose=0,
    ):
        self.budget = budget
        self.scores = scores
        self.n_neighbors = n_neighbors
        self.gamma_f = gamma_f
        self.gamma_r = gamma_r
        self.n_clusters = n_clusters
        self.neighbors = neighbors
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, n_select):
        n = X.shape[0]
        n_neighbors, gamma_f = int(self.n_neighbors), float(self.gamma_f)
        gamma_r = float(self.gamma_r)
        n_clusters = check_n_clusters(self.n_clusters, n, minimum=1, allow_none=True)
        scores = self._user_scores(n)
        rng = check_random_state(self.random_state)

        labels = None
        if scores is None:
            km = KMeansClusterer(n_clusters=n_clusters, random_state=rng).fit(X)
            labels = km.labels_
            scores = distance_to_own_centroid(X, labels, km.cluster_centers_)
        distances, indices = self._kneighbors(X, n_neighbors, rng)
        distances = distances.astype(np.float64)

        passed = scores + (np.exp(-gamma_f * distances) * scores[indices]).sum(axis=1)
        ranking = _greedy_reverse(passed, distances, indices, gamma_r, n_select, self.verbose)
        return {
            "sample_indices_": ranking,
            "ranking_": ranking,
            "scores_": scores,
            "graph_scores_": passed,
            "labels_": labels,
        }

    def _user_scores(self, n):
        """The user's scores as a float64 vector, or None for prototypicality."""
        if isinstance(self.scores, str):
            if self.scores != "prototypicality":
                raise ValueError(
                    f'scores must be "prototypicality" or an array of shape (n_samples,), '
                    f"got {self.scores!r}."
                )
            return None
        scores = check_array(
            self.scores,
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite=True,
            input_name="scores",
        )
        if scores.shape != (n,):
            raise ValueError(
                f"scores has shape {scores.shape}; it must hold one score per row of X, "
                f"shape ({n},)."
            )
        return scores


def _greedy_reverse(passed, distances, indices, gamma_r, n_select, verbose):
    """Backward greedy of D2: pick the max, lower its neighbours, repeat.

    A max-heap with lazy deletion: an entry whose stored score differs from the current
    one is re-pushed when popped (a lowered score) or superseded by a fresh entry pushed
    when the score rose (negative picked scores), so every unpicked row always has an
    entry at least as high as its current score: the popped valid entry is the exact
    argmax, lowest index on ties.
    """
    n, k = indices.shape
    weights = np.exp(-gamma_r * distances)
    forward = sp.csr_matrix(
        (weights.ravel(), indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n)
    )
    # Union of kNN(p) and its reverse; a pair listed both ways has the same distance
    # (up to float rounding in approximate backends), the maximum keeps one weight.
    adjacent = forward.maximum(forward.T).tocsr()
    current = passed.copy()
    picked = np.zeros(n, dtype=bool)
    heap = list(zip((-current).tolist(), range(n)))
    heapq.heapify(heap)
    ranking = []
    bar = progress(n_select, "D2 greedy", verbose)
    try:
        while len(ranking) < n_select:
            neg, p = heapq.heappop(heap)
            if picked[p]:
                continue
            if -neg != current[p]:
                # Lowered since pushed: re-push. Raised: a fresh entry was pushed then.
                if -neg > current[p]:
                    heapq.heappush(heap, (-float(current[p]), p))
                continue
            ranking.append(p)
            picked[p] = True
            lo, hi = adjacent.indptr[p], adjacent.indptr[p + 1]
            nbrs = adjacent.indices[lo:hi]
            keep = ~picked[nbrs]
            nbrs, w = nbrs[keep], adjacent.data[lo:hi][keep]
            current[nbrs] -= w * current[p]
            if current[p] < 0:  # the neighbours rose: their entries are no bound now
                for j, s in zip(nbrs.tolist(), current[nbrs].tolist()):
                    heapq.heappush(heap, (-s, j))
            bar.update()
    finally:
        bar.close()
    return np.asarray(ranking, dtype=np.intp)
