"""BaseSelector: what every row selector in skelfs shares.

Row selection is not feature selection, so this deliberately does not inherit
``SelectorMixin`` (whose ``transform`` drops columns). A selector is fitted on a pool of
rows, label-free, and exposes which rows to label.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import TransformerTags
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from ._utils import (
    FLOAT_DTYPES,
    atomic_fit,
    limit_threads,
    reject_sparse,
    resolve_budget,
    take_rows,
)
from ._validation import NO_VALIDATION, Seed, ValidatedParamsMixin


class BaseSelector(ValidatedParamsMixin, BaseEstimator):
    """Base class for label-free row selectors.

    Subclasses implement ``_select(X, n_select)`` and return a dict of fitted
    attributes that contains at least ``"sample_indices_"`` (the selected row indices,
    any order). ``fit`` validates ``X``, resolves ``budget`` and sets all attributes
    at once, so an interrupted fit leaves the estimator as it was.

    Parameters
    ----------
    budget : int or float
        Rows to select: an int is a count in ``[1, n_samples]``; a float in ``(0, 1)``
        is a fraction of the pool (floored, at least one row).

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Sorted indices of the selected rows.
    n_selected_ : int
        Number of selected rows.
    n_samples_fit_ : int
        Number of rows in the pool seen in ``fit``.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    A selector that keeps the rows with the largest first feature:

    >>> import numpy as np
    >>> from skelfs import BaseSelector
    >>> class LargestFirstFeature(BaseSelector):
    ...     def _select(self, X, n_select):
    ...         return {"sample_indices_": np.argsort(-X[:, 0])[:n_select]}
    >>> X = np.array([[0.0, 1.0], [3.0, 0.0], [1.0, 2.0], [2.0, 5.0]])
    >>> sel = LargestFirstFeature(budget=2).fit(X)
    >>> sel.get_support(indices=True)
    array([1, 3])
    >>> sel.transform(X)
    array([[3., 0.],
           [2., 5.]])
    """

    # Subclasses extend this dict with their own parameters (skelfs._validation).
    _parameter_constraints: ClassVar[dict] = {
        "budget": NO_VALIDATION,  # checked against the pool's size in fit (resolve_budget)
        "random_state": Seed(),
    }

    def __init__(self, budget=0.1):
        self.budget = budget

    # -- subclass hook ---------------------------------------------------------------
    def _select(self, X, n_select):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public API --------------------------------------------------------------------
    @atomic_fit
    def fit(self, X, y=None):
        """Select rows from the pool ``X`` without looking at labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The unlabelled pool (embeddings or tabular features). NumPy arrays,
            memory maps and pandas DataFrames are accepted.
        y : None
            Ignored; present for API consistency. Selection is label-free.

        Returns
        -------
        self : object
            The fitted selector.
        """
        self._validate_params()
        X = self._validate_pool(X)
        n_select = resolve_budget(self.budget, X.shape[0])
        with limit_threads(getattr(self, "n_jobs", None)):
            fitted = self._select(X, n_select)
        idx = np.sort(np.asarray(fitted.pop("sample_indices_"), dtype=np.intp))
        if idx.size != n_select or np.unique(idx).size != idx.size:
            raise RuntimeError(  # an internal invariant, not a user error
                f"{type(self).__name__} returned {idx.size} rows ({np.unique(idx).size} unique) "
                f"for a budget of {n_select}; please report this as a bug."
            )
        fitted.update(sample_indices_=idx, n_selected_=int(idx.size), n_samples_fit_=X.shape[0])
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def get_support(self, indices=False):
        """Mask or indices of the selected rows of the pool seen in ``fit``.

        Parameters
        ----------
        indices : bool, default=False
            If True, return the sorted integer indices; otherwise a boolean mask of
            shape ``(n_samples_fit_,)``.

        Returns
        -------
        support : ndarray
        """
        check_is_fitted(self, "sample_indices_")
        if indices:
            return self.sample_indices_.copy()
        mask = np.zeros(self.n_samples_fit_, dtype=bool)
        mask[self.sample_indices_] = True
        return mask

    def transform(self, X):
        """Return the selected rows of the fitted pool ``X``.

        ``X`` must be the pool given to ``fit`` (same number of rows and features);
        the container type is kept (a DataFrame keeps its index).
        """
        check_is_fitted(self, "sample_indices_")
        validate_data(self, X, reset=False, dtype=list(FLOAT_DTYPES), copy=False)
        n_rows = _num_samples(X)
        if n_rows != self.n_samples_fit_:
            raise ValueError(
                f"transform(X) returns the selected rows of the pool seen in fit, which had "
                f"{self.n_samples_fit_} rows; X has {n_rows}. A selector is not a "
                f"feature transformer: call fit on the new pool instead."
            )
        return take_rows(X, self.sample_indices_)

    def fit_transform(self, X, y=None):
        """Fit on the pool ``X`` and return its selected rows (same container type)."""
        return self.fit(X, y).transform(X)

    # -- helpers -------------------------------------------------------------------------
    def _validate_pool(self, X):
        # validate_data records n_features_in_ / feature_names_in_ for transform's checks.
        reject_sparse(X)
        return validate_data(
            self, X, dtype=list(FLOAT_DTYPES), copy=False, ensure_min_samples=2,
            ensure_all_finite=True,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.requires_fit = True
        # transform exists (it returns the selected rows), so sklearn treats a selector as
        # a transformer; the selected rows keep the input dtype.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags
