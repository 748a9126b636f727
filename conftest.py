"""Collection rules for the doctests of optional integrations (pytest runs skelfs/ too)."""

import importlib.util

# A module that imports an optional library on import cannot be collected without it.
collect_ignore = [
    path
    for path, module in [("skelfs/integrations/skactiveml.py", "skactiveml")]
    if importlib.util.find_spec(module) is None
]
