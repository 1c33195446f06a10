"""A populated hub behind Starlette's TestClient, for API tests."""

from __future__ import annotations

import base64
import random
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
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
from exchange.settings import HubSettings
from tests.policy_kit import OwnerKeys, sync_policy

ROOT = "/taxii2/trends"
NO_SUCH_OBJECT = {
    "title": "Not Found",
    "description": "No such object in this collection.",
    "http_status": "404",
}
"""The TAXII error of the object endpoints when no version of the object matches (§5.6-§5.8)."""


def _response(response: object) -> httpx.Response:
    """Narrow a TestClient answer to `httpx.Response`.

    starlette's type hints name the ``httpx2`` package, which is not installed
    (so the checker sees ``Any``); at run time the TestClient uses ``httpx``.
    """
    assert isinstance(response, httpx.Response), type(response)
    return response


@dataclass
class World:
    """A hub with one feed and members in every role, and a client to call it."""

    hub: Hub
    client: TestClient
    feed_id: str
    tokens: dict[str, str] = field(default_factory=dict)
    members: dict[str, MemberRecord] = field(default_factory=dict)
    owner_keys: OwnerKeys | None = None

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

    def post(
        self, objects: list[dict[str, object]], who: str | None = "owner", feed: str = "reports"
    ) -> httpx.Response:
        """POST an envelope of ``objects``."""
        return _response(
            self.client.post(
                self.objects_url(feed),
                json={"objects": objects},
                headers=self.headers(who, **{"Content-Type": TAXII_21}),
            )
        )

    # Helpers added for the TAXII API tests.

    def url(self, path: str = "") -> str:
        """``path`` below the API root (``""`` is the API root itself)."""
        return f"{ROOT}/{path}"

    def manifest_url(self, feed: str = "reports") -> str:
        """The manifest endpoint of ``feed``."""
        return f"{ROOT}/collections/{feed}/manifest/"

    def object_url(self, stix_id: str, feed: str = "reports") -> str:
        """The object-by-id endpoint of ``stix_id`` in ``feed``."""
        return f"{self.objects_url(feed)}{stix_id}/"

    def versions_url(self, stix_id: str, feed: str = "reports") -> str:
        """The versions endpoint of ``stix_id`` in ``feed``."""
        return f"{self.objects_url(feed)}{stix_id}/versions/"

    def get(
        self,
        url: str,
        who: str | None = "owner",
        params: Sequence[tuple[str, str]] | dict[str, str] | None = None,
        **extra: str,
    ) -> httpx.Response:
        """GET ``url`` as ``who`` with query ``params`` (pairs may repeat a name)."""
        return _response(self.client.get(url, params=params, headers=self.headers(who, **extra)))

    def delete(
        self,
        stix_id: str,
        who: str = "owner",
        params: Sequence[tuple[str, str]] | dict[str, str] | None = None,
        feed: str = "reports",
    ) -> httpx.Response:
        """DELETE ``stix_id`` (all versions, or those ``params`` match) from ``feed``."""
        return _response(
            self.client.delete(
                self.object_url(stix_id, feed), params=params, headers=self.headers(who)
            )
        )

    def post_ok(self, objects: list[dict[str, Any]], who: str = "owner") -> dict[str, Any]:
        """POST ``objects``, check every one was accepted, and return the status body."""
        response = self.post(objects, who=who)
        assert response.status_code == 202, response.text
        status: dict[str, Any] = response.json()
        assert status["failure_count"] == 0, status
        assert status["success_count"] == len(objects), status
        return status

    @staticmethod
    def assert_error(response: Any, status: int) -> dict[str, Any]:
        """Check ``response`` is a TAXII error with ``status``; return its body."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == TAXII_21
        body: dict[str, Any] = response.json()
        assert isinstance(body["title"], str)
        assert body["title"]
        assert body["http_status"] == str(status)
        return body

    @classmethod
    def assert_no_such_object(cls, response: Any) -> None:
        """Check ``response`` is the 404 of an object of which no version matches (§5.7)."""
        assert cls.assert_error(response, 404) == NO_SUCH_OBJECT


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
    owner_keys = OwnerKeys(members["owner"])
    for alias in ("reports", "hidden"):
        sync_policy(hub, alias, owner_keys)
    client = TestClient(create_app(hub.settings, hub=hub))
    return World(hub, client, feed.id, tokens, members, owner_keys)


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


@pytest.fixture
def make_world(make_settings: Callable[..., HubSettings]) -> Iterator[Callable[..., World]]:
    """Build extra `World`s with settings overrides, e.g. ``make_world("sqlite", max_page_size=3)``.

    Each is closed (client and hub) after the test.
    """
    made: list[World] = []

    def make(backend: str = "sqlite", **overrides: object) -> World:
        w = build_world(Hub.open(make_settings(backend, **overrides)))
        made.append(w)
        return w

    yield make
    for w in made:
        w.client.close()
        w.hub.close()


T0 = "2026-01-01T00:00:00.000Z"


class StixFactory:
    """Valid STIX 2.1 objects with deterministic uuid4 ids (seeded per test)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        """A fresh, deterministic RFC 4122 version 4 uuid."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def id(self, stix_type: str) -> str:
        """A fresh identifier of ``stix_type``."""
        return f"{stix_type}--{self.uuid()}"

    def indicator(self, *, created: Any = T0, modified: Any = None, **extra: Any) -> dict[str, Any]:
        """An indicator with a valid STIX pattern; ``modified`` defaults to ``created``."""
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": self.id("indicator"),
            "created": created,
            "modified": modified or created,
            "name": "Trend indicator",
            "pattern": "[ipv4-addr:value = '198.51.100.7']",
            "pattern_type": "stix",
            "valid_from": created,
        }
        obj.update(extra)
        return obj

    def note(self, *, created: Any = T0, modified: Any = None, **extra: Any) -> dict[str, Any]:
        """A note about nothing in particular."""
        obj: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": self.id("note"),
            "created": created,
            "modified": modified or created,
            "content": "Card-not-present fraud rose in Q3.",
            "object_refs": [self.id("report")],
        }
        obj.update(extra)
        return obj

    def sco(self, value: str = "203.0.113.9") -> dict[str, Any]:
        """An ipv4-addr observable: neither ``created`` nor ``modified``."""
        return {
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": self.id("ipv4-addr"),
            "value": value,
        }

    def marking(self, *, created: str = T0) -> dict[str, Any]:
        """A statement marking definition: ``created`` but no ``modified``."""
        return {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.id("marking-definition"),
            "created": created,
            "definition_type": "statement",
            "definition": {"statement": "Shared within the exchange only."},
        }

    def custom(self, *, created: Any = T0, **extra: Any) -> dict[str, Any]:
        """A custom object of a type stix2 does not know."""
        obj: dict[str, Any] = {
            "type": "x-trend-summary",
            "spec_version": "2.1",
            "id": self.id("x-trend-summary"),
            "created": created,
            "modified": created,
            "x_trend_score": 7,
        }
        obj.update(extra)
        return obj

    @staticmethod
    def revise(obj: dict[str, Any], modified: str, **changes: Any) -> dict[str, Any]:
        """A new version of ``obj`` with ``modified`` and ``changes``."""
        return {**obj, "modified": modified, **changes}


@pytest.fixture
def stix(request: pytest.FixtureRequest) -> StixFactory:
    """A `StixFactory` seeded from the test's id."""
    return StixFactory(zlib.crc32(request.node.nodeid.encode()))
