"""Give test feeds what the hub now requires: owner keys and a signed policy in force.

The owner's keys are generated per test (no private key is ever committed);
registration and publication go through the hub's own services, so every
check the hub makes on real uploads is made here too.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from exchange.db.records import MemberRecord
from exchange.db.session import read_transaction
from exchange.services.directory import current_bundle, register_key_bundle
from exchange.services.hub import Hub
from exchange.services.policy import publish_policy
from exchange.services.queries import get_collection
from exchange.services.trust import latest_policy
from feeds.crypto.keys import MemberSecrets, build_key_bundle, sign_document
from policies import (
    POLICY_LABEL,
    TLP_MARKINGS,
    SignedPolicy,
    TlpLevel,
    policy_document,
    policy_from_template,
)

__all__ = [
    "CLEAR",
    "OwnerKeys",
    "assert_exchange_error",
    "draft_policy",
    "install_policy",
    "register_keys",
    "rotate_keys",
    "signed_policy",
    "sync_policy",
]


CLEAR = "clear"
"""The test kit's default template: "community" (not public, 365 days) marked TLP:CLEAR,
so test feeds take plain STIX as before sealed reports existed."""


class OwnerKeys:
    """A member's generated keys, registered with the hub on first use."""

    def __init__(self, member: MemberRecord) -> None:
        self.member = member
        self.secrets = MemberSecrets.generate()
        self.registered = False
        self._lock = threading.Lock()

    def register(self, hub: Hub) -> None:
        """Register the keys with ``hub`` (once, whatever the threads)."""
        with self._lock:
            if not self.registered:
                self._register(hub)

    def _register(self, hub: Hub) -> None:
        bundle = build_key_bundle(
            self.secrets, member=self.member.id, sequence=1, previous=None, endorser=None
        )
        register_key_bundle(hub, self.member, orjson.dumps(bundle.model_dump(mode="json")))
        self.registered = True


def register_keys(hub: Hub, *members: MemberRecord) -> dict[str, OwnerKeys]:
    """Generate and register a first key bundle for each of ``members``; return them by id."""
    registered: dict[str, OwnerKeys] = {m.id: OwnerKeys(m) for m in members}
    for keys in registered.values():
        keys.register(hub)
    return registered


def install_policy(
    hub: Hub,
    feed: str,
    owner: OwnerKeys,
    *,
    readers: list[MemberRecord],
    writers: list[MemberRecord],
    template: str = CLEAR,
    previous: SignedPolicy | None = None,
    valid_from: datetime | None = None,
    **changes: object,
) -> SignedPolicy:
    """Publish a policy for ``feed`` naming ``readers`` and ``writers`` (signed by ``owner``).

    ``previous`` makes it the next version after that one; ``changes`` override
    fields of the template's policy (say ``retention_days=1``). The default
    template, `CLEAR`, lets tests post plain STIX; "community" (TLP:GREEN) takes
    sealed reports only.
    """
    owner.register(hub)
    document = draft_policy(
        hub,
        feed,
        owner,
        readers=readers,
        writers=writers,
        template=template,
        previous=previous,
        valid_from=valid_from,
        **changes,
    )
    signed = signed_policy(document, owner.secrets)
    return publish_policy(hub, owner.member, feed, orjson.dumps(signed), now=datetime.now(UTC))


def sync_policy(hub: Hub, feed: str, owner: OwnerKeys) -> SignedPolicy:
    """Publish the next policy version of ``feed`` naming exactly its grant holders.

    Readers are the owner and every member granted read; writers the owner and
    every member granted write: the effective rights are then the operator's
    grants, as before policies existed.
    """
    with read_transaction(hub.engine) as conn:
        record = hub.feeds.find(conn, feed)
        assert record is not None, feed
        grants = hub.feeds.grants(conn, record.id)
        members = {m.id: m for m in hub.members.list_all(conn)}
        previous = latest_policy(hub, conn, record)
    readers = [owner.member] + [members[m] for m, r, _ in grants if r and m != owner.member.id]
    writers = [owner.member] + [members[m] for m, _, w in grants if w and m != owner.member.id]
    return install_policy(hub, feed, owner, readers=readers, writers=writers, previous=previous)


# Helpers for tests of the key directory and policy endpoints (issue 3).


def draft_policy(
    hub: Hub,
    feed: str,
    owner: OwnerKeys,
    *,
    readers: list[MemberRecord],
    writers: list[MemberRecord],
    template: str = CLEAR,
    previous: SignedPolicy | None = None,
    valid_from: datetime | None = None,
    **changes: object,
) -> dict[str, Any]:
    """Return, unsigned, the normal-form policy document `install_policy` would sign."""
    feed_id = get_collection(hub, owner.member, feed).feed.id
    if template == CLEAR:
        template, changes = "community", {"tlp": TLP_MARKINGS[TlpLevel.CLEAR], **changes}
    policy = policy_from_template(
        template,
        feed=feed_id,
        owner=owner.member.id,
        valid_from=valid_from or datetime.now(UTC) - timedelta(minutes=1),
        version=1 if previous is None else previous.policy.version + 1,
        previous=None if previous is None else previous.digest,
        readers=tuple(m.id for m in readers),
        writers=tuple(m.id for m in writers),
    )
    document = policy_document(policy)
    document.update(changes)
    return document


def signed_policy(document: dict[str, Any], signer: MemberSecrets) -> dict[str, Any]:
    """Return ``document`` with both signatures of ``signer`` (the owner's keys, or not)."""
    return {"policy": document, "signatures": sign_document(signer, POLICY_LABEL, document)}


def rotate_keys(hub: Hub, keys: OwnerKeys) -> MemberSecrets:
    """Register the next key bundle of ``keys``' member, endorsed by the bundle in force.

    ``keys`` then holds the new generation; the old one is returned.
    """
    keys.register(hub)
    with read_transaction(hub.engine) as conn:
        previous = current_bundle(hub, conn, keys.member.id)
    assert previous is not None
    old, new = keys.secrets, MemberSecrets.generate()
    bundle = build_key_bundle(
        new,
        member=keys.member.id,
        sequence=previous.keys.sequence + 1,
        previous=previous,
        endorser=old,
    )
    register_key_bundle(hub, keys.member, orjson.dumps(bundle.model_dump(mode="json")))
    keys.secrets = new
    return old


def assert_exchange_error(response: Any, status: int, description: str) -> dict[str, Any]:
    """Check ``response`` is an error of the exchange API (plain JSON) with ``status``
    whose description contains ``description``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"title", "description", "http_status"}, body
    assert body["title"]
    assert body["http_status"] == str(status)
    assert description in body["description"], body
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic realm=")
    return body
