"""The graph baselines: TypiClust, ProbCover, D2, facility location and MaxHerding.

Hand-made examples put points on the unit circle, where the cosine distance between
angles a and b is 1 - cos(a - b), so neighbourhoods can be worked out by hand.
"""

import itertools

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neighbors import KNeighborsTransformer

from skelfs.baselines.d2 import D2Selector
from skelfs.baselines.facility_location import FacilityLocationSelector
from skelfs.baselines.maxherding import MaxHerdingSelector
from skelfs.baselines.probcover import ProbCoverSelector, ball_purity
from skelfs.baselines.typiclust import TypiClustSelector
from skelfs.neighbors import kneighbors, kneighbors_graph

ALL = [
    TypiClustSelector,
    ProbCoverSelector,
    D2Selector,
    FacilityLocationSelector,
    MaxHerdingSelector,
]


def on_circle(angles):
    angles = np.asarray(angles, dtype=float)
    return np.c_[np.cos(angles), np.sin(angles)]


def cosine_distances(X):
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    return 1.0 - U @ U.T


# ------------------------------------------------------------------------- ProbCover


def probcover_toy():
    # rows 0-4: a group of 5 spaced 0.01 rad; rows 5-7: a group of 3 spaced 0.015 rad;
    # row 8: alone. delta = 3e-4 holds gaps up to 0.02 rad (1 - cos 0.02 = 2.0e-4) but
    # not 0.03 rad (4.5e-4): row 2 covers 0-4, row 6 covers 5-7, row 8 only itself.
    return on_circle([0.0, 0.01, 0.02, 0.03, 0.04, 1.5, 1.515, 1.53, 3.0])


def test_probcover_covers_bigger_group_first():
    X = probcover_toy()
    sel = ProbCoverSelector(budget=2, delta=3e-4).fit(X)
    assert sel.ranking_.tolist() == [2, 6]
    assert sel.n_greedy_ == 2 and sel.coverage_ == pytest.approx(8 / 9)
    assert sel.delta_ == 3e-4 and sel.purity_ is None and sel.labels_ is None

    sel = ProbCoverSelector(budget=3, delta=3e-4).fit(X)
    assert sel.ranking_.tolist() == [2, 6, 8] and sel.coverage_ == 1.0


def test_probcover_fills_rest_at_random_once_covered():
    X = probcover_toy()
    a = ProbCoverSelector(budget=6, delta=3e-4, random_state=0).fit(X)
    b = ProbCoverSelector(budget=6, delta=3e-4, random_state=0).fit(X)
    assert a.n_greedy_ == 3 and a.ranking_[:3].tolist() == [2, 6, 8]
    np.testing.assert_array_equal(a.ranking_, b.ranking_)
    fills = {
        tuple(ProbCoverSelector(budget=6, delta=3e-4, random_state=s).fit(X).ranking_[3:])
        for s in range(5)
    }
    assert len(fills) > 1  # the fill is random, seeded


def test_probcover_greedy_matches_dense_reference():
    X, _ = make_blobs(80, centers=4, n_features=5, random_state=2)
    dist, idx = kneighbors(X, 8, backend="exact")
    delta = float(np.median(dist))
    sel = ProbCoverSelector(budget=25, delta=delta, n_neighbors=8).fit(X)
    # dense reference: ball[i, j] = j is i itself or a kNN of i within delta
    ball = np.eye(80, dtype=bool)
    for i in range(80):
        ball[i, idx[i][dist[i] <= delta]] = True
    covered, expected = np.zeros(80, dtype=bool), []
    while len(expected) < 25:
        gain = (ball & ~covered).sum(axis=1)
        if gain.max() == 0:
            break
        expected.append(int(np.argmax(gain)))
        covered |= ball[expected[-1]]
    assert sel.ranking_[: sel.n_greedy_].tolist() == expected
    assert sel.coverage_ == pytest.approx(covered.mean())


