"""MaxHerdingSelector: greedy Gaussian-kernel coverage on a sparse kNN graph.

MaxHerding (Bae, Noh and Sutherland, ECCV 2024) maximises the generalised coverage
``C(S) = sum_i max_{j in S} k(i, j)`` for a smooth kernel ``k``: ProbCover is the
top-hat kernel's case, facility location the linear one's. A smooth, local kernel keeps
ProbCover's "cover every neighbourhood" behaviour at small budgets without its hard
radius, to which ProbCover is very sensitive. The published implementation builds the
dense ``n x n`` kernel; this one keeps it on the kNN graph (:mod:`skelfs.coverage`), so
memory is ``O(n_samples * n_neighbors)``.
"""

from __future__ import annotations

from typing import ClassVar

from .._validation import Real
from ._graph import KNNGraphSelector, fill_doc


@fill_doc
class MaxHerdingSelector(KNNGraphSelector):
    """Select rows that greedily maximise Gaussian-kernel coverage (MaxHerding).

    Definitions (``d`` = cosine distance ``1 - cos``):

    * ``kNN(i)``: the ``k = min(n_neighbors, n_samples - 1)`` nearest other rows of
      ``i`` (self excluded, see :func:`skelfs.neighbors.kneighbors`).
    * Kernel: ``k(i, i) = 1``; ``k(i, j) = exp(-d_ij / bandwidth)`` if ``j in kNN(i)``;
      0 otherwise. On L2-normalised rows ``||x_i - x_j||**2 = 2 d_ij``, so this is a
      Gaussian kernel truncated to the kNN graph.
    * Objective: ``C(S) = sum_i max_{j in S} k(i, j)``; greedy with lazy evaluations
      (equal gains: lowest index), as :class:`FacilityLocationSelector`.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    n_neighbors : int, default=20
        Neighbours per row in the kernel graph; clipped to ``n_samples - 1``.
    bandwidth : float or "auto", default="auto"
        Width of the kernel, in cosine-distance units. ``"auto"``: the median distance
        to the ``n_neighbors``-th neighbour divided by 4
        (:func:`skelfs.coverage.auto_bandwidth`), so the kernel has decayed to about 2%%
        where the graph stops and the truncation drops little of it.
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
        ``C`` of the selected set (between 0 and ``n_samples``).
    bandwidth_ : float
        The bandwidth used.
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs import MaxHerdingSelector
    >>> angles = np.array([0.0, 0.1, 0.2, 1.5, 1.6, 1.7])  # two arcs on a circle
    >>> X = np.c_[np.cos(angles), np.sin(angles)]
    >>> sel = MaxHerdingSelector(budget=2, n_neighbors=2).fit(X)
    >>> sorted(sel.ranking_.tolist())  # the middle of each arc
    [1, 4]
    """

    _parameter_constraints: ClassVar[dict] = {
        **KNNGraphSelector._parameter_constraints,
        "bandwidth": Real(0.0, closed="neither", options=("auto",)),
    }

    def __init__(
        self,
        budget=0.1,
        *,
        n_neighbors=20,
        bandwidth="auto",
        neighbors=None,
        backend="auto",
        device="cpu",
        random_state=0,
        verbose=0,
    ):
        self.budget = budget
        self.n_neighbors = n_neighbors
        self.bandwidth = bandwidth
        self.neighbors = neighbors
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, n_select):
        return self._cover(X, n_select, "gaussian", "MaxHerding greedy", self.bandwidth)
