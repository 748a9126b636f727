"""The Ray engine (skelfs.distributed.select): a local Ray cluster of 2 CPU workers on
20k rows in 4 shards. Skipped where Ray Train is not installed (pip install skelfs[ray])."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

pytest.importorskip("ray.train.torch")

from skelfs import DynamicsScorer  # noqa: E402
from skelfs.distributed import select  # noqa: E402

FAST = DynamicsScorer(epochs=4)  # the engine is under test here, not the proxy


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    import ray

    X, _ = make_blobs(20_000, centers=20, n_features=32, cluster_std=3.0, random_state=0)
    directory = tmp_path_factory.mktemp("shards")
    for i, part in enumerate(np.array_split(X.astype(np.float32), 4)):
        np.save(directory / f"part-{i}.npy", part)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield directory
    ray.shutdown()


@pytest.fixture(scope="module")
def first(shards):
    return select(str(shards / "*.npy"), budget=1000, num_workers=2, scorer=FAST)


def test_ray_selects_exactly_the_budget_over_all_shards(first):
    assert first.size == 1000 and np.unique(first).size == 1000
    assert first.min() >= 0 and first.max() < 20_000
    assert (first < 10_000).any() and (first >= 10_000).any()  # both workers' shards


def test_ray_killed_worker_resumes_from_checkpoint_with_the_same_selection(shards, first, tmp_path):
    marker = tmp_path / "failed_once"
    again = select(
        str(shards / "*.npy"),
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
        str(tmp_path / "*.parquet"), budget=1000, num_workers=2, scorer=FAST, id_column="doc"
    )
    # Same values in the same order as the .npy shards: the same rows, named by the column.
    assert list(ids) == [f"d{r}" for r in first]
