import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.neighbors import KNeighborsTransformer
from sklearn.neighbors import kneighbors_graph as sk_kneighbors_graph

from skelfs import neighbors as nb
from skelfs.neighbors import kneighbors, kneighbors_graph

CPU = torch.device("cpu")


def brute_force(X, k):
    """Reference cosine kNN in float64 numpy: self excluded by index, ties by index."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = X / np.where(norms == 0, 1.0, norms)  # zero rows: similarity 0 to everything
    D = 1.0 - Xn @ Xn.T
    np.fill_diagonal(D, np.inf)
    cols = np.broadcast_to(np.arange(len(X)), D.shape)
    order = np.lexsort((cols, D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), order


def clustered(n, d, n_clusters, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.standard_normal((n_clusters, d)) * 3
    return (centres[rng.randint(n_clusters, size=n)] + rng.standard_normal((n, d))).astype(
        np.float32
    )


@pytest.fixture
def X():
    return np.random.RandomState(0).standard_normal((103, 8)).astype(np.float32)


# ------------------------------------------------------------------------------ exact


@pytest.mark.parametrize("block_size", [1, 10, 64, 103, 500])
@pytest.mark.parametrize("k", [1, 7, 102])
def test_exact_matches_brute_force(X, block_size, k):
    distances, indices = kneighbors(X, k, backend="exact", block_size=block_size)
    ref_d, ref_i = brute_force(X, k)
    assert distances.shape == indices.shape == (103, k)
    assert distances.dtype == np.float32 and indices.dtype == np.intp
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)
    assert np.all(np.diff(distances, axis=1) >= 0)


@pytest.mark.parametrize("block_size", [256, 512, 1000])
def test_exact_two_stage_topk_matches_brute_force(block_size):
    # Blocks of 256 and 512 columns take the grouped top-k path (both directions).
    X = clustered(1100, 16, 5, seed=3)
    distances, indices = kneighbors(X, 6, backend="exact", block_size=block_size)
    ref_d, ref_i = brute_force(X, 6)
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)


def test_block_topk_is_exact_on_both_axes():
    sim = torch.randn(128, 104)  # widths 104 and 128: both >= 4 * 8 * k
    for transposed, ref in ((False, sim), (True, sim.T)):
        v, j = nb._block_topk(sim, 3, transposed)
        v_ref, j_ref = torch.topk(ref, 3, dim=1)
        v, order = torch.sort(v, dim=1, descending=True)
        torch.testing.assert_close(v, v_ref)
        torch.testing.assert_close(torch.gather(j, 1, order), j_ref)


def test_exact_is_deterministic_and_symmetric(X):
    d1, i1 = kneighbors(X, 102, backend="exact", block_size=10)
    d2, i2 = kneighbors(X, 102, backend="exact", block_size=10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)
    # With k = n - 1 every pair appears twice: each block pair is multiplied once, so the
    # two directions carry the very same float.
    dense = np.zeros((103, 103), dtype=np.float32)
    np.put_along_axis(dense, i1, d1, axis=1)
    np.testing.assert_array_equal(dense, dense.T)


@pytest.mark.parametrize("k", [0, 103, 200, -1])
def test_n_neighbors_out_of_range(X, k):
    with pytest.raises(ValueError, match=r"n_neighbors=.*n_samples - 1 = 102"):
        kneighbors(X, k)


@pytest.mark.parametrize("k", [2.5, "5", True, None])
def test_n_neighbors_wrong_type(X, k):
    with pytest.raises(TypeError, match="n_neighbors"):
        kneighbors(X, k)


def test_duplicates_are_excluded_by_index(X):
    X = X.copy()
    X[7] = X[3]
    X[9] = X[3]
    X[50] = 2.5 * X[3]  # same direction: also at cosine distance 0
    distances, indices = kneighbors(X, 5, backend="exact", block_size=16)
    assert not np.any(indices == np.arange(103)[:, None])
    for row in (3, 7, 9, 50):
        others = {3, 7, 9, 50} - {row}
        assert set(indices[row, :3]) == others
        np.testing.assert_allclose(distances[row, :3], 0.0, atol=1e-6)
        assert np.all(np.diff(indices[row, :3]) > 0)  # ties ordered by index


def test_zero_rows_have_similarity_zero(X):
    X = X.copy()
    X[[5, 6]] = 0.0
    distances, indices = kneighbors(X, 102, backend="exact", block_size=32)
    assert np.all(np.isfinite(distances))
    np.testing.assert_allclose(distances[5], 1.0)
    assert 5 not in indices[5] and 6 in indices[5]
    # every other row sees the zero rows at distance exactly 1
    rows, cols = np.nonzero(np.isin(indices, [5, 6]))
    np.testing.assert_allclose(distances[rows, cols], 1.0)
    ref_d, ref_i = brute_force(X, 102)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)
    keep = ~np.isin(np.arange(103), [5, 6])
    np.testing.assert_array_equal(indices[keep][:, :20], ref_i[keep][:, :20])


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_float16_and_float64(X, dtype):
    Xc = X.astype(dtype)
    distances, indices = kneighbors(Xc, 6, backend="exact", block_size=17)
    ref_d, ref_i = brute_force(Xc.astype(np.float64), 6)
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)


def test_huge_float64_values_do_not_overflow(X):
    # Squaring 1e200 overflows float64 and float32: rows are rescaled before the norm.
    d1, i1 = kneighbors(X.astype(np.float64) * 1e200, 5, backend="exact")
    d2, i2 = kneighbors(X, 5, backend="exact")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, atol=1e-6)


def test_memmap_and_fortran_input(X, tmp_path):
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    d_ref, i_ref = kneighbors(X, 9, backend="exact", block_size=25)
    d_mm, i_mm = kneighbors(ro, 9, backend="exact", block_size=25)
    d_f, i_f = kneighbors(np.asfortranarray(X), 9, backend="exact", block_size=25)
    np.testing.assert_array_equal(i_mm, i_ref)
    np.testing.assert_array_equal(d_mm, d_ref)
    np.testing.assert_array_equal(i_f, i_ref)
    np.testing.assert_array_equal(np.asarray(ro), X)  # the input is left untouched


def test_exact_search_of_some_rows_matches_full_search(X):
    # The path that completes rows an approximate index left short.
    rows = np.array([0, 5, 17, 64, 102])
    d_all, i_all = kneighbors(X, 12, backend="exact")
    d, i = nb._exact_search_rows(X, rows, 12, 7, CPU)
    np.testing.assert_array_equal(i, i_all[rows])
    np.testing.assert_allclose(d, d_all[rows], atol=1e-6)


# ------------------------------------------------------------------ precomputed graphs


def test_precomputed_sparse_graph(X):
    d_ref, i_ref = kneighbors(X, 6, backend="exact")
    graph = sk_kneighbors_graph(X, 8, mode="distance", metric="cosine", include_self=False)
    distances, indices = kneighbors(X, 6, neighbors=graph)
    np.testing.assert_array_equal(indices, i_ref)
    np.testing.assert_allclose(distances, d_ref, atol=1e-5)
    # X may be omitted: the graph says how many rows there are
    _, i_none = kneighbors(None, 6, neighbors=graph.tocoo())
    np.testing.assert_array_equal(i_none, i_ref)


def test_sklearn_kneighbors_transformer_includes_self(X):
    X = X.copy()
    X[7] = X[3]  # duplicates: sklearn may list the twin before the row itself
    d_ref, i_ref = kneighbors(X, 5, backend="exact")
    transformer = KNeighborsTransformer(n_neighbors=5, metric="cosine")
    distances, indices = kneighbors(X, 5, neighbors=transformer)
    assert not np.any(indices == np.arange(103)[:, None])
    np.testing.assert_array_equal(indices, i_ref)
    np.testing.assert_allclose(distances, d_ref, atol=1e-5)


def test_graph_round_trip_and_irregular_rows(X):
    graph = kneighbors_graph(X, 10, backend="exact")
    d_ref, i_ref = kneighbors(X, 4, backend="exact")
    d, i = kneighbors(X, 4, neighbors=graph)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_array_equal(d, d_ref)
    # rows with different numbers of stored entries, in no particular order
    lil = graph.tolil()
    lil[0, 0] = 0.0  # a stored diagonal entry: ignored
    extra = np.setdiff1d(np.arange(2, 60), graph[1].indices)
    lil[1, extra] = 1.9  # far extra entries
    d, i = kneighbors(X, 4, neighbors=lil.tocsr())
    np.testing.assert_array_equal(i, i_ref)


def test_graph_errors(X):
    graph = kneighbors_graph(X, 3, backend="exact")
    with pytest.raises(ValueError, match=r"row \d+ has 3 stored neighbours.*n_neighbors=4"):
        kneighbors(X, 4, neighbors=graph)
    with pytest.raises(ValueError, match=r"shape \(103, 103\).*\(50, 50\)"):
        kneighbors(X[:50], 2, neighbors=graph)
    with pytest.raises(ValueError, match="n_neighbors"):
        kneighbors(None, 103, neighbors=graph)
    with pytest.raises(TypeError, match="neighbors must be"):
        kneighbors(X, 2, neighbors=np.zeros((103, 103)))
    with pytest.raises(TypeError, match="instance"):
        kneighbors(X, 2, neighbors=KNeighborsTransformer)
    with pytest.raises(ValueError, match="n_neighbors"):
        kneighbors(X, 4, neighbors=KNeighborsTransformer(n_neighbors=2, metric="cosine"))
    bad = graph.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kneighbors(X, 2, neighbors=bad)


def test_kneighbors_graph(X):
    X = X.copy()
    X[7] = X[3]
    graph = kneighbors_graph(X, 5, backend="exact", block_size=20)
    distances, indices = kneighbors(X, 5, backend="exact")
    assert sp.issparse(graph) and graph.format == "csr"
    assert graph.shape == (103, 103) and graph.nnz == 103 * 5
    assert graph.dtype == np.float32
    assert not graph.diagonal().any()
    # Same neighbours in the same order, exactly; the distances come from matmuls of
    # other block shapes, whose float32 rounding differs by BLAS build (up to ~1e-7).
    np.testing.assert_array_equal(graph.indices.reshape(103, 5), indices)
    np.testing.assert_allclose(graph.data.reshape(103, 5), distances, rtol=0, atol=1e-6)
    # a duplicate is stored at distance exactly 0 (an explicit zero)
    X = np.eye(5, dtype=np.float32)
    X[1] = X[0]
    graph = kneighbors_graph(X, 2, backend="exact")
    assert graph[0].indices[0] == 1 and graph[0].data[0] == 0.0
    assert graph.nnz == 10


# -------------------------------------------------------------------- approximate / auto


def test_finish_candidates_drops_self_and_padding():
    X = np.random.RandomState(1).standard_normal((30, 5)).astype(np.float32)
    X[4] = 0.0
    d_ref, i_ref = kneighbors(X, 3, backend="exact")
    # Candidate lists as an index may return them: self not first, -1 padding, a zero row.
    cand_idx = np.array(i_ref[:, [1, 0, 2]], dtype=np.int64)
    cand_idx = np.hstack([cand_idx, np.arange(30)[:, None]])
    cand_dist = np.take_along_axis(d_ref, np.array([[1, 0, 2]] * 30), axis=1)
    cand_dist = np.hstack([cand_dist, np.zeros((30, 1))]).astype(np.float32)
    cand_idx[2, :] = [i_ref[2, 0], -1, 2, -1]  # one real neighbour left: filled exactly
    cand_dist[2, :] = [d_ref[2, 0], -3e38, 0.0, -3e38]
    cand_dist[4, :] = 0.5  # a library's opinion on a zero row: overridden to 1
    zero = ~X.any(axis=1)
    d, i = nb._finish_candidates(X, 3, cand_dist, cand_idx, zero, 8, CPU)
    assert d.dtype == np.float32 and i.dtype == np.intp
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, atol=1e-6)


@pytest.mark.parametrize("backend", ["faiss", "pynndescent"])
def test_approximate_backend_recall(backend):
    pytest.importorskip(backend)
    X = clustered(1500, 32, 10)
    X[11] = X[10]  # a duplicate pair
    k = 10
    _, i_ref = kneighbors(X, k, backend="exact")
    distances, indices = kneighbors(X, k, backend=backend, random_state=0)
    assert indices.shape == (1500, k) and indices.dtype == np.intp
    assert distances.dtype == np.float32
    assert not np.any(indices == np.arange(1500)[:, None])
    assert all(len(set(row)) == k for row in indices)
    assert np.all(np.diff(distances, axis=1) >= 0)
    recall = np.mean([np.intersect1d(a, b).size / k for a, b in zip(indices, i_ref)])
    assert recall >= 0.9
    # returned distances are the true cosine distances of the returned pairs
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    true = 1.0 - np.einsum("id,ikd->ik", Xn, Xn[indices])
    np.testing.assert_allclose(distances, true, atol=1e-4)
    assert 11 in indices[10] and 10 in indices[11]


def test_auto_picks_exact_on_small_data(X, monkeypatch):
    assert nb._choose_backend(1000, CPU) == "exact"
    assert nb._choose_backend(nb.AUTO_EXACT_MAX_SAMPLES, CPU) == "exact"
    d_auto, i_auto = kneighbors(X, 5)
    d_ex, i_ex = kneighbors(X, 5, backend="exact")
    np.testing.assert_array_equal(i_auto, i_ex)
    np.testing.assert_array_equal(d_auto, d_ex)

    big = nb.AUTO_EXACT_MAX_SAMPLES + 1
    monkeypatch.setattr(nb, "_installed", lambda name: name == "faiss")
    assert nb._choose_backend(big, CPU) == "faiss"
    monkeypatch.setattr(nb, "_installed", lambda name: True)
    assert nb._choose_backend(big, CPU) == "pynndescent"
    monkeypatch.setattr(nb, "_installed", lambda name: False)
    with pytest.warns(UserWarning, match="pip install"):
        assert nb._choose_backend(big, CPU) == "exact"


def test_missing_library_error(monkeypatch, X):
    monkeypatch.setattr(nb, "_installed", lambda name: False)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        kneighbors(X, 3, backend="faiss")


# ------------------------------------------------------------------------- validation


def test_bad_arguments(X):
    with pytest.raises(ValueError, match="backend must be one of"):
        kneighbors(X, 3, backend="annoy")
    with pytest.raises(ValueError, match="block_size"):
        kneighbors(X, 3, block_size=0)
    with pytest.raises(TypeError, match="sparse"):
        kneighbors(sp.csr_matrix(X), 3)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kneighbors(bad, 3)
    with pytest.raises(ValueError, match="device"):
        kneighbors(X, 3, device="tpu")


def test_verbose_shows_progress(X, capsys):
    kneighbors(X, 3, backend="exact", block_size=30, verbose=1)
    assert "exact kNN" in capsys.readouterr().err
