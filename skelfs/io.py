"""Reading a pool of row embeddings from a file: the readers behind the ``skelfs`` command.

:func:`read_pool` turns a ``.npy``, ``.npz``, ``.csv``/``.tsv`` or ``.parquet`` file into a
2-D array and per-row ids. Every problem with the file (unreadable, wrong format, missing key
or column, wrong shape, non-numeric or non-finite values) raises :class:`InputFileError`, a
``ValueError`` whose message is one line saying what is wrong and what to do; the command
line prints it as ``skelfs: error: ...`` with exit status 2.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_SUPPORTED = ".npy, .npz, .csv, .tsv or .parquet"
_CHECK_BLOCK = 65536  # rows per block when checking for NaN/inf


class InputFileError(ValueError):
    """A problem with an input file; the message is one line that says what to do."""


def _one_line(message):
    # Library messages may span lines (sklearn's NaN message does); ours are one line.
    return " ".join(str(message).split())


# -- reading the pool ------------------------------------------------------------------------
def read_pool(path, *, key=None, id_column=None):
    """Read an embeddings file into a 2-D array and per-row ids.

    Parameters
    ----------
    path : str or Path
        * ``.npy``: a 2-D numeric array (memory-mapped, not loaded).
        * ``.npz``: the array named ``key``; without ``key``, the only array, or the one
          named ``"X"``.
        * ``.csv`` / ``.tsv`` (optionally compressed, e.g. ``.csv.gz``) and ``.parquet``:
          a table. The embedding is the column named ``key`` holding one list per row
          (``"[0.1, 0.2]"`` strings in a CSV, list values in parquet); without ``key``,
          the only such list column if there is one, else every numeric column except
          ``id_column``.
    key : str, optional
        The npz array, or the table's list column, holding the embeddings.
    id_column : str, optional
        A table column (or an npz array) with one id per row; ids default to the row
        number.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        As stored (dtype kept), so that the CLI selects exactly what
        ``Selector(...).fit(X)`` does on the same array.
    ids : ndarray of shape (n_samples,)
    id_name : str
        ``id_column``, or ``"index"`` when ids are row numbers.

    Raises
    ------
    InputFileError
        For a missing or unreadable file, an unsupported format, a missing key or
        column, a wrong shape, non-numeric or non-finite values.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skelfs.io import read_pool
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.zeros((5, 3), dtype=np.float32))
    >>> X, ids, id_name = read_pool(path)
    >>> X.shape, ids.tolist(), id_name
    ((5, 3), [0, 1, 2, 3, 4], 'index')
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"cannot read {path}: no such file.")
    if path.is_dir():
        raise InputFileError(f"cannot read {path}: it is a directory; give an {_SUPPORTED} file.")
    suffixes = [s.lower() for s in path.suffixes]
    # "emb.csv.gz" is a table; pandas decompresses it.
    kind = next((s for s in reversed(suffixes) if s in (".npy", ".npz") + _TABLE_SUFFIXES),
                None)
    try:
        if kind == ".npy":
            X, ids, id_name = _read_npy(path, key, id_column)
        elif kind == ".npz":
            X, ids, id_name = _read_npz(path, key, id_column)
        elif kind in _TABLE_SUFFIXES:
            X, ids, id_name = _read_table(path, kind, key, id_column)
        else:
            raise InputFileError(
                f"cannot read {path}: unknown file type {path.suffix or '(no suffix)'!r}; "
                f"use {_SUPPORTED}.")
    except InputFileError:
        raise
    except ImportError as exc:  # parquet without pyarrow/fastparquet
        raise InputFileError(f"cannot read {path}: {_one_line(exc)} "
                       f"(pip install pyarrow, or: pip install skelfs[io]).") from None
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(f"cannot read {path}: {_one_line(exc)}") from None
    return _check_matrix(X, path), ids, id_name


def _read_npy(path, key, id_column):
    if key is not None:
        raise InputFileError(f"--key names an array in an .npz or a column in a table; {path} is "
                       f"an .npy file holding a single array: drop --key.")
    if id_column is not None:
        raise InputFileError(f"--id-column needs a table (.csv/.parquet) or an .npz with an id "
                       f"array; {path} is an .npy file holding only the embeddings.")
    # A memory map: a large pool is paged in by the selector, never copied here.
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    return X, np.arange(X.shape[0] if X.ndim else 0), "index"


def _read_npz(path, key, id_column):
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if key is None:
            if len(names) == 1:
                key = names[0]
            elif "X" in names:
                key = "X"
            else:
                raise InputFileError(
                    f"{path} holds {len(names)} arrays ({_listing(names)}); choose the "
                    f"embeddings with --key NAME.")
        elif key not in names:
            raise InputFileError(f"--key {key!r}: no such array in {path}; it holds {_listing(names)}.")
        X = archive[key]
        if id_column is None:
            return X, np.arange(X.shape[0] if X.ndim else 0), "index"
        if id_column not in names:
            raise InputFileError(f"--id-column {id_column!r}: no such array in {path}; it holds "
                           f"{_listing(names)}.")
        ids = archive[id_column]
    if ids.ndim != 1 or X.ndim < 1 or ids.shape[0] != X.shape[0]:
        raise InputFileError(f"--id-column {id_column!r} in {path} has shape {ids.shape}; it needs "
                       f"one id per row of {key!r}, shape ({X.shape[0] if X.ndim else 0},).")
    return X, ids, id_column


