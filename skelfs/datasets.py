"""Bundled example data and loaders (no download: scikit-learn ships digits)."""

from __future__ import annotations

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def load_example(test_size=0.3, random_state=0):
    """The bundled example: scikit-learn's 8x8 digits, split into a pool and a test set.

    The pool is what a selector sees (label-free); ``y_pool`` stands for the annotators'
    answers and is read only at the selected rows; the test set scores the result.

    Parameters
    ----------
    test_size : float, default=0.3
        Fraction of the digits held out as the labelled test split.
    random_state : int, default=0
        Seeds the split.

    Returns
    -------
    X_pool, X_test, y_pool, y_test : ndarrays
        float32 features scaled to [0, 1] and int labels 0..9.

    Examples
    --------
    >>> from skelfs.datasets import load_example
    >>> X_pool, X_test, y_pool, y_test = load_example()
    >>> X_pool.shape, X_test.shape
    ((1257, 64), (540, 64))
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)
