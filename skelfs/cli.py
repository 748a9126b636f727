"""The ``skelfs`` command line: choose rows to label from an embeddings file.

Three sub-commands share one way of reading the pool and building the selector::

    skelfs select DATA --budget 0.1 -o to_label.csv     # the rows to send to annotators
    skelfs score  DATA --budget 0.1 -o scores.csv       # every row: scores, pseudo-label, selected
    skelfs plot   DATA --budget 0.1 -o figures/         # difficulty.png, selection.png
    skelfs plot --budget-curve results.csv -o figures/  # accuracy vs budget, one PNG per dataset

``DATA`` is a ``.npy`` (2-D array), ``.npz`` (``--key``), ``.csv``/``.tsv`` or ``.parquet``
file; see :func:`read_pool`. Every user error (unreadable file, wrong shape, missing key or
column, bad option value, an estimator's ``ValueError``/``TypeError``) is reported as one
line ``skelfs: error: ...`` on stderr with exit status 2. Progress and ``-v`` messages go
to stderr, so stdout carries only the result summary (``--json``: one JSON object).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .registry import SELECTORS, resolve_name

#: Per-row score attribute of each selector, in order of preference (first found is used).
SCORE_ATTRIBUTES = ("scores_", "typicality_")

_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_SUPPORTED = ".npy, .npz, .csv, .tsv or .parquet"
_CHECK_BLOCK = 65536  # rows per block when checking for NaN/inf


class CLIError(Exception):
    """A user error: printed as one ``skelfs: error: ...`` line, exit status 2."""


def _one_line(message):
    # Estimator messages may span lines (sklearn's NaN message does); the CLI promises one.
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
    CLIError
        For a missing or unreadable file, an unsupported format, a missing key or
        column, a wrong shape, non-numeric or non-finite values.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skelfs.cli import read_pool
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.zeros((5, 3), dtype=np.float32))
    >>> X, ids, id_name = read_pool(path)
    >>> X.shape, ids.tolist(), id_name
    ((5, 3), [0, 1, 2, 3, 4], 'index')
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"cannot read {path}: no such file.")
    if path.is_dir():
        raise CLIError(f"cannot read {path}: it is a directory; give an {_SUPPORTED} file.")
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
            raise CLIError(
                f"cannot read {path}: unknown file type {path.suffix or '(no suffix)'!r}; "
                f"use {_SUPPORTED}.")
    except CLIError:
        raise
    except ImportError as exc:  # parquet without pyarrow/fastparquet
        raise CLIError(f"cannot read {path}: {_one_line(exc)} "
                       f"(pip install pyarrow, or: pip install skelfs[io]).") from None
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CLIError(f"cannot read {path}: {_one_line(exc)}") from None
    return _check_matrix(X, path), ids, id_name


def _read_npy(path, key, id_column):
    if key is not None:
        raise CLIError(f"--key names an array in an .npz or a column in a table; {path} is "
                       f"an .npy file holding a single array: drop --key.")
    if id_column is not None:
        raise CLIError(f"--id-column needs a table (.csv/.parquet) or an .npz with an id "
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
                raise CLIError(
                    f"{path} holds {len(names)} arrays ({_listing(names)}); choose the "
                    f"embeddings with --key NAME.")
        elif key not in names:
            raise CLIError(f"--key {key!r}: no such array in {path}; it holds {_listing(names)}.")
        X = archive[key]
        if id_column is None:
            return X, np.arange(X.shape[0] if X.ndim else 0), "index"
        if id_column not in names:
            raise CLIError(f"--id-column {id_column!r}: no such array in {path}; it holds "
                           f"{_listing(names)}.")
        ids = archive[id_column]
    if ids.ndim != 1 or X.ndim < 1 or ids.shape[0] != X.shape[0]:
        raise CLIError(f"--id-column {id_column!r} in {path} has shape {ids.shape}; it needs "
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
        raise CLIError(f"--id-column {id_column!r}: no such column in {path}; its columns "
                       f"are {_listing(columns)}.")
    ids = (frame[id_column].to_numpy() if id_column is not None
           else np.arange(len(frame)))
    rest = frame.drop(columns=[id_column]) if id_column is not None else frame

    if key is not None:
        if key not in columns:
            raise CLIError(f"--key {key!r}: no such column in {path}; its columns are "
                           f"{_listing(columns)}.")
        if key == id_column:
            raise CLIError(f"--key and --id-column both name {key!r}; the embeddings and the "
                           f"ids must be different columns.")
        if not _is_list_column(rest[key]):
            raise CLIError(
                f"--key {key!r}: the column holds single values, not one embedding (list) "
                f"per row; drop --key to use every numeric column as a feature.")
        return _stack_lists(rest[key], key), ids, id_column or "index"

    list_columns = [c for c in rest.columns if _is_list_column(rest[c])]
    if len(list_columns) == 1:
        return _stack_lists(rest[list_columns[0]], list_columns[0]), ids, id_column or "index"
    if len(list_columns) > 1:
        raise CLIError(f"{path} has {len(list_columns)} columns holding lists "
                       f"({_listing(list_columns)}); choose the embeddings with --key NAME.")
    numeric = rest.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        raise CLIError(
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
            raise CLIError(f"column {name!r}, row {position}: cannot read it as a list of "
                           f"numbers ({_one_line(exc)}).") from None
        if row.ndim != 1:
            raise CLIError(f"column {name!r}, row {position}: expected a flat list of numbers, "
                           f"got shape {row.shape}.")
        if rows and row.shape != rows[0].shape:
            raise CLIError(f"column {name!r}: row {position} has {row.size} numbers but row 0 "
                           f"has {rows[0].size}; every embedding must have the same length.")
        rows.append(row)
    if not rows:
        return np.empty((0, 0))
    return np.stack(rows)


def _check_matrix(X, path):
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise CLIError(f"{path}: the embeddings have dtype {X.dtype}; they must be numbers.")
    if X.ndim != 2:
        hint = (" (for a single feature, save X.reshape(-1, 1))" if X.ndim == 1 else "")
        raise CLIError(f"{path}: the embeddings have shape {X.shape}; skelfs needs a 2-D array "
                       f"of shape (n_rows, n_features){hint}.")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise CLIError(f"{path}: the embeddings have shape {X.shape}; skelfs needs at least "
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
            raise CLIError(f"{path}: {rows} missing or infinite values (first: row {first}); "
                           f"drop or impute them first.")
    return X


def _listing(names, limit=10):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# -- option parsing ---------------------------------------------------------------------------
def parse_budget(text):
    """``"100"`` -> 100 rows, ``"0.1"`` -> 10% of the pool; anything else is an error.

    Parameters
    ----------
    text : str
        The ``--budget`` value: a fraction in (0, 1) or a whole number of rows >= 1.

    Returns
    -------
    int or float
        The budget as a selector's ``budget`` takes it.

    Raises
    ------
    argparse.ArgumentTypeError
        For anything else (argparse reports it as a usage error).

    Examples
    --------
    >>> from skelfs.cli import parse_budget
    >>> parse_budget("100"), parse_budget("0.1")
    (100, 0.1)
    """
    text = str(text).strip()
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number: give a fraction in (0, 1) such as 0.1, or a "
                f"number of rows such as 500.") from None
        if not 0.0 < value < 1.0:  # also rejects nan and inf
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: a fraction of the pool must lie in (0, 1), e.g. 0.1 "
                f"for 10%; for a number of rows give an integer such as 500.") from None
        return value
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: a number of rows must be an integer >= 1; for a "
            f"fraction of the pool give a number in (0, 1).")
    return value


def _parse_beta(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give 'auto' or a fraction in [0, 1).") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: beta, the fraction of hardest rows dropped, must lie "
            f"in [0, 1), or be 'auto'.")
    return value


def _parse_method(text):
    try:
        return resolve_name(text)  # the registry's name (aliases accepted)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _MethodsFormatter(argparse.HelpFormatter):
    """Wraps help text as usual, except the method list (one line per method)."""

    def _fill_text(self, text, width, indent):
        if text.startswith("methods ("):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _methods_help():
    width = max(map(len, SELECTORS))
    return "methods (--method NAME):\n" + "\n".join(
        f"  {name:<{width}}  {spec.description}" for name, spec in SELECTORS.items())


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``skelfs: error: ...``), exit status 2."""

    def error(self, message):
        hint = f" (see: {self.prog} --help)"
        self.exit(2, f"skelfs: error: {_one_line(message)}{hint}\n")


