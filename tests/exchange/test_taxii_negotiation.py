"""Media types, content negotiation and error bodies (TAXII 2.1 §1.6.8, §3.1, §3.6, App. B)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from exchange.protocol.media import STIX_21, TAXII_21

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

ACCEPTED = [
    TAXII_21,
    "application/taxii+json",
    "application/taxii+json; version=2.1",
    "application/taxii+json ; version=2.1 ; charset=utf-8",
    "application/vnd.oasis.taxii+json; version=2.1",
    "application/vnd.oasis.taxii+json",
    "*/*",
    "application/*",
    # What OpenCTI sends (refused by Medallion 3.0.0).
    "application/taxii+json;version=2.1, application/json;q=0.9, */*;q=0.8",
    "application/json;q=0.9, application/taxii+json;q=0.5",
]
REFUSED = [
    "application/json",
    "text/html",
    "application/taxii+json;version=2.0",
    "application/vnd.oasis.taxii+json;version=2.0",
    "application/taxii+json;q=0",
    "application/taxii+json;version=2.1;q=0, application/json",
    "*/*;q=0",
    "garbage",
]


def _send_without(w: World, method: str, url: str, header: str, **kwargs: Any) -> httpx.Response:
    """Send a request with ``header`` removed (httpx adds Accept: */* by default)."""
    request = w.client.build_request(method, url, **kwargs)
    request.headers.pop(header, None)
    assert header.lower() not in {k.lower() for k in request.headers}
    response: httpx.Response = w.client.send(request)
    return response


@pytest.fixture
def endpoints(sqlite_world: World, stix: StixFactory) -> list[str]:
    """Every GET endpoint of the hub, with real ids."""
    w = sqlite_world
    obj = stix.indicator()
    status = w.post_ok([obj])
    return [
        "/taxii2/",
        w.url(),
        w.url("collections/"),
        w.url("collections/reports/"),
        w.manifest_url(),
        w.objects_url(),
        w.object_url(obj["id"]),
        w.versions_url(obj["id"]),
        w.url(f"status/{status['id']}/"),
    ]


def test_accepted_media_ranges_on_every_get_endpoint(
    sqlite_world: World, endpoints: list[str]
) -> None:
    w = sqlite_world
    for url in endpoints:
        for accept in ACCEPTED:
            response = w.get(url, Accept=accept)
            assert response.status_code == 200, (url, accept, response.text)
            # §3.1: without a version the client gets the highest supported one.
            assert response.headers["content-type"] == TAXII_21


def test_refused_media_ranges_on_every_get_endpoint(
    sqlite_world: World, endpoints: list[str]
) -> None:
    w = sqlite_world
    for url in endpoints:
        for accept in REFUSED:
            body = w.assert_error(w.get(url, Accept=accept), 406)
            assert body["title"] == "Not Acceptable"


def test_missing_accept_is_406(sqlite_world: World, endpoints: list[str]) -> None:
    """§3.1: every request carries an Accept with a TAXII media range."""
    w = sqlite_world
    for url in endpoints:
        headers = {"Authorization": f"Bearer {w.tokens['owner']}"}
        w.assert_error(_send_without(w, "GET", url, "Accept", headers=headers), 406)


def test_manifest_also_accepts_the_stix_media_type(sqlite_world: World, stix: StixFactory) -> None:
    """§5.3 lists application/stix+json;version=2.1 beside the TAXII type for the manifest."""
    w = sqlite_world
    w.post_ok([stix.indicator()])
    for accept in (STIX_21, f"{TAXII_21},{STIX_21}", "application/stix+json"):
        response = w.get(w.manifest_url(), Accept=accept)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == TAXII_21
        assert len(response.json()["objects"]) == 1
    w.assert_error(w.get(w.manifest_url(), Accept="application/stix+json;version=2.0"), 406)


def test_objects_endpoints_do_not_serve_the_stix_media_type(
    sqlite_world: World, stix: StixFactory
) -> None:
    """§5.4/§5.6 (changed in 2.1, §1.7.1): objects come in TAXII envelopes only."""
    w = sqlite_world
    obj = stix.indicator()
    w.post_ok([obj])
    for url in (w.objects_url(), w.object_url(obj["id"]), w.versions_url(obj["id"])):
        w.assert_error(w.get(url, Accept=STIX_21), 406)


@pytest.mark.parametrize(
    "content_type",
    [
        TAXII_21,
        "application/taxii+json",
        "application/taxii+json; version=2.1",  # OpenTAXII answers 415 to the space
        "application/taxii+json;version=2.1;charset=utf-8",
        "application/vnd.oasis.taxii+json;version=2.1",
    ],
)
def test_post_content_types_accepted(
    sqlite_world: World, stix: StixFactory, content_type: str
) -> None:
    w = sqlite_world
    response = w.client.post(
        w.objects_url(),
        content=b'{"objects": [' + _json(stix.indicator()) + b"]}",
        headers=w.headers("owner", **{"Content-Type": content_type}),
    )
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == TAXII_21


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        STIX_21,
        "application/taxii+json;version=2.0",
        "text/plain",
        "application/x-www-form-urlencoded",
    ],
)
def test_post_other_content_types_are_415(
    sqlite_world: World, stix: StixFactory, content_type: str
) -> None:
    w = sqlite_world
    response = w.client.post(
        w.objects_url(),
        content=b'{"objects": [' + _json(stix.indicator()) + b"]}",
        headers=w.headers("owner", **{"Content-Type": content_type}),
    )
    body = w.assert_error(response, 415)
    assert body["title"] == "Unsupported Media Type"
    assert w.get(w.manifest_url()).json() == {"more": False}


def test_post_without_content_type_is_415(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    response = _send_without(
        w,
        "POST",
        w.objects_url(),
        "Content-Type",
        content=b'{"objects": [' + _json(stix.indicator()) + b"]}",
        headers=w.headers(),
    )
    w.assert_error(response, 415)


@pytest.mark.parametrize("accept", [*REFUSED, STIX_21])
def test_post_needs_a_valid_accept(sqlite_world: World, stix: StixFactory, accept: str) -> None:
    """§3.1: POSTs include a valid Accept; the response is a TAXII status."""
    w = sqlite_world
    response = w.client.post(
        w.objects_url(),
        json={"objects": [stix.indicator()]},
        headers=w.headers("owner", Accept=accept, **{"Content-Type": TAXII_21}),
    )
    w.assert_error(response, 406)
    assert w.get(w.manifest_url()).json() == {"more": False}


def test_post_without_accept_is_406(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    response = _send_without(
        w,
        "POST",
        w.objects_url(),
        "Accept",
        json={"objects": [stix.indicator()]},
        headers={"Authorization": f"Bearer {w.tokens['owner']}", "Content-Type": TAXII_21},
    )
    w.assert_error(response, 406)


def test_delete_needs_a_valid_accept(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    obj = stix.indicator()
    w.post_ok([obj])
    response = w.client.delete(
        w.object_url(obj["id"]), headers=w.headers(Accept="application/json")
    )
    w.assert_error(response, 406)
    assert w.get(w.object_url(obj["id"])).status_code == 200


def test_every_response_is_taxii_json(sqlite_world: World, stix: StixFactory) -> None:
    """§3.1: Content-Type application/taxii+json;version=2.1 on successes and failures alike."""
    w = sqlite_world
    obj = stix.indicator()
    status = w.post_ok([obj])
    responses = [
        w.get("/taxii2/"),
        w.get(w.url()),
        w.get(w.url("collections/")),
        w.get(w.url("collections/reports/")),
        w.get(w.manifest_url()),
        w.get(w.objects_url()),
        w.get(w.object_url(obj["id"])),
        w.get(w.versions_url(obj["id"])),
        w.get(w.url(f"status/{status['id']}/")),
        w.post([stix.indicator()]),
        # failures
        w.get("/taxii2/", who=None),  # 401
        w.get(w.objects_url(), who="writer"),  # 403
        w.get(w.url("collections/hidden/"), who="reader"),  # 404
        w.get("/no/such/route"),  # 404
        w.client.put("/taxii2/", headers=w.headers()),  # 405
        w.get("/taxii2/", Accept="application/json"),  # 406
        w.get(w.objects_url(), params={"limit": "0"}),  # 400
        w.client.post(  # 415
            w.objects_url(), json={"objects": []}, headers=w.headers(**{"Content-Type": "a/b"})
        ),
        w.post([]),  # 422
        w.delete(obj["id"]),  # 200
        w.delete(obj["id"]),  # 404
    ]
    codes = [r.status_code for r in responses]
    assert codes == [200] * 9 + [202, 401, 403, 404, 404, 405, 406, 400, 415, 422, 200, 404]
    for response in responses:
        assert response.headers["content-type"] == TAXII_21, response.request.url
        if response.status_code >= 400:
            w.assert_error(response, response.status_code)


def test_body_that_is_not_json_is_400(sqlite_world: World) -> None:
    w = sqlite_world
    for content in (b"{not json", b"", b"\xff\xfe", b'{"objects": [}'):
        response = w.client.post(
            w.objects_url(), content=content, headers=w.headers(**{"Content-Type": TAXII_21})
        )
        w.assert_error(response, 400)


def test_internal_errors_do_not_leak(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """App. B: a 500 is a generic TAXII error; the exception text goes to the log only."""
    from fastapi.testclient import TestClient

    from exchange.api.routes import collections
    from exchange.app import create_app

    def explode(*_args: object) -> None:
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(collections, "list_collections", explode)
    w = sqlite_world
    with TestClient(create_app(w.hub.settings, hub=w.hub), raise_server_exceptions=False) as c:
        response = c.get(w.url("collections/"), headers=w.headers())
    body = w.assert_error(response, 500)
    assert "secret" not in response.text
    assert body["title"] == "Internal Server Error"
    assert "secret database detail" in caplog.text


def _json(obj: dict[str, Any]) -> bytes:
    import orjson

    return orjson.dumps(obj)
