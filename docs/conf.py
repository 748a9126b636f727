"""Sphinx configuration: the Markdown pages (MyST), the API reference generated from the
docstrings (autosummary + numpydoc), and the examples gallery (sphinx-gallery).

Build from the repository root (nothing is downloaded; the examples run on bundled data)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

``-D plot_gallery=0`` skips running the examples (a quick build of the text). The API page
(``docs/api.rst``) is written here, at every build, from ``skelfs.__all__`` and ``API_MODULES``:
a name added to ``skelfs.__all__`` appears without any change here (under "Other" until it is
given a group in ``API_GROUPS``); a module's public functions and classes appear once the
module is listed in ``API_MODULES``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's skelfs, not an installed copy

from sphinx.ext.autodoc.mock import mock  # noqa: E402

import skelfs  # noqa: E402
from skelfs.registry import SELECTORS  # noqa: E402

project = "skelfs"
author = "the skelfs developers"
copyright = "the skelfs developers"
release = version = skelfs.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build"]
# Nothing is fetched at build time: no intersphinx, no remote images. MathJax is loaded by the
# reader's browser.

# -- MyST (the Markdown pages) --------------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 4  # "page.md#a-heading" links, as GitHub renders them

# -- API reference --------------------------------------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False


def _registered():
    return list(dict.fromkeys(spec.cls.__name__ for spec in SELECTORS.values()))


#: Reading order of the names of ``skelfs.__all__``. A name that is not listed here still
#: appears, under "Other"; a listed name that is not exported fails the build.
API_GROUPS = [
    (
        "Selectors",
        ["ELFSSelector"]
        + [n for n in _registered() if n != "ELFSSelector"]
        + ["BaseSelector", "make_selector"],
    ),
    (
        "ELFS components",
        [
            "KMeansClusterer",
            "DeepClusterer",
            "estimate_n_clusters",
            "DynamicsScorer",
            "DoubleEndPruner",
        ],
    ),
    ("Feature extractors", ["TorchEncoder", "SentenceTransformerEncoder"]),
    ("Supervised learning on a selection", ["CoresetEstimator", "CoresetSampler"]),
]

#: Modules documented after the top-level names: their public functions and classes (those
#: defined in the module, or its ``__all__`` when it has one), then the listed data.
API_MODULES = {
    "skelfs.datasets": [],
    "skelfs.plotting": [],
    "skelfs.io": [],
    "skelfs.registry": ["SELECTORS", "DEFAULT_METHOD"],
    "skelfs.cli": [],
    "skelfs.integrations.skactiveml": [],
    "skelfs.distributed": [],
    "skelfs.distributed.shards": [],
}


#: Packages mocked when autodoc imports a module: a module of ``API_MODULES`` that needs an
#: optional package the docs build lacks (an integration) is documented with it mocked.
#: Filled in by ``import_documented``; nothing needs listing by hand.
autodoc_mock_imports = []


def import_documented(module_name):
    """Import a module of ``API_MODULES``, mocking the optional packages that are missing."""
    while True:
        try:
            with mock(autodoc_mock_imports):
                return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").partition(".")[0]
            if not missing or missing == "skelfs" or missing in autodoc_mock_imports:
                raise
            autodoc_mock_imports.append(missing)


def module_members(module_name):
    """Public functions and classes of a module, minus those ``skelfs`` exports itself."""
    module = import_documented(module_name)
    exported = {id(getattr(skelfs, n)) for n in skelfs.__all__}
    if hasattr(module, "__all__"):
        names = list(module.__all__)
    else:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
    return [n for n in names if id(getattr(module, n)) not in exported]


def _heading(text, char):
    return [text, char * len(text), ""]


def _autosummary(names):
    return (
        [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        + [f"   {n}" for n in names]
        + [""]
    )


def _registry_table():
    out = [
        "Registered names (:data:`skelfs.registry.SELECTORS`; ``make_selector(name, **kwargs)``,",
        "``skelfs select --method name``):",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - name",
        "     - selector",
        "     - description",
    ]
    for name, spec in SELECTORS.items():
        args = ", ".join(f"{k}={v!r}" for k, v in spec.defaults.items())
        out += [
            f"   * - ``{name}``",
            f"     - ``{spec.cls.__name__}({args})``",
            f"     - {spec.description}",
        ]
    return out + [""]


def api_page():
    """The text of ``docs/api.rst``, and the full names it documents."""
    names = list(skelfs.__all__)
    listed = [n for _, group in API_GROUPS for n in group]
    stale = sorted(set(listed) - set(names))
    if stale:
        raise RuntimeError(f"docs/conf.py API_GROUPS lists names skelfs does not export: {stale}")
    groups = [(title, [n for n in group if n in names]) for title, group in API_GROUPS]
    other = [n for n in names if n not in listed]
    if other:
        groups.append(("Other", other))

    out = [
        ".. Written by docs/conf.py at every build, from skelfs.__all__: do not edit.",
        "",
        *_heading("API reference", "="),
        f"skelfs {skelfs.__version__}: every name of ``skelfs.__all__``, then the public "
        "functions and classes of the modules below, from their docstrings.",
        "",
        ".. currentmodule:: skelfs",
        "",
    ]
    for title, group in groups:
        out += _heading(title, "-")
        if title == "Selectors":
            out += _registry_table()
        out += _autosummary(group)
    documented = [f"skelfs.{n}" for n in names]
    for module_name, data in API_MODULES.items():
        members = module_members(module_name) + list(data)
        out += _heading(f"``{module_name}``", "-")
        out += [f".. automodule:: {module_name}", "   :no-members:", ""]
        out += [f".. currentmodule:: {module_name}", ""]
        out += _autosummary(members)
        documented += [f"{module_name}.{n}" for n in members]
    return "\n".join(out).rstrip() + "\n", documented


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:  # an unchanged file is not rebuilt
        path.write_text(text)


_api_text, _documented = api_page()
_write_if_changed(DOCS / "api.rst", _api_text)
# autosummary leaves the page of a name that is no longer documented; Sphinx would warn.
for _stub in (DOCS / "generated").glob("*.rst"):
    if _stub.stem not in _documented:
        _stub.unlink()


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document the methods skelfs defines (own or inherited), not scikit-learn's."""
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None)
    if what == "class" and callable(target) and module and not module.startswith("skelfs"):
        return True
    return skip


