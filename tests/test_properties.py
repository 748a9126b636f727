"""Property tests: every selector returns exactly the budget, unique in-range rows, and the
same set again for the same seed, over random shapes, budgets, betas and seeds."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import skelfs
from skelfs._utils import resolve_budget
from skelfs.registry import SELECTORS


@st.composite
def pools(draw):
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    if draw(st.booleans()):  # duplicated rows
        X[rng.randint(0, n, size=n // 2)] = X[0]
    if draw(st.booleans()):
        budget = draw(st.integers(1, n))
    else:
        budget = draw(st.floats(0.01, 0.99))
    return X, budget, draw(st.integers(0, 10_000))


def fit_quietly(selector, X):
    with warnings.catch_warnings():  # k-means on duplicated rows warns; not what is tested
        warnings.simplefilter("ignore")
        return selector.fit(X).get_support(indices=True)


@pytest.mark.parametrize("name", list(SELECTORS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=pools(), beta=st.sampled_from([0.0, 0.1, 0.3, "auto"]))
def test_exact_budget_unique_in_range_and_repeatable(name, data, beta):
    X, budget, seed = data
    n_select = resolve_budget(budget, X.shape[0])
    kwargs = {"budget": budget, "random_state": seed}
    if name == "elfs":
        if beta != "auto":
            # cluster-wise floors drop at most floor(beta * n) rows in all
            assume(n_select <= X.shape[0] - int(np.floor(beta * X.shape[0])))
        kwargs.update(beta=beta, scorer=skelfs.DynamicsScorer(epochs=3))
    first = fit_quietly(skelfs.make_selector(name, **kwargs), X)
    again = fit_quietly(skelfs.make_selector(name, **kwargs), X)
    assert first.size == n_select
    assert np.unique(first).size == n_select
    assert first.min() >= 0 and first.max() < X.shape[0]
    np.testing.assert_array_equal(first, again)
