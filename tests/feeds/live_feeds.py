"""Runs the real ``feeds`` console script as a member against a live hub process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.live import Member, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"


def run_feeds(
    url: str, *args: str, token: str, keystore: Path, passphrase: str | None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run the ``feeds`` console script against the hub at ``url`` with a clean
    environment; neither the token nor the passphrase may show in its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env |= {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": token, "EXCHANGE_KEYSTORE": str(keystore)}
    if passphrase is not None:
        env["EXCHANGE_PASSPHRASE"] = passphrase
    done = subprocess.run(
        [str(FEEDS), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr
    for secret in (token, passphrase):
        assert secret is None or secret not in done.stdout + done.stderr
    return done


class FeedsRunner:
    """The members of a live hub at ``server``, each with a keystore under ``work``."""

    def __init__(
        self, server: ServerProcess, work: Path, members: dict[str, Member], passphrase: str
    ) -> None:
        self.server, self.work, self.members = server, work, members
        self.passphrase = passphrase

    def keystore(self, name: str) -> Path:
        return self.work / f"{name}-keys"

    def feeds(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``feeds *args`` as member ``name``; its token must not show in the output."""
        return run_feeds(
            self.server.url,
            *args,
            token=self.members[name].token,
            keystore=self.keystore(name),
            passphrase=self.passphrase,
            cwd=self.work,
        )

    def ok(self, name: str, *args: str) -> str:
        """Run ``feeds *args`` as ``name``, expecting success; return its stdout."""
        done = self.feeds(name, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout
