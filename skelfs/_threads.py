"""Thread counts during a fit: a fixed cap (``n_jobs``), or the cores others leave idle.

torch's OpenMP threads spin-wait at the end of every parallel region. When another
busy process holds one of the cores, a thread that waits spins on the core its partner
needs, and a fit on 2 cores beside one busy process ran 2.5-3x slower instead of the
2x that losing a core explains (docs/benchmarks.md, "Under load"). So with
``n_jobs=None`` a :class:`ThreadGovernor` watches how much CPU the *other* processes
use on the cores this process may run on, and keeps torch at the number of cores they
leave idle (never more than torch's configured count). The long loops (proxy
epochs, k-means passes, the beta probes) call :func:`retune_threads` between steps;
it re-measures at most every :data:`RETUNE_SECONDS`. The selection does not depend on
the thread count: a short proxy batch steps on one thread (:func:`one_thread`), and the
sums that decide a k-means or probe step run through :func:`invariant_sum`
(docs/benchmarks.md, "Threads"). A passive OpenMP wait policy would avoid the spinning
too, but it must be set before torch starts and cost 24% on an idle machine (measured).

On Intel CPUs torch's MKL also splits the inner dimension of a matmul across threads
when the output is small next to it; ``skelfs/__init__.py`` puts MKL in its strict
reproducibility mode (``MKL_CBWR=AUTO,STRICT``), which keeps GEMMs bitwise the same on
any thread count, and :func:`warn_unless_reproducible_blas` says so where MKL had
started before that. Matrix-vector products stay thread-dependent in that mode, so the
library computes none (a bias gradient is a column ``sum``).
"""

from __future__ import annotations

import contextvars
import math
import numbers
import os
import time
from contextlib import contextmanager

import numpy as np

from ._utils import caller_stacklevel

#: Shortest interval between two measurements; shorter ones are mostly noise.
RETUNE_SECONDS = 0.5
#: Other processes' CPU use is rounded up from this fraction of a core: a core they
#: keep 30% busy is left to them, since a spinning thread would fight them for it.
_BUSY_FRACTION = 0.3

_ACTIVE = contextvars.ContextVar("skelfs_thread_governor", default=None)
#: mkl_cbwr.h's flag for the strict mode, in what ``mkl_cbwr_get(MKL_CBWR_ALL)`` returns.
_MKL_CBWR_STRICT = 0x10000
_BLAS_CHECKED = False


def mkl_strict_mode():
    """Whether torch's MKL runs in strict reproducibility mode: True or False, None where
    torch has no MKL or its mode cannot be read (the query is MKL's own, best effort)."""
    import ctypes

    import torch

    if not torch.backends.mkl.is_available():
        return None
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.argtypes, get.restype = [ctypes.c_int], ctypes.c_int
    return bool(get(-1) & _MKL_CBWR_STRICT)


def warn_unless_reproducible_blas():
    """Check once per process whether torch's MKL runs in its strict mode; warn if not."""
    global _BLAS_CHECKED
    if _BLAS_CHECKED:
        return
    _BLAS_CHECKED = True
    if mkl_strict_mode() is False:
        import warnings

        value = os.environ.get("MKL_CBWR", "")
        cause = (
            f"MKL_CBWR is set to {value!r}, without STRICT"
            if "STRICT" not in value.upper()
            else "torch's MKL started before skelfs set MKL_CBWR=AUTO,STRICT"
        )
        warnings.warn(
            f"{cause}, so on Intel CPUs the selection may depend on the number of threads "
            "and on the machine's load. Import skelfs before running torch matmuls, or "
            "start Python with MKL_CBWR=AUTO,STRICT.",
            RuntimeWarning,
            stacklevel=caller_stacklevel(),
        )


