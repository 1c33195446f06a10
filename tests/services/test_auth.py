"""Authentication: one answer and one code path for every kind of bad credential."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from sqlalchemy import Connection

from exchange.db.members import MemberStore
from exchange.db.records import MemberKind, MemberRecord
from exchange.errors import AuthenticationFailed
from exchange.services import admin
from exchange.services.auth import authenticate, hash_token, new_token
from exchange.services.hub import Hub


class CountingStore:
    """Wraps a member store and counts token lookups."""

    def __init__(self, inner: MemberStore) -> None:
        self.inner = inner
        self.lookups: list[str] = []

    def authenticate(self, conn: Connection, token_hash: str) -> MemberRecord | None:
        self.lookups.append(token_hash)
        return self.inner.authenticate(conn, token_hash)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_tokens_are_random_and_hashed() -> None:
    token = new_token()
    assert token.startswith("tx_")
    assert len(token) > 40
    assert new_token() != token
    assert hash_token(token) != token
    assert len(hash_token(token)) == 64


def test_basic_and_bearer_authenticate(sqlite_hub: Hub) -> None:
    member, token = admin.add_member(sqlite_hub, "acme", MemberKind.INDUSTRY)
    assert authenticate(sqlite_hub, f"Bearer {token}") == member
    assert authenticate(sqlite_hub, _basic(member.id, token)) == member
    assert authenticate(sqlite_hub, f"bearer   {token} ") == member


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"user:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_malformed_headers_are_refused(sqlite_hub: Hub, header: str | None) -> None:
    with pytest.raises(AuthenticationFailed, match="Valid credentials are required"):
        authenticate(sqlite_hub, header)


def test_every_bad_credential_takes_the_same_path(sqlite_hub: Hub) -> None:
    """Unknown member, wrong token, another member's id, revoked, disabled: one lookup each."""
    acme, acme_token = admin.add_member(sqlite_hub, "acme", MemberKind.INDUSTRY)
    other, other_token = admin.add_member(sqlite_hub, "other", MemberKind.RESEARCH)
    _gone, gone_token = admin.add_member(sqlite_hub, "gone", MemberKind.RESEARCH)
    admin.revoke_tokens(sqlite_hub, "gone")
    _off, off_token = admin.add_member(sqlite_hub, "off", MemberKind.RESEARCH)
    admin.disable_member(sqlite_hub, "off")
    counting = CountingStore(sqlite_hub.members)
    hub = dataclasses.replace(sqlite_hub, members=counting)  # type: ignore[arg-type]
    attempts = [
        _basic("identity--00000000-0000-4000-8000-000000000000", acme_token),  # unknown id
        _basic(acme.id, "tx_wrong"),  # wrong token
        _basic(other.id, acme_token),  # someone else's token
        f"Bearer {gone_token}",  # revoked
        f"Bearer {off_token}",  # disabled
    ]
    for header in attempts:
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(hub, header)
        assert caught.value.message == AuthenticationFailed().message
    assert len(counting.lookups) == len(attempts)
    assert authenticate(hub, f"Bearer {other_token}") == other
