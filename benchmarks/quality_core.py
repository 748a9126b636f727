"""Selection quality of ELFS against random on the real benchmark embeddings.

For every dataset, seed and budget, each method selects rows of the *unlabelled* train
pool; only then are the true labels of the selected rows revealed, a
``LogisticRegression(C=1.0, max_iter=1000)`` probe is trained on them and its accuracy on
the test split is reported (the protocol in docs/benchmarks.md). Labels never reach a selector.

Methods
-------
``random``
    A uniform sample of the same size, ``np.random.RandomState(seed)``.
``elfs``
    ``ELFSSelector(budget=b, random_state=seed)`` with its defaults.
named variants (``--variant NAME=JSON``)
    ``ELFSSelector(budget=b, random_state=seed, **JSON)``. Two keys are turned into
    component instances: ``"scorer": {...}`` becomes ``DynamicsScorer(**kw,
    random_state=seed)`` and ``"pruner": {...}`` becomes ``DoubleEndPruner(**kw,
    random_state=seed)`` (an instance keeps its own settings: with ``"pruner"`` the
    selector's ``beta``/``sampling`` are ignored, use the pruner's; with ``"scorer"`` the
    selector's ``difficulty`` is ignored). ``"n_clusters": "classes"`` or ``"classes*2"``
    sets K to (a multiple of) the dataset's true number of classes: an *oracle* setting,
    for exploration only, since it reads a label-derived number. ``"n_clusters":
    "budget*F"`` sets K to ``round(F * rows selected)`` (label-free; one fit per budget).

Reusing fits
------------
Clustering and proxy training do not depend on the budget (nor on ``beta``, ``sampling``
or the pruner), but ``ELFSSelector`` redoes them on every fit. By default this script
fits once per dataset and distinct (clusterer, scorer) configuration, seeds included,
and for every other budget or pruning variant re-runs only the budget-dependent step
(``beta="auto"`` search, then ``pruner.select``) with the components and random stream
the selector itself would use (built by its ``_make_components``). Every selection is
therefore exactly what ``ELFSSelector(budget=b, ...).fit(X)`` returns; ``--verify-reuse``
checks that by also refitting from scratch for every reused case, ``--no-reuse`` always
refits. The ``seconds`` column is the cost of a fresh fit either way: the shared stages'
time plus this selection's budget-dependent time.

``skelfs`` is imported from the Python path when it is importable (e.g.
``PYTHONPATH=/path/to/checkout``), else from this checkout.

Outputs: a CSV with one row per (dataset, method, budget, seed), and a markdown summary
(mean +- std over seeds, and the paired per-seed difference to ``random``) printed to
stdout and written to ``--out-md``. ``--summarize CSV...`` only rebuilds the summary.

Examples
--------
Default run (3 datasets x 4 budgets x 3 seeds x {random, elfs})::

    python benchmarks/quality_core.py --out-csv benchmarks/results/core.csv \
        --out-md benchmarks/results/core.md

A variant::

    python benchmarks/quality_core.py --seeds 0 --methods random hard_b0 \
        --variant 'hard_b0={"sampling": "hard", "beta": 0.0}'
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from common import (
    DATA_DIR,
    DATASETS,
    fmt_mean_std,
    load_dataset,
    log,
    probe_accuracy,
    read_csvs,
    to_float,
)

import skelfs
from skelfs import DoubleEndPruner, DynamicsScorer, ELFSSelector
from skelfs._utils import floor_count, resolve_budget

BUDGETS = (0.01, 0.05, 0.10, 0.30)
SEEDS = (0, 1, 2)
FIELDS = (
    "dataset",
    "method",
    "budget",
    "seed",
    "n_selected",
    "accuracy",
    "seconds",
    "beta_chosen",
    "n_clusters",
)


# -- methods ------------------------------------------------------------------------------
def parse_variant(text):
    """``NAME=JSON`` -> (name, dict of ELFSSelector kwargs)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--variant must be NAME=JSON, got {text!r}")
    if name in ("random", "elfs"):
        raise argparse.ArgumentTypeError(f"variant name {name!r} is reserved")
    try:
        kwargs = json.loads(spec)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--variant {name}: invalid JSON ({exc})") from None
    if not isinstance(kwargs, dict):
        raise argparse.ArgumentTypeError(f"--variant {name}: JSON must be an object")
    return name, kwargs


