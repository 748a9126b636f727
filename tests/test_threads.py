"""Same seed, same selection, also under threads: torch randomness comes from private
generators, never from the process-wide torch RNG."""

import threading

import numpy as np
import torch
from sklearn.datasets import make_blobs

from skelfs import DeepClusterer, DynamicsScorer, ELFSSelector

X, _ = make_blobs(400, centers=4, n_features=8, random_state=0)


def elfs():
    scorer = DynamicsScorer(epochs=4, input_noise=0.1, dropout=0.2, hidden_layer_size=16)
    return ELFSSelector(budget=0.1, n_clusters=6, scorer=scorer, random_state=0, device="cpu")


def temi():
    return DeepClusterer(
        n_clusters=4,
        n_neighbors=5,
        epochs=3,
        hidden_size=16,
        projection_size=8,
        random_state=0,
        device="cpu",
    )


def run_in_threads(make, fit, n_threads=3):
    """Fit ``n_threads`` estimators at once while another thread reseeds and draws from
    the global torch RNG; returns the fitted results."""
    results, errors, stop = [None] * n_threads, [], threading.Event()

    def noise():
        i = 0
        while not stop.is_set():
            torch.manual_seed(i)
            torch.rand(64)
            i += 1

    def work(k):
        try:
            results[k] = fit(make())
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    hammer = threading.Thread(target=noise)
    hammer.start()
    workers = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    hammer.join()
    assert not errors, errors
    return results


def test_elfs_selection_is_the_same_in_threads_and_alone():
    fit = lambda sel: sel.fit(X).sample_indices_  # noqa: E731
    alone = fit(elfs())
    for indices in run_in_threads(elfs, fit):
        np.testing.assert_array_equal(indices, alone)


def test_dynamics_scores_are_the_same_in_threads_and_alone():
    y = np.repeat(np.arange(4), 100)

    def make():
        return DynamicsScorer(
            epochs=3,
            input_noise=0.1,
            dropout=0.3,
            hidden_layer_size=8,
            random_state=0,
            device="cpu",
        )

    def fit(scorer):
        return scorer.fit(X, y).scores_

    alone = fit(make())
    for scores in run_in_threads(make, fit):
        np.testing.assert_array_equal(scores, alone)


def test_temi_labels_are_the_same_in_threads_and_alone():
    fit = lambda c: c.fit(X).labels_  # noqa: E731
    alone = fit(temi())
    for labels in run_in_threads(temi, fit):
        np.testing.assert_array_equal(labels, alone)


def test_fit_leaves_the_global_torch_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    elfs().fit(X)
    temi().fit(X)
    np.testing.assert_array_equal(torch.rand(5), expected)
