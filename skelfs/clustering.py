"""Pseudo-labels for ELFS: clusterers with ``fit(X) -> labels_, n_clusters_``.

``DeepClusterer`` trains TEMI clustering heads on the embeddings (docs/algorithm.md,
section 1); ``KMeansClusterer`` is the cheap option and ``ELFSSelector``'s default (see
docs/benchmarks.md for the measurement behind that choice). ``estimate_n_clusters``
picks K without labels when it is not given.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._utils import (
    FLOAT_DTYPES,
    atomic_fit,
    check_int,
    check_n_clusters,
    check_real,
    column_moments,
    limit_threads,
    progress,
    reject_sparse,
    resolve_device,
    torch_seed,
)

# Above this many rows Lloyd k-means gets slow on a laptop; mini-batch k-means takes over.
_MINIBATCH_ABOVE = 50_000
# The streamed mini-batch path stops once a pass over the data lowers the inertia
# (sum of squared distances to the nearest centre) by less than this fraction.
_STREAM_TOL = 1e-3
# Rows per block when the streamed path assigns labels (bounds its working memory).
_ASSIGN_BLOCK = 4096


def estimate_n_clusters(X, *, method="eigengap", max_clusters=None, sample_size=3000,
                        n_neighbors=15, random_state=None):
    """Choose a number of clusters without labels, on a random subsample.

    ``method="eigengap"`` (default): build the symmetric cosine kNN graph of the
    subsample (weights ``exp(-d / median d)``) and take the eigenvalues
    ``lambda_1 <= lambda_2 <= ...`` of its normalised Laplacian. With K well separated
    groups the first K are near zero and ``lambda_{K+1}`` jumps, so K is the argmax
    of the gap ``lambda_{K+1} - lambda_K`` over ``2 <= K <= max_clusters``.
    ``method="silhouette"``: k-means for about 12 candidate K spaced geometrically
    between 2 and ``min(256, sqrt(n))``; the best Euclidean silhouette wins.

    Both work on the subsample only: memory is O(sample_size * n_neighbors) for the
    eigengap and O(sample_size ** 2) for the silhouette, independent of ``n``.
    On the benchmark sets the eigengap lands closer to the true class count than the
    silhouette (docs/benchmarks.md), but neither is reliable on diffuse embeddings:
    pass ``n_clusters`` when you know it.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The unlabelled pool.
    method : {"eigengap", "silhouette"}, default="eigengap"
    max_clusters : int or None, default=None
        Largest K considered; None uses ``min(256, sample_size // 20)`` (eigengap) or
        ``min(256, sqrt(n))`` (silhouette).
    sample_size : int, default=3000
        Rows drawn at random for the estimate.
    n_neighbors : int, default=15
        Neighbours per row in the eigengap graph.
    random_state : int, RandomState instance or None, default=None
        Seeds the row sample and the clusterings tried.

    Returns
    -------
    n_clusters : int
    scores : dict of int -> float
        The criterion per candidate K (eigengap or silhouette), for reports.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import estimate_n_clusters
    >>> X, _ = make_blobs(600, centers=5, n_features=10, cluster_std=0.6, random_state=3)
    >>> estimate_n_clusters(X, random_state=0)[0]
    5
    """
    if method not in ("eigengap", "silhouette"):
        raise ValueError(f'method must be "eigengap" or "silhouette", got {method!r}.')
    check_int("sample_size", sample_size, 3)
    check_int("n_neighbors", n_neighbors, 1)
    if max_clusters is not None:
        check_int("max_clusters", max_clusters, 2)
    rng = check_random_state(random_state)
    n = X.shape[0]
    rows = np.sort(rng.choice(n, size=min(n, sample_size), replace=False))
    sub = np.asarray(X[rows], dtype=np.float32)
    if method == "silhouette":
        return _silhouette_sweep(sub, n, max_clusters, rng)
    return _eigengap(sub, max_clusters, n_neighbors, rng)


def _eigengap(sub, max_clusters, n_neighbors, rng):
    from scipy import sparse
    from scipy.sparse.linalg import eigsh

    from .neighbors import kneighbors

    m = sub.shape[0]
    k = min(n_neighbors, m - 1)
    k_max = min(max_clusters or max(2, min(256, m // 20)), m - 2)
    if k_max < 2:
        return 2, {}
    dist, idx = kneighbors(sub, k, backend="exact")
    scale = float(np.median(dist)) or 1.0
    w = sparse.csr_matrix((np.exp(-dist.ravel() / scale),
                           (np.repeat(np.arange(m), k), idx.ravel())), shape=(m, m))
    w = w.maximum(w.T)
    inv_sqrt_deg = sparse.diags(1.0 / np.sqrt(np.asarray(w.sum(axis=1)).ravel()))
    affinity = inv_sqrt_deg @ w @ inv_sqrt_deg
    # The largest eigenvalues of D^-1/2 W D^-1/2 are 1 - the smallest of the Laplacian.
    vals = eigsh(affinity, k=k_max + 1, which="LA", return_eigenvectors=False,
                 v0=rng.uniform(-1, 1, m))
    lam = np.sort(1.0 - vals)
    gaps = {K: float(lam[K] - lam[K - 1]) for K in range(2, k_max + 1)}
    return max(gaps, key=gaps.get), gaps


def _silhouette_sweep(sub, n, max_clusters, rng):
    k_max = max_clusters or int(max(2, min(256, np.sqrt(n))))
    candidates = np.unique(np.round(np.geomspace(2, k_max, 12)).astype(int))
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

    On CPU: Lloyd k-means (scikit-learn's ``KMeans``) for float32/float64 pools up to
    50,000 rows; streamed mini-batch k-means above, and for float16 input at any size.
    On a GPU (``device`` resolving to CUDA): Lloyd k-means in torch, streamed over
    blocks of rows. ``algorithm`` overrides the choice. With ``n_clusters=None`` the
    number of clusters is chosen label-free by :func:`estimate_n_clusters` (largest
    eigengap of a kNN graph on a subsample).

    Memory: the Lloyd path works on one float copy of ``X`` (scikit-learn centres the
    data), so at most 50,000 rows are copied under ``algorithm="auto"``. The streamed
    path never copies or upcasts ``X`` as a whole, which keeps a memory map on disk
    and float16 input in float16: it reads mini-batches of rows, casts each to
    float32, and

    1. runs Lloyd k-means (``n_init`` restarts) on a random sample of
       ``max(3 * batch_size, 3 * n_clusters)`` rows for the initial centres;
    2. refines them with ``MiniBatchKMeans.partial_fit`` over shuffled mini-batches
       of all rows, one pass at a time, and after each pass assigns every row to its
       nearest centre (block by block); it stops when a pass lowers the inertia by
       less than 0.1%, or after ``max_iter`` passes.

    On 100k synthetic 768-d rows with 500 clusters the inertia fell by 3.1%, 0.21%,
    0.09% in the first three passes (``benchmarks/scale.py``).

    The torch path (``algorithm="torch"``, the default on CUDA) seeds ``n_init``
    k-means++ initialisations on the same kind of random sample, refines each with
    Lloyd iterations on the sample, keeps the one of lowest sample inertia, then runs
    full Lloyd passes over all rows (block by block: assign, then sum each cluster
    with ``index_add_``), with the same 0.1% stopping rule. ``X`` is copied to the GPU
    as float32 when it takes under a quarter of the free GPU memory; otherwise blocks
    cross at every pass. An emptied cluster keeps its previous centre.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of clusters, at least 1 and at most the number of rows (ELFS itself
        needs 2 or more).
    algorithm : {"auto", "lloyd", "minibatch", "torch"}, default="auto"
        "auto": "torch" on CUDA; otherwise "lloyd" up to 50,000 float32/float64 rows and
        "minibatch" above (and for float16).
    n_init : int, default=3
        k-means restarts; the lowest inertia wins.
    max_iter : int, default=100
        Lloyd iterations; on the streamed mini-batch path also the most passes over
        the data.
    batch_size : int, default=4096
        Rows per mini-batch on the streamed path (at least ``n_clusters``); the torch
        path's initialisation sample has ``3 * max(batch_size, n_clusters)`` rows too.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where the torch path runs. "auto" uses CUDA when available; on CPU the
        scikit-learn paths run unless ``algorithm="torch"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the mini-batches.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster id of every row, in ``0 .. n_clusters_ - 1``.
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
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

    def __init__(self, n_clusters=None, algorithm="auto", n_init=3, max_iter=100,
                 batch_size=4096, device="auto", random_state=None):
        self.n_clusters = n_clusters
        self.algorithm = algorithm
        self.n_init = n_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

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
        if self.algorithm not in ("auto", "lloyd", "minibatch", "torch"):
            raise ValueError(
                'algorithm must be "auto", "lloyd", "minibatch" or "torch", '
                f"got {self.algorithm!r}."
            )
        device = resolve_device(self.device)
        reject_sparse(X)
        # float16 stays float16 (no upcast copy); memory maps stay on disk.
        X = validate_data(self, X, dtype=list(FLOAT_DTYPES), copy=False,
                          ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        k_scores = {}
        if self.n_clusters is None:
            k, k_scores = estimate_n_clusters(X, random_state=rng)
        else:
            k = check_n_clusters(self.n_clusters, X.shape[0], minimum=1)
        for name in ("n_init", "max_iter", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        algorithm = self.algorithm
        if algorithm == "auto":
            if device.type == "cuda":
                algorithm = "torch"
            elif X.shape[0] > _MINIBATCH_ABOVE or X.dtype == np.float16:
                algorithm = "minibatch"
            else:
                algorithm = "lloyd"
        seed = rng.randint(2**31 - 1)
        if algorithm == "torch":
            centers, labels, n_iter = _fit_torch_lloyd(
                X, k, seed, device, n_init=self.n_init, max_iter=self.max_iter,
                sample_size=3 * max(self.batch_size, k))
        elif algorithm == "minibatch":
            centers, labels, n_iter = self._fit_streamed(X, k, seed)
        else:
            if X.dtype == np.float16:  # explicit algorithm="lloyd": sklearn needs float32
                X = X.astype(np.float32)
            km = KMeans(k, n_init=self.n_init, max_iter=self.max_iter, random_state=seed)
            labels = km.fit_predict(X)
            centers, n_iter = km.cluster_centers_, km.n_iter_
        # Renumber so that ids are 0..K'-1 even if a cluster ended empty.
        used, labels = np.unique(labels, return_inverse=True)
        self.labels_ = labels.astype(np.intp)
        self.n_clusters_ = int(used.size)
        self.cluster_centers_ = centers[used]
        self.n_iter_ = int(n_iter)
        self.n_clusters_scores_ = k_scores
        return self

    def _fit_streamed(self, X, k, seed):
        """Mini-batch k-means over float32-cast batches of rows; ``X`` is never copied."""
        rng = np.random.RandomState(seed)
        n = X.shape[0]
        batch = min(n, max(self.batch_size, k))
        sample = np.sort(rng.choice(n, size=min(n, max(3 * batch, 3 * k)), replace=False))
        # float64 sample: sklearn's k-means++ upcasts float32 rows chunk by chunk at every
        # one of its k steps, which made a float32 init several times slower. The sample
        # is ours, so KMeans may centre it in place (copy_x=False).
        init = KMeans(k, n_init=self.n_init, max_iter=self.max_iter, copy_x=False,
                      random_state=rng.randint(2**31 - 1)).fit(
            np.asarray(X[sample], dtype=np.float64))
        centers = init.cluster_centers_.astype(np.float32)
        mbk = MiniBatchKMeans(k, init=centers, n_init=1, batch_size=batch,
                              compute_labels=False, random_state=rng.randint(2**31 - 1))
        labels, inertia = _assign_blocks(X, centers)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            order = rng.permutation(n)
            for start in range(0, n, batch):
                # Sorted rows read a memory map front to back; the batch stays random.
                rows = np.sort(order[start:start + batch])
                mbk.partial_fit(np.ascontiguousarray(X[rows], dtype=np.float32))
            centers = mbk.cluster_centers_
            previous = inertia
            labels, inertia = _assign_blocks(X, centers)
            if previous - inertia <= _STREAM_TOL * previous:
                break
        return centers, labels, n_iter


def _fit_torch_lloyd(X, k, seed, device, *, n_init, max_iter, sample_size):
    """Lloyd k-means in torch on ``device``: k-means++ on a sample, then full passes."""
    import torch

    rng = np.random.RandomState(seed)
    n = X.shape[0]
    sample = np.sort(rng.choice(n, size=min(n, sample_size), replace=False))
    S = torch.from_numpy(np.array(X[sample], dtype=np.float32)).to(device)
    best = None
    for _ in range(n_init):
        centers = _kmeans_plus_plus(S, k, rng)
        centers, _, inertia, _ = _lloyd_passes([S], centers, max_iter)
        if best is None or inertia < best[1]:
            best = (centers, inertia)
    blocks = _device_blocks(X, device)
    centers, labels, _, n_iter = _lloyd_passes(blocks, best[0], max_iter)
    return centers.cpu().numpy(), labels, n_iter


def _device_blocks(X, device):
    """``X`` as a list of float32 blocks on ``device`` (resident) or a re-readable stream."""
    import torch

    starts = range(0, X.shape[0], _ASSIGN_BLOCK)
    # np.array copies: a read-only memory map must not back a torch tensor.
    to_dev = lambda s: torch.from_numpy(  # noqa: E731
        np.array(X[s:s + _ASSIGN_BLOCK], dtype=np.float32)).to(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if 4 * X.shape[0] * X.shape[1] < free // 4:  # copy once, reuse every pass
            return [to_dev(s) for s in starts]

    class _Stream:  # each pass reads (and casts) the blocks again; X is never copied whole
        def __iter__(self):
            return (to_dev(s) for s in starts)

    return _Stream()


def _kmeans_plus_plus(S, k, rng):
    """k-means++ seeding with ``2 + log k`` candidates per step (as scikit-learn)."""
    import torch

    m = S.shape[0]
    n_trials = 2 + int(np.log(k))
    sq = (S * S).sum(dim=1)

    def sq_dist(C):  # (m, c) squared distances, clamped at 0 against rounding
        return (sq[:, None] - 2.0 * S @ C.T + (C * C).sum(dim=1)[None, :]).clamp_min_(0.0)

    centers = [S[rng.randint(m)]]
    closest = sq_dist(centers[0][None, :])[:, 0]
    for _ in range(1, k):
        total = float(closest.sum())
        if total <= 0.0:  # fewer distinct rows than clusters: any row will do
            cand = rng.randint(m, size=n_trials)
        else:
            probs = (closest / total).double().cpu().numpy()
            cand = rng.choice(m, size=n_trials, p=probs / probs.sum())
        cand_d = torch.minimum(closest[:, None], sq_dist(S[cand]))
        j = int(cand_d.sum(dim=0).argmin())
        centers.append(S[cand[j]])
        closest = cand_d[:, j]
    return torch.stack(centers)


def _lloyd_passes(blocks, centers, max_iter):
    """Assign / update until a pass lowers the inertia by less than ``_STREAM_TOL``.

    Returns the centres the final labels were assigned to, those labels (numpy), the
    inertia and the number of passes.
    """
    import torch

    labels, inertia = None, math.inf
    for n_iter in range(1, max_iter + 1):
        sums = torch.zeros_like(centers)
        counts = torch.zeros(centers.shape[0], dtype=centers.dtype, device=centers.device)
        half_sq = 0.5 * (centers * centers).sum(dim=1)
        # Summed on the device: one host sync per pass, not one per block.
        parts, total = [], torch.zeros((), dtype=torch.float64, device=centers.device)
        for block in blocks:
            dist = half_sq[None, :] - block @ centers.T
            best_d, best = dist.min(dim=1)
            total += 2.0 * best_d.double().sum() + (block * block).double().sum()
            sums.index_add_(0, best, block)
            counts.index_add_(0, best, torch.ones_like(best_d))
            parts.append(best)
        previous, inertia = inertia, float(total)
        labels = torch.cat(parts)
        converged = previous < math.inf and previous - inertia <= _STREAM_TOL * previous
        if converged or n_iter == max_iter:
            break
        filled = counts > 0
        centers = torch.where(filled[:, None], sums / counts.clamp_min(1.0)[:, None], centers)
    return centers, labels.cpu().numpy(), inertia, n_iter


def _assign_blocks(X, centers):
    """Nearest centre of every row of ``X`` and the total squared distance, by blocks."""
    centers = np.asarray(centers, dtype=np.float32)
    half_sq_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
    labels = np.empty(X.shape[0], dtype=np.intp)
    inertia = 0.0
    for start in range(0, X.shape[0], _ASSIGN_BLOCK):
        block = np.ascontiguousarray(X[start:start + _ASSIGN_BLOCK], dtype=np.float32)
        # argmin ||x - c||^2 = argmin (|c|^2 / 2 - x.c); the row's |x|^2 is added back for
        # the inertia only.
        dist = block @ centers.T
        np.subtract(half_sq_norms, dist, out=dist)
        best = dist.argmin(axis=1)
        labels[start:start + block.shape[0]] = best
        inertia += float(2.0 * dist[np.arange(best.size), best].sum(dtype=np.float64)
                         + np.einsum("ij,ij->", block, block, dtype=np.float64))
    return labels, inertia


# -- TEMI deep clustering ---------------------------------------------------------------
class _MultiHead:
    """``n_heads`` TEMI heads evaluated together.

    Each head is Linear(d, hidden) - GELU - Linear(hidden, proj) - L2 norm -
    weight-normalised Linear(proj, K, no bias) with unit gain (a cosine classifier).
    The first layers of all heads form one (d, H*hidden) matmul and the others batched
    matmuls, which is several times faster on CPU than a Python loop over heads.
    """

    def __init__(self, n_features, n_heads, hidden, proj, n_clusters, device, dtype):
        import torch

        def init(*shape):
            # DINO/TEMI initialise heads with a truncated normal of std 0.02.
            w = torch.empty(*shape, device=device, dtype=dtype)
            torch.nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04)
            return w

        H = n_heads
        self.params = {
            "w1": init(n_features, H * hidden),
            "b1": torch.zeros(H * hidden, device=device, dtype=dtype),
            "w2": init(H, hidden, proj),
            "b2": torch.zeros(H, 1, proj, device=device, dtype=dtype),
            "v": init(H, proj, n_clusters),
        }
        self.n_heads, self.hidden = H, hidden

    def parameters(self):
        return list(self.params.values())

    def logits(self, x):
        """Cosine logits of shape (n_heads, batch, n_clusters), in [-1, 1]."""
        import torch
        import torch.nn.functional as F

        p = self.params
        h = F.gelu(torch.addmm(p["b1"], x, p["w1"]))  # (B, H*hidden)
        h = h.view(x.shape[0], self.n_heads, self.hidden).transpose(0, 1)  # (H, B, hidden)
        z = torch.baddbmm(p["b2"], h, p["w2"])  # (H, B, proj)
        z = F.normalize(z, dim=-1)
        return torch.bmm(z, F.normalize(p["v"], dim=1))

    def clone_detached(self):
        import copy

        twin = copy.copy(self)
        twin.params = {k: v.detach().clone() for k, v in self.params.items()}
        return twin


def _temi_loss(s_a, s_b, t_a, t_b, prior, temp_student, temp_teacher, beta):
    """Symmetrised, pair-weighted beta-PMI loss per head; returns (loss per head, teacher probs).

    ``s_*``/``t_*`` are student/teacher logits of shape (H, B, K) for the anchors (a)
    and their sampled neighbours (b); ``prior`` is the (H, K) running cluster prior.
    """
    import torch

    ps_a = torch.softmax(s_a / temp_student, dim=-1)
    ps_b = torch.softmax(s_b / temp_student, dim=-1)
    with torch.no_grad():
        qt_a = torch.softmax(t_a / temp_teacher, dim=-1)
        qt_b = torch.softmax(t_b / temp_teacher, dim=-1)
        # Pair weight: how much the teacher heads agree that a and b share a cluster.
        weight = (qt_a * qt_b).sum(-1).mean(0)  # (B,)
    inv_prior = (1.0 / prior).unsqueeze(1)  # (H, 1, K)

    def neg_pmi(ps, qt):
        return -torch.log(((ps * qt).pow(beta) * inv_prior).sum(-1))  # (H, B)

    per_head = 0.5 * (neg_pmi(ps_a, qt_b) + neg_pmi(ps_b, qt_a))
    return (per_head * weight).mean(-1), qt_a, qt_b


class DeepClusterer(ClusterMixin, BaseEstimator):
    """TEMI deep clustering heads trained on precomputed embeddings (ELFS's pseudo-labels).

    Each training step takes a mini-batch of anchor rows and, for each anchor, one
    neighbour drawn uniformly from its ``n_neighbors`` nearest rows (cosine). ``n_heads``
    clustering heads, ``Linear(d, hidden) - GELU - Linear(hidden, projection) - L2 norm -
    weight-normalised Linear(projection, K)``, are trained as a student with AdamW
    against an EMA teacher, on TEMI's pair-weighted, symmetrised beta-PMI loss (Adaloglou
    et al., BMVC 2023; docs/algorithm.md, section 1). The labels are the argmax of the
    teacher head with the lowest loss over the last epoch: no label is used anywhere,
    also not to pick a head or a checkpoint.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Number of clusters K. None estimates it label-free with
        :func:`estimate_n_clusters` (largest eigengap of a kNN graph on a subsample).
    n_heads : int, default=1
        Heads trained side by side; the lowest-loss teacher head gives the labels.
        Training time grows about linearly with it (the official code uses 50, on a
        GPU). More heads are more robust to a bad initialisation: on banking77, 4 heads
        reached 64.2% clustering accuracy against 60.5% for one, at 3.3 times the
        time (docs/benchmarks.md). One head is the default because it keeps a 100k-row
        pool within minutes on a laptop CPU; use 4 or more on a GPU.
    n_neighbors : int, default=50
        Neighbours per anchor to draw the positive pair from (at most ``n_samples - 1``
        are used).
    epochs : int or None, default=None
        Passes over the data. None trains for about ``2000`` optimisation steps
        (``ceil(2000 * batch_size / n_samples)`` epochs, between 1 and 200): the EMA
        teacher needs a few thousand steps to follow the student, whatever the pool size.
    batch_size : int, default=256
        Anchors per step (each also brings one neighbour).
    learning_rate : float, default=1e-4
        AdamW base rate, scaled by ``batch_size / 256``; linear warm-up then cosine decay.
    weight_decay : float, default=1e-4
        AdamW weight decay.
    warmup : float, default=0.1
        Fraction of the steps spent warming the learning rate up.
    teacher_momentum : float, default=0.996
        EMA momentum of the teacher's weights.
    temperature : float, default=0.1
        Softmax temperature of student and teacher.
    prior_momentum : float, default=0.9
        The cluster prior is updated as ``m * prior + (1 - m) * mean teacher probability``.
    temi_beta : float, default=0.6
        Exponent of the beta-PMI; below 1 it damps over-confident pairs.
    hidden_size : int, default=512
        Width of the hidden layer of each clustering head.
    projection_size : int, default=256
        Width of the projection in front of the cluster logits.
    standardize : bool, default=True
        Centre and scale each feature (one streamed pass) before the heads.
    neighbors : sparse matrix, transformer or None, default=None
        Precomputed neighbours (see :func:`skelfs.neighbors.kneighbors`).
    knn_backend : {"auto", "exact", "faiss", "pynndescent"}, default="auto"
        Backend of the neighbour search (see :func:`skelfs.neighbors.kneighbors`).
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where the heads train; "auto" uses CUDA when available.
    n_jobs : int or None, default=None
        torch threads while fitting (None leaves torch's setting).
    random_state : int, RandomState instance or None, default=None
        Seeds the neighbour search, initialisation, shuffling and pair draws; the same
        seed gives the same labels on CPU.
    verbose : int, default=0
        Progress bars (kNN, training epochs) on stderr.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster id of every row, in ``0 .. n_clusters_ - 1``.
    n_clusters_ : int
        Clusters that received rows (a head may leave some of the K empty).
    best_head_ : int
        Index of the teacher head whose labels were kept.
    head_losses_ : ndarray of shape (n_heads,)
        Mean training loss of each head over the last epoch.
    loss_curve_ : ndarray of shape (n_epochs_, n_heads)
        Mean loss per epoch and head.
    n_epochs_ : int
    n_features_in_ : int

    See Also
    --------
    KMeansClusterer : The cheap clusterer.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import DeepClusterer
    >>> X, y = make_blobs(300, centers=3, n_features=8, random_state=0)
    >>> clusterer = DeepClusterer(n_clusters=3, n_neighbors=10, epochs=30,
    ...                           random_state=0).fit(X)
    >>> clusterer.labels_.shape, clusterer.n_clusters_
    ((300,), 3)
    """

    def __init__(self, n_clusters=None, *, n_heads=1, n_neighbors=50, epochs=None,
                 batch_size=256, learning_rate=1e-4, weight_decay=1e-4, warmup=0.1,
                 teacher_momentum=0.996, temperature=0.1, prior_momentum=0.9,
                 temi_beta=0.6, hidden_size=512, projection_size=256, standardize=True,
                 neighbors=None, knn_backend="auto", device="auto", n_jobs=None,
                 random_state=None, verbose=0):
        self.n_clusters = n_clusters
        self.n_heads = n_heads
        self.n_neighbors = n_neighbors
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.teacher_momentum = teacher_momentum
        self.temperature = temperature
        self.prior_momentum = prior_momentum
        self.temi_beta = temi_beta
        self.hidden_size = hidden_size
        self.projection_size = projection_size
        self.standardize = standardize
        self.neighbors = neighbors
        self.knn_backend = knn_backend
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        for name in ("n_heads", "n_neighbors", "batch_size", "hidden_size",
                     "projection_size"):
            check_int(name, getattr(self, name), 1)
        if self.epochs is not None:
            check_int("epochs", self.epochs, 1)
        check_real("learning_rate", self.learning_rate, 0, low_open=True)
        check_real("weight_decay", self.weight_decay, 0)
        check_real("warmup", self.warmup, 0, 1)
        check_real("teacher_momentum", self.teacher_momentum, 0, 1)
        check_real("temperature", self.temperature, 0, low_open=True)
        check_real("prior_momentum", self.prior_momentum, 0, 1)
        check_real("temi_beta", self.temi_beta, 0, low_open=True)

    @atomic_fit
    def fit(self, X, y=None):
        """Train the heads on ``X`` and assign every row (``y`` is ignored).

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
        import torch

        from .neighbors import kneighbors

        self._check_params()
        reject_sparse(X)
        X = validate_data(self, X, dtype=list(FLOAT_DTYPES), copy=False, ensure_min_samples=2)
        n, d = X.shape
        device = resolve_device(self.device)
        rng = np.random.RandomState(torch_seed(self.random_state))
        if self.n_clusters is None:
            k_clusters, _ = estimate_n_clusters(X, random_state=rng)
        else:
            k_clusters = check_n_clusters(self.n_clusters, n, minimum=1)
        k_nn = min(self.n_neighbors, n - 1)
        _, nn_idx = kneighbors(X, k_nn, neighbors=self.neighbors, backend=self.knn_backend,
                               device=device, random_state=rng.randint(2**31 - 1),
                               verbose=self.verbose)
        mean, std = column_moments(X) if self.standardize else (np.zeros(d), np.ones(d))
        epochs = self.epochs if self.epochs is not None else _auto_epochs(n, self.batch_size)
        seed = rng.randint(2**31 - 1)
        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork), limit_threads(self.n_jobs):
            torch.manual_seed(seed)
            labels, losses, curve = self._train(X, nn_idx, k_clusters, epochs, mean, std, device)
        best = int(np.argmin(losses))
        used, labels = np.unique(labels[best], return_inverse=True)
        self.labels_ = labels.astype(np.intp)
        self.n_clusters_ = int(used.size)
        self.head_losses_ = losses
        self.best_head_ = best
        self.loss_curve_ = curve
        self.n_epochs_ = epochs
        return self

    def _train(self, X, nn_idx, K, epochs, mean, std, device):
        import torch

        n, d = X.shape
        dtype = torch.float32
        H = self.n_heads
        student = _MultiHead(d, H, self.hidden_size, self.projection_size, K, device, dtype)
        for p in student.parameters():
            p.requires_grad_(True)
        teacher = student.clone_detached()
        prior = torch.full((H, K), 1.0 / K, device=device, dtype=dtype)
        batch = min(self.batch_size, n)
        lr = self.learning_rate * batch / 256
        opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=self.weight_decay)
        steps_per_epoch = -(-n // batch)
        total = epochs * steps_per_epoch
        warm = max(1, round(self.warmup * total))

        def lr_at(step):
            # Linear warm-up, then cosine decay to zero (as in DINO/TEMI).
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        mean_t = torch.as_tensor(mean, dtype=dtype, device=device)
        std_t = torch.as_tensor(std, dtype=dtype, device=device)
        nn_t = torch.from_numpy(np.ascontiguousarray(nn_idx))
        m = self.teacher_momentum
        curve = []
        bar = progress(epochs, "TEMI clustering", self.verbose)

        def load(rows):
            xb = torch.from_numpy(np.asarray(X[rows], dtype=np.float32)).to(device)
            return (xb - mean_t) / std_t

        try:
            for epoch in range(epochs):
                perm = torch.randperm(n).numpy()
                epoch_loss = torch.zeros(H, dtype=torch.float64)
                for start in range(0, n, batch):
                    rows = np.sort(perm[start : start + batch])
                    pick = torch.randint(nn_t.shape[1], (rows.size,))
                    partners = nn_t[torch.from_numpy(rows), pick].numpy()
                    xa, xb = load(rows), load(partners)
                    with torch.no_grad():
                        t_a, t_b = teacher.logits(xa), teacher.logits(xb)
                    s_a, s_b = student.logits(xa), student.logits(xb)
                    per_head, qt_a, qt_b = _temi_loss(
                        s_a, s_b, t_a, t_b, prior, self.temperature, self.temperature,
                        self.temi_beta)
                    loss = per_head.sum()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    with torch.no_grad():
                        for name, p in student.params.items():
                            teacher.params[name].mul_(m).add_(p.detach(), alpha=1 - m)
                        batch_mean = 0.5 * (qt_a.mean(1) + qt_b.mean(1))
                        prior.mul_(self.prior_momentum).add_(
                            batch_mean, alpha=1 - self.prior_momentum)
                        epoch_loss += per_head.detach().double().cpu() * rows.size
                curve.append((epoch_loss / n).numpy())
                bar.update()
        finally:
            bar.close()
        # Assign every row with every teacher head.
        labels = np.empty((H, n), dtype=np.intp)
        with torch.no_grad():
            for start in range(0, n, 8192):
                rows = np.arange(start, min(n, start + 8192))
                labels[:, rows] = teacher.logits(load(rows)).argmax(-1).cpu().numpy()
        curve = np.array(curve)
        return labels, curve[-1], curve


#: Optimisation steps targeted by ``epochs=None``.
_AUTO_STEPS = 2000
_AUTO_MAX_EPOCHS = 200


def _auto_epochs(n, batch_size):
    """Epochs giving about ``_AUTO_STEPS`` steps (at least 1, at most 200)."""
    steps_per_epoch = -(-n // min(batch_size, n))
    return min(_AUTO_MAX_EPOCHS, max(1, -(-_AUTO_STEPS // steps_per_epoch)))
