"""
Active learning after a label-free cold start
=============================================

skelfs picks the first labels, then scikit-activeml's uncertainty sampling takes over.

Uncertainty sampling needs a model, and a model needs labels: the first batch has to be
chosen without any. Here it is chosen by a skelfs selector (TypiClust: the most typical
row of each k-means cluster), through ``SelectorQueryStrategy``, against a random first
batch; every later round queries the rows a logistic regression is least sure about. The
learning curves (test accuracy against labels bought, mean over seeds) go to a PNG.

Needs: pip install "skelfs[activeml,plot]"   (scikit-activeml, matplotlib)
Run:   python examples/active_learning.py [--out active_learning.png]
"""

import argparse
import os
import tempfile
import warnings

import numpy as np
from skactiveml.classifier import SklearnClassifier
from skactiveml.pool import RandomSampling, UncertaintySampling
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skelfs import TypiClustSelector
from skelfs.datasets import load_example
from skelfs.integrations.skactiveml import SelectorQueryStrategy


def learning_curve(X, y_true, X_test, y_test, cold_start, n_initial, n_rounds, batch, seed):
    """Test accuracy after the cold start and after each uncertainty-sampling round."""
    classes = np.unique(y_true)
    y = np.full(len(X), np.nan)  # nothing labelled yet
    first = cold_start.query(X, y, batch_size=n_initial)
    y[first] = y_true[first]  # the annotators label the first batch
    clf = SklearnClassifier(LogisticRegression(max_iter=2000), classes=classes, random_state=seed)
    uncertainty = UncertaintySampling(method="margin_sampling", random_state=seed)
    n_labels, accuracy = [], []
    for round_ in range(n_rounds + 1):
        clf.fit(X, y)  # trains on the labelled rows only
        n_labels.append(int(np.sum(~np.isnan(y))))
        accuracy.append(clf.score(X_test, y_test))
        if round_ < n_rounds:
            rows = uncertainty.query(X, y, clf=clf, batch_size=batch)
            y[rows] = y_true[rows]
    return np.array(n_labels), np.array(accuracy)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="active_learning.png", help="PNG of the curves")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--initial", type=int, default=20, help="labels in the cold start")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10, help="labels per later round")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, X_test, y_true, y_test = load_example()  # digits, standardised; labels hidden
    starts = {
        "TypiClust cold start (skelfs)": lambda seed: SelectorQueryStrategy(
            TypiClustSelector(n_neighbors=10), random_state=seed
        ),
        "random cold start": lambda seed: RandomSampling(random_state=seed),
    }
    curves = {}
    for name, make in starts.items():
        runs = [
            learning_curve(
                X, y_true, X_test, y_test, make(seed), args.initial, args.rounds, args.batch, seed
            )
            for seed in args.seeds
        ]
        n_labels = runs[0][0]
        curves[name] = (n_labels, np.mean([acc for _, acc in runs], axis=0))

    print(f"pool: {len(X)} digits, test: {len(X_test)}; mean test accuracy over seeds {args.seeds}")
    print("labels  " + "  ".join(f"{name:>30}" for name in curves))
    n_labels = next(iter(curves.values()))[0]
    for i, n in enumerate(n_labels):
        print(f"{n:6d}  " + "  ".join(f"{acc[i]:30.3f}" for _, acc in curves.values()))
    plot(curves, args.out)
    print(f"wrote {args.out}")


def plot(curves, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (n_labels, accuracy) in curves.items():
        ax.plot(n_labels, accuracy, marker="o", label=name)
    ax.set_xlabel("labels bought")
    ax.set_ylabel("test accuracy (logistic regression)")
    ax.set_title("Cold start, then uncertainty sampling (digits)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    # write next to the target, then rename: an interrupted run leaves no half-written PNG
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out)), suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


if __name__ == "__main__":
    main()
