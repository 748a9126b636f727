"""Side-by-side selection quality of ELFS and the shipped baselines on real embeddings.

What it measures
----------------
For every dataset x seed x budget x method, the method selects rows of the *unlabelled*
train pool with ``Cls(budget=b, random_state=seed).fit(X).get_support(indices=True)``;
only then are the true labels of the selected rows revealed and probes are trained
on them:

* ``lr``:  ``LogisticRegression(C=1.0, max_iter=1000)``
* ``mlp``: ``MLPClassifier(hidden_layer_sizes=(256,), max_iter=300, early_stopping=False,
  random_state=seed)``
* ``hgb``: ``HistGradientBoostingClassifier(random_state=seed)``, on tabular datasets only
  (``letter``): what tabular users train.

and their accuracy on the test split is reported, together with the wall-clock seconds
of the selection (``fit``) alone. Labels are used only for this evaluation; they never
reach a selector. Data loading is ``common.load_dataset`` (float32; ``letter`` is
standardised with a ``StandardScaler`` fitted on train X, which is label-free).

Methods: every name of ``skelfs.registry.SELECTORS``, built by
``skelfs.make_selector(name, budget=b, random_state=seed)``: ``random`` =
``RandomSelector``, ``elfs`` = ``ELFSSelector`` (defaults), ``prototypicality`` =
``PrototypicalitySelector(end="easy")``, ``kcenter`` = ``KCenterGreedySelector``,
``typiclust`` = ``TypiClustSelector``, ``probcover`` = ``ProbCoverSelector``, ``d2`` =
``D2Selector``, ``facility_location`` = ``FacilityLocationSelector``; every selector is
refitted from scratch for every budget.

``--max-pool N`` subsamples the train pool to N rows (``np.random.RandomState(seed)``,
the same pool for every method and budget of that seed) before selecting; budgets are
then fractions of that pool. The markdown states whether this was done.

Outputs
-------
* ``--out-csv`` (default ``benchmarks/results/quality.csv``): one row per (dataset, seed,
  budget, method, probe), appended and flushed after every selection, so a partial run is
  usable (``--summarize CSV`` rebuilds the markdown and plots from it).
* ``--out-md`` (default ``docs/quality.md``): per dataset, a budget x method table of test
  accuracy (%) mean ± std over seeds for the LR probe, then the MLP probe, each followed by
  one line per budget "ELFS / best baseline" = mean ELFS accuracy divided by the mean
  accuracy of the best method other than ``random`` and ``elfs`` (which one is named);
  then mean selection seconds.
* ``--plot-dir`` (default ``docs/img``): ``quality_<dataset>.png``, LR-probe accuracy vs
  budget (log x), one line per method, mean with a ±std band (skipped, with a message,
  when matplotlib is missing).

Exact command (3 datasets x 3 seeds x 7 budgets x every registered method, LR and MLP
probes, HGB on letter, full pools); the 8 original methods with LR and MLP took 57 min 13 s
on the project's 2-core CPU machine with nothing else running; MaxHerding and the HGB
probe were added to the same CSV later (docs/benchmarks.md lists those commands)::

    PYTHONPATH=. python benchmarks/quality.py

Other jobs on the same cores slow it several-fold (torch and BLAS threads spin-wait);
``--max-pool 3000`` subsamples each seed's pool for a quicker run. ``--resume`` keeps what
``--out-csv`` already holds and runs only the missing selections, so it can be continued
after an interruption::

    PYTHONPATH=. python benchmarks/quality.py --resume

Smoke test::

    PYTHONPATH=. python benchmarks/quality.py --datasets letter --budgets 0.05 0.1 \
        --seeds 0 --out-csv /tmp/q.csv --out-md /tmp/q.md --plot-dir /tmp/qimg
"""

from __future__ import annotations

import argparse
import csv
import math
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from common import (
    DATA_DIR,
    DATASETS,
    REPO_ROOT,
    TABULAR,
    fmt_mean_std,
    load_dataset,
    log,
    probe_accuracy,
    read_csvs,
    to_float,
)

import skelfs
from skelfs import make_selector
from skelfs.registry import SELECTORS

BUDGETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
SEEDS = (0, 1, 2)
PROBES = ("lr", "mlp", "hgb")  # "hgb" only on TABULAR datasets
METHODS = list(SELECTORS)  # every registered selector, as registered (skelfs.registry)
NOT_BASELINES = ("random", "elfs")  # excluded from "best baseline"
FIELDS = (
    "dataset",
    "seed",
    "budget",
    "method",
    "probe",
    "pool",
    "n_selected",
    "n_classes_selected",
    "accuracy",
    "select_seconds",
    "probe_seconds",
)


