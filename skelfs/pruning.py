"""Double-end pruning: drop the hardest rows, then keep the budget from what remains.

ELFS's difficulty scores come from a proxy trained on *pseudo*-labels, so the very
hardest rows are mostly pseudo-label noise (rows the clusterer put in the wrong
cluster). The pruner drops the hardest ``floor(beta * n)`` of them and then fills the
budget either from the hard end of the rest (``sampling="hard"``), by
coverage-centric stratified sampling over the score range (``sampling="ccs"``), or by
greedy kernel coverage of the whole pool from the rows that remain
(``sampling="coverage"``, :mod:`skelfs.coverage`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._utils import check_beta, floor_count
from ._validation import Check, Int, Options, Seed, ValidatedParamsMixin
from .coverage import greedy_coverage

SAMPLING_MODES = ("hard", "ccs", "coverage")
ALLOCATIONS = ("cover", "proportional", "equal")


def water_fill(capacities, total):
    """Split ``total`` units over bins as evenly as their ``capacities`` allow.

    Bins are visited from the smallest capacity up; each takes
    ``min(capacity, remaining // bins_left)``. This is the CCS budget allocation
    (small strata are taken whole, the surplus goes to the larger ones) and it
    allocates exactly ``total`` whenever ``total <= sum(capacities)``.

    Parameters
    ----------
    capacities : array-like of int, shape (n_bins,)
    total : int

    Returns
    -------
    alloc : ndarray of int, shape (n_bins,)
    """
    capacities = np.asarray(capacities, dtype=np.int64)
    alloc = np.zeros_like(capacities)
    remaining = int(total)
    order = np.argsort(capacities, kind="stable")
    for i, b in enumerate(order):
        take = min(int(capacities[b]), remaining // (len(order) - i))
        alloc[b] = take
        remaining -= take
    return alloc


def proportional_split(capacities, total, rng):
    """Split ``total`` units in proportion to ``capacities`` (largest remainders round up).

    Exact and never above a capacity whenever ``total <= sum(capacities)``: a bin whose
    quota is already whole has no remainder, so it is never rounded up past it. Ties
    between equal remainders are broken by ``rng``.
    """
    capacities = np.asarray(capacities, dtype=np.int64)
    alloc = np.zeros_like(capacities)
    if total <= 0 or capacities.sum() == 0:
        return alloc
    quota = total * capacities / capacities.sum()
    alloc = np.floor(quota + 1e-9).astype(np.int64)
    alloc = np.minimum(alloc, capacities)
    short = int(total - alloc.sum())
    order = np.lexsort((rng.permutation(capacities.size), -(quota - alloc)))
    alloc[order[:short]] += 1
    return alloc


def cover_split(capacities, total, rng):
    """One unit per non-empty bin first (largest bins first if short), then proportional.

    Every pseudo-label cluster is represented as soon as the budget allows (coverage at
    small budgets), and the rest follows the pool's distribution (large budgets).
    """
    capacities = np.asarray(capacities, dtype=np.int64)
    first = np.zeros_like(capacities)
    order = np.lexsort((rng.permutation(capacities.size), -capacities))
    first[order[: min(int(total), int(np.count_nonzero(capacities)))]] = 1
    return first + proportional_split(capacities - first, int(total - first.sum()), rng)


def hardest_first(scores, rng):
    """Indices sorted by descending score; ties broken by a random permutation from ``rng``."""
    tiebreak = rng.permutation(scores.shape[0])
    return np.lexsort((tiebreak, -scores))


def stratified_sample(scores, n_select, n_strata, rng):
    """CCS: split the score range into equal-width strata and fill from the smallest up.

    Returns ``n_select`` positions into ``scores`` (exactly, for any ``n_select <=
    len(scores)``), sampled uniformly inside each stratum.
    """
    lo, hi = float(scores.min()), float(scores.max())
    if hi > lo:
        width = (hi - lo) / n_strata
        strata = np.minimum(((scores - lo) / width).astype(np.int64), n_strata - 1)
    else:  # all scores equal: one stratum, plain uniform sampling
        strata = np.zeros(scores.shape[0], dtype=np.int64)
    alloc = water_fill(np.bincount(strata, minlength=n_strata), n_select)
    # Members of every stratum, grouped, in a random order: take the first alloc[s] of each.
    order = np.lexsort((rng.permutation(scores.shape[0]), strata))
    starts = np.searchsorted(strata[order], np.arange(n_strata))
    return np.concatenate([order[s : s + a] for s, a in zip(starts, alloc) if a > 0])


_SPLITS = {
    "cover": cover_split,
    "proportional": proportional_split,
    "equal": lambda capacities, total, rng: water_fill(capacities, total),
}


class DoubleEndPruner(ValidatedParamsMixin, BaseEstimator):
    """Drop the hardest ``beta`` fraction, then select the budget from the rest.

    Parameters
    ----------
    beta : float, default=0.1
        Fraction of the hardest rows dropped before selection, in ``[0, 1)``.
        ``floor(beta * n)`` rows are dropped (per cluster when ``allocation`` is set).
    sampling : {"hard", "ccs", "coverage"}, default="ccs"
        ``"hard"`` keeps the hardest remaining rows (ELFS's budget mode);
        ``"ccs"`` samples uniformly inside equal-width score strata, filling the budget
        from the smallest stratum up (coverage-centric selection); ``"coverage"``
        greedily maximises the kernel coverage of *every* row of the pool
        (:func:`skelfs.coverage.greedy_coverage`, MaxHerding's objective) with only the
        rows that survive the pruning as candidates. It needs the ``similarity`` graph
        in :meth:`select` and ignores ``allocation`` for the picks (global coverage
        measured better than coverage inside each cluster), though the hardest rows are
        still dropped per cluster.
    n_strata : int, default=50
        Number of strata for ``sampling="ccs"``.
    allocation : {"cover", "proportional", "equal"} or None, default="cover"
        How the budget is split across pseudo-label clusters when cluster labels are
        given; double-end pruning then runs inside each cluster. This keeps the selection
        from collapsing onto the few clusters whose rows the proxy finds hardest.
        ``"cover"``: one row per cluster first (the largest clusters first if the budget
        is smaller than the number of clusters), the rest in proportion to cluster size
        (:func:`cover_split`): coverage at small budgets, the pool's distribution at
        large ones. ``"proportional"``: in proportion to cluster size. ``"equal"``: as
        evenly as the cluster sizes allow (:func:`water_fill`). None: no split, the
        paper's global pruning.
    random_state : int, RandomState instance or None, default=None
        Seeds tie-breaking and the sampling inside strata.

    Examples
    --------
    >>> import numpy as np
    >>> from skelfs import DoubleEndPruner
    >>> scores = np.arange(10.0)            # row 9 is the hardest
    >>> DoubleEndPruner(beta=0.2, sampling="hard").select(scores, 3)
    array([5, 6, 7])
    """

    _parameter_constraints: ClassVar[dict] = {
        "beta": Check(check_beta),  # "auto" only for ELFSSelector's search, see select()
        "sampling": Options(*SAMPLING_MODES),
        "n_strata": Int(1),
        "allocation": Options(*ALLOCATIONS, none=True),
        "random_state": Seed(),
    }

    def __init__(
        self, beta=0.1, sampling="ccs", n_strata=50, allocation="cover", random_state=None
    ):
        self.beta = beta
        self.sampling = sampling
        self.n_strata = n_strata
        self.allocation = allocation
        self.random_state = random_state

    def select(self, scores, n_select, *, groups=None, beta=None, similarity=None):
        """Return the sorted indices of ``n_select`` rows chosen from ``scores``.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Difficulty, higher = harder.
        n_select : int
            Number of rows to return (exactly).
        groups : array-like of shape (n_samples,), default=None
            Cluster labels; the budget is split across them unless ``allocation`` is None.
        beta : float, default=None
            Overrides ``self.beta`` (used by the automatic beta search).
        similarity : sparse matrix of shape (n_samples, n_samples), default=None
            Kernel graph (:func:`skelfs.coverage.similarity_graph`) for
            ``sampling="coverage"``; unused by the other modes.

        Returns
        -------
        indices : ndarray of int, shape (n_select,)
        """
        self._validate_params()
        beta = check_beta(self.beta if beta is None else beta, allow_auto=False)
        scores = np.asarray(scores, dtype=np.float64).ravel()
        if not np.all(np.isfinite(scores)):
            raise ValueError("scores contain NaN or inf; difficulty scores must be finite.")
        n = scores.shape[0]
        if self.sampling == "coverage" and (similarity is None or similarity.shape != (n, n)):
            raise ValueError(
                'sampling="coverage" needs the similarity graph of the rows '
                f"(similarity of shape ({n}, {n})); ELFSSelector builds and passes it, "
                "or pass skelfs.coverage.similarity_graph(...) to select()."
            )
        rng = check_random_state(self.random_state)
        if groups is None or self.allocation is None:
            kept = n - floor_count(beta, n)
            self._check_feasible(kept, n_select, beta, n)
            if self.sampling == "coverage":
                survivors = hardest_first(scores, rng)[n - kept :]
                return np.sort(greedy_coverage(similarity, n_select, candidates=survivors)[0])
            return np.sort(self._prune(scores, n_select, beta, rng))

        groups = np.asarray(groups).ravel()
        if groups.shape[0] != n:
            raise ValueError(f"groups has {groups.shape[0]} entries for {n} scores.")
        _, group_id = np.unique(groups, return_inverse=True)
        members = [np.flatnonzero(group_id == g) for g in range(group_id.max() + 1)]
        kept = np.array([m.size - floor_count(beta, m.size) for m in members])
        self._check_feasible(int(kept.sum()), n_select, beta, n)
        if self.sampling == "coverage":  # drop the hardest per cluster, cover globally
            survivors = np.concatenate(
                [m[hardest_first(scores[m], rng)[m.size - k :]] for m, k in zip(members, kept)]
            )
            return np.sort(greedy_coverage(similarity, n_select, candidates=survivors)[0])
        alloc = _SPLITS[self.allocation](kept, n_select, rng)
        chosen = [m[self._prune(scores[m], a, beta, rng)] for m, a in zip(members, alloc) if a > 0]
        return np.sort(np.concatenate(chosen))

    def _prune(self, scores, n_select, beta, rng):
        """Double-end pruning of one group: positions into ``scores``."""
        order = hardest_first(scores, rng)
        rest = order[floor_count(beta, scores.shape[0]) :]
        if self.sampling == "hard":
            return rest[:n_select]
        return rest[stratified_sample(scores[rest], n_select, self.n_strata, rng)]

    @staticmethod
    def _check_feasible(kept, n_select, beta, n):
        if n_select > kept:
            raise ValueError(
                f"beta={beta} drops the hardest rows and leaves {kept} of {n} rows, fewer "
                f"than the budget of {n_select} rows. Lower beta or the budget "
                f"(beta + budget fraction must stay below 1)."
            )
