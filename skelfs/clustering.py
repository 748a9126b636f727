"""Pseudo-labels for ELFS: clusterers with ``fit(X) -> labels_, n_clusters_``.

``KMeansClusterer`` is the cheap option. The TEMI deep clusterer (DESIGN §3.1) is
tracked in its own issue and will live here too.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._utils import atomic_fit, check_n_clusters, reject_sparse

# Above this many rows Lloyd k-means gets slow on a laptop; mini-batch k-means takes over.
_MINIBATCH_ABOVE = 50_000


def estimate_n_clusters(X, *, candidates=None, sample_size=4000, random_state=None):
    """Choose a number of clusters without labels: the best silhouette on a subsample.

    k-means is run on a random subsample of at most ``sample_size`` rows for each
    candidate K (default: about 12 values spaced geometrically between 2 and
    ``min(256, sqrt(n))``), and the K with the highest silhouette (Euclidean) wins.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    candidates : sequence of int, default=None
    sample_size : int, default=4000
    random_state : int, RandomState instance or None

    Returns
    -------
    n_clusters : int
    silhouettes : dict of int -> float
        Silhouette per candidate (for reports).
    """
    rng = check_random_state(random_state)
    n = X.shape[0]
    if candidates is None:
        k_max = int(max(2, min(256, np.sqrt(n))))
        candidates = np.unique(np.round(np.geomspace(2, k_max, 12)).astype(int))
    rows = np.sort(rng.choice(n, size=min(n, sample_size), replace=False))
    sub = np.asarray(X[rows], dtype=np.float32)
    silhouettes = {}
    for k in candidates:
        k = int(k)
        if not 2 <= k < sub.shape[0]:
            continue
        labels = KMeans(k, n_init=1, random_state=rng.randint(2**31 - 1)).fit_predict(sub)
        if np.unique(labels).size < 2:
            continue
        silhouettes[k] = float(silhouette_score(sub, labels))
    if not silhouettes:
        return 2, silhouettes
    return max(silhouettes, key=silhouettes.get), silhouettes


class KMeansClusterer(ClusterMixin, BaseEstimator):
    """k-means pseudo-labels (the cheap clusterer for ELFS).

    Lloyd k-means for pools up to 50,000 rows, mini-batch k-means above (``algorithm``
    overrides). With ``n_clusters=None`` the number of clusters is chosen label-free by
    :func:`estimate_n_clusters` (best silhouette on a subsample).

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of clusters, at least 1 and at most the number of rows (ELFS itself
        needs 2 or more).
    algorithm : {"auto", "lloyd", "minibatch"}, default="auto"
    n_init : int, default=3
        k-means restarts; the lowest inertia wins.
    max_iter : int, default=100
    batch_size : int, default=4096
        Mini-batch size for ``algorithm="minibatch"``.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster id of every row, in ``0 .. n_clusters_ - 1``.
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    n_iter_ : int
        Iterations run by the final k-means.
    silhouettes_ : dict
        Silhouette per candidate K when ``n_clusters`` was estimated, else empty.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import KMeansClusterer
    >>> X, _ = make_blobs(200, centers=3, random_state=0)
    >>> KMeansClusterer(n_clusters=3, random_state=0).fit(X).n_clusters_
    3
    """

    def __init__(self, n_clusters=None, algorithm="auto", n_init=3, max_iter=100,
                 batch_size=4096, random_state=None):
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.n_init = n_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.random_state = random_state

    @atomic_fit
    def fit(self, X, y=None):
        """Cluster the rows of ``X`` (``y`` is ignored).

        Returns
        -------
        self : object
        """
        if self.algorithm not in ("auto", "lloyd", "minibatch"):
            raise ValueError(
                f'algorithm must be "auto", "lloyd" or "minibatch", got {self.algorithm!r}.'
            )
        reject_sparse(X)
        X = validate_data(self, X, dtype=[np.float32, np.float64], copy=False,
                          ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        silhouettes = {}
        if self.n_clusters is None:
            k, silhouettes = estimate_n_clusters(X, random_state=rng)
        else:
            k = check_n_clusters(self.n_clusters, X.shape[0], minimum=1)
        for name in ("n_init", "max_iter", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        use_minibatch = self.algorithm == "minibatch" or (
            self.algorithm == "auto" and X.shape[0] > _MINIBATCH_ABOVE)
        seed = rng.randint(2**31 - 1)
        if use_minibatch:
            km = MiniBatchKMeans(k, batch_size=self.batch_size, n_init=self.n_init,
                                 max_iter=self.max_iter, random_state=seed)
        else:
            km = KMeans(k, n_init=self.n_init, max_iter=self.max_iter, random_state=seed)
        labels = km.fit_predict(X)
        # Renumber so that ids are 0..K'-1 even if a cluster ended empty.
        used, labels = np.unique(labels, return_inverse=True)
        self.labels_ = labels.astype(np.intp)
        self.n_clusters_ = int(used.size)
        self.cluster_centers_ = km.cluster_centers_[used]
        self.n_iter_ = int(km.n_iter_)
        self.silhouettes_ = silhouettes
        return self
