"""Every shipped selector by name: the one table read by the CLI, the benchmarks, the docs and
the tests.

A name stands for a class *and* the keyword arguments that make it the method measured in
``docs/quality.md``: ``"prototypicality"`` is ``PrototypicalitySelector(end="easy")`` (the
prototypes), not the class default ``end="hard"``. Adding a selector is one entry in
:data:`SELECTORS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from . import baselines
from .selector import ELFSSelector


@dataclass(frozen=True)
class SelectorSpec:
    """One registered selector: its class, the keyword arguments it is run with, a summary.

    Parameters
    ----------
    cls : type
        A :class:`~skelfs.BaseSelector` subclass.
    defaults : dict
        Keyword arguments that differ from the class defaults for this name.
    description : str
        One line, shown by ``skelfs select --help``.
    """

    cls: type
    defaults: MappingProxyType = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))


def _spec(cls, description, **defaults):
    return SelectorSpec(cls, defaults, description)


#: name -> :class:`SelectorSpec`, in the order the CLI and the quality tables list them.
SELECTORS = MappingProxyType(
    {
        "random": _spec(baselines.RandomSelector, "a uniform random sample"),
        "elfs": _spec(
            ELFSSelector, "ELFS: pseudo-labels, proxy training dynamics, double-end pruning"
        ),
        "prototypicality": _spec(
            baselines.PrototypicalitySelector,
            "rows closest to their k-means centroid (end='easy')",
            end="easy",
        ),
        "kcenter": _spec(baselines.KCenterGreedySelector, "greedy k-center (core-set) coverage"),
        "typiclust": _spec(
            baselines.TypiClustSelector,
            "the most typical row of each of the largest k-means clusters",
        ),
        "probcover": _spec(baselines.ProbCoverSelector, "greedy cover of delta-balls (ProbCover)"),
        "d2": _spec(
            baselines.D2Selector, "D2 pruning: difficulty message passing on the kNN graph"
        ),
        "facility_location": _spec(
            baselines.FacilityLocationSelector, "greedy facility location on the kNN graph"
        ),
        "maxherding": _spec(
            baselines.MaxHerdingSelector,
            "greedy Gaussian-kernel coverage on the kNN graph (MaxHerding)",
        ),
    }
)

#: What ``skelfs select`` runs without ``--method``: the selector that measured best overall
#: in ``docs/quality.md`` (LR probe, 3 datasets x 7 budgets: the most cells within 0.3
#: points of the best method, and the smallest mean gap to it). ELFS's default pipeline
#: does not reach it there (see docs/quality.md, "Which method to use").
DEFAULT_METHOD = "facility_location"

#: Other accepted spellings -> registered name (the CLI used to spell it with a hyphen).
ALIASES = MappingProxyType({"facility-location": "facility_location"})


def resolve_name(name):
    """The registered name for ``name`` (a name of :data:`SELECTORS` or an alias).

    Parameters
    ----------
    name : str
        A selector name, such as ``"elfs"`` or ``"facility-location"``.

    Returns
    -------
    str
        The key of :data:`SELECTORS`.

    Raises
    ------
    ValueError
        If ``name`` is neither registered nor an alias.

    Examples
    --------
    >>> from skelfs.registry import resolve_name
    >>> resolve_name("facility-location")
    'facility_location'
    """
    key = ALIASES.get(name, name)
    if key not in SELECTORS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(SELECTORS)}.")
    return key


def make_selector(name, **kwargs):
    """A new, unfitted selector registered as ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`skelfs.registry.SELECTORS` (``"random"``, ``"elfs"``,
        ``"prototypicality"``, ``"kcenter"``, ``"typiclust"``, ``"probcover"``, ``"d2"``,
        ``"facility_location"``, ``"maxherding"``) or an alias.
    **kwargs
        Constructor arguments (``budget``, ``random_state``, ...); they override the
        registered defaults.

    Returns
    -------
    BaseSelector
        An instance of the registered class.

    Raises
    ------
    ValueError
        If ``name`` is not registered.

    Examples
    --------
    >>> from skelfs import make_selector
    >>> make_selector("prototypicality", budget=0.05, random_state=1)
    PrototypicalitySelector(budget=0.05, end='easy', random_state=1)
    """
    spec = SELECTORS[resolve_name(name)]
    return spec.cls(**{**spec.defaults, **kwargs})
