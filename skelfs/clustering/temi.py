"""DeepClusterer: TEMI deep clustering heads trained on precomputed embeddings."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import validate_data

from .._threads import limit_threads, retune_threads
from .._utils import (
    FLOAT_DTYPES,
    atomic_fit,
    check_n_clusters,
    column_moments,
    draw_seed,
    progress,
    reject_sparse,
    resolve_device,
    rows_to_device,
    streamed_finite_check,
    torch_generators,
)
from .._validation import (
    NO_VALIDATION,
    Bool,
    Check,
    Flag,
    Int,
    NJobs,
    Real,
    Seed,
    ValidatedParamsMixin,
    check_backend,
    check_device,
    check_n_clusters_param,
)
from .estimate import estimate_n_clusters


class _MultiHead:
    """``n_heads`` TEMI heads evaluated together.

    Each head is Linear(d, hidden) - GELU - Linear(hidden, proj) - L2 norm -
    weight-normalised Linear(proj, K, no bias) with unit gain (a cosine classifier).
    The first layers of all heads form one (d, H*hidden) matmul and the others batched
    matmuls, which is several times faster on CPU than a Python loop over heads.
    """

    def __init__(self, n_features, n_heads, hidden, proj, n_clusters, device, dtype, generator):
        import torch

        def init(*shape):
            # DINO/TEMI initialise heads with a truncated normal of std 0.02.
            w = torch.empty(*shape, device=device, dtype=dtype)
            torch.nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, generator=generator)
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

    # exp(log_softmax), not softmax: on an AVX-512 CPU, softmax's backward kernel
    # rounds differently with 1 and 2 threads, and log_softmax's and exp's do not.
    ps_a = torch.exp(torch.log_softmax(s_a / temp_student, dim=-1))
    ps_b = torch.exp(torch.log_softmax(s_b / temp_student, dim=-1))
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


class DeepClusterer(ValidatedParamsMixin, ClusterMixin, BaseEstimator):
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
        torch threads while fitting. None: torch's configured count at most, fewer
        while other processes keep cores busy; an int fixes the count.
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
    loss_curve_ : ndarray of shape ``(n_epochs_, n_heads)``
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

    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": check_n_clusters_param(1),  # then against n_samples in fit
        "n_heads": Int(1),
        "n_neighbors": Int(1),
        "epochs": Int(1, none=True),
        "batch_size": Int(1),
        "learning_rate": Real(0, closed="neither"),
        "weight_decay": Real(0),
        "warmup": Real(0, 1),
        "teacher_momentum": Real(0, 1),
        "temperature": Real(0, closed="neither"),
        "prior_momentum": Real(0, 1),
        "temi_beta": Real(0, closed="neither"),
        "hidden_size": Int(1),
        "projection_size": Int(1),
        "standardize": Bool(),
        "neighbors": NO_VALIDATION,  # checked against X by skelfs.neighbors.kneighbors
        "knn_backend": Check(check_backend),
        "device": Check(check_device),
        "n_jobs": NJobs(),
        "random_state": Seed(),
        "verbose": Flag(),
    }

    def __init__(
        self,
        n_clusters=None,
        *,
        n_heads=1,
        n_neighbors=50,
        epochs=None,
        batch_size=256,
        learning_rate=1e-4,
        weight_decay=1e-4,
        warmup=0.1,
        teacher_momentum=0.996,
        temperature=0.1,
        prior_momentum=0.9,
        temi_beta=0.6,
        hidden_size=512,
        projection_size=256,
        standardize=True,
        neighbors=None,
        knn_backend="auto",
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
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
        from ..neighbors import kneighbors

        self._validate_params()
        reject_sparse(X)
        with streamed_finite_check(X):
            X = validate_data(self, X, dtype=list(FLOAT_DTYPES), copy=False, ensure_min_samples=2)
        n, d = X.shape
        device = resolve_device(self.device)
        rng = np.random.RandomState(draw_seed(self.random_state))
        if self.n_clusters is None:
            k_clusters, _ = estimate_n_clusters(X, random_state=rng)
        else:
            k_clusters = check_n_clusters(self.n_clusters, n, minimum=1)
        k_nn = min(self.n_neighbors, n - 1)
        _, nn_idx = kneighbors(
            X,
            k_nn,
            neighbors=self.neighbors,
            backend=self.knn_backend,
            device=device,
            random_state=draw_seed(rng),
            verbose=self.verbose,
        )
        mean, std = column_moments(X) if self.standardize else (np.zeros(d), np.ones(d))
        epochs = self.epochs if self.epochs is not None else _auto_epochs(n, self.batch_size)
        # Private generators: the same seed gives the same labels also while other threads
        # use torch, and the global torch RNG is left alone.
        generators = torch_generators(draw_seed(rng), device)
        with limit_threads(self.n_jobs):
            labels, losses, curve = self._train(
                X, nn_idx, k_clusters, epochs, mean, std, device, generators
            )
        best = int(np.argmin(losses))
        used, labels = np.unique(labels[best], return_inverse=True)
        self.labels_ = labels.astype(np.intp)
        self.n_clusters_ = int(used.size)
        self.head_losses_ = losses
        self.best_head_ = best
        self.loss_curve_ = curve
        self.n_epochs_ = epochs
        return self

    def _train(self, X, nn_idx, K, epochs, mean, std, device, generators):
        import torch

        n, d = X.shape
        cpu_gen, device_gen = generators
        dtype = torch.float32
        H = self.n_heads
        student = _MultiHead(
            d, H, self.hidden_size, self.projection_size, K, device, dtype, device_gen
        )
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
            return (rows_to_device(X, rows, device) - mean_t) / std_t

        try:
            for epoch in range(epochs):
                perm = torch.randperm(n, generator=cpu_gen).numpy()
                epoch_loss = torch.zeros(H, dtype=torch.float64)
                for start in range(0, n, batch):
                    retune_threads()
                    rows = np.sort(perm[start : start + batch])
                    pick = torch.randint(nn_t.shape[1], (rows.size,), generator=cpu_gen)
                    partners = nn_t[torch.from_numpy(rows), pick].numpy()
                    xa, xb = load(rows), load(partners)
                    with torch.no_grad():
                        t_a, t_b = teacher.logits(xa), teacher.logits(xb)
                    s_a, s_b = student.logits(xa), student.logits(xb)
                    per_head, qt_a, qt_b = _temi_loss(
                        s_a,
                        s_b,
                        t_a,
                        t_b,
                        prior,
                        self.temperature,
                        self.temperature,
                        self.temi_beta,
                    )
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
                            batch_mean, alpha=1 - self.prior_momentum
                        )
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
