"""A multinomial logistic-regression probe in torch, for the label-free beta search.

``beta="auto"`` trains one probe per candidate beta on a selection's pseudo-labels and
scores it on held-out pseudo-labels (``selector._auto_beta``). The probe is the same
model as ``make_pipeline(StandardScaler(), LogisticRegression(C=1.0))``: standardised
features, softmax regression with an unpenalised intercept and the objective
``mean cross-entropy + ||W||^2 / (2 C n)``, minimised by L-BFGS until the largest
gradient entry is at most ``tol = 1e-4``, scikit-learn's default stopping rule for the
same objective. It lives in torch rather than scikit-learn so that it runs on the
selector's device (the GPU when ``device="cuda"``) and in float32: on a 2-core CPU it
fitted 4,000 x 768 rows with 500 pseudo-classes 2.7x faster than scikit-learn's float64
L-BFGS (docs/benchmarks.md). A tighter ``1e-5`` took 1.8x the evaluations (237 vs 134
at 100k) and changed no quality figure beyond noise (docs/benchmarks.md, "The probes'
stopping rule").

The L-BFGS is written here rather than taken from ``torch.optim.LBFGS`` so that the
chosen beta does not depend on the thread count: torch splits a long sum or dot product
across its threads and rounds it differently with another count, and the optimiser's
line search and curvature pairs follow those last bits (the beta search's accuracies
differed in the 4th decimal between 1 and 2 threads). Here every sum runs along rows
(one thread each) and then through :func:`skelfs._threads.invariant_sum`, and the
gradient is written out (``softmax - onehot``), with no autograd graph.

The logits are linear in the weights, so a line search along ``d`` computes ``X d`` once
and each trial step's logits as ``Z + t X d``: the value and the slope ``g.d`` of a trial
need no matmul, and only the accepted step's gradient does (``X^T residual``). At 100k
rows (4,500 x 768 probe rows, 500 pseudo-classes) that cut the search from 6.0 to 5.0 s;
the 12 quality cells chose the same betas (``benchmarks/probe_replay.py``).
"""

from __future__ import annotations

import math

import numpy as np

from ._threads import invariant_sum
from .dynamics import softmax_residual

#: Wolfe conditions: sufficient decrease (c1) and curvature (c2), as usual for L-BFGS.
_C1, _C2 = 1e-4, 0.9
#: Most objective evaluations per line search.
_MAX_LS_EVALS = 25


def probe_accuracy(X_train, y_train, X_val, y_val, *, device, C=1.0, max_iter=300, tol=1e-4):
    """Accuracy on ``(X_val, y_val)`` of a softmax regression fitted on the train rows.

    Parameters
    ----------
    X_train, X_val : ndarray of shape (n, d), float
        Read once and cast to float32 on ``device``.
    y_train, y_val : ndarray of shape (n,)
        Labels of any type; a validation label never seen in training counts as wrong.
    device : torch.device
    C : float, default=1.0
        Inverse L2 strength, as scikit-learn's ``LogisticRegression``.
    max_iter : int, default=300
        Most L-BFGS iterations.
    tol : float, default=1e-4
        Stop when the largest absolute gradient entry falls below ``tol``.

    Returns
    -------
    accuracy : float
    """
    import torch

    classes = np.unique(y_train)
    if classes.size < 2:  # a single class predicts itself everywhere
        return float(np.mean(np.asarray(y_val) == classes[0]))
    mean, std, P = fit_probe(X_train, y_train, device=device, C=C, max_iter=max_iter, tol=tol)
    X_v = (torch.as_tensor(np.asarray(X_val, dtype=np.float32), device=device) - mean) / std
    pred = classes[torch.addmm(P[-1], X_v, P[:-1]).argmax(dim=1).cpu().numpy()]
    return float(np.mean(pred == np.asarray(y_val)))


