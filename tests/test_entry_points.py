"""Every registered function is declared as an entry point, so a config can name it before
anything has imported the module that registers it."""

import importlib
import pkgutil
from importlib.metadata import entry_points

import pytest
from spacy.util import registry

import spacy_radlabels

# spaCy registry -> the entry-point group spaCy reads it from.
GROUPS = {
    "architectures": "spacy_architectures",
    "scorers": "spacy_scorers",
    "misc": "spacy_misc",
    "callbacks": "spacy_callbacks",
}


@pytest.fixture(scope="module", autouse=True)
def import_every_module():
    """Run every registration decorator in the package."""
    for module in pkgutil.walk_packages(spacy_radlabels.__path__, "spacy_radlabels."):
        importlib.import_module(module.name)


@pytest.mark.parametrize("registry_name,group", sorted(GROUPS.items()))
def test_registered_functions_are_entry_points(registry_name, group):
    reg = getattr(registry, registry_name)
    registered = {name for name in reg.get_all() if name.startswith("spacy-radlabels.")}
    declared = {ep.name: ep for ep in entry_points(group=group)}
    missing = sorted(registered - set(declared))
    assert not missing, f"add {missing} to [project.entry-points.{group}] in pyproject.toml"
    for name in registered:
        assert declared[name].load() is reg.get(name), name