# -- probes -------------------------------------------------------------------------------
def make_probe(name, seed):
    if name == "lr":
        return LogisticRegression(C=1.0, max_iter=1000)
    if name == "mlp":
        return MLPClassifier(
            hidden_layer_sizes=(256,), max_iter=300, early_stopping=False, random_state=seed
        )
    if name == "hgb":  # what tabular users train; run on the tabular datasets only
        return HistGradientBoostingClassifier(random_state=seed)
    raise ValueError(f"unknown probe {name!r}")


def probes_for(dataset, probes):
    """The probes run on ``dataset``: gradient boosting only where the data is tabular."""
    return [p for p in probes if p != "hgb" or dataset in TABULAR]


# -- summary ------------------------------------------------------------------------------
def _stats(values):
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=0)), int(v.size)


def _normalise(rows):
    out = []
    for r in rows:
        r = dict(r)
        r["budget"], r["seed"] = float(r["budget"]), int(r["seed"])
        r["accuracy"] = to_float(r["accuracy"])
        r["select_seconds"] = to_float(r["select_seconds"])
        out.append(r)
    return out


def _ordered_methods(rows):
    present = set(r["method"] for r in rows)
    order = [m for m in METHODS if m in present]
    return order + sorted(present - set(order))


def summarize(rows, max_pool=None):
    rows = _normalise(rows)
    methods = _ordered_methods(rows)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    probes = [p for p in PROBES if any(r["probe"] == p for r in rows)]
    pool_note = (
        f"The train pool was subsampled to at most {max_pool} rows per seed "
        f"(`--max-pool {max_pool}`, `np.random.RandomState(seed)`); budgets are "
        "fractions of that pool."
        if max_pool
        else "The full train pool was used (no `--max-pool`)."
    )
    out = [
        "# Selection quality: ELFS vs baselines",
        "",
        "Generated by `benchmarks/quality.py` (see its docstring for the exact command). "
        "Each method selects rows of the unlabelled train pool; the true labels of the "
        "selected rows are then revealed, a probe is trained on them and its test "
        "accuracy (%) is reported as mean ± std over seeds (population std). "
        "LR = `LogisticRegression(C=1.0, max_iter=1000)`; MLP = "
        "`MLPClassifier(hidden_layer_sizes=(256,), max_iter=300, early_stopping=False)`; "
        "HGB = `HistGradientBoostingClassifier()`, on tabular data only (what tabular "
        "users train). "
        '"ELFS / best baseline" divides ELFS\'s mean accuracy by the best mean accuracy '
        "among the methods other than `random` and `elfs`. " + pool_note,
        "",
    ]
    out += overall(rows, methods)
    for ds in datasets:
        drows = [r for r in rows if r["dataset"] == ds]
        budgets = sorted({r["budget"] for r in drows})
        seeds = sorted({r["seed"] for r in drows})
        pools = sorted({str(r.get("pool", "")) for r in drows})
        out += [
            f"## {ds}",
            "",
            f"Seeds: {', '.join(map(str, seeds))}; train pool rows: {', '.join(pools)}.",
            "",
        ]
        for probe in probes:
            prow = [r for r in drows if r["probe"] == probe]
            if not prow:
                continue
            accs = {}
            for r in prow:
                accs.setdefault((r["budget"], r["method"]), []).append(r["accuracy"])
            out += [
                f"### {probe.upper()} probe: test accuracy (%)",
                "",
                "| budget | " + " | ".join(methods) + " |",
                "|---|" + "---|" * len(methods),
            ]
            for b in budgets:
                out.append(
                    f"| {b:g} | "
                    + " | ".join(
                        fmt_mean_std(accs[(b, m)]) if (b, m) in accs else "" for m in methods
                    )
                    + " |"
                )
            out += ["", f"ELFS / best baseline ({probe.upper()} probe):", ""]
            for b in budgets:
                e = _stats(accs.get((b, "elfs"), []))[0]
                base = {
                    m: _stats(accs[(b, m)])[0]
                    for m in methods
                    if m not in NOT_BASELINES and (b, m) in accs
                }
                base = {m: v for m, v in base.items() if not math.isnan(v)}
                if math.isnan(e) or not base:
                    out.append(f"- budget {b:g}: n/a")
                    continue
                best = max(base, key=base.get)
                out.append(
                    f"- budget {b:g}: ELFS / best baseline = {e / base[best]:.3f} "
                    f"(ELFS {100 * e:.1f} vs {best} {100 * base[best]:.1f})"
                )
            out.append("")
        # Selection time (probe-independent: take one probe's rows to avoid double counting).
        secs = {}
        first = probes[0] if probes else None
        for r in drows:
            if r["probe"] == first:
                secs.setdefault((r["budget"], r["method"]), []).append(r["select_seconds"])
        out += [
            "### Selection seconds (mean ± std)",
            "",
            "| budget | " + " | ".join(methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for b in budgets:
            out.append(
                f"| {b:g} | "
                + " | ".join(
                    fmt_mean_std(secs[(b, m)], 1.0, 2) if (b, m) in secs else "" for m in methods
                )
                + " |"
            )
        out.append("")
    return "\n".join(out)


def overall(rows, methods, probe="lr", tolerance=0.003):
    """Markdown lines: per method, how it stands against the best method of every cell.

    A cell is one (dataset, budget) with the ``probe``; a method's gap there is its mean
    accuracy minus the best mean of the *other* methods (random included), so the best
    method of a cell has a positive gap. This is what ``skelfs.registry.DEFAULT_METHOD``
    is chosen by.
    """
    means = {}
    for r in rows:
        if r["probe"] == probe and not math.isnan(r["accuracy"]):
            means.setdefault((r["dataset"], r["budget"], r["method"]), []).append(r["accuracy"])
    means = {k: float(np.mean(v)) for k, v in means.items()}
    cells = sorted({(d, b) for d, b, _ in means})
    if not cells:
        return []
    out = [
        f"## Overall ({probe.upper()} probe, {len(cells)} dataset x budget cells)",
        "",
        "Gap = the method's mean accuracy minus the best mean of the other methods in the "
        f'same cell (points). "Best or within {100 * tolerance:.1f}" counts the cells '
        "where the method is the best or at most that far behind.",
        "",
        f"| method | best or within {100 * tolerance:.1f} | mean gap | worst gap | below random |",
        "|---|---|---|---|---|",
    ]
    ranked = []
    for m in methods:
        gaps, below = [], 0
        for d, b in cells:
            if (d, b, m) not in means:
                continue
            others = [v for (dd, bb, mm), v in means.items() if (dd, bb) == (d, b) and mm != m]
            gaps.append(means[(d, b, m)] - max(others))
            rnd = means.get((d, b, "random"))
            below += rnd is not None and m != "random" and means[(d, b, m)] < rnd
        if gaps:
            ranked.append(
                (
                    sum(g >= -tolerance for g in gaps),
                    float(np.mean(gaps)),
                    m,
                    min(gaps),
                    below,
                    len(gaps),
                )
            )
    for within, mean_gap, m, worst, below, n in sorted(ranked, key=lambda t: (-t[0], -t[1])):
        out.append(
            f"| {m} | {within} of {n} | {100 * mean_gap:+.2f} | {100 * worst:+.2f} | {below} |"
        )
    return out + [""]


def plot(rows, plot_dir):
    """``quality_<dataset>.png`` per dataset: LR-probe accuracy vs budget, drawn by
    ``skelfs.plotting.plot_budget_curve`` (what ``skelfs plot --budget-curve`` draws)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd
    except ImportError:
        log("matplotlib is not installed: skipping plots")
        return []
    from skelfs.plotting import plot_budget_curve

    frame = pd.DataFrame(_normalise(rows))
    if frame.empty or not (frame["probe"] == "lr").any():
        log("no LR-probe rows: skipping plots")
        return []
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in dict.fromkeys(frame["dataset"]):
        ax = plot_budget_curve(frame, dataset=ds, probe="lr")
        path = plot_dir / f"quality_{ds}.png"
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        paths.append(path)
        log(f"wrote {path}")
    return paths


# -- main ---------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--budgets", nargs="+", type=float, default=list(BUDGETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--probes", nargs="+", default=list(PROBES), choices=list(PROBES))
    ap.add_argument(
        "--max-pool",
        type=int,
        default=None,
        metavar="N",
        help="subsample the train pool to N rows (seeded) before selecting",
    )
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument(
        "--out-csv", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "quality.csv"
    )
    ap.add_argument("--out-md", type=Path, default=REPO_ROOT / "docs" / "quality.md")
    ap.add_argument("--plot-dir", type=Path, default=REPO_ROOT / "docs" / "img")
    ap.add_argument(
        "--summarize",
        nargs="+",
        type=Path,
        default=None,
        metavar="CSV",
        help="only rebuild the markdown and plots from existing CSV files",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --out-csv and run only the missing "
        "(dataset, seed, budget, method) selections; the run is long, and "
        "this lets it continue after an interruption",
    )
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")

    def finish(rows):
        md = summarize(rows, args.max_pool)
        print(md)
        args.out_md.parent.mkdir(parents=True, exist_ok=True)
        args.out_md.write_text(md)
        log(f"wrote {args.out_md}")
        plot(rows, args.plot_dir)

    if args.summarize:
        finish(read_csvs(args.summarize))
        return

    budgets = sorted(args.budgets)
    args.out_csv.parent.mkdir(parents=True, exist_ok=True)
    results, done = [], set()
    if args.resume and args.out_csv.exists():
        types = dict(
            seed=int,
            budget=float,
            pool=int,
            n_selected=int,
            n_classes_selected=int,
            accuracy=float,
            select_seconds=float,
            probe_seconds=float,
        )
        results = [
            {k: types.get(k, str)(v) for k, v in r.items()} for r in read_csvs([args.out_csv])
        ]
        if any(r["pool"] != (args.max_pool or r["pool"]) for r in results):
            ap.error(f"--resume: {args.out_csv} was written with another --max-pool")
        # A selection counts as done only when all its probes were written.
        probes_done = {}
        for r in results:
            key = (r["dataset"], r["seed"], r["budget"], r["method"])
            probes_done.setdefault(key, set()).add(r["probe"])
        done = {k for k, v in probes_done.items() if v >= set(probes_for(k[0], args.probes))}
        # Rows of a selection this run will redo are dropped (it writes them anew); rows
        # outside this run's grid are kept whatever probes they have.
        redo = {
            k
            for k in probes_done
            if k not in done
            and k[0] in args.datasets
            and k[1] in args.seeds
            and k[2] in budgets
            and k[3] in args.methods
        }
        results = [
            r for r in results if (r["dataset"], r["seed"], r["budget"], r["method"]) not in redo
        ]
        log(f"--resume: {len(done)} selections already in {args.out_csv}")
    t_start = time.perf_counter()
    log(f"skelfs from {Path(skelfs.__file__).parent}; max_pool={args.max_pool or 'none'}")
    with open(args.out_csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for r in results:  # kept rows of a resumed run
            writer.writerow({k: r[k] for k in FIELDS})
        fh.flush()
        for ds in args.datasets:
            X_all, y_all, X_test, y_test = load_dataset(args.data_dir, ds)
            log(f"{ds}: train {X_all.shape}, test {X_test.shape}, {np.unique(y_all).size} classes")
            for seed in args.seeds:
                if args.max_pool and args.max_pool < X_all.shape[0]:
                    pool = np.sort(
                        np.random.RandomState(seed).choice(
                            X_all.shape[0], args.max_pool, replace=False
                        )
                    )
                    X, y = X_all[pool], y_all[pool]
                else:
                    X, y = X_all, y_all
                for b in budgets:
                    for m in args.methods:
                        if (ds, seed, b, m) in done:
                            continue
                        t0 = time.perf_counter()
                        sel = make_selector(m, budget=b, random_state=seed).fit(X)  # label-free
                        rows = np.asarray(sel.get_support(indices=True), dtype=np.intp)
                        sel_secs = time.perf_counter() - t0
                        accs = []
                        for probe in probes_for(ds, args.probes):
                            t1 = time.perf_counter()
                            acc = probe_accuracy(
                                X, y, rows, X_test, y_test, make_probe(probe, seed)
                            )
                            r = dict(
                                dataset=ds,
                                seed=seed,
                                budget=b,
                                method=m,
                                probe=probe,
                                pool=X.shape[0],
                                n_selected=int(rows.size),
                                n_classes_selected=int(np.unique(y[rows]).size),
                                accuracy=acc,
                                select_seconds=round(sel_secs, 4),
                                probe_seconds=round(time.perf_counter() - t1, 4),
                            )
                            results.append(r)
                            writer.writerow(r)
                            accs.append(f"{probe}={100 * acc:.2f}")
                        fh.flush()
                        log(
                            f"  {ds} seed={seed} budget={b:<5g} {m:>17s} n={rows.size:<5d} "
                            f"{' '.join(accs)} select={sel_secs:.2f}s  "
                            f"[{time.perf_counter() - t_start:.0f}s]"
                        )
    log(f"total wall time {time.perf_counter() - t_start:.0f}s; wrote {args.out_csv}")
    finish(results)


if __name__ == "__main__":
    main()
