"""Signed policy documents: parsing, normal form, signature check and the version chain.

A signed policy is ``{"policy": {...}, "signatures": [...]}``. The policy
must be in *normal form*, exactly what :func:`policy_document` gives for its
model (every field present, timestamps in UTC with ``Z``), so one policy has
one encoding and one digest. A version's digest is ``sha256`` over the RFC
8785 bytes of its policy object; the next version names it in ``previous``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import ValidationError

from policies.canonical import canonical_bytes, digest
from policies.errors import PolicyChainError, PolicySyntaxError
from policies.model import Policy
from policies.signature import Signature, SigningKeys, verify_signatures

__all__ = [
    "POLICY_LABEL",
    "SignedPolicy",
    "load_json",
    "parse_policy",
    "parse_signed_policy",
    "policy_document",
    "verify_policy",
    "verify_successor",
]

POLICY_LABEL = "trend-exchange/policy/1"
"""The signature domain of policies."""

_MAX_BYTES = 1 << 20


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PolicySyntaxError(key, "appears twice")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise PolicySyntaxError("", f"{name} is not JSON")


def load_json(data: bytes | str) -> Any:
    """Parse JSON strictly: no duplicate keys, no NaN or Infinity, at most 1 MiB.

    Raises `PolicySyntaxError` otherwise.
    """
    if len(data) > _MAX_BYTES:
        raise PolicySyntaxError("", "the document is larger than 1 MiB")
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, PolicySyntaxError):
            raise
        raise PolicySyntaxError("", "the document is not valid JSON") from exc


def _location(error: Any) -> str:
    return ".".join(str(part) for part in error.get("loc", ())) or "policy"


def parse_policy(document: Any) -> Policy:
    """Return the `Policy` in ``document`` (a parsed JSON object).

    Raises `PolicySyntaxError` naming the first offending field.
    """
    if not isinstance(document, dict):
        raise PolicySyntaxError("policy", "must be a JSON object")
    try:
        return Policy.model_validate_json(canonical_bytes(document))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicySyntaxError(_location(first), first["msg"]) from exc


def policy_document(policy: Policy) -> dict[str, Any]:
    """Return the normal-form JSON object of ``policy`` (what is signed and digested)."""
    document = policy.model_dump(mode="json")
    for name in ("valid_from", "valid_until"):
        moment = getattr(policy, name)
        if moment is not None:
            document[name] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return document


@dataclass(frozen=True, slots=True)
class SignedPolicy:
    """A policy in normal form with its owner's signatures."""

    policy: Policy
    document: dict[str, Any]
    signatures: tuple[Signature, ...]

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the policy's canonical bytes; the next version names it."""
        return digest(self.document)

    def to_json(self) -> dict[str, Any]:
        """Return the signed document as a JSON object."""
        return {
            "policy": self.document,
            "signatures": [s.model_dump() for s in self.signatures],
        }


def parse_signed_policy(data: bytes | str | dict[str, Any]) -> SignedPolicy:
    """Parse a signed policy document (JSON bytes, text or an already parsed object).

    Raises `PolicySyntaxError` if it is not a signed policy in normal form.
    The signatures are parsed, not verified: call `verify_policy`.
    """
    outer = data if isinstance(data, dict) else load_json(data)
    if not isinstance(outer, dict) or set(outer) != {"policy", "signatures"}:
        raise PolicySyntaxError("", 'a signed policy is {"policy": {...}, "signatures": [...]}')
    policy = parse_policy(outer["policy"])
    if policy_document(policy) != outer["policy"]:
        raise PolicySyntaxError(
            "policy", "is not in normal form; re-sign it with `feeds policy sign`"
        )
    raw_signatures = outer["signatures"]
    if not isinstance(raw_signatures, list):
        raise PolicySyntaxError("signatures", "must be a list")
    try:
        signatures = tuple(Signature.model_validate(s) for s in raw_signatures)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicySyntaxError("signatures." + _location(first), first["msg"]) from exc
    return SignedPolicy(policy, outer["policy"], signatures)


def verify_policy(signed: SignedPolicy, owner_keys: SigningKeys) -> None:
    """Verify that the policy's owner signed it with ``owner_keys`` (both algorithms).

    Raises `PolicySignatureError` if not.
    """
    verify_signatures(POLICY_LABEL, signed.document, signed.signatures, owner_keys)


def verify_successor(current: SignedPolicy | None, new: SignedPolicy) -> None:
    """Check that ``new`` is the next version after ``current`` (None: no policy yet).

    Raises `PolicyChainError` if ``new`` is for another feed or owner, skips
    or repeats a version number, or does not name ``current``'s digest.
    """
    if current is None:
        if new.policy.version != 1:
            raise PolicyChainError(
                f"the feed has no policy yet; expected version 1, got {new.policy.version}"
            )
        return
    if new.policy.feed != current.policy.feed:
        raise PolicyChainError("the policy is for another feed")
    if new.policy.owner != current.policy.owner:
        raise PolicyChainError("the policy names another owner than the version in force")
    expected = current.policy.version + 1
    if new.policy.version != expected:
        raise PolicyChainError(
            f"expected version {expected} (the version in force is {current.policy.version}),"
            f" got {new.policy.version}"
        )
    if new.policy.previous != current.digest:
        raise PolicyChainError("previous does not name the digest of the version in force (a fork)")
