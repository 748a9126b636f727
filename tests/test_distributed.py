"""ELFS over row shards (skelfs.distributed): the collectives' arithmetic in one process,
then two real gloo workers (torch.multiprocessing) on 20k rows in 4 shards."""

import gc
import json
import os
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

from skelfs import DoubleEndPruner, DynamicsScorer, ELFSSelector, KMeansClusterer
from skelfs.distributed import select_shard
from skelfs.distributed._comm import Comm
from skelfs.distributed.stages import (
    ShardLayout,
    _order_keys,
    sharded_kmeans,
    sharded_prune,
    top_per_group,
)

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


def test_order_keys_sort_as_the_floats():
    values = np.array([3.5, -0.0, 0.0, -1e-300, 1e-300, -2.0, -1.0, np.inf, -np.inf, 7.0])
    keys = _order_keys(values)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(keys[order]) >= 0)
    assert keys[1] == keys[2]  # -0.0 and 0.0 tie, as they compare equal
    assert np.all(np.diff(_order_keys(np.sort(values))) >= 0)


def test_top_per_group_in_one_process_matches_a_sort():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, size=400).astype(float)  # many ties
    groups = rng.integers(0, 5, size=400)
    want = np.array([0, 3, 17, 80, 500])  # none, few, many, all (capped at the size)
    comm = Comm()
    mask = top_per_group(values, groups, want, comm, np.random.default_rng(1), rng)
    for g in range(5):
        members = groups == g
        chosen = mask & members
        assert chosen.sum() == min(want[g], members.sum())
        if 0 < chosen.sum() < members.sum():  # nothing left out is above what was chosen
            assert values[members & ~mask].max() <= values[chosen].min()


def test_sharded_prune_in_one_process_matches_the_pruner():
    rng = np.random.default_rng(0)
    scores = rng.permutation(1000).astype(float)  # distinct: "hard" is deterministic
    groups = rng.integers(0, 7, size=1000)
    pruner = DoubleEndPruner(beta=0.2, sampling="hard", allocation=None)
    ours = sharded_prune(scores, groups, 7, 100, 0.2, pruner, Comm(), seed=0)
    theirs = pruner.select(scores, 100)
    np.testing.assert_array_equal(np.sort(ours), theirs)


def test_sharded_prune_rejects_coverage_sampling():
    pruner = DoubleEndPruner(sampling="coverage")
    with pytest.raises(ValueError, match='sampling="ccs"'):
        sharded_prune(np.arange(10.0), np.zeros(10, int), 1, 2, 0.0, pruner, Comm(), 0)


def test_select_shard_in_one_process_is_seeded_and_dtype_blind():
    X, _ = make_blobs(1500, centers=8, n_features=12, random_state=0)
    X = X.astype(np.float32)
    fast = {"budget": 150, "scorer": DynamicsScorer(epochs=3), "random_state": 7}
    a = select_shard(X, **fast)
    b = select_shard(X.astype(np.float64), **{**fast, "scorer": DynamicsScorer(epochs=3)})
    assert a.size == 150 and np.unique(a).size == 150
    np.testing.assert_array_equal(a, b)  # fresh components, float64 rows: same selection
    assert not np.array_equal(a, select_shard(X, **{**fast, "random_state": 8}))


# ---------------------------------------------------------------- two gloo workers
N_ROWS, N_SHARDS = 20_000, 4
FAST = DynamicsScorer(epochs=5)
SHARD_EDGES = np.linspace(0, N_ROWS, N_SHARDS + 1).astype(int)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    X, y = make_blobs(N_ROWS, centers=20, n_features=32, cluster_std=3.0, random_state=0)
    path = tmp_path_factory.mktemp("shards") / "pool.npy"
    np.save(path, X.astype(np.float32))
    return path, X.astype(np.float32), y


