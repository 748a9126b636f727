"""The selector registry: every exported selector is registered, and names build what they say."""

import inspect

import pytest

import skelfs
from skelfs import BaseSelector, make_selector
from skelfs.registry import ALIASES, SELECTORS, resolve_name


def exported_selectors():
    return {
        obj
        for name in skelfs.__all__
        if inspect.isclass(obj := getattr(skelfs, name))
        and issubclass(obj, BaseSelector)
        and obj is not BaseSelector
    }


def test_registry_covers_every_exported_selector_once():
    registered = [spec.cls for spec in SELECTORS.values()]
    assert set(registered) == exported_selectors()
    assert len(registered) == len(set(registered))


@pytest.mark.parametrize("name", list(SELECTORS))
def test_names_build_their_class_with_their_defaults(name):
    spec = SELECTORS[name]
    sel = make_selector(name, budget=7, random_state=3)
    assert type(sel) is spec.cls and sel.budget == 7 and sel.random_state == 3
    params = sel.get_params(deep=False)
    assert all(params[k] == v for k, v in spec.defaults.items())
    assert spec.description and "\n" not in spec.description


def test_prototypicality_is_the_easy_end_and_kwargs_override():
    assert make_selector("prototypicality").end == "easy"
    assert make_selector("prototypicality", end="hard").end == "hard"


def test_aliases_and_unknown_names():
    for alias, name in ALIASES.items():
        assert resolve_name(alias) == name and name in SELECTORS
    with pytest.raises(ValueError, match="unknown method 'magic'; choose one of random, elfs"):
        make_selector("magic")
