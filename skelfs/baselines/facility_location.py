"""FacilityLocationSelector: greedy facility location on a sparse kNN similarity graph.

The submodular coverage objective of apricot's ``FacilityLocationSelection`` on a
sparse neighbour graph: every row wants a selected row that resembles it. It is the
cosine-kernel case of :mod:`skelfs.coverage` (MaxHerding is the Gaussian one). Greedy
maximisation is (1 - 1/e)-optimal; lazy evaluations keep it fast. Memory is
``O(n_samples * n_neighbors)``.
"""

from __future__ import annotations

from ._graph import KNNGraphSelector, fill_doc


@fill_doc
class FacilityLocationSelector(KNNGraphSelector):
    """Select rows that greedily maximise the facility-location objective.

    Definitions:

    * ``kNN(i)``: the ``k = min(n_neighbors, n_samples - 1)`` nearest other rows of
      ``i`` on cosine distance ``d = 1 - cos`` (self excluded by index, see
      :func:`skelfs.neighbors.kneighbors`).
    * Similarity of row ``i`` to a candidate facility ``j``: ``sim(i, i) = 1``;
      ``sim(i, j) = max(0, 1 - d_ij)`` if ``j in kNN(i)``; 0 otherwise. So each row
      is served only by itself and its own ``k`` nearest rows (not symmetrised), and a
      row always covers itself fully.
    * Objective: ``F(S) = sum_i max_{j in S} sim(i, j)`` (0 for a row with no facility
      among its neighbours).
    * Greedy: repeatedly add the row with the largest marginal gain ``F(S + j) -
      F(S)`` (equal gains: lowest index), using lazy evaluations (a priority queue of
      stale gains, which are upper bounds since ``F`` is submodular). The result is
      the plain greedy's, only faster.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    n_neighbors : int, default=20
        Neighbours per row in the similarity graph; clipped to ``n_samples - 1``.
    %(neighbors)s
    %(backend)s
    %(device)s
    random_state : int, RandomState instance or None, default=0
        Seeds the approximate kNN backends (the greedy itself is deterministic).
    verbose : int, default=0
        Progress bar over picks.

    Attributes
    ----------
    ranking_ : ndarray of shape ``(n_selected_,)``
        The picks in the order they were made.
    gains_ : ndarray of shape ``(n_selected_,)``
        Marginal gain of each pick (non-increasing).
    objective_ : float
        ``F`` of the selected set (between 0 and ``n_samples``).
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.baselines.facility_location import FacilityLocationSelector
    >>> angles = np.array([0.0, 0.1, 0.25, 1.5, 1.6, 1.65])  # points on a circle
    >>> X = np.c_[np.cos(angles), np.sin(angles)]
    >>> sel = FacilityLocationSelector(budget=2, n_neighbors=1).fit(X)
    >>> sel.ranking_.tolist()  # row 4 is the nearest row of 3 and 5, row 1 of 0 and 2
    [4, 1]
    """

    def __init__(
        self,
        budget=0.1,
        *,
        n_neighbors=20,
        neighbors=None,
        backend="auto",
        device="cpu",
        random_state=0,
        verbose=0,
    ):
        self.budget = budget
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, n_select):
        return self._cover(X, n_select, "cosine", "facility location greedy")
