"""ELFSSelector: label-free coreset selection by composition of swappable components.

pseudo-labels (clusterer) -> difficulty from proxy training dynamics (scorer)
-> double-end pruning (pruner). This module only wires the components together.
"""

from __future__ import annotations

import contextvars
import warnings
from typing import ClassVar

import numpy as np
from sklearn import config_context
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_memory

from ._probe import probe_accuracy
from ._threads import retune_threads
from ._utils import (
    PageReleaser,
    Stages,
    caller_stacklevel,
    check_beta,
    check_n_clusters,
    draw_seed,
    floor_count,
    progress,
    resolve_device,
)
from ._validation import (
    NO_VALIDATION,
    Check,
    Flag,
    NJobs,
    Options,
    Seed,
    check_device,
)
from .base import BaseSelector
from .clustering import DeepClusterer, KMeansClusterer
from .coverage import auto_bandwidth, similarity_graph
from .dynamics import SCORES, DynamicsScorer, auto_epochs
from .neighbors import kneighbors
from .pruning import SAMPLING_MODES, DoubleEndPruner

CLUSTERERS = {"kmeans": KMeansClusterer, "temi": DeepClusterer}
# n_clusters=None: about two selected rows per pseudo-label cluster, at most this many
# clusters (TypiClust's cap; it also bounds the proxy head's cost at scale).
MAX_AUTO_CLUSTERS = 500
# Candidate betas for beta="auto" (the grid of the ELFS paper's search, capped at 0.5).
AUTO_BETAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
# beta="auto" on a pool larger than this searches on a random subset of this many rows
# (same budget fraction), so that the probes cost the same at 1M rows as at 50k.
AUTO_BETA_MAX_ROWS = 50_000
# sampling="coverage": neighbours per row in the kernel graph (as the coverage baselines).
COVERAGE_NEIGHBORS = 20
# The stage reporter of the fit in progress, for _fit_stages (whose signature is the cache
# key of ``memory`` and stays (clusterer, scorer, Z)).
_STAGES = contextvars.ContextVar("skelfs_elfs_stages", default=None)


