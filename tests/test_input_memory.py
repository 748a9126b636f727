"""The pool is never copied or upcast as a whole (issue 6: a million embeddings on a laptop).

Peak Python-tracked allocations (tracemalloc sees every NumPy buffer) must stay well
below the size of the pool, and torch must only ever receive one mini-batch of rows.
Each fit uses one thread (``n_jobs=1``): tiny mini-batches on an oversubscribed 2-core
machine otherwise spend most of their time in thread hand-offs.
"""

import os
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

import skelfs.clustering.kmeans as kmeans_module
from skelfs import DoubleEndPruner, DynamicsScorer, ELFSSelector, KMeansClusterer
from skelfs._utils import column_moments, release_pages
from skelfs.dynamics import chunk_rows
from skelfs.selector import _auto_beta

# 26 MB as float32. Just above the 50k-row threshold, so the default k-means streams and
# beta="auto" probes a 50k-row subset; fixed-size blocks and O(n) state stay well below.
N, D = 51_000, 128


@pytest.fixture(scope="module")
def pool32():
    rng = np.random.default_rng(0)
    centres = 4.0 * rng.standard_normal((6, D), dtype=np.float32)
    X = rng.standard_normal((N, D), dtype=np.float32)
    X += centres[rng.integers(0, 6, N)]
    return X


@pytest.fixture(scope="module")
def memmap32(pool32, tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "X.npy"
    np.save(path, pool32)
    return np.load(path, mmap_mode="r")


@pytest.fixture(scope="module")
def inputs(pool32, memmap32):
    return {
        "float32 C": pool32,
        "float32 F": np.asfortranarray(pool32),
        "float64": pool32.astype(np.float64),
        "float16": pool32.astype(np.float16),
        "memmap": memmap32,
        "DataFrame": pd.DataFrame(pool32),
    }


KINDS = ["float32 C", "float32 F", "float64", "float16", "memmap", "DataFrame"]


def _selector(beta=0.1):
    """The default pipeline (streamed k-means above 50k rows), made quick."""
    return ELFSSelector(
        budget=0.05,
        beta=beta,
        n_jobs=1,
        clusterer=KMeansClusterer(6, batch_size=1024, n_init=1, max_iter=1),
        scorer=DynamicsScorer(epochs=1, batch_size=1024),
    )


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Tiny blocks on a shared 2-core machine: thread hand-offs would dominate.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def fits(pool32, inputs):
    """Each input kind fitted once: (peak traced bytes during fit, fitted selector).

    The memory map runs the default beta="auto" (its probes read held-out and selected
    rows of X); the others a fixed beta, which keeps the module fast.
    """
    # Imports torch (and, through the beta probes' optimiser, torch._dynamo: 40 MB of
    # module objects that tracemalloc would count) and fills caches before measuring.
    _selector(beta="auto").fit(pool32[:3000])
    out = {"float32 C": (None, _selector().fit(pool32))}  # the reference, not traced
    for kind, X in inputs.items():
        if kind != "float32 C":
            sel = _selector(beta="auto" if kind == "memmap" else 0.1)
            out[kind] = (_peak_bytes(lambda: sel.fit(X)), sel)
    return out


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "float64"])
def test_validation_shares_the_input_buffer(inputs, kind):
    X = inputs[kind]
    Z = ELFSSelector()._validate_pool(X)
    source = X.to_numpy() if isinstance(X, pd.DataFrame) else X
    assert Z.dtype == source.dtype
    assert np.shares_memory(Z, source)


def test_float64_is_rounded_to_float32_once(inputs, pool32):
    # Selectors compute in float32 (issue 14): the same values, the same selection.
    Z = ELFSSelector()._validate_pool(inputs["float64"])
    assert Z.dtype == np.float32
    np.testing.assert_array_equal(Z, pool32)


@pytest.mark.parametrize("kind", KINDS[1:])  # the C-ordered float32 case is the memmap's
def test_fit_never_copies_the_pool(fits, kind):
    peak, sel = fits[kind]
    assert sel.n_selected_ == int(0.05 * N)
    # Bounded blocks, samples and O(n) state take about 0.4 of a float32 copy of the pool
    # (N * D * 4 bytes); any full copy on top, even a float16 one, would exceed 0.5.
    # float64 input is rounded to float32 once: that one copy (half the input) and no other.
    allowed = 0.5 + (1.0 if kind == "float64" else 0.0)
    assert peak < allowed * N * D * 4, f"{kind}: peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("kind", ["float32 F", "float64", "DataFrame"])
