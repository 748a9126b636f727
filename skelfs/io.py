"""Reading a pool of row embeddings from a file: the readers behind the ``skelfs`` command.

:func:`read_pool` turns a ``.npy``, ``.npz``, ``.csv``/``.tsv`` or ``.parquet`` file into a
2-D array and per-row ids; :func:`frame_to_matrix` turns a table (a pandas DataFrame) into
its feature matrix, by the same rules for the command line and for a DataFrame given to a
selector's ``fit``. Every problem with the input (unreadable, wrong format, missing key or
column, wrong shape, text in a numeric column, missing or non-finite values) raises
:class:`InputFileError`, a ``ValueError`` whose message is one line saying what the file is
and what to do; the command line prints it as ``skelfs: error: ...`` with exit status 2.
docs/input.md lists what each input problem gets.
"""

from __future__ import annotations

import codecs
import re
import shlex
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_SUPPORTED = ".npy, .npz, .csv, .tsv or .parquet"
_CHECK_BLOCK = 65536  # rows per block when checking for NaN/inf
_MESSAGE_LIMIT = 300  # characters of a value or library message quoted in an error

# Column names that say "row id", not "feature" (case-insensitive).
_ID_NAME = re.compile(
    r"^(id|ids|idx|index|key|uuid|guid|row|rowid|row_id|row_number|"
    r"unnamed: ?\d+|__index_level_\d+__)$|[_ .-](id|idx|index|key|uuid)$",
    re.IGNORECASE,
)
_CAMEL_ID = re.compile(r"[a-z]Id$")
# "1,5" or "-1.234,5": a number written with a decimal comma.
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+([eE][-+]?\d+)?\s*$")
# What a file holds, from its first bytes.
_MAGIC = [
    (b"\x93NUMPY", "npy"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PAR1", "parquet"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]
_WHAT = {
    "npy": ("a NumPy array file (.npy)", "rename it to .npy"),
    "zip": (
        "a zip archive (the container of an .npz)",
        "rename it to .npz if numpy.savez wrote it, or unzip it and pass the file inside",
    ),
    "parquet": ("a Parquet table", "rename it to .parquet"),
    "gzip": (
        "gzip-compressed",
        "name it .csv.gz if it is a compressed table, or decompress it (gunzip)",
    ),
    "bz2": ("bzip2-compressed", "decompress it (bunzip2) or name it .csv.bz2"),
    "xz": ("xz-compressed", "decompress it (unxz) or name it .csv.xz"),
    "zstd": ("zstd-compressed", "decompress it (unzstd) or name it .csv.zst"),
    "pickle": (
        "a Python pickle",
        (
            "save the array with numpy.save(path, X) or as a CSV/Parquet table; skelfs "
            "never loads pickles, which can run code"
        ),
    ),
    "text": ("text (it looks like a CSV table)", "rename it to .csv (or .tsv if tab-separated)"),
    "empty": ("empty (0 bytes)", "write the embeddings into it first"),
    "binary": ("binary data of no format skelfs reads", f"save the embeddings as {_SUPPORTED}"),
}


class InputFileError(ValueError):
    """A problem with an input file or table; the message is one line that says what to do."""


class IdColumnWarning(UserWarning):
    """A feature column that looks like a row id (named like one, or unique increasing ints)."""


def _one_line(message, limit=None):
    # Library messages may span lines (sklearn's NaN message does); ours are one line.
    text = " ".join(str(message).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _short(value):
    return _one_line(repr(value), 60)


def _sniff(path):
    """What ``path`` holds, from its first bytes: a key of ``_WHAT``."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if b"\x00" in head:
        return "binary"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        try:
            head.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            return "binary"
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head) / len(head)
        return "text" if printable > 0.9 else "binary"
    return "text"


def _not_a(path, expected, found):
    what, todo = _WHAT[found]
    return InputFileError(f"cannot read {path}: it is {what}, not {expected}; {todo}.")


def read_pool(path, *, key=None, id_column=None, sep=None, decimal=None, return_columns=False):
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
          the only such list column if there is one, else the feature columns that
          :func:`frame_to_matrix` finds (numeric and bool columns, except ``id_column``;
          text columns are left out with a warning).
    key : str, optional
        The npz array, or the table's list column, holding the embeddings.
    id_column : str, optional
        A table column (or an npz array) with one id per row; ids default to the row
        number.
    sep, decimal : str, optional
        A CSV's column separator (default ``","``, tab for ``.tsv``) and decimal mark
        (default ``"."``), e.g. ``sep=";", decimal=","`` for a European spreadsheet export.
    return_columns : bool, default=False
        Also return the table's other columns (see ``columns`` below).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        As stored (dtype kept); selectors compute in float32 whatever the dtype (see
        :class:`skelfs.BaseSelector`), so every container of the same values gives the
        same selection.
    ids : ndarray of shape (n_samples,)
    id_name : str
        ``id_column``, or ``"index"`` when ids are row numbers.
    columns : pandas.DataFrame or None
        Only with ``return_columns=True``: the columns of a table that are neither the
        embeddings nor the ids (a text, a label or an image URL column, say), one row per
        row of ``X``, in the table's order; None for ``.npy`` and ``.npz`` files. The
        command line writes them next to each selected row.

    Raises
    ------
    InputFileError
        A ``ValueError`` with a one-line message, for a missing or unreadable file, a
        format that does not match its name, a missing key or column, a wrong shape,
        text in a numeric column, missing or non-finite values.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skelfs.io import read_pool
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.zeros((5, 3), dtype=np.float32))
    >>> X, ids, id_name = read_pool(path)
    >>> X.shape, ids.tolist(), id_name
    ((5, 3), [0, 1, 2, 3, 4], 'index')
    >>> import pandas as pd
    >>> table = os.path.join(tempfile.mkdtemp(), "pool.csv")
    >>> pd.DataFrame({"id": ["a", "b"], "text": ["a cat", "a dog"],
    ...               "embedding": ["[0.5, 1.0]", "[1.5, 0.0]"]}).to_csv(table, index=False)
    >>> X, ids, id_name, columns = read_pool(table, id_column="id", return_columns=True)
    >>> X.tolist(), ids.tolist(), columns["text"].tolist()
    ([[0.5, 1.0], [1.5, 0.0]], ['a', 'b'], ['a cat', 'a dog'])
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"cannot read {path}: no such file.")
    if path.is_dir():
        raise InputFileError(f"cannot read {path}: it is a directory; give an {_SUPPORTED} file.")
    suffixes = [s.lower() for s in path.suffixes]
    # "emb.csv.gz" is a table; pandas decompresses it.
    kind = next((s for s in reversed(suffixes) if s in (".npy", ".npz") + _TABLE_SUFFIXES), None)
    if (sep is not None or decimal is not None) and kind not in (".csv", ".tsv"):
        option = "--sep" if sep is not None else "--decimal"
        raise InputFileError(
            f"{option} applies to CSV text tables; {path} is not one (drop {option})."
        )
    try:
        found = _sniff(path)
        columns = None  # arrays hold no other columns
        if kind == ".npy":
            X, ids, id_name = _read_npy(path, found, key, id_column)
        elif kind == ".npz":
            X, ids, id_name = _read_npz(path, found, key, id_column)
        elif kind in (".parquet", ".pq"):
            if found != "parquet":
                raise _not_a(path, "a Parquet file", found)
            X, ids, id_name, columns = _read_table(path, None, key, id_column)
        elif kind in (".csv", ".tsv"):
            X, ids, id_name, columns = _read_csv(path, found, kind, key, id_column, sep, decimal)
        else:
            what = (
                ""
                if found in ("binary", "empty")
                else f" (it is {_WHAT[found][0]}: {_WHAT[found][1]})"
            )
            raise InputFileError(
                f"cannot read {path}: unknown file type {path.suffix or '(no suffix)'!r}"
                f"{what}; skelfs reads {_SUPPORTED}."
            )
    except InputFileError:
        raise
    except ImportError as exc:  # parquet without pyarrow/fastparquet
        raise InputFileError(
            f"cannot read {path}: {_one_line(exc, _MESSAGE_LIMIT)} "
            f"(pip install pyarrow, or: pip install skelfs[io])."
        ) from None
    except MemoryError:
        raise InputFileError(f"cannot read {path}: it does not fit in memory.") from None
    except (
        OSError,
        ValueError,
        TypeError,
        KeyError,
        EOFError,
        IndexError,
        AttributeError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise InputFileError(
            f"cannot read {path}: it is damaged or not in the format its "
            f"name says ({type(exc).__name__}: "
            f"{_one_line(exc, _MESSAGE_LIMIT)})."
        ) from None
    X = _check_matrix(X, path)
    return (X, ids, id_name, columns) if return_columns else (X, ids, id_name)


def _read_npy(path, found, key, id_column):
    if key is not None:
        raise InputFileError(
            f"--key names an array in an .npz or a column in a table; {path} "
            f"is an .npy file holding a single array: drop --key."
        )
    if id_column is not None:
        raise InputFileError(
            f"--id-column needs a table (.csv/.parquet) or an .npz with an id "
            f"array; {path} is an .npy file holding only the embeddings."
        )
    if found != "npy":
        raise _not_a(path, "a NumPy .npy array file", found)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (
                np.lib.format.read_array_header_1_0(f)
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0(f)
            )
        except ValueError as exc:
            raise InputFileError(
                f"cannot read {path}: its .npy header is damaged "
                f"({_one_line(exc, 120)}); save the array again with "
                f"numpy.save."
            ) from None
        offset = f.tell()
    _check_array_dtype(dtype, f"{path}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = path.stat().st_size - offset
    if actual < expected:
        raise InputFileError(
            f"cannot read {path}: it is truncated: its header announces an "
            f"array of shape {shape} ({expected} bytes of {dtype}) but it "
            f"holds {actual} bytes; write it again (an interrupted copy?)."
        )
    # A memory map: a large pool is paged in by the selector, never copied here.
    X = np.load(path, mmap_mode="r" if expected else None, allow_pickle=False)
    return X, np.arange(X.shape[0] if X.ndim else 0), "index"


def _check_array_dtype(dtype, where):
    if dtype.hasobject:
        raise InputFileError(
            f"{where} holds Python objects (dtype object), which NumPy stores as a pickle; "
            f"skelfs never loads pickles, which can run code: save a numeric array instead, "
            f"e.g. numpy.save(path, np.asarray(X, dtype=np.float32))."
        )
    if dtype.names is not None:
        raise InputFileError(
            f"{where} is a structured array with fields {list(dtype.names)}; "
            f"save the embeddings as a plain 2-D numeric array."
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise InputFileError(
            f"{where} holds complex numbers ({dtype}); skelfs needs real "
            f"features: save X.real, np.abs(X), or both parts as columns."
        )
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise InputFileError(
            f"{where} holds {dtype} values, not numbers; save the embeddings as a numeric array."
        )


def _read_npz(path, found, key, id_column):
    if found != "zip":
        raise _not_a(path, "an .npz archive (a zip file written by numpy.savez)", found)
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if not names:
            raise InputFileError(
                f"{path} is an .npz archive holding no arrays; save the "
                f"embeddings into it, e.g. numpy.savez(path, X=X)."
            )
        if key is None:
            if len(names) == 1:
                key = names[0]
            elif "X" in names:
                key = "X"
            else:
                raise InputFileError(
                    f"{path} holds {len(names)} arrays ({_listing(names)}); choose the "
                    f"embeddings with --key NAME."
                )
        elif key not in names:
            raise InputFileError(
                f"--key {key!r}: no such array in {path}; it holds {_listing(names)}."
            )
        X = _npz_member(archive, key, path)
        if id_column is None:
            return X, np.arange(X.shape[0] if X.ndim else 0), "index"
        if id_column not in names:
            raise InputFileError(
                f"--id-column {id_column!r}: no such array in {path}; it holds {_listing(names)}."
            )
        ids = _npz_member(archive, id_column, path)
    if ids.ndim != 1 or X.ndim < 1 or ids.shape[0] != X.shape[0]:
        raise InputFileError(
            f"--id-column {id_column!r} in {path} has shape {ids.shape}; it "
            f"needs one id per row of {key!r}, shape "
            f"({X.shape[0] if X.ndim else 0},)."
        )
    return X, ids, id_column


def _npz_member(archive, name, path):
    where = f"array {name!r} of {path}"
    try:
        return archive[name]
    except ValueError as exc:
        text = str(exc).lower()
        if "object arrays" not in text and "pickle" not in text:
            raise
    # Pickled objects, or a member that is no .npy at all: never load it, say what it is.
    member = name if name in archive.zip.namelist() else f"{name}.npy"
    with archive.zip.open(member) as f:
        head = f.read(6)
    if head.startswith(b"\x93NUMPY"):
        _check_array_dtype(np.dtype(object), where)
    raise InputFileError(
        f"{where} is not a NumPy array (the archive member is no .npy file); "
        f"write the archive with numpy.savez(path, X=X)."
    )


def _sep_hint(sep, decimal):
    return (
        f"pass the separator with --sep (e.g. --sep ';' or --sep $'\\t'; now {sep!r}) and "
        f"the decimal mark with --decimal (e.g. --decimal ','; now {decimal!r})"
    )


def _read_csv(path, found, kind, key, id_column, sep, decimal):
    import pandas as pd

    compression = {"gzip": "gzip", "bz2": "bz2", "xz": "xz", "zstd": "zstd", "zip": "zip"}
    if found not in ("text", "empty") and found not in compression:
        raise _not_a(path, "a CSV text table", found)
    sep = sep if sep is not None else ("\t" if kind == ".tsv" else ",")
    decimal = decimal if decimal is not None else "."
    if sep == decimal:
        raise InputFileError(
            f"--sep and --decimal are both {sep!r}; a CSV needs different "
            f"ones (e.g. --sep ';' --decimal ',')."
        )
    try:
        with warnings.catch_warnings():
            # A row with more fields than the header: pandas would drop or shift data.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                decimal=decimal,
                index_col=False,
                compression=compression.get(found),
                encoding="utf-8",
            )
    except pd.errors.EmptyDataError:
        raise InputFileError(
            f"cannot read {path}: it is empty (no header, no rows); write the table into it first."
        ) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"cannot read {path}: it is not UTF-8 text (byte "
            f"{exc.object[exc.start : exc.start + 1]!r} at position "
            f"{exc.start}); save it as UTF-8 CSV."
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        detail = "" if isinstance(exc, Warning) else f" ({_one_line(exc, 120)})"
        raise InputFileError(
            f"cannot split {path} into columns: some rows have more fields "
            f"than the header{detail}; {_sep_hint(sep, decimal)}."
        ) from None
    columns = [str(c) for c in frame.columns]
    if len(frame.columns) == 1 and key is None:
        other = [s for s in (";", "\t", "|", ",") if s != sep and s in columns[0]]
        if other:
            hint = _sep_hint(other[0], decimal).replace(f"now {other[0]!r}", f"now {sep!r}")
            raise InputFileError(
                f"{path}: its rows do not split into columns with the separator {sep!r} (the "
                f"header is one column, {_short(columns[0])}); {hint}."
            )
    if len(frame) == 0:
        raise InputFileError(
            f"{path} has a header ({_listing(columns)}) but no data rows; "
            f"write the rows of the pool below it."
        )
    return _table_pool(frame, path, key, id_column, decimal_hint=True)


def _read_table(path, _, key, id_column):
    import pandas as pd

    frame = pd.read_parquet(path)
    if len(frame) == 0:
        raise InputFileError(
            f"{path} has columns ({_listing([str(c) for c in frame.columns])}) but no rows."
        )
    return _table_pool(frame, path, key, id_column)


def _table_pool(frame, path, key, id_column, decimal_hint=False):
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise InputFileError(
            f"{path}: the column name(s) {_listing(dup)} appear more than "
            f"once; give every column its own name."
        )
    frame.columns = columns
    if id_column is not None and id_column not in columns:
        raise InputFileError(
            f"--id-column {id_column!r}: no such column in {path}; its "
            f"columns are {_listing(columns)}."
        )
    ids = (
        _id_values(frame[id_column], id_column) if id_column is not None else np.arange(len(frame))
    )
    rest = frame.drop(columns=[id_column]) if id_column is not None else frame

    if key is not None:
        if key not in columns:
            raise InputFileError(
                f"--key {key!r}: no such column in {path}; its columns are {_listing(columns)}."
            )
        if key == id_column:
            raise InputFileError(
                f"--key and --id-column both name {key!r}; the embeddings and "
                f"the ids must be different columns."
            )
        if not _is_list_column(rest[key]):
            raise InputFileError(
                f"--key {key!r}: the column holds single values, not one embedding (list) "
                f"per row; drop --key to use every numeric column as a feature."
            )
        return _stack_lists(rest[key], key), ids, id_column or "index", rest.drop(columns=[key])

    list_columns = [c for c in rest.columns if _is_list_column(rest[c])]
    if len(list_columns) == 1:
        (key,) = list_columns
        return _stack_lists(rest[key], key), ids, id_column or "index", rest.drop(columns=[key])
    if len(list_columns) > 1:
        raise InputFileError(
            f"{path} has {len(list_columns)} columns holding lists "
            f"({_listing(list_columns)}); choose the embeddings with --key "
            f"NAME."
        )
    X, features = _frame_matrix(
        rest, text="ignore", source=str(path), decimal_hint=decimal_hint, stacklevel=2
    )
    return X, ids, id_column or "index", rest.drop(columns=features)


def _id_values(column, name):
    import pandas as pd

    missing = column.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputFileError(
            f"--id-column {name!r} has missing values ({int(missing.sum())} "
            f"blank, first: row {row}); every row needs an id: fill them in "
            f"or drop --id-column to use row numbers."
        )
    values = column.to_numpy()
    if values.dtype == object:
        bad = next(
            (
                (i, v)
                for i, v in enumerate(values)
                if not isinstance(
                    v, (str, bytes, bool, int, float, np.generic, pd.Timestamp, pd.Timedelta)
                )
            ),
            None,
        )
        if bad is not None:
            raise InputFileError(
                f"--id-column {name!r} holds {type(bad[1]).__name__} values "
                f"(row {bad[0]}: {_short(bad[1])}); ids must be single "
                f"values such as names or numbers."
            )
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        values = np.asarray(column.astype(object).to_numpy())
    return values


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
    out = np.asarray(value, dtype=np.float64)
    return out


def _stack_lists(column, name):
    rows = []
    for position, value in enumerate(column.to_numpy()):
        try:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                raise ValueError("it is blank: a missing value")
            row = _parse_list(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputFileError(
                f"column {name!r}, row {position}: cannot read "
                f"{_short(value)} as a list of numbers "
                f"({_one_line(exc, 80)})."
            ) from None
        if row.ndim != 1:
            raise InputFileError(
                f"column {name!r}, row {position}: expected a flat list of "
                f"numbers, got shape {row.shape}."
            )
        if rows and row.shape != rows[0].shape:
            raise InputFileError(
                f"column {name!r}: row {position} has {row.size} numbers but "
                f"row 0 has {rows[0].size}; every embedding must have the "
                f"same length."
            )
        rows.append(row)
    if not rows:
        return np.empty((0, 0))
    return np.stack(rows)


def looks_like_id(values, name):
    """Whether a column named ``name`` with ``values`` looks like a row id, not a feature.

    True when the name is one of the usual id names (``id``, ``index``, ``user_id``,
    ``Unnamed: 0``, ...), or the values are unique, strictly increasing integers (at least
    ten of them), as a row number or a database key is.

    Parameters
    ----------
    values : array-like of shape (n_rows,)
        The column's values.
    name : str
        The column's name.

    Returns
    -------
    bool
    """
    name = str(name)
    if _ID_NAME.search(name) or _CAMEL_ID.search(name):
        return True
    values = np.asarray(values)
    if values.size < 10 or values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        return False
    return bool(np.all(np.diff(values) > 0))


def frame_to_matrix(frame, *, text="error", source="X", decimal_hint=False):
    """The feature matrix of a table, by the rules the command line and ``fit`` share.

    * numeric columns (NumPy or pandas nullable ``Int64``/``Float32``/``Float64``...) and
      bool columns (``bool``, ``boolean``; as 0/1) are features;
    * a missing value (NaN, ``pd.NA``, a blank cell) is an error naming the column and row;
    * a column mixing numbers and text is an error naming the column, the row and the value;
    * a column of text only is an error (``text="error"``, the API) or left out with a
      warning (``text="ignore"``, the command line, whose tables carry names and notes);
    * a feature column that looks like a row id (:func:`looks_like_id`) gets an
      :class:`IdColumnWarning` saying how to exclude it.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, one row per sample.
    text : {"error", "ignore"}, default="error"
        What a column of text only gets: an error, or left out with a warning.
    source : str, default="X"
        How messages name the table.
    decimal_hint : bool, default=False
        Whether messages about numbers with a decimal comma suggest ``--decimal``.

    Returns
    -------
    X : ndarray of shape (n_rows, n_features)
        The columns' common float dtype when they share one (no copy where pandas allows),
        else float64.

    Raises
    ------
    InputFileError

    Examples
    --------
    >>> import pandas as pd
    >>> from skelfs.io import frame_to_matrix
    >>> frame = pd.DataFrame({"a": pd.array([1, 2], dtype="Int64"), "b": [True, False]})
    >>> frame_to_matrix(frame)
    array([[1., 1.],
           [2., 0.]])
    """
    return _frame_matrix(frame, text=text, source=source, decimal_hint=decimal_hint)[0]


def _frame_matrix(frame, *, text, source, decimal_hint, stacklevel=3):
    """:func:`frame_to_matrix`, and the names of the feature columns it used."""
    import pandas as pd

    how = (
        "pass --decimal ','"
        if decimal_hint
        else "convert them, e.g. with pd.to_numeric(s.str.replace(',', '.'))"
    )
    features, converted, ignored = [], {}, []
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
        ):
            features.append(name)
            continue
        if pd.api.types.is_complex_dtype(dtype):
            raise InputFileError(
                f"{source}: column {name!r} holds complex numbers; skelfs "
                f"needs real features (use its real part or modulus)."
            )
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            raise InputFileError(
                f"{source}: column {name!r} has dtype {dtype}, not numbers; "
                f"drop it or convert it to numbers."
            )
        present = column.notna().to_numpy()
        values = column.to_numpy(dtype=object)
        numbers = pd.to_numeric(column.where(column.notna(), None), errors="coerce")
        is_number = numbers.notna().to_numpy()
        # bool objects are numbers to pandas; True/False text is not
        bad = np.flatnonzero(present & ~is_number)
        if bad.size == 0:
            if present.any():
                converted[name] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
                features.append(name)
                continue
            ignored.append(name)  # all blank: no information either way
            continue
        row, value = int(bad[0]), values[bad[0]]
        if isinstance(value, str) and _DECIMAL_COMMA.match(value):
            raise InputFileError(
                f"{source}: column {name!r} holds numbers written with a "
                f"decimal comma (row {row}: {_short(value)}); {how}."
            )
        if is_number.any():
            good = int(np.flatnonzero(is_number)[0])
            raise InputFileError(
                f"{source}: column {name!r} mixes numbers and text: row {row} "
                f"holds {_short(value)} (row {good} holds "
                f"{_short(values[good])}); fix or remove that value, or drop "
                f"the column."
            )
        ignored.append(name)
    if ignored and text == "error":
        raise InputFileError(
            f"{source} has column(s) of text, not numbers: "
            f"{_listing([str(c) for c in ignored])}; selectors use numeric "
            f"features only: drop them, e.g. X.drop(columns=[...])."
        )
    if not features:
        hint = (
            " Numbers such as '1,5' with a decimal comma are read as text: pass --decimal ','."
            if decimal_hint
            else ""
        )
        raise InputFileError(
            f"{source} has no numeric column to use as features (columns: "
            f"{_listing([str(c) for c in frame.columns])}).{hint}"
        )
    if ignored:
        warnings.warn(
            f"{source}: leaving out the text column(s) {_listing(ignored)}; the "
            f"features are the {len(features)} numeric column(s).",
            UserWarning,
            stacklevel=stacklevel,
        )
    for name in features:
        column = frame[name]
        missing = column.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise InputFileError(
                f"{source}: column {name!r} has missing values "
                f"({int(missing.sum())}, first: row {row}); drop or impute "
                f"them first."
            )
    for name in features:
        column = converted.get(name, frame[name])
        values = column if name in converted else column.to_numpy()
        if looks_like_id(values, name):
            why = "named like one" if looks_like_id([], name) else "unique increasing integers"
            warnings.warn(
                f"{source}: column {name!r} looks like a row id ({why}) but is used as a "
                f"feature; exclude it: --id-column {shlex.quote(str(name))} on the command "
                f"line, X.drop(columns={str(name)!r}) in Python.",
                IdColumnWarning,
                stacklevel=stacklevel,
            )
    dtypes = {frame[n].dtype for n in features if n not in converted}
    if not converted and len(dtypes) == 1:
        (dtype,) = dtypes
        if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
            X = (
                frame[features].to_numpy()
                if len(features) < len(frame.columns)
                else frame.to_numpy()
            )
            return X, features
    X = np.empty((len(frame), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = (
            converted[name]
            if name in converted
            else frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        )
    return X, features


def _check_matrix(X, path):
    _check_array_dtype(X.dtype, f"{path}: the embeddings")
    if X.ndim != 2:
        hint = " (for a single feature, save X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise InputFileError(
            f"{path}: the embeddings have shape {X.shape}; skelfs needs a 2-D "
            f"array of shape (n_rows, n_features){hint}."
        )
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise InputFileError(
            f"{path}: the embeddings have shape {X.shape}; skelfs needs at "
            f"least 2 rows and 1 feature."
        )
    if np.issubdtype(X.dtype, np.floating):
        # In blocks of rows: a memory-mapped pool is never held in memory at once.
        n_bad, first = 0, None
        for start in range(0, X.shape[0], _CHECK_BLOCK):
            bad = np.flatnonzero(~np.isfinite(X[start : start + _CHECK_BLOCK]).all(axis=1))
            if bad.size and first is None:
                first = start + int(bad[0])
            n_bad += bad.size
        if n_bad:
            rows = "1 row has" if n_bad == 1 else f"{n_bad} rows have"
            raise InputFileError(
                f"{path}: {rows} missing or infinite values (first: row "
                f"{first}); drop or impute them first."
            )
    return X


def _listing(names, limit=10):
    shown = ", ".join(_short(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
