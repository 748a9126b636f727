"""RandomSelector: the uniform baseline every selection method must beat."""

from __future__ import annotations

from sklearn.utils import check_random_state

from ..base import BaseSelector


class RandomSelector(BaseSelector):
    """Select ``budget`` rows uniformly at random, without replacement.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    random_state : int, RandomState instance or None, default=0
        Seeds the selection; the same seed gives the same rows.

    Attributes
    ----------
    sample_indices_ : ndarray of shape ``(n_selected_,)``
        Sorted indices of the selected rows.
    n_selected_, n_samples_fit_, n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs import RandomSelector
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> RandomSelector(budget=3, random_state=0).fit(X).get_support(indices=True).size
    3
    """

    def __init__(self, budget=0.1, *, random_state=0):
        self.budget = budget
        self.random_state = random_state

    def _select(self, X, n_select):
        rng = check_random_state(self.random_state)
        return {"sample_indices_": rng.choice(X.shape[0], size=n_select, replace=False)}