def _worker(rank, world, init_file, path, out, job):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        X = np.load(path, mmap_mode="r")
        # Shards 0-1 on worker 0, shards 2-3 on worker 1 (rank order = row order).
        per_worker = N_SHARDS // world
        rows = slice(SHARD_EDGES[rank * per_worker], SHARD_EDGES[(rank + 1) * per_worker])
        mine = np.ascontiguousarray(X[rows])
        result = {}
        if "select" in job:
            result["ids"] = select_shard(mine, **job["select"])
        if "kmeans" in job:
            layout = ShardLayout(mine.shape[0], Comm())
            _, _, inertia = sharded_kmeans(
                mine, layout, job["kmeans"], 0, Comm(), device=torch.device("cpu")
            )
            result["inertia"] = inertia
        if "prune" in job:
            scores, groups, n_select, pruner = job["prune"]
            local = sharded_prune(
                scores[rows],
                groups[rows],
                int(groups.max()) + 1,
                n_select,
                pruner.beta,
                pruner,
                Comm(),
                seed=3,
            )
            result["ids"] = Comm().gather(local + rows.start)
        if rank == 0:
            np.save(out, result, allow_pickle=True)
    finally:
        gc.collect()  # see skelfs.distributed.stages.select_shard: DDP's cycles first
        dist.destroy_process_group()


def _run(tmp_path, pool, job, world=2):
    init_file, out = tmp_path / f"init_{len(os.listdir(tmp_path))}", tmp_path / "out.npy"
    mp.spawn(_worker, args=(world, str(init_file), str(pool[0]), str(out), job), nprocs=world)
    return np.load(out, allow_pickle=True).item()


