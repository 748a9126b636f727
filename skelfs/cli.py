"""The ``skelfs`` command line: choose rows to label from an embeddings file.

Three sub-commands share one way of reading the pool and building the selector::

    skelfs select DATA --budget 0.1 -o to_label.csv     # the rows to send to annotators
    skelfs select DATA --budget 0.1 -o tasks.json       # the same, as Label Studio tasks
    skelfs score  DATA --budget 0.1 -o scores.csv       # every row: scores, pseudo-label, selected
    skelfs plot   DATA --budget 0.1 -o figures/         # difficulty.png, selection.png
    skelfs plot --budget-curve results.csv -o figures/  # accuracy vs budget, one PNG per dataset

``DATA`` is a ``.npy`` (2-D array), ``.npz`` (``--key``), ``.csv``/``.tsv`` or ``.parquet``
file; see :func:`skelfs.io.read_pool`. A table's columns other than the embeddings and
the ids (text, labels, image URLs) are written next to each row of the output, which is a
CSV table, JSON lines or (``select``) a JSON list of Label Studio tasks (``--format``, or
the ``-o`` name: ``.csv``, ``.jsonl``, ``.json``). Every user error (unreadable file, wrong shape,
missing key or column, bad option value, an estimator's ``ValueError``/``TypeError``) is
reported as one line ``skelfs: error: ...`` on stderr with exit status 2. Progress and
``-v`` messages go to stderr, so stdout carries only the result summary (``--json``: one
JSON object).
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import re
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from .io import _SUPPORTED, InputFileError, _listing, _one_line, read_pool
from .registry import DEFAULT_METHOD, SELECTORS, resolve_name

#: Per-row score attribute of each selector, in order of preference (first found is used).
SCORE_ATTRIBUTES = ("scores_", "typicality_")
#: Output formats (``--format``): ``select`` writes all three, ``score`` the first two.
FORMATS = ("csv", "jsonl", "label-studio")
# The format an -o name implies, what each format is, and the name it would take.
_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "label-studio"}
_FORMAT_WORDS = {
    "csv": "a CSV table",
    "jsonl": "JSON lines (one object per row)",
    "label-studio": "a JSON list of Label Studio tasks",
}
_FORMAT_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "label-studio": ".json"}


class CLIError(Exception):
    """A user error: printed as one ``skelfs: error: ...`` line, exit status 2."""


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
                f"number of rows such as 500."
            ) from None
        if not 0.0 < value < 1.0:  # also rejects nan and inf
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: a fraction of the pool must lie in (0, 1), e.g. 0.1 "
                f"for 10%; for a number of rows give an integer such as 500."
            ) from None
        return value
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: a number of rows must be an integer >= 1; for a "
            f"fraction of the pool give a number in (0, 1)."
        )
    return value


def _parse_beta(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give 'auto' or a fraction in [0, 1)."
        ) from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: beta, the fraction of hardest rows dropped, must lie "
            f"in [0, 1), or be 'auto'."
        )
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
        f"  {name:<{width}}  {spec.description}" for name, spec in SELECTORS.items()
    )


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``skelfs: error: ...``), exit status 2."""

    def error(self, message):
        hint = f" (see: {self.prog} --help)"
        self.exit(2, f"skelfs: error: {_one_line(message)}{hint}\n")

    def parse_known_args(self, args=None, namespace=None):
        """Parse, then fill an unset ``--method`` with the command's default method."""
        namespace, extras = super().parse_known_args(args, namespace)
        # (Runs for the sub-command's parser, then again for the top-level one.)
        if getattr(namespace, "default_method", None) is not None:
            if namespace.method is None:
                namespace.method, namespace.method_is_default = namespace.default_method, True
            elif not hasattr(namespace, "method_is_default"):
                namespace.method_is_default = False
        return namespace, extras


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
    >>> args.command, args.budget, args.method, args.method_is_default
    ('select', 100, 'facility_location', True)
    """
    from . import __version__

    parser = _Parser(
        prog="skelfs",
        description="Label-free coreset selection (ELFS): choose which rows of an unlabelled "
        "pool to send to annotators.",
        epilog="Run 'skelfs COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"skelfs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_pool_options(sub, data_required=True, default_method="elfs"):
        data = sub.add_argument_group("input")
        data.add_argument(
            "data",
            metavar="DATA",
            nargs=None if data_required else "?",
            help=f"embeddings file: {_SUPPORTED}",
        )
        data.add_argument(
            "--key",
            metavar="NAME",
            help="the array in an .npz, or the table column holding one list "
            "per row (default: the only one, or 'X')",
        )
        data.add_argument(
            "--id-column",
            metavar="NAME",
            help="table column (or .npz array) with row ids; default: the row "
            "number, written as 'index'",
        )
        data.add_argument(
            "--sep",
            metavar="CHAR",
            help="CSV column separator (default: ',', tab for .tsv), e.g. ';'",
        )
        data.add_argument(
            "--decimal",
            metavar="CHAR",
            help="CSV decimal mark (default: '.'), e.g. ',' with --sep ';'",
        )
        sel = sub.add_argument_group("selection")
        sel.add_argument(
            "--budget",
            type=parse_budget,
            default=0.1,
            metavar="B",
            help="rows to select: a fraction in (0, 1) or a count >= 1 (default: 0.1)",
        )
        sel.add_argument(
            "--method",
            type=_parse_method,
            default=None,
            metavar="NAME",
            help=f"one of {', '.join(SELECTORS)} (default: {default_method}"
            + ("" if default_method == "elfs" else ", the best measured overall in docs/quality.md")
            + "; listed below)",
        )
        sub.set_defaults(default_method=default_method)
        sel.add_argument(
            "--beta",
            type=_parse_beta,
            metavar="BETA",
            help="ELFS: fraction of hardest rows dropped, in [0, 1), or 'auto' (default: auto)",
        )
        sel.add_argument(
            "--n-clusters",
            type=int,
            metavar="K",
            help="number of k-means (pseudo-label) clusters (default: the method's own rule)",
        )
        sel.add_argument(
            "--clusterer",
            choices=("kmeans", "temi"),
            default=None,
            help="ELFS: pseudo-labels from k-means or TEMI deep clustering (default: kmeans)",
        )
        sel.add_argument(
            "--random-state",
            type=int,
            default=0,
            metavar="SEED",
            help="seed; the same seed and file give the same rows (default: 0)",
        )
        sel.add_argument(
            "--device",
            metavar="DEV",
            help="torch device: auto, cpu, cuda or cuda:N (default: the method's own)",
        )
        sel.add_argument(
            "--n-jobs", type=int, metavar="N", help="most threads to use (default: all; -1: all)"
        )
        sub.add_argument(
            "--json", action="store_true", help="print a one-object JSON summary on stdout"
        )
        sub.add_argument(
            "-v", "--verbose", action="count", default=0, help="stages and progress bars on stderr"
        )

    listed = {"epilog": _methods_help(), "formatter_class": _MethodsFormatter}
    select = commands.add_parser(
        "select",
        **listed,
        help="write the rows to label (id, score, pseudo-label) to a CSV, JSON lines or "
        "Label Studio tasks",
        description="Select rows to label and write them, one per line, to a CSV (or JSON "
        "lines, or Label Studio import tasks): the id (or row index), the table's other "
        "columns (text, image URLs, ...), and the score, rank and pseudo-label where the "
        "method has them.",
    )
    add_pool_options(select, default_method=DEFAULT_METHOD)
    select.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="output file of the selected rows: to_label.csv, to_label.jsonl, tasks.json",
    )
    cluster = select.add_argument_group("engine (beyond one machine, docs/distributed.md)")
    cluster.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: facility location (the default method) or "
        "ELFS (--method elfs) over row shards on a Ray cluster, "
        "DATA then a glob of .npy / .parquet shards such as 'shards/*.npy' (ids: global "
        "row positions in sorted path order, or --id-column)",
    )
    cluster.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="--engine ray: Ray Train workers, each reading whole shards (default: 2)",
    )
    cluster.add_argument(
        "--address",
        metavar="ADDR",
        help="--engine ray: an existing Ray cluster to join, e.g. auto or ray://host:10001 "
        "(default: start a local one)",
    )
    select.add_argument(
        "--format",
        choices=FORMATS,
        help="csv: one line per row; jsonl: one JSON object per row; label-studio: a JSON "
        "list of Label Studio import tasks (data: the id and the table's other columns; "
        "meta: score, rank, pseudo_label). Default: from the -o name (.jsonl: jsonl, "
        ".json: label-studio), else csv",
    )

    score = commands.add_parser(
        "score",
        **listed,
        help="write every row's scores, pseudo-label and selection flag to a CSV or JSON lines",
        description="Run a selection and write one line per row of the pool: id, "
        "pseudo-label, selected (0/1) and every difficulty score.",
    )
    add_pool_options(score)
    score.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="output file, one line per row of the pool: scores.csv or scores.jsonl",
    )
    score.add_argument(
        "--format",
        choices=FORMATS[:2],
        help="csv or jsonl (one JSON object per row). Default: from the -o name "
        "(.jsonl: jsonl), else csv",
    )

    plot = commands.add_parser(
        "plot",
        **listed,
        help="write PNG figures (difficulty histogram, 2-D selection, budget curves)",
        description="With DATA: run a selection and write difficulty.png and selection.png. "
        "With --budget-curve: plot accuracy against budget from a benchmark CSV "
        "(benchmarks/quality.py), one PNG per dataset.",
    )
    add_pool_options(plot, data_required=False)
    plot.add_argument(
        "--budget-curve",
        metavar="CSV",
        help="benchmark results CSV (columns dataset, method, budget, accuracy; "
        "optionally seed and probe)",
    )
    plot.add_argument(
        "--probe",
        default="lr",
        help="with --budget-curve: which probe's accuracy to plot, when the CSV "
        "has a probe column (default: lr)",
    )
    plot.add_argument(
        "--max-points",
        type=int,
        default=20000,
        metavar="N",
        help="most points drawn in selection.png (default: 20000)",
    )
    plot.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="output directory (created if missing)"
    )
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
    options = {
        "beta": args.beta,
        "n_clusters": args.n_clusters,
        "device": args.device,
        "n_jobs": args.n_jobs,
        "clusterer": getattr(args, "clusterer", None),
    }
    for name, value in options.items():
        if value is None:
            continue
        if name not in accepted:
            users = [
                m for m, spec in SELECTORS.items() if name in spec.cls().get_params(deep=False)
            ]
            chosen = (
                f"{args.method} (the default method; choose one with --method)"
                if getattr(args, "method_is_default", False)
                else args.method
            )
            raise CLIError(
                f"--{name.replace('_', '-')} does not apply to --method "
                f"{chosen}; it is an option of: {', '.join(users)}."
            )
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
        raise CLIError(f"{type(selector).__name__}: {_one_line(exc, 400)}") from None
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


def _selected_columns(selector):
    """What the method knows about each selected row: score, rank, pseudo_label."""
    idx = selector.sample_indices_
    columns = {}
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
    return columns


def _score_columns(selector):
    """Every row's pseudo_label, selected flag and difficulty scores."""
    columns = {}
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
    return columns


