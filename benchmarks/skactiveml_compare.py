"""skelfs's TypiClust, ProbCover and k-center against scikit-activeml's own, as cold starts.

Both libraries pick the first batch to label with nothing labelled (scikit-activeml:
``query(X, y_all_missing, batch_size=b)``; skelfs: ``make_selector(name, budget=b).fit(X)``),
each with its library defaults and the same seed. Two parts:

* ``quality``: on the real sets of ``../shared/data`` (labels only reveal the selected rows),
  a logistic-regression probe is trained on the selection and scored on the test split
  (``common.probe_accuracy``), at a few budgets and seeds. In-process, one run after the
  other; the seconds are those of the selection alone.
* ``scale``: wall time and peak memory of one cold start of ``--scale-budget`` rows on
  synthetic clustered, L2-normalised float32 embeddings (``scale.make_embeddings``) of
  ``--sizes`` rows, each run in a fresh process that loads the rows into memory and reports
  its peak resident memory (``VmHWM``) before the selection and at the end.
  scikit-activeml's ProbCover builds the ``n x n`` float64 distance matrix (plus ``n x n``
  boolean edge and purity matrices); a size where that matrix alone would exceed
  ``--ram-fraction`` of this machine's memory is not run but reported as skipped, with the
  memory it would need.

What each scikit-activeml 1.0 strategy holds, read from its source: ProbCover the ``n x n``
distances; CoreSet a ``batch x n`` float64 utility matrix and one distance row per pick;
TypiClust k-means with ``n_clusters = batch`` and a kNN search inside each cluster, plus a
``batch x n`` utility matrix.

Command (results in docs/benchmarks.md, "scikit-activeml's cold-start strategies")::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/skactiveml_compare.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common import (
    DATA_DIR,
    DATASETS,
    RESULTS_DIR,
    fmt_mean_std,
    load_dataset,
    log,
    probe_accuracy,
    read_csvs,
)

#: method -> (skelfs registry name, scikit-activeml class name)
METHODS = {
    "typiclust": ("typiclust", "TypiClust"),
    "probcover": ("probcover", "ProbCover"),
    "kcenter": ("kcenter", "CoreSet"),
}
FIELDS = [
    "part",
    "dataset",
    "n",
    "d",
    "budget_rows",
    "seed",
    "library",
    "method",
    "accuracy",
    "seconds",
    "rss_before_gb",
    "peak_rss_gb",
    "status",
]


def select(library, method, X, budget, seed):
    """Indices of the ``budget`` rows chosen by ``library``'s ``method`` (nothing labelled)."""
    if library == "skelfs":
        from skelfs import make_selector

        sel = make_selector(METHODS[method][0], budget=budget, random_state=seed).fit(X)
        return sel.get_support(indices=True)
    import skactiveml.pool

    qs = getattr(skactiveml.pool, METHODS[method][1])(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ProbCover's purity warning, KMeans' n_init notice
        return np.asarray(qs.query(X, np.full(len(X), np.nan), batch_size=budget))


def maxrss_gb():
    """Peak resident memory of this process so far, in GB.

    ``VmHWM`` of /proc/self/status where there is one: unlike ``ru_maxrss``, which Linux
    carries over ``exec`` from the parent (so a child of a large parent would report the
    parent's size), it is the peak of this program's own address space.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


# -- quality ------------------------------------------------------------------------------
def quality(args):
    rows = []
    for dataset in args.datasets:
        X, y, X_test, y_test = load_dataset(args.data_dir, dataset)
        for fraction in args.budgets:
            budget = max(1, int(np.floor(fraction * len(X) + 1e-9)))
            for seed in args.seeds:
                for method in args.methods:
                    for library in ("skelfs", "skactiveml"):
                        t0 = time.perf_counter()
                        idx = select(library, method, X, budget, seed)
                        seconds = time.perf_counter() - t0
                        assert idx.size == budget and np.unique(idx).size == budget
                        acc = probe_accuracy(X, y, idx, X_test, y_test)
                        log(
                            f"{dataset} {fraction:.0%} seed {seed} {library:10s} {method:9s} "
                            f"acc {acc:.4f} ({seconds:.1f} s)"
                        )
                        rows.append(
                            {
                                "part": "quality",
                                "dataset": dataset,
                                "n": len(X),
                                "d": X.shape[1],
                                "budget_rows": budget,
                                "seed": seed,
                                "library": library,
                                "method": method,
                                "accuracy": f"{acc:.4f}",
                                "seconds": f"{seconds:.2f}",
                                "status": "ok",
                            }
                        )
    return rows


# -- scale --------------------------------------------------------------------------------
def child(spec):
    """Run one selection in this (fresh) process; print wall time and peak RSS as JSON."""
    spec = json.loads(spec)
    if spec["library"] == "skelfs":  # imports count in "before", not in the selection
        import skelfs  # noqa: F401
    else:
        import skactiveml.pool  # noqa: F401
    X = np.load(spec["path"])  # into memory: both libraries get the same in-memory float32
    before = maxrss_gb()
    t0 = time.perf_counter()
    idx = select(spec["library"], spec["method"], X, spec["budget"], spec["seed"])
    seconds = time.perf_counter() - t0
    assert idx.size == spec["budget"]
    print(json.dumps({"seconds": seconds, "rss_before_gb": before, "peak_rss_gb": maxrss_gb()}))


def dense_bytes(library, method, n):
    """Bytes of the n x n float64 matrix a run would build (0 if it builds none)."""
    return 8 * n * n if (library, method) == ("skactiveml", "probcover") else 0


def scale(args):
    from scale import ensure_data  # the scale benchmark's data generator

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows = []
    for n in args.sizes:
        path = ensure_data(args.workdir, n, args.dim, 0)
        for method in args.methods:
            for library in ("skelfs", "skactiveml"):
                row = {
                    "part": "scale",
                    "dataset": f"synthetic {args.dim}-d",
                    "n": n,
                    "d": args.dim,
                    "budget_rows": args.scale_budget,
                    "seed": 0,
                    "library": library,
                    "method": method,
                }
                need = dense_bytes(library, method, n)
                if need > args.ram_fraction * ram:
                    row["status"] = (
                        f"skipped: would need {need / 1e9:.0f} GB for the n x n float64 "
                        f"distances alone ({args.ram_fraction:.0%} of {ram / 1e9:.0f} GB RAM "
                        f"allowed)"
                    )
                    log(f"{n} {library} {method}: {row['status']}")
                    rows.append(row)
                    continue
                spec = {
                    "path": str(path),
                    "library": library,
                    "method": method,
                    "budget": args.scale_budget,
                    "seed": 0,
                }
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    row["status"] = (
                        f"failed (exit {proc.returncode}): "
                        + (proc.stderr.strip().splitlines() or [""])[-1][:200]
                    )
                else:
                    out = json.loads(proc.stdout.strip().splitlines()[-1])
                    row.update(
                        seconds=f"{out['seconds']:.1f}",
                        rss_before_gb=f"{out['rss_before_gb']:.2f}",
                        peak_rss_gb=f"{out['peak_rss_gb']:.2f}",
                        status="ok",
                    )
                log(
                    f"{n} {library:10s} {method:9s} {row.get('seconds', '-')} s, peak "
                    f"{row.get('peak_rss_gb', '-')} GB ({row['status']})"
                )
                rows.append(row)
    return rows


# -- report -------------------------------------------------------------------------------
def report(rows):
    out = []
    quality_rows = [r for r in rows if r["part"] == "quality"]
    if quality_rows:
        out += [
            "| dataset | budget | method | skelfs acc. % | scikit-activeml acc. % | skelfs s "
            "| scikit-activeml s |",
            "|---|---|---|---|---|---|---|",
        ]
        keys = dict.fromkeys((r["dataset"], r["budget_rows"], r["method"]) for r in quality_rows)
        for dataset, budget, method in keys:
            cell = {}
            for library in ("skelfs", "skactiveml"):
                sel = [
                    r
                    for r in quality_rows
                    if (r["dataset"], r["budget_rows"], r["method"], r["library"])
                    == (dataset, budget, method, library)
                ]
                cell[library] = (
                    fmt_mean_std([float(r["accuracy"]) for r in sel]),
                    f"{np.mean([float(r['seconds']) for r in sel]):.1f}",
                )
            n = next(r["n"] for r in quality_rows if r["dataset"] == dataset)
            out.append(
                f"| {dataset} | {budget} ({int(budget) / int(n):.0%}) | {method} | "
                f"{cell['skelfs'][0]} | {cell['skactiveml'][0]} | {cell['skelfs'][1]} | "
                f"{cell['skactiveml'][1]} |"
            )
        out.append("")
    scale_rows = [r for r in rows if r["part"] == "scale"]
    if scale_rows:
        out += [
            "| n | method | library | seconds | peak RSS GB (before the selection) |",
            "|---|---|---|---|---|",
        ]
        for r in scale_rows:
            if r["status"] == "ok":
                cells = f"{r['seconds']} | {r['peak_rss_gb']} ({r['rss_before_gb']})"
            else:
                cells = f"- | {r['status']}"
            out.append(f"| {int(r['n']):,} | {r['method']} | {r['library']} | {cells} |")
    return "\n".join(out)


def write_csv(rows, path):
    from skelfs.cli import atomic_write

    def write(tmp):
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["quality", "scale"],
        choices=["quality", "scale"],
        help="parts to run; the rows of the other parts already in --out are kept",
    )
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.01, 0.05])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000, 100_000])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--scale-budget", type=int, default=500)
    ap.add_argument("--ram-fraction", type=float, default=0.4)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/skelfs_scale"))
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "skactiveml_compare.csv")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    import skactiveml

    log(f"scikit-activeml {skactiveml.__version__}")
    rows = []
    if "quality" in args.parts:
        rows += quality(args)
    if "scale" in args.parts:
        rows += scale(args)
    if args.out.exists():  # keep the rows of the parts not rerun
        kept = [r for r in read_csvs([args.out]) if r["part"] not in args.parts]
        rows = [r for r in kept if r["part"] == "quality"] + rows
        rows += [r for r in kept if r["part"] != "quality"]
    write_csv(rows, args.out)
    print(report(rows))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
