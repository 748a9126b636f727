"""A multinomial logistic-regression probe in torch, for the label-free beta search.

``beta="auto"`` trains one probe per candidate beta on a selection's pseudo-labels and
scores it on held-out pseudo-labels (``selector._auto_beta``). The probe is the same
model as ``make_pipeline(StandardScaler(), LogisticRegression(C=1.0))``: standardised
features, softmax regression with an unpenalised intercept and the objective
``mean cross-entropy + ||W||^2 / (2 C n)``, minimised by L-BFGS. It lives in torch
rather than scikit-learn so that it runs on the selector's device (the GPU when
``device="cuda"``) and in float32: on a 2-core CPU it fitted 4,000 x 768 rows with 500
pseudo-classes 2.7x faster than scikit-learn's float64 L-BFGS, at a tighter gradient
tolerance (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np


def probe_accuracy(X_train, y_train, X_val, y_val, *, device, C=1.0, max_iter=300, tol=1e-5):
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
    tol : float, default=1e-5
        Stop when the largest absolute gradient entry falls below ``tol``.

    Returns
    -------
    accuracy : float
    """
    import torch

    classes, y_enc = np.unique(y_train, return_inverse=True)
    if classes.size < 2:  # a single class predicts itself everywhere
        return float(np.mean(np.asarray(y_val) == classes[0]))
    X_tr = torch.as_tensor(np.asarray(X_train, dtype=np.float32), device=device)
    mean = X_tr.mean(dim=0)
    std = X_tr.std(dim=0, unbiased=False)
    std[std < 1e-12] = 1.0  # constant columns stay centred at zero, as StandardScaler
    X_tr = (X_tr - mean) / std
    y_t = torch.as_tensor(y_enc, dtype=torch.long, device=device)
    W = torch.zeros(X_tr.shape[1], classes.size, device=device, requires_grad=True)
    b = torch.zeros(classes.size, device=device, requires_grad=True)
    l2 = 1.0 / (C * X_tr.shape[0])
    opt = torch.optim.LBFGS(
        [W, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-9,
        history_size=10,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(X_tr @ W + b, y_t) + 0.5 * l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        X_v = (torch.as_tensor(np.asarray(X_val, dtype=np.float32), device=device) - mean) / std
        pred = classes[(X_v @ W + b).argmax(dim=1).cpu().numpy()]
    return float(np.mean(pred == np.asarray(y_val)))
