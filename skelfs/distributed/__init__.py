"""ELFS beyond one machine: the pipeline over row shards held by several workers.

:func:`select_shard` is the stage code, written against torch.distributed collectives
only (it runs under Ray Train, under ``torchrun``, or in one process);
:func:`select` runs it on a Ray cluster over ``.npy`` / ``.parquet`` shards. See
docs/distributed.md.
"""

from .stages import select_shard

__all__ = ["select_shard"]