def build_selector(kwargs, budget, seed, n_classes, n_samples):
    """ELFSSelector for one variant; JSON sub-dicts become seeded component instances."""
    kw = dict(kwargs)
    if isinstance(kw.get("scorer"), dict):
        kw["scorer"] = DynamicsScorer(**kw["scorer"], random_state=seed)
    if isinstance(kw.get("pruner"), dict):
        kw["pruner"] = DoubleEndPruner(**kw["pruner"], random_state=seed)
    k = kw.get("n_clusters")
    if isinstance(k, str):  # "classes[*F]" (oracle) or "budget[*F]" (label-free)
        base, _, factor = k.partition("*")
        factor = float(factor) if factor else 1.0
        if base == "classes":
            kw["n_clusters"] = int(round(n_classes * factor))
        elif base == "budget":
            kw["n_clusters"] = max(2, int(round(resolve_budget(budget, n_samples) * factor)))
        else:
            raise ValueError(
                f'n_clusters must be an int, null, "classes[*F]" or "budget[*F]", got {k!r}'
            )
    return ELFSSelector(budget=budget, random_state=seed, **kw)


def plan_selection(sel, n_samples):
    """Build ``sel``'s components exactly as its ``fit`` would, without fitting them.

    Returns ``(key, pruner, wanted_beta, rng)``: ``key`` identifies the
    budget-independent stages (clusterer and scorer with all their parameters, seeds
    included), ``pruner`` and ``wanted_beta`` are what ``fit`` would prune with, and ``rng``
    is the selector's random stream in the state ``fit`` hands to its budget-dependent
    step (``ELFSSelector._prune``, which picks the probes' device itself). This relies on
    the private ``ELFSSelector._make_components``; ``--verify-reuse`` checks the result.
    """
    if not isinstance(sel.random_state, (int, np.integer)):
        raise ValueError("reusing fits needs an int random_state to replay the random stream")
    rng = check_random_state(sel.random_state)
    n_select = resolve_budget(sel.budget, n_samples)
    clusterer, scorer, pruner, wanted_beta = sel._make_components(n_samples, n_select, rng)
    key = tuple(
        (type(c).__name__, repr(sorted(c.get_params(deep=True).items())))
        for c in (clusterer, scorer)
    ) + (repr(sel.feature_extractor),)
    return key, pruner, wanted_beta, rng


def reselect(sel, X, labels, scores, n_select, pruner, wanted_beta, rng):
    """The budget-dependent step of ``ELFSSelector._select`` (beta search, then pruning)."""
    if wanted_beta != "auto":
        beta, n = wanted_beta, X.shape[0]  # the selector's early feasibility check
        pruner._check_feasible(n - floor_count(beta, n), n_select, beta, n)
    idx, beta, _ = sel._prune(X, labels, scores, n_select, pruner, wanted_beta, rng)
    return np.sort(np.asarray(idx, dtype=np.intp)), float(beta)


def select_rows(kwargs, budget, seed, X, n_classes, cache, *, verify):
    """Rows, chosen beta, number of clusters and fresh-fit seconds for one ELFS method.

    With ``cache`` (a dict, one per dataset) the clustering and scoring of an earlier fit
    with the same clusterer and scorer settings are reused and only the budget-dependent
    step is run; ``cache=None`` always refits.
    """
    n_select = resolve_budget(budget, X.shape[0])
    sel = build_selector(kwargs, budget, seed, n_classes, X.shape[0])
    if cache is None:
        t0 = time.perf_counter()
        sel.fit(X)
        return sel.sample_indices_, sel.beta_, sel.n_clusters_, time.perf_counter() - t0

    key, pruner, wanted_beta, rng = plan_selection(sel, X.shape[0])
    if key not in cache:
        t0 = time.perf_counter()
        sel.fit(X)
        fit_secs = time.perf_counter() - t0
        # Time the budget-dependent step alone (checking that it replays the fit), so that
        # reused selections can still report the cost of a fresh fit.
        t0 = time.perf_counter()
        rows, beta = reselect(
            sel, X, sel.pseudo_labels_, sel.scores_, n_select, pruner, wanted_beta, rng
        )
        step_secs = time.perf_counter() - t0
        if not (np.array_equal(rows, sel.sample_indices_) and beta == sel.beta_):
            raise AssertionError("replaying the budget-dependent step does not match fit()")
        cache[key] = dict(
            labels=sel.pseudo_labels_,
            scores=sel.scores_,
            n_clusters=sel.n_clusters_,
            secs=max(0.0, fit_secs - step_secs),
        )
        return sel.sample_indices_, sel.beta_, sel.n_clusters_, fit_secs

    hit = cache[key]
    t0 = time.perf_counter()
    rows, beta = reselect(sel, X, hit["labels"], hit["scores"], n_select, pruner, wanted_beta, rng)
    secs = hit["secs"] + time.perf_counter() - t0
    if verify:
        fresh = build_selector(kwargs, budget, seed, n_classes, X.shape[0]).fit(X)
        same = np.array_equal(fresh.sample_indices_, rows) and fresh.beta_ == beta
        log(
            f"  verify-reuse budget={budget} seed={seed} {kwargs}: "
            f"{'identical' if same else 'DIFFERENT'}"
        )
        if not same:
            raise AssertionError("a reused selection differs from a fresh fit")
    return rows, beta, hit["n_clusters"], secs


