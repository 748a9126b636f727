"""KMeansClusterer: k-means pseudo-labels (scikit-learn's Lloyd, streamed mini-batch, or torch)."""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from .._utils import (
    FLOAT_DTYPES,
    PageReleaser,
    atomic_fit,
    check_n_clusters,
    draw_seed,
    progress,
    reject_sparse,
    resolve_device,
    rows_to_device,
    streamed_finite_check,
)
from .._validation import (
    Check,
    Flag,
    Int,
    Options,
    Seed,
    ValidatedParamsMixin,
    check_device,
    check_n_clusters_param,
)
from ._kernels import (
    _STREAM_TOL,
    _assign_blocks,
    _fit_torch_lloyd,
    _relative_change,
    _seed_on_sample,
    _seeding_sample,
)
from .estimate import estimate_n_clusters

# Up to this many rows (by count, not dtype): full Lloyd passes in torch and 3 restarts;
# above, on CPU, streamed mini-batch passes and 1 restart.
_MINIBATCH_ABOVE = 50_000


class KMeansClusterer(ValidatedParamsMixin, ClusterMixin, BaseEstimator):
    """k-means pseudo-labels (the cheap clusterer for ELFS).

    Lloyd k-means in torch for pools up to 50,000 rows (and at any size on a GPU,
    ``device`` resolving to CUDA); on CPU above 50,000 rows, streamed mini-batch k-means.
    The choice depends on the number of rows only, not on the dtype, so the same values
    give the same clusters as float16 or float32. ``algorithm`` overrides the choice;
    ``"lloyd"`` runs scikit-learn's ``KMeans``. With ``n_clusters=None`` the number of
    clusters is chosen label-free by :func:`estimate_n_clusters` (largest eigengap of a
    kNN graph on a subsample).

    The torch path (``algorithm="torch"``) seeds ``n_init`` k-means++ initialisations on
    a random sample of ``3 * max(batch_size, n_clusters)`` rows (all rows of a smaller
    pool), refines each with Lloyd iterations on the sample, keeps the one of lowest
    sample inertia, then runs full Lloyd passes over all rows (block by block: assign,
    then sum each cluster with ``index_add_``) until a pass lowers the inertia by less
    than 0.1%. An emptied cluster keeps its previous centre. Its clusters do not depend
    on the thread count: every sum that decides a step (k-means++'s draw weights, the
    inertia) is taken in NumPy on one thread. It replaced scikit-learn's ``KMeans`` as
    the default up to 50,000 rows: on 20,000 x 768 rows with 500 clusters it took 9.4 s
    against 60 s (3 restarts each, 2 cores) for an inertia 0.14% higher, and
    scikit-learn's OpenMP sums gave other clusters with another thread count
    (docs/benchmarks.md, "Threads"). On CUDA, ``X`` is copied to the GPU as float32 when
    it takes under a quarter of the free GPU memory; otherwise blocks cross at every
    pass.

    Memory: the torch path reads ``X`` block by block and the streamed path batch by
    batch, each cast to float32, so neither copies or upcasts ``X`` as a whole: a memory
    map stays on disk and float16 input stays float16. The ``"lloyd"`` path works on one
    float copy of ``X`` (scikit-learn centres the data; float16 is upcast to float32).
    The streamed path

    1. seeds the centres on a random sample of ``3 * max(batch_size, n_clusters)``
       rows: k-means++ then Lloyd passes in torch float32 until a pass lowers the
       sample's inertia by less than 0.1% (``n_init`` restarts, the lowest inertia
       kept);
    2. refines them with ``MiniBatchKMeans.partial_fit`` over shuffled mini-batches
       of all rows, one pass at a time, and after each pass assigns every row to its
       nearest centre (block by block); from the second pass on it stops when a pass
       lowers the inertia by less than 0.1%, or after ``max_iter`` passes.

    On 100k synthetic 768-d rows with 500 clusters the second and third passes lowered
    the inertia by 0.22% and 0.10% (``benchmarks/scale.py``); the seeding took 2.6 s
    (4.4 s with scikit-learn's float64 ``KMeans`` on the same sample, which it replaced).

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of clusters, at least 1 and at most the number of rows (ELFS itself
        needs 2 or more).
    algorithm : {"auto", "lloyd", "minibatch", "torch"}, default="auto"
        "auto": "torch" up to 50,000 rows and on CUDA; "minibatch" above 50,000 rows on
        CPU, whatever the dtype. "lloyd" is scikit-learn's ``KMeans``.
    n_init : int or "auto", default="auto"
        k-means restarts; the lowest inertia wins. ``"auto"``: 3 up to 50,000 rows, 1
        above, on every path. On the torch and streamed paths the restarts compete on
        the initialisation sample only; on 100k and 300k synthetic 768-d rows with 500
        clusters, 3 restarts gave a full-data inertia within the spread of 3 seeds of a
        single one (+0.01% and -0.02%) for 7-9 s more (docs/benchmarks.md, "Fewer
        passes where they do not pay").
    max_iter : int, default=100
        Lloyd iterations; on the streamed mini-batch path also the most passes over
        the data.
    batch_size : int, default=4096
        Rows per mini-batch on the streamed path (at least ``n_clusters``); the torch
        path's initialisation sample has ``3 * max(batch_size, n_clusters)`` rows too.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where the torch path runs. "auto" uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the mini-batches.
    verbose : int, default=0
        Show progress on stderr: over the restarts (``"lloyd"`` path) and over the
        passes over the data (streamed and torch paths), with the inertia. The
        ``"lloyd"`` restarts run one at a time with the same draws as a single
        ``KMeans(n_init=...)``, so the clusters do not depend on ``verbose``.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster id of every row, in ``0 .. n_clusters_ - 1``.
    n_clusters_ : int
    cluster_centers_ : ndarray of shape ``(n_clusters_, n_features)``
    n_iter_ : int
        Iterations run by the final Lloyd k-means, or passes over the data on the
        streamed mini-batch and torch paths.
    n_clusters_scores_ : dict
        The :func:`estimate_n_clusters` criterion per candidate K when ``n_clusters``
        was estimated, else empty.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import KMeansClusterer
    >>> X, _ = make_blobs(200, centers=3, random_state=0)
    >>> KMeansClusterer(n_clusters=3, random_state=0).fit(X).n_clusters_
    3
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": check_n_clusters_param(1),  # then against n_samples in fit
        "algorithm": Options(
            "auto", "lloyd", "minibatch", "torch", text='"auto", "lloyd", "minibatch" or "torch"'
        ),
        "n_init": Int(1, options=("auto",)),
        "max_iter": Int(1),
        "batch_size": Int(1),
        "device": Check(check_device),
        "random_state": Seed(),
        "verbose": Flag(),
    }

    def __init__(
        self,
        n_clusters=None,
        algorithm="auto",
        n_init="auto",
        max_iter=100,
        batch_size=4096,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.n_init = n_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @atomic_fit
    def fit(self, X, y=None):
        """Cluster the rows of ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The unlabelled pool.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
        """
        self._validate_params()
        device = resolve_device(self.device)
        reject_sparse(X)
        # float16 stays float16 here (the torch and streamed paths cast one block or batch
        # at a time; "lloyd" upcasts all of X); memory maps stay on disk.
        with streamed_finite_check(X):
            X = validate_data(self, X, dtype=list(FLOAT_DTYPES), copy=False, ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        k_scores = {}
        if self.n_clusters is None:
            k, k_scores = estimate_n_clusters(X, random_state=rng)
        else:
            k = check_n_clusters(self.n_clusters, X.shape[0], minimum=1)
        # By size only, not dtype: the same values take the same path.
        small = X.shape[0] <= _MINIBATCH_ABOVE
        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "torch" if small or device.type == "cuda" else "minibatch"
        seed = draw_seed(rng)
        n_init = self.n_init
        if n_init == "auto":
            n_init = 3 if small else 1
        if algorithm == "torch":
            centers, labels, n_iter = _fit_torch_lloyd(
                X,
                k,
                seed,
                device,
                n_init=n_init,
                max_iter=self.max_iter,
                sample_size=3 * max(self.batch_size, k),
                verbose=self.verbose,
            )
        elif algorithm == "minibatch":
            centers, labels, n_iter = self._fit_streamed(X, k, seed, n_init)
        else:
            if X.dtype == np.float16:  # sklearn needs float32 (only on request: not "auto")
                X = X.astype(np.float32)
            km = _lloyd_restarts(
                X,
                k,
                n_init=n_init,
                max_iter=self.max_iter,
                seed=seed,
                verbose=self.verbose,
                desc=f"k-means K={k}, restarts",
            )
            labels, centers, n_iter = km.labels_, km.cluster_centers_, km.n_iter_
        # Renumber so that ids are 0..K'-1 even if a cluster ended empty.
        used, labels = np.unique(labels, return_inverse=True)
        self.labels_ = labels.astype(np.intp)
        self.n_clusters_ = int(used.size)
        self.cluster_centers_ = centers[used]
        self.n_iter_ = int(n_iter)
        self.n_clusters_scores_ = k_scores
        return self

    def _fit_streamed(self, X, k, seed, n_init):
        """Mini-batch k-means over float32-cast batches of rows; ``X`` is never copied."""
        import torch

        rng = np.random.RandomState(seed)
        n = X.shape[0]
        batch = min(n, max(self.batch_size, k))
        sample = _seeding_sample(n, 3 * max(self.batch_size, k), rng)
        centers = _seed_on_sample(
            rows_to_device(PageReleaser(X).take(sample), slice(None), torch.device("cpu")),
            k,
            rng,
            n_init=n_init,
            max_iter=self.max_iter,
        )
        centers = centers.numpy()
        mbk = MiniBatchKMeans(
            k,
            init=centers,
            n_init=1,
            batch_size=batch,
            compute_labels=False,
            random_state=draw_seed(rng),
        )
        # No assignment before the first pass (a full read and matmul, 5 s at 1M x 768):
        # the first pass is judged against none, so at least two passes run.
        labels, inertia = None, math.inf
        n_iter = 0
        pages = PageReleaser(X)
        bar = progress(None, f"k-means K={k}, passes over {n} rows", self.verbose)
        try:
            for n_iter in range(1, self.max_iter + 1):
                order = rng.permutation(n)
                for start in range(0, n, batch):
                    # Sorted rows read a memory map front to back; the batch stays random.
                    rows = np.sort(order[start : start + batch])
                    mbk.partial_fit(np.ascontiguousarray(pages.take(rows), dtype=np.float32))
                centers = mbk.cluster_centers_
                previous = inertia
                labels, inertia = _assign_blocks(X, centers)
                if previous < math.inf:
                    bar.set_postfix(inertia_change=_relative_change(previous, inertia))
                bar.update()
                if previous < math.inf and previous - inertia <= _STREAM_TOL * previous:
                    break
        finally:
            bar.close()
        return centers, labels, n_iter


def _lloyd_restarts(X, k, *, n_init, max_iter, seed, verbose, desc):
    """scikit-learn's ``KMeans(k, n_init=n_init, random_state=seed)``, one restart at a time.

    Each restart is a ``KMeans(n_init=1)`` drawing from one shared RandomState, and the best
    is kept by scikit-learn's own rule (a lower inertia and a different clustering), so the
    fitted result is the one ``KMeans(n_init=n_init)`` gives; in between, the progress
    reporter can say how far the restarts are. Warnings (e.g. fewer distinct clusters than
    ``k``) are those of the kept restart.
    """
    rng = np.random.RandomState(seed)
    bar = progress(n_init, desc, verbose)
    best, best_warnings = None, []
    try:
        for _ in range(n_init):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                km = KMeans(k, n_init=1, max_iter=max_iter, random_state=rng).fit(X)
            if best is None or (
                km.inertia_ < best.inertia_ and not _same_clustering(km.labels_, best.labels_)
            ):
                best, best_warnings = km, caught
            bar.set_postfix(inertia=best.inertia_, iterations=km.n_iter_)
            bar.update()
    finally:
        bar.close()
    for w in best_warnings:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return best


def _same_clustering(a, b):
    """Whether every label of ``a`` maps to a single label of ``b`` (scikit-learn's test)."""
    pairs = np.unique(np.stack([a, b]), axis=1)
    return np.unique(pairs[0]).size == pairs.shape[1]
