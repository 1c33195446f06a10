"""The README's threat model names the tests that show each claim: they must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
ADVERSARIES = [
    "Curious operator",
    "Compromised hub",
    "Malicious member",
    "Revoked member",
    "Network attacker",
    "Malicious TAXII client",
]


def _threat_model() -> str:
    start = README.index("\n## Threat model\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def _sections() -> dict[str, str]:
    parts = re.split(r"\n### (.+)\n", _threat_model())
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_adversary_has_a_section_pointing_to_tests() -> None:
    sections = _sections()
    assert list(sections) == ADVERSARIES
    for name, text in sections.items():
        assert "*Cannot*" in text, name
        assert "*Can*" in text, name  # what it still can do is said too
        assert _REFERENCE.search(text), f"{name} points to no test"


def test_every_test_the_readme_names_exists() -> None:
    references = _REFERENCE.findall(README)
    assert len(references) > 40
    for path, name in references:
        source = ROOT / path
        assert source.is_file(), path
        if name:
            assert re.search(rf"^(?:    )?def {name}\(", source.read_text(), re.M), (path, name)
