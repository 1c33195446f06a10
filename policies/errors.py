"""Errors of the sharing-policy language.

::

    PolicyError
    ├── PolicySyntaxError       the document does not parse into a policy (unknown field,
    │                           wrong type, broken invariant); ``location`` names the field
    ├── PolicySignatureError    a signature is missing, malformed or does not verify
    └── PolicyChainError        a version does not follow the one in force (number, digest,
                                feed or owner)
"""

from __future__ import annotations

__all__ = ["PolicyChainError", "PolicyError", "PolicySignatureError", "PolicySyntaxError"]


class PolicyError(Exception):
    """Base class of every error of :mod:`policies`. ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicySyntaxError(PolicyError):
    """Raised when a document is not a well-formed policy; ``location`` names the field."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}" if location else reason)
        self.location = location
        self.reason = reason


class PolicySignatureError(PolicyError):
    """Raised when a signed document's signatures are missing, malformed or do not verify."""


class PolicyChainError(PolicyError):
    """Raised when a policy version does not follow the version in force."""
