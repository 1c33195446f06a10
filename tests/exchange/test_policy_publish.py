"""Publishing feeds' sharing policies, and how the hub enforces the policy in force.

Only the feed's owner publishes, signed by its current registered keys, as
the next version naming the digest of the version in force, inside its
validity window; every refusal names what failed and leaves the version in
force in force. Every version is kept. Effective access is the operator's
grant AND the policy: neither alone, nor an operator editing the database,
opens a feed to anyone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, update

from exchange.db import tables
from exchange.db.objects import PageKind
from exchange.db.records import MemberRecord, ObjectQuery
from exchange.db.session import read_transaction, write_transaction
from exchange.errors import (
    CollectionNotFound,
    Conflict,
    InvalidDocument,
    PermissionDenied,
)
from exchange.protocol.timestamps import datetime_to_micros
from exchange.services import admin
from exchange.services.access import Action, authorize
from exchange.services.directory import current_bundle
from exchange.services.ingest import add_objects
from exchange.services.policy import publish_policy
from exchange.services.queries import get_collection, read_page
from exchange.services.trust import latest_policy
from feeds.crypto.keys import MemberSecrets, build_key_bundle
from policies import (
    PolicySignatureError,
    SignedPolicy,
    parse_signed_policy,
    verify_policy,
)
from tests.policy_kit import (
    assert_exchange_error,
    draft_policy,
    install_policy,
    rotate_keys,
    signed_policy,
)

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World


def policy_url(feed: str = "reports", suffix: str = "") -> str:
    """The policy endpoint of ``feed`` (``suffix``: ``/versions``, ``/versions/2``)."""
    return f"/exchange/v1/feeds/{feed}/policy{suffix}"


def call(
    w: World, method: str, url: str, who: str | None, body: dict[str, Any] | bytes | None = None
) -> httpx.Response:
    """Send ``method url`` as ``who`` (None: anonymous) with a JSON ``body``."""
    headers = {} if who is None else {"Authorization": f"Bearer {w.tokens[who]}"}
    content = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
    if content is not None:
        headers["Content-Type"] = "application/json"
    response = w.client.request(method, url, content=content, headers=headers)
    assert isinstance(response, httpx.Response)
    return response


def post_policy(
    w: World, document: dict[str, Any] | bytes, who: str = "owner", feed: str = "reports"
) -> httpx.Response:
    """POST a signed policy to ``feed``."""
    return call(w, "POST", policy_url(feed), who, document)


def in_force(w: World, feed: str = "reports") -> SignedPolicy:
    """The newest stored policy version of ``feed``."""
    with read_transaction(w.hub.engine) as conn:
        record = w.hub.feeds.find(conn, feed)
        assert record is not None
        found = latest_policy(w.hub, conn, record)
    assert found is not None
    return found


def members(w: World, *names: str) -> list[MemberRecord]:
    """The members called ``names``."""
    return [w.members[n] for n in names]


def next_draft(w: World, feed: str = "reports", **changes: Any) -> dict[str, Any]:
    """The next version of ``feed``'s policy (readers owner+reader, writers owner+writer)."""
    assert w.owner_keys is not None
    return draft_policy(
        w.hub,
        feed,
        w.owner_keys,
        readers=members(w, "owner", "reader"),
        writers=members(w, "owner", "writer"),
        previous=in_force(w, feed),
        **changes,
    )


