"""BaseSelector: what every row selector in skelfs shares.

Row selection is not feature selection, so this deliberately does not inherit
``SelectorMixin`` (whose ``transform`` drops columns). A selector is fitted on a pool of
rows, label-free, and exposes which rows to label.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import TransformerTags
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _num_samples,
    check_is_fitted,
    validate_data,
)

from ._threads import limit_threads
from ._utils import (
    FLOAT_DTYPES,
    as_compute_dtype,
    atomic_fit,
    check_embeddings,
    reject_sparse,
    resolve_budget,
    streamed_finite_check,
    take_rows,
)
from ._validation import NO_VALIDATION, Seed, ValidatedParamsMixin
from .encoders import discard_output, owned_outputs


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
    sample_indices_ : ndarray of shape ``(n_selected_,)``
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
            memory maps and pandas DataFrames are accepted. Selectors compute in float32:
            float64 input is rounded to float32 once, float16 is read in float32 blocks,
            so the same values give the same selection whatever container or dtype they
            arrive in. A DataFrame is read by the rules of the ``skelfs`` command
            (:func:`skelfs.io.frame_to_matrix`): numeric, nullable (``Int64``,
            ``Float64``, ...) and bool columns are features; text, missing values and
            mixed columns raise a ``ValueError`` naming the column; an id-like column
            warns. Values whose largest magnitude lies outside ``[1e-10, 1e15]``
            raise a ``ValueError`` (float32 would overflow or underflow).
        y : None
            Ignored; present for API consistency. Selection is label-free.

        Returns
        -------
        self : object
            The fitted selector.
        """
        self._validate_params()
        if getattr(self, "feature_extractor", None) is None:
            X, encoded_file = self._validate_pool(X), None
        else:
            X, encoded_file = self._encode_pool(X)
        try:
            n_select = resolve_budget(self.budget, X.shape[0])
            with limit_threads(getattr(self, "n_jobs", None)):
                fitted = self._select(X, n_select)
        finally:
            if encoded_file is not None:  # the extractor's memory-mapped encoding of the pool
                discard_output(encoded_file)
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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool given to ``fit``.

        Returns
        -------
        X_selected : array-like of shape ``(n_selected_, n_features)``
            Its selected rows, in ``sample_indices_`` order, in the container type of ``X``.
        """
        check_is_fitted(self, "sample_indices_")
        if getattr(self, "feature_extractor", None) is not None:  # X: the extractor's input
            if hasattr(self, "n_features_in_") and len(getattr(X, "shape", ())) == 2:
                _check_n_features(self, X, reset=False)
        elif _is_dataframe(X):  # nullable columns: checked as fit read them
            _check_feature_names(self, X, reset=False)
            _check_n_features(self, X, reset=False)
        else:
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
        """Fit on the pool ``X`` and return its selected rows (same container type).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The unlabelled pool.
        y : None
            Ignored; present for API consistency. Selection is label-free.

        Returns
        -------
        X_selected : array-like of shape ``(n_selected_, n_features)``
            The selected rows, as :meth:`transform` returns them.
        """
        return self.fit(X, y).transform(X)

    # -- helpers -------------------------------------------------------------------------
    def _validate_pool(self, X):
        # validate_data records n_features_in_ / feature_names_in_ for transform's checks.
        # A DataFrame is read by the command line's rules (same table, same features).
        reject_sparse(X)
        frame = X if _is_dataframe(X) else None
        if frame is not None:
            from .io import frame_to_matrix

            X = frame_to_matrix(frame)
        with streamed_finite_check(X):
            X = validate_data(
                self,
                X,
                dtype=list(FLOAT_DTYPES),
                copy=False,
                ensure_min_samples=2,
                ensure_all_finite=True,
            )
        if frame is not None:
            _check_feature_names(self, frame, reset=True)
        return as_compute_dtype(X)

    def _encode_pool(self, X):
        """The pool's embeddings from ``feature_extractor`` (a subclass that has one).

        ``X`` is passed to a clone of the extractor as it is (raw images, texts, a
        DataFrame, a sparse matrix: whatever the extractor takes); its output is checked
        as a pool. ``n_features_in_`` (and ``feature_names_in_``) describe ``X`` when it
        is 2-D, and are not set otherwise. Returns ``(Z, encoded_file)``: ``encoded_file``
        is the extractor's output when it wrote it to a memory-mapped file of its own
        during this call (:class:`skelfs.TorchEncoder` above ``max_memory_bytes``), else
        None; ``fit`` removes that file once the selection is made. A memory map the
        extractor merely passed through (a file of the caller's) is never removed.
        """
        n_rows = _num_samples(X)
        for name in ("n_features_in_", "feature_names_in_"):  # from an earlier fit
            vars(self).pop(name, None)
        if len(getattr(X, "shape", ())) == 2:
            _check_n_features(self, X, reset=True)
            _check_feature_names(self, X, reset=True)
        extractor = clone(self.feature_extractor)
        known = owned_outputs()
        raw = extractor.fit_transform(X)
        encoded_file = raw if getattr(raw, "filename", None) in owned_outputs() - known else None
        try:
            name = "the feature_extractor's output"
            reject_sparse(raw, name)
            Z = check_embeddings(raw, name=name)
            if Z.shape[0] != n_rows:
                raise ValueError(
                    f"{name} has {Z.shape[0]} rows for the {n_rows} rows of X; a feature "
                    f"extractor must return one row per input row."
                )
            Z = as_compute_dtype(Z, name=name)
        except BaseException:
            if encoded_file is not None:
                discard_output(encoded_file)
            raise
        self.feature_extractor_ = extractor
        return Z, encoded_file

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.requires_fit = True
        # transform exists (it returns the selected rows), so sklearn treats a selector as
        # a transformer; the selected rows keep the input dtype.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags


def _is_dataframe(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns")
