"""Constructor parameters are checked one way (skelfs._validation), in every estimator."""

import numpy as np
import pytest

from skelfs import (
    D2Selector,
    DeepClusterer,
    DoubleEndPruner,
    DynamicsScorer,
    ELFSSelector,
    FacilityLocationSelector,
    KCenterGreedySelector,
    KMeansClusterer,
    ProbCoverSelector,
    PrototypicalitySelector,
    RandomSelector,
    TypiClustSelector,
)
from skelfs._validation import NO_VALIDATION, Check, Interval, NJobs, Seed

ESTIMATORS = [
    ELFSSelector,
    RandomSelector,
    PrototypicalitySelector,
    KCenterGreedySelector,
    TypiClustSelector,
    ProbCoverSelector,
    D2Selector,
    FacilityLocationSelector,
    KMeansClusterer,
    DeepClusterer,
    DynamicsScorer,
    DoubleEndPruner,
]
# Numbers whose constraint delegates to an existing validator (its messages name the fix).
DELEGATED_NUMBERS = {"budget", "n_clusters", "beta"}

X = np.random.RandomState(0).rand(30, 3)
Y = np.repeat([0, 1, 2], 10)


def run(cls, **params):
    """Fit (or, for the pruner, select with) ``cls(**params)`` on a tiny problem."""
    est = cls(**params)
    if cls is DoubleEndPruner:
        return est.select(np.arange(30.0), 3)
    if cls is DynamicsScorer:
        return est.fit(X, Y)
    return est.fit(X)


def numeric_params(cls):
    for name, constraint in cls._parameter_constraints.items():
        if name not in cls().get_params():
            continue
        if isinstance(constraint, (Interval, NJobs, Seed)) or name in DELEGATED_NUMBERS:
            yield name


NUMERIC = [(cls, name) for cls in ESTIMATORS for name in numeric_params(cls)]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_declared(cls):
    declared = set(cls._parameter_constraints)
    assert set(cls().get_params(deep=False)) <= declared
    for constraint in cls._parameter_constraints.values():
        assert constraint == NO_VALIDATION or hasattr(constraint, "check")


@pytest.mark.parametrize("cls, name", NUMERIC, ids=[f"{c.__name__}-{n}" for c, n in NUMERIC])
@pytest.mark.parametrize("value", [True, np.bool_(False), "3"], ids=["True", "np.False_", "str"])
def test_numeric_parameter_rejects_bool_and_string_with_a_type_error(cls, name, value):
    with pytest.raises(TypeError, match=name):
        run(cls, **{name: value})


@pytest.mark.parametrize(
    "cls, params",
    [
        (DynamicsScorer, {"epochs": "3"}),
        (DeepClusterer, {"epochs": "3"}),
        (KMeansClusterer, {"n_init": True}),
        (DynamicsScorer, {"learning_rate": True}),
        (DynamicsScorer, {"batch_size": 2.5}),
        (KCenterGreedySelector, {"block_size": 1.5}),
        (DynamicsScorer, {"standardize": 1}),
        (DoubleEndPruner, {"sampling": 1}),
    ],
)
def test_wrong_types_are_type_errors(cls, params):
    with pytest.raises(TypeError, match=next(iter(params))):
        run(cls, **params)


@pytest.mark.parametrize(
    "cls, params, match",
    [
        (DynamicsScorer, {"epochs": 0}, "epochs"),
        (DynamicsScorer, {"learning_rate": np.nan}, "learning_rate.*finite"),
        (DynamicsScorer, {"dropout": 1.0}, "dropout"),
        (KCenterGreedySelector, {"block_size": 0}, "block_size"),
        (ELFSSelector, {"sampling": "easy"}, "sampling"),
        (ELFSSelector, {"n_jobs": 0}, "n_jobs.*-1 means all cores"),
        (ELFSSelector, {"random_state": -1}, "random_state"),
        (ELFSSelector, {"n_clusters": 1}, "n_clusters=1 must be at least 2"),
        (ELFSSelector, {"clusterer": "dbscan"}, "clusterer"),
        (KMeansClusterer, {"algorithm": "elkan"}, '"auto", "lloyd", "minibatch" or "torch"'),
        (ProbCoverSelector, {"purity_threshold": 0.0}, "purity_threshold"),
        (DoubleEndPruner, {"allocation": "even"}, "allocation"),
    ],
)
def test_bad_values_are_value_errors(cls, params, match):
    with pytest.raises(ValueError, match=match):
        run(cls, **params)


def test_numpy_scalars_and_verbose_true_are_accepted():
    KCenterGreedySelector(budget=np.int64(3), block_size=np.int32(7), verbose=True).fit(X)
    DoubleEndPruner(beta=np.float32(0.1), n_strata=np.int64(5)).select(np.arange(30.0), 3)


def test_delegated_checks_keep_their_messages():
    with pytest.raises(ValueError, match="fraction of hardest rows dropped"):
        run(ELFSSelector, beta=1.0)
    assert isinstance(ELFSSelector._parameter_constraints["beta"], Check)
