"""Failures of a real hub process, each a TAXII error resource (TAXII 2.1 §3.6, §5).

401 with ``WWW-Authenticate``; 403/404 by the permission table; a feed without
a grant answers exactly like one that does not exist; 413 past
``max_content_length`` (set small for this server) but never at it; 400 for a
body that is not JSON and for every malformed query parameter, naming it; 422
for JSON that is not an envelope.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.live import (
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    assert_taxii_error,
    envelope_bytes,
    http_client,
    identity,
    indicator,
)

pytestmark = pytest.mark.integration

MAX_CONTENT_LENGTH = 4096
STORED = indicator("stored")
OBJECTS = "collections/reports/objects/"
POST_HEADERS = {"Content-Type": TAXII_21}


@dataclass(frozen=True)
class World:
    """owner (reports, secret), reader (reads reports), writer (writes reports), outsider."""

    home: HubHome
    server: ServerProcess
    owner: Member
    reader: Member
    writer: Member
    outsider: Member


@pytest.fixture(scope="module")
def world(hub_home: HubHome) -> World:
    owner, reader, writer, outsider = hub_home.add_members(
        owner="authority", reader="research", writer="industry", outsider="industry"
    )
    hub_home.add_feeds(["reports", "secret"], owner="owner")
    hub_home.grant("reader", "reports", read=True)
    hub_home.grant("writer", "reports", write=True)
    server = hub_home.serve(max_content_length=str(MAX_CONTENT_LENGTH))
    with http_client(server, owner) as client:
        for feed in ("reports", "secret"):
            response = client.post(
                f"collections/{feed}/objects/",
                content=envelope_bytes([STORED]),
                headers=POST_HEADERS,
            )
            assert response.status_code == 202, response.text
    return World(hub_home, server, owner, reader, writer, outsider)


@pytest.fixture(scope="module")
def owner(world: World) -> Iterator[httpx.Client]:
    with http_client(world.server, world.owner) as client:
        yield client


@pytest.fixture(scope="module")
def outsider(world: World) -> Iterator[httpx.Client]:
    with http_client(world.server, world.outsider) as client:
        yield client


# --------------------------------------------------------------------------- 401


def _bad_credentials(world: World) -> list[dict[str, str]]:
    """Authorization headers that prove nothing, by cause."""

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    return [
        {},  # none at all
        {"Authorization": basic(world.owner.id, "tx_wrong")},
        {"Authorization": basic(world.reader.id, world.owner.token)},  # someone else's token
        {"Authorization": basic(f"identity--{uuid.uuid4()}", world.owner.token)},
        {"Authorization": "Bearer tx_not-a-token"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Digest username=owner"},
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/taxii2/"),
        ("GET", "/taxii2/trends/"),
        ("GET", "/taxii2/trends/collections/"),
        ("GET", "/taxii2/trends/collections/reports/objects/"),
        ("POST", "/taxii2/trends/collections/reports/objects/"),
        ("GET", f"/taxii2/trends/collections/nowhere/objects/{STORED['id']}/"),
        ("DELETE", f"/taxii2/trends/collections/reports/objects/{STORED['id']}/"),
        ("GET", f"/taxii2/trends/status/{uuid.uuid4()}/"),
    ],
)
def test_unauthenticated_is_401_with_www_authenticate(world: World, method: str, path: str) -> None:
    bodies = []
    with httpx.Client(base_url=world.server.url, timeout=30.0) as anonymous:
        for headers in _bad_credentials(world):
            response = anonymous.request(
                method,
                path,
                headers={"Accept": TAXII_21, "Content-Type": TAXII_21, **headers},
                content=envelope_bytes([STORED]) if method == "POST" else None,
            )
            bodies.append(assert_taxii_error(response, 401))
            assert response.headers["content-type"] == "application/taxii+json;version=2.1"
            challenge = response.headers["www-authenticate"]
            assert "Basic" in challenge
            assert "realm=" in challenge
    assert all(b == bodies[0] for b in bodies), "every cause must answer the same"


def test_bearer_token_is_accepted(world: World) -> None:
    headers = {"Accept": TAXII_21, "Authorization": f"Bearer {world.owner.token}"}
    with httpx.Client(base_url=world.server.api_root_url, timeout=30.0) as client:
        assert client.get("collections/", headers=headers).status_code == 200


# --------------------------------------------------------------------------- 403 / 404


def test_permission_table(world: World) -> None:
    """§5.4–5.7: read needs can_read, add needs can_write, delete needs both."""
    stored = f"{OBJECTS}{STORED['id']}/"
    with http_client(world.server, world.reader) as reader:
        assert reader.get(OBJECTS).status_code == 200
        assert_taxii_error(
            reader.post(OBJECTS, content=envelope_bytes([STORED]), headers=POST_HEADERS), 403
        )
        assert_taxii_error(reader.delete(stored), 403)
    with http_client(world.server, world.writer) as writer:
        collection = writer.get("collections/reports/").json()
        assert (collection["can_read"], collection["can_write"]) == (False, True)
        for path in (OBJECTS, "collections/reports/manifest/", stored, f"{stored}versions/"):
            assert_taxii_error(writer.get(path), 403)
        assert_taxii_error(writer.delete(stored), 403)
        posted = writer.post(OBJECTS, content=envelope_bytes([STORED]), headers=POST_HEADERS)
        assert posted.status_code == 202


def _requests_on(feed: str) -> list[tuple[str, str]]:
    objects = f"collections/{feed}/objects/"
    return [
        ("GET", f"collections/{feed}/"),
        ("GET", objects),
        ("GET", f"collections/{feed}/manifest/"),
        ("POST", objects),
        ("GET", f"{objects}{STORED['id']}/"),
        ("GET", f"{objects}{STORED['id']}/versions/"),
        ("DELETE", f"{objects}{STORED['id']}/"),
    ]


def _send(client: httpx.Client, method: str, path: str) -> httpx.Response:
    if method == "POST":
        return client.post(path, content=envelope_bytes([STORED]), headers=POST_HEADERS)
    return client.request(method, path)


def test_feed_without_grant_answers_like_no_feed(world: World, outsider: httpx.Client) -> None:
    secret_id = world.home.feeds["secret"]
    for hidden, absent in [(secret_id, str(uuid.uuid4())), ("secret", "no-such-feed")]:
        for (method, path), (_, absent_path) in zip(
            _requests_on(hidden), _requests_on(absent), strict=True
        ):
            seen = _send(outsider, method, path)
            missing = _send(outsider, method, absent_path)
            body = assert_taxii_error(seen, 404)
            assert (seen.status_code, body) == (missing.status_code, missing.json()), path
            assert seen.headers["content-type"] == missing.headers["content-type"]
            assert "secret" not in seen.text
            assert secret_id not in seen.text
    assert outsider.get("collections/").json() == {}  # §5.1.1: no `collections` key
    assert world.owner.id not in outsider.get("collections/").text


@pytest.mark.parametrize(
    "path",
    [
        "/taxii2/nope/",
        "/taxii2/nope/collections/",
        f"/taxii2/trends/collections/{uuid.uuid4()}/",
        "/taxii2/trends/collections/no-such-feed/objects/",
        f"/taxii2/trends/status/{uuid.uuid4()}/",
        "/taxii2/trends/status/not-a-status-id/",
        f"/taxii2/trends/collections/reports/objects/{identity('absent')['id']}/",
        f"/taxii2/trends/collections/reports/objects/{identity('absent')['id']}/versions/",
        "/taxii2/trends/collections/reports/objects/not-a-stix-id/",
        "/taxii2/trends/collections/reports/objects/not-a-stix-id/versions/",
        "/taxii2/trends/collections",  # no trailing slash
        "/taxii2/trends/nothing-here/",
    ],
)
def test_unknown_resources_are_404(owner: httpx.Client, world: World, path: str) -> None:
    assert_taxii_error(owner.get(world.server.url + path), 404)


def test_unknown_object_delete_is_404(owner: httpx.Client) -> None:
    assert_taxii_error(owner.delete(f"{OBJECTS}{identity('absent')['id']}/"), 404)
    assert_taxii_error(owner.delete(f"{OBJECTS}not-a-stix-id/"), 404)


def test_status_of_another_member_is_404(world: World, owner: httpx.Client) -> None:
    posted = owner.post(OBJECTS, content=envelope_bytes([STORED]), headers=POST_HEADERS)
    status_url = f"status/{posted.json()['id']}/"
    assert owner.get(status_url).status_code == 200
    with http_client(world.server, world.reader) as reader:
        seen = reader.get(status_url)
        missing = reader.get(f"status/{uuid.uuid4()}/")
    assert assert_taxii_error(seen, 404) == missing.json()


# --------------------------------------------------------------------------- bodies


def _padded(size: int) -> bytes:
    """A valid envelope of exactly ``size`` octets (JSON allows trailing whitespace)."""
    body = envelope_bytes([identity("padded")])
    assert len(body) <= size
    return body + b" " * (size - len(body))


def test_api_root_reports_max_content_length(owner: httpx.Client) -> None:
    assert owner.get("").json()["max_content_length"] == MAX_CONTENT_LENGTH


def test_body_of_max_content_length_is_accepted(owner: httpx.Client) -> None:
    response = owner.post(OBJECTS, content=_padded(MAX_CONTENT_LENGTH), headers=POST_HEADERS)
    assert response.status_code == 202, response.text
    assert response.json()["success_count"] == 1


def test_body_over_max_content_length_is_413(owner: httpx.Client) -> None:
    response = owner.post(OBJECTS, content=_padded(MAX_CONTENT_LENGTH + 1), headers=POST_HEADERS)
    body = assert_taxii_error(response, 413)
    assert str(MAX_CONTENT_LENGTH) in body["description"]


def test_streamed_body_over_max_content_length_is_413(owner: httpx.Client) -> None:
    """Without a Content-Length (chunked), the limit holds while reading."""
    payload = _padded(MAX_CONTENT_LENGTH + 500)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    response = owner.post(OBJECTS, content=chunks(), headers=POST_HEADERS)
    assert "content-length" not in response.request.headers
    assert_taxii_error(response, 413)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"objects": [', id="truncated"),
        pytest.param(b"objects", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"objects": []}\x00', id="trailing-garbage"),
    ],
)
def test_malformed_json_is_400(owner: httpx.Client, body: bytes) -> None:
    assert_taxii_error(owner.post(OBJECTS, content=body, headers=POST_HEADERS), 400)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[]", id="list"),
        pytest.param(b'"objects"', id="string"),
        pytest.param(b'{"more": false}', id="no-objects"),
        pytest.param(b'{"objects": []}', id="empty-objects"),
        pytest.param(b'{"objects": {"id": "x"}}', id="objects-not-list"),
        pytest.param(b'{"objects": [{"type": "identity"}]}', id="object-without-id"),
        pytest.param(b'{"objects": ["identity--x"]}', id="object-not-dict"),
    ],
)
def test_json_that_is_not_an_envelope_is_422(owner: httpx.Client, body: bytes) -> None:
    assert_taxii_error(owner.post(OBJECTS, content=body, headers=POST_HEADERS), 422)


# --------------------------------------------------------------------------- query parameters

_ENDPOINTS = [
    OBJECTS,
    "collections/reports/manifest/",
    f"{OBJECTS}{STORED['id']}/",
    f"{OBJECTS}{STORED['id']}/versions/",
]

_BAD_PAGING = [
    pytest.param([("limit", "0")], "limit", id="limit-0"),
    pytest.param([("limit", "-1")], "limit", id="limit-negative"),
    pytest.param([("limit", "abc")], "limit", id="limit-abc"),
    pytest.param([("limit", "1.5")], "limit", id="limit-fraction"),
    pytest.param([("limit", "")], "limit", id="limit-empty"),
    pytest.param([("limit", "1"), ("limit", "2")], "limit", id="limit-repeated"),
    pytest.param([("added_after", "garbage")], "added_after", id="added_after-garbage"),
    pytest.param([("added_after", "2026-13-01T00:00:00Z")], "added_after", id="added_after-month"),
    pytest.param([("added_after", "2026-01-01")], "added_after", id="added_after-date-only"),
    pytest.param(
        [("added_after", "2026-01-01T00:00:00Z")] * 2, "added_after", id="added_after-repeated"
    ),
    pytest.param([("next", "garbage")], "next", id="next-garbage"),
    pytest.param([("next", "")], "next", id="next-empty"),
]

_BAD_VERSION = [
    pytest.param([("match[version]", "garbage")], "match[version]", id="version-garbage"),
    pytest.param([("match[version]", "all,first")], "match[version]", id="version-all-and"),
    pytest.param([("match[version]", "2026-01-01")], "match[version]", id="version-date-only"),
    pytest.param([("match[version]", "last,")], "match[version]", id="version-empty-value"),
    pytest.param(
        [("match[version]", "last"), ("match[version]", "first")],
        "match[version]",
        id="version-repeated",
    ),
]

_BAD_MATCH = [
    pytest.param([("match[type]", "Not_A_Type!")], "match[type]", id="type-malformed"),
    pytest.param(
        [("match[type]", "indicator"), ("match[type]", "identity")],
        "match[type]",
        id="type-repeated",
    ),
    pytest.param([("match[id]", "not-an-id")], "match[id]", id="id-malformed"),
    pytest.param([("match[spec_version]", "two")], "match[spec_version]", id="spec-malformed"),
]


@pytest.mark.parametrize(("params", "name"), _BAD_PAGING)
def test_malformed_paging_parameter_is_400(
    owner: httpx.Client, params: list[tuple[str, str]], name: str
) -> None:
    for endpoint in _ENDPOINTS:
        body = assert_taxii_error(owner.get(endpoint, params=tuple(params)), 400)
        assert name in body["description"], (endpoint, body)


@pytest.mark.parametrize(("params", "name"), _BAD_VERSION)
def test_malformed_version_is_400(
    owner: httpx.Client, params: list[tuple[str, str]], name: str
) -> None:
    for endpoint in _ENDPOINTS[:3]:  # the versions endpoint takes no match[version]
        body = assert_taxii_error(owner.get(endpoint, params=tuple(params)), 400)
        assert name in body["description"], (endpoint, body)
    body = assert_taxii_error(owner.delete(_ENDPOINTS[2], params=tuple(params)), 400)
    assert name in body["description"]


@pytest.mark.parametrize(("params", "name"), _BAD_MATCH)
def test_malformed_match_is_400(
    owner: httpx.Client, params: list[tuple[str, str]], name: str
) -> None:
    for endpoint in _ENDPOINTS[:2]:
        body = assert_taxii_error(owner.get(endpoint, params=tuple(params)), 400)
        assert name in body["description"], (endpoint, body)


def test_next_is_bound_to_its_query(owner: httpx.Client) -> None:
    more = [identity(f"page-{n}") for n in range(3)]
    assert owner.post(OBJECTS, content=envelope_bytes(more), headers=POST_HEADERS).is_success
    first = owner.get(OBJECTS, params={"limit": "1"}).json()
    assert first["more"] is True
    token = first["next"]
    assert owner.get(OBJECTS, params={"limit": "1", "next": token}).status_code == 200
    for params in (
        {"next": token, "match[type]": "identity"},  # other filters
        {"next": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")},  # edited
    ):
        body = assert_taxii_error(owner.get(OBJECTS, params=params), 400)
        assert "next" in body["description"]
    manifest = owner.get("collections/reports/manifest/", params={"next": token})
    body = assert_taxii_error(manifest, 400)
    assert "next" in body["description"]


def test_well_formed_parameters_are_accepted(owner: httpx.Client) -> None:
    """Timestamps without fraction or with an offset, and unknown match fields, are fine."""
    for params in (
        {"added_after": "2026-01-01T00:00:00Z"},
        {"added_after": "2026-01-01T00:00:00.123456789Z"},
        {"added_after": "2026-01-01T01:00:00+01:00"},
        {"match[version]": "2026-01-01T00:00:00Z"},
        {"match[unknown]": "whatever"},
        {"limit": "100000"},
    ):
        for endpoint in _ENDPOINTS:
            response = owner.get(endpoint, params=params)
            assert response.status_code == 200, (endpoint, params, response.text)
