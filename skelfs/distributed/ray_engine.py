"""Run the sharded stage code on a Ray cluster with Ray Train.

Ray Train's ``TorchTrainer`` starts ``num_workers`` torch.distributed workers (gloo on
CPU, NCCL on GPU); each reads its run of shards (:mod:`.shards`) and runs
:func:`~skelfs.distributed.facility_location_shard` (the default) or
:func:`~skelfs.distributed.select_shard` (ELFS). The worker state is reported as a Ray
Train checkpoint after each stage that is worth keeping (facility location: the
partitions, then the kNN graph; ELFS: the pseudo-labels, then the proxy head, optimiser,
running sums and random streams after every epoch), so a run whose worker dies is
restarted from the last checkpoint by Ray Train (``max_failures``) and returns the same
selection.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .facility_location import _facility_location
from .shards import assign_shards, count_rows, list_shards, read_shards
from .stages import select_shard

#: The methods that run over shards; the first is the default, as ``skelfs select``'s.
METHODS = ("facility_location", "elfs")


def _import_ray():
    try:
        import ray
        import ray.train
        import ray.train.torch  # noqa: F401
    except ImportError:
        raise ImportError(
            "the Ray engine needs Ray Train: pip install 'skelfs[ray]' (or "
            "pip install 'ray[train]')."
        ) from None
    return ray


def select(
    paths,
    *,
    method="facility_location",
    budget=0.1,
    num_workers=2,
    use_gpu=False,
    address=None,
    key=None,
    id_column=None,
    n_neighbors=20,
    n_partitions=None,
    backend="auto",
    beta="auto",
    n_clusters=None,
    scorer=None,
    pruner=None,
    random_state=0,
    storage_path=None,
    max_failures=2,
    verbose=0,
    return_metrics=False,
    _fail_once=None,
    _probe_rows=None,
):
    """Select rows on a Ray cluster over ``.npy`` / ``.parquet`` shards; their ids.

    Parameters
    ----------
    paths : str, Path or list
        A glob (``"shards/*.npy"``), a directory, or shard paths. Rows are numbered in
        the concatenation of the shards in sorted path order.
    method : {"facility_location", "elfs"}, default="facility_location"
        ``"facility_location"``: greedy facility location on per-worker kNN graphs
        (:func:`~skelfs.distributed.facility_location_shard`), the
        default because it is ``skelfs select``'s default on one machine (the best
        measured overall in docs/quality.md). ``"elfs"``: the ELFS pipeline
        (:func:`~skelfs.distributed.select_shard`).
    budget : int or float, default=0.1
        Rows to select from the whole pool: a count or a fraction in (0, 1).
    num_workers : int, default=2
        Ray Train workers; each reads whole shards, so at most the number of shards.
    use_gpu : bool, default=False
        One GPU per worker (NCCL) instead of CPU workers (gloo).
    address : str or None, default=None
        Address of an existing Ray cluster (``"auto"`` or ``"ray://host:10001"``); None
        joins the one this process is connected to, or starts a local one.
    key : str or None, default=None
        The embedding column of parquet shards (see :func:`skelfs.io.read_pool`).
    id_column : str or None, default=None
        A parquet column of row ids to return instead of global row positions.
    n_neighbors, n_partitions, backend
        Facility location only: as
        :func:`~skelfs.distributed.facility_location_shard`.
    beta, n_clusters, scorer, pruner
        ELFS only: as :func:`~skelfs.distributed.select_shard`.
    random_state : int, default=0
        Seed; the same shards, number of workers and seed give the same selection.
    storage_path : str or None, default=None
        Where Ray Train keeps checkpoints (a shared path or bucket on a multi-node
        cluster); None: a new temporary directory (local runs only).
    max_failures : int, default=2
        Worker failures Ray Train recovers from by restarting from the last checkpoint.
    verbose : int, default=0
        Progress on the first worker's stderr.
    return_metrics : bool, default=False
        Also return a dict of what the run measured: ``peak_rss_per_worker`` (bytes,
        each worker process's peak resident set), ``rows_per_worker`` (facility
        location: after the exchange), ``seconds`` (per stage, on the first worker),
        ``greedy_rounds`` (facility location: greedy runs on the first worker).
    _fail_once : tuple or None
        For tests only: ``(marker_path, epoch)`` kills worker 1 after that checkpoint,
        once (while the marker file does not exist): ELFS's proxy epoch, or -1 after
        k-means (ELFS) or the partitions (facility location), 0 after facility
        location's kNN graph. The restarted run writes the epoch it resumed after into
        the marker.
    _probe_rows : array-like or None
        For benchmarks only (facility location): global row ids whose kNN lists
        (global ids) are returned in the metrics as ``probe_neighbors``.

    Returns
    -------
    ids : ndarray
        The selected rows' global positions (int64, sorted), or their ``id_column``
        values in that order.
    metrics : dict
        Only with ``return_metrics=True``.

    Examples
    --------
    >>> from skelfs.distributed import select  # doctest: +SKIP
    >>> rows = select("shards/*.npy", budget=0.01, num_workers=8, use_gpu=True)  # doctest: +SKIP
    """
    select_kwargs = _method_settings(
        method,
        n_neighbors=n_neighbors,
        n_partitions=n_partitions,
        backend=backend,
        beta=beta,
        n_clusters=n_clusters,
        scorer=scorer,
        pruner=pruner,
    )
    shards = list_shards(paths)
    counts = [count_rows(p) for p in shards]
    plan = assign_shards(counts, num_workers)
    ray = _import_ray()
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=bool(verbose))
    storage = storage_path or tempfile.mkdtemp(prefix="skelfs_ray_")
    config = {
        "shards": [[str(shards[i]) for i in run] for run in plan],
        "key": key,
        "method": method,
        "select": {
            "budget": budget,
            **select_kwargs,
            "random_state": random_state,
            "device": "cuda" if use_gpu else "cpu",
            "verbose": verbose,
        },
        "fail_once": _fail_once,
        "probe_rows": None if _probe_rows is None else np.asarray(_probe_rows, dtype=np.int64),
    }
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
        run_config=RunConfig(
            name="skelfs_select",
            storage_path=storage,
            failure_config=FailureConfig(max_failures=max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    result = trainer.fit()
    if getattr(result, "error", None) is not None:
        raise result.error
    probe = None
    with result.checkpoint.as_directory() as directory:
        rows = np.load(Path(directory) / "selection.npy")
        if (Path(directory) / "probe.npy").exists():
            probe = np.load(Path(directory) / "probe.npy")
    ids = rows if id_column is None else _ids_of(shards, counts, rows, id_column)
    if not return_metrics:
        return ids
    metrics = {k: result.metrics[k] for k in ("peak_rss_per_worker", "rows_per_worker", "seconds")}
    if probe is not None:
        metrics["probe_neighbors"] = probe
    return ids, metrics


def _method_settings(method, **settings):
    """The stage function's keyword arguments for ``method``; a clear error for a setting
    of the other method."""
    if method not in METHODS:
        raise ValueError(
            f"method={method!r} does not run over shards; choose one of {METHODS} (other "
            f"methods need the whole pool on one machine: skelfs.make_selector)."
        )
    own = ("n_neighbors", "n_partitions", "backend")
    if method == "elfs":
        own = ("beta", "n_clusters", "scorer", "pruner")
    defaults = {"n_neighbors": 20, "n_partitions": None, "backend": "auto", "beta": "auto"}
    for name, value in settings.items():
        if name not in own and value is not defaults.get(name) and value != defaults.get(name):
            other = "elfs" if method == "facility_location" else "facility_location"
            raise ValueError(
                f"{name}={value!r} is a setting of method={other!r}, not of "
                f"method={method!r}; pass method={other!r} or drop {name}."
            )
    return {name: settings[name] for name in own}


def _worker_loop(config):
    """One Ray Train worker: read its shards, resume if there is a checkpoint, select."""
    import resource

    import ray.train
    import torch

    from ._comm import Comm

    clock = time.perf_counter()
    rank = ray.train.get_context().get_world_rank()
    X, _ = read_shards(config["shards"][rank], key=config["key"])
    state_file = f"state_{rank}.pt"
    state = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            if (Path(directory) / state_file).exists():
                state = torch.load(Path(directory) / state_file, weights_only=False)
    fail = config["fail_once"]
    if fail is not None and rank == 0 and os.path.exists(fail[0]):  # tests: a restart says
        resumed = "none" if state is None else _epoch_of(state)  # where it resumed
        Path(fail[0]).write_text(f"resumed after epoch {resumed}")

    def on_state(new_state):
        epoch = _epoch_of(new_state)
        with tempfile.TemporaryDirectory() as directory:
            torch.save(new_state, Path(directory) / state_file)
            ray.train.report(
                {"epoch": epoch}, checkpoint=ray.train.Checkpoint.from_directory(directory)
            )
        fail = config["fail_once"]
        if fail is not None and rank == 1 and epoch == fail[1] and not os.path.exists(fail[0]):
            Path(fail[0]).touch()
            os._exit(1)  # a worker dying mid-run, as on a lost node

    comm = Comm()
    files, extra = {}, {}
    if config["method"] == "elfs":
        rows = select_shard(X, state=state, on_state=on_state, **config["select"])
        n_rows, seconds = X.shape[0], {}
    else:
        result = _facility_location(X, state=state, on_state=on_state, **config["select"])
        rows, seconds = np.sort(result["ranking"]), result["seconds"]
        n_rows = result["ids"].size
        extra["greedy_rounds"] = int(result["greedy_rounds"])
        if config["probe_rows"] is not None:
            files["probe.npy"] = _probe_neighbors(result, config, comm)
    del X
    seconds["total"] = time.perf_counter() - clock
    # ru_maxrss is in KiB on Linux: each worker's peak, gathered to the first.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    metrics = {
        "epoch": -2,
        "selected": int(rows.size),
        "peak_rss_per_worker": comm.per_worker(np.array(peak, dtype=np.int64)).tolist(),
        "rows_per_worker": comm.per_worker(np.array(n_rows, dtype=np.int64)).tolist(),
        "seconds": {k: round(float(v), 3) for k, v in seconds.items()},
        **extra,
    }
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if rank == 0:
            np.save(Path(directory) / "selection.npy", rows)
            for name, array in files.items():
                np.save(Path(directory) / name, array)
            checkpoint = ray.train.Checkpoint.from_directory(directory)
        ray.train.report(metrics, checkpoint=checkpoint)


def _epoch_of(state):
    """Where a worker state was taken: the proxy epoch (ELFS), -1 after k-means or the
    partitions, 0 after facility location's kNN graph."""
    if "train" in state:
        return int(state["train"]["epoch"])
    return 0 if "distances" in state else -1


