"""Facility location over row shards, written against torch.distributed collectives only.

The one-process :class:`~skelfs.baselines.facility_location.FacilityLocationSelector`
builds a cosine kNN graph of the whole pool and runs a lazy greedy on it. Over shards,
the neighbours of a row may sit on any worker, so the rows are first moved to where
their neighbours are (as NVIDIA NeMo Curator's semantic deduplication does: k-means, then
work within clusters):

1. **Partitions**: spherical k-means over the shards (:func:`~.stages.sharded_kmeans` on
   L2-normalised rows, so partitions follow the cosine geometry of the kNN search) with
   ``n_partitions`` clusters, a small multiple of the number of workers. Whole
   partitions go to workers by greedy bin packing of the all-reduced partition sizes
   (largest first onto the least-loaded worker), so each worker gets about
   ``n / world_size`` rows, and neighbourhoods are cut only where two partitions on
   different workers meet.
2. **Exchange**: every row moves to its partition's worker with ``all_to_all`` (the
   counts first, then the rows and their global ids in rounds of at most
   ``exchange_bytes``), so that memory stays O(rows per worker).
3. **kNN graph and greedy per worker**: each worker searches the kNN graph of its own
   rows (:func:`skelfs.neighbors.kneighbors`, the one-process selector's defaults), builds
   the cosine similarity graph and runs the lazy greedy for about its share of the
   ``budget`` picks, doubled while its last pick still makes the global cut (step 4).
4. **Merge**: the graph has edges only within a worker's rows, so the objective is a sum
   of independent per-worker parts, and the greedy on the union picks exactly what
   merging the per-worker greedy sequences by gain picks (each part's gains do not depend
   on the others' picks). The global ``budget`` largest gains (equal gains: lowest global
   row id) are found without gathering them: bisection on the gain threshold with
   all-reduced counts, then on the row id among the rows tied at it.

The selection has exactly ``budget`` rows and is deterministic: the same shards, number
of workers and seed give the same rows. The one approximation against the one-process
selector is the kNN graph: a neighbour held by another worker is missed (its recall is
measured in docs/distributed.md). With one worker there is nothing to partition, and the
result is ``FacilityLocationSelector``'s.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.utils import check_random_state

from .._utils import (
    as_compute_dtype,
    check_embeddings,
    draw_seed,
    progress,
    release_pages,
    resolve_budget,
    resolve_device,
)
from ..coverage import greedy_coverage, similarity_graph
from ..neighbors import kneighbors
from ._comm import Comm
from .stages import ShardLayout, _order_keys, group_cuts, sharded_kmeans

#: Partitions per worker when ``n_partitions`` is None: enough for the bin packing to
#: even out the k-means clusters' sizes, few enough to keep partition borders rare.
PARTITIONS_PER_WORKER = 8
#: Bytes a worker sends per all-to-all round (all destinations together).
EXCHANGE_BYTES = 64 * 2**20


class _UnitRows:
    """``X`` seen through its L2-normalised float32 rows (zero rows stay zero).

    What :func:`~.stages.sharded_kmeans` reads to cluster on the sphere without a
    normalised copy of ``X``; the pages of a memory map are released after each block.
    """

    def __init__(self, X):
        self.X = X
        self.shape = X.shape
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, rows):
        block = np.asarray(self.X[rows], dtype=np.float32)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block = block / np.where(norms > 0, norms, 1.0)
        if isinstance(rows, slice):
            release_pages(self.X, rows.start or 0, rows.stop)
        return block


def assign_partitions(sizes, world_size):
    """Workers of the partitions: largest first onto the least-loaded worker.

    Parameters
    ----------
    sizes : array-like of int
        Rows per partition (summed over all workers, so the same on every worker).
    world_size : int
        Number of workers.

    Returns
    -------
    owner : ndarray of int
        The worker of each partition. Deterministic: equal sizes go in partition order,
        equal loads to the lowest rank.

    Examples
    --------
    >>> from skelfs.distributed.facility_location import assign_partitions
    >>> assign_partitions([5, 9, 4, 3, 1], 2).tolist()  # loads 9 + 3 = 12 and 5 + 4 + 1 = 10
    [1, 0, 1, 0, 1]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    owner = np.zeros(sizes.size, dtype=np.intp)
    load = np.zeros(world_size, dtype=np.int64)
    for p in np.lexsort((np.arange(sizes.size), -sizes)):
        r = int(np.argmin(load))
        owner[p] = r
        load[r] += sizes[p]
    return owner


