"""Smoke run of every shipped selector on one real dataset and budget (not the full table).

Selects label-free on ``train``, reveals the selected rows' labels, trains
``LogisticRegression(C=1, max_iter=1000)`` and prints test accuracy and seconds. The full
side-by-side benchmark (all budgets, seeds, probes) is issue 5's ``benchmarks/quality.py``.

    PYTHONPATH=. python benchmarks/baselines_smoke.py --dataset banking77 --budget 0.1 --seed 0
"""

import argparse
import time

from sklearn.linear_model import LogisticRegression

from common import DATA_DIR, load_dataset

from skelfs import make_selector
from skelfs.registry import SELECTORS

# run name -> (registered name, extra keyword arguments): every registered selector, and
# prototypicality's other end, the class default (the registered one is end="easy").
RUNS = {name: (name, {}) for name in SELECTORS}
RUNS["prototypicality_hard"] = ("prototypicality", {"end": "hard"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="banking77")
    parser.add_argument("--budget", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=DATA_DIR)
    args = parser.parse_args()
    # float32; letter (tabular) standardised with train statistics (label-free)
    X, y, X_test, y_test = load_dataset(args.data_dir, args.dataset)
    print(f"{args.dataset}: {X.shape[0]} x {X.shape[1]}, budget {args.budget}, seed {args.seed}")
    for name, (registered, extra) in RUNS.items():
        t0 = time.perf_counter()
        selector = make_selector(registered, budget=args.budget, random_state=args.seed, **extra)
        rows = selector.fit(X).get_support(indices=True)
        secs = time.perf_counter() - t0
        acc = LogisticRegression(C=1.0, max_iter=1000).fit(X[rows], y[rows]).score(X_test, y_test)
        print(
            f"  {name:22s} n={rows.size:5d}  accuracy {100 * acc:5.1f}  {secs:6.1f} s", flush=True
        )


if __name__ == "__main__":
    main()