def test_probcover_delta_is_largest_with_enough_purity():
    X, _ = make_blobs(120, centers=3, n_features=4, cluster_std=3.0, random_state=0)
    sel = ProbCoverSelector(budget=10, n_neighbors=10, n_clusters=3).fit(X)
    dist, idx = kneighbors(X, 10, backend="exact")
    candidates = np.unique(np.r_[0.0, dist.ravel()])
    purities = np.array([ball_purity(dist, idx, sel.labels_, d) for d in candidates])
    best = candidates[purities >= 0.95].max()
    assert sel.delta_ == pytest.approx(best) and sel.purity_ >= 0.95
    # purity by its definition: the whole ball shares the row's cluster
    ball_pure = [
        all(sel.labels_[j] == sel.labels_[i] for j in idx[i][dist[i] <= best]) for i in range(120)
    ]
    assert sel.purity_ == pytest.approx(np.mean(ball_pure))


def test_probcover_delta_saturates_when_every_ball_is_pure():
    # two far groups, kNN never crosses: every ball is pure, delta = largest kNN distance
    # float32: what selectors compute in (issue 14), so the reference sees the same values
    X = on_circle(np.r_[np.linspace(0, 0.1, 10), np.linspace(2, 2.1, 10)]).astype(np.float32)
    sel = ProbCoverSelector(budget=2, n_neighbors=3, n_clusters=2).fit(X)
    dist, _ = kneighbors(X, 3, backend="exact")
    assert sel.purity_ == 1.0 and sel.delta_ == pytest.approx(dist.max())


# ------------------------------------------------------------------------- TypiClust


