"""Every response is a valid TAXII 2.1 resource of its endpoint (§8.2.1-5/6, §2, §3.8)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import stix2
from pydantic import BaseModel

from exchange.protocol.media import TAXII_21
from exchange.protocol.taxii import (
    ApiRoot,
    Collection,
    Collections,
    Discovery,
    Envelope,
    Manifest,
    ManifestRecord,
    Status,
    StatusDetails,
    TaxiiError,
    Versions,
)

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

TAXII_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
NESTED: dict[type[BaseModel], dict[str, type[BaseModel]]] = {
    Collections: {"collections": Collection},
    Manifest: {"objects": ManifestRecord},
    Status: {"successes": StatusDetails, "failures": StatusDetails, "pendings": StatusDetails},
}


def _no_empty_lists(value: Any, where: str = "$") -> None:
    """§2: a list is never empty (the property is omitted instead); nor are integers wide."""
    if isinstance(value, list):
        assert value, f"empty list at {where}"
        for index, item in enumerate(value):
            _no_empty_lists(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_empty_lists(item, f"{where}.{key}")
    elif isinstance(value, int) and not isinstance(value, bool):
        assert -(2**53) < value < 2**53, f"integer out of range at {where}"


def _conforms(response: Any, model: type[BaseModel]) -> dict[str, Any]:
    """Check a response body is exactly ``model``: known, case-exact names and strict types."""
    assert response.headers["content-type"] == TAXII_21
    body: dict[str, Any] = response.json()
    assert set(body) <= set(model.model_fields), set(body) - set(model.model_fields)
    model.model_validate(body, strict=True)
    for name, inner in NESTED.get(model, {}).items():
        for item in body.get(name, []):
            assert set(item) <= set(inner.model_fields), (name, item)
    _no_empty_lists(body)
    return body


def test_every_resource_conforms(world: World, stix: StixFactory) -> None:
    w = world
    v1 = stix.indicator()
    objects = [v1, stix.revise(v1, "2026-06-01T00:00:00.000Z"), stix.sco(), stix.marking()]
    objects += [stix.custom(), stix.note()]
    posted = w.post([*objects, stix.indicator(spec_version="2.0")])
    assert posted.status_code == 202
    status = _conforms(posted, Status)
    assert status["failure_count"] == 1

    _conforms(w.get("/taxii2/"), Discovery)
    _conforms(w.get(w.url()), ApiRoot)
    _conforms(w.get(w.url("collections/")), Collections)
    _conforms(w.get(w.url("collections/"), who="auditor"), Collections)
    _conforms(w.get(w.url("collections/reports/")), Collection)
    assert _conforms(w.get(w.url(f"status/{status['id']}/")), Status) == status

    for params in ({}, {"match[version]": "all"}, {"limit": "2"}, {"match[type]": "malware"}):
        manifest = _conforms(w.get(w.manifest_url(), params=params), Manifest)
        for record in manifest.get("objects", []):
            assert TAXII_TIMESTAMP.match(record["date_added"])
        envelope = _conforms(w.get(w.objects_url(), params=params), Envelope)
        for obj in envelope.get("objects", []):
            # Envelopes hold STIX 2.1 objects (§3.7).
            stix2.parse(obj, allow_custom=True, version="2.1")
    _conforms(w.get(w.object_url(v1["id"])), Envelope)
    _conforms(w.get(w.versions_url(v1["id"])), Versions)
    # No version matches on a first page: a TAXII error, not an empty resource (§5.7).
    for url in (w.object_url(v1["id"]), w.versions_url(v1["id"])):
        none = w.get(url, params={"added_after": "2999-01-01T00:00:00Z"})
        _conforms(none, TaxiiError)
        w.assert_no_such_object(none)


def test_every_error_conforms(sqlite_world: World) -> None:
    w = sqlite_world
    errors = [
        w.get("/taxii2/", who=None),
        w.get(w.objects_url(), who="writer"),
        w.get(w.url("collections/nope/")),
        w.get("/taxii2/", Accept="text/html"),
        w.get(w.objects_url(), params={"limit": "x"}),
        w.post([]),
        w.client.put("/taxii2/", headers=w.headers()),
    ]
    for response in errors:
        body = _conforms(response, TaxiiError)
        assert body["http_status"] == str(response.status_code)
        assert body["title"]
