"""The documentation builds with warnings as errors, and documents every public name.

The build is the README's command (``sphinx-build -W --keep-going -b html docs ...``), run on
a copy of the checkout so that the files Sphinx writes next to its sources (``docs/api.rst``,
``docs/generated/``, ``docs/auto_examples/``) do not land in the working tree. It runs the
``plot_*`` examples, so it takes about a minute.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# the docs extra (pip install ".[docs]"); the test extra installs it too
for _module in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"):
    pytest.importorskip(_module)
pytest.importorskip("matplotlib")  # the gallery's figures

import skelfs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD_OUTPUTS = shutil.ignore_patterns(
    "_build",
    "api.rst",
    "generated",
    "auto_examples",
    "sg_execution_times.rst",
    "__pycache__",
)


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "checkout"
    for folder in ("docs", "examples", "skelfs"):
        shutil.copytree(ROOT / folder, src / folder, ignore=BUILD_OUTPUTS)
    for name in ("README.md", "CHANGELOG.md"):  # included by docs/index.md, docs/changelog.md
        shutil.copy(ROOT / name, src / name)
    out = tmp / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    command += ["-d", str(tmp / "doctrees"), str(src / "docs"), str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=src)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-3000:]}{proc.stderr[-8000:]}"
    return out


def test_every_public_name_has_a_page(html):
    api = (html / "api.html").read_text()
    for name in skelfs.__all__:
        assert (html / "generated" / f"skelfs.{name}.html").is_file(), name
        assert f"generated/skelfs.{name}.html" in api, name
    # the modules' functions too, e.g. the plotting ones and the pool reader
    for page in ("skelfs.plotting.plot_budget_curve", "skelfs.io.read_pool"):
        assert (html / "generated" / f"{page}.html").is_file(), page


def test_pages_and_measured_tables_are_in(html):
    for page in ("index", "quickstart", "algorithm", "input", "benchmarks", "quality", "changelog"):
        assert (html / f"{page}.html").is_file(), page
    quality = (html / "quality.html").read_text()
    assert "Overall (LR probe" in quality and "<table" in quality


def test_gallery_ran_the_plot_examples(html):
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        stem = example.stem
        assert (html / "auto_examples" / f"{stem}.html").is_file(), stem
        assert list((html / "_images").glob(f"sphx_glr_{stem}_0*.png")), f"{stem}: no figure"
    # shown, not run (it writes files)
    assert (html / "auto_examples" / "make_example_files.html").is_file()
