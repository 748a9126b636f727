"""Run :func:`~skelfs.distributed.select_shard` on a Ray cluster with Ray Train.

Ray Train's ``TorchTrainer`` starts ``num_workers`` torch.distributed workers (gloo on
CPU, NCCL on GPU); each reads its run of shards (:mod:`.shards`) and runs the stage code.
The worker state (pseudo-labels, then the proxy head, optimiser, running sums and random
streams) is reported as a Ray Train checkpoint after k-means and after every proxy
epoch, so a run whose worker dies is restarted from the last checkpoint by Ray Train
(``max_failures``) and returns the same selection.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .shards import assign_shards, count_rows, list_shards, read_shards
from .stages import select_shard


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
    budget=0.1,
    num_workers=2,
    use_gpu=False,
    address=None,
    key=None,
    id_column=None,
    beta="auto",
    n_clusters=None,
    scorer=None,
    pruner=None,
    random_state=0,
    storage_path=None,
    max_failures=2,
    verbose=0,
    _fail_once=None,
):
    """ELFS on a Ray cluster over ``.npy`` / ``.parquet`` shards; the selected rows' ids.

    Parameters
    ----------
    paths : str, Path or list
        A glob (``"shards/*.npy"``), a directory, or shard paths. Rows are numbered in
        the concatenation of the shards in sorted path order.
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
    beta, n_clusters, scorer, pruner, random_state
        As :func:`~skelfs.distributed.select_shard`.
    storage_path : str or None, default=None
        Where Ray Train keeps checkpoints (a shared path or bucket on a multi-node
        cluster); None: a new temporary directory (local runs only).
    max_failures : int, default=2
        Worker failures Ray Train recovers from by restarting from the last checkpoint.
    verbose : int, default=0
        Progress on the first worker's stderr.
    _fail_once : tuple or None
        For tests only: ``(marker_path, epoch)`` kills worker 1 after that proxy epoch,
        once (while the marker file does not exist); the restarted run writes the epoch
        it resumed after into the marker.

    Returns
    -------
    ids : ndarray
        The selected rows' global positions (int64, sorted), or their ``id_column``
        values in that order.

    Examples
    --------
    >>> from skelfs.distributed import select  # doctest: +SKIP
    >>> rows = select("shards/*.npy", budget=0.01, num_workers=8, use_gpu=True)  # doctest: +SKIP
    """
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
        "select": {
            "budget": budget,
            "beta": beta,
            "n_clusters": n_clusters,
            "scorer": scorer,
            "pruner": pruner,
            "random_state": random_state,
            "device": "cuda" if use_gpu else "cpu",
            "verbose": verbose,
        },
        "fail_once": _fail_once,
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
    with result.checkpoint.as_directory() as directory:
        rows = np.load(Path(directory) / "selection.npy")
    if id_column is None:
        return rows
    return _ids_of(shards, counts, rows, id_column)


def _worker_loop(config):
    """One Ray Train worker: read its shards, resume if there is a checkpoint, select."""
    import ray.train
    import torch

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
        if fail is not None and state is not None and rank == 0:  # tests: say where it resumed
            epoch = state["train"]["epoch"] if "train" in state else -1
            Path(fail[0]).write_text(f"resumed after epoch {epoch}")

    def on_state(new_state):
        with tempfile.TemporaryDirectory() as directory:
            torch.save(new_state, Path(directory) / state_file)
            epoch = new_state["train"]["epoch"] if "train" in new_state else -1
            ray.train.report(
                {"epoch": epoch}, checkpoint=ray.train.Checkpoint.from_directory(directory)
            )
        fail = config["fail_once"]
        if fail is not None and rank == 1 and epoch == fail[1] and not os.path.exists(fail[0]):
            Path(fail[0]).touch()
            os._exit(1)  # a worker dying mid-training, as on a lost node

    rows = select_shard(X, state=state, on_state=on_state, **config["select"])
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if rank == 0:
            np.save(Path(directory) / "selection.npy", rows)
            checkpoint = ray.train.Checkpoint.from_directory(directory)
        ray.train.report({"epoch": -2, "selected": int(rows.size)}, checkpoint=checkpoint)


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
