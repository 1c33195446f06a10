"""Error paths of ``feeds publish|pull|open|grant|demo`` that need no real hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from feeds.cli import publish as publish_cli
from feeds.cli._session import Session
from feeds.cli.main import app
from feeds.publishing import Published
from feeds.settings import get_settings
from tests.feeds.cli_helpers import connect_sessions_to
from tests.feeds.fake_hub import HUB_URL, FakeHub
from tests.feeds.keymaker import PASSPHRASE, make_keystore

runner = CliRunner()
TOKEN = "tx_SECRET-member-token-do-not-print-0123456789"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    make_keystore(tmp_path / "keys")
    monkeypatch.setattr(Session, "hub", connect_sessions_to(FakeHub()))
    return {
        "EXCHANGE_HUB": HUB_URL,
        "EXCHANGE_TOKEN": TOKEN,
        "EXCHANGE_KEYSTORE": str(tmp_path / "keys"),
        "EXCHANGE_PASSPHRASE": PASSPHRASE,
    }


@pytest.mark.parametrize("command", ["publish", "pull", "open", "grant", "demo"])
def test_every_command_has_help_and_json(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout


def test_pull_without_a_hub_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("pull", "--feed", "x", "--out", str(tmp_path), env={"EXCHANGE_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "EXCHANGE_HUB" in result.stderr


def test_open_json_needs_an_output_file(tmp_path: Path) -> None:
    result = invoke("open", str(tmp_path / "r.json"), "--json")
    assert result.exit_code == 2
    assert "--json needs --output" in result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file"),
        (b"not json", "is not JSON"),
        (b"[1, 2]", "is neither a sealed report"),
        (b'{"type": "bundle", "objects": []}', "exactly one"),
        (b'{"type": "sealed-report", "envelope": {}}', "names no feed"),
    ],
)
def test_open_names_what_is_wrong_with_the_file(
    tmp_path: Path, env: dict[str, str], content: bytes | None, reason: str
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_bytes(content)
    result = invoke("open", str(path), env=env)
    assert result.exit_code == 1, result.stderr
    assert reason in result.stderr
    assert result.stdout == ""
    assert TOKEN not in result.stderr


def test_a_report_the_hub_does_not_accept_exits_non_zero(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = Published(
        feed="f", envelope_id="e", recipients=("a",), status="complete", success=False,
        message="ghost recipient identity--x",
    )  # fmt: skip
    monkeypatch.setattr(publish_cli, "publish_report", lambda *a, **k: refused)
    source = tmp_path / "bundle.json"
    source.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": []}))
    result = invoke("publish", str(source), "--feed", "f", env=env)
    assert result.exit_code == 1
    assert "status: failure" in result.stdout
    assert "did not accept the report: ghost recipient" in result.stderr
