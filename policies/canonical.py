"""Canonical bytes (RFC 8785, JSON Canonicalization Scheme) and digests."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

__all__ = ["canonical_bytes", "digest"]


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical JSON encoding of ``value``.

    Raises `ValueError` (``rfc8785.CanonicalizationError``) if ``value`` has no
    canonical form: an integer beyond ±(2**53 - 1), a non-finite float, a string
    with a lone surrogate, a non-string key or a type JSON does not have.

    >>> canonical_bytes({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    """
    return rfc8785.dumps(value)


def digest(value: Any) -> str:
    """Return ``sha256:<hex>`` of the canonical bytes of ``value``.

    Raises `ValueError` as `canonical_bytes` does.

    >>> digest({})
    'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
    """
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()
