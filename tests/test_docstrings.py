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


def public_objects():
    names = []
    for name in skelfs.__all__:
        obj = getattr(skelfs, name)
        names.append(f"skelfs.{name}")
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    names.append(f"{obj.__module__}.{obj.__name__}.{attr}")
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
