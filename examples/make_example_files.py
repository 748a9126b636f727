"""
The example pool in every file format the CLI reads
===================================================

Write the bundled example pool (scikit-learn's digits) in every format ``skelfs select``
reads (not run by the documentation build: it writes files).

Run:  ``python examples/make_example_files.py [OUTDIR]``  (default: ``skelfs_example/``)

Writes, for the 1,257-row pool of ``skelfs.datasets.load_example()`` (64 features):

* ``digits.npy``: the 2-D float32 array;
* ``digits.npz``: arrays ``X`` (embeddings), ``ids`` and ``y`` (the labels, which a
  selector never reads; they are there to score the selection);
* ``digits.csv``: an ``id`` column and 64 numeric columns ``px0`` .. ``px63``;
* ``digits_list.csv``: an ``id`` column and one ``embedding`` column of "[...]" lists;
* ``digits.parquet``: ``id`` and a list-valued ``embedding`` column (needs pyarrow; skipped
  with a message otherwise).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from skelfs.datasets import load_example


def main(outdir="skelfs_example"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    X, _, y, _ = load_example()
    ids = np.array([f"digit-{i:04d}" for i in range(X.shape[0])])
    np.save(out / "digits.npy", X)
    np.savez(out / "digits.npz", X=X, ids=ids, y=y)
    table = pd.DataFrame(X, columns=[f"px{j}" for j in range(X.shape[1])])
    table.insert(0, "id", ids)
    table.to_csv(out / "digits.csv", index=False)
    lists = pd.DataFrame({"id": ids, "embedding": [row.tolist() for row in X]})
    lists.assign(embedding=lists["embedding"].map(str)).to_csv(out / "digits_list.csv", index=False)
    written = ["digits.npy", "digits.npz", "digits.csv", "digits_list.csv"]
    try:
        lists.to_parquet(out / "digits.parquet")
        written.append("digits.parquet")
    except ImportError:
        print(
            "pyarrow is not installed: skipping digits.parquet (pip install pyarrow)",
            file=sys.stderr,
        )
    print(f"wrote {', '.join(written)} ({X.shape[0]} rows x {X.shape[1]} features) to {out}/")


if __name__ == "__main__":
    main(*sys.argv[1:2])
