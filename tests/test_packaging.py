"""pyproject.toml is the one list of dependencies: requirements.txt (for Hugging Face Spaces) repeats its base and
`app` lists; the console scripts name real functions; the shipped weights are package data; nothing edits sys.path."""
from __future__ import annotations

import importlib
import re
from fnmatch import fnmatch

import pytest
import tomllib
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def normal(text: str) -> tuple[str, str, str]:
    req = Requirement(text)
    return canonicalize_name(req.name), str(req.specifier), str(req.marker or "")


def test_requirements_txt_is_the_base_and_app_dependencies():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    listed = [normal(line) for line in lines if line]
    wanted = [normal(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["app"]]
    assert len(set(listed)) == len(listed), "requirements.txt names a package twice"
    assert sorted(listed) == sorted(wanted), "requirements.txt differs from pyproject.toml's dependencies + [app]"


def test_extras_build_on_each_other_and_keep_the_local_torch():
    extras = PROJECT["optional-dependencies"]
    assert "gan-studio[app]" in extras["test"] and "gan-studio[test]" in extras["dev"]
    for req in map(Requirement, PROJECT["dependencies"]):
        if req.name in ("torch", "torchvision"):  # a lower bound only: pip's constraints may cap them
            assert all(spec.operator == ">=" for spec in req.specifier), req


@pytest.mark.parametrize("name", sorted(PROJECT["scripts"]))
def test_console_script_names_a_function(name):
    module, _, attr = PROJECT["scripts"][name].partition(":")
    assert callable(getattr(importlib.import_module(module), attr)), PROJECT["scripts"][name]


def test_shipped_weights_are_package_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["gan_core.assets"]
    assets = sorted((ROOT / "gan_core" / "assets").iterdir())
    assert assets and all(any(fnmatch(f.name, p) for p in patterns) for f in assets), assets


def test_no_sys_path_edits():
    """Tests get the checkout from pyproject's pytest pythonpath, scripts from an install (pip install -e .)."""
    edits = re.compile(r"sys\.path\.(insert|append|extend)|sys\.path\s*[+]?=")
    files = [f for f in ROOT.rglob("*.py") if not any(part.startswith(".") for part in f.relative_to(ROOT).parts)]
    found = [f"{f.relative_to(ROOT)}:{n}" for f in files
             for n, line in enumerate(f.read_text().splitlines(), 1) if edits.search(line)]
    assert not found, found