def fit_probe(X_train, y_train, *, device, C=1.0, max_iter=300, tol=1e-4):
    """The probe's standardisation and weights: ``(mean, std, P)``, tensors on ``device``.

    ``P`` stacks the weights ``W`` (``d x K``, one column per class of
    ``np.unique(y_train)``, at least two) over the intercept row ``b``. Parameters as
    :func:`probe_accuracy`.
    """
    import torch

    _, y_enc = np.unique(y_train, return_inverse=True)
    X_tr = torch.as_tensor(np.asarray(X_train, dtype=np.float32), device=device)
    mean = X_tr.mean(dim=0)
    std = X_tr.std(dim=0, unbiased=False)
    std[std < 1e-12] = 1.0  # constant columns stay centred at zero, as StandardScaler
    X_tr = (X_tr - mean) / std
    y_t = torch.as_tensor(y_enc, dtype=torch.long, device=device)
    n = X_tr.shape[0]
    l2 = 1.0 / (C * n)
    rows = torch.arange(n, device=device)
    P = torch.zeros(X_tr.shape[1] + 1, int(y_enc.max()) + 1, device=device)
    current = torch.zeros(n, P.shape[1], device=device)  # the logits X_tr W + b at P

    def at(P, Z):
        """At weights ``P`` with logits ``Z``: the value, the slope along a direction
        ``d`` (from ``dZ``, the logits' change along ``d``), and the gradient function."""
        W = P[:-1]
        log_p = torch.log_softmax(Z, dim=1)
        loss = -invariant_sum(log_p[rows, y_t]) / n + 0.5 * l2 * _dot(W, W)
        residual = softmax_residual(log_p, y_t, out=log_p)

        def slope(dZ, d):
            return _dot(residual, dZ) / n + l2 * _dot(W, d[:-1])

        def gradient():
            nonlocal current
            current = Z  # called for the accepted step only: the next line starts here
            grad = torch.empty_like(P)
            torch.addmm(W, X_tr.T, residual, beta=l2, alpha=1.0 / n, out=grad[:-1])
            torch.sum(residual, dim=0, out=grad[-1])
            grad[-1] /= n
            return grad

        return loss, slope, gradient

    def objective(P):  # the starting point only, P = 0, where the logits are 0
        loss, _, gradient = at(P, current)
        return loss, gradient()

    def along(P, d):
        # The logits are linear in P: X (W + t D) + b + t d_b = Z + t dZ. One matmul per
        # line instead of one per trial step, and none for the slope g.d = <residual, dZ>
        # / n + l2 <W, D>; only the accepted step's gradient needs the second matmul.
        Z, dZ = current, torch.addmm(d[-1], X_tr, d[:-1])

        def phi(t):
            loss, slope, gradient = at(P + t * d, torch.add(Z, dZ, alpha=t))
            return loss, slope(dZ, d), gradient

        return phi

    return mean, std, _lbfgs(objective, P, max_iter=max_iter, tol=tol, along=along)


def _dot(a, b):
    """Inner product of two 2-d tensors, the same on any thread count."""
    return invariant_sum((a * b).sum(dim=1))


def _lbfgs(objective, x, *, max_iter, tol, history=10, tolerance_change=1e-9, along=None):
    """Minimise a smooth convex ``objective(x) -> (value, gradient)`` from ``x``.

    L-BFGS (two-loop recursion over the last ``history`` pairs) with a line search for
    the strong Wolfe conditions (:func:`_wolfe_search`); curvature pairs with
    ``y.s <= 1e-10`` are skipped. Stops when the largest gradient entry is at most
    ``tol``, when the value or the step changes by less than ``tolerance_change``, or
    after ``max_iter`` iterations. The first trial step is ``-g / max(1, |g|_1)``, as in
    ``torch.optim.LBFGS``, whose rules this follows.

    ``along(x, d)``, when given, returns the line search's ``phi(t) -> (value, slope,
    gradient)`` at ``x + t d``: the slope ``g.d`` as a number and the gradient as a
    function, called only for the step the search accepts. Without it each trial is
    ``objective(x + t d)``.
    """
    along = along or _along(objective)
    f, g = objective(x)
    pairs = []  # (s, y, 1 / y.s), oldest first
    gamma = None
    for iteration in range(max_iter):
        if float(g.abs().max()) <= tol:
            break
        # d = -H g by the two-loop recursion.
        q = g.clone()
        alphas = []
        for s, y, rho in reversed(pairs):
            alpha = rho * _dot(s, q)
            q.sub_(y, alpha=alpha)
            alphas.append(alpha)
        if gamma is not None:
            q.mul_(gamma)
        for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
            q.add_(s, alpha=alpha - rho * _dot(y, q))
        d = q.neg_()
        gtd = _dot(g, d)
        if gtd > -tolerance_change:  # not a descent direction any more
            break
        t = 1.0 if iteration else min(1.0, 1.0 / invariant_sum(g.abs().sum(dim=1)))
        t, f_new, gradient = _wolfe_search(along(x, d), f, gtd, t)
        if t == 0.0:
            break  # no decrease found: x is as good as this precision allows
        g_new = gradient()
        s = t * d
        x_new = x + s
        y = g_new - g
        ys = _dot(y, s)
        if ys > 1e-10:
            pairs.append((s, y, 1.0 / ys))
            del pairs[:-history]
            gamma = ys / _dot(y, y)
        small_step = float(s.abs().max()) <= tolerance_change
        small_change = abs(f_new - f) < tolerance_change
        x, f, g = x_new, f_new, g_new
        if small_step or small_change:
            break
    return x