def owner_signed(w: World, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` signed by the owner's current keys."""
    assert w.owner_keys is not None
    return signed_policy(document, w.owner_keys.secrets)


def second_precision(moment: datetime) -> str:
    """``moment`` as a policy's normal form writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot(w: World, feed: str = "reports") -> tuple[Any, Any]:
    """What the owner sees of ``feed``'s policy: the newest version and the version list."""
    newest = call(w, "GET", policy_url(feed), "owner")
    versions = call(w, "GET", policy_url(feed, "/versions"), "owner")
    assert newest.status_code == versions.status_code == 200
    return newest.json(), versions.json()


def assert_reads_follow_v1(w: World) -> None:
    """The world's first policy is still enforced: reader reads, writer writes, outsider nothing."""
    assert w.get(w.objects_url(), who="reader").status_code == 200
    assert w.get(w.objects_url(), who="outsider").status_code == 404
    assert w.get(w.objects_url(), who="writer").status_code == 403


# Publishing and keeping every version


def test_owner_publishes_versions_and_every_one_is_kept(world: World) -> None:
    w = world
    v1 = in_force(w)
    published = [v1.to_json()]
    for days in (30, 60):
        document = owner_signed(w, next_draft(w, retention_days=days))
        response = post_policy(w, document)
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        signed = parse_signed_policy(document)
        assert response.json() == {
            "feed": w.feed_id,
            "version": signed.policy.version,
            "digest": signed.digest,
        }
        published.append(document)
    assert w.owner_keys is not None
    owner_keys = w.owner_keys.secrets.signing_keys()
    # By alias and by id, for the owner and for a member with a grant.
    for feed in ("reports", w.feed_id):
        for who in ("owner", "reader", "writer"):
            newest = call(w, "GET", policy_url(feed), who)
            assert newest.status_code == 200, newest.text
            assert newest.json() == published[-1]
            listing = call(w, "GET", policy_url(feed, "/versions"), who)
            assert listing.status_code == 200
            assert listing.json() == {
                "versions": [
                    {"version": n, "digest": parse_signed_policy(d).digest}
                    for n, d in enumerate(published, start=1)
                ]
            }
            for number, document in enumerate(published, start=1):
                one = call(w, "GET", policy_url(feed, f"/versions/{number}"), who)
                assert one.status_code == 200
                assert one.json() == document
                # Exactly as signed: it still verifies with the owner's keys.
                verify_policy(parse_signed_policy(one.content), owner_keys)
    missing = call(w, "GET", policy_url("reports", "/versions/4"), "reader")
    assert_exchange_error(missing, 404, "no such sharing policy version")
    # The newest version is the one in force.
    assert w.get(w.url("collections/reports/"), who="reader").status_code == 200
    with read_transaction(w.hub.engine) as conn:
        assert len(w.hub.policies.all(conn, w.feed_id)) == 3


def test_versions_chain_by_digest(sqlite_world: World) -> None:
    w = sqlite_world
    v1 = in_force(w)
    assert post_policy(w, owner_signed(w, next_draft(w))).status_code == 201
    v2 = in_force(w)
    assert (v2.policy.version, v2.policy.previous) == (2, v1.digest)
    assert v1.policy.previous is None


# Who may publish and fetch


def test_a_member_with_a_grant_who_is_not_the_owner_gets_403(sqlite_world: World) -> None:
    w = sqlite_world
    before = snapshot(w)
    document = owner_signed(w, next_draft(w))
    for who in ("reader", "writer"):
        response = post_policy(w, document, who=who)
        body = assert_exchange_error(
            response, 403, "You may not publish this feed's policy (only its owner may)"
        )
        assert body["title"] == "Forbidden"
    assert snapshot(w) == before


def test_a_member_without_a_grant_sees_the_policy_as_absent(sqlite_world: World) -> None:
    w = sqlite_world
    before = snapshot(w)
    document = owner_signed(w, next_draft(w))
    for method, suffix, body in [
        ("POST", "", document),
        ("GET", "", None),
        ("GET", "/versions", None),
        ("GET", "/versions/1", None),
    ]:
        hidden = call(w, method, policy_url("reports", suffix), "outsider", body)
        absent = call(w, method, policy_url("no-such-feed", suffix), "outsider", body)
        assert_exchange_error(hidden, 404, "No such collection.")
        assert hidden.content == absent.content
        # The owner's other feed, on which even the reader has no grant.
        other = call(w, method, policy_url("hidden", suffix), "reader", body)
        assert other.content == absent.content
    assert snapshot(w) == before


def test_unauthenticated_policy_requests_get_401(sqlite_world: World) -> None:
    w = sqlite_world
    document = owner_signed(w, next_draft(w))
    for method, suffix, body in [
        ("POST", "", document),
        ("GET", "", None),
        ("GET", "/versions", None),
        ("GET", "/versions/1", None),
    ]:
        response = call(w, method, policy_url("reports", suffix), None, body)
        assert_exchange_error(response, 401, "Valid credentials are required")
    assert in_force(w).policy.version == 1


# Refusals: the version in force stays in force


def _signed_by_reader(w: World) -> dict[str, Any]:
    reader = MemberSecrets.generate()
    bundle = build_key_bundle(
        reader, member=w.members["reader"].id, sequence=1, previous=None, endorser=None
    )
    w.client.post(
        f"/exchange/v1/members/{w.members['reader'].id}/keys",
        content=orjson.dumps(bundle.model_dump(mode="json")),
        headers={"Authorization": f"Bearer {w.tokens['reader']}"},
    ).raise_for_status()
    return signed_policy(next_draft(w), reader)


def _signed_by_old_keys(w: World) -> dict[str, Any]:
    assert w.owner_keys is not None
    old = rotate_keys(w.hub, w.owner_keys)
    return signed_policy(next_draft(w), old)


def _tampered_byte(w: World) -> bytes:
    body = orjson.dumps(owner_signed(w, next_draft(w)))
    tampered = body.replace(b'"retention_days":365', b'"retention_days":366', 1)
    assert tampered != body
    return tampered


def _flipped_signature(w: World) -> dict[str, Any]:
    document = owner_signed(w, next_draft(w))
    ed, ml = document["signatures"]
    raw = bytearray(base64.b64decode(ml["value"]))
    raw[0] ^= 0x80
    return {**document, "signatures": [ed, {**ml, "value": base64.b64encode(raw).decode()}]}


def _unknown_field(w: World) -> dict[str, Any]:
    return owner_signed(w, next_draft(w, comment="readers may share with friends"))


def _not_normal_form(w: World) -> dict[str, Any]:
    draft = next_draft(w)
    draft["valid_from"] = draft["valid_from"].replace("Z", "+00:00")
    return owner_signed(w, draft)


def _one_signature(w: World) -> dict[str, Any]:
    document = owner_signed(w, next_draft(w))
    return {**document, "signatures": document["signatures"][:1]}


def _another_feed(w: World) -> dict[str, Any]:
    return owner_signed(w, next_draft(w, feed=in_force(w, "hidden").policy.feed))


def _another_owner(w: World) -> dict[str, Any]:
    draft = next_draft(w)
    draft["owner"] = w.members["reader"].id
    return owner_signed(w, draft)


def _ended(w: World) -> dict[str, Any]:
    now = datetime.now(UTC)
    return owner_signed(
        w,
        next_draft(
            w, valid_from=now - timedelta(days=2), valid_until=second_precision(now - timedelta(1))
        ),
    )


def _far_future(w: World) -> dict[str, Any]:
    return owner_signed(w, next_draft(w, valid_from=datetime.now(UTC) + timedelta(days=1)))


def _not_json(w: World) -> bytes:
    return orjson.dumps(owner_signed(w, next_draft(w)))[:-1]


def _replay_v1(w: World) -> dict[str, Any]:
    return in_force(w).to_json()


def _skipped_version(w: World) -> dict[str, Any]:
    return owner_signed(w, next_draft(w, version=3))


def _fork(w: World) -> dict[str, Any]:
    rival = next_draft(w, retention_days=7)
    draft = next_draft(w)
    draft["previous"] = parse_signed_policy(owner_signed(w, rival)).digest
    return owner_signed(w, draft)


REFUSALS = [
    pytest.param(
        _signed_by_reader,
        422,
        "The policy was refused: signature check failed: it is not signed by the owner's"
        " registered keys.",
        id="signed-by-reader",
    ),
    pytest.param(
        _signed_by_old_keys,
        422,
        "The policy was refused: signature check failed: it is not signed by the owner's"
        " registered keys.",
        id="old-keys-after-rotation",
    ),
    pytest.param(
        _tampered_byte,
        422,
        "The policy was refused: signature check failed: the ed25519 signature does not verify.",
        id="tampered-byte",
    ),
    pytest.param(
        _flipped_signature,
        422,
        "signature check failed: the ml-dsa-65 signature does not verify.",
        id="flipped-signature",
    ),
    pytest.param(
        _one_signature,
        422,
        "signature check failed: it is not signed by the owner's registered keys.",
        id="one-signature",
    ),
    pytest.param(
        _unknown_field,
        422,
        "The policy was refused: comment: Extra inputs are not permitted.",
        id="unknown-field",
    ),
    pytest.param(_not_normal_form, 422, "is not in normal form", id="not-normal-form"),
    pytest.param(_not_json, 422, "the document is not valid JSON", id="not-json"),
    pytest.param(
        _another_feed, 422, "The policy was refused: it is for another feed.", id="another-feed"
    ),
    pytest.param(
        _another_owner,
        422,
        "The policy was refused: it names another owner.",
        id="another-owner",
    ),
    pytest.param(_ended, 422, "The policy was refused: its validity window has ended.", id="ended"),
    pytest.param(
        _far_future,
        422,
        "The policy was refused: its validity window has not started.",
        id="far-future",
    ),
    pytest.param(
        _replay_v1,
        409,
        "The policy was refused: expected version 2 (the version in force is 1), got 1.",
        id="replay-v1",
    ),
    pytest.param(
        _skipped_version,
        409,
        "The policy was refused: expected version 2 (the version in force is 1), got 3.",
        id="skipped-v3",
    ),
    pytest.param(
        _fork,
        409,
        "The policy was refused: previous does not name the digest of the version in force"
        " (a fork).",
        id="fork",
    ),
]


@pytest.mark.parametrize(("make", "status", "description"), REFUSALS)
def test_refused_policies_leave_the_version_in_force(
    sqlite_world: World, make: Any, status: int, description: str
) -> None:
    w = sqlite_world
    before = snapshot(w)
    body = make(w)
    response = post_policy(w, body)
    assert_exchange_error(response, status, description)
    assert response.json()["title"] == ("Conflict" if status == 409 else "Unprocessable Content")
    assert snapshot(w) == before
    assert before[1] == {"versions": [{"version": 1, "digest": in_force(w).digest}]}
    assert_reads_follow_v1(w)


def test_refusals_store_nothing(world: World) -> None:
    """On each backend: a run of refusals, then the next version still goes in as v2."""
    w = world
    before = snapshot(w)
    refusals: list[tuple[Callable[[World], dict[str, Any] | bytes], int]] = [
        (_replay_v1, 409),
        (_skipped_version, 409),
        (_fork, 409),
        (_tampered_byte, 422),
        (_ended, 422),
        (_signed_by_old_keys, 422),
    ]
    for make, status in refusals:
        response = post_policy(w, make(w))
        assert response.status_code == status, response.text
        assert snapshot(w) == before
    with read_transaction(w.hub.engine) as conn:
        assert [v.number for v in w.hub.policies.all(conn, w.feed_id)] == [1]
    assert_reads_follow_v1(w)
    response = post_policy(w, owner_signed(w, next_draft(w)))
    assert response.status_code == 201, response.text
    assert call(w, "GET", policy_url(suffix="/versions"), "reader").json()["versions"][1] == {
        "version": 2,
        "digest": response.json()["digest"],
    }


def test_refusals_raise_at_the_service(sqlite_world: World) -> None:
    w = sqlite_world
    owner = w.members["owner"]
    now = datetime.now(UTC)
    replay = orjson.dumps(in_force(w).to_json())
    with pytest.raises(Conflict, match=r"expected version 2 \(the version in force is 1\)"):
        publish_policy(w.hub, owner, "reports", replay, now=now)
    good = orjson.dumps(owner_signed(w, next_draft(w)))
    with pytest.raises(PermissionDenied, match=r"only its owner may"):
        publish_policy(w.hub, w.members["reader"], "reports", good, now=now)
    with pytest.raises(CollectionNotFound, match=r"No such collection"):
        publish_policy(w.hub, w.members["outsider"], "reports", good, now=now)
    # The same document, evaluated a day after its window ended.
    ending = owner_signed(w, next_draft(w, valid_until=second_precision(now + timedelta(hours=1))))
    with pytest.raises(InvalidDocument, match=r"its validity window has ended"):
        publish_policy(w.hub, owner, "reports", orjson.dumps(ending), now=now + timedelta(days=1))
    assert in_force(w).policy.version == 1
    assert publish_policy(w.hub, owner, "reports", good, now=now).policy.version == 2


def test_new_keys_after_a_rotation_publish_and_old_versions_stay_valid(world: World) -> None:
    w = world
    assert w.owner_keys is not None
    rotate_keys(w.hub, w.owner_keys)
    # v1, signed by the keys now replaced, is still in force.
    assert_reads_follow_v1(w)
    response = post_policy(w, owner_signed(w, next_draft(w, retention_days=90)))
    assert response.status_code == 201, response.text
    assert in_force(w).policy.retention_days == 90
    assert_reads_follow_v1(w)


def test_keys_the_owner_never_endorsed_sign_nothing(sqlite_world: World) -> None:
    """A bundle the owner did not endorse is not registered, so it signs nothing."""
    w = sqlite_world
    assert w.owner_keys is not None
    intruder = MemberSecrets.generate()
    with read_transaction(w.hub.engine) as conn:
        current = current_bundle(w.hub, conn, w.members["owner"].id)
    assert current is not None
    bundle = build_key_bundle(
        intruder,
        member=w.members["owner"].id,
        sequence=2,
        previous=current,
        endorser=intruder,
    )
    refused = w.client.post(
        f"/exchange/v1/members/{w.members['owner'].id}/keys",
        content=orjson.dumps(bundle.model_dump(mode="json")),
        headers={"Authorization": f"Bearer {w.tokens['owner']}"},
    )
    assert_exchange_error(refused, 422, "is by another key")
    response = post_policy(w, signed_policy(next_draft(w), intruder))
    assert_exchange_error(response, 422, "not signed by the owner's registered keys")
    assert in_force(w).policy.version == 1


# Enforcement: grant AND policy


def test_a_reader_named_only_in_the_policy_sees_nothing(sqlite_world: World) -> None:
    w = sqlite_world
    assert w.owner_keys is not None
    install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner", "reader", "outsider"),
        writers=members(w, "owner", "writer", "outsider"),
        previous=in_force(w),
    )
    for url in (
        w.url("collections/reports/"),
        w.objects_url(),
        w.manifest_url(),
    ):
        w.assert_error(w.get(url, who="outsider"), 404)
    w.assert_error(w.post([], who="outsider"), 404)
    response = call(w, "GET", policy_url(), "outsider")
    assert_exchange_error(response, 404, "No such collection.")
    listed = w.get(w.url("collections/"), who="outsider")
    assert listed.status_code == 200
    assert listed.json() == {}


def test_a_grant_without_a_place_in_the_policy_gives_403(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator()])
    admin.grant(w.hub, "outsider", "reports", read=True, write=True)
    collection = w.get(w.url("collections/reports/"), who="outsider")
    assert collection.status_code == 200
    assert (collection.json()["can_read"], collection.json()["can_write"]) == (False, False)
    for url in (w.objects_url(), w.manifest_url()):
        body = w.assert_error(w.get(url, who="outsider"), 403)
        assert body["description"] == (
            "You may not read objects in this collection (not a reader named in the policy)."
        )
    body = w.assert_error(w.post([stix.indicator()], who="outsider"), 403)
    assert body["description"] == (
        "You may not add objects in this collection (not a writer named in the policy)."
    )
    # The owner names the outsider as a reader only: reading opens, writing does not.
    assert w.owner_keys is not None
    install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner", "reader", "outsider"),
        writers=members(w, "owner", "writer"),
        previous=in_force(w),
    )
    collection = w.get(w.url("collections/reports/"), who="outsider")
    assert (collection.json()["can_read"], collection.json()["can_write"]) == (True, False)
    assert len(w.get(w.objects_url(), who="outsider").json()["objects"]) == 1
    w.assert_error(w.post([stix.indicator()], who="outsider"), 403)
    # The policy still names the writer, whose grant allows no reading.
    body = w.assert_error(w.get(w.objects_url(), who="writer"), 403)
    assert body["description"] == "You may not read objects in this collection."


def test_a_feed_without_a_policy_serves_nothing_but_its_policy(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    admin.add_feed(w.hub, "fresh", "No policy yet", owner="owner")
    admin.grant(w.hub, "reader", "fresh", read=True, write=False)
    denied = "(the feed has no sharing policy in force)."
    for who in ("owner", "reader"):
        for url in (w.objects_url("fresh"), w.manifest_url("fresh")):
            body = w.assert_error(w.get(url, who=who), 403)
            assert body["description"] == f"You may not read objects in this collection {denied}"
    body = w.assert_error(w.post([stix.indicator()], feed="fresh"), 403)
    assert body["description"] == f"You may not add objects in this collection {denied}"
    collection = w.get(w.url("collections/fresh/"))
    assert (collection.json()["can_read"], collection.json()["can_write"]) == (False, False)
    # Its policy endpoints work.
    assert call(w, "GET", policy_url("fresh", "/versions"), "reader").json() == {"versions": []}
    assert_exchange_error(
        call(w, "GET", policy_url("fresh"), "reader"), 404, "no such sharing policy version"
    )
    assert w.owner_keys is not None
    document = owner_signed(
        w,
        draft_policy(
            w.hub,
            "fresh",
            w.owner_keys,
            readers=members(w, "owner", "reader"),
            writers=members(w, "owner"),
        ),
    )
    response = post_policy(w, document, feed="fresh")
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 1
    assert w.post([stix.indicator()], feed="fresh").status_code == 202
    assert len(w.get(w.objects_url("fresh"), who="reader").json()["objects"]) == 1


def _read(w: World, who: str, now: datetime) -> int:
    _, page = read_page(
        w.hub,
        w.members[who],
        "reports",
        ObjectQuery(),
        kind=PageKind.OBJECTS,
        after=None,
        limit=10,
        now=now,
    )
    return len(page.rows)


def test_a_policy_whose_window_has_ended_denies_reading_and_writing(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    now = datetime.now(UTC)
    w.post_ok([stix.indicator()])
    assert w.owner_keys is not None
    until = now.replace(microsecond=0) + timedelta(seconds=30)
    install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner", "reader"),
        writers=members(w, "owner", "writer"),
        previous=in_force(w),
        valid_until=second_precision(until),
    )
    assert _read(w, "reader", now) == 1
    later = until + timedelta(seconds=1)
    for who in ("owner", "reader"):
        with pytest.raises(PermissionDenied, match=r"read objects .*\(the policy has expired\)"):
            _read(w, who, later)
    with (
        pytest.raises(PermissionDenied, match=r"add objects .*\(the policy has expired\)"),
        read_transaction(w.hub.engine) as conn,
    ):
        authorize(w.hub, conn, w.members["writer"], "reports", Action.WRITE, now=later)
    body = orjson.dumps({"objects": [stix.indicator()]})
    with pytest.raises(PermissionDenied, match=r"\(the policy has expired\)"):
        add_objects(w.hub, w.members["writer"], "reports", body, now=datetime_to_micros(later))
    access = get_collection(w.hub, w.members["reader"], "reports", now=later)
    assert (access.can_read, access.can_write) == (False, False)
    # Exactly at valid_until the window is closed; a microsecond before, open.
    assert _read(w, "reader", until - timedelta(microseconds=1)) == 1
    with pytest.raises(PermissionDenied, match=r"the policy has expired"):
        _read(w, "reader", until)


def test_a_policy_not_yet_valid_denies_reading_and_writing(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator()])
    assert w.owner_keys is not None
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    # Inside the hub's allowance for clock skew, so it is accepted; and it is the newest.
    install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner", "reader"),
        writers=members(w, "owner", "writer"),
        previous=in_force(w),
        valid_from=start,
    )
    assert in_force(w).policy.version == 2
    body = w.assert_error(w.get(w.objects_url(), who="reader"), 403)
    assert body["description"] == (
        "You may not read objects in this collection (the policy is not in force yet)."
    )
    body = w.assert_error(w.post([stix.indicator()], who="writer"), 403)
    assert body["description"] == (
        "You may not add objects in this collection (the policy is not in force yet)."
    )
    assert _read(w, "reader", start) == 1
    with pytest.raises(PermissionDenied, match=r"not in force yet"):
        _read(w, "reader", start - timedelta(microseconds=1))


# What an operator with the database can and cannot do


def _edited(document: str, **changes: Any) -> str:
    data = orjson.loads(document)
    for key, value in changes.items():
        data["policy"][key] = value(data["policy"][key]) if callable(value) else value
    return orjson.dumps(data).decode()


def test_editing_the_stored_policy_to_add_a_reader_gains_it_nothing(
    world: World, stix: StixFactory
) -> None:
    w = world
    w.post_ok([stix.indicator()])
    outsider = w.members["outsider"].id
    admin.grant(w.hub, "outsider", "reports", read=True, write=False)
    assert w.get(w.objects_url(), who="reader").status_code == 200  # verified and cached
    with read_transaction(w.hub.engine) as conn:
        stored = w.hub.policies.latest(conn, w.feed_id)
    assert stored is not None
    edited = _edited(stored.document, readers=lambda r: [*r, outsider])
    p = tables.policy_version
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            update(p)
            .where(p.c.feed_id == w.feed_id, p.c.version == stored.number)
            .values(document=edited)
        )
    # The hub no longer counts the feed as having a valid policy: nobody reads.
    for who in ("outsider", "reader", "owner"):
        body = w.assert_error(w.get(w.objects_url(), who=who), 403)
        assert body["description"] == (
            "You may not read objects in this collection (the feed has no sharing policy in force)."
        )
    collection = w.get(w.url("collections/reports/"), who="outsider").json()
    assert collection["can_read"] is False
    # Nor does any client: the edit breaks the owner's signature.
    signed = parse_signed_policy(edited)
    assert outsider in signed.policy.readers
    assert w.owner_keys is not None
    with pytest.raises(PolicySignatureError, match=r"the ed25519 signature does not verify"):
        verify_policy(signed, w.owner_keys.secrets.signing_keys())
    # Restoring the signed text restores the feed.
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            update(p)
            .where(p.c.feed_id == w.feed_id, p.c.version == stored.number)
            .values(document=stored.document)
        )
    assert w.get(w.objects_url(), who="reader").status_code == 200
    w.assert_error(w.get(w.objects_url(), who="outsider"), 403)


def test_editing_the_grant_table_alone_gives_nothing(world: World, stix: StixFactory) -> None:
    w = world
    w.post_ok([stix.indicator()])
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            insert(tables.grant).values(
                member_id=w.members["outsider"].id,
                feed_id=w.feed_id,
                can_read=True,
                can_write=True,
            )
        )
    body = w.assert_error(w.get(w.objects_url(), who="outsider"), 403)
    assert "not a reader named in the policy" in body["description"]
    body = w.assert_error(w.post([stix.indicator()], who="outsider"), 403)
    assert "not a writer named in the policy" in body["description"]
    w.assert_error(w.delete(stix.id("indicator"), who="outsider"), 403)
    assert len(w.get(w.objects_url(), who="reader").json()["objects"]) == 1


def test_editing_the_stored_policy_of_a_public_feed_opens_nothing(
    sqlite_world: World, stix: StixFactory
) -> None:
    w = sqlite_world
    w.post_ok([stix.indicator()])
    admin.set_public(w.hub, "reports", True)
    with read_transaction(w.hub.engine) as conn:
        stored = w.hub.policies.latest(conn, w.feed_id)
    assert stored is not None
    clear = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
    edited = _edited(stored.document, tlp=clear, public=True)
    p = tables.policy_version
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            update(p)
            .where(p.c.feed_id == w.feed_id, p.c.version == stored.number)
            .values(document=edited)
        )
    response = w.get(w.objects_url(), who=None)
    w.assert_error(response, 401)


def _copy_policy(w: World, source: tuple[str, int], target: tuple[str, int]) -> None:
    """Overwrite the stored text of policy ``target`` (feed, version) with ``source``'s."""
    p = tables.policy_version
    with write_transaction(w.hub.engine) as conn:
        feeds = {alias: w.hub.feeds.find(conn, alias) for alias in (source[0], target[0])}
        source_id, target_id = (feeds[source[0]], feeds[target[0]])
        assert source_id is not None
        assert target_id is not None
        stored = w.hub.policies.get(conn, source_id.id, source[1])
        assert stored is not None
        conn.execute(
            update(p)
            .where(p.c.feed_id == target_id.id, p.c.version == target[1])
            .values(document=stored.document)
        )


NO_POLICY = "You may not read objects in this collection (the feed has no sharing policy in force)."


@pytest.mark.parametrize("warm", [True, False], ids=["verified-before", "never-verified"])
def test_copying_another_feeds_signed_policy_gains_nothing(world: World, warm: bool) -> None:
    """The owner's valid policy of 'reports' (naming the reader) copied into 'hidden'."""
    w = world
    admin.grant(w.hub, "reader", "hidden", read=True, write=False)
    w.assert_error(w.get(w.objects_url("hidden"), who="reader"), 403)
    if warm:
        assert w.get(w.objects_url(), who="reader").status_code == 200
    else:
        w.hub.verified_policies.clear()
    _copy_policy(w, ("reports", 1), ("hidden", 1))
    for who in ("reader", "owner"):
        body = w.assert_error(w.get(w.objects_url("hidden"), who=who), 403)
        assert body["description"] == NO_POLICY
    assert w.get(w.objects_url(), who="reader").status_code == 200


def test_an_older_version_copied_over_the_newest_is_no_policy(world: World) -> None:
    """A rollback by editing: v1 (naming the reader) over v2 (which no longer does)."""
    w = world
    assert w.get(w.objects_url(), who="reader").status_code == 200  # v1 verified
    assert w.owner_keys is not None
    install_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner"),
        writers=members(w, "owner", "writer"),
        previous=in_force(w),
    )
    body = w.assert_error(w.get(w.objects_url(), who="reader"), 403)
    assert "not a reader named in the policy" in body["description"]
    _copy_policy(w, ("reports", 1), ("reports", 2))
    body = w.assert_error(w.get(w.objects_url(), who="reader"), 403)
    assert body["description"] == NO_POLICY


def test_a_key_bundle_and_policy_inserted_in_the_database_open_nothing(
    world: World, stix: StixFactory
) -> None:
    """The operator inserts a 'rotation' of the owner's keys (its own keys, not endorsed by
    the owner's) and a policy version signed with them naming the outsider: the hub
    re-verifies the owner's key chain, so that policy is no policy and nobody reads."""
    w = world
    w.post_ok([stix.indicator()])
    admin.grant(w.hub, "outsider", "reports", read=True, write=False)
    owner = w.members["owner"]
    with read_transaction(w.hub.engine) as conn:
        in_place = current_bundle(w.hub, conn, owner.id)
        current = latest_policy(w.hub, conn, get_collection(w.hub, owner, "reports").feed)
    assert in_place is not None
    assert current is not None
    forged_keys = MemberSecrets.generate()
    forged_bundle = build_key_bundle(
        forged_keys, member=owner.id, sequence=2, previous=in_place, endorser=forged_keys
    )
    assert w.owner_keys is not None
    document = draft_policy(
        w.hub,
        "reports",
        w.owner_keys,
        readers=members(w, "owner", "reader", "outsider"),
        writers=members(w, "owner", "writer"),
        previous=current,
    )
    forged_policy = signed_policy(document, forged_keys)
    now = datetime_to_micros(datetime.now(UTC))
    with write_transaction(w.hub.engine) as conn:
        conn.execute(
            insert(tables.key_bundle).values(
                member_id=owner.id,
                sequence=2,
                digest=forged_bundle.digest,
                document=orjson.dumps(forged_bundle.model_dump(mode="json")).decode(),
                created_at=now,
            )
        )
        conn.execute(
            insert(tables.policy_version).values(
                feed_id=w.feed_id,
                version=current.policy.version + 1,
                digest=parse_signed_policy(forged_policy).digest,
                document=orjson.dumps(forged_policy).decode(),
                created_at=now,
            )
        )
    for who in ("outsider", "reader", "owner"):
        body = w.assert_error(w.get(w.objects_url(), who=who), 403)
        assert "no sharing policy in force" in body["description"]
