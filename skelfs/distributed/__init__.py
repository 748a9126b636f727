"""ELFS beyond one machine: the pipeline over row shards held by several workers.

* :func:`select_shard`: the stage code, written against torch.distributed collectives
  only, so it runs under Ray Train, under ``torchrun`` (examples/torchrun_select.py) or
  in one process; each worker passes its own rows.
* :func:`select`: runs it with Ray Train over ``.npy`` / ``.parquet`` shards on a Ray
  cluster (optional extra ``skelfs[ray]``), with checkpoints and restarts.
* :mod:`~skelfs.distributed.shards`: shard listing, row counts and the split over workers.

docs/distributed.md ("Running on a cluster") has the design and the measurements.
"""

from .ray_engine import select
from .stages import select_shard

__all__ = ["select", "select_shard"]
