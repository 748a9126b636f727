"""Lloyd k-means kernels: k-means++ seeding and Lloyd passes in torch, block assignment in NumPy."""

from __future__ import annotations

import math

import numpy as np

from .._threads import invariant_sum, retune_threads
from .._utils import PageReleaser, progress, release_pages, rows_to_device

# The streamed mini-batch path stops once a pass over the data lowers the inertia
# (sum of squared distances to the nearest centre) by less than this fraction.
_STREAM_TOL = 1e-3
# Rows per block when the streamed path assigns labels (bounds its working memory).
_ASSIGN_BLOCK = 4096


def _fit_torch_lloyd(X, k, seed, device, *, n_init, max_iter, sample_size, verbose=0):
    """Lloyd k-means in torch on ``device``: k-means++ on a sample, then full passes."""
    rng = np.random.RandomState(seed)
    n = X.shape[0]
    sample = PageReleaser(X).take(_seeding_sample(n, sample_size, rng))
    S = rows_to_device(sample, slice(None), device)
    centers = _seed_on_sample(S, k, rng, n_init=n_init, max_iter=max_iter, verbose=verbose)
    blocks = _device_blocks(X, device)
    bar = progress(None, f"k-means K={k}, passes over {n} rows", verbose)
    try:
        centers, labels, _, n_iter = _lloyd_passes(blocks, centers, max_iter, bar)
    finally:
        bar.close()
    return centers.cpu().numpy(), labels, n_iter


def _seeding_sample(n, size, rng):
    """Sorted indices of ``min(n, size)`` distinct rows drawn from ``rng`` (all rows if fewer)."""
    return np.sort(rng.choice(n, size=min(n, size), replace=False))


def _seed_on_sample(S, k, rng, *, n_init, max_iter, verbose=0):
    """Initial centres from a sample ``S`` (a float32 tensor): k-means++ then Lloyd passes
    on ``S``, ``n_init`` times with draws from ``rng``; the restart of lowest inertia wins.

    In torch rather than scikit-learn's float64 ``KMeans``: on 12,288 x 768 rows with
    K=500 this took 2.6 s on two cores against 4.4 s (docs/benchmarks.md, issue 16).
    """
    best = None
    bar = progress(n_init, f"k-means K={k}, restarts on {S.shape[0]} rows", verbose)
    try:
        for _ in range(n_init):
            centers = _kmeans_plus_plus(S, k, rng)
            centers, _, inertia, _ = _lloyd_passes([S], centers, max_iter)
            if best is None or inertia < best[1]:
                best = (centers, inertia)
            bar.set_postfix(inertia=best[1])
            bar.update()
    finally:
        bar.close()
    return best[0]


def _device_blocks(X, device):
    """``X`` as a list of float32 blocks on ``device`` (resident) or a re-readable stream."""
    import torch

    starts = range(0, X.shape[0], _ASSIGN_BLOCK)
    to_dev = lambda s: rows_to_device(X, slice(s, s + _ASSIGN_BLOCK), device)  # noqa: E731
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if 4 * X.shape[0] * X.shape[1] < free // 4:  # copy once, reuse every pass
            return [to_dev(s) for s in starts]

    class _Stream:  # each pass reads (and casts) the blocks again; X is never copied whole
        def __iter__(self):
            return (to_dev(s) for s in starts)

    return _Stream()


def _kmeans_plus_plus(S, k, rng):
    """k-means++ seeding with ``2 + log k`` candidates per step (as scikit-learn)."""
    import torch

    m = S.shape[0]
    n_trials = 2 + int(np.log(k))
    sq = (S * S).sum(dim=1)

    def sq_dist(C):  # (m, c) squared distances, clamped at 0 against rounding
        # One addmm: ``2.0 * S @ C.T`` would scale all of S (the sample) at every step.
        cross = torch.addmm((C * C).sum(dim=1)[None, :], S, C.T, alpha=-2.0)
        return cross.add_(sq[:, None]).clamp_min_(0.0)

    centers = [S[rng.randint(m)]]
    closest = sq_dist(centers[0][None, :])[:, 0]
    for _ in range(1, k):
        # Sums in NumPy float64 (one thread): the draw and the pick are then the same on
        # any thread count.
        weights = closest.double().cpu().numpy()
        total = weights.sum()
        if total <= 0.0:  # fewer distinct rows than clusters: any row will do
            cand = rng.randint(m, size=n_trials)
        else:
            cand = rng.choice(m, size=n_trials, p=weights / total)
        cand_d = torch.minimum(closest[:, None], sq_dist(S[cand]))
        j = int(np.argmin(cand_d.double().cpu().numpy().sum(axis=0)))
        centers.append(S[cand[j]])
        closest = cand_d[:, j]
    return torch.stack(centers)


