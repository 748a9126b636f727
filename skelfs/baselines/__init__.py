"""Label-free selection baselines, one module each, all with the BaseSelector API."""

from .kcenter import KCenterGreedySelector
from .prototypicality import PrototypicalitySelector
from .random import RandomSelector

__all__ = ["KCenterGreedySelector", "PrototypicalitySelector", "RandomSelector"]
