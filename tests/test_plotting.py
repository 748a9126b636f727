"""skelfs.plotting: what each figure draws, checked on the artists."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after importorskip and use("Agg"))

from skelfs import (  # noqa: E402
    D2Selector,
    DoubleEndPruner,
    ELFSSelector,
    RandomSelector,
)
from skelfs.plotting import (  # noqa: E402
    hard_pruned_mask,
    plot_budget_curve,
    plot_difficulty,
    plot_selection,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=5.0, size=(5, 6))
    return centers[rng.randint(5, size=400)] + rng.normal(size=(400, 6))


@pytest.fixture(scope="module")
def elfs_cluster(X):
    return ELFSSelector(budget=40, beta=0.2, n_clusters=5, device="cpu").fit(X)


@pytest.fixture(scope="module")
def elfs_global(X):
    pruner = DoubleEndPruner(beta=0.25, allocation=None)
    return ELFSSelector(budget=40, pruner=pruner, n_clusters=5, device="cpu").fit(X)


def _group_labels(ax):
    # a stacked histogram: one bar container per group, its legend label on the first bar
    return [c.patches[0].get_label() for c in ax.containers]


def _bar_total(ax, label_start):
    """Rows counted by the stacked bars whose legend label starts with ``label_start``."""
    containers = [c for c in ax.containers if c.patches[0].get_label().startswith(label_start)]
    assert len(containers) == 1, _group_labels(ax)
    # stacked bars: each patch's height is its own group's count in that bin
    return round(sum(p.get_height() for p in containers[0].patches))


def test_hard_pruned_mask_per_cluster(elfs_cluster):
    sel = elfs_cluster
    mask = hard_pruned_mask(sel)
    sizes = np.bincount(sel.pseudo_labels_)
    assert mask.sum() == sum(int(np.floor(0.2 * m + 1e-9)) for m in sizes)
    assert not (mask & sel.get_support()).any()
    # in each cluster, every dropped row is at least as hard as every kept row
    for c in range(sizes.size):
        in_c = sel.pseudo_labels_ == c
        if mask[in_c].any():
            assert sel.scores_[in_c & mask].min() >= sel.scores_[in_c & ~mask].max()


def test_difficulty_histogram_counts_every_row_once(elfs_cluster):
    sel = elfs_cluster
    ax = plot_difficulty(sel)
    dropped = hard_pruned_mask(sel).sum()
    assert _bar_total(ax, "selected") == 40
    assert _bar_total(ax, "dropped") == dropped
    assert _bar_total(ax, "not selected") == 400 - 40 - dropped
    assert "in each cluster" in _group_labels(ax)[2]
    # per-cluster cuts differ: no single shaded threshold
    assert not [p for p in ax.patches if p.get_label().startswith("region above")]
    assert "β = 0.20" in ax.get_title()


def test_difficulty_shades_the_region_above_a_global_cut(elfs_global):
    sel = elfs_global
    ax = plot_difficulty(sel)
    spans = [p for p in ax.patches if p.get_label().startswith("region above")]
    assert len(spans) == 1
    cut = np.sort(sel.scores_)[::-1][int(np.floor(0.25 * 400)) - 1]  # the 100th hardest
    x0 = spans[0].get_x()
    assert x0 == pytest.approx(cut)
    assert _bar_total(ax, "dropped") == 100
    assert (sel.scores_[sel.get_support()] <= cut).all()


def test_difficulty_without_beta_has_two_groups_and_no_span(X):
    sel = D2Selector(budget=30).fit(X)
    ax = plot_difficulty(sel)
    assert [label.split(" (")[0] for label in _group_labels(ax)] == ["selected", "not selected"]
    assert _bar_total(ax, "selected") == 30
    assert ax.get_xlabel() == "score (scores_)"


def test_difficulty_needs_scores(X):
    with pytest.raises(ValueError, match="per-row scores_"):
        plot_difficulty(RandomSelector(budget=10).fit(X))
    with pytest.raises(ValueError, match="not fitted"):
        plot_difficulty(ELFSSelector())


def test_selection_draws_every_point_of_a_small_pool(X, elfs_cluster):
    _, ax = plt.subplots()
    assert plot_selection(X, elfs_cluster, ax=ax) is ax
    others, chosen = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    assert len(others) == 360 and len(chosen) == 40
    # the highlighted points are the selected rows, in PCA coordinates
    from sklearn.decomposition import PCA

    Z = PCA(2, random_state=0).fit_transform(
        np.vstack([X[~elfs_cluster.get_support()], X[elfs_cluster.get_support()]])
    )
    np.testing.assert_allclose(np.abs(chosen), np.abs(Z[360:]), rtol=1e-6, atol=1e-8)


def test_selection_subsamples_a_large_pool_deterministically(X):
    sel = RandomSelector(budget=100).fit(X)
    ax = plot_selection(X, sel, max_points=120)
    assert len(ax.collections[0].get_offsets()) == 60
    assert len(ax.collections[1].get_offsets()) == 60
    assert "showing a random 120" in ax.get_title()
    again = plot_selection(X, sel, max_points=120)
    np.testing.assert_array_equal(
        ax.collections[1].get_offsets(), again.collections[1].get_offsets()
    )


def test_selection_features_method_and_errors(X):
    sel = RandomSelector(budget=10).fit(X)
    ax = plot_selection(pd.DataFrame(X), sel, method="features")
    chosen = ax.collections[1].get_offsets()
    np.testing.assert_allclose(chosen, X[sel.sample_indices_, :2])
    with pytest.raises(ValueError, match="400 rows"):
        plot_selection(X[:50], sel)
    with pytest.raises(ValueError, match="method"):
        plot_selection(X, sel, method="tsne")


def _results(probe=True):
    rows = []
    for seed in (0, 1, 2):
        for budget in (0.01, 0.1, 0.3):
            for method, gain in (("random", 0.0), ("elfs", 0.05), ("kcenter", -0.02)):
                acc = 0.5 + budget + gain + 0.01 * seed
                rows.append(
                    {
                        "dataset": "toy",
                        "seed": seed,
                        "budget": budget,
                        "method": method,
                        "probe": "lr",
                        "accuracy": acc,
                    }
                )
                if probe:
                    rows.append({**rows[-1], "probe": "mlp", "accuracy": acc - 0.1})
    frame = pd.DataFrame(rows)
    return frame if probe else frame.drop(columns="probe")


def test_budget_curve_means_over_seeds(tmp_path):
    path = tmp_path / "results.csv"
    _results().to_csv(path, index=False)
    ax = plot_budget_curve(path)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["elfs", "random", "kcenter"]
    np.testing.assert_allclose(lines["elfs"].get_xdata(), [0.01, 0.1, 0.3])
    np.testing.assert_allclose(lines["elfs"].get_ydata(), [57.0, 66.0, 86.0])  # LR, mean of 3 seeds
    assert ax.get_xscale() == "log"
    assert len(ax.collections) == 3  # one ±std band per method
    mlp = plot_budget_curve(path, probe="mlp")
    np.testing.assert_allclose(mlp.get_lines()[0].get_ydata(), [47.0, 56.0, 76.0])


def test_budget_curve_reads_the_older_schema_without_probe():
    ax = plot_budget_curve(_results(probe=False))
    assert [line.get_label() for line in ax.get_lines()] == ["elfs", "random", "kcenter"]
    assert "probe" not in ax.get_ylabel()


def test_budget_curve_single_budget_is_a_dot_plot():
    frame = _results()
    ax = plot_budget_curve(frame[frame["budget"] == 0.1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["kcenter", "random", "elfs"]
    assert ax.get_lines()[-1].get_xdata()[0] == pytest.approx(66.0)  # elfs, best, on top


def test_budget_curve_errors():
    frame = _results()
    with pytest.raises(ValueError, match="lack the column"):
        plot_budget_curve(frame.drop(columns="accuracy"))
    with pytest.raises(ValueError, match="probe='svm'"):
        plot_budget_curve(frame, probe="svm")
    two = pd.concat([frame, frame.assign(dataset="other")])
    with pytest.raises(ValueError, match="2 datasets"):
        plot_budget_curve(two)
    assert plot_budget_curve(two, dataset="other").get_title().startswith("other")


def test_cli_plot_writes_pngs(tmp_path, X, capsys):
    from skelfs.cli import main

    np.save(tmp_path / "X.npy", X)
    assert (
        main(
            [
                "plot",
                str(tmp_path / "X.npy"),
                "--budget",
                "40",
                "--beta",
                "0.2",
                "--n-clusters",
                "5",
                "--device",
                "cpu",
                "-o",
                str(tmp_path / "figs"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "difficulty.png",
        "selection.png",
    ]
    # a method without scores_: the selection view only
    assert (
        main(
            [
                "plot",
                str(tmp_path / "X.npy"),
                "--budget",
                "20",
                "--method",
                "typiclust",
                "-o",
                str(tmp_path / "tc"),
            ]
        )
        == 0
    )
    assert [p.name for p in (tmp_path / "tc").iterdir()] == ["selection.png"]
    _results().to_csv(tmp_path / "r.csv", index=False)
    assert (
        main(
            [
                "plot",
                "--budget-curve",
                str(tmp_path / "r.csv"),
                "-o",
                str(tmp_path / "curves"),
                "--json",
            ]
        )
        == 0
    )
    assert (tmp_path / "curves" / "budget_toy.png").stat().st_size > 1000
    capsys.readouterr()
    # a CSV that is not benchmark results: one line, status 2
    pd.DataFrame({"index": [1, 2]}).to_csv(tmp_path / "sel.csv", index=False)
    assert (
        main(["plot", "--budget-curve", str(tmp_path / "sel.csv"), "-o", str(tmp_path / "curves")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lacks the column(s) dataset, method, budget, accuracy" in err[0]
