"""PrototypicalitySelector: self-supervised prototypes (SSP, Sorscher et al., NeurIPS 2022).

Score = Euclidean (not squared) distance from a row to the centroid of its own k-means
cluster, in the input space. Far from the centroid = hard (atypical), close = easy.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils import check_random_state

from .._validation import Options, check_n_clusters_param
from ..base import BaseSelector
from ..clustering import KMeansClusterer


def distance_to_own_centroid(X, labels, centers, block_size=65536):
    """Euclidean distance of every row to ``centers[labels]``, streamed in row blocks."""
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], block_size):
        block = np.asarray(X[start : start + block_size], dtype=np.float64)
        diff = block - centers[labels[start : start + block_size]]
        out[start : start + block_size] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


class PrototypicalitySelector(BaseSelector):
    """Keep the rows farthest from (``end="hard"``) or closest to (``"easy"``) their prototype.

    Rows are clustered with k-means; each row's score is its Euclidean distance to its
    own cluster centroid. The ELFS paper's baseline keeps the hardest (farthest) rows,
    which suits large budgets; at small budgets the easy end (prototypes) usually does
    better (Sorscher et al.), hence both ends are offered.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    end : {"hard", "easy"}, default="hard"
    n_clusters : int or None, default=None
        k-means clusters; None estimates it label-free (see :class:`KMeansClusterer`).
    random_state : int, RandomState instance or None, default=0
        Seeds the selection; the same seed gives the same rows.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Distance to the own centroid (higher = harder).
    ranking_ : ndarray of shape (n_samples,)
        All rows, in the order this method prefers them (ties broken at random).
    labels_ : ndarray of shape (n_samples,)
        k-means cluster of each row.
    sample_indices_ : ndarray of shape ``(n_selected_,)``

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import PrototypicalitySelector
    >>> X, _ = make_blobs(100, centers=3, random_state=0)
    >>> sel = PrototypicalitySelector(budget=10, end="easy", n_clusters=3).fit(X)
    >>> sel.n_selected_
    10
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSelector._parameter_constraints,
        "end": Options("hard", "easy", text='"hard" or "easy"'),
        "n_clusters": check_n_clusters_param(1),  # then against n_samples by KMeansClusterer
    }

    def __init__(self, budget=0.1, *, end="hard", n_clusters=None, random_state=0):
        self.budget = budget
        self.end = end
        self.n_clusters = n_clusters
        self.random_state = random_state

    def _select(self, X, n_select):
        rng = check_random_state(self.random_state)
        km = KMeansClusterer(n_clusters=self.n_clusters, random_state=rng).fit(X)
        scores = distance_to_own_centroid(X, km.labels_, km.cluster_centers_)
        preferred = -scores if self.end == "hard" else scores
        ranking = np.lexsort((rng.permutation(scores.size), preferred))
        return {
            "sample_indices_": ranking[:n_select],
            "ranking_": ranking,
            "scores_": scores,
            "labels_": km.labels_,
        }
