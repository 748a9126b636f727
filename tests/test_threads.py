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


@pytest.mark.parametrize("n, d", [(3000, 32), (2821, 32), (600, 1024)])
def test_scores_do_not_depend_on_the_thread_count(n, d):
    # 2821 = 11 x 256 + 5: each epoch ends on a 5-row batch, whose matmul kernel the BLAS
    # chose by thread count until such steps ran on one thread (_threads.one_thread).
    # d = 1024: on Intel CPUs MKL split the logits' 1024-long inner products across
    # threads until skelfs set its strict mode; the bias gradient was a matrix-vector
    # product, which MKL splits in any mode.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
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


def test_deep_clusterer_does_not_depend_on_the_thread_count():
    # The student's softmax: on an AVX-512 host torch's softmax backward rounded
    # differently on 1 and 2 threads (the loss curve differed in its last bits).
    from sklearn.datasets import make_blobs

    from skelfs import DeepClusterer

    X, _ = make_blobs(2000, centers=40, n_features=32, cluster_std=4.0, random_state=0)
    X = X.astype(np.float32)
    fits = [
        DeepClusterer(n_clusters=40, epochs=5, random_state=0, n_jobs=n_jobs).fit(X)
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(fits[0].loss_curve_, fits[1].loss_curve_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)


@pytest.mark.parametrize("n, d, batch_size", [(2821, 32, 50), (600, 1024, 16)])
def test_sharded_dynamics_do_not_depend_on_the_thread_count(monkeypatch, n, d, batch_size):
    # The distributed loop steps through autograd and torch's SGD on every batch, short
    # ones included (a worker's share of a step): d = 1024 differed outside MKL's strict
    # mode on an Intel host.
    from skelfs.distributed import select_shard, stages

    shipped, scores = stages.sharded_dynamics, []

    def recorded(*args, **kwargs):
        scores.append(shipped(*args, **kwargs))
        return scores[-1]

    monkeypatch.setattr(stages, "sharded_dynamics", recorded)
    X = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    scorer = DynamicsScorer(epochs=3, batch_size=batch_size)
    selections = []
    for threads in (1, 2):
        with limit_threads(threads):
            selections.append(select_shard(X, budget=0.1, scorer=scorer, device="cpu"))
    np.testing.assert_array_equal(selections[0], selections[1])
    for name in scores[0]:
        np.testing.assert_array_equal(scores[0][name], scores[1][name], err_msg=name)


def test_probe_does_not_depend_on_the_thread_count():
    # Its gradient X^T residual sums over every training row: MKL split a 3000-long
    # inner dimension across threads (16 x 10 output) outside its strict mode.
    from skelfs._probe import fit_probe

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 16)).astype(np.float32)
    y = rng.integers(10, size=3000)
    weights = []
    for threads in (1, 2):
        with limit_threads(threads):
            weights.append(fit_probe(X, y, device=torch.device("cpu"), max_iter=20)[2].numpy())
    np.testing.assert_array_equal(weights[0], weights[1])


def _python(code, **env):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    return result.stdout.strip(), result.stderr


def test_importing_skelfs_puts_mkl_in_strict_mode_and_keeps_a_users_setting():
    code = (
        "import os, skelfs\nfrom skelfs._threads import mkl_strict_mode\n"
        "print(os.environ['MKL_CBWR'], mkl_strict_mode())"
    )
    out, _ = _python(code)
    expected = "True" if torch.backends.mkl.is_available() else "None"
    assert out.split() == ["AUTO,STRICT", expected]
    out, _ = _python(code, MKL_CBWR="AUTO")
    assert out.split()[0] == "AUTO"


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="torch without MKL")
def test_a_fit_warns_once_when_mkl_started_outside_strict_mode():
    code = (
        "import torch\ntorch.randn(64, 64) @ torch.randn(64, 64)  # MKL starts here\n"
        "import numpy as np\nfrom skelfs import DynamicsScorer\n"
        "X = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)\n"
        "y = np.arange(300) % 3\n"
        "for _ in range(2):\n"
        "    DynamicsScorer(epochs=1, random_state=0).fit(X, y)\n"
    )
    _, err = _python(code)
    assert err.count("RuntimeWarning: torch's MKL started before skelfs") == 1
    # It points at the user's fit call (line 8 of the code), not into skelfs.
    assert "<string>:8: RuntimeWarning" in err
    _, err = _python(code, MKL_CBWR="AUTO,STRICT")
    assert "RuntimeWarning" not in err
    _, err = _python(code.replace("torch.randn(64, 64) @ torch.randn(64, 64)", ""), MKL_CBWR="AUTO")
    assert err.count("RuntimeWarning: MKL_CBWR is set to 'AUTO', without STRICT") == 1
