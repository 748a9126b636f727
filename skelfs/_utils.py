"""Small helpers shared by every component: input checks, seeds, devices, progress."""

from __future__ import annotations

import functools
import mmap
import numbers
import os
import sys
import time
import weakref
from contextlib import contextmanager

import numpy as np
from sklearn.utils import _safe_indexing, check_array, check_random_state

# Floating dtypes kept as they are; anything else numeric is converted to float32,
# which halves memory against float64 and is what the torch stages compute in.
FLOAT_DTYPES = (np.float32, np.float64, np.float16)


@contextmanager
def streamed_finite_check(X, name="X"):
    """Check a float16 or memory-mapped ``X`` for NaN/inf block by block, then let the
    validation inside the block assume it finite.

    scikit-learn's check reads ``X`` whole. Its O(1)-space first pass sums ``X`` in its
    own dtype, which overflows for float16. The fallback then builds two boolean arrays
    of ``X``'s shape: 3.8 GB each at 10M x 384. Here each block is summed in float64 and
    its memory-map pages are released. Other inputs go through scikit-learn's check,
    and with scikit-learn's ``assume_finite`` set there is no check, as in scikit-learn.
    """
    from sklearn import config_context, get_config

    if get_config()["assume_finite"] or not (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype.kind == "f"
        and (X.dtype == np.float16 or _shared_file_map(X) is not None)
    ):
        yield
        return
    rows = max(1, 2**20 // max(1, X.shape[1]))
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows]
        if not np.isfinite(block.sum(dtype=np.float64)):
            bad = (
                "NaN" if np.isnan(block).any() else f"infinity or a value too large for {X.dtype!r}"
            )
            raise ValueError(f"Input {name} contains {bad}.")
        release_pages(X, start, start + rows)
    with config_context(assume_finite=True):
        yield


def check_embeddings(X, *, name="X", ensure_min_samples=2):
    """Validate a 2-D numeric matrix of row embeddings without copying when possible.

    Sparse input, NaN/inf, wrong ndim and non-numeric data raise errors that name ``X``.
    Memory maps and float16/32/64 arrays are returned without a copy.
    """
    reject_sparse(X, name)
    with streamed_finite_check(X, name):
        return check_array(
            X,
            dtype=list(FLOAT_DTYPES),
            ensure_all_finite=True,
            ensure_min_samples=ensure_min_samples,
            ensure_2d=True,
            allow_nd=False,
            input_name=name,
            copy=False,
        )


def reject_sparse(X, name="X"):
    """Raise a TypeError naming ``name`` for scipy sparse input."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(
            f"{name} is a sparse matrix; skelfs selectors work on dense row embeddings. "
            f"Convert it with {name}.toarray() (or reduce it first, e.g. with TruncatedSVD)."
        )


def take_rows(X, indices):
    """Rows ``indices`` of ``X`` in its own container type (a DataFrame keeps its index).

    Array-likes that cannot be indexed (objects exposing only ``__array__``) are
    converted to an ndarray first.
    """
    if not hasattr(X, "__getitem__"):
        X = np.asarray(X)
    return _safe_indexing(X, indices, axis=0)


def resolve_budget(budget, n_samples):
    """Turn ``budget`` (int count or float fraction in (0, 1)) into a row count.

    A fraction is floored (with a tolerance for float error, so ``0.29 * 100`` is 29)
    and never below 1.
    """
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, numbers.Real):
        raise TypeError(
            f"budget must be an int (number of rows) or a float in (0, 1) "
            f"(fraction of rows), got {budget!r} of type {type(budget).__name__}."
        )
    if isinstance(budget, numbers.Integral):
        if not 1 <= budget <= n_samples:
            raise ValueError(
                f"budget={budget} rows is out of range: it must be between 1 and the "
                f"number of rows n_samples={n_samples}. Pass a float in (0, 1) for a fraction."
            )
        return int(budget)
    if not (np.isfinite(budget) and 0.0 < budget < 1.0):
        raise ValueError(
            f"budget={budget!r} is out of range: a float budget is a fraction and must lie "
            f"in (0, 1); pass an int for a number of rows."
        )
    return max(1, floor_count(budget, n_samples))


def floor_count(fraction, n):
    """``floor(fraction * n)`` as an int, with a tolerance for float error (``0.29 * 100``
    is 29, not 28).

    The one rule for turning a fraction of rows into a count: the budget fraction and
    the hard-end pruning ratio ``beta`` (rows dropped, per cluster or in all) both use it.
    """
    return int(np.floor(fraction * n + 1e-9))


def check_beta(beta, *, allow_auto=True):
    """Validate the hard-end pruning ratio ``beta`` in [0, 1) (or "auto")."""
    if allow_auto and isinstance(beta, str) and beta == "auto":
        return beta
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        extra = ' or "auto"' if allow_auto else ""
        raise TypeError(f"beta must be a float in [0, 1){extra}, got {beta!r}.")
    if not (np.isfinite(beta) and 0.0 <= beta < 1.0):
        raise ValueError(
            f"beta={beta!r} is out of range: it is the fraction of hardest rows dropped "
            f"and must lie in [0, 1)."
        )
    return float(beta)


def check_int(name, value, low):
    """``value`` as an int ``>= low``; TypeError for a non-int, ValueError below ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {low}, got {value!r}.")
    if value < low:
        raise ValueError(f"{name}={value!r} is out of range: it must be an int >= {low}.")
    return int(value)


def check_n_clusters(n_clusters, n_samples, minimum=2, allow_none=False):
    """Validate a user-given number of clusters against the number of rows.

    ELFS needs at least two pseudo-label clusters (a proxy head has nothing to learn from
    one); a plain clusterer accepts ``minimum=1``. ``allow_none`` passes None through
    (meaning: estimate it).
    """
    if allow_none and n_clusters is None:
        return None
    if isinstance(n_clusters, (bool, np.bool_)) or not isinstance(n_clusters, numbers.Integral):
        raise TypeError(f"n_clusters must be an int >= {minimum} or None, got {n_clusters!r}.")
    if n_clusters < minimum:
        raise ValueError(
            f"n_clusters={n_clusters} must be at least {minimum} (or None to estimate it): "
            f"ELFS learns training dynamics on pseudo-labels, which needs two clusters or more."
        )
    if n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of rows n_samples={n_samples}; "
            f"use fewer clusters or pass n_clusters=None to estimate it."
        )
    return int(n_clusters)


@contextmanager
def restore_on_failure(estimator):
    """Put ``estimator``'s attributes back if the body raises (KeyboardInterrupt included).

    A fit interrupted part-way then leaves no half-set fitted attributes behind: the
    estimator is exactly as it was before the call.
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def atomic_fit(method):
    """Decorate a ``fit``-like method so that a failed call changes nothing on the estimator."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with restore_on_failure(self):
            return method(self, *args, **kwargs)

    return wrapper


def draw_seed(random_state):
    """Draw an int seed in ``[0, 2**31 - 1)`` from a sklearn-style ``random_state``.

    A RandomState instance advances by one draw (so successive calls give a stream of
    seeds for sub-components, torch, scikit-learn or faiss alike); an int or None is
    turned into one first.
    """
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def torch_generators(seed, device):
    """Private torch generators ``(cpu, on_device)`` seeded with ``seed``.

    Every random draw of a fit (initial weights, shuffling, noise, dropout, pair draws)
    takes one of these, never the process-wide torch RNG: the same seed then gives the
    same result while other threads fit or draw from ``torch.rand``, and the caller's RNG
    is neither read nor advanced. Index permutations are drawn on the CPU one; tensors
    on ``device`` use the other (the same generator when ``device`` is the CPU).
    """
    import torch

    cpu = torch.Generator().manual_seed(int(seed))
    if device.type == "cpu":
        return cpu, cpu
    return cpu, torch.Generator(device=device).manual_seed(int(seed))


def rows_to_device(X, rows, device):
    """Rows ``rows`` (a slice or an index array) of ``X`` as a float32 tensor on ``device``.

    Only these rows are read. float16/float32 rows cross to the device as they are
    (float16 at half the bytes) and are cast there; float64 rows are cast on the host
    first, so they cross at half the bytes too. The values are the same either way. A
    block that cannot back a tensor (a read-only memory map, a non-contiguous view) is
    copied; otherwise on CPU the tensor may share memory with ``X``: do not modify it
    in place.
    """
    import torch

    block = X[rows]
    if block.dtype.itemsize > 4:
        block = block.astype(np.float32)
    block = np.ascontiguousarray(block)
    if not block.flags.writeable:
        block = block.copy()
    return torch.from_numpy(block).to(device).float()