def exchange_rows(X, dest, offset, comm, *, exchange_bytes=EXCHANGE_BYTES):
    """Send local row ``i`` (global id ``offset + i``) to worker ``dest[i]``.

    Counts cross first (one small all-reduce); the rows and their global ids then cross
    in rounds of at most ``exchange_bytes`` sent per worker, so that no worker ever holds
    more than its received rows plus one round's buffers.

    Returns
    -------
    rows : ndarray of shape (n_received, n_features)
        The rows this worker received, in increasing global id, in ``X``'s dtype (float16
        if every worker's rows are float16, else float32).
    ids : ndarray of int64
        Their global ids.
    """
    world = comm.world_size
    dtype = np.float16 if comm.max(np.array([X.dtype.itemsize]))[0] <= 2 else np.float32
    d = X.shape[1]
    row_bytes = 8 + d * np.dtype(dtype).itemsize
    order = np.argsort(dest, kind="stable")  # local rows by destination, increasing
    send_counts = np.bincount(dest, minlength=world).astype(np.int64)
    matrix = comm.per_worker(send_counts)  # [source, destination]
    recv_counts = matrix[:, comm.rank]
    send_start = np.cumsum(send_counts) - send_counts
    recv_start = np.cumsum(recv_counts) - recv_counts
    rows = np.empty((int(recv_counts.sum()), d), dtype=dtype)
    ids = np.empty(int(recv_counts.sum()), dtype=np.int64)
    chunk = max(1, int(exchange_bytes) // (world * row_bytes))
    for lo in range(0, int(matrix.max(initial=0)), chunk):
        send_n = np.clip(send_counts - lo, 0, chunk)
        recv_n = np.clip(recv_counts - lo, 0, chunk)
        buffer = np.empty((int(send_n.sum()), row_bytes), dtype=np.uint8)
        at = 0
        for r in range(world):
            local = order[send_start[r] + lo : send_start[r] + lo + send_n[r]]
            block = np.ascontiguousarray(X[local], dtype=dtype)
            buffer[at : at + local.size, :8] = (
                (local + offset).astype("<i8")[:, None].view(np.uint8)
            )
            buffer[at : at + local.size, 8:] = block.view(np.uint8).reshape(
                local.size, row_bytes - 8
            )
            at += local.size
        got = comm.all_to_all(buffer, send_n * row_bytes, recv_n * row_bytes)
        got = got.reshape(-1, row_bytes)
        at = 0
        for s in range(world):
            part = got[at : at + recv_n[s]]
            where = slice(recv_start[s] + lo, recv_start[s] + lo + recv_n[s])
            ids[where] = part[:, :8].copy().view("<i8").ravel()
            rows[where] = part[:, 8:].copy().view(dtype).reshape(-1, d)
            at += recv_n[s]
        del buffer, got
    return rows, ids


def top_gains(gains, ids, want, comm):
    """Local mask of the entries among the ``want`` largest ``gains`` over all workers;
    equal gains are ranked by increasing global ``ids`` (unique), so the cut is exact
    and deterministic.

    Two bisections with all-reduced counts (:func:`~.stages.group_cuts`): on the gains'
    order-preserving integer keys, then on ``-id`` among the entries tied at the cut.
    """
    one = np.zeros(gains.size, dtype=np.intp)
    keys = _order_keys(gains)
    cut, _ = group_cuts(keys, one, np.array([want], dtype=np.int64), comm)
    chosen = keys > cut[0]
    still = want - int(comm.sum(np.array([chosen.sum()], dtype=np.int64))[0])
    tied = np.flatnonzero(keys == cut[0])
    if still > 0:
        neg = -ids[tied].astype(np.int64)
        id_cut, _ = group_cuts(neg, one[tied], np.array([still], dtype=np.int64), comm)
        chosen[tied[neg >= id_cut[0]]] = True
    return chosen


def _facility_location(
    X,
    *,
    budget=0.1,
    n_neighbors=20,
    n_partitions=None,
    backend="auto",
    device="cpu",
    random_state=0,
    exchange_bytes=EXCHANGE_BYTES,
    state=None,
    on_state=None,
    verbose=0,
):
    """The pipeline of :func:`facility_location_shard`; returns a dict of everything.

    Keys: ``ranking`` and ``gains`` (the global greedy's picks in order, on every
    worker), ``objective`` (of the selection on the sharded graph), ``rows_per_worker``
    (after the exchange), ``n_partitions``, ``greedy_rounds`` (greedy runs on this
    worker), ``picks_per_worker`` (greedy picks computed), ``seconds`` (per stage, this
    worker), and
    this worker's graph: ``ids`` (global ids of its rows), ``distances``, ``indices``
    (positions in ``ids``).
    """
    X = as_compute_dtype(check_embeddings(X, ensure_min_samples=1))
    comm = Comm()
    layout = ShardLayout(X.shape[0], comm)
    n_select = resolve_budget(budget, layout.n_total)
    n_neighbors = _check_count(n_neighbors, "n_neighbors")
    world = comm.world_size
    P = world * PARTITIONS_PER_WORKER if n_partitions is None else n_partitions
    P = min(_check_count(P, "n_partitions"), layout.n_total)
    rng = check_random_state(random_state)
    # The kNN seed first: with one worker this is FacilityLocationSelector's own draw.
    knn_seed, kmeans_seed = draw_seed(rng), draw_seed(rng)
    state = state or {}
    seconds = {}
    stages = progress(4, "facility location over shards", verbose and comm.rank == 0)
    try:
        clock = time.perf_counter()
        if "ids" in state:  # resumed after the kNN stage: the graph is all that is needed
            ids, distances, indices = state["ids"], state["distances"], state["indices"]
            stages.update(3)
        else:
            if world == 1:
                rows, ids = X, np.arange(X.shape[0], dtype=np.int64)
                stages.update(2)
            else:
                if "partitions" in state:
                    labels = state["partitions"]
                else:
                    labels, _, _ = sharded_kmeans(
                        _UnitRows(X), layout, P, kmeans_seed, comm, device=resolve_device(device)
                    )
                    if on_state is not None:
                        on_state({"partitions": labels})
                seconds["partitions"] = time.perf_counter() - clock
                stages.update()
                clock = time.perf_counter()
                sizes = comm.sum(np.bincount(labels, minlength=P).astype(np.int64))
                owner = assign_partitions(sizes, world)
                rows, ids = exchange_rows(
                    X, owner[labels], layout.offset, comm, exchange_bytes=exchange_bytes
                )
                seconds["exchange"] = time.perf_counter() - clock
                stages.update()
            clock = time.perf_counter()
            k = min(n_neighbors, rows.shape[0] - 1)
            if k >= 1:
                distances, indices = kneighbors(
                    rows, k, backend=backend, device=device, random_state=knn_seed, verbose=verbose
                )
            else:  # a worker with one row (or none): each row serves only itself
                distances = np.zeros((rows.shape[0], 0), dtype=np.float32)
                indices = np.zeros((rows.shape[0], 0), dtype=np.intp)
            del rows
            if on_state is not None and world > 1:
                small = np.int32 if ids.size < 2**31 else np.intp
                on_state({"ids": ids, "distances": distances, "indices": indices.astype(small)})
            seconds["knn"] = time.perf_counter() - clock
            stages.update()
        clock = time.perf_counter()
        n_local = ids.size
        ranking, gains, chosen, rounds = _merged_greedy(
            distances, indices, ids, n_select, layout.n_total, comm, verbose
        )
        picked_ids = comm.gather(ids[ranking][chosen])
        picked_gains = comm.gather(gains[chosen])
        order = np.lexsort((picked_ids, -picked_gains))
        seconds["greedy"] = time.perf_counter() - clock
        stages.update()
    finally:
        stages.close()
    return {
        "ranking": picked_ids[order],
        "gains": picked_gains[order],
        "objective": float(picked_gains.sum()),
        "rows_per_worker": comm.per_worker(np.array(n_local, dtype=np.int64)),
        "n_partitions": P if world > 1 else 1,
        "greedy_rounds": rounds,
        "picks_per_worker": comm.per_worker(np.array(ranking.size, dtype=np.int64)),
        "seconds": seconds,
        "ids": ids,
        "distances": distances,
        "indices": indices,
    }


def _merged_greedy(distances, indices, ids, n_select, n_total, comm, verbose):
    """Each worker's greedy sequence, as long as needed, and the global top ``n_select``.

    A worker computes about its share of the picks (``n_select`` times its share of the
    rows, plus a margin) and doubles that while the last pick it computed is among the
    global top ``n_select`` of all the computed picks; a worker whose last computed pick
    is not cannot have more picks in the top (its later picks rank lower), and once no
    worker has, the top of the computed picks is the top of the union. So no worker runs
    the full ``n_select`` picks unless its rows need them.

    Returns ``(ranking, gains, chosen, rounds)``: this worker's picks (positions in
    ``ids``) and gains, the mask of those selected, and the number of greedy runs.
    """
    n_local = ids.size
    sim = None
    if n_local:
        sim = similarity_graph(distances, indices.astype(np.intp), kernel="cosine")
    want = min(n_local, int(np.ceil(1.25 * n_select * n_local / n_total)) + 16)
    if not comm.distributed:
        want = n_select  # FacilityLocationSelector's run, exactly
    ranking, gains = np.zeros(0, dtype=np.intp), np.zeros(0)
    rounds, computed = 0, 0 if n_local == 0 else -1
    while True:
        if want != computed:
            ranking, gains, _ = greedy_coverage(
                sim, want, verbose=verbose, desc="facility location greedy"
            )
            computed = want
            rounds += 1
        chosen = top_gains(gains, ids[ranking], n_select, comm)
        if not comm.distributed:  # the first n_select picks: FacilityLocationSelector's
            return ranking, gains, chosen, rounds
        more = computed < n_local and computed > 0 and bool(chosen[-1])
        if not comm.sum(np.array([more], dtype=np.int64))[0]:
            return ranking, gains, chosen, rounds
        if more:
            want = min(n_local, 2 * computed)


def _check_count(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 1, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name}={value} must be >= 1.")
    return int(value)


def facility_location_shard(
    X,
    *,
    budget=0.1,
    n_neighbors=20,
    n_partitions=None,
    backend="auto",
    device="cpu",
    random_state=0,
    state=None,
    on_state=None,
    verbose=0,
):
    """Facility location over row shards: call it on every worker with that worker's rows.

    Workers pass their rows in rank order (worker 0 the first rows of the pool); outside
    a torch.distributed process group (or with one worker) it is
    :class:`~skelfs.baselines.facility_location.FacilityLocationSelector` on ``X``.

    Parameters
    ----------
    X : array-like of shape (n_local, n_features)
        This worker's rows (an array or memory map; float16/32/64).
    budget : int or float, default=0.1
        Rows to select from the whole pool: a count, or a fraction in (0, 1).
    n_neighbors : int, default=20
        Neighbours per row in each worker's kNN graph (as ``FacilityLocationSelector``).
    n_partitions : int or None, default=None
        k-means partitions that are dealt out to the workers; None:
        ``PARTITIONS_PER_WORKER`` (8) per worker. More even loads, more borders.
    backend : {"auto", "exact", "faiss", "pynndescent"}, default="auto"
        Each worker's kNN search (``"auto"`` decides on the worker's row count).
    device : str, default="cpu"
        Torch device of the partitioning and of the exact kNN search.
    random_state : int, default=0
        Seed; the same shards, number of workers and seed give the same selection.
    state : dict or None, default=None
        The last ``on_state`` value, to resume after a failure.
    on_state : callable or None, default=None
        Called as ``on_state(state)`` after the partitioning and after the kNN graph
        with a picklable dict (this worker's share of the state); store it to resume.
    verbose : int, default=0
        Progress on rank 0's stderr.

    Returns
    -------
    indices : ndarray of int64
        Global row ids of the selection (positions in the concatenation of every
        worker's rows in rank order), sorted, the same on every worker.

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs.baselines.facility_location import FacilityLocationSelector
    >>> from skelfs.distributed.facility_location import facility_location_shard
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    >>> rows = facility_location_shard(X, budget=30)  # one process: the whole pool
    >>> one = FacilityLocationSelector(budget=30).fit(X).get_support(indices=True)
    >>> rows.size, bool((rows == one).all())
    (30, True)
    """
    result = _facility_location(
        X,
        budget=budget,
        n_neighbors=n_neighbors,
        n_partitions=n_partitions,
        backend=backend,
        device=device,
        random_state=random_state,
        state=state,
        on_state=on_state,
        verbose=verbose,
    )
    return np.sort(result["ranking"])
