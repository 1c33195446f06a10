"""The HTTP surface of a real hub process: negotiation and headers (TAXII 2.1 §1.6.8, §3.1-3.2).

Accept headers real clients send (no version, ``q=`` weights as OpenCTI sends
them, a space after ``;``, the deprecated ``vnd.oasis`` alias) get 200; media
types the endpoint does not serve get 406, and POST bodies that are not TAXII
get 415, each with a TAXII error body. Every response, failures included, is
``application/taxii+json;version=2.1``. Paged responses carry
``X-TAXII-Date-Added-First``/``-Last``, good for the §3.5 fallback paging.
"""

from __future__ import annotations

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
)

pytestmark = pytest.mark.integration

OBJECT = identity("negotiation")

ACCEPTED = [
    pytest.param(TAXII_21, id="taxii-2.1"),
    pytest.param("application/taxii+json", id="no-version"),
    pytest.param("application/taxii+json; version=2.1", id="space-after-semicolon"),
    pytest.param('application/taxii+json;version="2.1"', id="quoted-version"),
    pytest.param("Application/TAXII+JSON;Version=2.1", id="mixed-case"),
    pytest.param("application/taxii+json;version=2.1, application/json;q=0.9", id="opencti"),
    pytest.param("application/json;q=0.9, application/taxii+json;q=0.5", id="lower-weight"),
    pytest.param("text/html, application/taxii+json;version=2.1;q=0.8", id="in-a-list"),
    pytest.param("application/vnd.oasis.taxii+json;version=2.1", id="deprecated-alias"),
    pytest.param("application/vnd.oasis.taxii+json", id="deprecated-alias-no-version"),
    pytest.param("*/*", id="wildcard"),
]

REFUSED = [
    pytest.param("application/json", id="json"),
    pytest.param("text/html", id="html"),
    pytest.param("application/taxii+json;version=2.0", id="taxii-2.0"),
    pytest.param("application/taxii+json;version=2.1;q=0", id="weight-zero"),
    pytest.param("application/stix+json;version=2.1", id="stix"),
]

POST_ACCEPTED = [
    pytest.param(TAXII_21, id="taxii-2.1"),
    pytest.param("application/taxii+json; version=2.1", id="space-after-semicolon"),
    pytest.param("application/taxii+json", id="no-version"),
    pytest.param("application/taxii+json;version=2.1;charset=utf-8", id="charset"),
    pytest.param("application/vnd.oasis.taxii+json;version=2.1", id="deprecated-alias"),
]

POST_REFUSED = [
    pytest.param("application/json", id="json"),
    pytest.param("application/stix+json;version=2.1", id="stix"),
    pytest.param("text/plain", id="text"),
    pytest.param("application/taxii+json;version=2.0", id="taxii-2.0"),
]


@dataclass(frozen=True)
class World:
    """A hub with one feed holding one object."""

    server: ServerProcess
    owner: Member
    feed: str


@pytest.fixture(scope="module")
def world(hub_home: HubHome) -> World:
    owner = hub_home.add_member("owner")
    hub_home.add_feeds(["reports", "paged"], owner="owner")
    server = hub_home.serve()
    world = World(server, owner, "reports")
    with http_client(server, owner) as client:
        response = client.post(
            "collections/reports/objects/",
            content=envelope_bytes([OBJECT]),
            headers={"Content-Type": TAXII_21},
        )
        assert response.status_code == 202, response.text
    return world


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[httpx.Client]:
    with http_client(world.server, world.owner) as c:
        yield c


@pytest.fixture(scope="module")
def status_id(client: httpx.Client) -> str:
    """The id of a status resource of the owner's."""
    response = client.post(
        "collections/reports/objects/",
        content=envelope_bytes([OBJECT]),
        headers={"Content-Type": TAXII_21},
    )
    assert response.status_code == 202, response.text
    status: str = response.json()["id"]
    return status


def get_endpoints(server: ServerProcess, status_id: str) -> list[str]:
    """Every GET endpoint of the hub, as absolute URLs."""
    root = server.api_root_url
    objects = f"{root}collections/reports/objects/"
    return [
        server.discovery_url,
        root,
        f"{root}collections/",
        f"{root}collections/reports/",
        objects,
        f"{root}collections/reports/manifest/",
        f"{objects}{OBJECT['id']}/",
        f"{objects}{OBJECT['id']}/versions/",
        f"{root}status/{status_id}/",
    ]


@pytest.mark.parametrize("accept", ACCEPTED)
def test_accepted_on_every_endpoint(
    world: World, client: httpx.Client, status_id: str, accept: str
) -> None:
    for url in get_endpoints(world.server, status_id):
        response = client.get(url, headers={"Accept": accept})
        assert response.status_code == 200, (url, response.text)
        assert response.headers["content-type"] == TAXII_21
        assert isinstance(response.json(), dict)


