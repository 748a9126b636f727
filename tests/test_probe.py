"""The torch logistic-regression probe behind beta="auto" against scikit-learn's."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skelfs._probe import probe_accuracy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)  # has constant pixel columns
    return X[:1200], y[:1200], X[1200:], y[1200:]


@pytest.mark.parametrize("C", [1.0, 0.01])
def test_probe_matches_sklearn_logistic_regression(digits, C):
    Xtr, ytr, Xv, yv = digits
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, tol=1e-8))
    ref_acc = ref.fit(Xtr, ytr).score(Xv, yv)
    acc = probe_accuracy(Xtr, ytr, Xv, yv, device=CPU, C=C, max_iter=1000, tol=1e-7)
    # Same objective, both near its minimum: at most a couple of the 597 rows differ.
    assert abs(acc - ref_acc) <= 3 / len(yv)
    # The penalty matters: strong regularisation gives a different (worse) probe.
    assert C == 1.0 or acc < probe_accuracy(Xtr, ytr, Xv, yv, device=CPU)


def test_probe_labels_of_any_type_and_unseen_validation_labels(digits):
    Xtr, ytr, Xv, yv = digits
    names = np.array([f"c{k}" for k in range(10)])
    acc = probe_accuracy(Xtr, names[ytr], Xv, names[yv], device=CPU)
    assert acc == probe_accuracy(Xtr, ytr, Xv, yv, device=CPU)
    # Class 9 never seen in training: its validation rows can only be wrong.
    keep = ytr != 9
    acc9 = probe_accuracy(Xtr[keep], ytr[keep], Xv, yv, device=CPU)
    assert acc9 <= 1.0 - np.mean(yv == 9) + 1e-12


def test_probe_single_class_predicts_it_everywhere():
    X = np.random.RandomState(0).rand(20, 3)
    y_val = np.array([1, 1, 2, 1])
    assert probe_accuracy(X, np.ones(20), X[:4], y_val, device=CPU) == 0.75


def test_probe_is_deterministic_and_accepts_float16(digits):
    Xtr, ytr, Xv, yv = digits
    a = probe_accuracy(Xtr.astype(np.float16), ytr, Xv.astype(np.float16), yv, device=CPU)
    b = probe_accuracy(Xtr.astype(np.float16), ytr, Xv.astype(np.float16), yv, device=CPU)
    assert a == b and a > 0.85


def test_probe_does_not_depend_on_the_thread_count():
    # 129 x 300 weights: torch.optim.LBFGS's dot products over them split across threads,
    # and its beta-search accuracies differed between 1 and 2 threads on 5 of 12 sets.
    from skelfs._probe import fit_probe
    from skelfs._threads import limit_threads

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 128)).astype(np.float32)
    y = (X[:, :8] @ rng.standard_normal((8, 300))).argmax(axis=1)
    weights = []
    for threads in (1, 2):
        with limit_threads(threads):
            weights.append(fit_probe(X, y, device=CPU)[2])
    assert torch.equal(weights[0], weights[1])


def test_lbfgs_finds_the_minimum_of_a_convex_quadratic():
    from skelfs._probe import _lbfgs

    rng = np.random.default_rng(1)
    M = rng.standard_normal((40, 30))
    A = torch.as_tensor(M.T @ M / 40 + 0.1 * np.eye(30), dtype=torch.float64)
    b = torch.as_tensor(rng.standard_normal((30, 2)), dtype=torch.float64)

    def objective(x):
        g = A @ x - b
        return float(0.5 * (x * (A @ x)).sum() - (b * x).sum()), g

    x0 = torch.zeros(30, 2, dtype=torch.float64)
    x = _lbfgs(objective, x0, max_iter=500, tol=1e-8, tolerance_change=0.0)
    np.testing.assert_allclose(x.numpy(), torch.linalg.solve(A, b).numpy(), atol=1e-6)


def test_probe_stops_where_the_true_gradient_is_small(digits):
    # The line search updates the logits incrementally (Z + t dZ, no fresh X @ W per
    # trial step): the weights it returns must still meet the stopping rule on logits
    # recomputed from scratch, in float64, not only on the updated ones.
    from skelfs._probe import fit_probe

    Xtr, ytr, _, _ = digits
    tol = 1e-4
    mean, std, P = fit_probe(Xtr, ytr, device=CPU, tol=tol, max_iter=1000)
    X = (torch.as_tensor(Xtr, dtype=torch.float64) - mean.double()) / std.double()
    W, b = P[:-1].double(), P[-1].double()
    n = X.shape[0]
    residual = torch.softmax(X @ W + b, dim=1)
    residual[torch.arange(n), torch.as_tensor(np.unique(ytr, return_inverse=True)[1])] -= 1
    grad_W = X.T @ residual / n + W / n  # C = 1: the penalty's gradient is W / (C n)
    grad_b = residual.sum(dim=0) / n
    assert max(grad_W.abs().max(), grad_b.abs().max()) <= 2 * tol
