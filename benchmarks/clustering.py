"""TEMI deep clustering against k-means, as clusterers and as ELFS's pseudo-labels.

Two parts, on every dataset in ``../shared/data`` (labels are read only to evaluate):

1. **Clustering quality.** ``KMeansClusterer`` and ``DeepClusterer`` (TEMI) with K set
   to the true number of classes (the usual protocol for comparing clusterers; an
   evaluation setting only), scored by clustering accuracy (Hungarian matching of
   clusters to classes) and NMI against the true train labels, with wall time. Also
   the label-free K that ``estimate_n_clusters`` picks, next to the true count.
2. **Effect on selection.** ``ELFSSelector(clusterer="kmeans")`` against
   ``ELFSSelector(clusterer="temi")`` (everything else default, K from the budget
   rule) with the protocol of docs/benchmarks.md (``benchmarks/quality_core.py``: logistic
   probe on the revealed selected rows, test accuracy, difference to random).

Example (the command behind docs/benchmarks.md, "TEMI against k-means")::

    OMP_NUM_THREADS=2 python benchmarks/clustering.py --seeds 0 1 2 \
        --out-csv benchmarks/results/clustering.csv \
        --out-md benchmarks/results/clustering.md
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score

import quality_core as qc  # the ELFS selection harness (run_method, summarize)
from common import DATA_DIR, DATASETS, fmt_mean_std, load_dataset, log

from skelfs import DeepClusterer, KMeansClusterer, estimate_n_clusters

CLUSTER_FIELDS = ("dataset", "clusterer", "seed", "n_clusters", "accuracy", "nmi", "seconds")


def clustering_accuracy(y, labels):
    """Share of rows whose cluster maps to their class under the best one-to-one matching."""
    _, y = np.unique(y, return_inverse=True)
    _, labels = np.unique(labels, return_inverse=True)
    table = np.zeros((labels.max() + 1, y.max() + 1))
    np.add.at(table, (labels, y), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / y.size)


def make_clusterer(name, k, seed):
    if name == "kmeans":
        return KMeansClusterer(n_clusters=k, random_state=seed)
    return DeepClusterer(n_clusters=k, random_state=seed)


def cluster_rows(datasets, seeds, data_dir):
    for ds in datasets:
        X, y, _, _ = load_dataset(data_dir, ds)
        k_true = int(np.unique(y).size)
        for seed in seeds:
            t0 = time.perf_counter()
            k_est, _ = estimate_n_clusters(X, random_state=seed)
            yield dict(
                dataset=ds,
                clusterer="estimate_n_clusters",
                seed=seed,
                n_clusters=k_est,
                accuracy=float("nan"),
                nmi=float("nan"),
                seconds=time.perf_counter() - t0,
            )
            for name in ("kmeans", "temi"):
                t0 = time.perf_counter()
                labels = make_clusterer(name, k_true, seed).fit(X).labels_
                yield dict(
                    dataset=ds,
                    clusterer=name,
                    seed=seed,
                    n_clusters=k_true,
                    accuracy=clustering_accuracy(y, labels),
                    nmi=float(normalized_mutual_info_score(y, labels)),
                    seconds=time.perf_counter() - t0,
                )


def summarize_clusters(rows):
    # Median seconds: one slow seed on a shared machine should not hide the typical cost.
    lines = [
        "| dataset | true K | K estimated (per seed) | clusterer | accuracy | NMI "
        "| seconds (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == ds]
        est = ", ".join(
            str(r["n_clusters"]) for r in sub if r["clusterer"] == "estimate_n_clusters"
        )
        for name in ("kmeans", "temi"):
            rs = [r for r in sub if r["clusterer"] == name]
            if not rs:
                continue
            acc = fmt_mean_std([r["accuracy"] for r in rs])
            nmi = fmt_mean_std([r["nmi"] for r in rs])
            secs = np.median([r["seconds"] for r in rs])
            lines.append(
                f"| {ds} | {rs[0]['n_clusters']} | {est} | {name} | {acc} | {nmi} | {secs:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.05, 0.10, 0.30])
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--skip-clustering", action="store_true")
    ap.add_argument("--skip-selection", action="store_true")
    ap.add_argument(
        "--out-csv",
        type=Path,
        default=None,
        help="clustering rows go here; selection rows to <stem>_selection.csv",
    )
    ap.add_argument("--out-md", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
    md = []
    if not args.skip_clustering:
        rows = []
        for r in cluster_rows(args.datasets, args.seeds, args.data_dir):
            rows.append(r)
            log(
                f"  {r['dataset']} seed={r['seed']} {r['clusterer']:>20s} "
                f"K={r['n_clusters']} acc={r['accuracy']:.3f} nmi={r['nmi']:.3f} "
                f"{r['seconds']:.1f}s"
            )
        _write(args.out_csv, CLUSTER_FIELDS, rows)
        md.append("### Clustering quality (K = true class count)\n\n" + summarize_clusters(rows))
    if not args.skip_selection:
        methods = {
            "random": None,
            "elfs_kmeans": {"clusterer": "kmeans"},
            "elfs_temi": {"clusterer": "temi"},
        }
        rows = []
        for ds in args.datasets:
            data = load_dataset(args.data_dir, ds)
            cache = {}
            for seed in args.seeds:
                for name, kwargs in methods.items():
                    for r in qc.run_method(
                        name, kwargs, data, sorted(args.budgets), seed, cache, verify=False
                    ):
                        r["dataset"] = ds
                        rows.append(r)
                        log(
                            f"  {ds} seed={seed} {name:>12s} budget={r['budget']:<5g} "
                            f"acc={100 * r['accuracy']:.2f} K={r['n_clusters']} "
                            f"beta={r['beta_chosen']} {r['seconds']:.1f}s"
                        )
        sel_csv = (
            args.out_csv.with_name(args.out_csv.stem + "_selection.csv") if args.out_csv else None
        )
        _write(sel_csv, qc.FIELDS, rows)
        md.append(
            "### ELFS selection quality with each clusterer\n\n"
            + qc.summarize([{k: r[k] for k in qc.FIELDS} for r in rows])
        )
    text = "\n".join(md)
    print(text)
    if args.out_md:
        args.out_md.write_text(text)


def _write(path, fields, rows):
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r[k] for k in fields})


if __name__ == "__main__":
    main()