def test_every_container_selects_the_same_rows(fits, kind):
    reference = fits["float32 C"][1]
    np.testing.assert_array_equal(fits[kind][1].sample_indices_, reference.sample_indices_)


def test_memmap_gives_the_same_dynamics(fits):
    a, b = fits["float32 C"][1], fits["memmap"][1]
    np.testing.assert_array_equal(a.pseudo_labels_, b.pseudo_labels_)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    assert b.auto_beta_scores_  # beta="auto" ran on the memory map


def test_float16_pool_selects_like_float32(fits):
    a, b = fits["float32 C"][1], fits["float16"][1]
    assert adjusted_rand_score(a.pseudo_labels_, b.pseudo_labels_) > 0.999
    assert np.corrcoef(a.scores_, b.scores_)[0, 1] > 0.999
    overlap = np.intersect1d(a.sample_indices_, b.sample_indices_).size / a.n_selected_
    assert overlap > 0.9


def test_torch_only_receives_mini_batches(pool32, monkeypatch):
    import torch

    largest = [0]
    for name in ("from_numpy", "as_tensor", "tensor"):
        original = getattr(torch, name)

        def spy(data, *args, _original=original, **kwargs):
            largest[0] = max(largest[0], int(np.size(data)))
            return _original(data, *args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    X = np.asfortranarray(pool32.astype(np.float64))
    y = np.arange(N) % 6
    DynamicsScorer(epochs=1, batch_size=512, n_jobs=1).fit(X, y)
    # One chunk of batches (skelfs.dynamics.chunk_rows), or an O(n) vector (labels).
    assert 0 < largest[0] <= max(chunk_rows(512, 6) * D, N)


def test_kmeans_streams_float16_without_upcast(pool32, inputs, monkeypatch):
    # Above the row threshold the streamed path reads float16 batch by batch.
    monkeypatch.setattr(kmeans_module, "_MINIBATCH_ABOVE", 20_000)
    n = 40_000
    X16 = inputs["float16"][:n]
    km = KMeansClusterer(6, n_init=1, batch_size=1024, random_state=0)  # "auto": streams
    peak = _peak_bytes(lambda: km.fit(X16))
    # A float32 copy would be 2 * X16.nbytes.
    assert peak < 0.5 * 2 * X16.nbytes, f"peak {peak / 1e6:.1f} MB"
    reference = KMeansClusterer(6, algorithm="lloyd", n_init=1, random_state=0).fit(pool32[:n])
    assert adjusted_rand_score(reference.labels_, km.labels_) > 0.999
    assert km.cluster_centers_.shape == (6, D)
    assert 1 <= km.n_iter_ <= km.max_iter


@pytest.mark.parametrize("n", [5_000, 40_000])  # below the threshold: Lloyd, either dtype
def test_kmeans_float16_and_its_float32_values_cluster_the_same(inputs, n):
    # Issue 14: the same values give the same selection whatever dtype they arrive in, so
    # the path depends on the number of rows only (float16 used to stream at any size).
    X16 = inputs["float16"][:n]
    a = KMeansClusterer(6, n_init=1, random_state=0).fit(X16)
    b = KMeansClusterer(6, n_init=1, random_state=0).fit(X16.astype(np.float32))
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_kmeans_switches_to_streaming_above_threshold(pool32, monkeypatch):
    monkeypatch.setattr(kmeans_module, "_MINIBATCH_ABOVE", N // 2)
    pool32 = np.ascontiguousarray(pool32[:, :16])
    calls = []
    original = KMeansClusterer._fit_streamed
    monkeypatch.setattr(
        KMeansClusterer, "_fit_streamed", lambda self, *a: calls.append(1) or original(self, *a)
    )
    KMeansClusterer(6, n_init=1, random_state=0).fit(pool32[: N // 2])
    assert not calls  # at the threshold: Lloyd, as before
    KMeansClusterer(6, n_init=1, random_state=0).fit(pool32)
    assert calls


def test_column_moments_stream_float16_fortran(inputs):
    X = np.asfortranarray(inputs["float16"])
    peak = _peak_bytes(lambda: column_moments(X))
    mean, std = column_moments(X)
    ref = X.astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(axis=0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(std, ref.std(axis=0), rtol=1e-7)
    assert peak < 0.1 * X.nbytes


class _RowLog(np.ndarray):
    """An ndarray that records which rows are read through fancy indexing."""

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and key.ndim == 1:
            self.rows_read.update(np.asarray(key).tolist())
        return np.asarray(self)[key]


def test_auto_beta_reads_at_most_max_rows(pool32):
    n = 4000
    X = pool32[:n].view(_RowLog)
    X.rows_read = set()
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 4, n)
    scores = rng.rand(n)
    beta, results = _auto_beta(
        X,
        labels,
        scores,
        n // 10,
        DoubleEndPruner(),
        rng,
        device=torch.device("cpu"),
        max_rows=1000,
    )
    assert results and beta in results
    assert 0 < len(X.rows_read) <= 1000


def test_elfs_selects_the_same_rows_from_float16_and_its_float32_values():
    X16 = np.random.RandomState(3).standard_normal((3000, 16)).astype(np.float16)
    X16[:1500] += np.float16(2.0)  # two groups
    params = dict(budget=0.1, scorer=DynamicsScorer(epochs=3), random_state=0)
    a = ELFSSelector(**params).fit(X16)
    b = ELFSSelector(**params).fit(X16.astype(np.float32))
    np.testing.assert_array_equal(a.pseudo_labels_, b.pseudo_labels_)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)


def _resident_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident set from /proc"
)
def test_release_pages_drops_a_read_memmap_from_the_resident_set(tmp_path):
    # 40 MB on disk; reading it all maps every page into this process.
    path = tmp_path / "pool.npy"
    np.save(path, np.random.default_rng(0).standard_normal((10_000, 1000), dtype=np.float32))
    X = np.load(path, mmap_mode="r")
    total = float(X.sum(dtype=np.float64))
    before = _resident_bytes()
    release_pages(X, 0, 5_000)  # the first half
    half = _resident_bytes()
    release_pages(np.asarray(X)[5_000:])  # through a plain-ndarray view of the map
    after = _resident_bytes()
    assert before - half > 15e6 and half - after > 15e6
    assert float(X.sum(dtype=np.float64)) == total  # read back unchanged


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident set from /proc"
)
@pytest.mark.parametrize("pread", [True, False])
def test_proxy_training_keeps_a_memmap_out_of_the_resident_set(tmp_path, monkeypatch, pread):
    # Shuffled epochs touch every page of the map. With a byte budget, PageReleaser reads
    # rows with pread (nothing mapped) or, without it, drops the pages as it goes: the
    # map's resident pages stay near the budget, not the 40 MB map.
    import skelfs._utils as utils
    from skelfs import dynamics
    from skelfs._utils import PageReleaser

    if not pread:
        monkeypatch.delattr(utils.os, "preadv", raising=False)

    path = tmp_path / "pool.npy"
    np.save(path, np.random.default_rng(0).standard_normal((10_000, 1000), dtype=np.float32))
    X = np.load(path, mmap_mode="r")
    y = np.arange(10_000) % 5
    peak = {"rss": 0}
    original_update = dynamics._RunningDynamics.update

    def watching_update(self, *args, **kwargs):
        peak["rss"] = max(peak["rss"], _mapped_resident_bytes(path))
        return original_update(self, *args, **kwargs)

    monkeypatch.setattr(dynamics._RunningDynamics, "update", watching_update)
    scores = {}
    for budget in (4 * 2**20, float("inf")):
        monkeypatch.setattr(dynamics, "PageReleaser", lambda X, b=budget: PageReleaser(X, b))
        peak["rss"] = 0
        scorer = DynamicsScorer(epochs=2, batch_size=500, n_jobs=1, random_state=0)
        scores[budget] = scorer.fit(X, y).scores_
        if budget < 2**30:
            assert peak["rss"] < (1e6 if pread else 25e6)  # the budget plus one chunk's pages
        else:
            assert peak["rss"] > 35e6  # without releases the whole map stays resident
    np.testing.assert_array_equal(*scores.values())  # same values either way


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident set from /proc"
)
def test_page_releaser_take_reads_scattered_rows_in_slices_within_the_budget(tmp_path, monkeypatch):
    # One scattered read can map a whole page-cache folio per row (2 MB on the Intel
    # host: 4,096 rows of a 7.7 GB map made 4.2 GB resident). Without pread, take()
    # reads slices and checks the budget after each: the resident pages stay near it.
    import skelfs._utils as utils
    from skelfs._utils import PageReleaser

    monkeypatch.delattr(utils.os, "preadv", raising=False)

    path = tmp_path / "pool.npy"
    data = np.random.default_rng(0).standard_normal((10_000, 1000), dtype=np.float32)
    np.save(path, data)
    X = np.load(path, mmap_mode="r")
    rows = np.sort(np.random.default_rng(1).choice(10_000, 6_000, replace=False))
    pages = PageReleaser(X, 4 * 2**20)
    pages.TAKE_ROWS = 100
    peak = {"rss": 0}
    original_read = pages.read

    def watching_read(n_rows):
        peak["rss"] = max(peak["rss"], _mapped_resident_bytes(path))
        original_read(n_rows)

    pages.read = watching_read
    assert pages.file_rows is None
    np.testing.assert_array_equal(pages.take(rows), data[rows])
    assert peak["rss"] < 10e6  # the budget plus one slice's pages, not the 40 MB map
    unbudgeted = PageReleaser(X, float("inf"))
    np.testing.assert_array_equal(unbudgeted.take(rows), data[rows])
    assert _mapped_resident_bytes(path) > 20e6  # read at once, the pages stay