def _summary(args, selector, X, seconds, **extra):
    out = {
        "command": args.command,
        "method": args.method,
        "method_is_default": bool(getattr(args, "method_is_default", False)),
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


def _method_words(args):
    """The method's name, and why it ran when the user did not choose it."""
    if getattr(args, "method_is_default", False) and args.method != "elfs":
        return (
            f"{args.method}, the default: the best measured overall in docs/quality.md; "
            f"--method elfs runs ELFS"
        )
    return args.method


def _selection_words(selector):
    """ELFS's pseudo-labels and pruning in words, as a second summary line ("" for others).

    e.g. "pseudo-labels: K=50 k-means clusters; dropped the hardest 30% of each cluster
    (beta=0.3, chosen by the label-free search) as likely pseudo-label noise, then sampled
    the rest evenly across difficulty in each cluster."
    """
    beta, k = getattr(selector, "beta_", None), getattr(selector, "n_clusters_", None)
    pruner = getattr(selector, "pruner_", None)
    if beta is None or k is None or pruner is None:
        return ""
    clusterer = type(getattr(selector, "clusterer_", None)).__name__
    kind = {"KMeansClusterer": "k-means", "DeepClusterer": "TEMI"}.get(clusterer, clusterer)
    wanted = selector.pruner.beta if selector.pruner is not None else selector.beta
    how = "chosen by the label-free search" if wanted == "auto" else "as set with --beta"
    per_cluster = getattr(pruner, "allocation", None) is not None
    if beta > 0:
        where = "of each cluster" if per_cluster else "of the pool"
        dropped = (
            f"dropped the hardest {beta * 100:g}% {where} (beta={beta:g}, {how}) as likely "
            f"pseudo-label noise"
        )
    else:
        dropped = f"dropped no rows as pseudo-label noise (beta=0, {how})"
    sampling = getattr(pruner, "sampling", None)
    then = {
        "ccs": "then sampled the rest evenly across difficulty"
        + (" in each cluster" if per_cluster else ""),
        "hard": "then kept the hardest of the rest" + (" in each cluster" if per_cluster else ""),
        "coverage": "then picked, from the rest, the rows that best cover the whole pool",
    }.get(sampling, "then selected from the rest")
    return f"\npseudo-labels: K={k} {kind} clusters; {dropped}, {then}."


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _say(args, message):
    if getattr(args, "verbose", 0):
        print(f"skelfs: {message}", file=sys.stderr, flush=True)


def _check_output_file(path, data):
    # Fail before a long fit, not after it.
    path = Path(path)
    if path.is_dir():
        raise CLIError(
            f"-o {path}: it is a directory; give a file name such as {path / 'to_label.csv'}."
        )
    if not path.parent.is_dir():
        raise CLIError(f"-o {path}: the directory {path.parent} does not exist.")
    if data is not None and path.resolve() == Path(data).resolve():
        raise CLIError(f"-o {path} is the input file; choose another output name.")
    if path.exists() and not (os.access(path, os.W_OK) and path.stat().st_mode & 0o222):
        raise CLIError(
            f"-o {path}: the file is read-only; choose another name or make it "
            f"writable (chmod u+w)."
        )
    _check_writable_dir(path.parent, f"-o {path}")
    return path


def _check_writable_dir(folder, what):
    # Create and remove a file there: the only test that also holds for root and for
    # read-only file systems, where os.access says yes.
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".skelfs-", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CLIError(
            f"{what}: cannot write in {folder} ({exc.strerror or _one_line(exc)})."
        ) from None


# A cell that a spreadsheet would run as a formula starts with one of these (OWASP, "CSV
# Injection"); a plain number such as "-1.5" is left as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def spreadsheet_safe(value):
    """``value`` as a CSV cell that a spreadsheet shows as text and never runs as a formula.

    Following the OWASP guidance on CSV injection, a text cell that starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote (``'=1+2``),
    which spreadsheets show as text. Numbers, and text that is a plain number such as
    ``"-1.5"``, are kept as they are, so numeric ids stay numeric.

    Parameters
    ----------
    value : object
        One cell (an id or a column name).

    Returns
    -------
    object
        ``value``, or the quoted text.

    Examples
    --------
    >>> from skelfs.cli import spreadsheet_safe
    >>> spreadsheet_safe("=1+2"), spreadsheet_safe("@SUM(A1)"), spreadsheet_safe("-1.5")
    ("'=1+2", "'@SUM(A1)", '-1.5')
    >>> spreadsheet_safe(-3), spreadsheet_safe("row-7")
    (-3, 'row-7')
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


def _safe_frame(frame):
    import pandas as pd

    frame = frame.copy()
    frame.columns = [spreadsheet_safe(str(c)) for c in frame.columns]
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            frame[name] = column.astype(object).map(spreadsheet_safe)
    return frame


def atomic_write(path, write):
    """Call ``write(tmp)`` on a new file next to ``path``, then rename it onto ``path``.

    The target is replaced only by a complete file (``os.replace`` is atomic on one file
    system), so an interrupt (SIGINT, SIGTERM), a full disk or any error leaves the previous
    file at ``path`` as it was, and the temporary file is removed. A replaced file keeps its
    permissions; a new one gets the usual ones (0666 less the umask).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        ``write(tmp_path)`` writes the whole content to the temporary path it is given.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if path.exists():
            mode = path.stat().st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def output_format(args):
    """The format ``args`` ask for: ``--format``, else the one the ``-o`` name implies.

    ``.json`` implies ``label-studio``, ``.jsonl`` (or ``.ndjson``) ``jsonl``, anything else
    ``csv``. An explicit ``--format`` that another known name contradicts
    (``--format jsonl -o rows.csv``) is a :class:`CLIError` that names the fix, raised
    before the fit.

    Parameters
    ----------
    args : argparse.Namespace
        Options parsed by :func:`build_parser` (``command``, ``output``, ``format``).

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Examples
    --------
    >>> from skelfs.cli import build_parser, output_format
    >>> parse = build_parser().parse_args
    >>> output_format(parse(["select", "X.npy", "-o", "tasks.json"]))
    'label-studio'
    >>> output_format(parse(["select", "X.npy", "-o", "rows.txt", "--format", "jsonl"]))
    'jsonl'
    """
    path = Path(args.output)
    suffix = path.suffix.lower()
    implied = _SUFFIX_FORMATS.get(suffix)
    allowed = FORMATS if args.command == "select" else FORMATS[:2]
    chosen = args.format
    if implied is not None and implied not in allowed and chosen in (None, implied):
        raise CLIError(
            f"-o {path}: a {suffix} name means {_FORMAT_WORDS[implied]}, which "
            f"{args.command} does not write; name it {path.with_suffix('.csv').name} or "
            f"{path.with_suffix('.jsonl').name} (JSON lines)."
        )
    if chosen is None:
        return implied or "csv"
    if implied is not None and implied != chosen:
        instead = (
            f", or drop --format to write {_FORMAT_WORDS[implied]}" if implied in allowed else ""
        )
        raise CLIError(
            f"-o {path}: a {suffix} name, but --format {chosen} writes "
            f"{_FORMAT_WORDS[chosen]}; name it "
            f"{path.with_suffix(_FORMAT_SUFFIX[chosen]).name}{instead}."
        )
    return chosen


def _output_table(ids, id_name, columns, rows, ours):
    """(id and input columns, the method's columns) of the output rows, as two frames.

    ``rows`` selects rows of the pool (None: all); ``columns`` is the input's other
    columns or None; ``ours`` maps names to per-output-row values.
    """
    import pandas as pd

    ids = ids if rows is None else ids[rows]
    data = pd.DataFrame({id_name: ids})
    if columns is not None and len(columns.columns):
        part = columns if rows is None else columns.iloc[rows]
        data = pd.concat([data, part.reset_index(drop=True)], axis=1)
    return data, pd.DataFrame(ours, index=data.index)


def _flat(data, ours):
    """One table: the input's columns, then the method's (``skelfs_NAME`` on a clash)."""
    import pandas as pd

    taken = set(data.columns)
    renamed = ours.rename(columns=lambda c: f"skelfs_{c}" if c in taken else c)
    return pd.concat([data, renamed], axis=1)


def _json_value(value):
    """``value`` as JSON: numbers, text, bool, lists; NaN, NA and NaT become None (null)."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):  # dates, times, Timestamps, Timedeltas
        return value.isoformat()
    if isinstance(value, np.generic):
        return _json_value(value.item())
    return str(value)


def _json_column(column):
    """A pandas column as a list of JSON values (fast paths for plain numbers)."""
    import pandas as pd

    if not column.hasnans:
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_integer_dtype(column.dtype):
            return column.to_numpy().tolist()  # Python ints and bools
    if pd.api.types.is_float_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        out = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)):
            out[i] = None
        return out
    return [_json_value(v) for v in column.astype(object).tolist()]


def _json_rows(frame):
    """The rows of ``frame`` as dicts of JSON values."""
    names = [str(c) for c in frame.columns]
    if not names:
        return [{} for _ in range(len(frame))]
    columns = [_json_column(frame[c]) for c in frame.columns]
    return [dict(zip(names, row)) for row in zip(*columns)]


def _dumps(obj):
    # allow_nan=False: the output is strict JSON (NaN was turned into null above).
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _write_table(fmt, path, data, ours):
    """Write the output rows in ``fmt``, atomically (see :func:`atomic_write`)."""

    def write_csv(tmp):
        _safe_frame(_flat(data, ours)).to_csv(tmp, index=False)

    def write_jsonl(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for row in _json_rows(_flat(data, ours)):
                f.write(_dumps(row) + "\n")

    def write_label_studio(tmp):
        # Label Studio import tasks: "data" is what the labelling interface shows
        # ($text, $image, ...: the input's columns, and the id); "meta" keeps what skelfs
        # knows about the row (score, rank, pseudo_label) with the task. The top-level
        # "id" is Label Studio's own and is left to it.
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("[")
            for i, (fields, meta) in enumerate(zip(_json_rows(data), _json_rows(ours))):
                task = {"data": fields}
                meta = {k: v for k, v in meta.items() if v is not None}
                if meta:
                    task["meta"] = meta
                f.write(("," if i else "") + "\n" + _dumps(task))
            f.write("\n]\n")

    write = {"csv": write_csv, "jsonl": write_jsonl, "label-studio": write_label_studio}[fmt]
    try:
        atomic_write(path, write)
    except OSError as exc:
        raise CLIError(
            f"cannot write {path}: {_one_line(exc)}; the previous file, if any, is unchanged."
        ) from None


def _report(args, summary, human):
    if args.json:
        print(json.dumps(summary))
    else:
        print(human)


def _cmd_select(args):
    out = _check_output_file(args.output, args.data)
    fmt = output_format(args)
    if args.engine == "ray":
        return _cmd_select_on_ray(args, out, fmt)
    X, ids, id_name, columns = _load(args)
    selector, seconds = _fit(args, X)
    data, ours = _output_table(
        ids, id_name, columns, selector.sample_indices_, _selected_columns(selector)
    )
    _write_table(fmt, out, data, ours)
    summary = _summary(args, selector, X, seconds, output=str(out), format=fmt)
    what = {"csv": "", "jsonl": " (JSON lines)", "label-studio": " (Label Studio tasks)"}[fmt]
    _report(
        args,
        summary,
        f"selected {selector.n_selected_} of {X.shape[0]} rows "
        f"({_method_words(args)}, {seconds:.1f} s) -> {out}{what}" + _selection_words(selector),
    )


def _cmd_select_on_ray(args, out, fmt):
    """``--engine ray``: facility location (the default) or ELFS over the shards in
    ``DATA`` (skelfs.distributed.select)."""
    import pandas as pd

    from .distributed import select
    from .distributed.ray_engine import METHODS

    if args.method not in METHODS:
        raise CLIError(
            f"--engine ray runs {METHODS[0]} (the default) or elfs over shards, not "
            f"--method {args.method}; drop --method or pass --method elfs, or use "
            f"--engine local for {args.method}."
        )
    if args.workers < 1:
        raise CLIError(f"--workers {args.workers}: give a number of workers >= 1.")
    ignored = [o for o in ("sep", "decimal", "clusterer", "n_jobs") if getattr(args, o, None)]
    if ignored:
        raise CLIError(
            f"--{ignored[0].replace('_', '-')} is not available with --engine ray "
            f"(shards are .npy or .parquet, pseudo-labels come from k-means)."
        )
    build_selector(args)  # an option the method does not have: the one-machine error
    device = args.device or "cpu"
    settings = {}
    if args.method == "elfs":
        settings = {"beta": "auto" if args.beta is None else args.beta}
        settings["n_clusters"] = args.n_clusters
    start = time.perf_counter()
    try:
        ids = select(
            args.data,
            method=args.method,
            budget=args.budget,
            num_workers=args.workers,
            use_gpu=device.startswith("cuda"),
            address=args.address,
            key=args.key,
            id_column=args.id_column,
            random_state=args.random_state,
            verbose=args.verbose,
            **settings,
        )
    except (ValueError, TypeError, ImportError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from None
    seconds = time.perf_counter() - start
    id_name = args.id_column or "index"
    data = pd.DataFrame({id_name: ids})
    _write_table(fmt, out, data, pd.DataFrame(index=data.index))
    summary = {
        "command": "select",
        "method": args.method,
        "method_is_default": bool(args.method_is_default),
        "engine": "ray",
        "workers": args.workers,
        "input": str(args.data),
        "budget": args.budget,
        "n_selected": int(len(ids)),
        "seconds": round(seconds, 3),
        "output": str(out),
        "format": fmt,
    }
    name = {"elfs": "ELFS", "facility_location": "facility location"}[args.method]
    _report(
        args,
        summary,
        f"selected {len(ids)} rows ({name} on Ray, {args.workers} workers, {seconds:.1f} s) "
        f"-> {out}" + ("; --method elfs runs ELFS" if args.method_is_default else ""),
    )


def _cmd_score(args):
    out = _check_output_file(args.output, args.data)
    fmt = output_format(args)
    X, ids, id_name, columns = _load(args)
    selector, seconds = _fit(args, X)
    ours = _score_columns(selector)
    data, ours = _output_table(ids, id_name, columns, None, ours)
    _write_table(fmt, out, data, ours)
    scores = [c for c in ours.columns if c not in ("pseudo_label", "selected")]
    summary = _summary(
        args,
        selector,
        X,
        seconds,
        output=str(out),
        format=fmt,
        columns=[str(c) for c in _flat(data.iloc[:0], ours.iloc[:0]).columns],
    )
    _report(
        args,
        summary,
        f"scored {X.shape[0]} rows ({', '.join(scores) or 'no scores'}; "
        f"{selector.n_selected_} selected) -> {out}" + _selection_words(selector),
    )


def _cmd_plot(args):
    if (args.data is None) == (args.budget_curve is None):
        raise CLIError(
            "plot needs either DATA (to plot a selection) or --budget-curve CSV "
            "(to plot benchmark results), not both or neither."
        )
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
    _check_writable_dir(outdir, f"-o {outdir}")

    written = []

    def save(fig, name):
        path = outdir / name
        try:
            atomic_write(
                path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
            )
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
                f"{', '.join(missing)} (found: {_listing([str(c) for c in frame.columns])})."
            )
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
        save(
            plotting.plot_selection(X, selector, max_points=args.max_points).figure, "selection.png"
        )
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
    # A file that fails to read gets its one error line only: the reader's warnings (e.g.
    # text columns left out) are shown once the pool has been read.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X, ids, id_name, columns = read_pool(
            args.data,
            key=args.key,
            id_column=args.id_column,
            sep=_char(args.sep),
            decimal=_char(args.decimal),
            return_columns=True,
        )
    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if id_name != "index" and _has_repeats(ids):
        print(
            f"skelfs: warning: --id-column {id_name!r} has repeated ids; the output "
            f"cannot tell those rows apart.",
            file=sys.stderr,
        )
    return X, ids, id_name, columns


def _char(text):
    # "--sep '\\t'" and "--sep tab" as well as a literal tab
    return {"\\t": "\t", "tab": "\t"}.get(text, text)


def _has_repeats(ids):
    import pandas as pd

    try:
        return bool(pd.Series(ids).duplicated().any())
    except TypeError:  # unhashable values: read_pool refuses them, so this is belt and braces
        return False


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
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl-C, so that no partial output file is left behind.
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            _COMMANDS[args.command](args)
    except (CLIError, InputFileError) as exc:
        print(f"skelfs: error: {_one_line(exc, 600)}", file=sys.stderr)
        return 2
    except _Terminated:
        print("skelfs: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("skelfs: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` clauses clean up."""


def _terminate(signum, frame):
    raise _Terminated(signum)