class ELFSSelector(BaseSelector):
    """Effective Label-Free coreset Selection (ELFS, Zheng et al., ICLR 2025).

    1. ``clusterer`` gives every row a pseudo-label;
    2. ``scorer`` trains a small torch head on the pseudo-labels and turns its training
       dynamics into a per-row difficulty (higher = harder);
    3. ``pruner`` drops the hardest ``beta`` fraction (pseudo-label noise gathers
       there) and takes the budget from the rest.

    Components may be given as strings (built with this selector's ``n_clusters``,
    ``difficulty``, ``sampling``, ``beta``, ``device``, ``random_state`` and ``verbose``) or as
    estimator instances, which keep their own settings (they are cloned, never mutated),
    except that an instance whose ``random_state`` is None is seeded from this selector's
    ``random_state``, so that one seed makes the whole selection reproducible.

    Parameters
    ----------
    budget : int or float, default=0.1
        Rows to select: an int count, or a float fraction in (0, 1).
    beta : float or "auto", default="auto"
        Fraction of the hardest rows dropped before selection, in [0, 1). An explicit beta that
        leaves fewer rows than the budget raises. ``"auto"`` picks it without labels, as the ELFS
        authors do: for each feasible candidate in ``AUTO_BETAS`` a logistic-regression probe
        (torch, on ``device``) is trained on the selection's pseudo-labels and scored on a held-out
        split of pseudo-labelled rows; the best candidate wins (ties go to the smaller beta). With
        k-means pseudo-labels the criterion favours large beta (a linear probe reproduces k-means
        clusters exactly, so it rewards central rows); with the budget-tied clusters that means
        keeping the typical half of each small cluster, which measured as good as or better than a
        fixed beta=0.1 in 10 of 12 dataset x budget cells (docs/benchmarks.md). Above
        ``AUTO_BETA_MAX_ROWS`` (50,000) rows the search runs on a random subset of 50,000 rows at
        the same budget fraction, so its cost stops growing with the pool (about 10 s on a 2-core
        CPU with 500 clusters and 768 features).
    n_clusters : int or None, default=None
        Number of pseudo-label clusters for a clusterer built from a string. None ties
        it to the budget, label-free: ``min(max(2, n_selected // 2), 500)`` clusters, so
        that with the default ``"cover"`` allocation every cluster gets a row and about
        half of the budget follows the cluster sizes (stratified sampling with about two
        rows per stratum). This measured far better than a silhouette estimate of the
        number of classes (docs/benchmarks.md); a clusterer instance keeps its own rule.
    clusterer : "kmeans" or estimator, default="kmeans"
        Anything with ``fit(X)`` setting ``labels_``.
    difficulty : str, default="aum"
        Difficulty score for a scorer built from ``scorer=None`` (see
        :class:`DynamicsScorer`). Named ``difficulty`` rather than ``score`` because
        ``score`` is the name of scikit-learn's evaluation method.
    scorer : None or estimator, default=None
        A :class:`DynamicsScorer`-like estimator with ``fit(X, y)`` setting ``scores_``.
    sampling : {"hard", "ccs", "coverage"}, default="ccs"
        Sampling mode for a pruner built from ``pruner=None`` (see
        :class:`DoubleEndPruner`). ``"coverage"`` also builds a cosine kNN graph of the
        pool (20 neighbours, :func:`skelfs.neighbors.kneighbors`) for the Gaussian
        kernel it covers.
    pruner : None or DoubleEndPruner, default=None
        A pruner instance; its own ``beta`` then applies (``"auto"`` allowed).
    feature_extractor : None or transformer, default=None
        Turns ``X`` into the embeddings the selection runs on: a clone is fitted with
        ``fit_transform(X)`` before everything else. ``X`` reaches it as it is, so with
        :class:`TorchEncoder` (any torch module) or :class:`SentenceTransformerEncoder`
        the pool can be raw images, rows or texts; ``transform(X)`` then returns the
        selected raw rows. A memory-mapped encoding the extractor wrote for ``fit`` (see
        ``TorchEncoder(max_memory_bytes=...)``) is removed once the selection is made.
        None means ``X`` is already embeddings.
    device : str, default="auto"
        Torch device for components built from strings and for the ``beta="auto"``
        probes; "auto" uses CUDA when available. On CUDA every stage but the final
        pruning (a sort of ``n`` scores) runs on the GPU: k-means in torch, the proxy
        head, the probes.
    n_jobs : int or None, default=None
        Most threads used by every stage (torch and the BLAS/OpenMP pools of NumPy and
        scikit-learn), restored after ``fit``. None: torch's configured count (all cores;
        one per worker inside joblib's processes, e.g. under ``GridSearchCV(n_jobs=...)``)
        at most, fewer while other processes keep cores busy (re-checked every half
        second between steps; a spin-waiting thread on a shared core costs more than it
        brings). An int fixes the count; -1 means all cores. The selection does not
        depend on the count with the default components on CPU: every sum that decides
        a step (k-means inertia and seeding, the probes' L-BFGS) is taken so that it
        rounds the same on any count (docs/benchmarks.md, "Threads").
    random_state : int, RandomState instance or None, default=0
        Same input and same int seed give the same selection (on CPU).
    verbose : int, default=0
        Report on stderr: each stage by name as it starts and ends (pseudo-labels,
        proxy training dynamics, choosing beta, pruning and sampling), with progress
        inside it (k-means restarts or passes, epochs, beta candidates): a bar when
        stderr is a terminal, a few plain lines otherwise.
    memory : str, joblib.Memory or None, default=None
        Cache for the expensive stages (pseudo-labels and difficulty scores), as
        ``memory`` in :class:`sklearn.pipeline.Pipeline`: a directory path or a
        ``joblib.Memory``. The cache key is the data (after ``feature_extractor``) and
        the clusterer and scorer with all their parameters, seeds included; ``beta``,
        ``sampling`` and the pruner are not part of it, so a grid search over ``beta``
        (or ``sampling``, and ``budget`` when ``n_clusters`` is fixed) fits those stages
        once per training fold. Hashing reads the whole pool once per fit. None: no
        caching.

    Attributes
    ----------
    sample_indices_ : ndarray of shape ``(n_selected_,)``
        Sorted indices of the selected rows.
    n_selected_ : int
    scores_ : ndarray of shape (n_samples,)
        Difficulty of every row, higher = harder.
    pseudo_labels_ : ndarray of shape (n_samples,)
        Cluster id of every row.
    n_clusters_ : int
    beta_ : float
        The beta used (the chosen one when ``beta="auto"``).
    auto_beta_scores_ : dict
        Held-out pseudo-label accuracy per candidate beta (empty unless ``"auto"``).
    feature_extractor_ : transformer
        The fitted clone of ``feature_extractor`` (only when one is given).
    clusterer_, scorer_, pruner_ : fitted components
        ``scorer_`` is None when every row fell into one cluster (then ``scores_`` is all
        zeros and the selection is uniform at random, with a warning).
    n_samples_fit_, n_features_in_ : int
        ``n_features_in_`` is not set when a ``feature_extractor`` takes an ``X`` that is
        not 2-D (images, texts).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skelfs import ELFSSelector
    >>> X, _ = load_digits(return_X_y=True)
    >>> sel = ELFSSelector(budget=0.1, n_clusters=10, random_state=0).fit(X)
    >>> sel.n_selected_
    179
    >>> sel.get_support(indices=True)[:3].tolist() == sorted(sel.sample_indices_[:3])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSelector._parameter_constraints,
        "beta": Check(check_beta),  # feasibility against the budget: _check_feasible in fit
        # Checked once, against n_samples, when a clusterer is built from a string
        # (_make_components), after X: a one-row X is reported as such first.
        "n_clusters": NO_VALIDATION,
        "clusterer": Check(lambda value: _check_component(value, "clusterer", "fit", CLUSTERERS)),
        "difficulty": Options(*SCORES),
        "scorer": Check(lambda value: _check_component(value, "scorer", "fit")),
        "sampling": Options(*SAMPLING_MODES),
        "pruner": Check(lambda value: _check_component(value, "pruner", "select")),
        "feature_extractor": NO_VALIDATION,  # any transformer; cloned and fitted in fit
        "device": Check(check_device),
        "n_jobs": NJobs(),
        "random_state": Seed(),
        "verbose": Flag(),
        "memory": Check(check_memory),  # a path, a joblib.Memory-like object or None
    }

    def __init__(
        self,
        budget=0.1,
        *,
        beta="auto",
        n_clusters=None,
        clusterer="kmeans",
        difficulty="aum",
        scorer=None,
        sampling="ccs",
        pruner=None,
        feature_extractor=None,
        device="auto",
        n_jobs=None,
        random_state=0,
        verbose=0,
        memory=None,
    ):
        self.budget = budget
        self.beta = beta
        self.n_clusters = n_clusters
        self.clusterer = clusterer
        self.difficulty = difficulty
        self.scorer = scorer
        self.sampling = sampling
        self.pruner = pruner
        self.feature_extractor = feature_extractor
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory

    # -- component construction ----------------------------------------------------------
    def _make_components(self, n_samples, n_select, rng):
        seeds = [draw_seed(rng) for _ in range(3)]  # clusterer, scorer, pruner
        if isinstance(self.clusterer, str):
            if self.n_clusters is None:
                n_clusters = min(max(2, n_select // 2), MAX_AUTO_CLUSTERS, n_samples)
            else:
                n_clusters = check_n_clusters(self.n_clusters, n_samples)
            clusterer = CLUSTERERS[self.clusterer](
                n_clusters=n_clusters, device=self.device, random_state=seeds[0]
            )
            clusterer.set_params(verbose=self.verbose)
            if self.clusterer == "temi":  # the deep clusterer also trains with these
                clusterer.set_params(n_jobs=self.n_jobs)
        else:
            clusterer = _clone_component(self.clusterer, seeds[0])

        if self.scorer is None:
            scorer = DynamicsScorer(
                difficulty=self.difficulty,
                device=self.device,
                random_state=seeds[1],
                verbose=self.verbose,
            )
        else:
            scorer = _clone_component(self.scorer, seeds[1])

        if self.pruner is None:
            beta = check_beta(self.beta)
            pruner = DoubleEndPruner(
                beta=0.0 if beta == "auto" else beta, sampling=self.sampling, random_state=seeds[2]
            )
            wanted_beta = beta
        else:
            pruner = _clone_component(self.pruner, seeds[2])
            wanted_beta = check_beta(pruner.beta)
        return clusterer, scorer, pruner, wanted_beta

    # -- selection -----------------------------------------------------------------------
    def _select(self, X, n_select):
        rng = check_random_state(self.random_state)
        clusterer, scorer, pruner, wanted_beta = self._make_components(X.shape[0], n_select, rng)
        if wanted_beta != "auto":
            # Fail before the expensive stages when beta and budget cannot both hold.
            pruner._check_feasible(
                X.shape[0] - floor_count(wanted_beta, X.shape[0]), n_select, wanted_beta, X.shape[0]
            )
        memory = check_memory(self.memory)
        Z = X  # already the feature_extractor's output (BaseSelector._encode_pool)
        coverage = getattr(pruner, "sampling", None) == "coverage"
        stages = Stages("ELFS", 3 + (wanted_beta == "auto") + coverage, self.verbose)
        stages.start("pseudo-labels", _describe_clusterer(clusterer, Z.shape[0]))
        token = _STAGES.set(stages)
        try:
            clusterer, scorer, labels, scores = memory.cache(_fit_stages)(clusterer, scorer, Z)
        finally:
            _STAGES.reset(token)
        if stages.index == 1:  # _fit_stages did not run: the memory cache answered
            stages.start("proxy training dynamics", "loaded from the memory cache")
        if scorer is None:
            # e.g. all rows identical: no structure, so no training dynamics.
            warnings.warn(
                "all rows fell into one pseudo-label cluster (are the rows identical?); "
                "difficulty is undefined, so the selection is uniform at random.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        idx, beta, auto_scores = self._prune(
            Z, labels, scores, n_select, pruner, wanted_beta, rng, stages=stages
        )
        stages.finish()
        return {
            "sample_indices_": idx,
            "scores_": scores,
            "pseudo_labels_": labels,
            "n_clusters_": int(np.unique(labels).size),
            "beta_": float(beta),
            "auto_beta_scores_": auto_scores,
            "clusterer_": clusterer,
            "scorer_": scorer,
            "pruner_": pruner,
        }

    def _prune(self, Z, labels, scores, n_select, pruner, wanted_beta, rng, stages=None):
        """The budget-dependent step: the beta search (if "auto"), then the pruner.

        Returns ``(indices, beta, auto_beta_scores)``. Split out of ``_select`` so that a
        benchmark can replay it on stored pseudo-labels and scores. ``stages`` reports
        the stages (silent when None).
        """
        stages = stages if stages is not None else Stages("ELFS", 0, 0)
        similarity = None
        if getattr(pruner, "sampling", None) == "coverage":
            k = min(COVERAGE_NEIGHBORS, Z.shape[0] - 1)
            stages.start("kNN graph", f"{k} neighbours per row, for coverage sampling")
            distances, indices = kneighbors(
                Z,
                k,
                device=self.device,
                random_state=draw_seed(rng),
                verbose=self.verbose,
            )
            similarity = similarity_graph(
                distances, indices, kernel="gaussian", bandwidth=auto_bandwidth(distances)
            )
        auto_scores = {}
        if wanted_beta == "auto":
            subset = (
                f" on a random {AUTO_BETA_MAX_ROWS}-row subset"
                if Z.shape[0] > AUTO_BETA_MAX_ROWS
                else ""
            )
            stages.start(
                "choosing beta",
                f"a label-free search over beta in {', '.join(map(str, AUTO_BETAS))}{subset}: "
                f"a probe trained on each candidate's selection, scored on held-out "
                f"pseudo-labels",
            )
            beta, auto_scores = _auto_beta(
                Z,
                labels,
                scores,
                n_select,
                pruner,
                rng,
                device=resolve_device(self.device),
                similarity=similarity,
                verbose=self.verbose,
            )
        else:
            beta = wanted_beta
        stages.start(
            "pruning and sampling",
            f"beta={float(beta):g}, sampling={getattr(pruner, 'sampling', '?')}, {n_select} rows",
        )
        idx = pruner.select(scores, n_select, groups=labels, beta=beta, similarity=similarity)
        return idx, float(beta), auto_scores


def _fit_stages(clusterer, scorer, Z):
    """Pseudo-labels, then difficulty: ``(clusterer, scorer, labels, scores)``, fitted.

    A module-level function so that ``memory`` can cache it; ``scorer`` comes back None
    (and the scores all zero) when every row fell into one cluster. ``Z`` is the pool
    the selector validated (``BaseSelector._validate_pool``), so the components skip
    their own NaN/inf checks of it: on a memory map each is another streamed read of
    the whole pool (about 3 s per GB on two cores).
    """
    with config_context(assume_finite=True):
        labels = np.asarray(clusterer.fit(Z).labels_)
    stages = _STAGES.get()
    n_labels = np.unique(labels).size
    if n_labels < 2:
        if stages is not None:
            stages.start("proxy training dynamics", "skipped: a single pseudo-label cluster")
        return clusterer, None, labels, np.zeros(Z.shape[0])
    if stages is not None:
        stages.start("proxy training dynamics", _describe_scorer(scorer, n_labels, Z.shape[0]))
    with config_context(assume_finite=True):
        scores = np.asarray(scorer.fit(Z, labels).scores_, dtype=np.float64)
    return clusterer, scorer, labels, scores


def _describe_clusterer(clusterer, n_samples):
    """The pseudo-label stage in words, e.g. "k-means, K=50 clusters of 2000 rows"."""
    k = clusterer.get_params().get("n_clusters", None)
    clusters = f"K={k} clusters" if k is not None else "K estimated from the data"
    kind = {"KMeansClusterer": "k-means", "DeepClusterer": "TEMI deep clustering"}.get(
        type(clusterer).__name__, type(clusterer).__name__
    )
    return f"{kind}, {clusters} of {n_samples} rows"


def _describe_scorer(scorer, n_labels, n_samples):
    """The difficulty stage in words, e.g. "aum from a linear head, 20 epochs, ..."."""
    params = scorer.get_params()
    if "epochs" in params and "batch_size" in params:
        params["epochs"] = auto_epochs(params["epochs"], n_samples, params["batch_size"])
    if "difficulty" not in params or "epochs" not in params:
        return f"{type(scorer).__name__} on {n_labels} pseudo-labels"
    hidden = params.get("hidden_layer_size")
    head = "a linear head" if hidden is None else f"a head with {hidden} hidden units"
    return (
        f"{params['difficulty']} from {head} trained {params['epochs']} epochs "
        f"to predict {n_labels} pseudo-labels"
    )


def _check_component(component, name, method, shortcuts=None):
    """A component parameter: None (built from this selector's settings; a string of
    ``shortcuts`` where there are some) or an estimator with a ``method``."""
    if shortcuts is not None and isinstance(component, str):
        if component not in shortcuts:
            raise ValueError(
                f"{name} must be one of {sorted(shortcuts)} or an estimator with "
                f"fit(X) -> labels_, got {component!r}."
            )
        return
    if (shortcuts is None and component is None) or hasattr(component, method):
        return
    raise TypeError(
        f"{name} must be a string shortcut or an estimator with a {method}() method, "
        f"got {component!r}."
    )


def _clone_component(component, seed):
    """Clone a user's component; seed it from the selector if its random_state is None."""
    component = clone(component)
    if component.get_params(deep=False).get("random_state", 0) is None:
        component.set_params(random_state=seed)
    return component


