"""Policy files on the owner's disk: reading, writing, signing, and checking our own signature.

An owner drafts a policy (``feeds policy init``), edits the file, signs it and
publishes it. The file holds either a bare policy object or a signed policy
``{"policy": {...}, "signatures": [...]}``; signing accepts both (re-signing
an edited signed file drops its old signatures) and writes the signed form in
normal form, the only form the hub accepts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from feeds.crypto.keys import MemberSecrets, sign_document
from feeds.errors import DocumentError, TrustError
from feeds.identity import Generation, LocalIdentity
from policies import (
    POLICY_LABEL,
    Policy,
    PolicyError,
    SignedPolicy,
    load_json,
    parse_policy,
    parse_signed_policy,
    policy_document,
    verify_policy,
)

__all__ = [
    "read_policy",
    "read_signed_policy",
    "sign_policy",
    "verify_own_signature",
    "write_document",
]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DocumentError(str(path), f"cannot read it ({reason})") from exc


def read_policy(path: Path) -> Policy:
    """Return the policy in the file at ``path`` (a bare policy or a signed one).

    Raises `DocumentError` if it cannot be read or is not a policy, naming the field.
    """
    try:
        document: Any = load_json(_read(path))
        if isinstance(document, dict) and set(document) == {"policy", "signatures"}:
            document = document["policy"]
        return parse_policy(document)
    except PolicyError as exc:
        raise DocumentError(str(path), exc.message) from exc


def read_signed_policy(path: Path) -> SignedPolicy:
    """Return the signed policy in the file at ``path`` (signatures parsed, not verified).

    Raises `DocumentError` if it cannot be read or is not a signed policy in normal form.
    """
    try:
        return parse_signed_policy(_read(path))
    except PolicyError as exc:
        raise DocumentError(str(path), exc.message) from exc


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as indented JSON to ``path``, replacing it atomically.

    Raises `DocumentError` if it cannot be written.
    """
    data = json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        raise DocumentError(str(path), f"cannot write it ({reason})") from exc


def sign_policy(policy: Policy, secrets: MemberSecrets) -> SignedPolicy:
    """Return ``policy`` in normal form, signed with both of ``secrets``' signing keys."""
    document = policy_document(policy)
    signatures = sign_document(secrets, POLICY_LABEL, document)
    return parse_signed_policy({"policy": document, "signatures": signatures})


def verify_own_signature(signed: SignedPolicy, identity: LocalIdentity) -> Generation:
    """Verify, offline, that we signed ``signed`` with one of our key generations; return it.

    Steps:
    0. the policy's owner is this keystore's member;
    1. its signatures name the signing keys of one of our generations;
    2. both signatures verify with those keys.

    Raises `TrustError` naming the step that fails.
    """
    what = f"policy version {signed.policy.version}"
    # 0. Ours.
    if identity.member is None:
        raise TrustError(
            what,
            "this keystore's member id is not known yet (run `feeds keys register`),"
            " so it cannot vouch for the policy offline",
        )
    if signed.policy.owner != identity.member:
        raise TrustError(
            what,
            f"its owner is {signed.policy.owner}, not this keystore's member"
            f" {identity.member}; verify it against the hub (without --offline)",
        )
    # 1. By one of our generations.
    generation = identity.generation_signing(frozenset(s.key_id for s in signed.signatures))
    if generation is None:
        raise TrustError(what, "it is not signed by any key generation of this keystore")
    # 2. Both signatures.
    try:
        verify_policy(signed, generation.signing_keys)
    except PolicyError as exc:
        raise TrustError(what, exc.message) from exc
    return generation
