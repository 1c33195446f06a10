"""``tests`` is a package, and its subpackages never shadow the packages under test.

``tests/feeds`` is ``tests.feeds``: with the default (prepend) import mode pytest
puts the repository root, not ``tests/``, on ``sys.path``, so ``feeds`` is the
member client. Every directory of Python files under ``tests`` is a package, so
mypy names each module uniquely.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


@pytest.mark.parametrize("name", ["exchange", "feeds", "policies"])
def test_the_packages_under_test_are_the_real_ones(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"


def test_tests_is_not_on_the_import_path() -> None:
    assert str(TESTS) not in [str(Path(entry).resolve()) for entry in sys.path if entry]


def test_every_directory_of_tests_is_a_package() -> None:
    directories = {path.parent for path in TESTS.rglob("*.py")} | {TESTS}
    missing = sorted(
        str(d.relative_to(ROOT)) for d in directories if not (d / "__init__.py").is_file()
    )
    assert not missing, f"no __init__.py in {missing}"
