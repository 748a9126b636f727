import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skelfs import KCenterGreedySelector, PrototypicalitySelector, RandomSelector

ALL = [RandomSelector, PrototypicalitySelector, KCenterGreedySelector]


def test_kcenter_on_points_on_a_line():
    # rows 0..10 hold the values 0..10, row 11 holds 100
    X = np.r_[np.arange(11.0), 100.0][:, None]
    sel = KCenterGreedySelector(budget=4, random_state=0).fit(X)
    first = np.random.RandomState(0).randint(12)  # the random first centre
    assert first == 5 and sel.ranking_[0] == 5
    # from 5 the farthest is 100; then 0 and 10 tie at distance 5 (lowest index first)
    assert sel.ranking_.tolist() == [5, 11, 0, 10]
    # centres 0, 5, 10, 100: rows 2, 3, 7, 8 are the farthest, at distance 2
    assert sel.min_distances_.max() == pytest.approx(2.0)
    np.testing.assert_allclose(sel.min_distances_[[2, 3, 7, 8]], 2.0)


def test_kcenter_identical_rows_still_fill_budget():
    X = np.ones((20, 3))
    sel = KCenterGreedySelector(budget=7).fit(X)
    assert sel.n_selected_ == 7 and np.unique(sel.ranking_).size == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_kcenter_one_block_and_streamed_blocks_pick_the_same_rows(dtype):
    # A pool of one block is cast to float64 once; a larger one block by block at every
    # pick. Same float64 arithmetic, so the same ranking and distances.
    X, _ = make_blobs(300, centers=5, n_features=8, random_state=1)
    X = X.astype(dtype)
    whole = KCenterGreedySelector(budget=40, random_state=3).fit(X)
    blocks = KCenterGreedySelector(budget=40, block_size=64, random_state=3).fit(X)
    np.testing.assert_array_equal(whole.ranking_, blocks.ranking_)
    np.testing.assert_array_equal(whole.min_distances_, blocks.min_distances_)
    # each pick is the row farthest from the picks before it
    Xd = X.astype(np.float64)
    for i in (1, 10, 39):
        picked = Xd[whole.ranking_[:i]]
        dist = np.sqrt(((Xd[:, None, :] - picked[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        assert dist[whole.ranking_[i]] == pytest.approx(dist.max(), rel=1e-9)


def test_prototypicality_ends():
    X, _ = make_blobs(200, centers=3, n_features=4, random_state=0)
    hard = PrototypicalitySelector(budget=20, end="hard", n_clusters=3).fit(X)
    easy = PrototypicalitySelector(budget=20, end="easy", n_clusters=3).fit(X)
    d = hard.scores_
    # hard keeps the 20 largest distances, easy the 20 smallest
    assert np.sort(d[hard.sample_indices_]).min() >= np.sort(d)[-20]
    assert np.sort(d[easy.sample_indices_]).max() <= np.sort(d)[19]
    # the score is the plain Euclidean distance to the own k-means centroid
    centres = np.stack([X[hard.labels_ == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(d, np.linalg.norm(X - centres[hard.labels_], axis=1), rtol=1e-4)
    with pytest.raises(ValueError, match="end"):
        PrototypicalitySelector(end="middle").fit(X)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("budget", [1, 0.05, 0.5, 199])
def test_invariants_exact_budget_unique_same_seed(cls, budget):
    X, _ = make_blobs(200, centers=4, n_features=5, random_state=1)
    a = cls(budget=budget, random_state=3).fit(X).get_support(indices=True)
    b = cls(budget=budget, random_state=3).fit(X).get_support(indices=True)
    expected = budget if isinstance(budget, int) else int(budget * 200)
    assert a.size == expected and np.unique(a).size == expected
    assert a.min() >= 0 and a.max() < 200
    np.testing.assert_array_equal(a, b)


def test_random_differs_across_seeds():
    X = np.random.RandomState(0).rand(100, 2)
    a = RandomSelector(budget=10, random_state=0).fit(X).sample_indices_
    b = RandomSelector(budget=10, random_state=1).fit(X).sample_indices_
    assert not np.array_equal(a, b)