def _cpu_seconds(cpus):
    """Busy seconds (all processes) summed over ``cpus``, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            lines = [line.split() for line in fh if line.startswith("cpu")]
    except OSError:
        return None
    busy = 0
    for fields in lines:
        name = fields[0]
        if name == "cpu" or int(name[3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
        busy += user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


class ThreadGovernor:
    """Keeps torch at as many threads as the other processes leave cores idle.

    The first :meth:`retune` records the ceiling (torch's thread count then); each later
    one, at least ``RETUNE_SECONDS`` after the previous measurement, sets
    ``min(ceiling, cores idle of others)``, at least 1. :meth:`restore` puts the ceiling
    back.
    """

    def __init__(self):
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        self.ceiling = None
        self._last = None

    def _sample(self):
        machine = _cpu_seconds(self.cpus)
        return None if machine is None else (time.monotonic(), machine, time.process_time())

    def others_busy(self, previous, now):
        """Cores' worth of CPU the other processes used between two samples."""
        wall = now[0] - previous[0]
        return max(0.0, (now[1] - previous[1]) - (now[2] - previous[2])) / wall

    def retune(self):
        import torch

        if self.ceiling is None:
            self.ceiling = torch.get_num_threads()
        if not self.cpus:
            return
        if self._last is None:
            self._last = self._sample()
            return
        now = time.monotonic()
        if now - self._last[0] < RETUNE_SECONDS:
            return
        sample = self._sample()
        if sample is None:
            return
        others = self.others_busy(self._last, sample)
        self._last = sample
        idle = len(self.cpus) - math.floor(others + 1.0 - _BUSY_FRACTION)
        threads = max(1, min(self.ceiling, idle))
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)

    def restore(self):
        if self.ceiling is not None:
            import torch

            torch.set_num_threads(self.ceiling)


@contextmanager
def one_thread():
    """Run the body on one torch thread, then restore the count (and the governor's).

    For matmuls of a few rows the BLAS chooses its kernel by the thread count, and the
    kernels round differently: on this project's machine a 5-11-row ``addmm`` gave other
    bits with 1 and 2 threads, whatever the other dimensions. Such steps run here, so
    that their result does not depend on the thread count.
    """
    import torch

    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def invariant_sum(values):
    """The sum of a tensor's values as a Python float, the same on any thread count.

    torch splits a long sum across its threads and adds the partial sums, so the last
    bits depend on the count (a 384k-element sum differed between 1 and 2 threads in 5 of
    5 draws); NumPy's pairwise float64 sum runs on one thread. Sums along a row
    (``sum(dim=1)``) are safe in torch: each row is summed by one thread.
    """
    return float(np.sum(values.detach().double().cpu().numpy()))


def retune_threads():
    """Between steps of a long loop: let the active governor (if any) adjust torch's threads."""
    governor = _ACTIVE.get()
    if governor is not None:
        governor.retune()


@contextmanager
def limit_threads(n_jobs):
    """Run the body with at most ``n_jobs`` threads in torch and in BLAS/OpenMP pools.

    ``None``: torch's configured count (inside joblib's worker processes that is one) is
    the ceiling, and a :class:`ThreadGovernor` lowers it while other processes keep
    cores busy (an enclosing ``None`` block's governor is reused). ``-1`` means all
    cores; an int fixes the count. The previous torch setting is restored.
    """
    warn_unless_reproducible_blas()
    if n_jobs is None:
        if _ACTIVE.get() is not None:
            yield
            return
        governor = ThreadGovernor()
        token = _ACTIVE.set(governor)
        try:
            yield
        finally:
            _ACTIVE.reset(token)
            governor.restore()
        return
    import torch
    from joblib import effective_n_jobs
    from threadpoolctl import threadpool_limits

    if (
        isinstance(n_jobs, (bool, np.bool_))
        or not isinstance(n_jobs, numbers.Integral)
        or n_jobs == 0
    ):
        raise ValueError(f"n_jobs must be None, -1 or a positive int, got {n_jobs!r}.")
    n_threads = effective_n_jobs(int(n_jobs))
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    token = _ACTIVE.set(None)  # a fixed count is not adjusted
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        _ACTIVE.reset(token)
        torch.set_num_threads(previous)
