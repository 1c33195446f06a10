"""The published OpenAPI document says what the routes do (issue 8, item 2).

These hold the document's key facts even where schemathesis does not run: each
TAXII route's resource, media type (on its success and on every error), query
parameters, headers and error responses; the exchange API's errors as JSON; the
authentication each route takes; and no FastAPI ``422`` validation error, which
the hub never sends. The filters a
route declares are the ones it parses: a malformed declared filter is a 400, an
undeclared one is ignored (TAXII 2.1 §3.4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exchange.app import create_app
from exchange.protocol.media import TAXII_21
from exchange.settings import HubSettings
from tests.exchange.conftest import ROOT, StixFactory, World

DOCUMENT = create_app(HubSettings(home=Path("unused"))).openapi()  # never started
PATHS: dict[str, dict[str, Any]] = DOCUMENT["paths"]
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in PATHS.items()
    for method, operation in operations.items()
]
TAXII = [(m, p, o) for m, p, o in OPERATIONS if p.startswith("/taxii2/")]
OWN_API = [(m, p, o) for m, p, o in OPERATIONS if not p.startswith("/taxii2/")]


def ids(operations: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in operations]


_C = "/taxii2/{api_root}/collections/{collection_id}"
PAGING = ["added_after", "limit", "next"]
FILTERS = {
    # TAXII 2.1 §5.3, §5.4, §5.6, §5.7, §5.8: exactly the parameters each endpoint takes.
    ("GET", f"{_C}/manifest/"): [*PAGING, "match[id]", "match[type]", "match[version]",
                                 "match[spec_version]"],
    ("GET", f"{_C}/objects/"): [*PAGING, "match[id]", "match[type]", "match[version]",
                                "match[spec_version]"],
    ("GET", f"{_C}/objects/{{object_id}}/"): [*PAGING, "match[version]", "match[spec_version]"],
    ("DELETE", f"{_C}/objects/{{object_id}}/"): ["match[version]", "match[spec_version]"],
    ("GET", f"{_C}/objects/{{object_id}}/versions/"): [*PAGING, "match[spec_version]"],
}  # fmt: skip
"""The query parameters of the TAXII routes that take any."""

RESOURCES = {
    ("GET", "/taxii2/"): "Discovery",
    ("GET", "/taxii2/{api_root}/"): "ApiRoot",
    ("GET", "/taxii2/{api_root}/status/{status_id}/"): "Status",
    ("GET", "/taxii2/{api_root}/collections/"): "Collections",
    ("GET", f"{_C}/"): "Collection",
    ("GET", f"{_C}/manifest/"): "Manifest",
    ("GET", f"{_C}/objects/"): "Envelope",
    ("POST", f"{_C}/objects/"): "Status",
    ("GET", f"{_C}/objects/{{object_id}}/"): "Envelope",
    ("DELETE", f"{_C}/objects/{{object_id}}/"): None,
    ("GET", f"{_C}/objects/{{object_id}}/versions/"): "Versions",
}
"""The resource of each TAXII route's success (None: no body)."""

ERROR_BODY = "#/components/schemas/TaxiiError"


def success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(status, response)] = [(s, r) for s, r in operation["responses"].items() if s < "300"]
    return status, response


def error_statuses(operation: dict[str, Any]) -> list[int]:
    return sorted(int(s) for s in operation["responses"] if s >= "400")


def error_schema(response: dict[str, Any], media_type: str) -> dict[str, Any]:
    [(declared, media)] = response["content"].items()
    assert declared == media_type
    schema: dict[str, Any] = media["schema"]
    return schema


def test_the_document_is_served_at_fastapis_default_url(sqlite_world: World) -> None:
    response = sqlite_world.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOCUMENT
    assert sqlite_world.client.get("/docs").status_code == 200


def test_every_taxii_route_is_documented() -> None:
    assert {(m, p) for m, p, _ in TAXII} == RESOURCES.keys()


