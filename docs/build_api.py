"""Build docs/api.md from the numpydoc docstrings (inspect only; no sphinx needed).

Run from the repository root:

    PYTHONPATH=. python docs/build_api.py            # rewrite docs/api.md
    PYTHONPATH=. python docs/build_api.py --check    # exit 1 if docs/api.md is out of date

What goes in: every name in ``skelfs.__all__`` (classes with their signature, docstring and
public methods defined in skelfs; functions with their signature and docstring), then the
public functions of the modules in ``MODULES``, then the names in the ``__all__`` of the
modules in ``INTEGRATIONS`` (their optional libraries must be installed). Sections
("Parameters", "Returns", ...) become bold headings with one list item per entry;
"Examples" become ``pycon`` code blocks; the RST roles and double backquotes of the
docstrings become Markdown code spans.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "api.md"


def _registered():
    from skelfs.registry import SELECTORS

    return list(dict.fromkeys(spec.cls.__name__ for spec in SELECTORS.values()))


# Reading order of the top-level names; a name in skelfs.__all__ that is not listed here
# still appears, under "Other", so nothing public is left out. The selectors are those of
# skelfs.registry.SELECTORS, in its order.
GROUPS = [
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
# Modules whose public functions are documented after the top-level names.
MODULES = ["skelfs.datasets", "skelfs.plotting", "skelfs.io", "skelfs.cli"]
# Adapters to other libraries (each needs its library installed to render): the names in
# their __all__, classes included, after the modules.
INTEGRATIONS = ["skelfs.integrations.skactiveml"]

ENTRY_SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Attributes",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
}


def _role(match):
    target = match.group(1)  # "~skelfs.ELFSSelector" shows as "ELFSSelector", as in sphinx
    return f"`{target[1:].split('.')[-1] if target.startswith('~') else target}`"


def rst_to_md(text):
    """Inline RST -> Markdown: roles and double backquotes become code spans."""
    text = re.sub(r":(?:class|func|meth|attr|data|mod|obj):`([^`]+)`", _role, text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def split_sections(doc):
    """(intro, [(title, body), ...]) of a numpydoc docstring."""
    parts = re.split(r"^([A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", doc, flags=re.MULTILINE)
    intro, sections = parts[0], []
    for title, body in zip(parts[1::2], parts[2::2]):
        sections.append((title.strip(), body.strip("\n")))
    return intro.strip(), sections


def render_text(text):
    """Paragraphs as they are; an RST literal block (after '::') becomes a code block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            # "text::" reads "text:"; a bare "::" line disappears
            out.append(rst_to_md(line.rstrip()[:-2].rstrip() + ":") if line.strip() != "::" else "")
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            body = inspect.cleandoc("\n".join(block))
            out += ["", "```", body, "```", ""]
            continue
        out.append(rst_to_md(line))
        i += 1
    return "\n".join(out).strip()


def render_entries(body):
    """numpydoc entries ('name : type' then an indented description) as a Markdown list."""
    items, current = [], None
    for line in body.splitlines():
        if line and not line[0].isspace():
            name, _, kind = line.partition(" : ")
            current = [name.strip(), kind.strip(), []]
            items.append(current)
        elif current is not None:
            current[2].append(line.strip())
        elif line.strip():  # text before the first entry
            items.append([None, None, [line.strip()]])
    out = []
    for name, kind, desc in items:
        text = _join_description(desc)
        if name is None:
            out.append(text)
            continue
        head = ", ".join(f"`{n.strip()}`" for n in name.split(","))
        if kind:
            head += f" : *{rst_to_md(kind)}*"
        if text.startswith("\n"):  # a nested list
            out.append(f"- {head}{text}")
        else:
            out.append(f"- {head}" + (f"  \n  {text}" if text else ""))
    return "\n".join(out)


def _join_description(lines):
    """Wrapped description lines -> one paragraph; "* item" lines stay a nested list."""
    chunks = []
    for line in lines:
        if not line:
            continue
        if line.startswith(("* ", "- ")) or not chunks:
            chunks.append(line)
        else:
            chunks[-1] += " " + line
    chunks = [rst_to_md(c) for c in chunks]
    if any(c.startswith(("* ", "- ")) for c in chunks):
        return "\n" + "\n".join(
            f"  - {c[2:]}" if c.startswith(("* ", "- ")) else f"  {c}" for c in chunks
        )
    return " ".join(chunks)