def _read_table(path, kind, key, id_column):
    import pandas as pd

    if kind in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, sep="\t" if kind == ".tsv" else ",")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if id_column is not None and id_column not in columns:
        raise InputFileError(f"--id-column {id_column!r}: no such column in {path}; its columns "
                       f"are {_listing(columns)}.")
    ids = (frame[id_column].to_numpy() if id_column is not None
           else np.arange(len(frame)))
    rest = frame.drop(columns=[id_column]) if id_column is not None else frame

    if key is not None:
        if key not in columns:
            raise InputFileError(f"--key {key!r}: no such column in {path}; its columns are "
                           f"{_listing(columns)}.")
        if key == id_column:
            raise InputFileError(f"--key and --id-column both name {key!r}; the embeddings and the "
                           f"ids must be different columns.")
        if not _is_list_column(rest[key]):
            raise InputFileError(
                f"--key {key!r}: the column holds single values, not one embedding (list) "
                f"per row; drop --key to use every numeric column as a feature.")
        return _stack_lists(rest[key], key), ids, id_column or "index"

    list_columns = [c for c in rest.columns if _is_list_column(rest[c])]
    if len(list_columns) == 1:
        return _stack_lists(rest[list_columns[0]], list_columns[0]), ids, id_column or "index"
    if len(list_columns) > 1:
        raise InputFileError(f"{path} has {len(list_columns)} columns holding lists "
                       f"({_listing(list_columns)}); choose the embeddings with --key NAME.")
    numeric = rest.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        raise InputFileError(
            f"{path} has no numeric column and no column of lists to use as embeddings "
            f"(columns: {_listing(columns)}); numbers such as '1,5' with a decimal comma "
            f"are read as text.")
    return numeric.to_numpy(), ids, id_column or "index"


def _is_list_column(column):
    """True for a column whose first non-missing value is a list/array or a '[...]' string."""
    import pandas as pd

    # object columns, and pandas' dedicated string dtype (the default text dtype in pandas 3)
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    values = column.dropna()
    if values.empty:
        return False
    first = values.iloc[0]
    if isinstance(first, str):
        return first.lstrip().startswith("[")
    return isinstance(first, (list, tuple, np.ndarray))


def _parse_list(value):
    if isinstance(value, str):
        # JSON lists "[0.1, 0.2]" and NumPy's own repr "[0.1 0.2]" alike.
        value = value.strip().strip("[]").replace(",", " ").split()
    return np.asarray(value, dtype=np.float64)


def _stack_lists(column, name):
    rows = []
    for position, value in enumerate(column.to_numpy()):
        try:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                raise ValueError("it is empty")
            row = _parse_list(value)
        except (ValueError, TypeError) as exc:
            raise InputFileError(f"column {name!r}, row {position}: cannot read it as a list of "
                           f"numbers ({_one_line(exc)}).") from None
        if row.ndim != 1:
            raise InputFileError(f"column {name!r}, row {position}: expected a flat list of numbers, "
                           f"got shape {row.shape}.")
        if rows and row.shape != rows[0].shape:
            raise InputFileError(f"column {name!r}: row {position} has {row.size} numbers but row 0 "
                           f"has {rows[0].size}; every embedding must have the same length.")
        rows.append(row)
    if not rows:
        return np.empty((0, 0))
    return np.stack(rows)


def _check_matrix(X, path):
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputFileError(f"{path}: the embeddings have dtype {X.dtype}; they must be numbers.")
    if X.ndim != 2:
        hint = (" (for a single feature, save X.reshape(-1, 1))" if X.ndim == 1 else "")
        raise InputFileError(f"{path}: the embeddings have shape {X.shape}; skelfs needs a 2-D array "
                       f"of shape (n_rows, n_features){hint}.")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise InputFileError(f"{path}: the embeddings have shape {X.shape}; skelfs needs at least "
                       f"2 rows and 1 feature.")
    if np.issubdtype(X.dtype, np.floating):
        # In blocks of rows: a memory-mapped pool is never held in memory at once.
        n_bad, first = 0, None
        for start in range(0, X.shape[0], _CHECK_BLOCK):
            bad = np.flatnonzero(~np.isfinite(X[start:start + _CHECK_BLOCK]).all(axis=1))
            if bad.size and first is None:
                first = start + int(bad[0])
            n_bad += bad.size
        if n_bad:
            rows = "1 row has" if n_bad == 1 else f"{n_bad} rows have"
            raise InputFileError(f"{path}: {rows} missing or infinite values (first: row {first}); "
                           f"drop or impute them first.")
    return X


def _listing(names, limit=10):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
