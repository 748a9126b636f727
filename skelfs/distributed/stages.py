"""ELFS over row shards: every stage written against torch.distributed collectives only.

Each worker holds a contiguous block of the pool's rows (its shards, in rank order) and
calls :func:`select_shard` with them; the workers talk only through :class:`~._comm.Comm`
(all-reduce, a small gather, a broadcast), so the same code runs under Ray Train's
``TorchTrainer``, under ``torchrun``, or in one process. Memory per worker is
O(rows per worker) plus fixed-size samples:

1. **k-means**: k-means++ (and its restarts) on a sample of rows gathered from every
   worker, then Lloyd passes whose per-cluster sums, counts and inertia are all-reduced.
2. **Proxy dynamics**: the head trains under ``DistributedDataParallel``; every step
   takes about ``batch_size / world_size`` rows from each worker and the loss is scaled
   so that the averaged gradient is the mean over the whole step's rows. Each worker
   keeps the running sums of its own rows only.
3. **beta="auto"**: the one-process search on a gathered sample of at most
   ``AUTO_BETA_MAX_ROWS`` rows (as the one-process selector does above that size),
   run on rank 0 and broadcast.
4. **Pruning**, exact across shards: per-cluster counts, score ranges and stratum
   counts are all-reduced, the allocation is computed once from them, and every
   count that must be split over workers (the ties at a per-cluster cut, each
   stratum's quota) is split by a multivariate hypergeometric draw over the workers'
   counts, so that the rows taken are uniform over the union of the shards. The
   selection has exactly ``budget`` rows.

The result is a random selection with the same distribution as ``ELFSSelector``'s
(same stages, same rules), not the same rows: the random draws are made per worker.
Same shards, same number of workers and same seed give the same selection.
"""

from __future__ import annotations

import gc

import numpy as np
from sklearn.utils import check_random_state

from .._utils import (
    as_compute_dtype,
    check_beta,
    check_embeddings,
    column_sums,
    draw_seed,
    floor_count,
    moments_from_sums,
    progress,
    resolve_budget,
    resolve_device,
    rows_to_device,
    torch_generators,
)
from ..clustering import _device_blocks, _lloyd_passes, _seed_on_sample
from ..dynamics import DynamicsScorer, _build_head, _RunningDynamics, auto_epochs
from ..pruning import _SPLITS, DoubleEndPruner, water_fill
from ..selector import AUTO_BETA_MAX_ROWS, MAX_AUTO_CLUSTERS, _auto_beta, _clone_component
from ._comm import Comm

#: Rows of the k-means++ seeding sample: three blocks of 4096 (as KMeansClusterer's
#: torch path) or three rows per cluster, whichever is larger.
SEED_SAMPLE_BLOCK = 4096


class ShardLayout:
    """Where this worker's rows sit in the pool: ``offset``, ``n_local``, ``n_total``.

    The workers' blocks follow rank order, so worker ``r``'s first row is the global row
    ``sum(n_local of ranks < r)``.
    """

    def __init__(self, n_local, comm):
        self.counts = comm.per_worker(np.array(n_local, dtype=np.int64))
        self.n_local = int(n_local)
        self.offset = int(self.counts[: comm.rank].sum())
        self.n_total = int(self.counts.sum())

    def local(self, global_rows):
        """The positions in this shard of the (sorted) ``global_rows`` it holds, and a mask."""
        mine = (global_rows >= self.offset) & (global_rows < self.offset + self.n_local)
        return global_rows[mine] - self.offset, mine


def gather_rows(X, layout, global_rows, comm):
    """Rows ``global_rows`` (sorted global ids) of the union of shards, on every worker.

    Each worker fills the rows it holds and the zero-padded blocks are summed: one
    all-reduce of ``len(global_rows) x n_features`` float32.
    """
    local, mine = layout.local(global_rows)
    out = np.zeros((global_rows.size, X.shape[1]), dtype=np.float32)
    out[mine] = np.asarray(X[local], dtype=np.float32)
    return comm.sum(out)


def gather_values(values, layout, global_rows, comm):
    """Entries ``global_rows`` of a per-row array held in shards (float64 or int64)."""
    local, mine = layout.local(global_rows)
    out = np.zeros(global_rows.size, dtype=values.dtype)
    out[mine] = values[local]
    return comm.sum(out)