def blobs_on_circle(sizes, centres):
    """Blobs of points spread symmetrically (0.005 rad apart) around each centre angle;
    the middle point of each blob is its densest."""
    angles, middles = [], []
    for size, centre in zip(sizes, centres):
        middles.append(len(angles) + size // 2)
        angles.extend(centre + 0.005 * (np.arange(size) - size // 2))
    return on_circle(angles), middles


def test_typiclust_takes_the_densest_point_of_each_cluster_largest_first():
    X, middles = blobs_on_circle([7, 11, 9], [0.0, 2.0, 4.0])
    sel = TypiClustSelector(budget=3).fit(X)
    assert sel.n_clusters_ == 3
    assert sel.ranking_.tolist() == [middles[1], middles[2], middles[0]]  # 11, 9, 7 rows


def test_typiclust_typicality_definition():
    X, _ = blobs_on_circle([7, 11, 9], [0.0, 2.0, 4.0])
    sel = TypiClustSelector(budget=3, n_neighbors=4).fit(X)
    for c in range(3):
        members = np.flatnonzero(sel.labels_ == c)
        D = cosine_distances(X[members])
        np.fill_diagonal(D, np.inf)  # self is not a neighbour
        mean_distance = np.sort(D, axis=1)[:, :4].mean(axis=1)  # 3e-5 to 9e-5 here
        # Typicality is 1 / mean distance. The selector works in float32, where a cosine
        # distance near 0 carries an absolute error of a few float32 epsilons (1 - cos with
        # cos ~ 1), so compare the mean distances absolutely: any other neighbour count, or
        # counting self, moves them by > 1e-5, while BLAS builds differ by < 1e-7.
        np.testing.assert_allclose(1.0 / sel.typicality_[members], mean_distance, rtol=0, atol=1e-6)


def test_typiclust_drops_small_clusters_and_loops_over_the_others():
    X, middles = blobs_on_circle([3, 9, 7], [0.0, 2.0, 4.0])
    sel = TypiClustSelector(budget=5, max_clusters=3).fit(X)
    small = sel.labels_[middles[0]]
    big, mid = sel.labels_[middles[1]], sel.labels_[middles[2]]
    assert sel.ranking_[:2].tolist() == [middles[1], middles[2]]
    assert sel.labels_[sel.ranking_].tolist() == [big, mid, big, mid, big]
    # second round: the next most typical rows, a neighbour of the middle (the two are
    # tied in exact arithmetic; float32 rounding decides)
    assert sel.ranking_[2] in (middles[1] - 1, middles[1] + 1)
    assert sel.ranking_[3] in (middles[2] - 1, middles[2] + 1)
    assert small not in sel.labels_[sel.ranking_]

    # budget beyond the kept clusters' rows: the dropped cluster's rows by typicality
    sel = TypiClustSelector(budget=9 + 7 + 1, max_clusters=3).fit(X)
    assert sel.ranking_[-1] == middles[0]


def test_typiclust_singleton_clusters():
    X = on_circle([0.0, 1.0, 2.0, 3.0])
    sel = TypiClustSelector(budget=4).fit(X)  # 4 clusters of one row: all kept
    assert sel.n_selected_ == 4 and np.all(sel.typicality_ == 0)


# ------------------------------------------------------------------------------- D2


def test_d2_hand_example_uses_reverse_neighbours():
    # k=1 on the circle: kNN 0->1, 1->0, 2->1, 3->2. gamma 0 makes every weight 1.
    X = on_circle([0.0, 0.1, 0.25, 1.0])
    sel = D2Selector(
        budget=4, scores=[1.0, 1.0, 6.0, 0.5], n_neighbors=1, gamma_f=0.0, gamma_r=0.0
    ).fit(X)
    # forward: s' = s + s[kNN] = [1+1, 1+1, 6+1, 0.5+6]
    np.testing.assert_allclose(sel.graph_scores_, [2.0, 2.0, 7.0, 6.5])
    # pick 2 (7); its neighbour 1 and its reverse neighbour 3 lose 7: [2, -5, -, -0.5];
    # pick 0 (2); 1 loses 2: -7; then 3 (-0.5), then 1. Forward-only would pick 3 second.
    assert sel.ranking_.tolist() == [2, 0, 3, 1]
    np.testing.assert_array_equal(sel.scores_, [1.0, 1.0, 6.0, 0.5])


def d2_reference(passed, dist, idx, gamma_r, budget):
    n = len(passed)
    w = np.zeros((n, n))
    for i in range(n):
        for d, j in zip(dist[i], idx[i]):
            w[i, j] = w[j, i] = np.exp(-gamma_r * d)
    s, picked, order = passed.copy(), np.zeros(n, dtype=bool), []
    for _ in range(budget):
        p = int(np.argmax(np.where(picked, -np.inf, s)))
        order.append(p)
        picked[p] = True
        for j in np.flatnonzero(w[p] > 0):
            if not picked[j]:
                s[j] -= w[p, j] * s[p]
    return order


@pytest.mark.parametrize("signed", [False, True])
def test_d2_matches_dense_reference(signed):
    X, _ = make_blobs(50, centers=3, n_features=6, random_state=4)
    X = X.astype(np.float32)  # what selectors compute in (issue 14)
    rng = np.random.RandomState(0)
    scores = rng.normal(size=50) if signed else rng.rand(50)
    sel = D2Selector(budget=50, scores=scores, n_neighbors=4, gamma_f=2.0, gamma_r=0.5).fit(X)
    dist, idx = kneighbors(X, 4, backend="exact")
    dist = dist.astype(float)
    passed = scores + np.array(
        [sum(np.exp(-2.0 * d) * scores[j] for d, j in zip(dist[i], idx[i])) for i in range(50)]
    )
    np.testing.assert_allclose(sel.graph_scores_, passed, rtol=1e-10)
    assert sel.ranking_.tolist() == d2_reference(sel.graph_scores_, dist, idx, 0.5, 50)


def test_d2_prototypicality_scores():
    X, _ = make_blobs(60, centers=3, n_features=4, random_state=0)
    sel = D2Selector(budget=6, n_clusters=3).fit(X)
    centres = np.stack([X[sel.labels_ == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(
        sel.scores_, np.linalg.norm(X - centres[sel.labels_], axis=1), rtol=1e-4
    )


# --------------------------------------------------------------------- facility location


def facility_reference(X, k):
    """Dense similarity: rows = served, columns = facilities."""
    D = cosine_distances(X)
    np.fill_diagonal(D, np.inf)
    S = np.eye(len(X))
    for i in range(len(X)):
        for j in np.argsort(D[i])[:k]:
            S[i, j] = max(0.0, 1.0 - D[i, j])
    return S


def objective(S, subset):
    return S[:, list(subset)].max(axis=1).sum()


@pytest.mark.parametrize("n_neighbors", [3, 20])  # 20 > n - 1: clipped to the full graph
def test_facility_location_against_brute_force(n_neighbors):
    X = np.random.RandomState(5).normal(size=(8, 3))
    S = facility_reference(X, min(n_neighbors, 7))
    best_single = max(range(8), key=lambda j: (objective(S, [j]), -j))
    for budget in (2, 3):
        sel = FacilityLocationSelector(budget=budget, n_neighbors=n_neighbors).fit(X)
        assert sel.ranking_[0] == best_single
        # an independent greedy: marginal gains by brute force on the dense matrix
        greedy = []
        for _ in range(budget):
            gains = [
                objective(S, greedy + [j]) - (objective(S, greedy) if greedy else 0.0)
                if j not in greedy
                else -np.inf
                for j in range(8)
            ]
            greedy.append(int(np.argmax(gains)))
        assert sel.ranking_.tolist() == greedy
        assert sel.objective_ == pytest.approx(objective(S, greedy), rel=1e-5)
        np.testing.assert_allclose(np.diff(sel.gains_) <= 1e-9, True)
        optimum = max(objective(S, c) for c in itertools.combinations(range(8), budget))
        assert sel.objective_ >= (1 - 1 / np.e) * optimum


# ------------------------------------------------------------------------ MaxHerding


@pytest.mark.parametrize("n_neighbors", [3, 7])  # 7 = n - 1: the dense Gaussian kernel
@pytest.mark.parametrize("bandwidth", [0.05, 0.5])
def test_maxherding_against_brute_force(n_neighbors, bandwidth):
    X = np.random.RandomState(7).normal(size=(8, 3))
    D = cosine_distances(X)
    S = np.eye(8)
    for i in range(8):
        D[i, i] = np.inf
        for j in np.argsort(D[i])[:n_neighbors]:
            S[i, j] = np.exp(-D[i, j] / bandwidth)
    sel = MaxHerdingSelector(budget=3, n_neighbors=n_neighbors, bandwidth=bandwidth).fit(X)
    greedy = []
    for _ in range(3):
        gains = [
            objective(S, greedy + [j]) - (objective(S, greedy) if greedy else 0.0)
            if j not in greedy
            else -np.inf
            for j in range(8)
        ]
        greedy.append(int(np.argmax(gains)))
    assert sel.ranking_.tolist() == greedy
    assert sel.bandwidth_ == bandwidth
    assert sel.objective_ == pytest.approx(objective(S, greedy), rel=1e-5)
    optimum = max(objective(S, c) for c in itertools.combinations(range(8), 3))
    assert sel.objective_ >= (1 - 1 / np.e) * optimum


def test_maxherding_auto_bandwidth_is_the_median_kth_distance_over_four():
    X, _ = make_blobs(50, centers=3, n_features=4, random_state=2)
    X = X.astype(np.float32)  # what selectors compute in
    distances, _ = kneighbors(X, 5, backend="exact")
    sel = MaxHerdingSelector(budget=5, n_neighbors=5, backend="exact").fit(X)
    assert sel.bandwidth_ == pytest.approx(np.median(distances[:, -1]) / 4)


def test_maxherding_small_bandwidth_covers_every_group_first():
    # Three tight arcs of 5, 4 and 3 rows, far apart. A local kernel serves a row only
    # from its own arc, so the first three picks are one per arc (the middle rows, which
    # serve their arc best), the largest arc first; facility location's linear kernel,
    # whose similarity barely decays across arcs, can spend two picks on one arc.
    arcs = [0.0, 0.01, 0.02, 0.03, 0.04, 2.0, 2.01, 2.02, 2.03, 4.0, 4.01, 4.02]
    X = on_circle(arcs)
    sel = MaxHerdingSelector(budget=3, n_neighbors=11, bandwidth=1e-4).fit(X)
    assert sel.ranking_[0] == 2
    assert sel.ranking_[1] in (6, 7) and sel.ranking_[2] == 10


# ---------------------------------------------------------------------- all at once


def shapes():
    X, _ = make_blobs(60, centers=3, n_features=4, random_state=1)
    zero_row = X.copy()
    zero_row[7] = 0.0
    return {
        "blobs": X,
        "one_feature": np.random.RandomState(0).rand(25, 1),
        "two_rows": np.array([[1.0, 2.0], [3.0, 1.0]]),
        "duplicates": np.repeat(X[:6], 4, axis=0),
        "zero_row": zero_row,
    }


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("shape", list(shapes()))
@pytest.mark.parametrize("budget", [1, 0.3, 1.0])
def test_invariants_exact_budget_unique_same_seed(cls, shape, budget):
    X = shapes()[shape]
    n = X.shape[0]
    budget = n if budget == 1.0 else budget  # 1.0: the whole pool
    expected = budget if isinstance(budget, int) else max(1, int(budget * n))
    # a fixed K spares the silhouette sweep (the estimator checks run it)
    params = {"n_clusters": 2} if cls in (ProbCoverSelector, D2Selector) else {}
    a = cls(budget=budget, random_state=3, **params).fit(X)
    b = cls(budget=budget, random_state=3, **params).fit(X)
    idx = a.get_support(indices=True)
    assert idx.size == expected == a.n_selected_ and np.unique(idx).size == expected
    assert idx.min() >= 0 and idx.max() < n
    np.testing.assert_array_equal(np.sort(a.ranking_), idx)
    np.testing.assert_array_equal(a.ranking_, b.ranking_)


@pytest.mark.parametrize("cls", [ProbCoverSelector, D2Selector])
def test_estimated_n_clusters(cls):
    X, _ = make_blobs(60, centers=3, n_features=4, random_state=1)
    sel = cls(budget=6).fit(X)  # n_clusters=None: silhouette sweep
    assert sel.n_selected_ == 6 and np.unique(sel.labels_).size >= 2


@pytest.mark.parametrize(
    "cls", [ProbCoverSelector, D2Selector, FacilityLocationSelector, MaxHerdingSelector]
)
def test_precomputed_neighbors_give_the_same_selection(cls):
    X, _ = make_blobs(70, centers=3, n_features=5, random_state=3)
    params = dict(budget=12, n_neighbors=6)
    if cls is ProbCoverSelector:
        params.update(n_clusters=3)
    base = cls(**params).fit(X).ranking_
    graph = cls(**params, neighbors=kneighbors_graph(X, 6, backend="exact")).fit(X).ranking_
    np.testing.assert_array_equal(base, graph)
    # sklearn's transformer lists each row as its own neighbour: dropped
    knn = KNeighborsTransformer(n_neighbors=6, metric="cosine")
    assert cls(**params, neighbors=knn).fit(X).n_selected_ == 12


BAD_PARAMS = [
    (TypiClustSelector, "n_neighbors", 0),
    (TypiClustSelector, "max_clusters", 0),
    (TypiClustSelector, "min_cluster_size", -1),
    (TypiClustSelector, "backend", "annoy"),
    (ProbCoverSelector, "delta", -0.1),
    (ProbCoverSelector, "delta", np.inf),
    (ProbCoverSelector, "n_neighbors", 0),
    (ProbCoverSelector, "purity_threshold", 0.0),
    (ProbCoverSelector, "purity_threshold", 1.5),
    (ProbCoverSelector, "n_clusters", 0),
    (ProbCoverSelector, "n_clusters", 1000),
    (D2Selector, "n_neighbors", 0),
    (D2Selector, "gamma_f", -1.0),
    (D2Selector, "gamma_r", np.nan),
    (D2Selector, "scores", "forgetting"),
    (D2Selector, "scores", np.ones(5)),
    (D2Selector, "scores", np.r_[np.nan, np.ones(29)]),
    (D2Selector, "n_clusters", 0),
    (D2Selector, "backend", "annoy"),
    (FacilityLocationSelector, "n_neighbors", 0),
    (FacilityLocationSelector, "backend", "annoy"),
    (MaxHerdingSelector, "n_neighbors", 0),
    (MaxHerdingSelector, "backend", "annoy"),
    (MaxHerdingSelector, "bandwidth", 0.0),
    (MaxHerdingSelector, "bandwidth", -1.0),
    (MaxHerdingSelector, "bandwidth", np.inf),
]


@pytest.mark.parametrize("cls, name, value", BAD_PARAMS)
def test_bad_parameter_values_raise_value_error_naming_them(cls, name, value):
    X = np.random.RandomState(0).rand(30, 3)
    with pytest.raises(ValueError, match=name):
        cls(budget=5, **{name: value}).fit(X)


@pytest.mark.parametrize("cls", ALL)
def test_non_integer_n_neighbors_is_a_type_error(cls):
    with pytest.raises(TypeError, match="n_neighbors"):
        cls(budget=5, n_neighbors=2.5).fit(np.random.RandomState(0).rand(30, 3))


ROW_SELECTION = "transform returns the selected rows of the fitted pool (BaseSelector.transform)"