@pytest.mark.skipif(not hasattr(os, "preadv"), reason="os.preadv is POSIX-only")
def test_page_releaser_take_reads_rows_from_the_file_without_mapping_them(tmp_path):
    # Where pages are budgeted, take() copies rows out of the file with pread: the same
    # values as indexing the map, and none of the map's pages become resident.
    from skelfs._utils import PageReleaser

    path = tmp_path / "pool.npy"
    data = np.random.default_rng(0).standard_normal((10_000, 1000)).astype(np.float16)
    np.save(path, data)
    X = np.load(path, mmap_mode="r")
    rows = np.sort(np.random.default_rng(1).choice(10_000, 6_000, replace=False))
    pages = PageReleaser(X, 4 * 2**20)
    assert pages.file_rows is not None
    np.testing.assert_array_equal(pages.take(rows), data[rows])
    assert _mapped_resident_bytes(path) < 1e6  # nothing read through the map stays
    np.testing.assert_array_equal(pages.take(np.array([-1, 0, 9_999])), data[[-1, 0, 9_999]])
    with pytest.raises(IndexError, match="out of range"):
        pages.take(np.array([10_000]))
    for view, expected in ((X[5:, 3:700], data[5:, 3:700]), (X[::3], data[::3])):
        some = np.arange(0, view.shape[0], 7)
        np.testing.assert_array_equal(PageReleaser(view, 2**20).take(some), expected[some])