def run_method(name, kwargs, data, budgets, seed, cache, *, verify):
    """Yield one result dict per budget for one (dataset, seed, method)."""
    X, y, X_test, y_test = data
    n = X.shape[0]
    base = dict(method=name, seed=seed)
    for b in budgets:
        n_sel = resolve_budget(b, n)
        if name == "random":
            t0 = time.perf_counter()
            rows = np.random.RandomState(seed).choice(n, n_sel, replace=False)
            yield dict(
                base,
                budget=b,
                n_selected=n_sel,
                seconds=time.perf_counter() - t0,
                beta_chosen="",
                n_clusters="",
                accuracy=probe_accuracy(X, y, rows, X_test, y_test),
            )
            continue
        try:
            rows, beta, k, secs = select_rows(
                kwargs, b, seed, X, int(np.unique(y).size), cache, verify=verify
            )
        except ValueError as exc:  # e.g. an explicit beta infeasible at this budget
            log(f"  {name} budget={b} seed={seed}: skipped ({exc})")
            yield dict(
                base,
                budget=b,
                n_selected=0,
                seconds=float("nan"),
                beta_chosen="",
                n_clusters="",
                accuracy=float("nan"),
            )
            continue
        yield dict(
            base,
            budget=b,
            n_selected=int(rows.size),
            seconds=secs,
            beta_chosen=beta,
            n_clusters=int(k),
            accuracy=probe_accuracy(X, y, rows, X_test, y_test),
        )


