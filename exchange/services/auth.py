"""API tokens and request authentication.

A token is 256 random bits, shown once and stored as its SHA-256. Because the
token itself carries the entropy, a fast hash is the right one (OpenTAXII's
scrypt on every request buys nothing but latency). Authentication always
hashes the presented token and makes one indexed lookup, then compares the
Basic username in constant time, so an unknown member id, a wrong token, a
revoked token and a disabled member all cost the same and answer the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets

from exchange.db.records import MemberRecord
from exchange.db.session import read_transaction
from exchange.errors import AuthenticationFailed
from exchange.services.hub import Hub

__all__ = ["authenticate", "hash_token", "new_token"]

_PREFIX = "tx_"

log = logging.getLogger(__name__)


def new_token() -> str:
    """Return a fresh random API token (shown once, never stored)."""
    return _PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the stored form of ``token``: its SHA-256, hex-encoded."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _credentials(header: str | None) -> tuple[str | None, str]:
    if not header:
        raise AuthenticationFailed()
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        raise AuthenticationFailed()
    scheme = scheme.lower()
    if scheme == "bearer":
        return None, value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthenticationFailed() from exc
        username, sep, password = decoded.partition(":")
        if not sep or not password:
            raise AuthenticationFailed()
        return username, password
    raise AuthenticationFailed()


def authenticate(hub: Hub, authorization: str | None) -> MemberRecord:
    """Return the active member that ``authorization`` (an HTTP header value) proves.

    Raises `AuthenticationFailed` for missing, malformed, unknown, revoked or
    mismatched credentials and for disabled members, with one message for all.
    """
    try:
        username, token = _credentials(authorization)
    except AuthenticationFailed:
        # The operator's log says why (never the header's content: it may hold a token).
        log.debug("authentication refused: no well-formed Basic or Bearer credentials")
        raise
    digest = hash_token(token)
    with read_transaction(hub.engine) as conn:
        member = hub.members.authenticate(conn, digest)
    expected = member.id if member is not None else "identity--" + "0" * 36
    name_ok = username is None or hmac.compare_digest(
        username.encode("utf-8", "surrogatepass"), expected.encode()
    )
    if member is None:
        log.debug("authentication refused: no active member holds the token presented")
        raise AuthenticationFailed()
    if not name_ok:
        log.debug("authentication refused: the token is not %s's", member.id)
        raise AuthenticationFailed()
    log.debug("authenticated %s", member.id)
    return member
