"""How ``feeds policy show`` presents a verified policy: a table, or one JSON object.

Everything the hub or a policy author chose (titles, aliases, ids) is escaped
with `rich.markup.escape` before rich sees it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from feeds.crypto.keys import fingerprint
from feeds.feed_policy import FeedPolicy
from policies import policy_document

__all__ = ["policy_json", "render_policy"]


def _owner_fingerprint(shown: FeedPolicy) -> str:
    return fingerprint(shown.trusted.owner_bundles[-1].keys.signing_keys())


def policy_json(shown: FeedPolicy) -> dict[str, Any]:
    """Return the verified policy in force and what vouches for it, as one JSON object."""
    current = shown.current
    policy = current.policy
    document = policy_document(policy)
    return {
        "feed": policy.feed,
        "alias": shown.collection.alias,
        "title": shown.collection.title,
        "version": policy.version,
        "digest": current.digest,
        "previous": policy.previous,
        "versions": len(shown.trusted.versions),
        "owner": policy.owner,
        "owner_fingerprint": _owner_fingerprint(shown),
        "signed_by_bundle": shown.trusted.signers[-1],
        "tlp": {"level": policy.tlp_level.value, "marking": policy.tlp},
        "iep": document["iep"],
        "readers": list(policy.readers),
        "writers": list(policy.writers),
        "purposes": [p.value for p in policy.purposes],
        "retention_days": policy.retention_days,
        "valid_from": document["valid_from"],
        "valid_until": document["valid_until"],
        "public": policy.public,
        "pin": None
        if shown.pin is None
        else {
            "owner": shown.pin.owner,
            "first_bundle": shown.pin.first_bundle,
            "new": shown.newly_pinned,
        },
    }


def _members(ids: tuple[str, ...], owner: str, me: str | None) -> str:
    def label(member: str) -> str:
        notes = [n for n, hit in (("owner", member == owner), ("you", member == me)) if hit]
        return escape(member) + (f" ({', '.join(notes)})" if notes else "")

    return "\n".join(label(m) for m in ids) or "-"


def render_policy(shown: FeedPolicy, console: Console, *, me: str | None) -> None:
    """Print the verified policy in force as a table, then how it was verified and pinned."""
    current = shown.current
    policy = current.policy
    document = policy_document(policy)
    name = shown.collection.alias or shown.collection.id
    table = Table(
        title=f"Policy of feed {escape(name)}: {escape(shown.collection.title)}",
        title_justify="left",
        show_header=False,
    )
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    iep = policy.iep
    rows = [
        ("feed", escape(policy.feed)),
        ("version", f"{policy.version} (digest {current.digest})"),
        ("owner", f"{escape(policy.owner)}\nfingerprint {_owner_fingerprint(shown)}"),
        ("TLP", f"{policy.tlp_level.value} ({policy.tlp})"),
        ("IEP permitted actions", iep.permitted_actions),
        ("IEP affected-party notifications", iep.affected_party_notifications),
        ("IEP attribution", iep.attribution),
        ("IEP unmodified resale", iep.unmodified_resale),
        ("IEP encrypt in transit", iep.encrypt_in_transit),
        ("readers", _members(policy.readers, policy.owner, me)),
        ("writers", _members(policy.writers, policy.owner, me)),
        ("purposes", ", ".join(p.value for p in policy.purposes)),
        ("retention", f"{policy.retention_days} days"),
        ("valid", f"from {document['valid_from']} until {document['valid_until'] or 'revoked'}"),
        ("public", "yes (anyone may read)" if policy.public else "no"),
    ]
    for field, value in rows:
        table.add_row(field, value)
    console.print(table)
    versions = len(shown.trusted.versions)
    console.print(
        f"verified: {versions} version(s) chained, each signed by the owner's registered keys"
        f" (the newest by key bundle {shown.trusted.signers[-1]})"
    )
    if shown.pin is not None:
        state = "pinned now (first use)" if shown.newly_pinned else "matches the pinned owner"
        console.print(f"owner {escape(shown.pin.owner)}: {state}")
