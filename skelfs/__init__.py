"""skelfs: choose which unlabelled rows are worth labelling (ELFS and label-free baselines)."""

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
