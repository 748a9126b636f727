"""The thread governor (skelfs/_threads.py): fewer torch threads while others use cores."""

import numpy as np
import pytest
import torch

from skelfs import DynamicsScorer, _threads
from skelfs._threads import ThreadGovernor, limit_threads, retune_threads


class FakeClock:
    """Drives the governor's samples: wall seconds, machine busy seconds, own CPU seconds."""

    def __init__(self, monkeypatch):
        self.wall = self.machine = self.own = 0.0
        monkeypatch.setattr(_threads.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(_threads.time, "process_time", lambda: self.own)
        monkeypatch.setattr(_threads, "_cpu_seconds", lambda cpus: self.machine)

    def advance(self, seconds, *, own_cores, other_cores):
        self.wall += seconds
        self.own += own_cores * seconds
        self.machine += (own_cores + other_cores) * seconds


@pytest.fixture
def two_cores(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    governor = ThreadGovernor()
    governor.cpus = {0, 1}
    yield governor, FakeClock(monkeypatch)
    torch.set_num_threads(before)


def test_governor_leaves_a_busy_core_to_the_other_process_and_takes_it_back(two_cores):
    governor, clock = two_cores
    governor.retune()  # first call: ceiling 2, baseline sample
    assert governor.ceiling == 2
    clock.advance(1.0, own_cores=1.0, other_cores=1.0)
    governor.retune()
    assert torch.get_num_threads() == 1
    clock.advance(0.2, own_cores=1.0, other_cores=0.0)
    governor.retune()  # under RETUNE_SECONDS since the last sample: no change
    assert torch.get_num_threads() == 1
    clock.advance(1.0, own_cores=1.0, other_cores=0.1)  # the other process went quiet
    governor.retune()
    assert torch.get_num_threads() == 2
    clock.advance(1.0, own_cores=1.6, other_cores=0.4)  # a core 40% busy is left to them
    governor.retune()
    assert torch.get_num_threads() == 1
    governor.restore()
    assert torch.get_num_threads() == 2


def test_governor_never_exceeds_the_configured_count(two_cores):
    governor, clock = two_cores
    torch.set_num_threads(1)
    governor.retune()
    clock.advance(1.0, own_cores=1.0, other_cores=0.0)
    governor.retune()
    assert torch.get_num_threads() == 1


def test_limit_threads_none_governs_and_an_int_fixes_the_count(monkeypatch):
    before = torch.get_num_threads()
    calls = []
    monkeypatch.setattr(ThreadGovernor, "retune", lambda self: calls.append(self))
    with limit_threads(None):
        retune_threads()
        with limit_threads(None):  # nested: the same governor
            retune_threads()
        with limit_threads(1):  # a fixed count is not adjusted
            retune_threads()
            assert torch.get_num_threads() == 1
        retune_threads()
    retune_threads()  # outside any fit: nothing to adjust
    assert len(calls) == 3 and calls[0] is calls[1] is calls[2]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("n", [3000, 2821])
def test_scores_do_not_depend_on_the_thread_count(n):
    # 2821 = 11 x 256 + 5: each epoch ends on a 5-row batch, whose matmul kernel the BLAS
    # chose by thread count until such steps ran on one thread (_threads.one_thread).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 32)).astype(np.float32)
    y = rng.integers(20, size=n)
    scores = [
        DynamicsScorer(epochs=3, random_state=0, n_jobs=n_jobs).fit(X, y).all_scores_
        for n_jobs in (1, 2)
    ]
    for name in scores[0]:
        np.testing.assert_array_equal(scores[0][name], scores[1][name], err_msg=name)


def test_one_thread_runs_the_body_on_one_thread_and_restores_the_count():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with _threads.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), _threads.one_thread():
            raise RuntimeError("restored on errors too")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_invariant_sum_is_the_same_on_one_and_two_threads():
    # A plain torch sum this long splits across threads and rounds differently.
    values = torch.randn(400_000, generator=torch.Generator().manual_seed(0))
    sums = []
    for threads in (1, 2):
        with limit_threads(threads):
            sums.append((_threads.invariant_sum(values), float(values.sum())))
    assert sums[0][0] == sums[1][0]
    assert sums[0][0] == pytest.approx(float(values.double().sum()), rel=1e-12)


@pytest.mark.parametrize("n, algorithm", [(6000, "auto"), (6000, "minibatch")])
def test_kmeans_does_not_depend_on_the_thread_count(n, algorithm):
    # Blocks of 4096 x 16 rows: their inertia sums and k-means++'s weight sums are long
    # enough for torch to split them across threads.
    from sklearn.datasets import make_blobs

    from skelfs import KMeansClusterer

    X, _ = make_blobs(n, centers=40, n_features=16, cluster_std=4.0, random_state=0)
    X = X.astype(np.float32)
    fits = []
    for threads in (1, 2):
        with limit_threads(threads):
            fits.append(
                KMeansClusterer(
                    40, algorithm=algorithm, batch_size=3000, device="cpu", random_state=0
                ).fit(X)
            )
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].n_iter_ == fits[1].n_iter_
