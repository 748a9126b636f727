"""Meta-estimators that put a selector in front of supervised learning.

``CoresetEstimator`` is the scikit-learn-native way to evaluate or grid-search a
selector: ``fit(X, y)`` selects rows label-free, then fits the estimator on the selected
rows only. ``CoresetSampler`` exposes the imbalanced-learn sampler protocol
(``fit_resample``) on a thin adapter, since imbalanced-learn's Pipeline refuses a step
that has both ``transform`` and ``fit_resample``.

In both, ``y`` is read only at the selected rows: that is the simulated annotation.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._utils import atomic_fit, take_rows


def _estimator_has(attr):
    def check(self):
        return hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)

    return check


def _select_rows(selector, X, y):
    """Fit a clone of ``selector`` on X (no labels) and return it with the selected (X, y)."""
    if y is None:
        raise ValueError(
            "requires y to be passed, but the target y is None: y holds the labels, read "
            "only at the selected rows (pass placeholders for rows not yet labelled)."
        )
    n_rows = _num_samples(X)
    y_arr = np.asarray(y)
    if y_arr.ndim == 0 or y_arr.shape[0] != n_rows:
        raise ValueError(
            f"y has {y_arr.shape[0] if y_arr.ndim else 0} entries but X has {n_rows} rows; "
            f"pass one label (or placeholder) per row of X."
        )
    selector = clone(selector).fit(X)
    idx = selector.get_support(indices=True)
    return selector, take_rows(X, idx), take_rows(y, idx)


class CoresetEstimator(MetaEstimatorMixin, BaseEstimator):
    """Select a coreset label-free, then fit ``estimator`` on the selected rows only.

    Parameters
    ----------
    selector : BaseSelector
        Any skelfs selector (e.g. :class:`ELFSSelector`); cloned in ``fit``.
    estimator : estimator
        The supervised model trained on the selected rows; cloned in ``fit``.

    Attributes
    ----------
    selector_ : fitted selector
    estimator_ : fitted estimator
    classes_ : ndarray
        Present when the estimator is a classifier.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skelfs import CoresetEstimator, ELFSSelector
    >>> X, y = load_digits(return_X_y=True)
    >>> est = CoresetEstimator(ELFSSelector(budget=0.2, beta=0.1, n_clusters=10),
    ...                        LogisticRegression(max_iter=500)).fit(X, y)
    >>> est.selector_.n_selected_
    359
    """

    def __init__(self, selector, estimator):
        self.selector = selector
        self.estimator = estimator

    @atomic_fit
    def fit(self, X, y, **fit_params):
        """Select rows of ``X`` label-free and fit the estimator on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool the selector chooses from.
        y : array-like of shape (n_samples,)
            Only the selected rows' entries are read.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : object
        """
        selector, X_sel, y_sel = _select_rows(self.selector, X, y)
        estimator = clone(self.estimator).fit(X_sel, y_sel, **fit_params)
        self.selector_ = selector
        self.estimator_ = estimator
        self.n_features_in_ = selector.n_features_in_
        if hasattr(selector, "feature_names_in_"):
            self.feature_names_in_ = selector.feature_names_in_
        if hasattr(estimator, "classes_"):
            self.classes_ = estimator.classes_
        return self

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the estimator fitted on the coreset (its own ``score`` method)."""
        check_is_fitted(self, "estimator_")
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags.required = True
        return tags


class CoresetSampler(BaseEstimator):
    """imbalanced-learn style sampler: ``fit_resample(X, y)`` returns the selected rows.

    Parameters
    ----------
    selector : BaseSelector
        Cloned and fitted on ``X`` (label-free) in ``fit_resample``.

    Attributes
    ----------
    selector_ : fitted selector
    sample_indices_ : ndarray
        Indices of the rows returned by the last ``fit_resample``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skelfs import CoresetSampler, ELFSSelector
    >>> X, y = load_digits(return_X_y=True)
    >>> X_sel, y_sel = CoresetSampler(ELFSSelector(budget=100, n_clusters=10)).fit_resample(X, y)
    >>> X_sel.shape, y_sel.shape
    ((100, 64), (100,))
    """

    _estimator_type = "sampler"

    def __init__(self, selector):
        self.selector = selector

    def fit(self, X, y):
        """Fit the selector on ``X``; returns self (use ``fit_resample`` for the rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool the selector chooses from.
        y : array-like of shape (n_samples,)
            Read only at the selected rows.

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y)
        return self

    @atomic_fit
    def fit_resample(self, X, y):
        """Select rows of ``X`` label-free; return them with their labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool the selector chooses from.
        y : array-like of shape (n_samples,)
            Read only at the selected rows.

        Returns
        -------
        X_resampled : array-like of shape (n_selected, n_features)
        y_resampled : array-like of shape (n_selected,)
        """
        selector, X_sel, y_sel = _select_rows(self.selector, X, y)
        self.selector_ = selector
        self.sample_indices_ = selector.get_support(indices=True)
        self.n_features_in_ = selector.n_features_in_
        return X_sel, y_sel