def build_parser():
    """The ``skelfs`` argument parser (sub-commands ``select``, ``score`` and ``plot``).

    Returns
    -------
    argparse.ArgumentParser
        Its errors are one ``skelfs: error: ...`` line, exit status 2.

    Examples
    --------
    >>> from skelfs.cli import build_parser
    >>> args = build_parser().parse_args(["select", "X.npy", "--budget", "100", "-o", "o.csv"])
    >>> args.command, args.budget, args.method
    ('select', 100, 'elfs')
    """
    from . import __version__

    parser = _Parser(
        prog="skelfs",
        description="Label-free coreset selection (ELFS): choose which rows of an unlabelled "
                    "pool to send to annotators.",
        epilog="Run 'skelfs COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"skelfs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_pool_options(sub, data_required=True):
        data = sub.add_argument_group("input")
        data.add_argument("data", metavar="DATA", nargs=None if data_required else "?",
                          help=f"embeddings file: {_SUPPORTED}")
        data.add_argument("--key", metavar="NAME",
                          help="the array in an .npz, or the table column holding one list "
                               "per row (default: the only one, or 'X')")
        data.add_argument("--id-column", metavar="NAME",
                          help="table column (or .npz array) with row ids; default: the row "
                               "number, written as 'index'")
        sel = sub.add_argument_group("selection")
        sel.add_argument("--budget", type=parse_budget, default=0.1, metavar="B",
                         help="rows to select: a fraction in (0, 1) or a count >= 1 "
                              "(default: 0.1)")
        sel.add_argument("--method", type=_parse_method, default="elfs", metavar="NAME",
                         help=f"one of {', '.join(SELECTORS)} (default: elfs; listed below)")
        sel.add_argument("--beta", type=_parse_beta, metavar="BETA",
                         help="ELFS: fraction of hardest rows dropped, in [0, 1), or 'auto' "
                              "(default: auto)")
        sel.add_argument("--n-clusters", type=int, metavar="K",
                         help="number of k-means (pseudo-label) clusters (default: the "
                              "method's own rule)")
        sel.add_argument("--clusterer", choices=("kmeans", "temi"), default=None,
                         help="ELFS: pseudo-labels from k-means or TEMI deep clustering "
                              "(default: kmeans)")
        sel.add_argument("--random-state", type=int, default=0, metavar="SEED",
                         help="seed; the same seed and file give the same rows (default: 0)")
        sel.add_argument("--device", metavar="DEV",
                         help="torch device: auto, cpu, cuda or cuda:N (default: the "
                              "method's own)")
        sel.add_argument("--n-jobs", type=int, metavar="N",
                         help="most threads to use (default: all; -1: all)")
        sub.add_argument("--json", action="store_true",
                         help="print a one-object JSON summary on stdout")
        sub.add_argument("-v", "--verbose", action="count", default=0,
                         help="stages and progress bars on stderr")

    listed = {"epilog": _methods_help(), "formatter_class": _MethodsFormatter}
    select = commands.add_parser(
        "select", **listed,
        help="write the rows to label (id, score, pseudo-label) to a CSV",
        description="Select rows to label and write them, one per line, to a CSV: the id "
                    "(or row index), the score and the pseudo-label where the method has them.")
    add_pool_options(select)
    select.add_argument("-o", "--output", required=True, metavar="CSV",
                        help="output CSV of the selected rows")

    score = commands.add_parser(
        "score", **listed,
        help="write every row's scores, pseudo-label and selection flag to a CSV",
        description="Run a selection and write one line per row of the pool: id, "
                    "pseudo-label, selected (0/1) and every difficulty score.")
    add_pool_options(score)
    score.add_argument("-o", "--output", required=True, metavar="CSV",
                       help="output CSV, one line per row of the pool")

    plot = commands.add_parser(
        "plot", **listed,
        help="write PNG figures (difficulty histogram, 2-D selection, budget curves)",
        description="With DATA: run a selection and write difficulty.png and selection.png. "
                    "With --budget-curve: plot accuracy against budget from a benchmark CSV "
                    "(benchmarks/quality.py), one PNG per dataset.")
    add_pool_options(plot, data_required=False)
    plot.add_argument("--budget-curve", metavar="CSV",
                      help="benchmark results CSV (columns dataset, method, budget, accuracy; "
                           "optionally seed and probe)")
    plot.add_argument("--probe", default="lr",
                      help="with --budget-curve: which probe's accuracy to plot, when the CSV "
                           "has a probe column (default: lr)")
    plot.add_argument("--max-points", type=int, default=20000, metavar="N",
                      help="most points drawn in selection.png (default: 20000)")
    plot.add_argument("-o", "--output", required=True, metavar="DIR",
                      help="output directory (created if missing)")
    return parser


# -- running a selection ----------------------------------------------------------------------
def build_selector(args):
    """The selector that ``args`` (parsed options) describe, with their values checked.

    Options left unset keep the method's own defaults; an option the method does not
    have (``--beta`` for a baseline) raises :class:`CLIError`.

    Parameters
    ----------
    args : argparse.Namespace
        Options parsed by :func:`build_parser` (``method``, ``budget``, ...).

    Returns
    -------
    BaseSelector
        Unfitted: ``skelfs.make_selector(args.method, ...)`` with the options that were set.

    Examples
    --------
    >>> from skelfs.cli import build_parser, build_selector
    >>> argv = ["select", "X.npy", "--method", "kcenter", "--budget", "0.05", "-o", "o.csv"]
    >>> build_selector(build_parser().parse_args(argv))
    KCenterGreedySelector(budget=0.05)
    """
    from .registry import make_selector

    cls = SELECTORS[args.method].cls
    accepted = cls().get_params(deep=False)
    params = {"budget": args.budget, "random_state": args.random_state}
    options = {"beta": args.beta, "n_clusters": args.n_clusters, "device": args.device,
               "n_jobs": args.n_jobs, "clusterer": getattr(args, "clusterer", None)}
    for name, value in options.items():
        if value is None:
            continue
        if name not in accepted:
            users = [m for m, spec in SELECTORS.items()
                     if name in spec.cls().get_params(deep=False)]
            raise CLIError(f"--{name.replace('_', '-')} does not apply to --method "
                           f"{args.method}; it is an option of: {', '.join(users)}.")
        params[name] = value
    if "verbose" in accepted:
        params["verbose"] = args.verbose
    return make_selector(args.method, **params)


def _fit(args, X):
    selector = build_selector(args)
    _say(args, f"fitting {selector!r} on {X.shape[0]} rows x {X.shape[1]} features")
    start = time.perf_counter()
    try:
        selector.fit(X)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{type(selector).__name__}: {_one_line(exc)}") from None
    return selector, time.perf_counter() - start


def _row_score(selector):
    """(attribute name, per-row score array) or (None, None)."""
    for name in SCORE_ATTRIBUTES:
        values = getattr(selector, name, None)
        if values is not None:
            return name, np.asarray(values)
    return None, None


def _row_clusters(selector):
    for name in ("pseudo_labels_", "labels_"):
        values = getattr(selector, name, None)
        if values is not None:
            return np.asarray(values)
    return None


def _selected_frame(selector, ids, id_name):
    import pandas as pd

    idx = selector.sample_indices_
    columns = {id_name: ids[idx]}
    _, score = _row_score(selector)
    if score is not None:
        columns["score"] = score[idx]
    ranking = getattr(selector, "ranking_", None)
    if ranking is not None:
        # Pick order of greedy / ranking methods: 0 = chosen first. Labelling a prefix
        # (sort by rank) keeps as much of the method's intent as a smaller budget would.
        rank = np.full(selector.n_samples_fit_, -1)
        rank[np.asarray(ranking)] = np.arange(len(ranking))
        columns["rank"] = rank[idx]
    clusters = _row_clusters(selector)
    if clusters is not None:
        columns["pseudo_label"] = clusters[idx]
    return pd.DataFrame(columns)


def _score_frame(selector, ids, id_name):
    import pandas as pd

    columns = {id_name: ids}
    clusters = _row_clusters(selector)
    if clusters is not None:
        columns["pseudo_label"] = clusters
    columns["selected"] = selector.get_support().astype(np.int8)
    all_scores = getattr(getattr(selector, "scorer_", None), "all_scores_", None)
    if all_scores:
        columns.update({name: np.asarray(values) for name, values in all_scores.items()})
    else:
        _, score = _row_score(selector)
        if score is not None:
            name = getattr(selector, "difficulty", None) if hasattr(selector, "beta_") else None
            columns[name or "score"] = score
    return pd.DataFrame(columns)


def _summary(args, selector, X, seconds, **extra):
    out = {
        "command": args.command,
        "method": args.method,
        "input": str(args.data),
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "budget": args.budget,
        "n_selected": int(selector.n_selected_),
        "beta_": _plain(getattr(selector, "beta_", None)),
        "n_clusters_": _plain(getattr(selector, "n_clusters_", None)),
        "score": _row_score(selector)[0],
        "seconds": round(seconds, 3),
    }
    out.update(extra)
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _say(args, message):
    if getattr(args, "verbose", 0):
        print(f"skelfs: {message}", file=sys.stderr, flush=True)


def _check_output_file(path, data):
    # Fail before a long fit, not after it.
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"-o {path}: it is a directory; give a file name such as "
                       f"{path / 'to_label.csv'}.")
    if not path.parent.exists():
        raise CLIError(f"-o {path}: the directory {path.parent} does not exist.")
    if data is not None and path.resolve() == Path(data).resolve():
        raise CLIError(f"-o {path} is the input file; choose another output name.")
    return path


