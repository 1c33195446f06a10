"""An in-memory hub behind ``httpx.MockTransport``, honest by default and easy to corrupt.

It serves the routes the member client uses (discovery, one collection, whoami,
key bundles, policy versions) from plain dicts that a test may edit to play a
curious or compromised hub: serve a tampered policy, drop a version, swap an
owner's keys. Uploads are checked the way the real hub checks them, so the
honest path behaves like the real thing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from exchange.protocol import TAXII_21
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import parse_key_bundle, verify_key_bundle
from feeds.exchange_api import ExchangeApi
from policies import PolicyError, parse_signed_policy, verify_successor
from policies.document import verify_policy

__all__ = ["HUB_URL", "FakeHub", "FakeMember"]

HUB_URL = "https://hub.test"
_JSON = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class FakeMember:
    """A member of the fake hub: its id, name and token."""

    id: str
    name: str
    token: str


def _error(status: int, description: str) -> httpx.Response:
    body = {"title": "Error", "description": description, "http_status": str(status)}
    return httpx.Response(status, json=body, headers={"content-type": TAXII_21})


@dataclass
class FakeHub:
    """The hub's state: members, feeds, key bundles and policy versions (raw JSON)."""

    members: dict[str, FakeMember] = field(default_factory=dict)  # token -> member
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> collection
    bundles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    policies: dict[str, list[bytes]] = field(default_factory=dict)  # feed id -> documents
    served: dict[tuple[str, int], bytes] = field(default_factory=dict)
    """What to serve for (feed id, version) instead of the stored version: a lying hub."""
    requests: list[httpx.Request] = field(default_factory=list)
    discovery: dict[str, Any] = field(
        default_factory=lambda: {"title": "Fake hub", "default": "/taxii2/trends/"}
    )

    # ------------------------------------------------------------------ set-up

    def add_member(self, name: str) -> FakeMember:
        """Admit a member with a fresh id and token."""
        member = FakeMember(f"identity--{uuid.uuid4()}", name, f"tx_{uuid.uuid4().hex}")
        self.members[member.token] = member
        return member

    def add_feed(self, alias: str, title: str | None = None) -> str:
        """Create a feed; return its id."""
        feed = str(uuid.uuid4())
        self.feeds[feed] = {
            "id": feed,
            "title": title or alias,
            "alias": alias,
            "can_read": True,
            "can_write": True,
            "media_types": ["application/stix+json;version=2.1"],
        }
        self.policies[feed] = []
        return feed

    def transport(self) -> httpx.MockTransport:
        """The transport that routes requests to this hub."""
        return httpx.MockTransport(self.handle)

    def api(self, member: FakeMember | str) -> ExchangeApi:
        """A client session as ``member`` (or with a raw token)."""
        token = member if isinstance(member, str) else member.token
        return ExchangeApi(HUB_URL, SecretStr(token), httpx.Client(transport=self.transport()))

    # ------------------------------------------------------------------ routing

    def _feed(self, ref: str) -> str | None:
        for feed, collection in self.feeds.items():
            if ref in (feed, collection["alias"]):
                return feed
        return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        auth = request.headers.get("authorization", "")
        member = self.members.get(auth.removeprefix("Bearer "))
        if member is None or not auth.startswith("Bearer "):
            return _error(401, "The credentials were not accepted.")
        parts = request.url.path.strip("/").split("/")
        method = request.method
        if parts == ["taxii2"]:
            return httpx.Response(200, json=self.discovery, headers={"content-type": TAXII_21})
        if parts[:3] == ["taxii2", "trends", "collections"] and len(parts) == 4:
            feed = self._feed(parts[3])
            if feed is None:
                return _error(404, "No such collection.")
            return httpx.Response(200, json=self.feeds[feed], headers={"content-type": TAXII_21})
        if parts == ["exchange", "v1", "whoami"]:
            body = {"id": member.id, "name": member.name, "kind": "authority"}
            return httpx.Response(200, json=body)
        if parts[:3] == ["exchange", "v1", "members"] and parts[4:] == ["keys"]:
            if method == "POST":
                return self._post_bundle(member, parts[3], request.content)
            if not self.bundles.get(parts[3]):
                return _error(404, f"No member with id or name {parts[3]!r}.")
            return httpx.Response(200, json={"member": parts[3], "bundles": self.bundles[parts[3]]})
        if parts[:3] == ["exchange", "v1", "feeds"] and parts[4:5] == ["policy"]:
            feed = self._feed(parts[3])
            if feed is None:
                return _error(404, "No such collection.")
            return self._policy(member, feed, method, parts[5:], request.content)
        return _error(404, "No such resource.")

    def _post_bundle(self, member: FakeMember, target: str, body: bytes) -> httpx.Response:
        if target != member.id:
            return _error(403, "You may not register keys for another member.")
        try:
            signed = parse_key_bundle(body)
            chain = self.bundles.get(member.id, [])
            previous = parse_key_bundle(chain[-1]) if chain else None
            verify_key_bundle(signed, previous)
        except (MalformedPayload, PolicyError) as exc:
            return _error(409, f"The key bundle was refused: {exc}.")
        self.bundles.setdefault(member.id, []).append(signed.model_dump(mode="json"))
        receipt = {"member": member.id, "sequence": signed.keys.sequence, "digest": signed.digest}
        return httpx.Response(201, json=receipt)

    def _policy(
        self, member: FakeMember, feed: str, method: str, rest: list[str], body: bytes
    ) -> httpx.Response:
        stored = self.policies[feed]
        if method == "POST" and not rest:
            return self._post_policy(member, feed, body)
        if rest == ["versions"]:
            listing = []
            for document in stored:
                signed = parse_signed_policy(document)
                listing.append({"version": signed.policy.version, "digest": signed.digest})
            return httpx.Response(200, json={"versions": listing})
        if len(rest) == 2 and rest[0] == "versions" and rest[1].isdigit():
            number = int(rest[1])
            if not 1 <= number <= len(stored):
                return _error(404, "No such object in this collection.")
            document = self.served.get((feed, number), stored[number - 1])
            return httpx.Response(200, content=document, headers=_JSON)
        return _error(404, "No such resource.")

    def _post_policy(self, member: FakeMember, feed: str, body: bytes) -> httpx.Response:
        stored = self.policies[feed]
        try:
            signed = parse_signed_policy(body)
            if signed.policy.owner != member.id:
                return _error(403, "You may not publish this feed's policy.")
            keys = parse_key_bundle(self.bundles[member.id][-1]).keys.signing_keys()
            verify_policy(signed, keys)
            verify_successor(parse_signed_policy(stored[-1]) if stored else None, signed)
        except PolicyError as exc:
            return _error(409, f"The policy was refused: {exc.message}.")
        stored.append(json.dumps(signed.to_json()).encode())
        receipt = {"feed": feed, "version": signed.policy.version, "digest": signed.digest}
        return httpx.Response(201, json=receipt)
