"""TLS for ``exchange serve`` (TAXII 2.1 §8.2.2).

TLS 1.2 at least (1.3 preferred by the handshake), and for TLS 1.2 only
ephemeral-key AEAD suites, none of those RFC 7540 Appendix A blacklists.
Python's ``ssl`` never accepts TLS 1.3 0-RTT data on a server.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

__all__ = ["TLS12_CIPHERS", "harden"]

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"


def harden(_config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """Return uvicorn's TLS context with our floor and suites (an ``ssl_context_factory``)."""
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context