@pytest.fixture(scope="module")
def two_worker_runs(pool, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    # 5 proxy epochs (not 20) keep CI short; the one-process reference below uses the same.
    job = {"select": {"budget": 1000, "random_state": 0, "scorer": FAST}, "kmeans": 20}
    return [_run(tmp, pool, job), _run(tmp, pool, job)]


def test_two_workers_select_exactly_the_budget_of_distinct_rows(two_worker_runs):
    ids = two_worker_runs[0]["ids"]
    assert ids.size == 1000 and np.unique(ids).size == 1000
    assert ids.min() >= 0 and ids.max() < N_ROWS
    # Rows from both workers' shards: the selection spans the union.
    assert (ids < SHARD_EDGES[2]).any() and (ids >= SHARD_EDGES[2]).any()


def test_two_workers_same_seed_same_selection(two_worker_runs):
    np.testing.assert_array_equal(two_worker_runs[0]["ids"], two_worker_runs[1]["ids"])


def test_sharded_kmeans_inertia_within_one_percent_of_one_process(two_worker_runs, pool):
    one = KMeansClusterer(n_clusters=20, random_state=0).fit(pool[1])
    centers = one.cluster_centers_
    inertia = ((pool[1] - centers[one.labels_]) ** 2).sum(dtype=np.float64)
    assert abs(two_worker_runs[0]["inertia"] - inertia) <= 0.01 * inertia


def test_two_workers_quality_within_noise_of_one_process(two_worker_runs, pool):
    _, X, y = pool
    test = np.random.default_rng(1).choice(N_ROWS, 5000, replace=False)

    def accuracy(ids):
        return LogisticRegression(max_iter=2000).fit(X[ids], y[ids]).score(X[test], y[test])

    one = ELFSSelector(budget=1000, scorer=FAST, random_state=0).fit(X).get_support(indices=True)
    random = np.random.default_rng(0).choice(N_ROWS, 1000, replace=False)
    sharded = accuracy(two_worker_runs[0]["ids"])
    assert sharded >= accuracy(one) - 0.02
    assert sharded >= accuracy(random) - 0.02


def test_two_workers_pruning_is_exact_per_cluster(pool, tmp_path):
    # Distinct scores and allocation="equal" (no random tie-breaks): the sharded pruning
    # must keep exactly as many rows per cluster and per stratum as the one-process one.
    rng = np.random.default_rng(0)
    scores = rng.permutation(N_ROWS).astype(float)
    groups = rng.integers(0, 6, size=N_ROWS)
    pruner = DoubleEndPruner(beta=0.3, sampling="ccs", n_strata=10, allocation="equal")
    ids = _run(tmp_path, pool, {"prune": (scores, groups, 1200, pruner)})["ids"]
    one = pruner.select(scores, 1200, groups=groups)
    assert ids.size == 1200 and np.unique(ids).size == 1200
    for g in range(6):
        members = np.flatnonzero(groups == g)
        n_drop = int(np.floor(0.3 * members.size))
        kept = np.sort(scores[members])[: members.size - n_drop]
        ours, theirs = ids[groups[ids] == g], one[groups[one] == g]
        assert scores[ours].max() <= kept.max()  # the hardest 30% of the cluster were dropped
        width = (kept.max() - kept.min()) / 10  # the pruner's strata of the kept rows

        def strata(rows, lo=kept.min(), width=width):
            return np.bincount(
                np.minimum(((scores[rows] - lo) / width).astype(int), 9), minlength=10
            )

        np.testing.assert_array_equal(strata(ours), strata(theirs))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


# ----------------------------------------------------------- the command line's wiring
@pytest.fixture
def fake_select(monkeypatch):
    import skelfs.distributed as distributed

    seen = {}

    def fake(paths, **kwargs):  # the Ray run itself is tested in test_distributed_ray
        seen.update(kwargs, paths=paths)
        return np.array([3, 17, 42])

    monkeypatch.setattr(distributed, "select", fake)
    return seen


def test_cli_engine_ray_passes_the_options_and_writes_the_ids(tmp_path, fake_select, capsys):
    from skelfs.cli import main

    out = tmp_path / "rows.jsonl"
    argv = ["select", "shards/*.npy", "--engine", "ray", "--workers", "3", "--budget", "0.01"]
    argv += ["--method", "elfs", "--address", "auto", "--beta", "0.2", "-o", str(out)]
    assert main(argv) == 0
    seen = fake_select
    assert seen["paths"] == "shards/*.npy" and seen["num_workers"] == 3
    assert seen["method"] == "elfs" and seen["address"] == "auto" and seen["beta"] == 0.2
    assert seen["budget"] == 0.01 and not seen["use_gpu"]
    assert [json.loads(line)["index"] for line in out.read_text().splitlines()] == [3, 17, 42]
    assert "ELFS on Ray, 3 workers" in capsys.readouterr().out


def test_cli_engine_ray_runs_facility_location_by_default(tmp_path, fake_select, capsys):
    from skelfs.cli import main

    argv = ["select", "shards/*.npy", "--engine", "ray", "--json", "-o", str(tmp_path / "o.csv")]
    assert main(argv) == 0
    assert fake_select["method"] == "facility_location"
    assert "beta" not in fake_select and "n_clusters" not in fake_select  # ELFS settings
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "facility_location" and summary["method_is_default"]
    assert summary["engine"] == "ray" and summary["n_selected"] == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "kcenter"], "--engine ray runs facility_location (the default) or elfs"),
        (["--method", "kcenter"], "--engine local for kcenter"),
        (["--beta", "0.2"], "--beta does not apply to --method facility_location (the default"),
        (["--workers", "0"], "--workers 0"),
        (["--sep", ";"], "--sep is not available with --engine ray"),
    ],
)
def test_cli_engine_ray_bad_options_are_one_line_errors(tmp_path, capsys, extra, message):
    from skelfs.cli import main

    argv = ["select", "x/*.npy", "--engine", "ray", "-o", str(tmp_path / "o.csv"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("skelfs: error: ") and message in err


def test_cli_engine_ray_without_shards_names_the_pattern(tmp_path, capsys):
    from skelfs.cli import main

    argv = ["select", str(tmp_path / "none*.npy"), "--engine", "ray", "-o", str(tmp_path / "o.csv")]
    assert main(argv) == 2
    assert "matches no shard" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "kcenter"}, "does not run over shards"),
        ({"beta": 0.2}, "beta=0.2 is a setting of method='elfs'"),
        ({"method": "elfs", "n_neighbors": 5}, "n_neighbors=5 is a setting of"),
    ],
)
def test_select_rejects_other_methods_and_their_settings(kwargs, message):
    from skelfs.distributed import select

    with pytest.raises(ValueError, match=message):
        select("nowhere/*.npy", **kwargs)  # checked before the shards are listed
