import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from skelfs import DynamicsScorer, ELFSSelector
from skelfs._utils import check_beta, resolve_budget


@pytest.mark.parametrize(
    "budget,n,expected",
    [
        (1, 10, 1),
        (10, 10, 10),
        (0.1, 1000, 100),
        (0.29, 100, 29),
        (0.001, 10, 1),
        (np.int64(3), 5, 3),
        (np.float32(0.5), 10, 5),
    ],
)
def test_resolve_budget(budget, n, expected):
    assert resolve_budget(budget, n) == expected


@pytest.mark.parametrize(
    "budget,err,match",
    [
        (0, ValueError, "between 1 and"),
        (-3, ValueError, "between 1 and"),
        (11, ValueError, "n_samples=10"),
        (1.0, ValueError, r"\(0, 1\)"),
        (-0.1, ValueError, r"\(0, 1\)"),
        (float("nan"), ValueError, "budget"),
        ("10%", TypeError, "budget"),
        (True, TypeError, "budget"),
        (None, TypeError, "budget"),
    ],
)
def test_resolve_budget_errors(budget, err, match):
    with pytest.raises(err, match=match):
        resolve_budget(budget, 10)


@pytest.mark.parametrize(
    "beta,err", [(1.0, ValueError), (-0.01, ValueError), ("half", TypeError), (None, TypeError)]
)
def test_check_beta_errors(beta, err):
    with pytest.raises(err, match="beta"):
        check_beta(beta)


X_OK = np.random.RandomState(0).rand(40, 3)


@pytest.mark.parametrize(
    "X,err,match",
    [
        (np.r_[X_OK[:-1], [[np.nan, 0, 0]]], ValueError, "NaN"),
        (np.r_[X_OK[:-1], [[np.inf, 0, 0]]], ValueError, "infinity"),
        (X_OK[:, 0], ValueError, "2D array"),
        (X_OK[None], ValueError, "dim 3"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (sp.csr_matrix(X_OK), TypeError, "sparse.*toarray"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), ValueError, "convert"),
    ],
)
def test_bad_X(X, err, match):
    with pytest.raises(err, match=match):
        ELFSSelector(budget=2).fit(X)


def test_int_and_float16_inputs_accepted_without_upcast():
    X = (np.random.RandomState(0).rand(60, 4) * 10).astype(np.int64)
    sel = ELFSSelector(budget=5, n_clusters=3, scorer=DynamicsScorer(epochs=2)).fit(X)
    assert sel.n_selected_ == 5
    Xh = X.astype(np.float16)
    sel = ELFSSelector(budget=5, n_clusters=3, scorer=DynamicsScorer(epochs=2)).fit(Xh)
    assert sel.n_selected_ == 5


def test_unfitted_use_raises_not_fitted():
    with pytest.raises(NotFittedError):
        ELFSSelector().get_support()
    with pytest.raises(NotFittedError):
        ELFSSelector().transform(X_OK)


def test_budget_larger_than_pool_names_budget():
    with pytest.raises(ValueError, match="budget=50"):
        ELFSSelector(budget=50).fit(X_OK)


def test_n_clusters_one_and_fewer_rows_than_clusters_name_n_clusters():
    with pytest.raises(ValueError, match="n_clusters=1 must be at least 2"):
        ELFSSelector(budget=2, n_clusters=1).fit(X_OK)
    with pytest.raises(ValueError, match="n_clusters=41 is larger than the number of rows"):
        ELFSSelector(budget=2, n_clusters=41).fit(X_OK)
    with pytest.raises(TypeError, match="n_clusters"):
        ELFSSelector(budget=2, n_clusters=2.5).fit(X_OK)


def test_bool_input_converts_safely():
    X = np.random.RandomState(0).rand(40, 5) > 0.5
    sel = ELFSSelector(budget=4, n_clusters=2, scorer=DynamicsScorer(epochs=2)).fit(X)
    assert sel.n_selected_ == 4


def test_cuda_requested_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match='device="cuda".*CUDA is not available'):
        ELFSSelector(budget=4, device="cuda").fit(X_OK)


@pytest.mark.parametrize("beta,err", [(1.0, ValueError), (-0.2, ValueError), ("half", TypeError)])
def test_selector_beta_out_of_range_names_beta(beta, err):
    with pytest.raises(err, match="beta"):
        ELFSSelector(budget=4, beta=beta).fit(X_OK)
