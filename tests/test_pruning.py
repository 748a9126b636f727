import itertools

import numpy as np
import pytest

from skelfs import DoubleEndPruner
from skelfs.coverage import greedy_coverage, similarity_graph
from skelfs.pruning import cover_split, proportional_split, stratified_sample, water_fill


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
    pruner = DoubleEndPruner(beta=0.2, sampling="hard", allocation=None)
    # drop rows 9, 8 (floor(0.2 * 10) = 2), keep the 3 hardest of the rest
    assert pruner.select(scores, 3).tolist() == [5, 6, 7]
    assert pruner.select(scores, 3, beta=0.0).tolist() == [7, 8, 9]


def test_ccs_drops_hard_end_first():
    scores = np.arange(100.0)
    sel = DoubleEndPruner(beta=0.3, sampling="ccs", random_state=0).select(scores, 20)
    assert sel.max() < 70  # the 30 hardest rows (70..99) are never taken


@pytest.mark.parametrize(
    "allocation,expected",
    [
        ("equal", [13, 13, 4]),  # small cluster whole, the rest split evenly
        # 30 * (100, 100, 4) / 204 = 14.7, 14.7, 0.59: floors 14, 14, 0; the two largest
        # remainders (0.71, 0.71) round up
        ("proportional", [15, 15, 0]),
        # one each first, then 27 * (99, 99, 3) / 201 = 13.3, 13.3, 0.40: floors 13, 13, 0;
        # the one unit left goes to the largest remainder, 0.40
        ("cover", [14, 14, 2]),
        (None, [30, 0, 0]),  # no split: the "hardest" cluster takes everything
    ],
)
def test_allocation_across_clusters(allocation, expected):
    rng = np.random.RandomState(0)
    groups = np.repeat([0, 1, 2], [100, 100, 4])
    scores = np.where(groups == 0, 10.0, 0.0) + rng.rand(groups.size)  # cluster 0 is hard
    pruner = DoubleEndPruner(beta=0.0, sampling="hard", allocation=allocation, random_state=0)
    counts = np.bincount(groups[pruner.select(scores, 30, groups=groups)], minlength=3)
    assert sorted(counts.tolist()[:2], reverse=True) + [counts[2]] == expected


def test_cover_split_reaches_every_cluster_before_any_gets_two():
    caps = np.array([500, 40, 3, 1, 1])
    assert cover_split(caps, 5, np.random.RandomState(0)).tolist() == [1, 1, 1, 1, 1]
    # fewer units than clusters: the largest clusters are covered first
    assert cover_split(caps, 2, np.random.RandomState(0)).tolist() == [1, 1, 0, 0, 0]
    # after coverage the rest follows the sizes: 95 left over capacities 499, 39, 2, 0, 0
    assert cover_split(caps, 100, np.random.RandomState(0)).tolist() == [89, 8, 1, 1, 1]


@pytest.mark.parametrize("split", [proportional_split, cover_split])
@pytest.mark.parametrize("seed", range(30))
def test_splits_are_exact_and_capped(split, seed):
    rng = np.random.RandomState(seed)
    caps = rng.randint(0, 20, size=rng.randint(1, 12))
    total = rng.randint(0, caps.sum() + 1)
    alloc = split(caps, total, rng)
    assert alloc.sum() == total
    assert np.all(alloc <= caps) and np.all(alloc >= 0)


GRID = list(
    itertools.product(
        [1, 2, 7, 50, 101],  # n
        [1, 0.01, 0.3, 0.5, 0.99, 3],  # budget
        [0.0, 0.1, 0.5, 0.9],  # beta
        ["hard", "ccs"],
        [None, "cover", "proportional", "equal"],  # allocation across clusters
    )
)


@pytest.mark.parametrize("n,budget,beta,sampling,allocation", GRID)
def test_budget_exact_over_grid(n, budget, beta, sampling, allocation):
    rng = np.random.RandomState(n)
    n_select = budget if isinstance(budget, int) else max(1, int(np.floor(budget * n + 1e-9)))
    if n_select > n:
        return
    groups = rng.randint(0, 3, size=n)
    pruner = DoubleEndPruner(beta=beta, sampling=sampling, allocation=allocation, random_state=0)
    for scores in (rng.rand(n), np.round(rng.rand(n), 1), np.ones(n)):  # distinct, ties, constant
        if allocation is not None:
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
        DoubleEndPruner(beta=0.5, allocation=None).select(np.arange(100.0), 60)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"beta": 1.0}, "beta"),
        ({"beta": -0.1}, "beta"),
        ({"sampling": "easy"}, "sampling"),
        ({"n_strata": 0}, "n_strata"),
        ({"allocation": "even"}, "allocation"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DoubleEndPruner(**kwargs).select(np.arange(10.0), 2)


def test_nonfinite_scores_rejected():
    with pytest.raises(ValueError, match="finite"):
        DoubleEndPruner().select(np.array([0.0, np.nan, 1.0]), 1)


# ------------------------------------------------------------------ sampling="coverage"


def coverage_toy():
    # 12 rows on a line of three groups; distances from position gaps, as a kNN graph.
    positions = np.array([0.0, 0.1, 0.2, 0.3, 5.0, 5.1, 5.2, 10.0, 10.1, 10.2, 10.3, 10.4])
    D = np.abs(positions[:, None] - positions[None, :])
    np.fill_diagonal(D, np.inf)
    indices = np.argsort(D, axis=1)[:, :4]
    distances = np.take_along_axis(D, indices, axis=1)
    return similarity_graph(distances, indices, kernel="gaussian", bandwidth=0.1)


def test_coverage_sampling_drops_the_hardest_then_covers_from_the_rest():
    sim = coverage_toy()
    scores = np.arange(12.0)  # row 11 hardest
    groups = np.repeat([0, 1, 2], [4, 3, 5])
    pruner = DoubleEndPruner(beta=0.25, sampling="coverage", random_state=0)
    picked = pruner.select(scores, 3, groups=groups, similarity=sim)
    # per group floor(0.25 * size) hardest dropped: row 3 (of 4), none of 3, row 11 (of 5)
    survivors = np.setdiff1d(np.arange(12), [3, 11])
    expected = greedy_coverage(sim, 3, candidates=survivors)[0]
    np.testing.assert_array_equal(picked, np.sort(expected))
    assert picked.size == 3 and not np.isin([3, 11], picked).any()
    # one pick per group: a local kernel covers each group from inside it
    assert sorted(groups[picked].tolist()) == [0, 1, 2]
    # global pruning (no groups): the hardest 25% overall (rows 9, 10, 11) are never picked
    picked = pruner.select(scores, 3, similarity=sim)
    assert not np.isin([9, 10, 11], picked).any()
    np.testing.assert_array_equal(
        picked, np.sort(greedy_coverage(sim, 3, candidates=np.arange(9))[0])
    )


def test_coverage_sampling_needs_the_similarity_graph():
    pruner = DoubleEndPruner(beta=0.0, sampling="coverage")
    with pytest.raises(ValueError, match="similarity"):
        pruner.select(np.arange(12.0), 3)
    with pytest.raises(ValueError, match="similarity"):
        pruner.select(np.arange(12.0), 3, similarity=coverage_toy()[:5, :5])
