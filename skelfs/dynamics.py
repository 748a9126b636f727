"""Proxy training dynamics: train a small torch head on pseudo-labels, score every row.

Per sample and per epoch the head's softmax output ``p`` on that sample (from the
training forward pass itself, as ELFS/CCS record it, so no extra pass is paid) updates
a handful of running sums. Memory is O(n) whatever the number of epochs.

Score definitions (``y`` = pseudo-label, ``p`` = softmax at that epoch, ``E`` epochs).
Every score in ``all_scores_`` is oriented so that **higher = harder**:

==============  ==========================================================================
``aum``         ``-sum_e (p_y - max_{k != y} p_k)``: negated area under the margin.
``forgetting``  number of correct -> incorrect transitions between consecutive epochs;
                a row never predicted correctly gets ``E`` (more than the ``floor(E/2)``
                any learned row can reach), so never-learned rows rank hardest.
``el2n``        ``sum_{e < el2n_epochs} ||p - onehot(y)||_2`` (early-training error norm).
``entropy``     mean over epochs of the predictive entropy ``-sum_k p_k log p_k``.
``confidence``  ``-mean_e p_y`` (dataset cartography's confidence, negated).
``variability`` standard deviation over epochs of ``p_y`` (cartography; high = ambiguous).
``correctness`` ``-(fraction of epochs where argmax p == y)``.
==============  ==========================================================================
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import column_or_1d, validate_data

from ._threads import limit_threads, one_thread, retune_threads
from ._utils import (
    FLOAT_DTYPES,
    PageReleaser,
    atomic_fit,
    column_moments,
    draw_seed,
    progress,
    reject_sparse,
    resolve_device,
    rows_to_device,
    streamed_finite_check,
    torch_generators,
)
from ._validation import (
    Bool,
    Check,
    Flag,
    Int,
    NJobs,
    Options,
    Real,
    Seed,
    ValidatedParamsMixin,
    check_device,
)

SCORES = ("aum", "forgetting", "el2n", "entropy", "confidence", "variability", "correctness")

#: ``epochs="auto"``: about this many SGD steps, in 5 to 20 epochs (see :func:`auto_epochs`).
AUTO_STEPS = 2000
AUTO_EPOCHS = (5, 20)


class _RunningDynamics:
    """O(n) per-sample accumulators, updated batch by batch on the training device."""

    def __init__(self, n, device):
        import torch

        zeros = lambda dtype=torch.float32: torch.zeros(n, dtype=dtype, device=device)  # noqa: E731
        self.margin_sum = zeros()
        self.p_y_sum = zeros(torch.float64)  # float64: variability subtracts two sums
        self.p_y_sq_sum = zeros(torch.float64)
        self.entropy_sum = zeros()
        self.el2n_sum = zeros()
        self.correct_count = zeros(torch.int32)
        self.forget_count = zeros(torch.int32)
        self.prev_correct = zeros(torch.bool)
        self.ever_correct = zeros(torch.bool)

    def update(self, idx, log_p, y, *, record_el2n, residual=None):
        """Add one batch: ``log_p`` = the training pass's log-softmax, ``idx`` its rows.

        ``residual`` is ``softmax - onehot(y)``, the logits' gradient that the training
        step already computed (computed here when None). Every score follows from it
        and ``log_p`` without a copy of the probabilities: the largest entry of a row's
        residual is its largest probability other than ``y``'s (``p_y - 1 < 0``), so one
        ``max`` gives the margin and correctness; ``p log p`` is ``residual * log p``
        plus ``log p_y``; EL2N is the residual's norm. Rows within a batch are distinct,
        so the sums use ``index_add_`` (one scatter each).
        """
        import torch

        if residual is None:
            residual = softmax_residual(log_p, y)
        log_p_y = log_p.gather(1, y[:, None])[:, 0]
        p_y = log_p_y.exp()
        # The largest probability other than y's; y is right when it is no larger
        # (ties count as right), and the margin is against it either way.
        other = residual.amax(dim=1)  # no argmax: 0.16 ms against 1.2 ms per 4096 rows
        correct = p_y >= other
        self.margin_sum.index_add_(0, idx, p_y - other)
        p_y64 = p_y.double()
        self.p_y_sum.index_add_(0, idx, p_y64)
        self.p_y_sq_sum.index_add_(0, idx, p_y64 * p_y64)
        plogp = torch.linalg.vecdot(residual, log_p) + log_p_y
        self.entropy_sum.index_add_(0, idx, -plogp)
        self.correct_count.index_add_(0, idx, correct.int())
        self.forget_count.index_add_(0, idx, (self.prev_correct[idx] & ~correct).int())
        self.prev_correct[idx] = correct
        self.ever_correct[idx] |= correct
        if record_el2n:  # ||p - onehot(y)||_2
            self.el2n_sum.index_add_(0, idx, torch.linalg.vector_norm(residual, dim=1))

    def scores(self, n_epochs):
        """All scores as float64 numpy arrays, higher = harder."""
        cpu = lambda t: t.cpu().numpy().astype(np.float64)  # noqa: E731
        mean_p_y = cpu(self.p_y_sum) / n_epochs
        var_p_y = np.maximum(cpu(self.p_y_sq_sum) / n_epochs - mean_p_y**2, 0.0)
        forgetting = cpu(self.forget_count)
        forgetting[~self.ever_correct.cpu().numpy()] = n_epochs
        return {
            "aum": -cpu(self.margin_sum),
            "forgetting": forgetting,
            "el2n": cpu(self.el2n_sum),
            "entropy": cpu(self.entropy_sum) / n_epochs,
            "confidence": -mean_p_y,
            "variability": np.sqrt(var_p_y),
            "correctness": -cpu(self.correct_count) / n_epochs,
        }


def _build_head(
    n_features, n_classes, hidden_layer_size, dropout, init_generator, dropout_generator
):
    """The proxy head, on the CPU; weights from ``init_generator`` (a CPU generator).

    Layers are ``nn.Linear`` with their default initialisation (weights and biases
    uniform in ``+-1 / sqrt(fan_in)``, the same draws in the same order as
    ``nn.Linear``'s own), drawn from ``init_generator`` rather than the global torch
    RNG; dropout draws its masks from ``dropout_generator`` (on the training device).
    """
    import torch
    from torch import nn

    def linear(n_in, n_out):
        # Built on the meta device (no draw from the global RNG), then given CPU
        # parameters; nn.utils.skip_init does the same but imports sympy (0.25 s a fit).
        layer = nn.Linear(n_in, n_out, device="meta")
        bound = 1.0 / np.sqrt(n_in)  # what nn.Linear's kaiming_uniform_(a=sqrt(5)) gives
        uniform = lambda *shape: nn.Parameter(  # noqa: E731
            torch.empty(shape).uniform_(-bound, bound, generator=init_generator)
        )
        layer.weight = uniform(n_out, n_in)
        layer.bias = uniform(n_out)
        return layer

    class Dropout(nn.Module):
        def forward(self, x):
            if not self.training or dropout == 0:
                return x
            keep = torch.empty_like(x).bernoulli_(1.0 - dropout, generator=dropout_generator)
            return x * keep / (1.0 - dropout)

    if hidden_layer_size is None:
        return nn.Sequential(Dropout(), linear(n_features, n_classes))
    return nn.Sequential(
        linear(n_features, hidden_layer_size),
        nn.ReLU(),
        Dropout(),
        linear(hidden_layer_size, n_classes),
    )


def auto_epochs(epochs, n_samples, batch_size):
    """The epochs ``epochs="auto"`` trains: enough for about ``AUTO_STEPS`` SGD steps,
    at least 5 and at most 20; an int is returned as it is.

    The head's progress is set by its number of steps, and a pool of n rows gives
    ``n / batch_size`` steps per epoch: 20 epochs up to 25,600 rows at batch 256, 10 at
    51,200, 5 from 102,400 rows up. Measured on 100k-1M rows (docs/benchmarks.md, "Fewer
    passes where they do not pay"), 5 epochs rank rows closer to 20 epochs than 20 epochs
    with another seed do; 3 did not. At least 5 epochs keep that many records per row.
    """
    if epochs != "auto":
        return int(epochs)
    low, high = AUTO_EPOCHS
    steps_per_epoch = -(-int(n_samples) // int(batch_size))
    return int(min(high, max(low, -(-AUTO_STEPS // steps_per_epoch))))


def cosine_learning_rates(learning_rate, n_steps):
    """Per-step learning rates of a cosine decay from ``learning_rate`` to 0 over ``n_steps``.

    The closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR`` (``eta_min=0``),
    computed once instead of by a scheduler object at every step.
    """
    return (learning_rate * 0.5 * (1.0 + np.cos(np.pi * np.arange(n_steps) / n_steps))).tolist()


# Steps on batches of fewer rows run on one torch thread (``_threads.one_thread``): the
# BLAS picks small-matrix kernels by thread count (5-11 rows differed on 2 cores).
ONE_THREAD_BELOW = 64


def chunk_rows(batch_size, n_classes, max_bytes=64 * 2**20):
    """Rows read and recorded together: whole batches, at most about 4096 rows and
    ``max_bytes`` of float32 log-probabilities and residuals (``rows * n_classes * 8``)."""
    fit = max(1, min(4096 // batch_size, max_bytes // (batch_size * n_classes * 8)))
    return batch_size * fit


def softmax_residual(log_p, y, out=None):
    """``softmax - onehot(y)`` from a log-softmax (into ``out`` when given): the logits'
    gradient of the mean cross-entropy, times the batch size."""
    import torch

    out = torch.exp(log_p, out=out)
    out[torch.arange(y.shape[0], device=y.device), y] -= 1.0
    return out


def sgd_step(head, weight_decay, momentum=0.9):
    """``step(xb, yb, lr, log_p, residual)``: one SGD step (momentum, weight decay) on
    the mean negative log-likelihood of ``head``.

    The step writes the training pass's log-softmax into ``log_p`` and the logits'
    gradient times the batch size, ``softmax - onehot(yb)``, into ``residual``: buffers
    of shape ``(len(yb), n_classes)``, slices of the chunk that ``_RunningDynamics``
    records at once. The linear head (``_build_head`` with no hidden layer) takes a
    hand-written step: softmax regression's gradient is ``residual^T x / batch``, two
    matmuls and no autograd graph, which is most of the per-step cost of a head this
    small. It is ``torch.optim.SGD``'s update rule (dampening 0, weight decay on every
    parameter), so both paths follow the same trajectory up to float rounding
    (tests/test_dynamics.py). A hidden layer goes through autograd and the optimiser.
    """
    import torch

    if len(head) != 2:  # (Dropout, Linear) is the linear head
        opt = torch.optim.SGD(
            head.parameters(), lr=0.0, momentum=momentum, weight_decay=weight_decay
        )

        def autograd_step(xb, yb, lr, log_p, residual):
            for group in opt.param_groups:
                group["lr"] = lr
            out = torch.log_softmax(head(xb).float(), dim=1)
            loss = torch.nn.functional.nll_loss(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                log_p.copy_(out)
                softmax_residual(log_p, yb, out=residual)

        return autograd_step

    dropout, linear = head
    params = (linear.weight, linear.bias)
    # Zero momentum buffers make the first update buf = grad, as torch's SGD does.
    buffers = [torch.zeros_like(param) for param in params]

    @torch.no_grad()
    def linear_step(xb, yb, lr, log_p, residual):
        xb = dropout(xb)
        torch.log_softmax(torch.addmm(linear.bias, xb, linear.weight.t()), dim=1, out=log_p)
        softmax_residual(log_p, yb, out=residual)
        scale = 1.0 / yb.shape[0]
        # buf = momentum * buf + grad + weight_decay * param, the matmul accumulating
        # straight into the buffer (BLAS's beta), then param -= lr * buf.
        w_buf, b_buf = buffers
        w_buf.addmm_(residual.t(), xb, beta=momentum, alpha=scale)
        # A column sum, not a matrix-vector product: MKL splits those across threads.
        b_buf.mul_(momentum).add_(residual.sum(dim=0), alpha=scale)
        for param, buf in zip(params, buffers):
            buf.add_(param, alpha=weight_decay)
            param.add_(buf, alpha=-lr)

    return linear_step


class DynamicsScorer(ValidatedParamsMixin, BaseEstimator):
    """Score row difficulty from the training dynamics of a small proxy head.

    Trains a linear or one-hidden-layer torch head on ``(X, pseudo_labels)`` with SGD
    and records, per sample and per epoch, running sums behind the scores listed in
    the module docstring. Memory is O(n_samples), independent of ``epochs``.

    Parameters
    ----------
    difficulty : str, default="aum"
        Which score ``scores_`` holds: one of ``"aum"``, ``"forgetting"``, ``"el2n"``,
        ``"entropy"``, ``"confidence"``, ``"variability"``, ``"correctness"``.
        All of them are computed and kept in ``all_scores_``.
    hidden_layer_size : int or None, default=None
        None trains a linear head; an int adds one ReLU hidden layer of that width.
    epochs : int or "auto", default="auto"
        Training epochs (each a pass over every row in a new random order). ``"auto"``
        trains enough epochs for about 2,000 SGD steps, at least 5 and at most 20: 20
        epochs up to 25,600 rows at batch 256, 5 from 102,400 rows up (measured to rank
        rows as 20 epochs do, within seed noise, at 100k-1M rows).
        ``epochs_`` holds the number trained.
    batch_size : int, default=256
        Rows per SGD step.
    learning_rate : float, default=0.1
        SGD learning rate (momentum 0.9), decayed with a cosine schedule.
    weight_decay : float, default=5e-4
        SGD weight decay (L2 penalty).
    input_noise : float, default=0.0
        Std of Gaussian noise added to the standardised inputs at every step: the
        embedding-space counterpart of the image augmentations under which ELFS
        records dynamics. 0 disables it.
    dropout : float, default=0.0
        Dropout before the output layer.
    el2n_epochs : int, default=5
        EL2N sums the error norm over the first ``el2n_epochs`` epochs.
    standardize : bool, default=True
        Standardise features (mean/std from one streamed pass) before training, so
        one learning rate suits embeddings and tabular data alike.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        ``"auto"`` uses CUDA when available.
    n_jobs : int or None, default=None
        Most torch (and BLAS/OpenMP) threads during ``fit``, restored afterwards. None:
        torch's configured count at most, fewer while other processes keep cores busy;
        an int fixes the count; -1 means all cores.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and noise; on CPU the same seed gives the same scores.
    verbose : int, default=0
        Show a progress bar over epochs.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        The chosen score, higher = harder.
    all_scores_ : dict of str -> ndarray of shape (n_samples,)
        Every score, higher = harder.
    classes_ : ndarray
        The pseudo-label values seen in ``fit``.
    epochs_ : int
        Epochs trained (``epochs``, or what ``"auto"`` chose).
    train_accuracy_ : float
        Fraction of rows whose pseudo-label the head predicted at the last epoch.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs import DynamicsScorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 4)), rng.normal(4, 1, (50, 4))])
    >>> y = np.repeat([0, 1], 50)
    >>> scorer = DynamicsScorer(epochs=5, random_state=0).fit(X, y)
    >>> scorer.scores_.shape
    (100,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "difficulty": Options(*SCORES),
        "hidden_layer_size": Int(1, none=True, hint="None trains a linear head."),
        "epochs": Int(1, options=("auto",)),
        "batch_size": Int(1),
        "learning_rate": Real(0),
        "weight_decay": Real(0),
        "input_noise": Real(0),
        "dropout": Real(0, 1, closed="left"),
        "el2n_epochs": Int(1),
        "standardize": Bool(),
        "device": Check(check_device),
        "n_jobs": NJobs(),
        "random_state": Seed(),
        "verbose": Flag(),
    }

    def __init__(
        self,
        difficulty="aum",
        hidden_layer_size=None,
        epochs="auto",
        batch_size=256,
        learning_rate=0.1,
        weight_decay=5e-4,
        input_noise=0.0,
        dropout=0.0,
        el2n_epochs=5,
        standardize=True,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.difficulty = difficulty
        self.hidden_layer_size = hidden_layer_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.input_noise = input_noise
        self.dropout = dropout
        self.el2n_epochs = el2n_epochs
        self.standardize = standardize
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @atomic_fit
    def fit(self, X, y):
        """Train the proxy head on ``(X, y)`` and compute per-row difficulty scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The unlabelled pool (embeddings or features).
        y : array-like of shape (n_samples,)
            Pseudo-labels (cluster ids), at least two distinct values.

        Returns
        -------
        self : object
        """
        self._validate_params()
        reject_sparse(X)
        with streamed_finite_check(X):
            X, y = validate_data(
                self, X, y, dtype=list(FLOAT_DTYPES), copy=False, ensure_min_samples=2
            )
        y = column_or_1d(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "y (the pseudo-labels) has a single class; the proxy head needs at least 2 "
                "clusters to produce training dynamics."
            )
        device = resolve_device(self.device)
        n, d = X.shape
        mean, std = column_moments(X) if self.standardize else (np.zeros(d), np.ones(d))

        # Private generators make init, shuffling, noise and dropout reproducible, also
        # while other threads use torch, without touching the global torch RNG.
        generators = torch_generators(draw_seed(self.random_state), device)
        epochs = auto_epochs(self.epochs, n, self.batch_size)
        with limit_threads(self.n_jobs):
            stats = self._train(X, y_enc, classes.size, mean, std, device, generators, epochs)
        all_scores = stats.scores(epochs)
        self.epochs_ = epochs
        self.all_scores_ = all_scores
        self.scores_ = all_scores[self.difficulty]
        self.classes_ = classes
        self.train_accuracy_ = float(stats.prev_correct.float().mean().item())
        return self

    def _train(self, X, y_enc, n_classes, mean, std, device, generators, epochs):
        """SGD on the proxy head; returns the filled running-sum accumulators."""
        import torch

        n, d = X.shape
        cpu_gen, device_gen = generators
        head = _build_head(
            d, n_classes, self.hidden_layer_size, self.dropout, cpu_gen, device_gen
        ).to(device)
        mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device)
        inv_std_t = 1.0 / torch.as_tensor(std, dtype=torch.float32, device=device)
        y_t = torch.as_tensor(y_enc, dtype=torch.long, device=device)
        step = sgd_step(head, self.weight_decay)
        lrs = cosine_learning_rates(self.learning_rate, epochs * -(-n // self.batch_size))
        chunk = chunk_rows(self.batch_size, n_classes)
        stats = _RunningDynamics(n, device)
        # The steps of a chunk write their log-softmax and residual here, recorded at once.
        log_p_chunk = torch.empty(chunk, n_classes, device=device)
        residual_chunk = torch.empty(chunk, n_classes, device=device)
        pages = PageReleaser(X)  # RSS stays bounded on a map larger than memory
        bar = progress(epochs, "proxy dynamics", self.verbose)
        head.train()
        t = 0
        try:
            for epoch in range(epochs):
                perm = torch.randperm(n, generator=cpu_gen).numpy()
                for c_start in range(0, n, chunk):
                    # A chunk of whole batches is read and standardised at once, and
                    # its dynamics are recorded at once: rows within an epoch are
                    # distinct, so this equals recording batch by batch, in fewer ops.
                    retune_threads()
                    rows = perm[c_start : c_start + chunk].copy()
                    for b_start in range(0, rows.size, self.batch_size):
                        # Each batch is perm's next slice, its rows in file order.
                        rows[b_start : b_start + self.batch_size].sort()
                    # A fresh copy (take returns a new array): standardised in place below.
                    xc = rows_to_device(pages.take(rows), slice(None), device)
                    xc.sub_(mean_t).mul_(inv_std_t)
                    idx = torch.from_numpy(rows).to(device)
                    yc = y_t[idx]
                    log_p, residual = log_p_chunk[: rows.size], residual_chunk[: rows.size]
                    for b_start in range(0, rows.size, self.batch_size):
                        batch = slice(b_start, b_start + self.batch_size)
                        xb = xc[batch]
                        if self.input_noise > 0:
                            xb = xb + self.input_noise * torch.randn(
                                xb.shape, device=device, generator=device_gen
                            )
                        # A short batch (an epoch's last, or every one below 64 rows)
                        # steps on one thread: the BLAS's kernel then cannot depend on
                        # the thread count.
                        short = device.type == "cpu" and xb.shape[0] < ONE_THREAD_BELOW
                        with one_thread() if short else nullcontext():
                            step(xb, yc[batch], lrs[t], log_p[batch], residual[batch])
                        t += 1
                    stats.update(
                        idx, log_p, yc, record_el2n=epoch < self.el2n_epochs, residual=residual
                    )
                bar.update()
        finally:
            bar.close()
        return stats

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