# -- summary ------------------------------------------------------------------------------
def summarize(rows):
    """Markdown: per dataset x budget x method, accuracy and paired difference to random."""
    rows = [dict(r) for r in rows]
    for r in rows:
        r["budget"], r["seed"] = float(r["budget"]), int(r["seed"])
        r["accuracy"], r["seconds"] = to_float(r["accuracy"]), to_float(r["seconds"])
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    methods = (["random"] if "random" in methods else []) + [m for m in methods if m != "random"]
    index = {(r["dataset"], r["method"], r["budget"], r["seed"]): r for r in rows}

    out = [
        "Test accuracy (%) of a logistic probe trained on the selected rows: mean ± std "
        "over seeds (population std). Δ random: per-seed paired difference to `random` "
        "(same dataset, budget, seed), mean ± std. β: chosen beta(s); K: clusters; "
        "s: seconds per selection (a fresh fit).",
        "",
    ]
    out += [
        "| dataset | budget | method | seeds | accuracy | Δ random | β | K | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    wide = {}
    for ds in datasets:
        budgets = sorted({r["budget"] for r in rows if r["dataset"] == ds})
        for b in budgets:
            for m in methods:
                cell = sorted(
                    (r for (d, mm, bb, _), r in index.items() if d == ds and mm == m and bb == b),
                    key=lambda r: r["seed"],
                )
                if not cell:
                    continue
                accs = [r["accuracy"] for r in cell]
                diffs = [
                    r["accuracy"] - index[(ds, "random", b, r["seed"])]["accuracy"]
                    for r in cell
                    if (ds, "random", b, r["seed"]) in index
                ]
                delta = fmt_mean_std(diffs) if m != "random" and diffs else ""
                if m != "random" and diffs:
                    delta = ("+" if np.nanmean(diffs) >= 0 else "") + delta
                betas = sorted({str(r["beta_chosen"]) for r in cell if r["beta_chosen"] != ""})
                ks = sorted(
                    {str(r["n_clusters"]) for r in cell if r["n_clusters"] != ""},
                    key=lambda s: float(s),
                )
                secs = [r["seconds"] for r in cell]
                out.append(
                    f"| {ds} | {b:g} | {m} | {len(cell)} | {fmt_mean_std(accs)} | {delta} | "
                    f"{','.join(betas)} | {','.join(ks)} | {fmt_mean_std(secs, 1.0)} |"
                )
                wide[(ds, b, m)] = (fmt_mean_std(accs), delta)
    # Compact view: one row per dataset x budget, one column per method.
    out += [
        "",
        "Compact: accuracy (Δ random) per method.",
        "",
        "| dataset | budget | " + " | ".join(methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for ds in datasets:
        for b in sorted({r["budget"] for r in rows if r["dataset"] == ds}):
            cells = []
            for m in methods:
                acc, delta = wide.get((ds, b, m), ("", ""))
                cells.append(f"{acc} ({delta})" if delta else acc)
            out.append(f"| {ds} | {b:g} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


# -- main ---------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--budgets", nargs="+", type=float, default=list(BUDGETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        type=parse_variant,
        metavar="NAME=JSON",
        help="named ELFSSelector kwargs (repeatable)",
    )
    ap.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="methods to run (default: random, elfs and every --variant)",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="folder holding <dataset>/{train,test}.npz (default: ../shared/data "
        "relative to the repository root)",
    )
    ap.add_argument("--out-csv", type=Path, default=None)
    ap.add_argument("--out-md", type=Path, default=None)
    ap.add_argument(
        "--no-reuse",
        dest="reuse",
        action="store_false",
        help="refit the whole selector for every budget and variant",
    )
    ap.add_argument(
        "--verify-reuse",
        action="store_true",
        help="also refit from scratch for each reused budget and check equality",
    )
    ap.add_argument(
        "--summarize",
        nargs="+",
        type=Path,
        default=None,
        metavar="CSV",
        help="only rebuild the markdown summary from existing CSV files",
    )
    args = ap.parse_args(argv)
    # Probes on many classes with few rows each trip this sklearn heuristic; it is noise here.
    warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")

    if args.summarize:
        md = summarize(read_csvs(args.summarize))
        print(md)
        if args.out_md:
            args.out_md.write_text(md)
        return

    variants = dict(args.variant)
    methods = args.methods or ["random", "elfs", *variants]
    known = {"random": None, "elfs": {}, **variants}
    unknown = [m for m in methods if m not in known]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; define them with --variant NAME=JSON")
    budgets = sorted(args.budgets)

    writer, fh = None, None
    if args.out_csv:
        args.out_csv.parent.mkdir(parents=True, exist_ok=True)
        fh = open(args.out_csv, "w", newline="")
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
    log(f"skelfs from {Path(skelfs.__file__).parent}")
    results = []
    t_start = time.perf_counter()
    try:
        for ds in args.datasets:
            data = load_dataset(args.data_dir, ds)
            log(
                f"{ds}: train {data[0].shape}, test {data[2].shape}, "
                f"{np.unique(data[1]).size} classes"
            )
            cache = {} if args.reuse else None  # fitted stages, per dataset
            for seed in args.seeds:
                for m in methods:
                    for r in run_method(
                        m, known[m], data, budgets, seed, cache, verify=args.verify_reuse
                    ):
                        r["dataset"] = ds
                        results.append(r)
                        if writer:
                            writer.writerow({k: r[k] for k in FIELDS})
                            fh.flush()
                        log(
                            f"  {ds} seed={seed} {m:>12s} budget={r['budget']:<5g} "
                            f"n={r['n_selected']:<5d} acc={100 * r['accuracy']:.2f} "
                            f"K={r['n_clusters']} beta={r['beta_chosen']} "
                            f"{r['seconds']:.1f}s  [{time.perf_counter() - t_start:.0f}s]"
                        )
    finally:
        if fh:
            fh.close()
    log(f"total wall time {time.perf_counter() - t_start:.0f}s")
    md = summarize([{k: r[k] for k in FIELDS} for r in results])
    print(md)
    if args.out_md:
        args.out_md.parent.mkdir(parents=True, exist_ok=True)
        args.out_md.write_text(md)


if __name__ == "__main__":
    main()
