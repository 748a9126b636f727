"""Wall time of one default ELFS fit against the number of threads (``n_jobs``).

PYTHONPATH=. python benchmarks/threads.py --dataset banking77
"""

import argparse
import time
from pathlib import Path

import numpy as np

from common import DATA_DIR

from skelfs import ELFSSelector


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="banking77")
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--n-jobs", nargs="+", default=["1", "2", "None"])
    args = parser.parse_args()
    X = np.load(Path(args.data_dir) / args.dataset / "train.npz")["X"].astype(np.float32)
    for value in args.n_jobs:
        n_jobs = None if value == "None" else int(value)
        t0 = time.perf_counter()
        sel = ELFSSelector(budget=0.1, n_jobs=n_jobs, random_state=0).fit(X)
        print(
            f"n_jobs={value:>4}: {time.perf_counter() - t0:6.1f} s  "
            f"({sel.n_selected_} rows, first rows {sel.sample_indices_[:3].tolist()})",
            flush=True,
        )


if __name__ == "__main__":
    main()
