"""Pseudo-labels for ELFS: clusterers with ``fit(X) -> labels_, n_clusters_``.

``DeepClusterer`` trains TEMI clustering heads on the embeddings (docs/algorithm.md,
section 1); ``KMeansClusterer`` is the cheap option and ``ELFSSelector``'s default (see
docs/benchmarks.md for the measurement behind that choice). ``estimate_n_clusters``
picks K without labels when it is not given.

One thing per module: ``estimate`` (label-free K), ``kmeans`` (the k-means estimator),
``_kernels`` (the Lloyd / k-means++ kernels in torch and NumPy), ``temi``
(``DeepClusterer``). Everything is re-exported here.
"""

# Private names too: tests and benchmarks import them from here.
from ._kernels import (  # noqa: F401
    _ASSIGN_BLOCK,
    _STREAM_TOL,
    _assign_blocks,
    _device_blocks,
    _fit_torch_lloyd,
    _kmeans_plus_plus,
    _lloyd_passes,
    _seed_on_sample,
)
from .estimate import _eigengap, _silhouette_sweep, estimate_n_clusters  # noqa: F401
from .kmeans import _MINIBATCH_ABOVE, KMeansClusterer  # noqa: F401
from .temi import (  # noqa: F401
    _AUTO_MAX_EPOCHS,
    _AUTO_STEPS,
    DeepClusterer,
    _auto_epochs,
    _MultiHead,
    _temi_loss,
)

__all__ = ["DeepClusterer", "KMeansClusterer", "estimate_n_clusters"]
