import itertools

import numpy as np
import pytest

from skelfs import DoubleEndPruner
from skelfs.pruning import stratified_sample, water_fill


def test_water_fill_hand_example():
    # capacities 1, 10, 3, 10 and 12 units: the small bins are taken whole (1 and 3),
    # the 8 left are split evenly over the two large bins.
    assert water_fill([1, 10, 3, 10], 12).tolist() == [1, 4, 3, 4]
    # uneven split: 7 units over capacities 5, 5 -> 3 then 4 (the remainder goes last)
    assert sorted(water_fill([5, 5], 7).tolist()) == [3, 4]
    # empty bins take nothing
    assert water_fill([0, 4, 0], 3).tolist() == [0, 3, 0]


@pytest.mark.parametrize("seed", range(30))
def test_water_fill_is_exact_and_capped(seed):
    rng = np.random.RandomState(seed)
    caps = rng.randint(0, 20, size=rng.randint(1, 12))
    total = rng.randint(0, caps.sum() + 1)
    alloc = water_fill(caps, total)
    assert alloc.sum() == total
    assert np.all(alloc <= caps) and np.all(alloc >= 0)


def test_ccs_allocation_hand_example():
    # Scores on [0, 10) in 2 equal-width strata: [0, 5) holds 2 rows, [5, 10] holds 8.
    scores = np.array([0.0, 1.0, 5.0, 6.0, 6.5, 7.0, 8.0, 9.0, 9.5, 10.0])
    rng = np.random.RandomState(0)
    # budget 6 over strata of sizes (2, 8): the small one is taken whole, 4 from the other
    picked = stratified_sample(scores, 6, n_strata=2, rng=rng)
    assert len(picked) == 6 and len(set(picked.tolist())) == 6
    assert set(picked.tolist()) >= {0, 1}
    assert sum(scores[picked] >= 5) == 4
    # budget 2: one from each stratum
    picked = stratified_sample(scores, 2, n_strata=2, rng=np.random.RandomState(1))
    assert sorted((scores[picked] >= 5).tolist()) == [False, True]


def test_hard_sampling_hand_example():
    scores = np.arange(10.0)  # row i has difficulty i
    pruner = DoubleEndPruner(beta=0.2, sampling="hard", cluster_balanced=False)
    # drop rows 9, 8 (floor(0.2 * 10) = 2), keep the 3 hardest of the rest
    assert pruner.select(scores, 3).tolist() == [5, 6, 7]
    assert pruner.select(scores, 3, beta=0.0).tolist() == [7, 8, 9]


def test_ccs_drops_hard_end_first():
    scores = np.arange(100.0)
    sel = DoubleEndPruner(beta=0.3, sampling="ccs", random_state=0).select(scores, 20)
    assert sel.max() < 70  # the 30 hardest rows (70..99) are never taken


def test_cluster_balanced_splits_budget_across_clusters():
    rng = np.random.RandomState(0)
    groups = np.repeat([0, 1, 2], [100, 100, 4])
    # cluster 0 is much "harder" than the others: without balance it takes everything
    scores = np.where(groups == 0, 10.0, 0.0) + rng.rand(groups.size)
    balanced = DoubleEndPruner(beta=0.0, sampling="hard", random_state=0)
    plain = DoubleEndPruner(beta=0.0, sampling="hard", cluster_balanced=False, random_state=0)
    sel = balanced.select(scores, 30, groups=groups)
    assert np.bincount(groups[sel], minlength=3).tolist() == [13, 13, 4]
    assert np.bincount(groups[plain.select(scores, 30, groups=groups)], minlength=3)[0] == 30


GRID = list(itertools.product(
    [1, 2, 7, 50, 101],            # n
    [1, 0.01, 0.3, 0.5, 0.99, 3],  # budget
    [0.0, 0.1, 0.5, 0.9],          # beta
    ["hard", "ccs"],
    [False, True],                 # cluster balanced
))


@pytest.mark.parametrize("n,budget,beta,sampling,balanced", GRID)
def test_budget_exact_over_grid(n, budget, beta, sampling, balanced):
    rng = np.random.RandomState(n)
    n_select = budget if isinstance(budget, int) else max(1, int(np.floor(budget * n + 1e-9)))
    if n_select > n:
        return
    groups = rng.randint(0, 3, size=n)
    pruner = DoubleEndPruner(beta=beta, sampling=sampling, cluster_balanced=balanced,
                             random_state=0)
    for scores in (rng.rand(n), np.round(rng.rand(n), 1), np.ones(n)):  # distinct, ties, constant
        if balanced:
            _, sizes = np.unique(groups, return_counts=True)
            kept = int(sum(s - np.floor(beta * s + 1e-9) for s in sizes))
        else:
            kept = n - int(np.floor(beta * n + 1e-9))
        if n_select > kept:
            with pytest.raises(ValueError, match="beta.*budget"):
                pruner.select(scores, n_select, groups=groups)
            continue
        sel = pruner.select(scores, n_select, groups=groups)
        assert sel.size == n_select
        assert np.unique(sel).size == n_select
        assert sel.min() >= 0 and sel.max() < n
        assert np.array_equal(sel, pruner.select(scores, n_select, groups=groups))


def test_infeasible_beta_error_names_both_parameters():
    with pytest.raises(ValueError, match=r"beta=0\.5.*budget of 60"):
        DoubleEndPruner(beta=0.5, cluster_balanced=False).select(np.arange(100.0), 60)


@pytest.mark.parametrize("kwargs,match", [
    ({"beta": 1.0}, "beta"), ({"beta": -0.1}, "beta"), ({"sampling": "easy"}, "sampling"),
    ({"n_strata": 0}, "n_strata"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DoubleEndPruner(**kwargs).select(np.arange(10.0), 2)


def test_nonfinite_scores_rejected():
    with pytest.raises(ValueError, match="finite"):
        DoubleEndPruner().select(np.array([0.0, np.nan, 1.0]), 1)