def render_doc(doc):
    if not doc:
        return "*No docstring.*"
    intro, sections = split_sections(inspect.cleandoc(doc))
    out = [render_text(intro)] if intro else []
    for title, body in sections:
        out += ["", f"**{title}**", ""]
        if title == "Examples":
            out += ["```pycon", inspect.cleandoc(body), "```"]
        elif title in ENTRY_SECTIONS:
            out.append(render_entries(body))
        else:
            out.append(render_text(inspect.cleandoc(body)))
        out.append("")
    return "\n\n".join(s for s in "\n".join(out).split("\n\n") if s.strip()).strip()


def signature(obj, name, method=False):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    if method:  # drop "self"
        sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    return f"{name}{sig}"


def public_methods(cls):
    """(own, inherited) public methods defined in skelfs (not scikit-learn's own)."""
    own, inherited = [], []
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or not member.__module__.startswith("skelfs"):
            continue
        owner = member.__qualname__.split(".")[0]
        # a private base's methods are documented on each public class that uses it
        mine = owner == cls.__name__ or owner.startswith("_")
        (own if mine else inherited).append((name, member, owner))
    return own, inherited


def render_object(qualname, obj, level=3):
    anchor = "#" * level
    kind = "class " if inspect.isclass(obj) else ""
    out = [
        f"{anchor} `{qualname}`",
        "",
        f"```python\n{kind}{signature(obj, qualname)}\n```",
        "",
        render_doc(inspect.getdoc(obj) if inspect.isclass(obj) else obj.__doc__),
        "",
    ]
    if inspect.isclass(obj):
        own, inherited = public_methods(obj)
        if inherited:
            # Documented once, on the class that defines them.
            listed = ", ".join(f"`{name}`" for name, _, _ in inherited)
            owners = ", ".join(sorted({f"`{owner}`" for _, _, owner in inherited}))
            out += [f"Also: {listed} (from {owners}).", ""]
        for name, method, _ in own:
            out += [
                f"{anchor}# `{qualname.split('.')[-1]}.{name}`",
                "",
                f"```python\n{signature(method, name, method=True)}\n```",
                "",
                render_doc(method.__doc__),
                "",
            ]
    return out


def registry_table():
    """Markdown table of ``skelfs.registry.SELECTORS``: the names the CLI and benchmarks use."""
    from skelfs.registry import SELECTORS

    out = [
        "Registered names (`skelfs.registry.SELECTORS`; `make_selector(name, **kwargs)`, "
        "`skelfs select --method name`):",
        "",
        "| name | selector | description |",
        "|---|---|---|",
    ]
    for name, spec in SELECTORS.items():
        args = ", ".join(f"{k}={v!r}" for k, v in spec.defaults.items())
        out.append(f"| `{name}` | `{spec.cls.__name__}({args})` | {spec.description} |")
    return out + [""]


def build():
    import skelfs

    names = list(skelfs.__all__)
    listed = [n for _, group in GROUPS for n in group]
    groups = [(title, [n for n in group if n in names]) for title, group in GROUPS]
    other = [n for n in names if n not in listed]
    if other:
        groups.append(("Other", other))

    out = [
        "# API reference",
        "",
        (
            f"skelfs {skelfs.__version__}. Generated from the docstrings by "
            f"`PYTHONPATH=. python docs/build_api.py`; do not edit by hand."
        ),
        "",
    ]
    toc = []
    body = []
    for title, group in groups:
        body += [f"## {title}", ""]
        if title == "Selectors":
            body += registry_table()
        toc.append(f"- {title}: " + ", ".join(f"`{n}`" for n in group))
        for name in group:
            body += render_object(f"skelfs.{name}", getattr(skelfs, name))
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        functions = [
            (n, f)
            for n, f in inspect.getmembers(module, inspect.isfunction)
            if not n.startswith("_") and f.__module__ == module_name
        ]
        body += [f"## `{module_name}`", "", render_text(inspect.getdoc(module) or ""), ""]
        toc.append(f"- `{module_name}`: " + ", ".join(f"`{n}`" for n, _ in functions))
        for name, function in functions:
            body += render_object(f"{module_name}.{name}", function)
    for module_name in INTEGRATIONS:
        module = importlib.import_module(module_name)
        body += [f"## `{module_name}`", "", render_text(inspect.getdoc(module) or ""), ""]
        toc.append(f"- `{module_name}`: " + ", ".join(f"`{n}`" for n in module.__all__))
        for name in module.__all__:
            body += render_object(f"{module_name}.{name}", getattr(module, name))
    text = "\n".join(out + toc + [""] + body)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that docs/api.md is up to date (exit 1 if not)",
    )
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(
                f"{OUT} is out of date: run PYTHONPATH=. python docs/build_api.py", file=sys.stderr
            )
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
