"""Constructor parameters checked one way, in every estimator.

Each estimator declares ``_parameter_constraints``, a dict ``{parameter name: constraint}``
built from the small vocabulary below, and its ``fit`` (``select`` for the pruner) calls
``self._validate_params()`` once, first. Checks that need the data (``n_clusters``
against the number of rows, ``budget`` against the pool, a score array's length) stay in
the estimator, in one place each.

Why not scikit-learn's own ``_parameter_constraints`` vocabulary (``Interval``,
``StrOptions``, ``validate_parameter_constraints``)? It lives in
``sklearn.utils._param_validation``, a private module whose names and rules have changed
between releases, and skelfs supports a range of scikit-learn versions. So the numbers go
through the public, stable :func:`sklearn.utils.check_scalar` (its errors name the
parameter and the bound), and the rest is the few lines below. The dict keeps the name
``_parameter_constraints`` and the method ``_validate_params`` (overriding
``BaseEstimator``'s), so both read as they do in scikit-learn; only the constraint
objects are skelfs's.

One exception type per kind of error, as ``check_scalar`` does: ``TypeError`` for a value
of the wrong type (``epochs="3"``, ``epochs=2.5``, and a bool for any number:
``n_init=True`` is refused, although ``bool`` is an ``int`` in Python), ``ValueError``
for a value of the right type that is out of range, not finite, or not one of the
options. Every message names the parameter; where a constraint has a ``hint`` (how to
fix it), the message ends with it.
"""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np
from sklearn.utils import check_scalar

#: Constraint for a parameter checked elsewhere (an estimator or array checked when
#: used, or a value that can only be checked against the data).
NO_VALIDATION = "no_validation"


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _with_hint(exc, hint):
    return type(exc)(f"{exc} {hint}" if hint else str(exc))


class Interval:
    """An int (``kind=numbers.Integral``) or a real number between ``low`` and ``high``.

    ``closed`` is ``check_scalar``'s ``include_boundaries`` ("both", "left", "right",
    "neither"); None for ``low``/``high`` means unbounded. ``none=True`` also accepts None;
    ``options`` also accepts those strings (e.g. ``"auto"``).
    """

    def __init__(
        self, kind, low=None, high=None, *, closed="both", none=False, options=(), hint=""
    ):
        if low is None and closed in ("both", "left"):
            closed = "right" if closed == "both" else "neither"
        if high is None and closed in ("both", "right"):
            closed = "left" if closed == "both" else "neither"
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.none, self.options, self.hint = none, tuple(options), hint

    def check(self, name, value):
        if value is None and self.none:
            return
        if isinstance(value, str) and value in self.options:
            return
        if _is_bool(value):  # bool is an int in Python; never a count or a rate here
            raise TypeError(
                f"{name} must be {self.describe()}, not bool ({value!r}). {self.hint}".rstrip()
            )
        if value is None or isinstance(value, str) or not isinstance(value, self.kind):
            raise TypeError(
                f"{name} must be {self.describe()}, not "
                f"{type(value).__qualname__} ({value!r}). {self.hint}".rstrip()
            )
        if self.kind is numbers.Real and not np.isfinite(value):
            raise ValueError(f"{name}={value!r} must be finite. {self.hint}".rstrip())
        try:
            check_scalar(
                value,
                name,
                self.kind,
                min_val=self.low,
                max_val=self.high,
                include_boundaries=self.closed,
            )
        except (TypeError, ValueError) as exc:
            raise _with_hint(exc, self.hint) from None

    def describe(self):
        what = "an int" if self.kind is numbers.Integral else "a real number"
        lo = "[" if self.closed in ("both", "left") else "("
        hi = "]" if self.closed in ("both", "right") else ")"
        if self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else self.low
            high = "inf" if self.high is None else self.high
            what += f" in {lo}{low}, {high}{hi}"
        extras = [repr(o) for o in self.options] + (["None"] if self.none else [])
        return what + "".join(f" or {e}" for e in extras)


