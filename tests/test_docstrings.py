"""The public API's docstrings pass numpydoc's validation (the checks in ``CHECKS``).

Public = every name in ``skelfs.__all__``, the public functions of the documented modules
(those of ``API_MODULES`` in docs/conf.py, whose API reference renders them), and the public
methods and properties that skelfs defines on the exported classes (inherited scikit-learn
methods are sklearn's business).
"""

import importlib
import inspect

import pytest

validate = pytest.importorskip("numpydoc.validate").validate

import skelfs  # noqa: E402

#: numpydoc error codes checked, and why these:
#: GL08 no docstring; PR01 a parameter is not documented; PR02 a documented parameter
#: does not exist; PR07 a parameter has no description; RT01 no Returns section (for a
#: function that returns something); SS01 no summary. Left out: the purely typographic
#: ones (summary on one line, full stops, capitals: SS03-SS06, PR08/PR09, RT02) and
#: See Also / Examples everywhere (SA01, EX01), which would add noise, not information.
CHECKS = {"GL08", "PR01", "PR02", "PR07", "RT01", "SS01"}

MODULES = [
    "skelfs.datasets",
    "skelfs.plotting",
    "skelfs.io",
    "skelfs.cli",
    "skelfs.registry",
    "skelfs.distributed",
    "skelfs.distributed.shards",
]
INTEGRATIONS = ["skelfs.integrations.skactiveml"]


def public_objects():
    names = []
    for name in skelfs.__all__:
        obj = getattr(skelfs, name)
        names.append(f"skelfs.{name}")
        if inspect.isclass(obj):
            # its own methods, and those of private skelfs bases (documented on it)
            for cls in inspect.getmro(obj):
                if cls is not obj and not (
                    cls.__name__.startswith("_") and cls.__module__.startswith("skelfs")
                ):
                    continue
                for attr, member in vars(cls).items():
                    if attr.startswith("_"):
                        continue
                    if inspect.isfunction(member) or isinstance(member, property):
                        names.append(f"{cls.__module__}.{cls.__name__}.{attr}")
    for module_name in INTEGRATIONS:  # their optional library installed
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in module.__all__:
            obj = getattr(module, name)
            names.append(f"{module_name}.{name}")
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    names.append(f"{module_name}.{name}.{attr}")
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for attr, member in vars(module).items():
            if (
                not attr.startswith("_")
                and inspect.isfunction(member)
                and member.__module__ == module_name
            ):
                names.append(f"{module_name}.{attr}")
    return sorted(set(names))


def findings(name):
    result = validate(name)
    return [f"{code}: {message}" for code, message in result["errors"] if code in CHECKS]


@pytest.mark.parametrize("name", public_objects())
def test_docstring(name):
    assert findings(name) == []