def _write_csv(frame, path):
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {_one_line(exc)}") from None


def _report(args, summary, human):
    if args.json:
        print(json.dumps(summary))
    else:
        print(human)


def _cmd_select(args):
    out = _check_output_file(args.output, args.data)
    X, ids, id_name = _load(args)
    selector, seconds = _fit(args, X)
    _write_csv(_selected_frame(selector, ids, id_name), out)
    summary = _summary(args, selector, X, seconds, output=str(out))
    _report(args, summary, f"selected {selector.n_selected_} of {X.shape[0]} rows "
                           f"({args.method}, {seconds:.1f} s) -> {out}")


def _cmd_score(args):
    out = _check_output_file(args.output, args.data)
    X, ids, id_name = _load(args)
    selector, seconds = _fit(args, X)
    frame = _score_frame(selector, ids, id_name)
    _write_csv(frame, out)
    scores = [c for c in frame.columns if c not in (id_name, "pseudo_label", "selected")]
    summary = _summary(args, selector, X, seconds, output=str(out), columns=list(frame.columns))
    _report(args, summary, f"scored {X.shape[0]} rows ({', '.join(scores) or 'no scores'}; "
                           f"{selector.n_selected_} selected) -> {out}")


def _cmd_plot(args):
    if (args.data is None) == (args.budget_curve is None):
        raise CLIError("plot needs either DATA (to plot a selection) or --budget-curve CSV "
                       "(to plot benchmark results), not both or neither.")
    if args.max_points < 1:
        raise CLIError(f"--max-points {args.max_points}: it must be >= 1.")
    try:
        import matplotlib
    except ImportError:
        raise CLIError("plot needs matplotlib: pip install skelfs[plot].") from None
    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    from . import plotting

    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise CLIError(f"-o {outdir}: it is a file; plot writes PNGs into a directory.")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"-o {outdir}: cannot create the directory: {_one_line(exc)}") from None

    written = []

    def save(fig, name):
        path = outdir / name
        try:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        except OSError as exc:
            raise CLIError(f"cannot write {path}: {_one_line(exc)}") from None
        finally:
            plt.close(fig)
        written.append(str(path))

    if args.budget_curve is not None:
        frame = _read_results(args.budget_curve)
        missing = [c for c in plotting.BUDGET_COLUMNS if c not in frame.columns]
        if missing:
            raise CLIError(
                f"{args.budget_curve} is not a benchmark results CSV: it lacks the column(s) "
                f"{', '.join(missing)} (found: {_listing([str(c) for c in frame.columns])}).")
        datasets = sorted(frame.dropna(subset=["accuracy"])["dataset"].astype(str).unique())
        if not datasets:
            raise CLIError(f"{args.budget_curve}: no rows with an accuracy to plot.")
        for dataset in datasets:
            try:
                ax = plotting.plot_budget_curve(frame, dataset=dataset, probe=args.probe)
            except ValueError as exc:
                raise CLIError(f"{args.budget_curve}: {_one_line(exc)}") from None
            save(ax.figure, f"budget_{_safe_name(dataset)}.png")
        summary = {"command": "plot", "input": str(args.budget_curve), "files": written}
        _report(args, summary, "wrote " + ", ".join(written))
        return

    X = _load(args)[0]
    selector, seconds = _fit(args, X)
    try:
        if getattr(selector, "scores_", None) is not None:
            save(plotting.plot_difficulty(selector).figure, "difficulty.png")
        else:
            _say(args, f"{args.method} has no per-row scores_: no difficulty.png")
        save(plotting.plot_selection(X, selector, max_points=args.max_points).figure,
             "selection.png")
    except (ValueError, TypeError) as exc:
        raise CLIError(f"plot: {_one_line(exc)}") from None
    summary = _summary(args, selector, X, seconds, files=written)
    _report(args, summary, "wrote " + ", ".join(written))


def _read_results(path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {_one_line(exc)}") from None


def _safe_name(text):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _load(args):
    _say(args, f"reading {args.data}")
    X, ids, id_name = read_pool(args.data, key=args.key, id_column=args.id_column)
    if id_name != "index" and len(np.unique(ids)) != len(ids):
        print(f"skelfs: warning: --id-column {id_name!r} has repeated ids; the output "
              f"cannot tell those rows apart.", file=sys.stderr)
    return X, ids, id_name


_COMMANDS = {"select": _cmd_select, "score": _cmd_score, "plot": _cmd_plot}


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"skelfs: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the ``skelfs`` command; returns the exit status (0, or 2 for a user error).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    status : int

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skelfs.cli import main
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "X.npy"), np.random.RandomState(0).rand(50, 4))
    >>> main(["select", os.path.join(folder, "X.npy"), "--budget", "5", "--method", "random",
    ...       "-o", os.path.join(folder, "to_label.csv")])  # doctest: +ELLIPSIS
    selected 5 of 50 rows (random, ... s) -> ...to_label.csv
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            _COMMANDS[args.command](args)
    except CLIError as exc:
        print(f"skelfs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skelfs: interrupted", file=sys.stderr)
        return 130
    return 0
