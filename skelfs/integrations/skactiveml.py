"""Any skelfs selector as a scikit-activeml query strategy (``pip install "skelfs[activeml]"``).

A label-free selector chooses the first batch to label (the cold start, where model-based
strategies such as uncertainty sampling have no model yet); scikit-activeml's strategies
take over from there. ``SelectorQueryStrategy`` puts both behind one ``query`` call, so a
selector drops into any scikit-activeml loop.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone

try:
    from skactiveml.base import SingleAnnotatorPoolQueryStrategy
    from skactiveml.exceptions import MappingError
    from skactiveml.utils import MISSING_LABEL, is_unlabeled
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "skelfs.integrations.skactiveml needs scikit-activeml: pip install 'skelfs[activeml]' "
        "(or pip install scikit-activeml)."
    ) from exc

from .._utils import draw_seed

__all__ = ["SelectorQueryStrategy"]


class SelectorQueryStrategy(SingleAnnotatorPoolQueryStrategy):
    """A skelfs selector as a scikit-activeml ``SingleAnnotatorPoolQueryStrategy``.

    ``query(X, y, batch_size=b)`` fits a clone of ``selector`` with ``budget=b`` on the
    unlabelled candidate rows of ``X`` and returns the indices (into ``X``) of the rows it
    selects. Rows with a label in ``y`` (anything but ``missing_label``) are never chosen.

    * Cold start (``y`` all missing, ``candidates=None``): the selector is fitted on ``X``
      itself, so the query returns exactly the rows that
      ``clone(selector).set_params(budget=b).fit(X)`` selects (with the same seed: see
      ``random_state``), in the selector's order of choice where it has one
      (``ranking_``), else sorted.
    * Later rounds: the selector is fitted on the unlabelled candidates only
      (``X[candidates]``, a copy of those rows). It does not see the labelled rows, so a
      coverage method (TypiClust, ProbCover, k-center, facility location) does not treat
      them as already covering their neighbourhood and may pick next to them. Use a
      selector for the cold start and a model-based strategy (e.g. scikit-activeml's
      ``UncertaintySampling``) afterwards, as ``examples/active_learning.py`` does.

    Parameters
    ----------
    selector : BaseSelector
        Any skelfs selector (e.g. :class:`skelfs.TypiClustSelector`,
        :class:`skelfs.ELFSSelector`), with or without a ``feature_extractor``. Cloned at
        every query, never fitted itself; its ``budget`` is replaced by ``batch_size``.
    missing_label : scalar, str, np.nan or None, default=np.nan
        The value of ``y`` that marks an unlabelled row (scikit-activeml's convention).
    random_state : None, int or RandomState, default=None
        None keeps the selector's own ``random_state`` (skelfs selectors default to 0, so
        queries are reproducible; this differs from scikit-activeml, where None draws at
        random). An int or a RandomState seeds the selector's clone at each query with a
        seed drawn as scikit-activeml does (from ``random_state`` and the number of
        unlabelled rows): the same ``X``, ``y`` and ``random_state`` give the same query.

    Examples
    --------
    A cold start: nothing is labelled yet, TypiClust picks the first five rows to label.

    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from skelfs import TypiClustSelector
    >>> from skelfs.integrations.skactiveml import SelectorQueryStrategy
    >>> X, _ = make_blobs(200, centers=5, random_state=0)
    >>> y = np.full(200, np.nan)
    >>> qs = SelectorQueryStrategy(TypiClustSelector(n_neighbors=10))
    >>> first = qs.query(X, y, batch_size=5)
    >>> first.shape
    (5,)
    >>> y[first] = 0  # the annotators' labels
    >>> second = qs.query(X, y, batch_size=5)  # never the labelled rows
    >>> bool(np.intersect1d(first, second).size == 0)
    True
    """

    def __init__(self, selector, missing_label=MISSING_LABEL, random_state=None):
        super().__init__(missing_label=missing_label, random_state=random_state)
        self.selector = selector

    def query(self, X, y, candidates=None, batch_size=1, return_utilities=False):
        """Choose ``batch_size`` unlabelled rows of ``X`` to label next.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The whole pool, labelled and unlabelled rows (embeddings, or raw rows when the
            selector has a ``feature_extractor``).
        y : array-like of shape (n_samples,)
            The labels so far; ``missing_label`` marks the unlabelled rows.
        candidates : None or array-like of int, default=None
            None: every unlabelled row is a candidate. An array of indices into ``X``: only
            those rows (labelled ones among them are dropped). Candidate samples given as
            a 2-D array of rows (not in ``X``) are not supported: a ``MappingError`` says
            so; pass their indices after appending them to ``X``.
        batch_size : int, default=1
            Number of rows to choose. More than the unlabelled candidates: all of them,
            with a warning (as scikit-activeml does).
        return_utilities : bool, default=False
            Also return the utilities.

        Returns
        -------
        query_indices : ndarray of shape (batch_size,)
            Indices into ``X`` of the chosen rows, in the selector's order of choice where
            it has one (``ranking_``), else sorted.
        utilities : ndarray of shape (batch_size, n_samples)
            Only if ``return_utilities``. A selector chooses the batch as a whole and has
            no per-row utility, so row ``b`` is an indicator: 1 at ``query_indices[b]``, 0
            at the other candidates not chosen before it, NaN elsewhere (non-candidates,
            labelled rows, rows chosen earlier in the batch). Its argmax is the ``b``-th
            choice, as scikit-activeml's convention asks.
        """
        X, y, candidates, batch_size, return_utilities = self._validate_data(
            X, y, candidates, batch_size, return_utilities, reset=True
        )
        _check_selector(self.selector)
        unlabelled = is_unlabeled(y, missing_label=self.missing_label_)
        if candidates is None:
            mapping = np.flatnonzero(unlabelled)
        elif candidates.ndim == 1:
            mapping = candidates[unlabelled[candidates]]  # sorted, unique (skactiveml)
        else:
            raise MappingError(
                "SelectorQueryStrategy needs candidates as indices into X: a selector "
                "chooses among rows of the pool. Append the candidate rows to X (with "
                "missing labels) and pass their indices."
            )
        if batch_size > mapping.size:
            warnings.warn(
                f"batch_size={batch_size} is larger than the {mapping.size} unlabelled "
                f"candidates; all of them are returned.",
                UserWarning,
                stacklevel=2,
            )
            batch_size = int(mapping.size)
        picked = self._select(X, mapping, batch_size)
        if not return_utilities:
            return picked
        utilities = np.full((batch_size, X.shape[0]), np.nan)
        for b, row in enumerate(picked):
            utilities[b, mapping] = 0.0
            utilities[b, picked[:b]] = np.nan
            utilities[b, row] = 1.0
        return picked, utilities

    def _select(self, X, mapping, batch_size):
        if batch_size == 0:
            return np.empty(0, dtype=np.intp)
        if batch_size == mapping.size:  # nothing to choose (a selector needs two rows)
            return mapping.astype(np.intp)
        selector = clone(self.selector).set_params(budget=int(batch_size))
        if self.random_state is not None and "random_state" in selector.get_params():
            selector.set_params(random_state=draw_seed(self.random_state_))
        everything = mapping.size == X.shape[0]  # cold start: the pool as given, no copy
        selector.fit(X if everything else X[mapping])
        chosen = _selection_order(selector)
        return chosen.astype(np.intp) if everything else mapping[chosen].astype(np.intp)


def _check_selector(selector):
    has = all(callable(getattr(selector, m, None)) for m in ("fit", "get_support", "get_params"))
    if not has or "budget" not in selector.get_params():
        raise TypeError(
            f"selector must be a skelfs selector (with fit, get_support and a budget "
            f"parameter), e.g. skelfs.TypiClustSelector(); got {type(selector).__name__}."
        )


def _selection_order(selector):
    """The selected rows in the order the selector chose them (``ranking_``), else sorted."""
    selected = selector.get_support(indices=True)
    ranking = np.asarray(getattr(selector, "ranking_", ()), dtype=np.intp).ravel()
    if ranking.size:
        mask = selector.get_support()
        ranked = ranking[mask[ranking]]
        if ranked.size == selected.size and np.unique(ranked).size == selected.size:
            return ranked
    return selected
