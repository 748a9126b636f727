"""scikit-learn's estimator checks over every skelfs estimator.

Selectors return the *selected rows* from ``transform`` (``BaseSelector.transform``),
not one output row per input row, and refuse ``transform`` on anything but the fitted
pool. The checks that assume a row-preserving transformer are listed below as expected
failures, each with that reason.
"""

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skelfs import (
    BaseSelector,
    CoresetEstimator,
    CoresetSampler,
    DeepClusterer,
    DynamicsScorer,
    ELFSSelector,
    KMeansClusterer,
    TorchEncoder,
    make_selector,
)
from skelfs.registry import SELECTORS

ROW_SELECTION = (
    "transform returns the selected rows of the fitted pool (fewer rows than the input) and "
    "refuses any other number of rows, by design (``BaseSelector.transform``): a selector is not a "
    "row-preserving transformer"
)
N_CLUSTERS_ONE = (
    "the check sets n_clusters=1; ELFS needs two or more pseudo-label clusters (a proxy "
    "head learns nothing from one), so it raises a ValueError naming n_clusters"
)


ROW_SELECTION_CHECKS = [
    "check_transformer_general",
    "check_transformer_general(readonly_memmap=True)",
    "check_transformer_data_not_an_array",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit_idempotent",
]
N_CLUSTERS_ONE_CHECKS = [  # these checks set n_clusters=1 on any estimator that has it
    "check_dont_overwrite_parameters",
    "check_methods_subset_invariance",
    "check_fit2d_1feature",
    "check_fit2d_predict1d",
]


def expected_failures(estimator):
    if not isinstance(estimator, BaseSelector):
        return {}
    failures = dict.fromkeys(ROW_SELECTION_CHECKS, ROW_SELECTION)
    if isinstance(estimator, ELFSSelector):
        failures.update(dict.fromkeys(N_CLUSTERS_ONE_CHECKS, N_CLUSTERS_ONE))
    return failures


# Every registered selector (as registered), made quick on the checks' small data sets.
SMALL = {
    "elfs": {"n_clusters": 2, "scorer": DynamicsScorer(epochs=2)},
    "prototypicality": {"n_clusters": 2},
    "probcover": {"n_clusters": 2},
    "d2": {"n_clusters": 2},
}
ESTIMATORS = [make_selector(name, budget=0.2, **SMALL.get(name, {})) for name in SELECTORS] + [
    KMeansClusterer(n_clusters=2, n_init=1),
    DeepClusterer(n_clusters=2, n_neighbors=5, epochs=5, hidden_size=16, projection_size=8),
    DynamicsScorer(epochs=2),
    CoresetEstimator(
        ELFSSelector(budget=0.5, beta=0.1, n_clusters=2, scorer=DynamicsScorer(epochs=2)),
        LogisticRegression(),
    ),
    CoresetSampler(
        ELFSSelector(budget=0.5, beta=0.1, n_clusters=2, scorer=DynamicsScorer(epochs=2))
    ),
    # a module that works at any width: the checks use 1 to 20 features
    TorchEncoder(torch.nn.Tanh(), batch_size=7, device="cpu"),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