def signature_past_mocks(app, what, name, obj, options, signature, return_annotation):
    """A class whose base is mocked shows its own ``__init__`` signature, not the mock's."""
    if what == "class" and any(hasattr(base, "__sphinx_mock__") for base in obj.__mro__[1:]):
        parameters = list(inspect.signature(obj.__init__).parameters.values())[1:]
        return str(inspect.Signature(parameters)), return_annotation
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-signature", signature_past_mocks)


# -- Examples gallery -----------------------------------------------------------------------
#: Examples that need an optional package, run only when it is installed (otherwise their page
#: shows the code without output): one line each, "file name": ["importable module", ...].
#: An example listed here runs even when its name does not start with "plot_".
EXAMPLE_REQUIRES = {}


def _runnable_examples():
    """Regex of the example files to run: the ``plot_*`` ones and those of EXAMPLE_REQUIRES,
    minus those whose optional packages are missing. The others (the quickstart, three ELFS
    fits whose printed output is on the Quickstart page; the file writer) are shown, not run."""
    run = {p.name for p in (ROOT / "examples").glob("plot_*.py")} | set(EXAMPLE_REQUIRES)
    run = [
        n
        for n in sorted(run)
        if all(importlib.util.find_spec(m) is not None for m in EXAMPLE_REQUIRES.get(n, []))
    ]
    return re.escape(os.sep) + "(" + "|".join(re.escape(n) for n in run) + ")$"


# sphinx-gallery leaves the page of a removed or renamed example; Sphinx would warn.
_kept = {p.stem for p in (ROOT / "examples").glob("*.py")} | {"index", "sg_execution_times"}
for _page in (DOCS / "auto_examples").glob("*.rst"):
    if _page.stem not in _kept:
        _page.unlink()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": _runnable_examples(),
    "doc_module": ("skelfs",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skelfs {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []
html_show_sourcelink = False
