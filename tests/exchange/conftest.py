"""A populated hub behind Starlette's TestClient, for API tests."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

with warnings.catch_warnings():
    # starlette warns (as a UserWarning subclass, which pyproject's DeprecationWarning
    # filter does not catch) that it prefers httpx2; the TestClient works with httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from exchange.app import create_app
from exchange.db.records import MemberKind, MemberRecord
from exchange.protocol.media import TAXII_21
from exchange.services import admin
from exchange.services.hub import Hub

ROOT = "/taxii2/trends"


@dataclass
class World:
    """A hub with one feed and members in every role, and a client to call it."""

    hub: Hub
    client: TestClient
    feed_id: str
    tokens: dict[str, str] = field(default_factory=dict)
    members: dict[str, MemberRecord] = field(default_factory=dict)

    def headers(self, who: str | None = "owner", **extra: str) -> dict[str, str]:
        """Headers for a request as ``who`` (None: anonymous) accepting TAXII 2.1."""
        headers = {"Accept": TAXII_21}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        headers.update(extra)
        return headers

    def basic(self, who: str) -> str:
        """An HTTP Basic Authorization value for ``who``."""
        raw = f"{self.members[who].id}:{self.tokens[who]}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def objects_url(self, feed: str = "reports") -> str:
        """The objects endpoint of ``feed``."""
        return f"{ROOT}/collections/{feed}/objects/"

    def post(self, objects: list[dict[str, object]], who: str = "owner", feed: str = "reports"):  # type: ignore[no-untyped-def]
        """POST an envelope of ``objects``."""
        return self.client.post(
            self.objects_url(feed),
            json={"objects": objects},
            headers=self.headers(who, **{"Content-Type": TAXII_21}),
        )


def build_world(hub: Hub) -> World:
    """Admit owner, reader, writer, outsider and auditor; create feeds 'reports' and 'hidden'."""
    tokens: dict[str, str] = {}
    members: dict[str, MemberRecord] = {}
    for name, kind in [
        ("owner", MemberKind.AUTHORITY),
        ("reader", MemberKind.RESEARCH),
        ("writer", MemberKind.INDUSTRY),
        ("outsider", MemberKind.INDUSTRY),
        ("auditor", MemberKind.AUDITOR),
    ]:
        members[name], tokens[name] = admin.add_member(hub, name, kind)
    feed = admin.add_feed(hub, "reports", "Trend reports", "Quarterly trends", owner="owner")
    admin.add_feed(hub, "hidden", "Hidden feed", owner="owner")
    admin.grant(hub, "reader", "reports", read=True, write=False)
    admin.grant(hub, "writer", "reports", read=False, write=True)
    client = TestClient(create_app(hub.settings, hub=hub))
    return World(hub, client, feed.id, tokens, members)


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    """A `World` on each storage backend."""
    w = build_world(hub)
    yield w
    w.client.close()


@pytest.fixture
def sqlite_world(sqlite_hub: Hub) -> Iterator[World]:
    """A `World` on SQLite only, for tests that are not about storage."""
    w = build_world(sqlite_hub)
    yield w
    w.client.close()