def _lloyd_passes(blocks, centers, max_iter, bar=None, reduce=None):
    """Assign / update until a pass lowers the inertia by less than ``_STREAM_TOL``.

    Returns the centres the final labels were assigned to, those labels (numpy), the
    inertia and the number of passes. ``bar``, a progress reporter, is advanced per pass.
    ``reduce(sums, counts, total)``, if given, sums the per-cluster sums, counts and the
    inertia in place over the workers that hold the other rows (``skelfs.distributed``),
    so that every worker takes the same step.
    """
    import torch

    labels, inertia = None, math.inf
    for n_iter in range(1, max_iter + 1):
        sums = torch.zeros_like(centers)
        counts = torch.zeros(centers.shape[0], dtype=centers.dtype, device=centers.device)
        half_sq = 0.5 * (centers * centers).sum(dim=1)
        parts, costs = [], []
        for block in blocks:
            retune_threads()
            dist = half_sq[None, :] - block @ centers.T
            best_d, best = dist.min(dim=1)
            # Each row's squared distance; summed once per pass (one host sync), in
            # NumPy, so the stopping test does not depend on the thread count.
            costs.append(2.0 * best_d.double() + (block * block).sum(dim=1, dtype=torch.float64))
            sums.index_add_(0, best, block)
            counts.index_add_(0, best, torch.ones_like(best_d))
            parts.append(best)
        total = torch.tensor(
            invariant_sum(torch.cat(costs)), dtype=torch.float64, device=centers.device
        )
        if reduce is not None:
            reduce(sums, counts, total)
        previous, inertia = inertia, float(total)
        labels = torch.cat(parts)
        converged = previous < math.inf and previous - inertia <= _STREAM_TOL * previous
        if bar is not None:
            if previous < math.inf:
                bar.set_postfix(inertia_change=_relative_change(previous, inertia))
            bar.update()
        if converged or n_iter == max_iter:
            break
        filled = counts > 0
        centers = torch.where(filled[:, None], sums / counts.clamp_min(1.0)[:, None], centers)
    return centers, labels.cpu().numpy(), inertia, n_iter


def _relative_change(previous, inertia):
    """The inertia's change over a pass, for progress reports: "-0.21%"."""
    return f"{(inertia - previous) / previous:+.2%}" if previous > 0 else "0"


def _assign_blocks(X, centers):
    """Nearest centre of every row of ``X`` and the total squared distance, by blocks."""
    centers = np.asarray(centers, dtype=np.float32)
    half_sq_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
    labels = np.empty(X.shape[0], dtype=np.intp)
    inertia = 0.0
    for start in range(0, X.shape[0], _ASSIGN_BLOCK):
        block = np.ascontiguousarray(X[start : start + _ASSIGN_BLOCK], dtype=np.float32)
        # argmin ||x - c||^2 = argmin (|c|^2 / 2 - x.c); the row's |x|^2 is added back for
        # the inertia only.
        dist = block @ centers.T
        np.subtract(half_sq_norms, dist, out=dist)
        best = dist.argmin(axis=1)
        labels[start : start + block.shape[0]] = best
        inertia += float(
            2.0 * dist[np.arange(best.size), best].sum(dtype=np.float64)
            + np.einsum("ij,ij->", block, block, dtype=np.float64)
        )
        release_pages(X, start, start + _ASSIGN_BLOCK)  # each pass reads a block once
    return labels, inertia
