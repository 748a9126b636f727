"""k nearest neighbours on cosine similarity, self excluded: one interface, several backends.

TEMI clustering and the graph baselines (TypiClust, ProbCover, D2, facility location)
all need the same thing: for every row, its ``k`` most cosine-similar other rows.
:func:`kneighbors` returns them as ``(distances, indices)``, :func:`kneighbors_graph`
as a sparse ``n x n`` matrix. Neither ever builds an ``n x n`` dense matrix.

Conventions, shared by every backend:

* distance = ``1 - cosine similarity`` in ``[0, 2]``, float32; rows are L2-normalised
  block by block (a memory map is never normalised or copied as a whole by the
  exact backend);
* a row is never its own neighbour, also when it has exact duplicates: self is
  excluded by index, so a duplicate appears at distance 0;
* an all-zero row has cosine similarity 0 to every row (distance 1), never NaN;
* each row is sorted by increasing distance, ties by increasing index (which of
  several rows tied at the k-th place is kept is unspecified).

Backends (``backend=``):

``"exact"``
    Blocked brute force with torch matmuls, on CPU or CUDA (``device``). Every pair of
    row blocks is multiplied once (the similarity is symmetric) and merged into a
    running top-k, so memory is ``O(block_size**2 + n_samples * n_neighbors)``.
    Deterministic. Time grows as ``n_samples**2 * n_features``.
``"faiss"``
    Approximate: faiss ``IndexIVFFlat`` on inner products of the normalised rows
    (optional dependency ``faiss-cpu``): about ``2 sqrt(n)`` lists; each query scans
    at least 16 lists and at least about ``25 * n_neighbors`` rows.
``"pynndescent"``
    Approximate: NN-descent graph (optional dependency ``pynndescent``). Each new
    Python process pays about 30 s of numba compilation on its first call.
``"auto"``
    ``"exact"`` up to :data:`AUTO_EXACT_MAX_SAMPLES` rows on CPU (up to
    :data:`AUTO_EXACT_MAX_SAMPLES_CUDA` when ``device`` is CUDA); above, ``"pynndescent"``
    if installed, else ``"faiss"`` if installed, else ``"exact"`` with a warning. At 50k
    x 768 rows and k=50 on a 2-core CPU the three took about the same time (exact 50 s,
    pynndescent 22 s + 30 s compilation, faiss 23 s); at 200k pynndescent took 78 s and
    faiss 192 s, and exact grows 16-fold (``benchmarks/knn_speed.py``).

Approximate backends keep one float32 normalised copy of ``X`` in memory (faiss inside
its index, pynndescent as its data), and rows for which they return fewer than
``n_neighbors`` other rows are completed by an exact search of those rows.
"""

from __future__ import annotations

import importlib.util
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._utils import (
    caller_stacklevel,
    check_embeddings,
    draw_seed,
    progress,
    release_pages,
    resolve_device,
)

BACKENDS = ("auto", "exact", "faiss", "pynndescent")

#: ``backend="auto"`` searches exactly up to this many rows on CPU (measured crossover
#: with the approximate backends on a 2-core CPU, 768-d, k=50; benchmarks/knn_speed.py).
AUTO_EXACT_MAX_SAMPLES = 50_000
#: On a CUDA device the exact search runs at GPU matmul speed; this limit is an estimate
#: (500k x 768 is about 2e14 flop of fp32 matmul: seconds on a data-centre GPU), not measured.
AUTO_EXACT_MAX_SAMPLES_CUDA = 500_000

# faiss IVF-Flat settings: about 2 sqrt(n) inverted lists trained on 39 rows per list
# (faiss's own lower bound for k-means); each query scans at least 16 lists and at least
# about 25 k rows (fewer candidates cost recall on diffuse real embeddings, e.g. 0.89
# instead of 0.95 at k=50 on 6k ag_news sentence embeddings).
_FAISS_LISTS_PER_SQRT_N = 2.0
_FAISS_TRAIN_PER_LIST = 39
_FAISS_MIN_NPROBE = 16
_FAISS_CANDIDATES_PER_NEIGHBOR = 25


