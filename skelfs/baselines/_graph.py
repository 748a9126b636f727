"""What the kNN-graph baselines share: one neighbour search with the selector's settings."""

from __future__ import annotations

from .._utils import draw_seed
from ..neighbors import kneighbors


def selector_kneighbors(selector, X, n_neighbors, rng):
    """Cosine kNN of ``X`` with ``selector``'s ``neighbors``/``backend``/``device``/``verbose``.

    ``n_neighbors`` is clipped to ``n_samples - 1`` so that tiny pools still work, and the
    approximate backends are seeded from ``rng``.
    """
    return kneighbors(
        X, min(n_neighbors, X.shape[0] - 1), neighbors=selector.neighbors,
        backend=selector.backend, device=selector.device,
        random_state=draw_seed(rng), verbose=selector.verbose)
