"""Figures for a selection: difficulty histogram, 2-D view of the pool, budget curves.

matplotlib is optional (``pip install skelfs[plot]``); it is imported inside each function,
so ``import skelfs.plotting`` works without it. Every function draws on ``ax`` when given,
else on a new figure, and returns the Axes.
"""

from __future__ import annotations

import numpy as np

from ._utils import floor_count

# Colours: selected rows stand out, the kept-but-unselected pool recedes, the rows dropped
# as hardest read as "removed".
SELECTED_COLOR = "#1f77b4"
POOL_COLOR = "#b8b8b8"
DROPPED_COLOR = "#d62728"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skelfs.plotting needs matplotlib: pip install skelfs[plot] "
            "(or pip install matplotlib)."
        ) from exc
    return plt


def _axes(ax, figsize):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def hard_pruned_mask(selector):
    """Rows that double-end pruning dropped as the hardest ``beta_`` fraction.

    Recomputed from ``scores_``, ``beta_`` and, when the pruner splits the budget across
    clusters (``allocation`` not None, the default), ``pseudo_labels_``: in each cluster
    of ``m`` rows the ``floor(beta_ * m)`` highest scores; without a split, the
    ``floor(beta_ * n)`` highest overall. Rows with exactly equal scores at the cut may be
    resolved differently from the pruner's seeded tie-break, so a selected row is never
    reported as dropped.

    Parameters
    ----------
    selector : fitted ELFSSelector
        Any fitted selector with ``scores_``; without ``beta_`` nothing was dropped.

    Returns
    -------
    mask : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> from skelfs import ELFSSelector
    >>> from skelfs.datasets import load_example
    >>> from skelfs.plotting import hard_pruned_mask
    >>> X = load_example()[0]
    >>> sel = ELFSSelector(budget=0.1, beta=0.2, n_clusters=10, random_state=0).fit(X)
    >>> int(hard_pruned_mask(sel).sum())  # floor(0.2 * size) in each of 10 clusters
    247
    """
    scores = np.asarray(selector.scores_, dtype=np.float64)
    n = scores.shape[0]
    mask = np.zeros(n, dtype=bool)
    beta = float(getattr(selector, "beta_", 0.0) or 0.0)
    if beta <= 0.0:
        return mask
    pruner = getattr(selector, "pruner_", None)
    per_cluster = (
        getattr(pruner, "allocation", None) is not None
        and getattr(selector, "pseudo_labels_", None) is not None
    )
    groups = np.asarray(selector.pseudo_labels_) if per_cluster else np.zeros(n, dtype=int)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        n_drop = floor_count(beta, members.size)  # as the pruner counts
        if n_drop:
            # hardest first; equal scores: lower row index first
            order = members[np.lexsort((members, -scores[members]))]
            mask[order[:n_drop]] = True
    mask[selector.get_support()] = False
    return mask


