"""What the OpenAPI document says of each route beyond its success: errors, filters, bodies.

Routes declare these themselves (``responses=``, ``openapi_extra=``); this module
holds the declarations they share. An error response names `TaxiiError` as its
model, so FastAPI files it under the route's own media type: the TAXII one on
``/taxii2/`` routes, ``application/json`` on the exchange's own API. The filters a
paged route documents come from the same `Filters` its handler parses with, so the
document cannot promise a parameter the route ignores (TAXII 2.1 §3.4).

The app's ``openapi()`` is FastAPI's passed through two functions. `without_validation_422`:
FastAPI adds a ``422`` to every route that has parameters, but the hub answers a
request FastAPI fails to parse with a ``400`` TAXII error, which the routes declare;
its only ``422`` is the one some routes declare for a body they cannot process (§5.5).
`with_security`: the schemes a route takes (HTTP Basic or Bearer), read off the
dependencies that authenticate its caller (`CurrentMember`, `MemberOrAnonymous`), so
the document follows the code without the authentication dependencies changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from exchange.api.deps import CurrentMember, MemberOrAnonymous
from exchange.api.pagination import Filters
from exchange.protocol.media import TAXII_21
from exchange.protocol.taxii import TaxiiError

__all__ = [
    "AUTHENTICATED",
    "DATE_ADDED_HEADERS",
    "envelope_body",
    "errors",
    "filter_parameters",
    "json_body",
    "with_security",
    "without_validation_422",
]

_WHEN = {
    400: "A malformed query parameter, path parameter, header or body (TAXII 2.1 §3.4).",
    401: "No valid credentials (HTTP Basic or Bearer).",
    403: "The caller may see the resource but not do this (TAXII 2.1 §5).",
    404: "No such resource, or one the caller may not know of.",
    406: f"The Accept header admits no {TAXII_21} response (TAXII 2.1 §3.1).",
    409: "The change clashes with the hub's state (a stale or forked version).",
    413: "The body is larger than the API root's max_content_length (TAXII 2.1 §4.2).",
    415: f"The body's Content-Type is not {TAXII_21} (TAXII 2.1 §3.1).",
    422: "The body parses but cannot be processed (TAXII 2.1 §5.5).",
    429: "Too many requests: retry after the number of seconds in Retry-After.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The schemes the hub takes (RFC 7235): Basic and Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying (RFC 9110 §10.2.3).",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

AUTHENTICATED = (400, 401, 429)
"""What any route taking credentials may answer: an over-long query string (checked
before routing), refused credentials, and the rate limit."""


def errors(*statuses: int, media_type: str | None = None) -> dict[int | str, dict[str, Any]]:
    """Return the ``responses=`` declaring each of ``statuses`` as an error resource (§3.6.1),
    under the route's media type, or ``media_type`` for a route whose successes have another.
    """
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        declared[status] = {"description": _WHEN[status]}
        if media_type is None:
            declared[status]["model"] = TaxiiError
        else:
            schema = TaxiiError.model_json_schema()
            declared[status]["content"] = {media_type: {"schema": schema}}
        if status in _HEADERS:
            declared[status]["headers"] = _HEADERS[status]
    return declared


DATE_ADDED_HEADERS: dict[str, Any] = {
    "X-TAXII-Date-Added-First": {
        "description": "The date_added of the first object in the response (TAXII 2.1 §3.2);"
        " absent when the response holds none.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "X-TAXII-Date-Added-Last": {
        "description": "The date_added of the last object in the response (TAXII 2.1 §3.2);"
        " absent when the response holds none.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "X-Exchange-Page-Limit": {
        "description": "Present when the hub lowered the requested limit: the limit applied.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
"""The headers of a 2xx page of objects, manifest records or versions."""

_TYPES = r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]"
_IDS = _TYPES + r"--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SPEC_VERSIONS = r"[0-9]{1,3}\.[0-9]{1,3}"


def _listed(item: str) -> str:
    return rf"^{item}(,{item})*$"


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_FILTERS: list[tuple[Filters, list[dict[str, Any]]]] = [
    (
        Filters.PAGING,
        [
            _query(
                "added_after",
                "Only objects added after this timestamp (TAXII 2.1 §3.4).",
                {"type": "string", "format": "date-time"},
            ),
            _query(
                "limit",
                "At most this many objects; the hub may return fewer (TAXII 2.1 §3.4).",
                {"type": "integer", "minimum": 1},
            ),
            _query(
                "next",
                "The next value of the previous page, with the same filters (TAXII 2.1 §3.4).",
                {"type": "string", "minLength": 1},
            ),
        ],
    ),
    (
        Filters.ID,
        [
            _query(
                "match[id]",
                "STIX ids, comma-separated (TAXII 2.1 §3.4.1).",
                {"type": "string", "pattern": _listed(_IDS)},
            )
        ],
    ),
    (
        Filters.TYPE,
        [
            _query(
                "match[type]",
                "STIX types, comma-separated (TAXII 2.1 §3.4.1).",
                {"type": "string", "pattern": _listed(_TYPES)},
            )
        ],
    ),
    (
        Filters.VERSION,
        [
            _query(
                "match[version]",
                "'first', 'last', 'all' or STIX timestamps, comma-separated; 'all' stands"
                " alone (TAXII 2.1 §3.4.1).",
                {"type": "string", "minLength": 1},
            )
        ],
    ),
    (
        Filters.SPEC_VERSION,
        [
            _query(
                "match[spec_version]",
                "STIX spec versions, comma-separated (TAXII 2.1 §3.4.1).",
                {"type": "string", "pattern": _listed(_SPEC_VERSIONS)},
            )
        ],
    ),
]


def filter_parameters(takes: Filters) -> dict[str, Any]:
    """Return the ``openapi_extra`` declaring the query parameters of a route taking ``takes``."""
    return {"parameters": [p for flag, params in _FILTERS if flag in takes for p in params]}


_ENVELOPE_IN: dict[str, Any] = {
    "title": "Envelope",
    "description": "A TAXII envelope (§3.7) of STIX objects to add, at most the API root's"
    " maximum per envelope. Each object is validated as STIX 2.1; the status lists those"
    " refused, which are not stored.",
    "type": "object",
    "required": ["objects"],
    "properties": {
        "objects": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string", "pattern": f"^{_IDS}$"}},
            },
        },
        "more": {"type": "boolean"},
        "next": {"type": "string"},
    },
}


def envelope_body(links: dict[str, Any]) -> dict[str, Any]:
    """Return the ``openapi_extra`` of the add-objects route (§5.5): a TAXII envelope in,
    and its 202 ``status`` linked to the operations that take what it names (``links``)."""
    return {
        "requestBody": {"required": True, "content": {TAXII_21: {"schema": _ENVELOPE_IN}}},
        "responses": {"202": {"links": links}},
    }


def json_body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Return the ``openapi_extra`` declaring a JSON request body of ``schema``."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def without_validation_422(document: dict[str, Any]) -> dict[str, Any]:
    """Return ``document`` (FastAPI's) without the ``422`` FastAPI adds for its own
    request validation, which this hub answers with a declared ``400`` instead."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            declared = operation.get("responses", {}).get("422", {})
            media = declared.get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del operation["responses"]["422"]
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


_SCHEMES = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "Username: the member id (identity--<uuid4>); password: its token.",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "A member's token."},
}
_MEMBER: list[dict[str, list[str]]] = [{"basic": []}, {"bearer": []}]
_MEMBER_OR_ANONYMOUS = [*_MEMBER, {}]  # {}: no credentials at all (a public feed)


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def with_security(document: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """Return ``document`` (of the app with ``routes``) declaring its security schemes and,
    on each operation, those its route's dependencies take."""
    member = get_args(CurrentMember)[1].dependency
    member_or_anonymous = get_args(MemberOrAnonymous)[1].dependency
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path not in document["paths"]:
            continue
        calls = _calls(route.dependant)
        if member in calls:
            security = _MEMBER
        elif member_or_anonymous in calls:
            security = _MEMBER_OR_ANONYMOUS
        else:
            continue
        for method in context.methods or ():
            document["paths"][context.path][method.lower()]["security"] = security
    document.setdefault("components", {})["securitySchemes"] = _SCHEMES
    return document