def Int(low=None, high=None, **kwargs):  # noqa: N802 - reads as a type in the dicts
    """An int (numpy ints too, never a bool) in ``[low, high]``; see :class:`Interval`."""
    return Interval(numbers.Integral, low, high, **kwargs)


def Real(low=None, high=None, **kwargs):  # noqa: N802
    """A finite real number (ints too, never a bool); see :class:`Interval`."""
    return Interval(numbers.Real, low, high, **kwargs)


class Options:
    """One of the given strings (or None with ``none=True``)."""

    def __init__(self, *options, none=False, text=None, hint=""):
        self.options, self.none, self.hint = options, none, hint
        allowed = options + ((None,) if none else ())
        self.text = text or f"one of {allowed}"

    def check(self, name, value):
        if value is None and self.none:
            return
        if not isinstance(value, str):
            raise TypeError(
                f"{name} must be {self.text}, got {value!r} of type "
                f"{type(value).__qualname__}. {self.hint}".rstrip()
            )
        if value not in self.options:
            raise ValueError(f"{name} must be {self.text}, got {value!r}. {self.hint}".rstrip())


class Bool:
    """True or False (numpy bools too)."""

    def check(self, name, value):
        if not _is_bool(value):
            raise TypeError(f"{name} must be True or False, got {value!r}.")


class Flag:
    """A verbosity level: an int >= 0 or a bool (``verbose=True`` is common usage)."""

    def check(self, name, value):
        if _is_bool(value):
            return
        Int(0).check(name, value)


class Seed:
    """A ``random_state``: None, an int in ``[0, 2**32 - 1]`` or a ``RandomState``."""

    def check(self, name, value):
        if value is None or isinstance(value, np.random.RandomState):
            return
        Int(0, 2**32 - 1, hint="Pass None, an int seed or a numpy RandomState.").check(name, value)


class NJobs:
    """A thread count: None (leave as configured), -1 (all cores) or an int >= 1."""

    def check(self, name, value):
        if value is None:
            return
        what = (
            "None, -1 or an int >= 1 (None leaves the thread pools as configured, -1 "
            "means all cores)"
        )
        if _is_bool(value) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be {what}, not {type(value).__qualname__} ({value!r}).")
        if value == 0:
            raise ValueError(f"{name}=0 is out of range: it must be {what}.")


class Check:
    """Delegate to an existing validator ``func(value)`` that raises with its own message."""

    def __init__(self, func):
        self.func = func

    def check(self, name, value):
        self.func(value)


def validate_params(estimator):
    """Check every constructor parameter of ``estimator`` against its constraint.

    A parameter without a constraint (a user's subclass adding its own) is not checked;
    tests/test_validation.py makes sure that every skelfs estimator declares all of its.
    """
    constraints = type(estimator)._parameter_constraints
    for name, value in estimator.get_params(deep=False).items():
        constraint = constraints.get(name, NO_VALIDATION)
        if constraint != NO_VALIDATION:
            constraint.check(name, value)


class ValidatedParamsMixin:
    """Gives an estimator ``_validate_params()``, walking its ``_parameter_constraints``."""

    _parameter_constraints: ClassVar[dict] = {}

    def _validate_params(self):
        validate_params(self)


def check_device(device):
    """``device`` as a valid torch device spec (see :func:`skelfs._utils.resolve_device`)."""
    from ._utils import resolve_device

    resolve_device(device)


def check_n_clusters_param(minimum):
    """A static ``n_clusters`` check (int >= ``minimum`` or None); the data check follows."""
    from ._utils import check_n_clusters

    return Check(lambda value: check_n_clusters(value, np.inf, minimum=minimum, allow_none=True))


def check_backend(backend):
    """A kNN backend name whose optional package is installed."""
    from .neighbors import _check_backend

    _check_backend(backend)
