"""skelfs.coverage: kernels on the kNN graph and the weighted, candidate-restricted greedy."""

import numpy as np
import pytest

from skelfs.coverage import auto_bandwidth, greedy_coverage, similarity_graph


def dense_reference(n=9, seed=0):
    rng = np.random.RandomState(seed)
    S = rng.uniform(0.0, 1.0, size=(n, n))
    np.fill_diagonal(S, 1.0)
    return S


def brute_force_greedy(S, n_select, w, candidates):
    picks = []
    for _ in range(n_select):
        base = (w * S[:, picks].max(axis=1)).sum() if picks else 0.0
        gains = [
            (w * S[:, picks + [j]].max(axis=1)).sum() - base
            if j in candidates and j not in picks
            else -np.inf
            for j in range(len(S))
        ]
        picks.append(int(np.argmax(gains)))
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_greedy_with_candidates_matches_brute_force(seed):
    S = dense_reference(seed=seed)
    w = np.random.RandomState(seed + 10).uniform(0.1, 3.0, size=9)
    candidates = [0, 2, 3, 5, 8]
    ranking, gains, served = greedy_coverage(S, 4, weights=w, candidates=candidates)
    assert ranking.tolist() == brute_force_greedy(S, 4, w, candidates)
    np.testing.assert_allclose(served, S[:, ranking].max(axis=1))
    assert np.all(np.diff(gains) <= 1e-12)
    # a boolean mask means the same candidates
    mask = np.isin(np.arange(9), candidates)
    assert greedy_coverage(S, 4, weights=w, candidates=mask)[0].tolist() == ranking.tolist()


def test_more_picks_than_candidates_is_an_error():
    with pytest.raises(ValueError, match="3 candidates"):
        greedy_coverage(dense_reference(), 4, candidates=[0, 1, 2])


def test_similarity_graph_kernels():
    distances = np.array([[0.1, 0.5], [0.2, 1.5], [0.0, 0.3]])
    indices = np.array([[1, 2], [2, 0], [0, 1]])
    cos = similarity_graph(distances, indices, kernel="cosine").toarray()
    np.testing.assert_allclose(cos, [[1.0, 0.9, 0.5], [0.0, 1.0, 0.8], [1.0, 0.7, 1.0]])
    gauss = similarity_graph(distances, indices, kernel="gaussian", bandwidth=0.5).toarray()
    np.testing.assert_allclose(gauss[0], [1.0, np.exp(-0.2), np.exp(-1.0)])
    np.testing.assert_allclose(gauss[1], [np.exp(-3.0), 1.0, np.exp(-0.4)])
    with pytest.raises(ValueError, match="kernel"):
        similarity_graph(distances, indices, kernel="tophat")


def test_auto_bandwidth():
    distances = np.array([[0.1, 0.4], [0.2, 0.8], [0.3, 1.2]])
    assert auto_bandwidth(distances) == pytest.approx(0.8 / 4)
    assert auto_bandwidth(np.zeros((3, 2))) > 0  # duplicated pool: still finite