@pytest.mark.parametrize(("method", "path", "operation"), TAXII, ids=ids(TAXII))
def test_a_taxii_success_is_its_resource_as_taxii(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    status, response = success(operation)
    assert status == ("202" if method == "POST" else "200")
    resource = RESOURCES[method, path]
    if resource is None:
        assert "content" not in response
        return
    assert response["content"] == {
        TAXII_21: {"schema": {"$ref": f"#/components/schemas/{resource}"}}
    }


@pytest.mark.parametrize(("method", "path", "operation"), TAXII, ids=ids(TAXII))
def test_a_taxii_error_is_an_error_resource_as_taxii(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    statuses = error_statuses(operation)
    assert {400, 401, 406, 429} <= set(statuses)
    if "{api_root}" in path:
        assert 404 in statuses
    for status in statuses:
        schema = error_schema(operation["responses"][str(status)], TAXII_21)
        assert schema.get("$ref") == ERROR_BODY or schema["title"] == "TaxiiError"


def test_the_error_body_is_the_taxii_error_resource() -> None:
    schema = DOCUMENT["components"]["schemas"]["TaxiiError"]
    assert schema["required"] == ["title"]
    assert set(schema["properties"]) == {
        "title",
        "description",
        "error_id",
        "error_code",
        "http_status",
        "external_details",
        "details",
    }


@pytest.mark.parametrize(("method", "path", "operation"), OWN_API, ids=ids(OWN_API))
def test_an_exchange_api_error_is_an_error_resource_as_json(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    statuses = error_statuses(operation)
    assert 400 in statuses
    for status in statuses:
        schema = error_schema(operation["responses"][str(status)], "application/json")
        assert schema.get("$ref") == ERROR_BODY or schema["title"] == "TaxiiError"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=ids(OPERATIONS))
def test_authenticated_routes_declare_401_and_429_with_their_headers(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    if path.startswith("/.well-known/"):  # public: no credentials, no rate limit yet
        assert error_statuses(operation) == [400]
        return
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]


ANONYMOUS_TOO = {
    ("GET", f"{_C}/"),
    ("GET", f"{_C}/manifest/"),
    ("GET", f"{_C}/objects/"),
    ("GET", f"{_C}/objects/{{object_id}}/"),
    ("GET", f"{_C}/objects/{{object_id}}/versions/"),
}
"""The routes that also answer a caller without credentials (about a public feed)."""


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=ids(OPERATIONS))
def test_each_route_declares_the_authentication_it_takes(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    if path.startswith("/.well-known/"):
        assert "security" not in operation
        return
    member: list[dict[str, list[str]]] = [{"basic": []}, {"bearer": []}]
    expected = [*member, {}] if (method, path) in ANONYMOUS_TOO else member
    assert operation["security"] == expected


def test_the_security_schemes_are_http_basic_and_bearer() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "basic": ("http", "basic"),
        "bearer": ("http", "bearer"),
    }


def test_fastapis_validation_errors_are_not_documented() -> None:
    """The hub answers a request FastAPI cannot parse with a 400 TAXII error."""
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]
    for method, path, operation in OPERATIONS:
        for response in operation["responses"].values():
            assert "HTTPValidationError" not in str(response), (method, path)


@pytest.mark.parametrize(("method", "path", "operation"), TAXII, ids=ids(TAXII))
def test_each_taxii_route_declares_exactly_its_filters(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    assert query == FILTERS.get((method, path), [])


@pytest.mark.parametrize(("method", "path"), list(FILTERS), ids=[f"{m} {p}" for m, p in FILTERS])
def test_pages_declare_the_date_added_headers(method: str, path: str) -> None:
    _, response = success(PATHS[path][method.lower()])
    if method == "DELETE":
        assert "headers" not in response
        return
    assert {"X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"} <= response["headers"].keys()


def test_adding_objects_takes_a_taxii_envelope_and_declares_its_refusals() -> None:
    operation = PATHS[f"{_C}/objects/"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    [(media_type, content)] = body["content"].items()
    assert media_type == TAXII_21
    assert content["schema"]["required"] == ["objects"]
    assert {403, 404, 413, 415, 422} <= set(error_statuses(operation))
    links = operation["responses"]["202"]["links"]
    assert set(links) == {"GetStatus", "GetObject", "GetObjectVersions", "DeleteObject"}
    by_id = {o["operationId"]: (m, p, o) for m, p, o in OPERATIONS}
    for link in links.values():
        _, path, target = by_id[link["operationId"]]  # the link names a real operation
        named = {p["name"] for p in target["parameters"] if p["in"] == "path"}
        assert set(link["parameters"]) == named, path


MALFORMED = {
    "added_after": "yesterday",
    "limit": "0",
    "next": "not-a-token",
    "match[id]": "not-an-id",
    "match[type]": "Not A Type",
    "match[version]": "sometime",
    "match[spec_version]": "two",
}
"""A malformed value of each TAXII filter (each a 400 where the route takes it)."""


@pytest.mark.parametrize(("method", "path"), list(FILTERS), ids=[f"{m} {p}" for m, p in FILTERS])
def test_the_declared_filters_are_those_the_route_parses(
    sqlite_world: World, stix: StixFactory, method: str, path: str
) -> None:
    obj = stix.indicator()
    sqlite_world.post_ok([obj])
    url = path.format(api_root="trends", collection_id="reports", object_id=obj["id"])
    assert url.startswith(ROOT)
    declared = FILTERS[method, path]
    for name, value in MALFORMED.items():
        if method == "DELETE" and name not in declared:
            continue  # a DELETE that ignores it would delete the object
        response = sqlite_world.client.request(
            method, url, params={name: value}, headers=sqlite_world.headers()
        )
        if name in declared:
            body = World.assert_error(response, 400)
            assert name in body["description"], body
        else:
            assert response.status_code == 200, (name, response.text)
