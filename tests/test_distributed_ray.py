"""The Ray engine (skelfs.distributed.select): a local Ray cluster of 2 CPU workers on
20k rows in 4 shards, ELFS and facility location. Skipped where Ray Train is not
installed (pip install skelfs[ray])."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

pytest.importorskip("ray.train.torch")

from skelfs import DynamicsScorer  # noqa: E402
from skelfs.baselines.facility_location import FacilityLocationSelector  # noqa: E402
from skelfs.distributed import select  # noqa: E402

FAST = DynamicsScorer(epochs=4)  # the engine is under test here, not the proxy
N_ROWS = 20_000


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    import ray

    X, _ = make_blobs(N_ROWS, centers=20, n_features=32, cluster_std=3.0, random_state=0)
    directory = tmp_path_factory.mktemp("shards")
    for i, part in enumerate(np.array_split(X.astype(np.float32), 4)):
        np.save(directory / f"part-{i}.npy", part)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield directory
    ray.shutdown()


@pytest.fixture(scope="module")
def first(shards):
    return select(str(shards / "*.npy"), method="elfs", budget=1000, num_workers=2, scorer=FAST)


def test_ray_selects_exactly_the_budget_over_all_shards(first):
    assert first.size == 1000 and np.unique(first).size == 1000
    assert first.min() >= 0 and first.max() < 20_000
    assert (first < 10_000).any() and (first >= 10_000).any()  # both workers' shards


def test_ray_killed_worker_resumes_from_checkpoint_with_the_same_selection(shards, first, tmp_path):
    marker = tmp_path / "failed_once"
    again = select(
        str(shards / "*.npy"),
        method="elfs",
        budget=1000,
        num_workers=2,
        scorer=FAST,
        _fail_once=(str(marker), 2),  # worker 1 dies after proxy epoch 2
    )
    # Restarted mid-training from a proxy checkpoint (Ray Train registers a reported
    # checkpoint asynchronously, so the last one may be an epoch before the failure).
    resumed = int(marker.read_text().removeprefix("resumed after epoch "))
    assert 0 <= resumed <= 2
    np.testing.assert_array_equal(again, first)  # and the same rows as the unbroken run


def test_ray_parquet_shards_return_the_id_column(shards, first, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    offset = 0
    for i in range(4):
        part = np.load(shards / f"part-{i}.npy")
        frame = pd.DataFrame({"doc": [f"d{offset + j}" for j in range(len(part))]})
        frame["embedding"] = list(part)
        frame.to_parquet(tmp_path / f"part-{i}.parquet")
        offset += len(part)
    ids = select(
        str(tmp_path / "*.parquet"),
        method="elfs",
        budget=1000,
        num_workers=2,
        scorer=FAST,
        id_column="doc",
    )
    # Same values in the same order as the .npy shards: the same rows, named by the column.
    assert list(ids) == [f"d{r}" for r in first]


# --------------------------------------------------------------- facility location
@pytest.fixture(scope="module")
def facility_location(shards):
    return select(str(shards / "*.npy"), budget=1000, num_workers=2, return_metrics=True)


def test_ray_facility_location_is_the_default_and_selects_exactly_the_budget(
    shards, facility_location
):
    ids, metrics = facility_location
    assert ids.size == 1000 and np.unique(ids).size == 1000
    # These blobs are far enough apart in angle that no partition border cuts a
    # neighbourhood (the per-worker graphs are the one-process graph), so the merged
    # greedy must be the one-process selector's.
    X = np.concatenate([np.load(shards / f"part-{i}.npy") for i in range(4)])
    one = FacilityLocationSelector(budget=1000).fit(X).get_support(indices=True)
    np.testing.assert_array_equal(ids, one)
    assert sum(metrics["rows_per_worker"]) == N_ROWS and min(metrics["rows_per_worker"]) > 0
    assert len(metrics["peak_rss_per_worker"]) == 2
    assert all(rss > 2**20 for rss in metrics["peak_rss_per_worker"])  # bytes, measured
    assert {"partitions", "exchange", "knn", "greedy", "total"} <= set(metrics["seconds"])


def test_ray_facility_location_resumes_after_the_knn_graph(shards, facility_location, tmp_path):
    marker = tmp_path / "failed_once"
    again = select(
        str(shards / "*.npy"),
        budget=1000,
        num_workers=2,
        _fail_once=(str(marker), 0),  # worker 1 dies after the kNN graph's checkpoint
    )
    # Ray registers a reported checkpoint asynchronously: a worker killed right after
    # reporting the graph restarts from it (0), from the partitions (-1) or, when neither
    # was registered yet (seen once in a full-suite run), from the start ("none"). The
    # selection must be the same whichever it was.
    assert marker.read_text().removeprefix("resumed after epoch ") in ("none", "-1", "0")
    np.testing.assert_array_equal(again, facility_location[0])
