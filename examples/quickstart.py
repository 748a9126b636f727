"""
Quickstart: ELFS against random on the digits pool
==================================================

Choose 10% of the digits pool to label with ELFS, without looking at any label, then
compare a classifier trained on those rows with one trained on a random selection of the
same size (three seeds).

Run:  ``python examples/quickstart.py``
"""

import numpy as np
from sklearn.linear_model import LogisticRegression

from skelfs import ELFSSelector
from skelfs.datasets import load_example


def probe_accuracy(X_pool, y_pool, rows, X_test, y_test):
    """Train on the labelled rows only (simulated annotation), score on the test set."""
    clf = LogisticRegression(max_iter=2000).fit(X_pool[rows], y_pool[rows])
    return clf.score(X_test, y_test)


def main(budget=0.1, seeds=(0, 1, 2)):
    X_pool, X_test, y_pool, y_test = load_example()
    elfs, rand = [], []
    for seed in seeds:
        selector = ELFSSelector(budget=budget, random_state=seed).fit(X_pool)  # label-free
        rows = selector.get_support(indices=True)
        elfs.append(probe_accuracy(X_pool, y_pool, rows, X_test, y_test))
        random_rows = np.random.RandomState(seed).choice(len(X_pool), rows.size, replace=False)
        rand.append(probe_accuracy(X_pool, y_pool, random_rows, X_test, y_test))
    print(f"pool: {len(X_pool)} unlabelled digits; budget {budget:.0%}")
    print(
        f"selected {rows.size} rows to label "
        f"(pseudo-label clusters: {selector.n_clusters_}, "
        f"hardest fraction dropped: {selector.beta_})"
    )
    print(f"logistic regression test accuracy over seeds {list(seeds)}:")
    print(f"  trained on the ELFS selection:   {np.mean(elfs):.3f} +- {np.std(elfs):.3f}")
    print(f"  trained on a random selection:   {np.mean(rand):.3f} +- {np.std(rand):.3f}")


if __name__ == "__main__":
    main()