# --------------------------------------------------------------------------- k-means
def sharded_kmeans(X, layout, n_clusters, seed, comm, *, device, n_init=3, max_iter=100):
    """Lloyd k-means over the shards; returns ``(labels of the local rows, centres, inertia)``.

    k-means++ with ``n_init`` restarts runs on rank 0 on a gathered sample (the same
    seeding as ``KMeansClusterer``'s torch path); the best centres are broadcast and the
    Lloyd passes over all rows all-reduce their sums, counts and inertia.
    """
    import torch

    rng = np.random.default_rng(seed)
    size = min(layout.n_total, max(3 * SEED_SAMPLE_BLOCK, 3 * n_clusters))
    sample = np.sort(rng.choice(layout.n_total, size=size, replace=False))
    S = gather_rows(X, layout, sample, comm)
    centers = None
    if comm.rank == 0:
        S = torch.from_numpy(S).to(device)
        seeding = np.random.RandomState(int(rng.integers(2**31 - 1)))
        centers = _seed_on_sample(S, n_clusters, seeding, n_init=n_init, max_iter=max_iter)
        centers = centers.cpu().numpy()
    del S
    centers = torch.from_numpy(comm.broadcast(centers)).to(device)

    def reduce(sums, counts, total):
        comm.sum_tensors_(sums, counts, total)

    centers, labels, inertia, _ = _lloyd_passes(
        _device_blocks(X, device), centers, max_iter, reduce=reduce
    )
    return labels.astype(np.intp), centers.cpu().numpy(), inertia


# ------------------------------------------------------------------------ dynamics
def sharded_dynamics(
    X, labels, n_classes, layout, scorer, seed, comm, *, device, state=None, on_epoch=None
):
    """The proxy head trained under DDP; returns the local rows' ``all_scores`` dict.

    ``scorer`` is a :class:`~skelfs.DynamicsScorer` whose settings are used (its device
    and seed are not). Every epoch has ``ceil(n_total / batch_size)`` steps on every
    worker; worker ``r`` splits a fresh permutation of its rows into that many nearly
    equal chunks, so a step's rows are a random ``batch_size``-sized share of the pool.
    ``on_epoch(epoch, state)`` is called after each epoch with everything needed to
    resume (pass it back as ``state``).
    """
    import torch

    p = scorer.get_params()
    n, d = X.shape
    if p["standardize"]:
        s, ss = column_sums(X)
        mean, std = moments_from_sums(comm.sum(s), comm.sum(ss), layout.n_total)
    else:
        mean, std = np.zeros(d), np.ones(d)
    steps = -(-layout.n_total // p["batch_size"])
    p["epochs"] = auto_epochs(p["epochs"], layout.n_total, p["batch_size"])  # on all rows
    # Rows every worker contributes to step j (np.array_split's chunk sizes): the step's
    # global batch, by which the summed loss is divided.
    base, extra = layout.counts // steps, layout.counts % steps
    step_rows = base.sum() + (np.arange(steps)[:, None] < extra[None, :]).sum(axis=1)

    cpu_gen, device_gen = torch_generators(seed, device)
    head = _build_head(d, n_classes, p["hidden_layer_size"], p["dropout"], cpu_gen, device_gen)
    head = head.to(device)
    model = head
    if comm.distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(
            head, device_ids=[device] if device.type == "cuda" else None
        )
    # Per-worker streams after the (shared) initial weights: shuffles and noise differ.
    worker_seed = int(np.random.default_rng([seed, comm.rank]).integers(2**31 - 1))
    cpu_gen, device_gen = torch_generators(worker_seed, device)
    opt = torch.optim.SGD(
        model.parameters(), lr=p["learning_rate"], momentum=0.9, weight_decay=p["weight_decay"]
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, p["epochs"] * steps)
    stats = _RunningDynamics(n, device)
    start = 0
    if state is not None:
        start = _restore(state, head, opt, sched, stats, cpu_gen, device_gen)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device)
    inv_std_t = 1.0 / torch.as_tensor(std, dtype=torch.float32, device=device)
    y_t = torch.as_tensor(labels, dtype=torch.long, device=device)
    bar = progress(p["epochs"] - start, "proxy dynamics", scorer.verbose and comm.rank == 0)
    model.train()
    try:
        for epoch in range(start, p["epochs"]):
            perm = torch.randperm(n, generator=cpu_gen).numpy()
            for j, chunk in enumerate(np.array_split(perm, steps)):
                rows = np.sort(chunk)
                xb = (rows_to_device(X, rows, device) - mean_t) * inv_std_t
                if p["input_noise"] > 0:
                    xb = xb + p["input_noise"] * torch.randn(
                        xb.shape, device=device, generator=device_gen
                    )
                idx = torch.from_numpy(rows).to(device)
                yb = y_t[idx]
                log_p = torch.log_softmax(model(xb).float(), dim=1)
                # DDP averages gradients over workers: scaled so, the update follows the
                # mean loss over the step's rows on all workers.
                scale = comm.world_size / float(step_rows[j])
                loss = torch.nn.functional.nll_loss(log_p, yb, reduction="sum") * scale
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                with torch.no_grad():
                    stats.update(idx, log_p.detach(), yb, record_el2n=epoch < p["el2n_epochs"])
            if on_epoch is not None:
                on_epoch(epoch, _snapshot(epoch, head, opt, sched, stats, cpu_gen, device_gen))
            bar.update()
    finally:
        bar.close()
    return stats.scores(p["epochs"])


