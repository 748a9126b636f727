"""skelfs: choose which unlabelled rows are worth labelling (ELFS and label-free baselines)."""

import os as _os

# Intel's MKL, torch's BLAS on x86, splits a matmul's inner dimension across threads
# when the output is small next to it (a 256 x 1024 by 1024 x 500 product; a gradient
# summed over 50,000 rows), so the last bits of the proxy's logits, and through SGD the
# selection, depended on the thread count and on the machine's load. Its strict
# reproducibility mode keeps GEMMs bitwise the same on any thread count, at no cost we
# could measure (docs/benchmarks.md, "Threads"). MKL reads the variable at its first
# call: importing skelfs before torch runs a matmul is enough. A value already set wins.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from .base import BaseSelector
from .baselines import (
    D2Selector,
    FacilityLocationSelector,
    KCenterGreedySelector,
    MaxHerdingSelector,
    ProbCoverSelector,
    PrototypicalitySelector,
    RandomSelector,
    TypiClustSelector,
)
from .clustering import DeepClusterer, KMeansClusterer, estimate_n_clusters
from .dynamics import DynamicsScorer
from .encoders import SentenceTransformerEncoder, TorchEncoder
from .estimator import CoresetEstimator, CoresetSampler
from .pruning import DoubleEndPruner
from .registry import make_selector
from .selector import ELFSSelector

__version__ = "0.1.0"

__all__ = [
    "BaseSelector",
    "CoresetEstimator",
    "CoresetSampler",
    "D2Selector",
    "DeepClusterer",
    "DoubleEndPruner",
    "DynamicsScorer",
    "ELFSSelector",
    "FacilityLocationSelector",
    "KCenterGreedySelector",
    "KMeansClusterer",
    "MaxHerdingSelector",
    "ProbCoverSelector",
    "PrototypicalitySelector",
    "RandomSelector",
    "SentenceTransformerEncoder",
    "TorchEncoder",
    "TypiClustSelector",
    "estimate_n_clusters",
    "make_selector",
]
