"""The import layering of STYLE.md, checked as ordinary tests.

``lint-imports`` checks the static import graph against the contracts in
``pyproject.toml``; planted violations in a copy of the tree show that the
contracts bite. A subprocess then checks the runtime side: importing the hub
loads no member-side code and no decryption primitives.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Modules the hub must never load. Not `…asymmetric.x25519` or `…primitives.ciphers`:
# `cryptography.x509` and `…serialization` load those as a side effect (STYLE.md).
FORBIDDEN_IN_HUB = (
    "cryptography.fernet",
    "cryptography.hazmat.primitives.hpke",
    "cryptography.hazmat.primitives.ciphers.aead",
)


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("feeds/_planted.py", "import exchange.services.hub\n", "client-sees-protocol-only"),
        ("exchange/db/_planted.py", "import exchange.api.deps\n", "hub-layers"),
        ("exchange/protocol/_planted.py", "import sqlmodel\n", "client-no-server-stack"),
        ("policies/_planted.py", "import httpx\n", "pure-policies"),
        ("feeds/trends/_planted.py", "import feeds.client\n", "trends-never-decrypt"),
        ("exchange/_planted.py", "import os\n", "hub-layers"),  # not placed in any layer
    ],
    ids=[
        "feeds-imports-services",
        "db-imports-api",
        "protocol-imports-sqlmodel",
        "policies-imports-httpx",
        "trends-imports-client",
        "unlayered-hub-module",
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, source: str, contract: str
) -> None:
    for name in ("exchange", "feeds", "policies"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / module).write_text(source)
    result = _lint_imports(tmp_path, "--no-cache", "--contract", contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "broken" in result.stdout.lower(), result.stdout
    planted = module.removesuffix(".py").replace("/", ".")
    assert planted in result.stdout, result.stdout


def test_importing_the_hub_loads_no_member_code_and_no_decryption() -> None:
    probe = textwrap.dedent(
        f"""
        import json, sys
        import exchange.app
        forbidden = {FORBIDDEN_IN_HUB!r}
        loaded = sorted(
            name for name in sys.modules
            if name == "feeds" or name.startswith("feeds.") or name in forbidden
        )
        print(json.dumps(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