def _auto_beta(
    X,
    labels,
    scores,
    n_select,
    pruner,
    rng,
    *,
    device,
    holdout=0.2,
    max_holdout=5000,
    max_rows=AUTO_BETA_MAX_ROWS,
    similarity=None,
    verbose=0,
):
    """Pick beta label-free: probe accuracy on held-out *pseudo*-labels per candidate.

    The pool (or, above ``max_rows`` rows, a random subset of ``max_rows`` rows) is
    split once; each candidate beta selects (with the pruner) from the non-held-out
    rows at the same budget fraction, a standardised softmax regression
    (``_probe.probe_accuracy``, on ``device``) is trained on the selection's
    pseudo-labels, and its accuracy on the held-out rows' pseudo-labels is the
    candidate's score. Only the held-out rows and one selection at a time are read
    from ``X``, never the whole pool. ``similarity`` (for ``sampling="coverage"``) is
    restricted to the rows each candidate selects from. ``verbose`` shows progress over
    the candidates.
    """
    n = X.shape[0]
    # Below the cap no random draw is added, so results there match the uncapped search.
    pool = np.arange(n) if n <= max_rows else np.sort(rng.choice(n, max_rows, replace=False))
    n_val = int(min(max_holdout, max(1, round(holdout * pool.size))))
    perm = rng.permutation(pool.size)
    val, rest = pool[np.sort(perm[:n_val])], pool[np.sort(perm[n_val:])]
    n_sub = max(1, int(round(n_select * rest.size / n)))
    pages = PageReleaser(X)  # scattered reads of a map larger than memory stay bounded
    X_val = pages.take(val)
    sub_similarity = None if similarity is None else similarity[rest][:, rest]
    # Only the candidates feasible at this budget are tried.
    candidates = [
        beta
        for beta in AUTO_BETAS
        if n_sub <= rest.size - floor_count(beta, rest.size)
        and n_select <= n - floor_count(beta, n)
    ]
    results = {}
    bar = progress(len(candidates), "choosing beta", verbose)
    try:
        for beta in candidates:
            retune_threads()
            pick = rest[
                pruner.select(
                    scores[rest], n_sub, groups=labels[rest], beta=beta, similarity=sub_similarity
                )
            ]
            results[beta] = probe_accuracy(
                pages.take(pick), labels[pick], X_val, labels[val], device=device
            )
            best = max(results, key=lambda b: (results[b], -b))
            bar.set_postfix(beta=beta, accuracy=results[beta], best=best)
            bar.update()
    finally:
        bar.close()
    if not results:
        return 0.0, results
    best = max(results.values())
    return min(b for b, acc in results.items() if acc == best), results
