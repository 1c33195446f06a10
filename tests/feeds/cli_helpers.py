"""Running ``feeds`` commands in-process against a `FakeHub`, as one member or another."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from feeds.cli._session import Session
from feeds.cli.main import app
from feeds.exchange_api import ExchangeApi
from feeds.settings import get_settings
from tests.feeds.fake_hub import HUB_URL, FakeHub, FakeMember
from tests.feeds.keymaker import PASSPHRASE

__all__ = ["Cli", "connect_sessions_to"]


def connect_sessions_to(hub: FakeHub) -> Any:
    """A replacement for `Session.hub` that talks to ``hub`` (patch it in with monkeypatch)."""

    def session_hub(self: Session) -> ExchangeApi:
        settings = self.settings
        http = httpx.Client(transport=hub.transport())
        return ExchangeApi(settings.require_hub(), settings.require_token(), http)

    return session_hub


@dataclass
class Cli:
    """``feeds`` as ``member`` with the keystore at ``keystore`` (a default env per call)."""

    keystore: Path
    member: FakeMember | None = None
    passphrase: str | None = PASSPHRASE
    secrets: list[str] = field(default_factory=list)
    runner: CliRunner = field(default_factory=CliRunner)

    def env(self, **extra: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "EXCHANGE_HUB": HUB_URL,
            "EXCHANGE_KEYSTORE": str(self.keystore),
            "EXCHANGE_TOKEN": None if self.member is None else self.member.token,
            "EXCHANGE_PASSPHRASE": self.passphrase,
        }
        env.update(extra)
        return env

    def run(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        """Run ``feeds <args>``; any exception other than an exit is a bug."""
        get_settings.cache_clear()
        result = self.runner.invoke(app, list(args), env=self.env(**env), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        for secret in [PASSPHRASE, *self.secrets, *([self.member.token] if self.member else [])]:
            assert secret not in result.stdout
            assert secret not in result.stderr
        return result

    def ok(self, *args: str, **env: str | None) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self.run(*args, **env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert "error" not in result.stderr
        return str(result.stdout)

    def json(self, *args: str, **env: str | None) -> Any:
        """Run a command with ``--json``; return the one JSON object it prints."""
        out = self.ok(*args, "--json", **env)
        assert out.count("\n") == 1
        return json.loads(out)

    def fails(self, *args: str, code: int, match: str, **env: str | None) -> str:
        """Run a command that must fail with ``code`` and ``match`` on stderr; return stderr."""
        result = self.run(*args, **env)
        assert result.exit_code == code, (result.stdout, result.stderr)
        assert result.stdout == ""
        stderr = " ".join(str(result.stderr).split())  # undo rich's line wrapping
        assert match in stderr, stderr
        assert "Traceback" not in stderr
        return stderr
