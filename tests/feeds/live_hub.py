"""A real hub for the member client to talk to, set up through the operator CLI.

taxii2-client speaks HTTP through ``requests``, which cannot be pointed at an
in-process ASGI app, so the live tests run a real ``exchange serve`` on a free
loopback port (SQLite, in a temporary home) with the integration suite's
`HubHome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.integration.live import HubHome, Member, ServerProcess

__all__ = ["LiveHub", "new_home", "start_live_hub"]


@dataclass(frozen=True, slots=True)
class LiveHub:
    """A running hub: owner, reader and outsider, feeds 'reports' (granted) and 'hidden'."""

    home: HubHome
    server: ServerProcess
    owner: Member
    reader: Member
    outsider: Member
    reports: str
    hidden: str

    @property
    def url(self) -> str:
        """The hub's base URL."""
        return self.server.url


def start_live_hub(home: HubHome) -> LiveHub:
    """Admit three members and create two feeds in ``home``, then start its server.

    The caller stops the server with ``home.stop_all()``.
    """
    owner = home.add_member("CERT-EU", "authority")
    reader = home.add_member("Uni Lab", "research")
    outsider = home.add_member("Outsider", "industry")
    reports = home.add_feed("reports", owner="CERT-EU", title="Trend reports")
    hidden = home.add_feed("hidden", owner="CERT-EU", title="Hidden feed")
    home.grant("Uni Lab", "reports", read=True)
    server = home.serve()
    return LiveHub(home, server, owner, reader, outsider, reports, hidden)


def new_home(base: Path) -> HubHome:
    """A hub home on SQLite under ``base``."""
    return HubHome(backend="sqlite", home=base / "home")