def kneighbors(
    X,
    n_neighbors,
    *,
    neighbors=None,
    backend="auto",
    block_size=4096,
    device="cpu",
    random_state=None,
    verbose=0,
):
    """The ``n_neighbors`` nearest other rows of every row, on cosine distance.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or None
        Dense row embeddings (float16/32/64 arrays and memory maps are read block by
        block without a full copy). May be None when ``neighbors`` is a sparse graph.
    n_neighbors : int
        Neighbours per row, between 1 and ``n_samples - 1`` (a row is never its own
        neighbour).
    neighbors : sparse matrix of shape (n_samples, n_samples), transformer or None, \
default=None
        Precomputed neighbours instead of a search. Either a sparse graph whose rows are
        queries and whose stored values are distances (as from sklearn's
        ``kneighbors_graph(mode="distance")``; the diagonal is ignored and each row needs
        at least ``n_neighbors`` other stored entries; explicitly stored zeros count), or
        an object with ``fit_transform(X)`` returning such a graph, for example
        ``sklearn.neighbors.KNeighborsTransformer(n_neighbors=k, metric="cosine")``
        (it lists each row as its own neighbour; that entry is dropped). The stored
        values are used as given, so they are cosine distances only if the graph was
        built with that metric. ``backend``, ``block_size``, ``device`` and
        ``random_state`` are then unused.
    backend : {"auto", "exact", "faiss", "pynndescent"}, default="auto"
        Search method; see the module docstring for what each does and for the
        ``"auto"`` rule.
    block_size : int, default=4096
        Rows per block. Bounds the working memory (about ``1.3 * block_size**2``
        floats plus two normalised blocks of rows, on top of the ``O(n_samples *
        n_neighbors)`` result) and sets the progress-bar granularity; larger blocks
        mean fewer, bigger matmuls (worth trying on a GPU).
    device : {"cpu", "auto", "cuda"} or str, default="cpu"
        Where the exact search runs. The approximate backends run on CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the approximate backends (faiss training sample and k-means,
        NN-descent); the exact search does not use it.
    verbose : int, default=0
        Show a progress bar over blocks.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_neighbors), dtype float32
        Cosine distances ``1 - cos(x_i, x_j)``, each row increasing.
    indices : ndarray of shape (n_samples, n_neighbors), dtype intp
        Row indices of the neighbours, never the row itself.

    See Also
    --------
    kneighbors_graph : The same neighbours as a sparse matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.neighbors import kneighbors
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> distances, indices = kneighbors(X, n_neighbors=1, backend="exact")
    >>> indices.ravel()
    array([1, 0, 3, 2])
    >>> distances.dtype
    dtype('float32')
    """
    backend = _check_backend(backend)
    block_size = _check_block_size(block_size)
    if neighbors is not None:
        return _from_neighbors(X, n_neighbors, neighbors)

    X = check_embeddings(X)
    n = X.shape[0]
    k = _check_n_neighbors(n_neighbors, n)
    torch_device = resolve_device(device)
    if backend == "auto":
        backend = _choose_backend(n, torch_device)

    if backend == "exact":
        return _exact_search(X, k, block_size, torch_device, verbose)
    if backend == "faiss":
        cand_dist, cand_idx, zero = _faiss_candidates(X, k, block_size, random_state, verbose)
    else:
        cand_dist, cand_idx, zero = _pynndescent_candidates(X, k, block_size, random_state, verbose)
    return _finish_candidates(X, k, cand_dist, cand_idx, zero, block_size, torch_device)


def kneighbors_graph(
    X,
    n_neighbors,
    *,
    neighbors=None,
    backend="auto",
    block_size=4096,
    device="cpu",
    random_state=None,
    verbose=0,
):
    """The cosine k-nearest-neighbour graph of the rows of ``X``, self excluded.

    Same search and parameters as :func:`kneighbors`; memory is
    ``O(n_samples * n_neighbors)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or None
        See :func:`kneighbors`.
    n_neighbors : int
        Neighbours per row, between 1 and ``n_samples - 1``.
    neighbors, backend, block_size, device, random_state, verbose
        See :func:`kneighbors`.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), dtype float32
        Row ``i`` stores the cosine distances to its ``n_neighbors`` neighbours, in
        increasing order of distance. Distances of 0 (duplicate rows) are stored
        explicitly: calling ``eliminate_zeros()`` on the result drops those neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.neighbors import kneighbors_graph
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> G = kneighbors_graph(X, n_neighbors=2, backend="exact")
    >>> G.shape, G.nnz
    ((4, 4), 8)
    >>> bool(G.diagonal().any())
    False
    """
    distances, indices = kneighbors(
        X,
        n_neighbors,
        neighbors=neighbors,
        backend=backend,
        block_size=block_size,
        device=device,
        random_state=random_state,
        verbose=verbose,
    )
    n, k = indices.shape
    indptr = np.arange(0, n * k + 1, k, dtype=np.intp)
    return sp.csr_matrix((distances.ravel(), indices.ravel(), indptr), shape=(n, n))


# --------------------------------------------------------------------------- validation


def _check_n_neighbors(n_neighbors, n_samples):
    if isinstance(n_neighbors, (bool, np.bool_)) or not isinstance(n_neighbors, numbers.Integral):
        raise TypeError(f"n_neighbors must be an int, got {n_neighbors!r}.")
    if not 1 <= n_neighbors < n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} is out of range: it must be at least 1 and at most "
            f"n_samples - 1 = {n_samples - 1} (a row is never its own neighbour)."
        )
    return int(n_neighbors)


def _check_backend(backend):
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if backend in ("faiss", "pynndescent") and not _installed(backend):
        pip_name = "faiss-cpu" if backend == "faiss" else "pynndescent"
        raise ImportError(
            f'backend="{backend}" needs the optional package {pip_name}: '
            f'pip install {pip_name} (or skelfs[knn]), or use backend="exact".'
        )
    return backend


def _check_block_size(block_size):
    if (
        isinstance(block_size, (bool, np.bool_))
        or not isinstance(block_size, numbers.Integral)
        or block_size < 1
    ):
        raise ValueError(f"block_size must be a positive int (rows per block), got {block_size!r}.")
    return int(block_size)


def _installed(name):
    # find_spec does not import: importing pynndescent alone costs seconds of numba work.
    return importlib.util.find_spec(name) is not None


def _choose_backend(n_samples, device):
    """The ``backend="auto"`` rule (see the module docstring)."""
    limit = AUTO_EXACT_MAX_SAMPLES_CUDA if device.type == "cuda" else AUTO_EXACT_MAX_SAMPLES
    if n_samples <= limit:
        return "exact"
    for name in ("pynndescent", "faiss"):  # measured faster at 200k rows, and better recall
        if _installed(name):
            return name
    warnings.warn(
        f"Exact cosine kNN on n_samples={n_samples} rows: time grows as n_samples**2 and "
        f"this may take hours on CPU. Install faiss-cpu or pynndescent (pip install "
        f"skelfs[knn]) for a fast approximate search.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )
    return "exact"


# ----------------------------------------------------------------- precomputed neighbours


def _from_neighbors(X, n_neighbors, neighbors):
    if sp.issparse(neighbors):
        graph = neighbors
        n = graph.shape[0]
        if X is not None:
            X = check_embeddings(X)
            n = X.shape[0]
    elif isinstance(neighbors, type) or not hasattr(neighbors, "fit_transform"):
        raise TypeError(
            f"neighbors must be a scipy sparse (n_samples, n_samples) distance graph or a "
            f"transformer instance with fit_transform(X) returning one (e.g. "
            f"KNeighborsTransformer(n_neighbors=k, metric='cosine')), got {neighbors!r}."
        )
    else:
        if X is None:
            raise ValueError("X is None: a neighbors transformer needs X to fit on.")
        X = check_embeddings(X)
        n = X.shape[0]
        graph = neighbors.fit_transform(X)
        if not sp.issparse(graph):
            raise TypeError(
                f"neighbors.fit_transform(X) returned {type(graph).__name__}, not a scipy "
                f"sparse distance graph; use a transformer such as KNeighborsTransformer "
                f"with mode='distance'."
            )
    k = _check_n_neighbors(n_neighbors, n)
    return _graph_to_kneighbors(graph, n, k)


def _graph_to_kneighbors(graph, n, k):
    """The ``k`` smallest stored off-diagonal entries of every row of a sparse graph."""
    if graph.shape != (n, n):
        raise ValueError(
            f"neighbors graph has shape {graph.shape}, expected (n_samples, n_samples) = "
            f"({n}, {n}): rows and columns must both index the rows of X."
        )
    graph = graph.tocsr()
    counts_all = np.diff(graph.indptr)
    rows = np.repeat(np.arange(n), counts_all)
    cols = graph.indices.astype(np.intp, copy=False)
    vals = np.asarray(graph.data)
    if not np.all(np.isfinite(vals)):
        raise ValueError("neighbors graph stores NaN or infinite distances.")
    off_diagonal = cols != rows
    rows, cols, vals = rows[off_diagonal], cols[off_diagonal], vals[off_diagonal]
    counts = np.bincount(rows, minlength=n)
    if counts.min() < k:
        bad = int(np.argmin(counts))
        raise ValueError(
            f"neighbors graph row {bad} has {counts[bad]} stored neighbours besides itself, "
            f"fewer than n_neighbors={k}. Build the graph with at least n_neighbors "
            f"neighbours per row (self excluded), e.g. KNeighborsTransformer(n_neighbors="
            f"{k}, mode='distance'), or lower n_neighbors."
        )
    if np.all(counts == counts[0]):
        # The usual case (a kNN graph): sort inside rows without a global sort.
        c = int(counts[0])
        order = np.lexsort((cols.reshape(n, c), vals.reshape(n, c)), axis=1)[:, :k]
        take = order + (np.arange(n) * c)[:, None]
    else:
        order = np.lexsort((cols, vals, rows))  # rows, then distance, then index
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        take = order[starts[:, None] + np.arange(k)]
    return vals[take].astype(np.float32), cols[take].astype(np.intp)


# --------------------------------------------------------------------------------- exact


def _unit_rows(X, rows, device):
    """Rows ``rows`` (a slice or index array) of ``X`` as an L2-normalised float32 tensor.

    Only this block is copied. Zero rows stay zero, so their similarity to any row is 0.
    """
    import torch

    block = X[rows]
    work = np.float64 if block.dtype == np.float64 else np.float32
    # A private copy: normalised in place below, and torch cannot wrap a read-only memmap.
    t = torch.from_numpy(np.array(block, dtype=work, order="C", copy=True)).to(device)
    tiny = torch.finfo(t.dtype).tiny
    # Dividing by the largest entry first keeps the squared norm from overflowing.
    t.div_(t.abs().amax(dim=1, keepdim=True).clamp_min_(tiny))
    t.div_(torch.linalg.vector_norm(t, dim=1, keepdim=True).clamp_min_(tiny))
    return t.to(torch.float32)


_GROUP = 8  # column groups in the two-stage top-k of _block_topk


def _block_topk(sim, k, transposed=False):
    """Top-``k`` values of each row of ``sim`` (of each column if ``transposed``) and
    their positions along that axis, in no particular order.

    A plain ``torch.topk`` over a ``block_size**2`` block costs about half the matmul
    that made it (twice that along columns). Two stages are cheaper and still exact:
    split each row into 8 interleaved groups of columns ``g, g + w/8, g + 2w/8, ...``,
    keep the ``k`` groups with the largest maximum (an entry of the top ``k`` lies in
    such a group: a group holding none has its maximum below the k-th value), then take
    the top ``k`` of those ``8 k`` entries.
    """
    import torch

    rows, width = (sim.shape[1], sim.shape[0]) if transposed else sim.shape
    k = min(k, width)
    if width % _GROUP or width < 4 * _GROUP * k:
        return torch.topk(sim.T if transposed else sim, k, dim=1, sorted=False)
    stride = width // _GROUP
    # Maxima over 8 contiguous slabs: plain vectorised elementwise maxima.
    if transposed:
        group_max = sim.view(_GROUP, stride, rows).amax(dim=0).T.contiguous()
    else:
        group_max = sim.view(rows, _GROUP, stride).amax(dim=1)
    groups = torch.topk(group_max, k, dim=1, sorted=False).indices
    offsets = torch.arange(_GROUP, device=sim.device) * stride
    cols = (groups.unsqueeze(2) + offsets).reshape(rows, k * _GROUP)
    vals = torch.gather(sim.T if transposed else sim, 1, cols)
    v, p = torch.topk(vals, k, dim=1, sorted=False)
    return v, torch.gather(cols, 1, p)


def _merge_topk(top_sim, top_idx, rows, sim, col_offset, transposed=False):
    """Merge the block ``sim`` (columns ``col_offset + j``; its transpose if
    ``transposed``) into the running top-k of ``rows``."""
    import torch

    k = top_sim.shape[1]
    v, j = _block_topk(sim, k, transposed)
    cand_v = torch.cat([top_sim[rows], v], dim=1)
    cand_i = torch.cat([top_idx[rows], j + col_offset], dim=1)
    v, p = torch.topk(cand_v, k, dim=1, sorted=False)  # sorted once, at the end
    top_sim[rows] = v
    top_idx[rows] = torch.gather(cand_i, 1, p)


def _sorted_result(top_sim, top_idx):
    """Similarities -> distances, each row by increasing distance then index, as numpy."""
    import torch

    dist = (1.0 - top_sim).clamp_(0.0, 2.0)
    # Two stable sorts give the (distance, index) order that makes ties reproducible.
    order = torch.sort(top_idx, dim=1, stable=True).indices
    dist, idx = torch.gather(dist, 1, order), torch.gather(top_idx, 1, order)
    order = torch.sort(dist, dim=1, stable=True).indices
    dist, idx = torch.gather(dist, 1, order), torch.gather(idx, 1, order)
    return dist.cpu().numpy().astype(np.float32), idx.cpu().numpy().astype(np.intp)


def _exact_search(X, k, block_size, device, verbose):
    """Exact cosine kNN of every row: each pair of blocks is multiplied once."""
    import torch

    n = X.shape[0]
    starts = range(0, n, block_size)
    top_sim = torch.full((n, k), -torch.inf, dtype=torch.float32, device=device)
    top_idx = torch.full((n, k), -1, dtype=torch.long, device=device)
    n_blocks = len(starts)
    bar = progress(n_blocks * (n_blocks + 1) // 2, "exact kNN", verbose)
    try:
        with torch.inference_mode():
            for a, s in enumerate(starts):
                rows_s = slice(s, min(s + block_size, n))
                q = _unit_rows(X, rows_s, device)
                for t in starts[a:]:
                    rows_t = slice(t, min(t + block_size, n))
                    key = q if t == s else _unit_rows(X, rows_t, device)
                    sim = q @ key.T
                    if t == s:
                        sim.fill_diagonal_(-torch.inf)  # self, excluded by index
                    _merge_topk(top_sim, top_idx, rows_s, sim, t)
                    if t != s:
                        # The same products serve block t's rows: sim is symmetric.
                        _merge_topk(top_sim, top_idx, rows_t, sim, s, transposed=True)
                    bar.update()
            return _sorted_result(top_sim, top_idx)
    finally:
        bar.close()


def _exact_search_rows(X, query_rows, k, block_size, device):
    """Exact cosine kNN of the rows ``query_rows`` only (against every row)."""
    import torch

    n = X.shape[0]
    query_rows = np.asarray(query_rows, dtype=np.intp)
    m = query_rows.size
    top_sim = torch.full((m, k), -torch.inf, dtype=torch.float32, device=device)
    top_idx = torch.full((m, k), -1, dtype=torch.long, device=device)
    q_rows_t = torch.as_tensor(query_rows, device=device)
    with torch.inference_mode():
        for a in range(0, m, block_size):
            local = slice(a, min(a + block_size, m))
            q = _unit_rows(X, query_rows[local], device)
            for t in range(0, n, block_size):
                u = min(t + block_size, n)
                sim = q @ _unit_rows(X, slice(t, u), device).T
                own = q_rows_t[local]
                hit = torch.nonzero((own >= t) & (own < u)).ravel()
                sim[hit, own[hit] - t] = -torch.inf  # self, excluded by index
                _merge_topk(top_sim, top_idx, local, sim, t)
        return _sorted_result(top_sim, top_idx)


# --------------------------------------------------------------------------- approximate


def _unit_copy(X, block_size):
    """``X`` L2-normalised as one float32 array, built block by block, and its zero rows.

    The memory map's pages are released as the copy grows, so the process never holds
    both the pool and its copy.
    """
    import torch

    n = X.shape[0]
    out = np.empty(X.shape, dtype=np.float32)
    zero = np.empty(n, dtype=bool)
    cpu = torch.device("cpu")
    for s in range(0, n, block_size):
        block = _unit_rows(X, slice(s, s + block_size), cpu).numpy()
        release_pages(X, s, s + block_size)  # read once: drop the map's pages as we go
        out[s : s + block.shape[0]] = block
        zero[s : s + block.shape[0]] = ~block.any(axis=1)
    return out, zero


def _faiss_candidates(X, k, block_size, random_state, verbose):
    """``k + 1`` approximate neighbours per row from a faiss IVF-Flat index."""
    import faiss
    import torch

    n, d = X.shape
    cpu = torch.device("cpu")
    rng = check_random_state(random_state)
    n_lists = int(
        max(1, min(round(_FAISS_LISTS_PER_SQRT_N * np.sqrt(n)), n // _FAISS_TRAIN_PER_LIST))
    )
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, n_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = draw_seed(rng)
    n_blocks = -(-n // block_size)
    bar = progress(2 * n_blocks + 1, "faiss kNN", verbose)
    try:
        train_rows = np.sort(rng.choice(n, min(n, _FAISS_TRAIN_PER_LIST * n_lists), replace=False))
        train = np.concatenate(
            [
                _unit_rows(X, train_rows[a : a + block_size], cpu).numpy()
                for a in range(0, train_rows.size, block_size)
            ]
        )
        index.train(train)
        del train
        bar.update()
        zero = np.empty(n, dtype=bool)
        for s in range(0, n, block_size):
            block = _unit_rows(X, slice(s, s + block_size), cpu).numpy()
            release_pages(X, s, s + block_size)  # each pass reads a block once
            zero[s : s + block.shape[0]] = ~block.any(axis=1)
            index.add(block)
            bar.update()
        index.nprobe = int(
            min(
                n_lists,
                max(_FAISS_MIN_NPROBE, np.ceil(_FAISS_CANDIDATES_PER_NEIGHBOR * k * n_lists / n)),
            )
        )
        cand_sim = np.empty((n, k + 1), dtype=np.float32)
        cand_idx = np.empty((n, k + 1), dtype=np.int64)
        for s in range(0, n, block_size):
            block = _unit_rows(X, slice(s, s + block_size), cpu).numpy()
            release_pages(X, s, s + block_size)
            cand_sim[s : s + block.shape[0]], cand_idx[s : s + block.shape[0]] = index.search(
                block, k + 1
            )
            bar.update()
    finally:
        bar.close()
    return 1.0 - cand_sim, cand_idx, zero


def _pynndescent_candidates(X, k, block_size, random_state, verbose):
    """``k + 1`` approximate neighbours per row from an NN-descent graph."""
    from pynndescent import NNDescent

    bar = progress(2, "pynndescent kNN", verbose)
    try:
        unit, zero = _unit_copy(X, block_size)
        bar.update()
        # On unit rows, Euclidean distance ranks as cosine does (|a - b|^2 = 2 - 2 cos).
        # metric="cosine" would normalise a second float32 copy of the pool inside
        # pynndescent; on the one normalised here, peak memory is one copy, not two.
        # The graph lists each row as its own first neighbour, hence k + 1 (at most
        # n - 1 is allowed; rows left short are completed exactly).
        index = NNDescent(
            unit,
            metric="euclidean",
            n_neighbors=min(k + 1, X.shape[0] - 1),
            random_state=random_state,
            low_memory=True,
            verbose=verbose > 1,
        )
        cand_idx, cand_dist = index.neighbor_graph
        del index, unit
        bar.update()
    finally:
        bar.close()
    return 0.5 * np.square(cand_dist, dtype=np.float32), cand_idx, zero


def _finish_candidates(X, k, cand_dist, cand_idx, zero, block_size, device):
    """Drop self and padding, fix zero rows, sort, keep ``k``; complete short rows exactly."""
    n = cand_idx.shape[0]
    cand_idx = np.asarray(cand_idx, dtype=np.intp)
    dist = np.clip(np.asarray(cand_dist, dtype=np.float32), 0.0, 2.0)
    invalid = (cand_idx < 0) | (cand_idx == np.arange(n)[:, None])
    safe_idx = np.where(invalid, 0, cand_idx)
    # Cosine similarity with a zero row is 0 by convention, whatever the library says.
    dist[zero[:, None] | zero[safe_idx]] = 1.0
    dist[invalid] = np.inf
    order = np.lexsort((safe_idx, dist), axis=1)[:, :k]
    distances = np.take_along_axis(dist, order, axis=1)
    indices = np.take_along_axis(safe_idx, order, axis=1)
    short = np.flatnonzero(~np.isfinite(distances[:, -1]))
    if short.size:
        distances[short], indices[short] = _exact_search_rows(X, short, k, block_size, device)
    return distances, indices
