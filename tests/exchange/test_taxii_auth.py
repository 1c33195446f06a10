"""Authentication (TAXII 2.1 §1.6.9, §8.2.2; RFC 7235 for WWW-Authenticate)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import httpx
import pytest

from exchange.protocol.media import TAXII_21
from exchange.services import admin

if TYPE_CHECKING:
    from tests.exchange.conftest import World

PROTECTED = [
    "/taxii2/",
    "/taxii2/trends/",
    "/taxii2/trends/collections/",
    "/taxii2/trends/collections/reports/",
    "/taxii2/trends/collections/reports/manifest/",
    "/taxii2/trends/collections/reports/objects/",
    "/taxii2/trends/collections/reports/objects/indicator--252c7c11-daf2-42bd-843b-be65edca9f61/",
    "/taxii2/trends/status/2d086da7-4bdc-4f91-900e-d77486753710/",
    # Unknown API roots and hidden feeds answer 401 before anything is revealed.
    "/taxii2/nope/",
    "/taxii2/trends/collections/hidden/",
]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assert_401(w: World, response: httpx.Response) -> bytes:
    w.assert_error(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Basic realm=")
    assert "Bearer" in challenge
    return bytes(response.content)


@pytest.mark.parametrize("who", ["owner", "reader", "auditor"])
def test_bearer_and_basic_both_work(sqlite_world: World, who: str) -> None:
    w = sqlite_world
    bearer = w.get(w.url("collections/"), who=who)
    basic = w.client.get(
        w.url("collections/"), headers={"Accept": TAXII_21, "Authorization": w.basic(who)}
    )
    assert bearer.status_code == basic.status_code == 200
    assert bearer.content == basic.content


def test_scheme_names_are_case_insensitive(sqlite_world: World) -> None:
    w = sqlite_world
    for value in (f"bearer {w.tokens['owner']}", f"BEARER {w.tokens['owner']}"):
        response = w.client.get("/taxii2/", headers={"Accept": TAXII_21, "Authorization": value})
        assert response.status_code == 200
    basic = w.basic("owner").replace("Basic", "basic")
    response = w.client.get("/taxii2/", headers={"Accept": TAXII_21, "Authorization": basic})
    assert response.status_code == 200


def test_no_credentials_is_401_on_every_endpoint(sqlite_world: World) -> None:
    w = sqlite_world
    for url in PROTECTED:
        _assert_401(w, w.get(url, who=None))
    response = w.client.post(
        w.objects_url(),
        json={"objects": []},
        headers={"Accept": TAXII_21, "Content-Type": TAXII_21},
    )
    _assert_401(w, response)
    response = w.client.delete(PROTECTED[6], headers={"Accept": TAXII_21})
    _assert_401(w, response)


def test_bad_credentials_all_answer_the_same(sqlite_world: World) -> None:
    """Wrong token, unknown member, malformed header: one 401, byte for byte."""
    w = sqlite_world
    owner_id = w.members["owner"].id
    token = w.tokens["owner"]
    values = [
        f"Bearer {token}x",
        "Bearer tx_not-a-token",
        "Bearer",
        "Bearer   ",
        "Token " + token,
        token,
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        _basic(owner_id, ""),
        _basic(owner_id, token + "x"),
        _basic("identity--00000000-0000-4000-8000-000000000000", token),
        _basic("owner", token),  # the name is not the member id
        _basic(w.members["reader"].id, token),  # a valid token under another member's id
        _basic("", token),
    ]
    bodies = set()
    for value in values:
        response = w.client.get("/taxii2/", headers={"Accept": TAXII_21, "Authorization": value})
        bodies.add(_assert_401(w, response))
    bodies.add(_assert_401(w, w.get("/taxii2/", who=None)))
    assert len(bodies) == 1


def test_basic_with_another_members_id_is_401_everywhere(sqlite_world: World) -> None:
    w = sqlite_world
    value = _basic(w.members["reader"].id, w.tokens["owner"])
    for url in PROTECTED:
        response = w.client.get(url, headers={"Accept": TAXII_21, "Authorization": value})
        _assert_401(w, response)


def test_revoked_tokens_stop_working(sqlite_world: World) -> None:
    w = sqlite_world
    assert w.get("/taxii2/", who="reader").status_code == 200
    _, count = admin.revoke_tokens(w.hub, "reader")
    assert count == 1
    _assert_401(w, w.get("/taxii2/", who="reader"))
    basic = w.client.get(
        "/taxii2/", headers={"Accept": TAXII_21, "Authorization": w.basic("reader")}
    )
    _assert_401(w, basic)
    # A newly issued token works; the others' tokens were never affected.
    _, fresh = admin.issue_token(w.hub, "reader")
    response = w.client.get(
        "/taxii2/", headers={"Accept": TAXII_21, "Authorization": f"Bearer {fresh}"}
    )
    assert response.status_code == 200
    assert w.get("/taxii2/", who="owner").status_code == 200


def test_disabled_members_are_refused(sqlite_world: World) -> None:
    w = sqlite_world
    assert w.get(w.objects_url(), who="reader").status_code == 200
    admin.disable_member(w.hub, "reader")
    _assert_401(w, w.get(w.objects_url(), who="reader"))
    basic = w.client.get(
        w.objects_url(), headers={"Accept": TAXII_21, "Authorization": w.basic("reader")}
    )
    _assert_401(w, basic)
    # Even a token issued after disabling does not work.
    _, fresh = admin.issue_token(w.hub, "reader")
    response = w.client.get(
        "/taxii2/", headers={"Accept": TAXII_21, "Authorization": f"Bearer {fresh}"}
    )
    _assert_401(w, response)


def test_authentication_precedes_negotiation(sqlite_world: World) -> None:
    """An anonymous caller learns nothing, not even which media types an endpoint takes."""
    w = sqlite_world
    _assert_401(w, w.get("/taxii2/", who=None, Accept="text/html"))
