"""The few torch.distributed collectives the sharded stages use, on NumPy arrays.

Every stage of :mod:`skelfs.distributed` talks to the other workers through one
``Comm``: sums, minima and maxima of small arrays, a gather of one small array per
worker, a broadcast from rank 0, and an all-to-all exchange of byte buffers (the
sharded facility location moves rows between workers with it). Outside a process group
(or with one worker) every collective is the identity, so the same stage code runs in
one process too. Under NCCL the tensors cross on the worker's GPU, under gloo on the CPU.
"""

from __future__ import annotations

import numpy as np


class Comm:
    """Collectives over the default torch.distributed process group (if any)."""

    def __init__(self):
        import torch
        import torch.distributed as dist

        self.active = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.active else 0
        self.world_size = dist.get_world_size() if self.active else 1
        self.device = torch.device("cpu")
        if self.active and dist.get_backend() == "nccl":
            self.device = torch.device("cuda", torch.cuda.current_device())

    @property
    def distributed(self):
        """True when there is more than one worker."""
        return self.active and self.world_size > 1

    def _reduce(self, array, op):
        import torch
        import torch.distributed as dist

        array = np.asarray(array)
        if not self.distributed:
            return array.copy()
        t = torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
        dist.all_reduce(t, op=op)
        return t.cpu().numpy()

    def sum(self, array):
        """Element-wise sum over workers (a new array)."""
        import torch.distributed as dist

        return self._reduce(array, dist.ReduceOp.SUM if self.active else None)

    def min(self, array):
        """Element-wise minimum over workers."""
        import torch.distributed as dist

        return self._reduce(array, dist.ReduceOp.MIN if self.active else None)

    def max(self, array):
        """Element-wise maximum over workers."""
        import torch.distributed as dist

        return self._reduce(array, dist.ReduceOp.MAX if self.active else None)

    def sum_tensors_(self, *tensors):
        """Sum torch tensors over workers in place (they stay on their own device)."""
        import torch.distributed as dist

        if not self.distributed:
            return
        for t in tensors:
            moved = t.to(self.device)
            dist.all_reduce(moved, op=dist.ReduceOp.SUM)
            if moved is not t:
                t.copy_(moved)

    def gather(self, array):
        """Every worker's 1-D ``array``, concatenated in rank order (sizes may differ)."""
        array = np.ascontiguousarray(np.asarray(array).ravel())
        if not self.distributed:
            return array.copy()
        sizes = self.sum(np.eye(self.world_size, dtype=np.int64)[self.rank] * array.size)
        padded = np.zeros(int(sizes.max()) * self.world_size, dtype=array.dtype)
        start = self.rank * int(sizes.max())
        padded[start : start + array.size] = array
        padded = self.sum(padded).reshape(self.world_size, -1)
        return np.concatenate([padded[r, : sizes[r]] for r in range(self.world_size)])

    def per_worker(self, array):
        """Stack every worker's same-shape ``array``: shape ``(world_size, *array.shape)``."""
        array = np.asarray(array)
        out = np.zeros((self.world_size, *array.shape), dtype=array.dtype)
        out[self.rank] = array
        return self.sum(out)

    def broadcast(self, obj):
        """Rank 0's picklable ``obj`` on every worker."""
        import torch.distributed as dist

        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def all_to_all(self, send, send_sizes, recv_sizes):
        """Exchange 1-D byte buffers: ``send`` holds, in rank order, ``send_sizes[r]``
        bytes for worker ``r``; returns the ``recv_sizes[r]`` bytes from each worker ``r``,
        concatenated in rank order (``torch.distributed.all_to_all_single``, which gloo
        and NCCL both run with uneven and empty splits).
        """
        import torch
        import torch.distributed as dist

        send = np.ascontiguousarray(send, dtype=np.uint8).ravel()
        if not self.distributed:
            return send.copy()
        out = torch.empty(int(np.sum(recv_sizes)), dtype=torch.uint8, device=self.device)
        dist.all_to_all_single(
            out,
            torch.from_numpy(send).to(self.device),
            output_split_sizes=[int(v) for v in recv_sizes],
            input_split_sizes=[int(v) for v in send_sizes],
        )
        return out.cpu().numpy()
