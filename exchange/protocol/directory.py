"""Leaves of the directory log: what the hub commits to about members, keys and policies.

Each leaf is the canonical JSON (RFC 8785) of a small statement that anyone
holding the document can recompute: a key bundle's leaf from the member id,
its sequence and its digest; a policy version's from the feed id, its version
and its digest. So a client that relies on a key bundle or a policy version
computes its leaf, asks the hub where it is, and checks the inclusion proof
against a signed checkpoint: the hub cannot show one member a key or a policy
that the log, which everyone sees, does not hold.
"""

from __future__ import annotations

from typing import Any

from policies.canonical import canonical_bytes

__all__ = [
    "key_bundle_leaf",
    "member_admitted_leaf",
    "member_disabled_leaf",
    "policy_version_leaf",
]


def _leaf(statement: dict[str, Any]) -> bytes:
    return canonical_bytes({"v": 1, **statement})


def member_admitted_leaf(member: str, name: str, kind: str) -> bytes:
    """The operator admitted ``member`` (its name and kind)."""
    return _leaf({"type": "member.admitted", "member": member, "name": name, "kind": kind})


def member_disabled_leaf(member: str) -> bytes:
    """The operator disabled ``member``."""
    return _leaf({"type": "member.disabled", "member": member})


def key_bundle_leaf(member: str, sequence: int, digest: str) -> bytes:
    """``member`` registered its key bundle number ``sequence``, whose digest is ``digest``."""
    return _leaf({"type": "key-bundle", "member": member, "sequence": sequence, "digest": digest})


def policy_version_leaf(feed: str, version: int, digest: str) -> bytes:
    """The owner of ``feed`` published its policy ``version``, whose digest is ``digest``."""
    return _leaf({"type": "policy-version", "feed": feed, "version": version, "digest": digest})
