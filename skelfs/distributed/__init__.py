"""Selection beyond one machine: facility location and ELFS over row shards held by
several workers.

* :func:`facility_location_shard` (facility location, the default method) and
  :func:`select_shard` (ELFS): the stage code, written against torch.distributed
  collectives only, so it runs under Ray Train, under ``torchrun``
  (examples/torchrun_select.py) or in one process; each worker passes its own rows.
* :func:`select`: runs either with Ray Train over ``.npy`` / ``.parquet`` shards on a Ray
  cluster (optional extra ``skelfs[ray]``), with checkpoints and restarts.
* :mod:`~skelfs.distributed.shards`: shard listing, row counts and the split over workers.

docs/distributed.md ("Running on a cluster") has the design and the measurements.
"""

from .facility_location import facility_location_shard
from .ray_engine import select
from .stages import select_shard

__all__ = ["facility_location_shard", "select", "select_shard"]
