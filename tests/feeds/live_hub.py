"""A real hub for the member client to talk to, set up through the operator CLI.

taxii2-client speaks HTTP through ``requests``, which cannot be pointed at an
in-process ASGI app, so the live tests run a real ``exchange serve`` on a free
loopback port (SQLite, in a temporary home) with the integration suite's
`HubHome`. A feed serves nothing without its owner's signed policy, so the owner
registers keys and publishes one for each feed through `feeds.exchange_api`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from feeds.crypto.keys import MemberSecrets, build_key_bundle
from feeds.exchange_api import ExchangeApi
from feeds.policy_files import sign_policy
from policies import policy_from_template
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
    readers = {reports: (owner.id, reader.id), hidden: (owner.id,)}
    publish_policies(server.url, owner, readers)
    return LiveHub(home, server, owner, reader, outsider, reports, hidden)


def publish_policies(hub: str, owner: Member, readers: dict[str, tuple[str, ...]]) -> None:
    """Register fresh keys for ``owner`` and publish version 1 of each feed's policy
    (feed id -> readers; the owner alone writes)."""
    secrets = MemberSecrets.generate()
    with httpx.Client(timeout=30.0) as http:
        api = ExchangeApi(hub, SecretStr(owner.token), http)
        bundle = build_key_bundle(
            secrets, member=owner.id, sequence=1, previous=None, endorser=None
        )
        api.register_key_bundle(bundle)
        for feed, who in readers.items():
            policy = policy_from_template(
                "community",
                feed=feed,
                owner=owner.id,
                valid_from=datetime.now(UTC),
                readers=who,
                writers=(owner.id,),
            )
            api.publish_policy(feed, sign_policy(policy, secrets))


def new_home(base: Path) -> HubHome:
    """A hub home on SQLite under ``base``."""
    return HubHome(backend="sqlite", home=base / "home", auto_policy=False)
