"""Signed policy documents: parsing, normal form, signature check and the version chain.

A signed policy is ``{"policy": {...}, "signatures": [...]}``. The policy
must be in *normal form*, exactly what :func:`policy_document` gives for its
model (every field present, timestamps in UTC with ``Z``), so one policy has
one encoding and one digest. A version's digest is ``sha256`` over the RFC
8785 bytes of its policy object; the next version names it in ``previous``.
"""

from __future__ import annotations

import json
import math
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


def _finite(text: str) -> float:
    # json turns 1e400 into inf: NaN and Infinity by another spelling.
    value = float(text)
    if not math.isfinite(value):
        raise PolicySyntaxError("", f"{text} is not a finite number")
    return value


def _too_large(data: bytes | str) -> bool:
    if len(data) > _MAX_BYTES:
        return True
    return isinstance(data, str) and len(data.encode("utf-8", "surrogatepass")) > _MAX_BYTES


def load_json(data: bytes | str) -> Any:
    """Parse JSON strictly: no duplicate keys, no NaN or Infinity, at most 1 MiB (UTF-8).

    Raises `PolicySyntaxError` otherwise.

    >>> load_json(b'{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    """
    if _too_large(data):
        raise PolicySyntaxError("", "the document is larger than 1 MiB")
    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite,
        )
    except (ValueError, RecursionError) as exc:
        # Our hooks raise PolicySyntaxError, which is no ValueError and passes through.
        raise PolicySyntaxError("", "the document is not valid JSON") from exc


def _location(error: Any, *prefix: str | int) -> str:
    return ".".join(str(part) for part in (*prefix, *error.get("loc", ()))) or "policy"


def _has_canonical_form(value: Any) -> bool:
    try:
        canonical_bytes(value)
    except (ValueError, RecursionError):
        return False
    return True


def _canonical_policy(document: dict[Any, Any]) -> bytes:
    try:
        return canonical_bytes(document)
    except (ValueError, RecursionError) as exc:
        # RFC 8785 has no form for integers beyond 2**53, non-finite numbers, lone
        # surrogates or non-JSON types: name the first field that holds one.
        location = next(
            (str(k) for k, v in document.items() if not _has_canonical_form({k: v})), "policy"
        )
        raise PolicySyntaxError(location, "is not JSON that RFC 8785 can canonicalize") from exc


def parse_policy(document: Any) -> Policy:
    """Return the `Policy` in ``document`` (a parsed JSON object).

    Raises `PolicySyntaxError` naming the first offending field.
    """
    if not isinstance(document, dict):
        raise PolicySyntaxError("policy", "must be a JSON object")
    canonical = _canonical_policy(document)
    try:
        return Policy.model_validate_json(canonical)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicySyntaxError(_location(first), first["msg"]) from exc


def policy_document(policy: Policy) -> dict[str, Any]:
    """Return the normal-form JSON object of ``policy`` (what is signed and digested)."""
    document = policy.model_dump(mode="json")
    for name in ("valid_from", "valid_until"):
        moment = getattr(policy, name)
        if moment is not None:
            # isoformat, unlike strftime("%Y"), writes years before 1000 with four digits.
            utc = moment.astimezone(UTC).replace(tzinfo=None)
            document[name] = utc.isoformat(timespec="seconds") + "Z"
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
    signatures: list[Signature] = []
    for index, raw in enumerate(raw_signatures):
        try:
            signatures.append(Signature.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PolicySyntaxError(_location(first, "signatures", index), first["msg"]) from exc
    return SignedPolicy(policy, outer["policy"], tuple(signatures))


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
