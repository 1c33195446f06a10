"""Errors of the published protocol.

::

    ProtocolError
    ├── MalformedPayload     bytes or text that do not parse into a wire model
    └── ProofError           a Merkle proof or tree head that does not verify
"""

from __future__ import annotations

__all__ = ["MalformedPayload", "ProofError", "ProtocolError"]


class ProtocolError(Exception):
    """Base class of every error raised by :mod:`exchange.protocol`."""


class MalformedPayload(ProtocolError):
    """Raised when a wire value (timestamp, media type, document) does not parse.

    ``field`` names what was being parsed; ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ProofError(ProtocolError):
    """Raised when a Merkle inclusion/consistency proof or a tree head fails to verify."""