def _along(objective):
    """The line search's ``along`` for a plain ``objective(x) -> (value, gradient)``."""

    def along(x, d):
        def phi(t):
            f_t, g_t = objective(x + t * d)
            return f_t, _dot(g_t, d), lambda: g_t

        return phi

    return along


def _wolfe_search(phi, f, gtd, t):
    """A step ``t`` along the line ``phi`` (see :func:`_lbfgs`) meeting the strong
    Wolfe conditions, with its value and gradient function: ``(t, value, gradient)``,
    or ``(0, f, None)`` if none was found. ``f`` and ``gtd`` are the value and slope at
    ``t = 0``.

    Bracketing then zoom, with cubic interpolation (Nocedal and Wright, *Numerical
    Optimization*, algorithms 3.5 and 3.6). A trial may grow to 10x the previous one, so
    a short first guess costs a few evaluations, not many iterations.
    """
    previous = (0.0, f, gtd, None)
    for evals in range(1, _MAX_LS_EVALS + 1):
        trial = (t, *phi(t))
        f_t = trial[1]
        if f_t > f + _C1 * t * gtd or (evals > 1 and f_t >= previous[1]):
            return _zoom(phi, f, gtd, previous, trial, evals)
        if abs(trial[2]) <= -_C2 * gtd:
            return t, f_t, trial[3]
        if trial[2] >= 0:
            return _zoom(phi, f, gtd, trial, previous, evals)
        t_next = _cubic_minimum(previous, trial, t + 0.01 * (t - previous[0]), 10.0 * t)
        previous, t = trial, t_next
    return previous[0], previous[1], previous[3]


def _zoom(phi, f, gtd, lo, hi, evals):
    """Narrow ``[lo, hi]`` (points ``(t, value, slope, gradient)``; ``lo`` has the lower
    value and meets sufficient decrease) to a strong Wolfe step."""
    while evals < _MAX_LS_EVALS and abs(hi[0] - lo[0]) > 1e-12:
        a, b = sorted((lo[0], hi[0]))
        t = _cubic_minimum(lo, hi, a, b)
        if min(t - a, b - t) < 0.1 * (b - a):  # too close to an end: bisect instead
            t = 0.5 * (a + b)
        trial = (t, *phi(t))
        evals += 1
        f_t = trial[1]
        if f_t > f + _C1 * t * gtd or f_t >= lo[1]:
            hi = trial
        else:
            if abs(trial[2]) <= -_C2 * gtd:
                return t, f_t, trial[3]
            if trial[2] * (hi[0] - lo[0]) >= 0:
                hi = lo
            lo = trial
    return lo[0], lo[1], lo[3]


def _cubic_minimum(p, q, low, high):
    """Minimiser in ``[low, high]`` of the cubic through two points ``(t, f, f', ...)``;
    the middle of the interval when the cubic has no minimum."""
    (t1, f1, g1), (t2, f2, g2) = p[:3], q[:3]
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    square = d1 * d1 - g1 * g2
    if square < 0.0:
        return 0.5 * (low + high)
    d2 = math.copysign(math.sqrt(square), t2 - t1)
    denominator = g2 - g1 + 2.0 * d2
    if denominator == 0.0:
        return 0.5 * (low + high)
    t = t2 - (t2 - t1) * (g2 + d2 - d1) / denominator
    return min(max(t, low), high)
