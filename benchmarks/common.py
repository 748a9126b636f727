"""Helpers shared by the benchmark scripts: data loading, the probe, formatting, CSV reading.

The scripts run as ``python benchmarks/<script>.py`` (this folder is then first on the path,
so ``import common`` finds this module). Importing it also makes ``skelfs`` importable from
this checkout when it is not installed (``PYTHONPATH=.`` works as well). Nothing here
imports ``skelfs``.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
#: Default folder of ``<dataset>/{train,test}.npz``: ``../shared/data`` from the repository.
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DATASETS = ("ag_news_test7600", "banking77", "letter")
TABULAR = {"letter"}  # standardised with a StandardScaler fitted on train X (label-free)

if importlib.util.find_spec("skelfs") is None:
    sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing


def log(msg):
    """Print ``msg`` to stderr at once (stdout carries the results)."""
    print(msg, file=sys.stderr, flush=True)


def load_dataset(data_dir, name):
    """Train/test arrays ``(X, y, X_test, y_test)`` as float32; tabular sets standardised
    with statistics of the (unlabelled) train X only."""
    tr = np.load(Path(data_dir) / name / "train.npz")
    te = np.load(Path(data_dir) / name / "test.npz")
    X, y = tr["X"].astype(np.float32), np.asarray(tr["y"])
    X_test, y_test = te["X"].astype(np.float32), np.asarray(te["y"])
    if name in TABULAR:
        scaler = StandardScaler().fit(X)  # fitted on the unlabelled pool: label-free
        X = scaler.transform(X).astype(np.float32)
        X_test = scaler.transform(X_test).astype(np.float32)
    return X, y, X_test, y_test


def probe_accuracy(X, y, rows, X_test, y_test, probe=None):
    """Reveal the labels of ``rows``, train ``probe`` on them, score it on test.

    ``probe`` is an unfitted classifier; the default is the logistic probe of
    docs/algorithm.md, ``LogisticRegression(C=1.0, max_iter=1000)``.
    """
    y_sel = y[rows]
    if np.unique(y_sel).size < 2:  # a one-class selection can only predict that class
        return float(np.mean(y_test == y_sel[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if probe is None:
            probe = LogisticRegression(C=1.0, max_iter=1000)
        clf = probe.fit(X[rows], y_sel)
    return float(clf.score(X_test, y_test))


def fmt_mean_std(values, scale=100.0, digits=1):
    """``"mean ± std"`` of the non-NaN ``values`` times ``scale`` (one value: just it)."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float) * scale
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=0):.{digits}f}"


def to_float(x):
    """``float(x)``, or NaN for an empty or non-numeric CSV cell."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def read_csvs(paths):
    """The rows (dicts of strings) of every CSV in ``paths``, in order."""
    rows = []
    for p in paths:
        with open(p, newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows
