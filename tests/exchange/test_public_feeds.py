"""Anonymous reading of public feeds.

A request without credentials reads a feed only when the feed is public twice
over: the operator consented (``admin.set_public`` / ``exchange admin feed
public ALIAS --on``) and the owner's policy in force is a public TLP:CLEAR one.
Otherwise it gets the same 401 as for a feed that does not exist. Anonymous
callers never write or delete; bad credentials are never taken for none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from exchange.db.objects import PageKind
from exchange.db.records import ObjectQuery
from exchange.db.session import read_transaction
from exchange.errors import AuthenticationFailed
from exchange.protocol.media import TAXII_21
from exchange.services import admin
from exchange.services.access import Action
from exchange.services.queries import get_collection, read_page
from exchange.services.trust import latest_policy
from exchange.settings import get_settings
from policies import SignedPolicy, TlpLevel
from tests.policy_kit import install_policy

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

UNAUTHORIZED = {
    "title": "Unauthorized",
    "description": "Valid credentials are required: HTTP Basic (member id, token) or Bearer.",
    "http_status": "401",
}


def in_force(w: World, feed: str = "reports") -> SignedPolicy:
    """The newest stored policy version of ``feed``."""
    with read_transaction(w.hub.engine) as conn:
        record = w.hub.feeds.find(conn, feed)
        assert record is not None
        found = latest_policy(w.hub, conn, record)
    assert found is not None
    return found


def publish(w: World, template: str, valid_until: datetime | None = None) -> SignedPolicy:
    """Publish the next version of the reports policy from ``template`` (same members)."""
    assert w.owner_keys is not None
    return install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=[w.members["owner"], w.members["reader"]],
        writers=[w.members["owner"], w.members["writer"]],
        template=template,
        previous=in_force(w),
        # None is the normal form's "no end".
        valid_until=None if valid_until is None else valid_until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def urls(w: World, stix_id: str, feed: str = "reports") -> list[str]:
    """Every endpoint an anonymous caller may read on a public ``feed``."""
    return [
        w.url(f"collections/{feed}/"),
        w.objects_url(feed),
        w.manifest_url(feed),
        w.object_url(stix_id, feed),
        w.versions_url(stix_id, feed),
    ]


def assert_401(w: World, response: Any) -> None:
    """``response`` is the one 401 of the TAXII API, with its challenge."""
    assert w.assert_error(response, 401) == UNAUTHORIZED
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Basic realm=")
    assert "Bearer realm=" in challenge


def fill(w: World, stix: StixFactory) -> list[dict[str, Any]]:
    """Post three objects to 'reports' (the first in two versions); return them."""
    first = stix.indicator()
    objects = [
        first,
        stix.revise(first, "2026-02-01T00:00:00.000Z"),
        stix.note(),
        stix.indicator(),
    ]
    w.post_ok(objects)
    return objects


def open_to_all(w: World) -> None:
    """Make 'reports' public twice over: the owner's public policy, the operator's consent."""
    signed = publish(w, "public")
    assert signed.policy.public
    assert signed.policy.tlp_level is TlpLevel.CLEAR
    admin.set_public(w.hub, "reports", True)


@pytest.fixture
def content(sqlite_world: World, stix: StixFactory) -> tuple[World, list[dict[str, Any]]]:
    """The SQLite world with objects in 'reports' (see `fill`)."""
    return sqlite_world, fill(sqlite_world, stix)


@pytest.fixture
def public(content: tuple[World, list[dict[str, Any]]]) -> tuple[World, list[dict[str, Any]]]:
    """``content`` with 'reports' public twice over."""
    open_to_all(content[0])
    return content


def test_anonymous_reads_a_feed_public_twice_over(world: World, stix: StixFactory) -> None:
    w = world
    objects = fill(w, stix)
    open_to_all(w)
    stix_id = objects[0]["id"]
    for url in urls(w, stix_id):
        anonymous = w.get(url, who=None)
        assert anonymous.status_code == 200, (url, anonymous.text)
        assert anonymous.headers["content-type"] == TAXII_21
        assert "www-authenticate" not in anonymous.headers
        # The same answer a reader gets.
        assert anonymous.json() == w.get(url, who="reader").json()
    collection = w.get(w.url("collections/reports/"), who=None).json()
    assert (collection["id"], collection["can_read"], collection["can_write"]) == (
        w.feed_id,
        True,
        False,
    )
    page = w.get(w.objects_url(), who=None, params={"match[version]": "all"}).json()
    assert sorted(o["id"] + o["modified"] for o in page["objects"]) == sorted(
        o["id"] + o["modified"] for o in objects
    )
    versions = w.get(w.versions_url(stix_id), who=None).json()
    assert versions["versions"] == [objects[0]["modified"], objects[1]["modified"]]
    # By feed id as well as by alias.
    assert w.get(w.objects_url(w.feed_id), who=None).status_code == 200


@pytest.mark.parametrize(
    ("operator", "template"),
    [
        pytest.param(True, "community", id="operator-only"),
        pytest.param(False, "public", id="policy-only"),
        pytest.param(False, "community", id="neither"),
    ],
)
def test_one_consent_alone_opens_nothing(
    content: tuple[World, list[dict[str, Any]]], operator: bool, template: str
) -> None:
    w, objects = content
    publish(w, template)
    admin.set_public(w.hub, "reports", operator)
    stix_id = objects[0]["id"]
    for url, absent in zip(urls(w, stix_id), urls(w, stix_id, feed="no-such-feed"), strict=True):
        response = w.get(url, who=None)
        assert_401(w, response)
        assert response.content == w.get(absent, who=None).content
    # Members are unaffected.
    assert w.get(w.objects_url(), who="reader").status_code == 200


def test_a_hidden_feed_answers_anonymous_as_an_absent_one(
    public: tuple[World, list[dict[str, Any]]],
) -> None:
    w, objects = public
    stix_id = objects[0]["id"]
    for url, absent in zip(
        urls(w, stix_id, feed="hidden"), urls(w, stix_id, feed="no-such-feed"), strict=True
    ):
        response = w.get(url, who=None)
        assert_401(w, response)
        assert response.content == w.get(absent, who=None).content


def test_withdrawing_either_consent_closes_the_feed(
    public: tuple[World, list[dict[str, Any]]],
) -> None:
    w, objects = public
    assert w.get(w.objects_url(), who=None).status_code == 200
    admin.set_public(w.hub, "reports", False)
    assert_401(w, w.get(w.objects_url(), who=None))
    admin.set_public(w.hub, "reports", True)
    assert w.get(w.objects_url(), who=None).status_code == 200
    # The owner's next version is not public: the operator's consent alone opens nothing.
    publish(w, "community")
    for url in urls(w, objects[0]["id"]):
        assert_401(w, w.get(url, who=None))


def test_anonymous_never_writes_nor_deletes(
    public: tuple[World, list[dict[str, Any]]], stix: StixFactory
) -> None:
    w, objects = public
    before = w.get(w.objects_url(), who="reader", params={"match[version]": "all"}).json()
    response = w.client.post(
        w.objects_url(),
        json={"objects": [stix.indicator()]},
        headers={"Accept": TAXII_21, "Content-Type": TAXII_21},
    )
    assert_401(w, response)
    response = w.client.delete(w.object_url(objects[0]["id"]), headers={"Accept": TAXII_21})
    assert_401(w, response)
    after = w.get(w.objects_url(), who="reader", params={"match[version]": "all"}).json()
    assert after == before


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer tx_not-a-token", id="unknown-bearer"),
        pytest.param("Bearer ", id="empty-bearer"),
        pytest.param("Basic bm90LWJhc2U2NA==", id="basic-without-colon"),
        pytest.param("Digest abc", id="other-scheme"),
        pytest.param("", id="empty-header"),
    ],
)
def test_bad_credentials_on_a_public_feed_are_401(
    public: tuple[World, list[dict[str, Any]]], authorization: str
) -> None:
    w, objects = public
    for url in urls(w, objects[0]["id"]):
        response = w.client.get(url, headers={"Accept": TAXII_21, "Authorization": authorization})
        assert_401(w, response)


def test_a_revoked_token_on_a_public_feed_is_401(
    public: tuple[World, list[dict[str, Any]]],
) -> None:
    w, _ = public
    admin.revoke_tokens(w.hub, "reader")
    assert_401(w, w.get(w.objects_url(), who="reader"))
    assert w.get(w.objects_url(), who=None).status_code == 200


def test_anonymous_reaches_nothing_but_public_feeds(
    public: tuple[World, list[dict[str, Any]]],
) -> None:
    w, _ = public
    for url in [
        "/taxii2/",
        w.url(),
        w.url("collections/"),
        w.url("status/2d086da7-4bdc-4f91-900e-d77486753710/"),
    ]:
        assert_401(w, w.get(url, who=None))
    for url in [
        "/exchange/v1/whoami",
        "/exchange/v1/feeds/reports/policy",
        "/exchange/v1/feeds/reports/policy/versions",
        f"/exchange/v1/members/{w.members['owner'].id}/keys",
    ]:
        response = w.client.get(url)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


def test_next_tokens_belong_to_their_caller(public: tuple[World, list[dict[str, Any]]]) -> None:
    w, objects = public
    first = w.get(w.objects_url(), who=None, params={"limit": "1"})
    assert first.status_code == 200
    anonymous_next = first.json()["next"]
    ids = [first.json()["objects"][0]["id"]]
    token = anonymous_next
    while token is not None:
        page = w.get(w.objects_url(), who=None, params={"limit": "1", "next": token})
        assert page.status_code == 200, page.text
        ids += [o["id"] for o in page.json().get("objects", [])]
        token = page.json().get("next")
    assert sorted(ids) == sorted({o["id"] for o in objects})
    member_next = w.get(w.objects_url(), who="reader", params={"limit": "1"}).json()["next"]
    refused = "Invalid query parameter next: not a token this server issued for this query"
    for who, token in (("reader", anonymous_next), (None, member_next)):
        response = w.get(w.objects_url(), who=who, params={"limit": "1", "next": token})
        body = w.assert_error(response, 400)
        assert body["description"].startswith(refused)


def test_anonymous_reading_follows_the_policy_window(
    public: tuple[World, list[dict[str, Any]]],
) -> None:
    w, _ = public
    now = datetime.now(UTC).replace(microsecond=0)
    until = now + timedelta(seconds=30)
    publish(w, "public", valid_until=until)
    access = get_collection(w.hub, None, "reports", Action.READ, now=now)
    assert (access.can_read, access.can_write) == (True, False)
    with pytest.raises(AuthenticationFailed, match=r"Valid credentials are required"):
        get_collection(w.hub, None, "reports", Action.READ, now=until)
    with pytest.raises(AuthenticationFailed, match=r"Valid credentials are required"):
        read_page(
            w.hub,
            None,
            "reports",
            ObjectQuery(),
            kind=PageKind.OBJECTS,
            after=None,
            limit=10,
            now=until + timedelta(days=1),
        )
    with pytest.raises(AuthenticationFailed, match=r"Valid credentials are required"):
        get_collection(w.hub, None, "reports", Action.WRITE, now=now)


@pytest.fixture
def cli_env(sqlite_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """``sqlite_world`` with the ``exchange`` CLI pointed at its database."""
    for name in [n for n in os.environ if n.startswith("EXCHANGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EXCHANGE_HOME", str(sqlite_world.hub.settings.home))
    get_settings.cache_clear()
    yield sqlite_world
    get_settings.cache_clear()


def test_the_operator_cli_opens_and_closes_a_public_feed(cli_env: World, stix: StixFactory) -> None:
    w = cli_env
    w.post_ok([stix.indicator()])
    publish(w, "public")
    assert_401(w, w.get(w.objects_url(), who=None))
    runner = CliRunner()
    result = runner.invoke(app, ["admin", "feed", "public", "reports", "--on", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["public"] is True
    assert len(w.get(w.objects_url(), who=None).json()["objects"]) == 1
    result = runner.invoke(app, ["admin", "feed", "public", "reports", "--off"])
    assert result.exit_code == 0, result.output
    assert "reports is not public" in result.stdout
    assert_401(w, w.get(w.objects_url(), who=None))
    result = runner.invoke(app, ["admin", "feed", "public", "no-such-feed", "--on"])
    assert result.exit_code != 0
    assert "No such collection" in result.stderr