@pytest.mark.parametrize("accept", REFUSED)
def test_refused_with_406(world: World, client: httpx.Client, status_id: str, accept: str) -> None:
    for url in get_endpoints(world.server, status_id):
        if url.endswith("/manifest/") and accept.startswith("application/stix+json"):
            continue  # the manifest lists the STIX media type too (§5.3)
        body = assert_taxii_error(client.get(url, headers={"Accept": accept}), 406)
        assert "application/taxii+json" in body["description"]


def test_manifest_also_accepts_the_stix_media_type(client: httpx.Client) -> None:
    response = client.get(
        "collections/reports/manifest/", headers={"Accept": "application/stix+json;version=2.1"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    assert [r["id"] for r in response.json()["objects"]] == [OBJECT["id"]]


def test_no_accept_header_is_406(world: World) -> None:
    with httpx.Client(auth=world.owner.auth, timeout=30.0) as bare:
        request = bare.build_request("GET", world.server.api_root_url)
        del request.headers["Accept"]
        assert_taxii_error(bare.send(request), 406)


@pytest.mark.parametrize("content_type", POST_ACCEPTED)
def test_post_content_types_accepted(client: httpx.Client, content_type: str) -> None:
    response = client.post(
        "collections/reports/objects/",
        content=envelope_bytes([OBJECT]),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == TAXII_21
    assert response.json()["success_count"] == 1


@pytest.mark.parametrize("content_type", POST_REFUSED)
def test_post_content_types_refused_with_415(client: httpx.Client, content_type: str) -> None:
    response = client.post(
        "collections/reports/objects/",
        content=envelope_bytes([OBJECT]),
        headers={"Content-Type": content_type},
    )
    body = assert_taxii_error(response, 415)
    assert "application/taxii+json;version=2.1" in body["description"]


def test_post_without_content_type_is_415(client: httpx.Client) -> None:
    request = client.build_request(
        "POST", "collections/reports/objects/", content=envelope_bytes([OBJECT])
    )
    request.headers.pop("Content-Type", None)
    assert_taxii_error(client.send(request), 415)


def test_post_refusing_taxii_responses_is_406(client: httpx.Client) -> None:
    response = client.post(
        "collections/reports/objects/",
        content=envelope_bytes([OBJECT]),
        headers={"Content-Type": TAXII_21, "Accept": "application/json"},
    )
    assert_taxii_error(response, 406)


def test_delete_answers_in_taxii(client: httpx.Client) -> None:
    doomed = identity("doomed")
    posted = client.post(
        "collections/reports/objects/",
        content=envelope_bytes([doomed]),
        headers={"Content-Type": "application/taxii+json"},
    )
    assert posted.status_code == 202
    response = client.delete(
        f"collections/reports/objects/{doomed['id']}/",
        headers={"Accept": "application/taxii+json;version=2.1, application/json;q=0.9"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    assert_taxii_error(
        client.delete(
            f"collections/reports/objects/{OBJECT['id']}/", headers={"Accept": "application/json"}
        ),
        406,
    )


def test_date_added_headers(client: httpx.Client) -> None:
    """§3.2: every page with objects names the date_added of its first and last."""
    objects = [identity(f"paged-{n}") for n in range(3)]
    posted = client.post(
        "collections/paged/objects/",
        content=envelope_bytes(objects),
        headers={"Content-Type": TAXII_21},
    )
    assert posted.status_code == 202
    added = [r["date_added"] for r in client.get("collections/paged/manifest/").json()["objects"]]
    assert len(added) == 3

    def dates(response: httpx.Response) -> tuple[str, str]:
        assert response.status_code == 200, response.text
        first = response.headers["X-TAXII-Date-Added-First"]
        last = response.headers["X-TAXII-Date-Added-Last"]
        return first, last

    one = f"collections/paged/objects/{objects[1]['id']}/"
    assert dates(client.get("collections/paged/objects/")) == (added[0], added[2])
    assert dates(client.get("collections/paged/manifest/")) == (added[0], added[2])
    assert dates(client.get(one)) == (added[1], added[1])
    assert dates(client.get(f"{one}versions/")) == (added[1], added[1])

    # §3.5 fallback: page on with added_after = the previous page's X-TAXII-Date-Added-Last.
    seen: list[dict[str, object]] = []
    params = {"limit": "2"}
    while True:
        response = client.get("collections/paged/objects/", params=params)
        page = response.json()
        seen += page.get("objects", [])
        if not page["more"]:
            break
        params = {"limit": "2", "added_after": dates(response)[1]}
    assert seen == objects
