"""Errors of the hub. They carry fields, never HTTP codes: only
``exchange/api/errors.py`` maps them to TAXII error resources.

::

    ExchangeError
    ├── AuthenticationFailed       no, malformed, unknown, revoked or disabled credentials
    ├── NotFound                   absent, or present but hidden from the caller
    │   ├── ApiRootNotFound
    │   ├── CollectionNotFound
    │   ├── ObjectNotFound
    │   ├── StatusNotFound
    │   ├── PolicyNotFound
    │   ├── KeysNotFound
    │   └── MemberNotFound
    ├── PermissionDenied           the caller sees the resource but may not do this
    ├── NotAcceptable              Accept names no media type the endpoint serves
    ├── UnsupportedMediaType       the request body's Content-Type is not TAXII 2.1
    ├── PayloadTooLarge            the body exceeds max_content_length
    ├── TooManyRequests            the caller is over its request rate or requests in flight
    ├── InvalidParameter           a malformed URL query parameter
    ├── UnprocessableContent       a body that parses but is not an acceptable envelope
    ├── MalformedBody              a body that is not JSON
    ├── InvalidDocument            a key bundle or policy that fails a check (form, signature,
    │                              feed, owner, validity window); ``reason`` says which
    └── Conflict                   a change that clashes with existing state (a taken name,
                                   a stale or forked version)
"""

from __future__ import annotations

__all__ = [
    "ApiRootNotFound",
    "AuthenticationFailed",
    "CheckpointNotFound",
    "CollectionNotFound",
    "Conflict",
    "ExchangeError",
    "InvalidDocument",
    "InvalidParameter",
    "KeysNotFound",
    "MalformedBody",
    "MemberNotFound",
    "NotAcceptable",
    "NotFound",
    "ObjectNotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PolicyNotFound",
    "StatusNotFound",
    "TooManyRequests",
    "UnprocessableContent",
    "UnsupportedMediaType",
]


class ExchangeError(Exception):
    """Base class of every hub error. ``message`` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthenticationFailed(ExchangeError):
    """Raised when a request carries no valid credentials for an active member.

    One message for every cause, so that a caller cannot tell an unknown member
    from a revoked token or a disabled member.
    """

    def __init__(self) -> None:
        super().__init__("Valid credentials are required: HTTP Basic (member id, token) or Bearer.")


class NotFound(ExchangeError):
    """Raised when a resource is absent or the caller may not know it exists."""


class ApiRootNotFound(NotFound):
    """Raised for an API root that the hub does not serve."""

    def __init__(self) -> None:
        super().__init__("No such API root.")


class CollectionNotFound(NotFound):
    """Raised for a collection that does not exist or that the caller has no grant on."""

    def __init__(self) -> None:
        super().__init__("No such collection.")


class ObjectNotFound(NotFound):
    """Raised for an object id (or id and version) not in the collection."""

    def __init__(self) -> None:
        super().__init__("No such object in this collection.")


class StatusNotFound(NotFound):
    """Raised for a status id that does not exist or belongs to another member."""

    def __init__(self) -> None:
        super().__init__("No such status resource.")


class PolicyNotFound(NotFound):
    """Raised for a feed with no policy version (or not the one asked for)."""

    def __init__(self) -> None:
        super().__init__("This feed has no such sharing policy version.")


class KeysNotFound(NotFound):
    """Raised for a member id with no registered key bundle (absent or not, alike)."""

    def __init__(self, member: str) -> None:
        super().__init__(f"No key bundles are registered for {member}.")
        self.member = member


class CheckpointNotFound(NotFound):
    """Raised for a log with no checkpoint yet, or none of the size asked for."""

    def __init__(self) -> None:
        super().__init__("No such checkpoint.")


class MemberNotFound(NotFound):
    """Raised by operator commands for a member id or name that does not exist."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No member with id or name {ref!r}.")
        self.ref = ref


class PermissionDenied(ExchangeError):
    """Raised when the caller sees a resource but lacks the right for ``action``."""

    def __init__(self, action: str, reason: str | None = None) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(f"You may not {action}{why}.")
        self.action = action
        self.reason = reason


class NotAcceptable(ExchangeError):
    """Raised when the ``Accept`` header admits no media type the endpoint serves."""

    def __init__(self, offered: str) -> None:
        super().__init__(
            f"This endpoint serves {offered}; send it (or application/taxii+json) in Accept."
        )
        self.offered = offered


class UnsupportedMediaType(ExchangeError):
    """Raised when a POST body's ``Content-Type`` is not the TAXII 2.1 media type."""

    def __init__(self, received: str | None) -> None:
        super().__init__(
            "POST bodies must be sent as application/taxii+json;version=2.1"
            f" (received {received or 'no Content-Type'})."
        )
        self.received = received


class PayloadTooLarge(ExchangeError):
    """Raised when a body is longer than the API root's ``max_content_length``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body exceeds max_content_length ({limit} octets).")
        self.limit = limit


class TooManyRequests(ExchangeError):
    """Raised when a caller is over its request rate or its requests in flight;
    ``retry_after`` is the whole number of seconds (at least 1) before it may try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidParameter(ExchangeError):
    """Raised for a malformed URL query parameter; ``parameter`` names it."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"Invalid query parameter {parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


class UnprocessableContent(ExchangeError):
    """Raised for a JSON body that is not an acceptable TAXII envelope."""


class MalformedBody(ExchangeError):
    """Raised for a request body that is not valid JSON."""


class InvalidDocument(ExchangeError):
    """Raised when an uploaded key bundle or policy fails a check; ``what`` names the document."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"The {what} was refused: {reason}.")
        self.what = what
        self.reason = reason


class Conflict(ExchangeError):
    """Raised when an operator action clashes with existing state (say, a taken alias)."""
