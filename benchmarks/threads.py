"""Does the selection depend on the thread count? Default ELFS fits with each ``n_jobs``.

For every dataset, budget and seed, one default ``ELFSSelector`` fit per ``n_jobs`` value
(alone on the machine, one after another); the table says whether the pseudo-labels, the
proxy scores, the chosen beta and the selection are bitwise the same across the values,
and the wall time of each fit. Reads the real embeddings in ../shared/data (labels are not
used).

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/threads.py \\
        --out-md benchmarks/results/threads_invariance.md
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scale import machine_info

from common import DATA_DIR, DATASETS, load_dataset

from skelfs import ELFSSelector


def fit(X, budget, seed, n_jobs):
    t0 = time.perf_counter()
    sel = ELFSSelector(budget=budget, n_jobs=n_jobs, random_state=seed).fit(X)
    return sel, time.perf_counter() - t0


def same(fits, attribute):
    first = getattr(fits[0], attribute)
    return all(np.array_equal(first, getattr(f, attribute)) for f in fits[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.05, 0.1, 0.3])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--n-jobs", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--out-md")
    args = parser.parse_args()
    header = (
        "| dataset | budget | seed | "
        + " | ".join(f"n_jobs={j}" for j in args.n_jobs)
        + " | same pseudo-labels | same scores | same beta | same selection |"
    )
    lines = [header, "|" + "---|" * (7 + len(args.n_jobs))]
    # Warm-up (imports, first kernels) so that the first timed fit is not charged for it.
    fit(load_dataset(Path(args.data_dir), args.datasets[0])[0][:500], 0.1, 0, args.n_jobs[0])
    counts = np.zeros(4, dtype=int)
    cells = 0
    for name in args.datasets:
        X, _, _, _ = load_dataset(Path(args.data_dir), name)
        for budget in args.budgets:
            for seed in args.seeds:
                runs = [fit(X, budget, seed, n_jobs) for n_jobs in args.n_jobs]
                fits = [r[0] for r in runs]
                flags = [
                    same(fits, "pseudo_labels_"),
                    same(fits, "scores_"),
                    same(fits, "beta_"),
                    same(fits, "sample_indices_"),
                ]
                counts += flags
                cells += 1
                betas = "/".join(f"{f.beta_:g}" for f in fits)
                times = " | ".join(f"{t:.1f} s" for _, t in runs)
                marks = ["yes" if f else "**no**" for f in flags]
                marks[2] += f" ({betas})"
                lines.append(
                    f"| {name} | {budget:g} | {seed} | {times} | " + " | ".join(marks) + " |"
                )
                print(lines[-1], flush=True)
    summary = (
        f"Same across n_jobs in {cells} fits: pseudo-labels {counts[0]}, scores {counts[1]}, "
        f"beta {counts[2]}, selection {counts[3]}."
    )
    print(summary)
    if args.out_md:
        info = machine_info()
        machine = f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}"
        text = "\n".join(
            [
                "# Selections against the thread count",
                "",
                "Command: `flock /tmp/skelfs_bench.lock env PYTHONPATH=. python "
                f"benchmarks/threads.py --out-md {args.out_md}`",
                "",
                f"Machine: {machine}. Data: {args.data_dir} (real embeddings; labels unused).",
                "",
                *lines,
                "",
                summary,
                "",
            ]
        )
        Path(args.out_md).write_text(text)


if __name__ == "__main__":
    main()