def _probe_neighbors(result, config, comm):
    """Rows ``(probe id, its neighbours' global ids...)`` of the probe rows, all workers'."""
    width = int(config["select"]["n_neighbors"])
    ids, indices = result["ids"], result["indices"]
    mine = np.flatnonzero(np.isin(ids, config["probe_rows"]))
    table = np.full((mine.size, width + 1), -1, dtype=np.int64)
    table[:, 0] = ids[mine]
    table[:, 1 : 1 + indices.shape[1]] = ids[indices[mine].astype(np.intp)]
    table = comm.gather(table.ravel()).reshape(-1, width + 1)
    return table[np.argsort(table[:, 0])]


def _ids_of(shards, counts, rows, id_column):
    """The ``id_column`` values of global rows ``rows`` (sorted), reading one shard at a time."""
    import pyarrow.parquet as pq

    ends = np.cumsum(counts)
    out = []
    for i, path in enumerate(shards):
        start = ends[i] - counts[i]
        mine = rows[(rows >= start) & (rows < ends[i])] - start
        if mine.size == 0:
            continue
        if path.suffix == ".npy":
            raise ValueError(
                f"id_column={id_column!r}: {path} is a .npy shard, which has no columns; "
                f"ids are then the global row positions (leave id_column unset)."
            )
        column = pq.read_table(path, columns=[id_column]).column(0).to_numpy()
        out.append(column[mine])
    return np.concatenate(out)
