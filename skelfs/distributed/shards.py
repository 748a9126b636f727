"""Shards on disk: list them, count their rows, split them over workers, read a worker's.

A pool too large for one machine is kept as many ``.npy`` or ``.parquet`` files. Global
row ids are positions in the concatenation of the shards in sorted path order; each
worker gets a contiguous run of shards, chosen so that the workers' row counts are as
even as the shard boundaries allow.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

SHARD_SUFFIXES = (".npy", ".parquet", ".pq")


def list_shards(paths):
    """Sorted shard paths from a glob pattern, a directory, a path, or a list of those.

    Parameters
    ----------
    paths : str, Path or list of them
        ``"shards/*.npy"``, a directory (its ``.npy`` / ``.parquet`` files), or paths.

    Returns
    -------
    list of Path
        Sorted, without duplicates.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skelfs.distributed.shards import list_shards
    >>> d = Path(tempfile.mkdtemp())
    >>> for i in (1, 0):
    ...     np.save(d / f"part-{i}.npy", np.zeros((2, 3)))
    >>> [p.name for p in list_shards(str(d / "*.npy"))]
    ['part-0.npy', 'part-1.npy']
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found = set()
    for item in items:
        item = str(item)
        if Path(item).is_dir():
            found.update(p for p in Path(item).iterdir() if p.suffix in SHARD_SUFFIXES)
        elif glob.has_magic(item):
            found.update(Path(p) for p in glob.glob(item))
        elif Path(item).exists():
            found.add(Path(item))
        else:
            raise FileNotFoundError(f"paths: no such file or directory: {item}.")
    shards = sorted(p for p in found if p.is_file())
    if not shards:
        raise ValueError(
            f"paths={paths!r} matches no shard; give a glob such as 'shards/*.npy', a "
            f"directory of .npy / .parquet files, or a list of paths."
        )
    bad = [p for p in shards if p.suffix not in SHARD_SUFFIXES]
    if bad:
        raise ValueError(
            f"paths: {bad[0]} is not a .npy or .parquet shard; the distributed engine reads "
            f"those two formats (convert other files with skelfs.io.read_pool and np.save)."
        )
    return shards


def count_rows(path):
    """Rows of a shard, from its header or metadata only (no data is read).

    Parameters
    ----------
    path : str or Path
        A ``.npy`` or ``.parquet`` shard.

    Returns
    -------
    int
        Its number of rows.
    """
    path = Path(path)
    if path.suffix == ".npy":
        return int(np.load(path, mmap_mode="r").shape[0])
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def assign_shards(row_counts, num_workers):
    """Split shards (in order) into ``num_workers`` contiguous runs with even row counts.

    Parameters
    ----------
    row_counts : sequence of int
        Rows per shard, in sorted path order.
    num_workers : int
        Number of workers; at most the number of shards.

    Returns
    -------
    list of range
        Shard positions per worker, in rank order; every worker gets at least one.

    Examples
    --------
    >>> from skelfs.distributed.shards import assign_shards
    >>> assign_shards([100, 100, 100, 100], 2)
    [range(0, 2), range(2, 4)]
    """
    counts = np.asarray(row_counts, dtype=np.int64)
    if not 1 <= num_workers <= counts.size:
        raise ValueError(
            f"num_workers={num_workers} must be between 1 and the number of shards "
            f"({counts.size}): every worker reads whole shards. Use fewer workers or split "
            f"the data into more shards."
        )
    ends = np.cumsum(counts)
    targets = ends[-1] * np.arange(1, num_workers) / num_workers
    # Each boundary after the shard whose end is nearest its target, kept strictly
    # increasing so that every worker has at least one shard.
    cuts = []
    for w, target in enumerate(targets, start=1):
        cut = int(np.argmin(np.abs(ends[:-1] - target))) + 1
        low = (cuts[-1] + 1) if cuts else 1
        high = counts.size - (num_workers - w)
        cuts.append(min(max(cut, low), high))
    bounds = [0, *cuts, counts.size]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def read_shards(paths, *, key=None, id_column=None):
    """One worker's rows: its shards read and stacked (a single ``.npy`` stays mapped).

    Parameters
    ----------
    paths : list of str or Path
        The worker's shards, in order.
    key : str, optional
        The embedding column of parquet shards (see :func:`skelfs.io.read_pool`).
    id_column : str, optional
        A column of row ids to return too.

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
        The shards' rows, in order.
    ids : ndarray or None
        The ``id_column`` values, or None without ``id_column``.
    """
    from ..io import read_pool

    blocks, ids = [], []
    for path in paths:
        X, row_ids, _ = read_pool(path, key=key, id_column=id_column)
        blocks.append(X)
        ids.append(row_ids)
    X = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return X, (np.concatenate(ids) if id_column is not None else None)
