"""Does the beta="auto" search need all its rows? Quality when it searches on fewer.

The search (``skelfs.selector._auto_beta``) trains one probe per candidate beta. Its cost
grows with the rows it searches on: at most ``AUTO_BETA_MAX_ROWS`` (50,000), so above 50k
rows it is a fixed cost (12 s of a 31.6 s fit at 100k x 768, issue 16). Searching on a
smaller random subset at the same budget fraction would cut it. This measures what that
does to the selection, on the real benchmark embeddings (../shared/data, read from there;
labels only score a selection):

for every dataset, budget and seed, the clustering and the proxy dynamics are fitted once
(``ELFSSelector(beta=0.0)``, which skips the search), then the search runs with
``max_rows`` = the pool, half of it and a quarter of it (same random stream), the pruner
selects with each chosen beta (same seed), and a logistic probe trained on the true
labels of the selection is scored on the test split (``common.probe_accuracy``). The
differences are paired: the same fits, only the search's rows differ.

Command (alone on the machine, about 10 minutes on 2 cores)::

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/beta_search_rows.py \
        --out-md benchmarks/results/beta_search_rows.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import DATA_DIR, DATASETS, load_dataset, probe_accuracy  # noqa: E402


def main():
    import torch

    from skelfs import ELFSSelector
    from skelfs.selector import _auto_beta

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out-md", type=Path, default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="The number of unique classes")
    rows = []
    for name in args.datasets:
        X, y, X_test, y_test = load_dataset(args.data_dir, name)
        n = X.shape[0]
        for budget in args.budgets:
            for seed in args.seeds:
                fit = ELFSSelector(budget=budget, beta=0.0, random_state=seed).fit(X)
                result = {}
                for fraction in args.fractions:
                    t0 = time.perf_counter()
                    beta, _ = _auto_beta(
                        X,
                        fit.pseudo_labels_,
                        fit.scores_,
                        fit.n_selected_,
                        fit.pruner_,
                        np.random.RandomState(seed),
                        device=torch.device("cpu"),
                        max_rows=max(2, int(round(n * fraction))),
                    )
                    seconds = time.perf_counter() - t0
                    idx = fit.pruner_.select(
                        fit.scores_, fit.n_selected_, groups=fit.pseudo_labels_, beta=beta
                    )
                    result[fraction] = (beta, probe_accuracy(X, y, idx, X_test, y_test), seconds)
                rows.append((name, budget, seed, result))
                print(name, budget, seed, result, file=sys.stderr, flush=True)
    lines = report(rows, args.fractions)
    print("\n".join(lines))
    if args.out_md:
        command = "python benchmarks/beta_search_rows.py " + " ".join(sys.argv[1:])
        args.out_md.write_text(
            f"# beta search on fewer rows\n\nCommand: `{command}`\n\n" + "\n".join(lines) + "\n"
        )


def report(rows, fractions):
    """Per fraction: paired accuracy change against the full search, by budget."""
    full = fractions[0]
    lines = [
        "Paired test-accuracy change (points) of the selection when the beta search runs "
        f"on a fraction of the pool, against fraction {full:g}; mean ± std over datasets "
        "and seeds; `same beta`: share of fits where the chosen beta is unchanged; "
        "`search s`: total seconds of the searches.",
        "",
        "| fraction | budget | paired change | min | max | same beta | search s |",
        "|---|---|---|---|---|---|---|",
    ]
    budgets = sorted({r[1] for r in rows})
    for fraction in fractions[1:]:
        for budget in [*budgets, "all"]:
            part = [r for r in rows if budget == "all" or r[1] == budget]
            diff = 100 * np.array([r[3][fraction][1] - r[3][full][1] for r in part])
            same = np.mean([r[3][fraction][0] == r[3][full][0] for r in part])
            secs = sum(r[3][fraction][2] for r in part)
            lines.append(
                f"| {fraction:g} | {budget} | {diff.mean():+.2f} ± {diff.std():.2f} | "
                f"{diff.min():+.2f} | {diff.max():+.2f} | {same:.0%} | {secs:.1f} |"
            )
    return lines


if __name__ == "__main__":
    main()