def resolve_device(device):
    """Map ``"auto"``/``"cpu"``/``"cuda"``/``"cuda:N"`` (or a torch.device) to a torch.device."""
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f'device must be "auto", "cpu", "cuda" or "cuda:N", got {device!r}.')
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f'device="{device}" was requested but CUDA is not available in this torch '
                f'build or machine; use device="cpu" or device="auto".'
            )
        try:
            return torch.device(device)
        except RuntimeError as exc:  # e.g. "cuda:x"
            raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    raise ValueError(f'device must be "auto", "cpu", "cuda" or "cuda:N", got {device!r}.')


# Progress as plain lines (stderr is not a terminal: a log file, a pipe, a CI job): a line
# when a task ends, otherwise at most one per PLAIN_MIN_SECONDS, and only once PLAIN_STEP of
# the total has been done since the last line or PLAIN_MAX_SILENCE seconds have passed.
PLAIN_MIN_SECONDS = 1.0
PLAIN_STEP = 0.1
PLAIN_MAX_SILENCE = 10.0


class _NoProgress:
    """The silent reporter of ``verbose=0``: counts, prints nothing."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0

    def update(self, k=1):
        self.n += k

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


class _PlainProgress(_NoProgress):
    """Progress as rate-limited plain lines on stderr, for logs and pipes.

    ``desc: 40/200 (20%), 4.1 s, about 16 s left`` (``desc: 3 in 12.0 s`` when the total
    is unknown), followed by the postfix. A line is written when the task completes, else
    at most one per ``PLAIN_MIN_SECONDS`` and only after ``PLAIN_STEP`` of the total (or
    ``PLAIN_MAX_SILENCE`` seconds without a line); ``close`` writes the last count if it
    was not written yet.
    """

    def __init__(self, total, desc, clock=time.monotonic):
        super().__init__(total, desc)
        self._clock = clock
        self._start = self._last_time = clock()
        self._last_n = 0
        self._postfix = ""

    def update(self, k=1):
        self.n += k
        now = self._clock()
        since = now - self._last_time
        if self.total is not None and self.n >= self.total:
            self._write(now)
        elif since >= PLAIN_MIN_SECONDS and (
            since >= PLAIN_MAX_SILENCE
            or self.total is None
            or self.n - self._last_n >= PLAIN_STEP * self.total
        ):
            self._write(now)

    def set_postfix(self, **kwargs):
        self._postfix = ", ".join(f"{k}={_short_number(v)}" for k, v in kwargs.items())

    def close(self):
        if self.n != self._last_n:
            self._write(self._clock())

    def _write(self, now):
        elapsed = now - self._start
        if self.total:
            line = f"{self.desc}: {self.n}/{self.total} ({100 * self.n / self.total:.0f}%), "
            line += f"{elapsed:.1f} s"
            if 0 < self.n < self.total:
                line += f", about {elapsed * (self.total - self.n) / self.n:.0f} s left"
        else:
            line = f"{self.desc}: {self.n} in {elapsed:.1f} s"
        if self._postfix:
            line += f" [{self._postfix}]"
        print(line, file=sys.stderr, flush=True)
        self._last_time, self._last_n = now, self.n


def _short_number(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def stderr_is_terminal():
    """Whether ``sys.stderr`` is an interactive terminal (not a file, pipe or capture)."""
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def progress(total, desc, verbose):
    """A progress reporter: silent unless ``verbose``; then a bar or plain lines on stderr.

    With ``verbose`` and stderr a terminal: a tqdm bar (removed when done). With stderr
    redirected (a log file, a pipe): plain lines, rate-limited (:class:`_PlainProgress`).
    ``total`` may be None (an open-ended count, e.g. passes until convergence). The
    reporter has tqdm's ``update(k)``, ``set_postfix(**values)`` and ``close()``.
    """
    if not verbose:
        return _NoProgress(total, desc)
    if stderr_is_terminal():
        from tqdm import tqdm

        # A terminal that reports no size (some containers' ptys) would hide the bar.
        sized = {"dynamic_ncols": True} if _terminal_columns() else {"ncols": 80, "nrows": 24}
        return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, **sized)
    return _PlainProgress(total, desc)


def _terminal_columns():
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


class Stages:
    """Named stages of a long fit, reported on stderr when ``verbose``.

    ``start(name, detail)`` ends the current stage (``PREFIX [i/n] name done in 1.2 s``)
    and announces the next (``PREFIX [i/n] name: detail``); ``finish()`` ends the last.
    Silent when ``verbose`` is 0.

    Parameters
    ----------
    prefix : str
        Who is working, e.g. ``"ELFS"``.
    total : int
        Number of stages, for the ``[i/n]`` counter.
    verbose : int
    """

    def __init__(self, prefix, total, verbose, clock=time.monotonic):
        self.prefix, self.total, self.verbose = prefix, total, verbose
        self.index, self.name = 0, None
        self._clock = clock
        self._started = None

    def start(self, name, detail=None):
        self.finish()
        self.index += 1
        self.name, self._started = name, self._clock()
        self._say(f"{name}: {detail}" if detail else name)

    def finish(self):
        if self.name is not None:
            self._say(f"{self.name} done in {self._clock() - self._started:.1f} s")
        self.name = None

    def _say(self, text):
        if self.verbose:
            print(f"{self.prefix} [{self.index}/{self.total}] {text}", file=sys.stderr, flush=True)


def _shared_file_map(X):
    """The ``np.memmap`` behind ``X`` if it maps a file read-only or shared, else None.

    Copy-on-write maps (``mode="c"``) are left out: dropping their pages would discard
    the caller's private changes.
    """
    base = X
    while base is not None:
        if isinstance(base, np.memmap):
            return base if base.mode in ("r", "r+", "w+") else None
        base = getattr(base, "base", None)
    return None


def release_pages(X, start=0, stop=None):
    """Drop the pages of rows ``start:stop`` of a memory-mapped ``X`` from this process.

    A streamed pass over a memory map leaves every page it read resident, so a pool read
    once costs its full size in RSS although the data stays in the OS page cache. After
    ``madvise(MADV_DONTNEED)`` those rows are read back from the page cache (or the
    disk) if touched again, and the process holds only what it is working on. Does
    nothing for in-memory arrays, copy-on-write maps, or where ``madvise`` is missing.
    """
    mapped = _shared_file_map(X)
    if mapped is None or not hasattr(mmap, "MADV_DONTNEED") or X.ndim == 0:
        return
    handle = getattr(mapped, "_mmap", None)
    stop = X.shape[0] if stop is None else min(stop, X.shape[0])
    if handle is None or not hasattr(handle, "madvise") or stop <= start or X.strides[0] <= 0:
        return
    try:
        origin = np.frombuffer(handle, dtype=np.uint8).ctypes.data
        first = X[start:stop].ctypes.data - origin
        end = first + (stop - start) * X.strides[0]
        page = mmap.PAGESIZE
        first = first // page * page
        end = min(len(handle), -(-end // page) * page)
        if 0 <= first < end:
            handle.madvise(mmap.MADV_DONTNEED, first, end - first)
    except (OSError, ValueError, BufferError):  # a closed map, an odd view: only an optimisation
        pass


def status_bytes(field):
    """A size field of /proc/self/status in bytes (e.g. ``"RssFile"``, this process's
    resident file-backed bytes), or None where that is not available (not Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident_file_bytes():
    """This process's resident file-backed bytes (``RssFile``), or None (not Linux)."""
    return status_bytes("RssFile")


def caller_stacklevel():
    """The ``stacklevel`` that makes a warning raised by the calling function point at
    the first frame outside skelfs (and ``contextlib``): the user's ``fit`` call,
    however deep in skelfs' own calls the warning is raised."""
    import contextlib

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    internal = (package, os.path.dirname(contextlib.__file__) + os.sep + "contextlib.py")
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    return level


class _FileRows:
    """Rows of a memory-mapped array read with ``pread`` from its file, not through the map.

    A scattered read through a map makes each touched row's page-cache folio resident
    (75 kB to 2 MB per 768-byte row on Linux 6.18, by the state of the cache), and
    unmapping and faulting them in again cost about 4-6 us a row on the Intel host;
    ``os.preadv`` copies the row's bytes out of the page cache in about 2.5 us and maps
    nothing. :meth:`open` returns None where this cannot be used (no ``os.preadv``, rows
    that are not contiguous bytes of one file, a file that no longer holds the map's
    bytes), and the caller reads through the map.
    """

    def __init__(self, X, name, fd, first):
        self.X, self.name, self.fd, self.first = X, name, fd, first
        self.row_bytes = X.shape[1] * X.itemsize
        weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, X, mapped):
        handle = getattr(mapped, "_mmap", None)
        name = getattr(mapped, "filename", None)  # a str or a Path (None: a file object)
        if (
            not hasattr(os, "preadv")
            or handle is None
            or not isinstance(name, (str, os.PathLike))
            or X.ndim != 2
            or X.shape[0] == 0
            or X.strides[0] <= 0
            or X.strides[1] != X.itemsize
        ):
            return None
        try:
            origin = np.frombuffer(handle, dtype=np.uint8).ctypes.data
            # np.memmap maps from the offset rounded down to the allocation granularity.
            start = mapped.offset - mapped.offset % mmap.ALLOCATIONGRANULARITY
            fd = os.open(name, os.O_RDONLY)
        except (OSError, ValueError, BufferError):
            return None
        reader = cls(X, name, fd, start + (X.ctypes.data - origin))
        # The file at that path must still be the one mapped (not replaced since).
        ends = np.array([0, X.shape[0] - 1])
        try:
            same = np.array_equal(reader(ends), np.asarray(X[ends]))
        except OSError:
            same = False
        return reader if same else None

    def __call__(self, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = self.X.shape[0]
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((rows.size, self.X.shape[1]), dtype=self.X.dtype)
        buf, size, preadv = memoryview(out).cast("B"), self.row_bytes, os.preadv
        for i, at in enumerate((self.first + rows * self.X.strides[0]).tolist()):
            if preadv(self.fd, [buf[i * size : (i + 1) * size]], at) != size:
                raise OSError(f"short read from {self.name}: the file shrank")
        return out


class PageReleaser:
    """Scattered row reads of a memory map that keep it out of the resident set.

    Reads of scattered rows (a shuffled epoch, mini-batches) leave every page they touch
    resident, so over an epoch the whole map enters the process's RSS. :meth:`take`
    reads rows without mapping them where it can (``pread`` from the file:
    :class:`_FileRows`). Elsewhere it reads through the map in slices and calls
    ``read(n_rows)`` after each; once the pages it made resident reach ``max_bytes`` it
    calls :func:`release_pages` on the whole map, and re-reading a released page then
    costs a minor fault from the page cache. A no-op for arrays that are not shared file
    maps.

    The resident bytes are measured (the growth of ``RssFile`` since construction), not
    estimated from the rows read: a page fault maps more than the row's page (on Linux
    6.18 one scattered 768-byte row read mapped about 270 kB, a whole page-cache folio).
    Where the measure is missing, every row counts as ``max(row bytes, 256 kB)``.

    The default budget: none (never release, read through the map) for a map of at most
    a quarter of the machine's memory, which stays resident and is never re-read; an
    eighth of the memory for a larger map, which bounds its share of RSS (issue 16: 10M x
    384 float16, a 7.7 GB map on a 24 GB machine).
    """

    # Bytes a scattered row read is assumed to map where RssFile cannot be read.
    FAULT_BYTES = 2**18
    # Rows per slice of :meth:`take` through the map: one scattered read maps up to a
    # 2 MB folio per row (Linux 6.18 on the Intel host: 4,096 rows of a 7.7 GB map made
    # 4.2 GB resident), so a slice adds at most about 0.5 GB before the budget is checked.
    TAKE_ROWS = 256

    def __init__(self, X, max_bytes=None):
        self.X = X
        mapped = _shared_file_map(X)
        self.active = mapped is not None
        if max_bytes is None:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            fits = self.active and X.shape[0] * abs(X.strides[0]) <= ram // 4
            max_bytes = float("inf") if fits else max(2**28, ram // 8)
        self.max_bytes = max_bytes
        budgeted = self.active and max_bytes != float("inf")
        self.file_rows = _FileRows.open(X, mapped) if budgeted else None
        if budgeted:
            release_pages(X)  # growth is measured from here: start from none of the map
        self.baseline = resident_file_bytes() if self.active else None
        self.row_bytes = max(X.strides[0], self.FAULT_BYTES) if self.active else 0
        self.touched = 0

    def take(self, rows):
        """``X[rows]`` (an index array) as a new ndarray. Where pages are budgeted, read
        with ``pread`` (nothing mapped) or else in slices of :attr:`TAKE_ROWS` rows with
        :meth:`read` after each, so one large scattered read cannot map the whole file."""
        if not self.active or self.max_bytes == float("inf"):
            return np.asarray(self.X[rows])
        if self.file_rows is not None:
            return self.file_rows(rows)
        out = np.empty((len(rows),) + self.X.shape[1:], dtype=self.X.dtype)
        for start in range(0, len(rows), self.TAKE_ROWS):
            part = rows[start : start + self.TAKE_ROWS]
            out[start : start + len(part)] = self.X[part]
            self.read(len(part))
        return out

    def read(self, n_rows):
        if not self.active or self.max_bytes == float("inf"):
            return
        if self.baseline is not None:
            resident = resident_file_bytes()
            grown = 0 if resident is None else resident - self.baseline
        else:
            self.touched += n_rows * self.row_bytes
            grown = self.touched
        if grown >= self.max_bytes:
            release_pages(self.X)
            self.touched = 0
            self.baseline = resident_file_bytes() if self.baseline is not None else None


# Elements per block when streaming column statistics (bounds the float64 working copy).
_MOMENT_BLOCK_ELEMENTS = 2**16


def column_sums(X):
    """Per-feature sum and sum of squares of ``X`` (float64), in one streamed pass.

    Reads blocks of rows, so a memory map is never loaded or copied as a whole; the
    pages read are released as it goes (:func:`release_pages`).
    """
    rows = max(1, _MOMENT_BLOCK_ELEMENTS // X.shape[1])
    s = np.zeros(X.shape[1])
    ss = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], rows):
        block = np.asarray(X[start : start + rows], dtype=np.float64)
        release_pages(X, start, start + rows)
        s += block.sum(axis=0)
        ss += np.einsum("ij,ij->j", block, block)
    return s, ss


def moments_from_sums(s, ss, n):
    """Mean and std from :func:`column_sums` over ``n`` rows (constant columns get std 1,
    so that standardising leaves them centred at zero)."""
    mean = s / n
    std = np.sqrt(np.maximum(ss / n - mean**2, 0.0))
    std[std < 1e-12] = 1.0
    return mean, std


def column_moments(X):
    """Per-feature mean and std of ``X`` in one streamed pass (float64 accumulators).

    Reads blocks of rows, so a memory map is never loaded or copied as a whole.
    Constant columns get std 1, so that standardising leaves them centred at zero.
    """
    return moments_from_sums(*column_sums(X), X.shape[0])


# Selectors compute in float32 whatever dtype the pool arrives in (see ``as_compute_dtype``).
COMPUTE_DTYPE = np.float32
# The largest absolute value of a pool must lie in this range: beyond it float32 squared
# distances overflow (or underflow to zero) and a selection would silently mean nothing.
SCALE_RANGE = (1e-10, 1e15)
_SCALE_BLOCK_ELEMENTS = 2**20


def as_compute_dtype(X, name="X"):
    """``X`` (validated, 2-D, finite) in the dtype selectors compute in, float32.

    float32 is kept without a copy; float64 is rounded to float32 once (a copy half the
    size of the input), so the same values give the same selection whatever container or
    dtype they arrive in; float16 is kept as it is (every float16 value is exact in float32,
    and the components read it in float32 blocks, so a float16 pool is never copied whole).
    The largest absolute value must lie in ``SCALE_RANGE``: a pool scaled by 1e30 (or 1e-30)
    would overflow (underflow) in float32, so it raises a ValueError that says how to
    rescale instead of giving a meaningless selection. Reads ``X`` in blocks of rows.
    """
    rows = max(1, _SCALE_BLOCK_ELEMENTS // max(1, X.shape[1]))
    largest = 0.0
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows]
        largest = max(largest, abs(float(block.max())), abs(float(block.min())))
        release_pages(X, start, start + rows)
    low, high = SCALE_RANGE
    if largest > high or 0.0 < largest < low:
        size = "large" if largest > high else "small"
        raise ValueError(
            f"{name} is too {size} to select from: its largest absolute value is "
            f"{largest:.3g}, outside [{low:g}, {high:g}]. Selectors compute in float32, where "
            f"squared distances between such rows {'overflow' if size == 'large' else 'underflow'}"
            f" and the selection would mean nothing. Rescale {name} first, e.g. "
            f"{name} / np.abs({name}).max() or StandardScaler(); selections do not depend on "
            f"a global scale inside that range."
        )
    if X.dtype == np.float64:
        X = X.astype(COMPUTE_DTYPE)
    return X
