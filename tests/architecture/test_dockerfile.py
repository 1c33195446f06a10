"""The hub image, checked without Docker: what the Dockerfile says, and its steps mirrored.

No image can be built here, so the test (1) parses the Dockerfile and asserts
its shape (base, what is copied, a non-editable ``.[hub]`` install, a non-root
user, the port, the command, and the guard as the last build step), then (2)
mirrors the build: the files the Dockerfile copies go into an empty directory,
and the guard's two commands run against exactly that tree, with the
project's virtualenv providing third-party packages but not its editable
install of this repository. (3) Every distribution ``import exchange.app``
loads must come from ``trend-exchange[hub]``'s dependency closure, which is all
the image installs.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
GUARD = """python -c "import exchange.app" && ! python -c "import feeds\""""
IMAGE_SOURCES = {"pyproject.toml", "README.md", "exchange/", "policies/"}


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and its argument text."""

    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split ``text`` into instructions, joining ``\\`` continuations and dropping comments."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split())))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


def test_parse_dockerfile_joins_continuations_and_drops_comments() -> None:
    text = "# c\nFROM a\n\nENV A=1 \\\n    # inside\n    B=2\nrun x\n"
    assert parse_dockerfile(text) == [
        Instruction("FROM", "a"),
        Instruction("ENV", "A=1 B=2"),
        Instruction("RUN", "x"),
    ]


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def _copies(instructions: list[Instruction]) -> list[tuple[list[str], str]]:
    copies = []
    for ins in instructions:
        if ins.keyword == "COPY":
            *sources, dest = shlex.split(ins.args)
            copies.append((sources, dest))
    return copies


def test_base_image_is_python_311_slim(instructions: list[Instruction]) -> None:
    froms = [i.args for i in instructions if i.keyword == "FROM"]
    assert froms == ["python:3.11-slim"]
    assert instructions[0].keyword == "FROM"


def test_copies_only_the_hub_sources(instructions: list[Instruction]) -> None:
    assert not [i for i in instructions if i.keyword == "ADD"]
    copies = _copies(instructions)
    sources = [s for srcs, _ in copies for s in srcs]
    assert not [s for s in sources if s.startswith("--")], "no COPY --from/--chown tricks"
    assert sorted(sources) == sorted(IMAGE_SOURCES)
    assert "feeds" not in " ".join(sources)


def test_installs_the_hub_extra_non_editable(instructions: list[Instruction]) -> None:
    installs = [i.args for i in instructions if i.keyword == "RUN" and "pip install" in i.args]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    assert ".[hub]" in words
    assert "-e" not in words
    assert "--editable" not in words


def test_the_build_ends_with_the_guard(instructions: list[Instruction]) -> None:
    runs = [i.args for i in instructions if i.keyword == "RUN"]
    assert runs[-1] == GUARD


def test_runs_as_a_non_root_user(instructions: list[Instruction]) -> None:
    users = [(n, i.args) for n, i in enumerate(instructions) if i.keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    position, user = users[-1]
    assert user.partition(":")[0] not in {"root", "0"}
    cmd = next(n for n, i in enumerate(instructions) if i.keyword == "CMD")
    assert position < cmd


def test_exposes_6100_and_serves_on_all_interfaces(instructions: list[Instruction]) -> None:
    assert [i.args for i in instructions if i.keyword == "EXPOSE"] == ["6100"]
    cmds = [i.args for i in instructions if i.keyword == "CMD"]
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == ["exchange", "serve", "--host", "0.0.0.0"]  # exec form


# ------------------------------------------------------------------ the build, mirrored


def _hub_closure() -> set[str]:
    """Names of the distributions ``pip install '.[hub]'`` installs (as present here)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    todo += [Requirement(r) for r in project["optional-dependencies"]["hub"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # an optional extra's package for another platform or Python
        names.add(key[0])
        for text in dist.requires or []:
            sub = Requirement(text)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return names


@pytest.fixture(scope="module")
def hub_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages holding only the ``.[hub]`` closure: symlinks into our virtualenv.

    Packages that import others opportunistically (stix2 tries taxii2client)
    then behave as in the image, where the client's dependencies are absent.
    """
    site = tmp_path_factory.mktemp("hub-site")
    for name in sorted(_hub_closure() - {"trend-exchange"}):
        dist = metadata.distribution(name)
        assert dist.files is not None, f"{name} has no RECORD"
        base = Path(str(dist.locate_file("")))
        for top in {f.parts[0] for f in dist.files if f.parts and f.parts[0] != ".."}:
            link = site / top
            if not link.exists() and (base / top).exists():
                link.symlink_to(base / top)
    return site


@pytest.fixture(scope="module")
def image_tree(instructions: list[Instruction], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding exactly what the Dockerfile copies, as it copies it."""
    tree = tmp_path_factory.mktemp("image-src")
    for sources, dest in _copies(instructions):
        for source in sources:
            origin = ROOT / source
            target = tree / (source if dest in {".", "./"} else dest)
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, target)
    return tree


def _python_in(tree: Path, site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -S -c code`` seeing only ``tree`` and ``site``.

    ``-S`` skips the site module, so neither our virtualenv's site-packages nor
    the ``.pth`` file of its editable install (which would put this repository,
    feeds/ included, on the path) is seen.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "EXCHANGE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(site)])
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_image_tree_holds_only_the_hub(image_tree: Path) -> None:
    assert sorted(p.name for p in image_tree.iterdir()) == [
        "README.md",
        "exchange",
        "policies",
        "pyproject.toml",
    ]


def test_hub_site_is_the_hub_closure(hub_site: Path, image_tree: Path, tmp_path: Path) -> None:
    present = _python_in(image_tree, hub_site, "import fastapi, sqlmodel, alembic", tmp_path)
    assert present.returncode == 0, present.stderr
    for client_only in ("httpx", "taxii2client"):
        absent = _python_in(image_tree, hub_site, f"import {client_only}", tmp_path)
        assert absent.returncode != 0, f"{client_only} is not a hub dependency"


def test_guard_passes_on_the_image_tree(image_tree: Path, hub_site: Path, tmp_path: Path) -> None:
    first, _, second = GUARD.partition(" && ! ")
    hub = _python_in(image_tree, hub_site, shlex.split(first)[2], cwd=tmp_path)
    assert hub.returncode == 0, hub.stderr
    member = _python_in(image_tree, hub_site, shlex.split(second)[2], cwd=tmp_path)
    assert member.returncode != 0
    assert "No module named 'feeds'" in member.stderr


def test_the_mirror_would_catch_a_leak(image_tree: Path, hub_site: Path, tmp_path: Path) -> None:
    """Control: with feeds/ in the tree, ``import feeds`` succeeds, so the guard would fail."""
    leaky = tmp_path / "leaky"
    shutil.copytree(image_tree, leaky)
    shutil.copytree(ROOT / "feeds", leaky / "feeds", ignore=shutil.ignore_patterns("__pycache__"))
    assert _python_in(leaky, hub_site, "import feeds", cwd=tmp_path).returncode == 0
