"""Smoke run of every shipped selector on one real dataset and budget (not the full table).

Selects label-free on ``train``, reveals the selected rows' labels, trains
``LogisticRegression(C=1, max_iter=1000)`` and prints test accuracy and seconds. The full
side-by-side benchmark (all budgets, seeds, probes) is issue 5's ``benchmarks/quality.py``.

    PYTHONPATH=. python benchmarks/baselines_smoke.py --dataset banking77 --budget 0.1 --seed 0
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import skelfs

SELECTORS = {
    "random": lambda b, s: skelfs.RandomSelector(b, random_state=s),
    "elfs": lambda b, s: skelfs.ELFSSelector(b, random_state=s),
    "prototypicality_easy": lambda b, s: skelfs.PrototypicalitySelector(b, end="easy", random_state=s),
    "prototypicality_hard": lambda b, s: skelfs.PrototypicalitySelector(b, end="hard", random_state=s),
    "kcenter": lambda b, s: skelfs.KCenterGreedySelector(b, random_state=s),
    "typiclust": lambda b, s: skelfs.TypiClustSelector(b, random_state=s),
    "probcover": lambda b, s: skelfs.ProbCoverSelector(b, random_state=s),
    "d2": lambda b, s: skelfs.D2Selector(b, random_state=s),
    "facility_location": lambda b, s: skelfs.FacilityLocationSelector(b, random_state=s),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="banking77")
    parser.add_argument("--budget", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    args = parser.parse_args()
    folder = Path(args.data_dir) / args.dataset
    train, test = np.load(folder / "train.npz"), np.load(folder / "test.npz")
    X, y = train["X"].astype(np.float32), train["y"]
    X_test, y_test = test["X"].astype(np.float32), test["y"]
    if args.dataset == "letter":  # tabular: standardise with train statistics (label-free)
        scaler = StandardScaler().fit(X)
        X, X_test = scaler.transform(X).astype(np.float32), scaler.transform(X_test).astype(np.float32)
    print(f"{args.dataset}: {X.shape[0]} x {X.shape[1]}, budget {args.budget}, seed {args.seed}")
    for name, make in SELECTORS.items():
        t0 = time.perf_counter()
        rows = make(args.budget, args.seed).fit(X).get_support(indices=True)
        secs = time.perf_counter() - t0
        acc = LogisticRegression(C=1.0, max_iter=1000).fit(X[rows], y[rows]).score(X_test, y_test)
        print(f"  {name:22s} n={rows.size:5d}  accuracy {100 * acc:5.1f}  {secs:6.1f} s", flush=True)


if __name__ == "__main__":
    main()
