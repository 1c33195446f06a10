"""Each package declares its public names in ``__all__``, and nothing else (httpx style).

A package's public names are the names its ``__init__.py`` binds at top level
without a leading underscore. They are read from the source, so submodules
that happen to be imported (and so appear as attributes) do not count.
``__all__`` must list exactly those, in the isort-style order ruff's RUF022
enforces: SCREAMING_SNAKE_CASE, then CamelCase, then everything else.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGES = ["exchange", "exchange.protocol", "feeds", "policies"]


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).partition(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    if name.isupper() and len(name) > 1:
        group = 0  # SCREAMING_SNAKE_CASE
    elif name[:1].isupper():
        group = 1  # CamelCase
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def test_isort_key_orders_like_ruff() -> None:
    names = ["accepts", "ApiRoot", "TAXII_21", "STIX_21", "Versions", "v10", "v9"]
    assert sorted(names, key=_isort_key) == [
        "STIX_21",
        "TAXII_21",
        "ApiRoot",
        "Versions",
        "accepts",
        "v9",
        "v10",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names_sorted(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).name == "__init__.py"
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    public = sorted(
        (n for n in _bound_names(tree) if not n.startswith("_")),
        key=_isort_key,
    )
    assert module.__all__ == public
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names missing {name!r}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__
    assert module.__doc__.strip()


def test_exchange_init_imports_nothing() -> None:
    module = importlib.import_module("exchange")
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    assert not [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