_STAT_NAMES = (
    "margin_sum",
    "p_y_sum",
    "p_y_sq_sum",
    "entropy_sum",
    "el2n_sum",
    "correct_count",
    "forget_count",
    "prev_correct",
    "ever_correct",
)


def _snapshot(epoch, head, opt, sched, stats, cpu_gen, device_gen):
    return {
        "epoch": epoch,
        "head": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "stats": {k: getattr(stats, k).cpu().clone() for k in _STAT_NAMES},
        "cpu_gen": cpu_gen.get_state(),
        "device_gen": device_gen.get_state(),
    }


def _restore(state, head, opt, sched, stats, cpu_gen, device_gen):
    """Load a :func:`_snapshot`; returns the first epoch still to run."""
    head.load_state_dict(state["head"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    for k in _STAT_NAMES:
        getattr(stats, k).copy_(state["stats"][k])
    cpu_gen.set_state(state["cpu_gen"])
    device_gen.set_state(state["device_gen"])
    return int(state["epoch"]) + 1


# --------------------------------------------------------------------------- pruning
def _order_keys(values):
    """int64 keys that sort as the float64 ``values`` do (exact, ties stay ties)."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)  # + 0.0: -0.0 -> 0.0
    return np.where(bits < 0, bits ^ np.int64(0x7FFFFFFFFFFFFFFF), bits)


def group_cuts(keys, groups, want, comm):
    """Per group ``g``, the largest int64 key ``c`` held by at least ``want[g]`` rows with
    ``key >= c``, counted over all workers: the key of the ``want[g]``-th largest row.

    Found exactly by bisection (at most 64 all-reduces of one count per group). Returns
    ``(cuts, want)`` with ``want`` capped at each group's size; a group that wants no row
    has the cut ``int64 max``, above every key.
    """
    n_groups = want.size

    def count_at_least(threshold):  # per group: rows with key >= threshold[group]
        return comm.sum(np.bincount(groups[keys >= threshold[groups]], minlength=n_groups))

    top, bottom = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    local_min = np.full(n_groups, top, dtype=np.int64)
    local_max = np.full(n_groups, bottom, dtype=np.int64)
    np.minimum.at(local_min, groups, keys)
    np.maximum.at(local_max, groups, keys)
    lo = comm.min(local_min)  # count(key >= lo) = the group's size >= want
    hi = comm.max(local_max) + 1  # count(key >= hi) = 0 < want
    size = comm.sum(np.bincount(groups, minlength=n_groups))
    want = np.minimum(want, size)
    active = want > 0
    while np.any(active & (hi - 1 > lo)):
        mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # floor((lo + hi) / 2) without overflow
        ok = count_at_least(np.where(active, mid, top)) >= want
        lo = np.where(active & ok, mid, lo)
        hi = np.where(active & ~ok, mid, hi)
    return np.where(active, lo, top), want


def top_per_group(values, groups, want, comm, shared_rng, own_rng, eligible=None):
    """Local mask of the rows among the ``want[g]`` largest ``values`` of group ``g``,
    counted over all workers; ties at each cut are split uniformly over the tied rows of
    every worker. Only ``eligible`` rows (default: all) take part.

    The cut of each group is found exactly by bisection on the order-preserving integer
    keys of the values (at most 64 all-reduces of one count per group); the tied rows
    still needed are split over workers by a multivariate hypergeometric draw from
    ``shared_rng`` (the same stream on every worker), then drawn by each worker from its
    own tied rows with ``own_rng``.
    """
    n_groups = want.size
    eligible = np.ones(values.size, dtype=bool) if eligible is None else eligible
    keys = _order_keys(values)
    g, k = groups[eligible], keys[eligible]
    cut, want = group_cuts(k, g, want, comm)
    active = want > 0
    above = k > cut[g]
    tied = (k == cut[g]) & active[g]
    still = want - comm.sum(np.bincount(g[above], minlength=n_groups))
    tie_counts = comm.per_worker(np.bincount(g[tied], minlength=n_groups))  # (world, groups)
    chosen = np.zeros(values.size, dtype=bool)
    rows = np.flatnonzero(eligible)
    chosen[rows[above]] = True
    tied_rows = rows[tied]
    for group in np.flatnonzero(still > 0):
        share = shared_rng.multivariate_hypergeometric(tie_counts[:, group], int(still[group]))
        if share[comm.rank]:
            members = tied_rows[g[tied] == group]
            chosen[own_rng.choice(members, size=int(share[comm.rank]), replace=False)] = True
    return chosen


def sharded_prune(scores, groups, n_groups, n_select, beta, pruner, comm, seed):
    """Double-end pruning over shards; returns the local positions selected.

    Supports ``sampling`` "ccs" and "hard" with any ``allocation`` (None: one group).
    Exactly ``n_select`` rows are taken over all workers.
    """
    if pruner.sampling not in ("ccs", "hard"):
        raise ValueError(
            f'sampling="{pruner.sampling}" is not available over shards (it needs a kNN '
            f'graph of the whole pool); use sampling="ccs" (the default) or "hard".'
        )
    shared_rng = np.random.default_rng([seed, 0])
    own_rng = np.random.default_rng([seed, 1, comm.rank])
    if pruner.allocation is None:
        groups, n_groups = np.zeros_like(groups), 1
    sizes = comm.sum(np.bincount(groups, minlength=n_groups))
    drop = np.array([floor_count(beta, int(m)) for m in sizes], dtype=np.int64)
    dropped = top_per_group(scores, groups, drop, comm, shared_rng, own_rng)
    kept = ~dropped
    kept_sizes = sizes - drop
    DoubleEndPruner._check_feasible(int(kept_sizes.sum()), n_select, beta, int(sizes.sum()))
    alloc = _SPLITS[pruner.allocation or "cover"](kept_sizes, n_select, shared_rng)
    if pruner.sampling == "hard":
        return np.flatnonzero(
            top_per_group(scores, groups, alloc, comm, shared_rng, own_rng, eligible=kept)
        )
    return _sharded_strata(
        scores, groups, n_groups, kept, alloc, pruner.n_strata, comm, shared_rng, own_rng
    )


def _sharded_strata(scores, groups, n_groups, kept, alloc, n_strata, comm, shared_rng, own_rng):
    """CCS inside every group over shards: equal-width score strata of the kept rows,
    filled from the smallest up (``water_fill``), sampled uniformly over workers."""
    g, s = groups[kept], scores[kept]
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, g, s)
    np.maximum.at(hi, g, s)
    lo, hi = comm.min(lo), comm.max(hi)
    spread = hi > lo
    width = np.where(spread, (hi - lo) / n_strata, 1.0)
    strata = np.where(
        spread[g], np.minimum(((s - lo[g]) / width[g]).astype(np.int64), n_strata - 1), 0
    )
    cell = g * n_strata + strata
    per_worker = comm.per_worker(np.bincount(cell, minlength=n_groups * n_strata))
    counts = per_worker.sum(axis=0).reshape(n_groups, n_strata)
    rows = np.flatnonzero(kept)
    chosen = []
    for group in np.flatnonzero(alloc > 0):
        quota = water_fill(counts[group], int(alloc[group]))
        for stratum in np.flatnonzero(quota):
            c = group * n_strata + stratum
            share = shared_rng.multivariate_hypergeometric(per_worker[:, c], int(quota[stratum]))
            if share[comm.rank]:
                members = rows[cell == c]
                chosen.append(own_rng.choice(members, size=int(share[comm.rank]), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.intp)


# ------------------------------------------------------------------------- beta auto
def sharded_auto_beta(X, labels, scores, layout, n_select, pruner, seed, comm, *, device):
    """``beta="auto"`` on a gathered sample of at most ``AUTO_BETA_MAX_ROWS`` rows.

    The sample's rows, pseudo-labels and scores reach every worker; rank 0 runs the
    one-process search (at the same budget fraction) and broadcasts the chosen beta.
    Returns ``(beta, scores per candidate)``.
    """
    rng = np.random.default_rng(seed)
    m = min(layout.n_total, AUTO_BETA_MAX_ROWS)
    rows = np.sort(rng.choice(layout.n_total, size=m, replace=False))
    Xs = gather_rows(X, layout, rows, comm)
    ls = gather_values(labels.astype(np.int64), layout, rows, comm)
    ss = gather_values(scores.astype(np.float64), layout, rows, comm)
    result = None
    if comm.rank == 0:
        n_sub = max(1, int(round(n_select * m / layout.n_total)))
        result = _auto_beta(
            Xs,
            ls,
            ss,
            n_sub,
            pruner,
            np.random.RandomState(int(rng.integers(2**31 - 1))),
            device=device,
        )
    return comm.broadcast(result)


# ------------------------------------------------------------------------ the pipeline
def select_shard(
    X,
    *,
    budget=0.1,
    beta="auto",
    n_clusters=None,
    scorer=None,
    pruner=None,
    random_state=0,
    device="auto",
    state=None,
    on_state=None,
    verbose=0,
):
    """ELFS over row shards: call it on every worker with that worker's rows.

    Workers pass their rows in rank order (worker 0 the first rows of the pool); outside
    a torch.distributed process group it runs in one process on ``X``.

    Parameters
    ----------
    X : array-like of shape (n_local, n_features)
        This worker's rows (an array or memory map; float16/32/64).
    budget : int or float, default=0.1
        Rows to select from the whole pool: a count, or a fraction in (0, 1).
    beta : float or "auto", default="auto"
        As :class:`~skelfs.ELFSSelector`'s ``beta``.
    n_clusters : int or None, default=None
        Pseudo-label clusters; None: as ``ELFSSelector`` (two selected rows per cluster,
        at most 500).
    scorer : DynamicsScorer or None, default=None
        Settings of the proxy training (None: the defaults).
    pruner : DoubleEndPruner or None, default=None
        Settings of the pruning (None: the defaults) other than ``beta``, which is the
        parameter above; ``sampling="coverage"`` is not available over shards.
    random_state : int, default=0
        Seed; the same shards, number of workers and seed give the same selection.
    device : str, default="auto"
        Torch device of this worker.
    state : dict or None, default=None
        The last ``on_state`` value, to resume after a failure.
    on_state : callable or None, default=None
        Called as ``on_state(state)`` after k-means and after each proxy epoch with a
        picklable dict (this worker's share of the state); store it to resume.
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
    >>> from skelfs.distributed import select_shard
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    >>> select_shard(X, budget=30, random_state=0).size  # one process: the whole pool
    30
    """
    # float64 rows are rounded to float32 once, as ELFSSelector does: the same values give
    # the same selection whatever container or dtype the shards come in.
    X = as_compute_dtype(check_embeddings(X, ensure_min_samples=1))
    beta = check_beta(beta)
    comm = Comm()
    layout = ShardLayout(X.shape[0], comm)
    n_select = resolve_budget(budget, layout.n_total)
    scorer = DynamicsScorer() if scorer is None else scorer
    torch_device = resolve_device(device)
    rng = check_random_state(random_state)
    seeds = [draw_seed(rng) for _ in range(4)]  # k-means, dynamics, beta, pruning
    # The beta search runs the one-process pruner: seeded, as ELFSSelector seeds its own.
    pruner = _clone_component(DoubleEndPruner() if pruner is None else pruner, seeds[3])
    k = n_clusters or min(max(2, n_select // 2), MAX_AUTO_CLUSTERS, layout.n_total)
    state = state or {}
    stages = progress(4, "ELFS over shards", verbose and comm.rank == 0)
    try:
        if "labels" in state:
            labels = state["labels"]
        else:
            labels, _, _ = sharded_kmeans(X, layout, k, seeds[0], comm, device=torch_device)
            state = {"labels": labels}
            if on_state is not None:
                on_state(state)
        stages.update()

        def epoch_done(epoch, train_state):
            if on_state is not None:
                on_state({"labels": labels, "train": train_state})

        all_scores = sharded_dynamics(
            X,
            labels,
            k,
            layout,
            scorer,
            seeds[1],
            comm,
            device=torch_device,
            state=state.get("train"),
            on_epoch=epoch_done,
        )
        # DDP's reducer sits in reference cycles; left to the collector until after
        # destroy_process_group, it aborts the process at exit (torch 2.13, gloo). Collect
        # it now; callers should also gc.collect() before destroying the group.
        gc.collect()
        scores = all_scores[scorer.difficulty]
        stages.update()
        if beta == "auto":
            beta, _ = sharded_auto_beta(
                X, labels, scores, layout, n_select, pruner, seeds[2], comm, device=torch_device
            )
        stages.update()
        local = sharded_prune(scores, labels, k, n_select, beta, pruner, comm, seeds[3])
        stages.update()
    finally:
        stages.close()
    return np.sort(comm.gather(local.astype(np.int64) + layout.offset))
