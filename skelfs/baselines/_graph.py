"""What the kNN-graph baselines share: parameters, their checks and docs, one neighbour search.

TypiClust, ProbCover, D2 and facility location all read a cosine kNN graph. They derive
from :class:`KNNGraphSelector`, which holds the constraints of the parameters they have
in common (``n_neighbors``, ``neighbors``, ``backend``, ``device``, ``random_state``,
``verbose``) and runs the search with them; :func:`fill_doc` puts the shared parameter
descriptions into their docstrings (``%(name)s`` placeholders, as imbalanced-learn's
``Substitution`` decorator does).
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.utils import check_random_state

from .._utils import draw_seed
from .._validation import NO_VALIDATION, Check, Flag, Int, Seed, check_backend, check_device
from ..base import BaseSelector
from ..coverage import auto_bandwidth, greedy_coverage, similarity_graph
from ..neighbors import kneighbors

#: Parameter descriptions shared by the kNN-graph baselines' docstrings.
_SHARED_DOCS = {
    "neighbors": """neighbors : sparse matrix, transformer or None, default=None
        Precomputed cosine-distance kNN graph or a ``KNeighborsTransformer``-like
        object, as in :func:`skelfs.neighbors.kneighbors`.""",
    "backend": """backend : {"auto", "exact", "faiss", "pynndescent"}, default="auto"
        Nearest-neighbour search; see :func:`skelfs.neighbors.kneighbors`.""",
    "device": """device : {"cpu", "auto", "cuda"} or str, default="cpu"
        Where the exact search runs.""",
}


def fill_doc(cls):
    """Class decorator: replace ``%(neighbors)s``, ``%(backend)s``, ``%(device)s`` in the
    docstring with the shared parameter descriptions."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__ % _SHARED_DOCS
    return cls


class KNNGraphSelector(BaseSelector):
    """Base of the selectors that read a cosine kNN graph of the pool (not public API).

    Subclasses define ``__init__`` with the shared parameters they take and extend
    ``_parameter_constraints``; :meth:`_kneighbors` searches with their settings.
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseSelector._parameter_constraints,
        "n_neighbors": Int(1),  # clipped to n_samples - 1 at search time
        "neighbors": NO_VALIDATION,  # checked against X by skelfs.neighbors.kneighbors
        "backend": Check(check_backend),
        "device": Check(check_device),
        "random_state": Seed(),
        "verbose": Flag(),
    }

    def _kneighbors(self, X, n_neighbors, rng):
        """Cosine kNN of ``X`` with this selector's ``neighbors``/``backend``/``device``.

        ``n_neighbors`` is clipped to ``n_samples - 1`` so that tiny pools still work, and
        the approximate backends are seeded from ``rng``.
        """
        return kneighbors(
            X,
            min(n_neighbors, X.shape[0] - 1),
            neighbors=getattr(self, "neighbors", None),
            backend=self.backend,
            device=self.device,
            random_state=draw_seed(rng),
            verbose=self.verbose,
        )

    def _cover(self, X, n_select, kernel, desc, bandwidth=None):
        """Greedy kernel coverage on this selector's kNN graph (:mod:`skelfs.coverage`).

        The fitted attributes of the coverage selectors (facility location: ``kernel=
        "cosine"``; MaxHerding: ``"gaussian"``, with ``bandwidth`` or its "auto" rule).
        """
        rng = check_random_state(self.random_state)
        distances, indices = self._kneighbors(X, int(self.n_neighbors), rng)
        if bandwidth == "auto":
            bandwidth = auto_bandwidth(distances)
        sim = similarity_graph(distances, indices, kernel=kernel, bandwidth=bandwidth)
        ranking, gains, served = greedy_coverage(sim, n_select, verbose=self.verbose, desc=desc)
        fitted = {
            "sample_indices_": ranking,
            "ranking_": ranking,
            "gains_": gains,
            "objective_": float(served.sum()),
        }
        if bandwidth is not None:
            fitted["bandwidth_"] = float(bandwidth)
        return fitted
