"""Adapters that let skelfs selectors work inside other libraries.

Each submodule imports its library on import, so import only the one you use:

* :mod:`skelfs.integrations.skactiveml`: any selector as a scikit-activeml query strategy
  (``pip install "skelfs[activeml]"``).
"""
