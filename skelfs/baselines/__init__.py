"""Label-free selection baselines, one module each, all with the BaseSelector API."""

from .d2 import D2Selector
from .facility_location import FacilityLocationSelector
from .kcenter import KCenterGreedySelector
from .maxherding import MaxHerdingSelector
from .probcover import ProbCoverSelector
from .prototypicality import PrototypicalitySelector
from .random import RandomSelector
from .typiclust import TypiClustSelector

__all__ = [
    "D2Selector",
    "FacilityLocationSelector",
    "KCenterGreedySelector",
    "MaxHerdingSelector",
    "ProbCoverSelector",
    "PrototypicalitySelector",
    "RandomSelector",
    "TypiClustSelector",
]