def test_page_releaser_reads_through_the_map_once_its_file_is_replaced(tmp_path):
    # pread opens the map's path: a file written there since holds other bytes, so the
    # rows are read through the map, which still sees the old file.
    from skelfs._utils import PageReleaser

    path = tmp_path / "pool.npy"
    np.save(path, np.ones((2_000, 256), dtype=np.float32))
    X = np.load(path, mmap_mode="r")
    np.save(tmp_path / "new.npy", np.zeros((2_000, 256), dtype=np.float32))
    os.replace(tmp_path / "new.npy", path)
    pages = PageReleaser(X, 2**20)
    assert pages.file_rows is None
    assert np.all(pages.take(np.arange(0, 2_000, 9)) == 1.0)


def _mapped_resident_bytes(path):
    """Resident bytes of this process's mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's header
                inside = fields[-1] == str(path)
            elif inside and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total


def test_page_releaser_keeps_a_small_map_and_budgets_a_large_one(tmp_path, monkeypatch):
    # The default budget: none for a map of at most a quarter of RAM (it stays resident
    # and is never re-read), an eighth of RAM (at least 256 MiB) for a larger one.
    import skelfs._utils as utils

    path = tmp_path / "pool.npy"
    np.save(path, np.zeros((1000, 1000), dtype=np.float32))  # a 4 MB map
    X = np.load(path, mmap_mode="r")
    assert utils.PageReleaser(X).max_bytes == float("inf")
    assert utils.PageReleaser(np.zeros((1000, 1000))).active is False
    real_sysconf = utils.os.sysconf
    for pages, budget in ((2**10, 2**28), (2**24, 2**36 // 8)):  # 4 MiB and 64 GiB of RAM
        monkeypatch.setattr(
            utils.os,
            "sysconf",
            lambda name, p=pages: 4096 if name == "SC_PAGE_SIZE" else p,
        )
        releaser = utils.PageReleaser(X)
        expected = budget if pages * 4096 // 4 < X.nbytes else float("inf")
        assert releaser.max_bytes == expected
    monkeypatch.setattr(utils.os, "sysconf", real_sysconf)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident set from /proc"
)
@pytest.mark.parametrize("measured", [True, False])
def test_page_releaser_releases_once_reads_reach_the_budget(tmp_path, monkeypatch, measured):
    # Measured: the map's resident growth (RssFile) is compared with the budget; without
    # /proc, every row read counts as FAULT_BYTES.
    import skelfs._utils as utils

    if not measured:
        monkeypatch.setattr(utils, "resident_file_bytes", lambda: None)
    path = tmp_path / "pool.npy"
    np.save(path, np.ones((4000, 1024), dtype=np.float32))  # a 16 MB map
    X = np.load(path, mmap_mode="r")
    releaser = utils.PageReleaser(X, max_bytes=8 * 2**20)
    float(X[:1000].sum())  # 4 MB resident: below the budget
    releaser.read(1000 if measured else 8)  # unmeasured: 8 rows x 256 kB = 2 MiB
    assert _mapped_resident_bytes(path) >= 4e6
    float(X[1000:3000].sum())  # 12 MB resident: over the budget
    releaser.read(2000 if measured else 24)
    assert _mapped_resident_bytes(path) < 1e6  # released
    assert float(X[:1000].sum()) == 1000 * 1024  # and read back unchanged


def test_release_pages_keeps_changes_to_writable_and_copy_on_write_maps(tmp_path):
    path = tmp_path / "pool.npy"
    np.save(path, np.zeros((2_000, 512), dtype=np.float32))
    shared = np.load(path, mmap_mode="r+")
    shared[::7] = 3.0
    release_pages(shared)
    assert np.all(shared[::7] == 3.0)
    del shared
    private = np.load(path, mmap_mode="c")
    private[1::7] = 5.0
    release_pages(private)  # must not discard the private copies of changed pages
    assert np.all(private[1::7] == 5.0) and np.all(private[::7] == 3.0)
    del private
    on_disk = np.load(path)  # the shared map wrote through; the copy-on-write one did not
    assert np.all(on_disk[::7] == 3.0) and np.all(on_disk[1::7] == 0.0)


def test_release_pages_ignores_in_memory_arrays():
    X = np.ones((100, 8), dtype=np.float32)
    release_pages(X)  # nothing to release: no error, no change
    assert X.sum() == 800


def test_float16_finite_check_streams_and_still_rejects_nan_and_inf(tmp_path):
    # scikit-learn's check sums float16 in float16 (overflow: inf) and then builds two
    # boolean arrays of X's shape; skelfs checks block by block in float64 instead.
    from skelfs._utils import check_embeddings

    X16 = np.full((20_000, 64), 60_000, dtype=np.float16)  # finite; its float16 sum is not
    peak = _peak_bytes(lambda: check_embeddings(X16))
    assert peak < 0.25 * X16.size  # a boolean array of X's shape is X.size bytes
    for bad, message in ((np.nan, "X contains NaN"), (np.inf, "X contains infinity")):
        Y = X16.copy()
        Y[12_345, 7] = bad
        with pytest.raises(ValueError, match=message):
            check_embeddings(Y)
        path = tmp_path / f"bad_{message[-3:]}.npy"
        np.save(path, Y.astype(np.float32))
        with pytest.raises(ValueError, match=message):
            ELFSSelector(budget=0.1).fit(np.load(path, mmap_mode="r"))
    from sklearn import config_context

    with config_context(assume_finite=True):  # the user's setting skips it, as in sklearn
        check_embeddings(Y)
    with pytest.raises(ValueError, match="contains NaN"):  # in-memory float32: sklearn's own
        KMeansClusterer(2).fit(np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]], np.float32))


def test_elfs_checks_the_pool_for_nan_once_not_in_every_component(pool32):
    # The selector validates the pool; its clusterer and scorer then run with
    # assume_finite, so a memory-mapped pool is not streamed three times for NaN/inf.
    from sklearn import get_config

    seen = []

    class RecordingClusterer(KMeansClusterer):
        def fit(self, X, y=None):
            seen.append(("clusterer", get_config()["assume_finite"]))
            return super().fit(X)

    class RecordingScorer(DynamicsScorer):
        def fit(self, X, y):
            seen.append(("scorer", get_config()["assume_finite"]))
            return super().fit(X, y)

    selector = ELFSSelector(
        budget=0.1,
        beta=0.1,
        clusterer=RecordingClusterer(4, random_state=0),
        scorer=RecordingScorer(epochs=2, random_state=0),
        random_state=0,
    ).fit(pool32)
    assert seen == [("clusterer", True), ("scorer", True)]
    assert get_config()["assume_finite"] is False  # restored after the fit
    assert np.isfinite(selector.scores_).all()
    bad = np.array(pool32, copy=True)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):  # the selector's own check
        ELFSSelector(budget=0.1, clusterer=RecordingClusterer(4)).fit(bad)
    assert len(seen) == 2  # rejected before any component ran
