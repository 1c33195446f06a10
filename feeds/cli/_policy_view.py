"""How ``feeds policy show`` presents a verified policy: labelled lines, or one JSON object.

Everything the hub or a policy author chose (titles, aliases, ids) is escaped
with `rich.markup.escape` before rich sees it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from feeds.crypto.keys import fingerprint
from feeds.feed_policy import FeedPolicy
from policies import TlpLevel, policy_document

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


_TLP_STYLE = {
    TlpLevel.CLEAR: "bold",
    TlpLevel.GREEN: "bold green",
    TlpLevel.AMBER: "bold yellow",
    TlpLevel.AMBER_STRICT: "bold yellow",
    TlpLevel.RED: "bold red",
}


def _members(ids: tuple[str, ...], owner: str, me: str | None) -> list[str]:
    def label(member: str) -> str:
        notes = [n for n, hit in (("owner", member == owner), ("you", member == me)) if hit]
        return escape(member) + (f" ({', '.join(notes)})" if notes else "")

    return [label(m) for m in ids] or ["-"]


def _rows(shown: FeedPolicy, me: str | None) -> list[tuple[str, list[str]]]:
    current = shown.current
    policy = current.policy
    document = policy_document(policy)
    iep = policy.iep
    level = policy.tlp_level
    return [
        ("feed", [escape(policy.feed)]),
        ("version", [f"{policy.version}, digest {current.digest}"]),
        ("owner", [escape(policy.owner), f"fingerprint {_owner_fingerprint(shown)}"]),
        ("TLP", [f"[{_TLP_STYLE[level]}]{level.value}[/] ({policy.tlp})"]),
        (
            "IEP",
            [
                f"permitted actions: {iep.permitted_actions}",
                f"affected-party notifications: {iep.affected_party_notifications}",
                f"attribution: {iep.attribution}",
                f"unmodified resale: {iep.unmodified_resale}",
                f"encrypt in transit: {iep.encrypt_in_transit}",
            ],
        ),
        ("readers", _members(policy.readers, policy.owner, me)),
        ("writers", _members(policy.writers, policy.owner, me)),
        ("purposes", [", ".join(p.value for p in policy.purposes)]),
        ("retention", [f"{policy.retention_days} days"]),
        ("valid", [f"from {document['valid_from']} until {document['valid_until'] or 'revoked'}"]),
        ("public", ["yes (anyone may read)" if policy.public else "no"]),
    ]


def render_policy(shown: FeedPolicy, console: Console, *, me: str | None) -> None:
    """Print the verified policy in force, field by field (ids never wrapped, so they
    copy whole), then how it was verified and pinned."""
    name = shown.collection.alias or shown.collection.id
    console.print(f"[bold]Policy of feed {escape(name)}[/bold]: {escape(shown.collection.title)}")
    for label, lines in _rows(shown, me):
        for number, line in enumerate(lines):
            shown_label = label if number == 0 else ""
            console.print(f"  [bold]{shown_label:<10}[/bold] {line}")
    versions = len(shown.trusted.versions)
    console.print(
        f"verified: {versions} version(s) chained, each signed by the owner's registered keys"
        f" (the newest by key bundle {shown.trusted.signers[-1]})"
    )
    if shown.pin is not None:
        state = "pinned now (first use)" if shown.newly_pinned else "matches the pinned owner"
        console.print(f"owner {escape(shown.pin.owner)}: {state}")
