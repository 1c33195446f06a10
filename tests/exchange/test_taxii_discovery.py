"""Discovery and the API root (TAXII 2.1 §4.1, §4.2, §8.2.1), routing and common rules (§3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.protocol.media import TAXII_21

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.exchange.conftest import World


def test_discovery(sqlite_world: World) -> None:
    w = sqlite_world
    response = w.get("/taxii2/")
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    body = response.json()
    assert body["title"] == "Trend Exchange"
    assert body["api_roots"] == ["/taxii2/trends/"]
    assert body["default"] in body["api_roots"]
    for root in body["api_roots"]:
        # §4.1.1: relative URLs start with a single '/' and carry no query.
        assert root.startswith("/")
        assert not root.startswith("//")
        assert "?" not in root
        assert root.endswith("/")
    assert "contact" not in body  # absent optional properties are omitted


def test_discovery_title_and_contact_come_from_settings(make_world: Callable[..., World]) -> None:
    w = make_world("sqlite", title="Exchange Test", contact="ops@example.org", api_root="eu")
    body = w.get("/taxii2/").json()
    assert body["title"] == "Exchange Test"
    assert body["contact"] == "ops@example.org"
    assert body["default"] == "/taxii2/eu/"
    assert w.get("/taxii2/eu/").status_code == 200
    w.assert_error(w.get("/taxii2/trends/"), 404)


def test_api_root_listed_by_discovery_resolves(sqlite_world: World) -> None:
    w = sqlite_world
    for root in w.get("/taxii2/").json()["api_roots"]:
        response = w.get(root)
        assert response.status_code == 200
        body = response.json()
        assert body["title"]
        assert TAXII_21 in body["versions"]
        assert isinstance(body["max_content_length"], int)
        assert 0 < body["max_content_length"] < 2**53  # a TAXII integer


def test_api_root_reports_configured_max_content_length(make_world: Callable[..., World]) -> None:
    w = make_world("sqlite", max_content_length=4096)
    assert w.get(w.url()).json()["max_content_length"] == 4096


def test_unknown_api_root_is_404(sqlite_world: World) -> None:
    w = sqlite_world
    for path in (
        "/taxii2/nope/",
        "/taxii2/nope/collections/",
        "/taxii2/nope/collections/reports/",
        "/taxii2/nope/collections/reports/objects/",
        "/taxii2/nope/collections/reports/manifest/",
        "/taxii2/nope/status/2d086da7-4bdc-4f91-900e-d77486753710/",
        "/taxii2/" + "x" * 500 + "/",
    ):
        w.assert_error(w.get(path), 404)


def test_unknown_routes_are_taxii_404(sqlite_world: World) -> None:
    w = sqlite_world
    for path in ("/", "/nope", "/taxii2/trends/nope/", "/taxii2/trends/collections/reports/x/"):
        body = w.assert_error(w.get(path), 404)
        assert body["title"] == "Not Found"


def test_paths_end_with_slash(sqlite_world: World) -> None:
    """§3.1: endpoint URLs end with '/'; without it there is no resource (and no redirect)."""
    w = sqlite_world
    for path in ("/taxii2", "/taxii2/trends", "/taxii2/trends/collections"):
        response = w.client.get(path, headers=w.headers(), follow_redirects=False)
        body = w.assert_error(response, 404)
        assert "end with '/'" in body["description"]


def test_method_not_allowed_is_taxii_405(sqlite_world: World) -> None:
    w = sqlite_world
    for method, path in (
        ("PUT", "/taxii2/"),
        ("POST", "/taxii2/trends/"),
        ("DELETE", "/taxii2/trends/collections/"),
        ("PATCH", w.objects_url()),
        ("POST", w.manifest_url()),
    ):
        response = w.client.request(method, path, headers=w.headers())
        w.assert_error(response, 405)
        assert "GET" in response.headers["allow"] or "POST" in response.headers["allow"]


def test_user_agent_is_not_required(sqlite_world: World) -> None:
    """§8.2.1-7: a request without User-Agent is served."""
    w = sqlite_world
    request = w.client.build_request("GET", "/taxii2/", headers=w.headers())
    del request.headers["user-agent"]
    assert "user-agent" not in request.headers
    assert w.client.send(request).status_code == 200
