"""Does the selection depend on the thread count? Default ELFS fits with each ``n_jobs``.

For every dataset, budget and seed, one default ``ELFSSelector`` fit per ``n_jobs`` value
(alone on the machine, one after another); the table says whether the pseudo-labels, the
proxy scores, the chosen beta and the selection are bitwise the same across the values,
and the wall time of each fit. Reads the real embeddings in ../shared/data (labels are not
used).

    flock /tmp/skelfs_bench.lock env PYTHONPATH=. python benchmarks/threads.py \\
        --out-md benchmarks/results/threads_invariance.md

``--baselines`` does the same for every other registered selector (``skelfs.registry``,
with its registered settings and ``random_state=0``), which have no ``n_jobs``: each fit
runs inside ``skelfs._threads.limit_threads(n)``, which caps torch and the BLAS/OpenMP
pools.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scale import machine_info

from common import DATA_DIR, DATASETS, load_dataset

from skelfs import ELFSSelector


def op_check(draws=5):
    """How many of ``draws`` random inputs give other bits with 1 and 2 torch threads, per op.

    The ops the k-means and probe kernels use, at their sizes (4096-row blocks of 768
    features, 500 clusters, 4,500 probe rows); a plain ``sum``/``dot`` for contrast.
    """
    import torch

    from skelfs._threads import invariant_sum

    ops = {
        "sum() of 384k values": lambda a: a["v"].sum(),
        "dot() of 384k values": lambda a: torch.dot(a["v"], a["w"]),
        "invariant_sum of 384k values": lambda a: torch.tensor(invariant_sum(a["v"])),
        "row sums (W*W).sum(dim=1)": lambda a: (a["W"] * a["W"]).sum(dim=1),
        "column sums of 12288 x 8": lambda a: a["C"].sum(dim=0),
        "block @ centres.T (4096 x 768 x 500)": lambda a: a["B"] @ a["W"],
        "X.T @ G (probe gradient)": lambda a: a["X"].T @ a["G"],
        "index_add_ of a block": lambda a: torch.zeros(500, 768).index_add_(0, a["lab"], a["B"]),
        "cross_entropy, 4500 rows": lambda a: torch.nn.functional.cross_entropy(a["L"], a["y"]),
    }
    gen = torch.Generator().manual_seed(0)
    differ = dict.fromkeys(ops, 0)
    previous = torch.get_num_threads()
    for _ in range(draws):
        a = {
            "v": torch.randn(384_000, generator=gen),
            "w": torch.randn(384_000, generator=gen),
            "W": torch.randn(768, 500, generator=gen),
            "C": torch.rand(12_288, 8, generator=gen),
            "B": torch.randn(4096, 768, generator=gen),
            "lab": torch.randint(0, 500, (4096,), generator=gen),
            "L": torch.randn(4500, 500, generator=gen),
            "y": torch.randint(0, 500, (4500,), generator=gen),
            "X": torch.randn(4500, 768, generator=gen),
            "G": torch.randn(4500, 500, generator=gen),
        }
        for name, op in ops.items():
            results = []
            for threads in (1, 2):
                torch.set_num_threads(threads)
                results.append(op(a))
            differ[name] += not torch.equal(*results)
    torch.set_num_threads(previous)
    return differ


def fit(X, budget, seed, n_jobs):
    t0 = time.perf_counter()
    sel = ELFSSelector(budget=budget, n_jobs=n_jobs, random_state=seed).fit(X)
    return sel, time.perf_counter() - t0


def baseline_rows(args):
    """Markdown rows for ``--baselines``: each selector's selection and time per thread count."""
    from skelfs._threads import limit_threads
    from skelfs.registry import SELECTORS

    names = [name for name in SELECTORS if name not in ("random", "elfs")]
    lines = [
        "| dataset | budget | selector | "
        + " | ".join(f"{j} thread{'s' * (j > 1)}" for j in args.n_jobs)
        + " | same selection |",
        "|" + "---|" * (4 + len(args.n_jobs)),
    ]
    same_count = cells = 0
    for dataset in args.datasets:
        X = load_dataset(Path(args.data_dir), dataset)[0]
        for budget in args.budgets:
            for name in names:
                spec = SELECTORS[name]
                picks, times = [], []
                for n_jobs in args.n_jobs:
                    est = spec.cls(**{**spec.defaults, "budget": budget, "random_state": 0})
                    t0 = time.perf_counter()
                    with limit_threads(n_jobs):
                        est.fit(X)
                    times.append(time.perf_counter() - t0)
                    picks.append(est.get_support(indices=True))
                equal = all(np.array_equal(picks[0], p) for p in picks[1:])
                same_count += equal
                cells += 1
                lines.append(
                    f"| {dataset} | {budget:g} | {name} | "
                    + " | ".join(f"{t:.1f} s" for t in times)
                    + f" | {'yes' if equal else '**no**'} |"
                )
                print(lines[-1], flush=True)
    return lines, f"Same selection across thread counts in {same_count} of {cells} fits."


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
    parser.add_argument(
        "--ops", action="store_true", help="only check single torch ops at 1 and 2 threads"
    )
    parser.add_argument(
        "--baselines", action="store_true", help="check every registered selector but ELFS"
    )
    args = parser.parse_args()
    if args.baselines:
        lines, summary = baseline_rows(args)
        print(summary)
        if args.out_md:
            write_md(args, "Baselines' selections against the thread count", lines, summary)
        return
    if args.ops:
        print("| op | draws with other bits at 1 and 2 threads (of 5) |\n|---|---|")
        for name, count in op_check().items():
            print(f"| {name} | {count} |")
        return
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
        write_md(args, "Selections against the thread count", lines, summary)


def write_md(args, title, lines, summary):
    info = machine_info()
    machine = f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}"
    flags = " --baselines" if args.baselines else ""
    text = "\n".join(
        [
            f"# {title}",
            "",
            "Command: `flock /tmp/skelfs_bench.lock env PYTHONPATH=. python "
            f"benchmarks/threads.py{flags} --out-md {args.out_md}`",
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
