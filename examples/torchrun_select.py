"""
Selection over shards with torchrun (no Ray)
============================================

The stage code of :mod:`skelfs.distributed` uses torch.distributed collectives only, so
``torchrun`` can start the workers as well as Ray Train can. Each worker reads its own run
of shards (the same split as the Ray engine: contiguous shards, even row counts) and calls
:func:`skelfs.distributed.facility_location_shard` (the default method) or
:func:`skelfs.distributed.select_shard` (``--method elfs``); rank 0 writes the selected
global row ids.

Run (2 CPU workers on one machine; ``--nnodes`` / ``--rdzv-endpoint`` for several)::

    python examples/torchrun_select.py --make-shards shards/   # a demo pool, 4 shards
    torchrun --nproc-per-node 2 examples/torchrun_select.py 'shards/*.npy' \\
        --budget 0.1 -o selected.npy
    torchrun --nproc-per-node 2 examples/torchrun_select.py 'shards/*.npy' \\
        --method elfs --budget 0.1 -o selected.npy

With GPUs, ``--backend nccl --device cuda`` (one GPU per worker: ``LOCAL_RANK``).
There are no restarts here: for checkpoints and fault tolerance use the Ray engine
(``skelfs select 'shards/*.npy' --engine ray``).
"""

import argparse
import gc
import os
from pathlib import Path

import numpy as np


def make_shards(folder, n=20_000, d=64, n_shards=4):
    from sklearn.datasets import make_blobs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    X, _ = make_blobs(n, centers=20, n_features=d, cluster_std=3.0, random_state=0)
    for i, part in enumerate(np.array_split(X.astype(np.float32), n_shards)):
        np.save(folder / f"part-{i:03d}.npy", part)
    print(f"wrote {n_shards} shards of {n // n_shards} x {d} rows to {folder}/")


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("shards", help="a glob such as 'shards/*.npy', or a folder")
    ap.add_argument("--budget", type=float, default=0.1)
    ap.add_argument("--method", choices=("facility_location", "elfs"), default="facility_location")
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--backend", default="gloo", choices=("gloo", "nccl"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output", default="selected.npy")
    ap.add_argument("--make-shards", action="store_true", help="write a demo pool and exit")
    args = ap.parse_args()
    if args.make_shards:
        return make_shards(args.shards)

    import torch.distributed as dist

    from skelfs.distributed import facility_location_shard, select_shard
    from skelfs.distributed.shards import assign_shards, count_rows, list_shards, read_shards

    dist.init_process_group(args.backend)  # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR
    rank, world = dist.get_rank(), dist.get_world_size()
    device = args.device
    if device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
    try:
        shards = list_shards(args.shards)
        plan = assign_shards([count_rows(p) for p in shards], world)
        X, _ = read_shards([shards[i] for i in plan[rank]])
        budget = int(args.budget) if args.budget >= 1 else args.budget
        run = select_shard if args.method == "elfs" else facility_location_shard
        rows = run(X, budget=budget, random_state=args.random_state, device=device, verbose=1)
        if rank == 0:
            np.save(args.output, rows)
            print(f"selected {rows.size} rows over {world} workers -> {args.output}")
    finally:
        gc.collect()  # DDP's reference cycles must go before the group does (torch 2.13)
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