def plot_difficulty(selector, ax=None, *, bins=50):
    """Histogram of the per-row scores, split into selected, not selected and dropped.

    The three groups are stacked on common bins: the selected rows (bottom), the rows
    kept but not selected, and the rows double-end pruning dropped as the hardest
    ``beta_`` fraction (:func:`hard_pruned_mask`). When the pruning cut is one global
    threshold (``pruner_.allocation`` None) the region above it is shaded; with the
    default per-cluster pruning each cluster has its own cut, so the dropped rows are
    shown as their own bars instead.

    Parameters
    ----------
    selector : fitted selector with ``scores_``
        :class:`~skelfs.ELFSSelector`, or a baseline exposing ``scores_``
        (:class:`~skelfs.D2Selector`, :class:`~skelfs.PrototypicalitySelector`).
    ax : matplotlib Axes, optional
        Drawn on a new figure when None.
    bins : int, default=50
        Histogram bins.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skelfs import ELFSSelector
    >>> from skelfs.datasets import load_example
    >>> from skelfs.plotting import plot_difficulty
    >>> sel = ELFSSelector(budget=0.1, n_clusters=10, random_state=0).fit(load_example()[0])
    >>> ax = plot_difficulty(sel)
    >>> [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()][:2]
    ['selected', 'not selected']
    """
    _pyplot()  # fail early, before any work, when matplotlib is missing
    if getattr(selector, "scores_", None) is None or not hasattr(selector, "sample_indices_"):
        raise ValueError(
            f"plot_difficulty needs a fitted selector with per-row scores_ (ELFSSelector, "
            f"D2Selector, PrototypicalitySelector); got {type(selector).__name__}"
            f"{'' if hasattr(selector, 'sample_indices_') else ', not fitted'}."
        )
    scores = np.asarray(selector.scores_, dtype=np.float64)
    selected = selector.get_support()
    dropped = hard_pruned_mask(selector)
    rest = ~selected & ~dropped
    beta = float(getattr(selector, "beta_", 0.0) or 0.0)

    ax = _axes(ax, (7.5, 4.2))
    edges = np.histogram_bin_edges(scores, bins=bins)
    groups = [
        (scores[selected], SELECTED_COLOR, f"selected ({selected.sum()})"),
        (scores[rest], POOL_COLOR, f"not selected ({rest.sum()})"),
    ]
    if dropped.any():
        pruner = getattr(selector, "pruner_", None)
        where = "overall" if getattr(pruner, "allocation", None) is None else "in each cluster"
        groups.append(
            (
                scores[dropped],
                DROPPED_COLOR,
                f"dropped: hardest β={beta:.2f} {where} ({dropped.sum()})",
            )
        )
    values, colors, labels = zip(*groups)
    ax.hist(
        list(values),
        bins=edges,
        stacked=True,
        color=list(colors),
        label=list(labels),
        edgecolor="white",
        linewidth=0.3,
    )
    pruner = getattr(selector, "pruner_", None)
    if dropped.any() and getattr(pruner, "allocation", 0) is None:
        cut = scores[dropped].min()
        ax.axvspan(
            cut,
            edges[-1],
            color=DROPPED_COLOR,
            alpha=0.10,
            zorder=0,
            label=f"region above the β cut ({cut:.2f})",
        )
    name = getattr(selector, "difficulty", None) if hasattr(selector, "beta_") else None
    ax.set_xlabel(
        f"difficulty{f' ({name})' if name else ''}: higher = harder"
        if hasattr(selector, "beta_")
        else "score (scores_)"
    )
    ax.set_ylabel("rows")
    title = f"{type(selector).__name__}: {selected.sum()} of {scores.size} rows selected"
    if hasattr(selector, "beta_"):
        title += f", β = {beta:.2f}"
    ax.set_title(title)
    # Headroom above the tallest bar keeps the legend off the bars.
    ax.set_ylim(0, ax.get_ylim()[1] * 1.4)
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _subsample(selected, max_points, random_state):
    """Row indices to draw: all when they fit, else a seeded uniform subsample.

    The selected rows get up to half of ``max_points`` (all of them when they fit), the
    rest of the pool fills the remainder, so the highlight survives subsampling.
    """
    rng = np.random.RandomState(random_state)
    chosen, others = np.flatnonzero(selected), np.flatnonzero(~selected)
    if chosen.size + others.size <= max_points:
        return chosen, others
    n_chosen = min(chosen.size, max(1, max_points // 2))
    n_others = min(others.size, max_points - n_chosen)
    return (
        np.sort(rng.choice(chosen, n_chosen, replace=False)),
        np.sort(rng.choice(others, n_others, replace=False)),
    )


def plot_selection(X, selector, ax=None, method="pca", *, max_points=20000, random_state=0):
    """2-D view of the pool with the selected rows highlighted.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The pool the selector was fitted on.
    selector : fitted selector
        Any fitted selector (its ``sample_indices_``, and for ELFS the rows pruning dropped).
    ax : matplotlib Axes, optional
        Drawn on a new figure when None.
    method : {"pca", "features"}, default="pca"
        ``"pca"``: the first two principal components (fitted on the drawn rows);
        ``"features"``: the first two columns of ``X`` as they are.
    max_points : int, default=20000
        Most points drawn; a larger pool is subsampled uniformly with ``random_state``
        (selected rows keep up to half of the points), and the title says so.
    random_state : int, default=0
        Seeds the subsample (and a randomized PCA solver), so the figure is reproducible.

    Returns
    -------
    ax : matplotlib Axes
        ``ax.collections[0]`` holds the unselected points drawn, ``ax.collections[1]``
        the selected ones.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skelfs import RandomSelector
    >>> from skelfs.datasets import load_example
    >>> from skelfs.plotting import plot_selection
    >>> X = load_example()[0]
    >>> ax = plot_selection(X, RandomSelector(budget=50).fit(X))
    >>> len(ax.collections[1].get_offsets())
    50
    """
    from sklearn.utils.validation import check_is_fitted

    _pyplot()  # fail early, before the PCA, when matplotlib is missing
    check_is_fitted(selector, "sample_indices_")
    if method not in ("pca", "features"):
        raise ValueError(f'method must be "pca" or "features", got {method!r}.')
    if (
        isinstance(max_points, bool)
        or not isinstance(max_points, (int, np.integer))
        or max_points < 2
    ):
        raise ValueError(f"max_points must be an int >= 2, got {max_points!r}.")
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    if len(X.shape) != 2 or X.shape[0] != selector.n_samples_fit_:
        raise ValueError(
            f"X has shape {X.shape}; plot_selection needs the pool the selector was fitted "
            f"on, with {selector.n_samples_fit_} rows."
        )
    if X.shape[1] < 2:
        raise ValueError(f"X has {X.shape[1]} feature; a 2-D view needs at least 2.")

    selected = selector.get_support()
    chosen, others = _subsample(selected, max_points, random_state)
    rows = np.concatenate([others, chosen])
    # Only the drawn rows are read, in increasing order (a memory-mapped pool stays on
    # disk), then put back in drawing order.
    order = np.argsort(rows, kind="stable")
    taker = X.iloc if hasattr(X, "iloc") else X
    Z = np.empty((rows.size, X.shape[1]))
    Z[order] = np.asarray(taker[rows[order]], dtype=np.float64)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=random_state)
        Z = pca.fit_transform(Z)
        xlabel, ylabel = (
            f"PC{i + 1} ({100 * r:.0f}% of variance)"
            for i, r in enumerate(pca.explained_variance_ratio_)
        )
    else:
        Z = Z[:, :2]
        xlabel, ylabel = "feature 0", "feature 1"

    ax = _axes(ax, (6.5, 5.5))
    Zo, Zc = Z[: others.size], Z[others.size :]
    ax.scatter(
        Zo[:, 0],
        Zo[:, 1],
        s=5,
        c=POOL_COLOR,
        alpha=0.6,
        linewidths=0,
        label=f"not selected ({(~selected).sum()})",
        rasterized=True,
    )
    # Smaller markers when many rows are highlighted, so they do not merge into blobs.
    size = 16.0 * min(1.0, np.sqrt(500 / max(chosen.size, 1)))
    ax.scatter(
        Zc[:, 0],
        Zc[:, 1],
        s=max(size, 4.0),
        c=SELECTED_COLOR,
        edgecolors="black",
        linewidths=0.3,
        label=f"selected ({selected.sum()})",
        rasterized=True,
    )
    title = f"{type(selector).__name__}: {selected.sum()} of {selected.size} rows"
    if rows.size < selected.size:
        title += f"\n(showing a random {rows.size} of them)"
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small", markerscale=1.5)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


#: Columns :func:`plot_budget_curve` needs; ``seed`` and ``probe`` are optional.
BUDGET_COLUMNS = ("dataset", "method", "budget", "accuracy")


def plot_budget_curve(results, dataset=None, ax=None, *, probe="lr"):
    """Test accuracy against budget, one line per method (mean, ±std band over seeds).

    Reads the CSVs the benchmark scripts write: ``benchmarks/quality.py`` (columns
    ``dataset, seed, budget, method, probe, ..., accuracy``) and the earlier
    ``benchmarks/quality_core.py`` ones (``dataset, method, budget, seed, ...,
    accuracy``, no probe).

    Parameters
    ----------
    results : str, Path or pandas DataFrame
        The CSV path or its rows.
    dataset : str, optional
        Which dataset to draw; may be omitted when the results hold only one.
    ax : matplotlib Axes, optional
        Drawn on a new figure when None.
    probe : str, default="lr"
        When there is a ``probe`` column, the probe whose accuracy is drawn.

    Returns
    -------
    ax : matplotlib Axes
        One line per method (``ax.get_lines()``), labelled with the method name.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from skelfs.plotting import plot_budget_curve
    >>> rows = pd.DataFrame({"dataset": "toy", "method": ["random", "elfs"] * 2,
    ...                      "budget": [0.1, 0.1, 0.2, 0.2], "seed": 0,
    ...                      "accuracy": [0.70, 0.75, 0.80, 0.82]})
    >>> [line.get_label() for line in plot_budget_curve(rows).get_lines()]
    ['elfs', 'random']
    """
    import pandas as pd

    _pyplot()  # fail early when matplotlib is missing
    frame = results if isinstance(results, pd.DataFrame) else pd.read_csv(results)
    missing = [c for c in BUDGET_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the results lack the column(s) {', '.join(missing)}; plot_budget_curve reads "
            f"the benchmark CSVs (columns {', '.join(BUDGET_COLUMNS)}, optionally seed and "
            f"probe); found: {', '.join(map(str, frame.columns))}."
        )
    frame = frame.dropna(subset=["accuracy"])  # a partial run leaves some rows empty
    if "probe" in frame.columns:
        probes = sorted(frame["probe"].dropna().astype(str).unique())
        if probe not in probes:
            raise ValueError(
                f"probe={probe!r} is not in the results; they hold {', '.join(probes)}."
            )
        frame = frame[frame["probe"].astype(str) == probe]
    datasets = sorted(frame["dataset"].astype(str).unique())
    if dataset is None:
        if len(datasets) != 1:
            raise ValueError(
                f"the results hold {len(datasets)} datasets "
                f"({', '.join(datasets)}); choose one with dataset=..."
            )
        dataset = datasets[0]
    elif dataset not in datasets:
        raise ValueError(
            f"dataset={dataset!r} is not in the results; they hold {', '.join(datasets)}."
        )
    frame = frame[frame["dataset"].astype(str) == dataset]

    stats = (
        frame.assign(accuracy=100 * frame["accuracy"].astype(float))
        .groupby(["method", "budget"])["accuracy"]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    methods = list(stats["method"].astype(str).unique())
    # ELFS first and random second in the legend, then the baselines alphabetically.
    methods.sort(key=lambda m: (m != "elfs", m != "random", m))
    n_seeds = int(frame.groupby(["method", "budget"]).size().max())

    budgets = np.sort(stats["budget"].astype(float).unique())
    if budgets.size == 1:
        return _plot_one_budget(
            stats, methods, dataset, budgets[0], n_seeds, probe, "probe" in frame.columns, ax
        )

    ax = _axes(ax, (7.5, 4.8))
    palette = iter(
        [
            "#2ca02c",
            "#9467bd",
            "#8c564b",
            "#e377c2",
            "#17becf",
            "#bcbd22",
            "#ff7f0e",
            "#1f77b4",
            "#7f7f7f",
        ]
        * 4
    )
    for method in methods:
        rows = stats[stats["method"].astype(str) == method].sort_values("budget")
        if method == "elfs":
            style = {"color": DROPPED_COLOR, "linewidth": 2.4, "marker": "o", "zorder": 5}
        elif method == "random":
            style = {
                "color": "black",
                "linewidth": 1.4,
                "linestyle": "--",
                "marker": "s",
                "markersize": 4,
                "zorder": 4,
            }
        else:
            style = {"color": next(palette), "linewidth": 1.2, "marker": ".", "zorder": 3}
        x, y = rows["budget"].to_numpy(float), rows["mean"].to_numpy(float)
        ax.plot(x, y, label=method, **style)
        sd = rows["std"].fillna(0.0).to_numpy(float)
        if (rows["count"] > 1).any():
            ax.fill_between(x, y - sd, y + sd, color=style["color"], alpha=0.12, linewidth=0)

    if budgets.max() / budgets.min() >= 10:
        ax.set_xscale("log")
    ax.set_xticks(budgets)
    ax.xaxis.set_minor_locator(_pyplot().NullLocator())
    fractions = budgets.max() < 1
    ax.set_xticklabels([f"{100 * b:g}%" if fractions else f"{b:g}" for b in budgets])
    ax.set_xlabel("budget (fraction of the pool labelled)" if fractions else "budget (rows)")
    ax.set_ylabel(_accuracy_label(probe, "probe" in frame.columns))
    band = ", band: ±1 std" if n_seeds > 1 else ""
    ax.set_title(f"{dataset}: mean over {n_seeds} seed{'s' if n_seeds > 1 else ''}{band}")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize="small", ncol=2 if len(methods) > 5 else 1)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _accuracy_label(probe, has_probe):
    return f"test accuracy (%){f', {probe.upper()} probe' if has_probe else ''}"


def _plot_one_budget(stats, methods, dataset, budget, n_seeds, probe, has_probe, ax):
    """A single budget has no curve: one dot per method, best at the top (±std whiskers)."""
    stats = stats.set_index(stats["method"].astype(str))
    order = sorted(methods, key=lambda m: stats.loc[m, "mean"])
    ax = _axes(ax, (7.0, 0.9 + 0.38 * len(order)))
    for y, method in enumerate(order):
        mean, sd = float(stats.loc[method, "mean"]), stats.loc[method, "std"]
        color = {"elfs": DROPPED_COLOR, "random": "black"}.get(method, SELECTED_COLOR)
        if stats.loc[method, "count"] > 1 and np.isfinite(sd):
            ax.hlines(y, mean - sd, mean + sd, color=color, linewidth=1.2)
        ax.plot(
            [mean],
            [y],
            marker="o",
            markersize=7 if method == "elfs" else 5,
            color=color,
            linestyle="none",
            label=method,
        )
        ax.annotate(
            f"{mean:.1f}",
            (mean, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=color,
        )
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel(_accuracy_label(probe, has_probe))
    share = f"{100 * budget:g}% of the pool" if budget < 1 else f"{budget:g} rows"
    seeds = f"mean over {n_seeds} seeds, ±1 std" if n_seeds > 1 else "1 seed"
    ax.set_title(f"{dataset}: budget {share} ({seeds})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax
