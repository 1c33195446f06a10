"""Adding objects and the status resource (TAXII 2.1 §4.3, §5.5, §7.1; STIX 2.1 validation)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from exchange.protocol.media import TAXII_21
from exchange.protocol.timestamps import parse_timestamp_micros

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

TAXII_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
T1 = "2026-01-01T00:00:00.000Z"
T2 = "2026-02-01T00:00:00.000Z"
INVALID_CASES = 21  # len(_invalid_objects(...))
REQUIRED = {"id", "status", "total_count", "success_count", "failure_count", "pending_count"}


def _stored(w: World) -> list[tuple[str, str]]:
    """Every stored (id, version) of 'reports', in date_added order."""
    body = w.get(w.manifest_url(), params={"match[version]": "all"}).json()
    return [(r["id"], r["version"]) for r in body.get("objects", [])]


def _check_status(body: dict[str, Any]) -> None:
    assert set(body) >= REQUIRED
    assert uuid.UUID(body["id"]).version == 4
    assert body["status"] in ("complete", "pending")
    for name in ("total_count", "success_count", "failure_count", "pending_count"):
        assert isinstance(body[name], int)
        assert 0 <= body[name] < 2**53
    assert body["total_count"] == (
        body["success_count"] + body["failure_count"] + body["pending_count"]
    )
    for name, count in (
        ("successes", "success_count"),
        ("failures", "failure_count"),
        ("pendings", "pending_count"),
    ):
        details = body.get(name)
        if body[count] == 0:
            assert name not in body  # §2: lists are never empty
        else:
            assert details is not None
            assert len(details) == body[count]
            for detail in details:
                assert {"id", "version"} <= set(detail) <= {"id", "version", "message"}
    assert TAXII_TIMESTAMP.match(body["request_timestamp"])


# --- the status resource (§4.3, §5.5) -----------------------------------------------------


def test_post_answers_202_with_a_status(world: World, stix: StixFactory) -> None:
    w = world
    objects = [stix.indicator(), stix.note(), stix.custom()]
    response = w.post(objects)
    assert response.status_code == 202
    assert response.headers["content-type"] == TAXII_21
    body = response.json()
    _check_status(body)
    assert body["status"] == "complete"
    assert (body["total_count"], body["success_count"], body["failure_count"]) == (3, 3, 0)
    assert body["pending_count"] == 0
    assert body["successes"] == [{"id": o["id"], "version": o["modified"]} for o in objects]
    assert _stored(w) == [(o["id"], o["modified"]) for o in objects]


def test_get_status_returns_the_same_content(world: World, stix: StixFactory) -> None:
    w = world
    good, bad = stix.indicator(), stix.indicator(spec_version="2.0")
    posted = w.post([good, bad]).json()
    response = w.get(w.url(f"status/{posted['id']}/"))
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    assert response.json() == posted
    _check_status(response.json())
    # Still there after other requests (§4.3: kept for a while after processing).
    w.post_ok([stix.note()])
    assert w.get(w.url(f"status/{posted['id']}/")).json() == posted


def test_status_of_another_member_is_404(world: World, stix: StixFactory) -> None:
    w = world
    posted = w.post([stix.indicator()], who="writer").json()
    assert w.get(w.url(f"status/{posted['id']}/"), who="writer").status_code == 200
    unknown = str(uuid.UUID(int=1, version=4))
    answers = [
        w.get(w.url(f"status/{posted['id']}/"), who="owner"),
        w.get(w.url(f"status/{posted['id']}/"), who="reader"),
        w.get(w.url(f"status/{unknown}/"), who="writer"),
        w.get(w.url("status/not-a-status/"), who="writer"),
        w.get(w.url(f"status/{'x' * 500}/"), who="writer"),
    ]
    for answer in answers:
        w.assert_error(answer, 404)
    assert len({a.content for a in answers}) == 1


# --- duplicates (§5.5) ----------------------------------------------------------------------


def test_reposting_an_identical_object_is_a_success(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    w.post_ok([obj])
    again = w.post([obj]).json()
    _check_status(again)
    assert again["success_count"] == 1
    assert again["failure_count"] == 0
    assert again["successes"][0]["id"] == obj["id"]
    assert again["successes"][0]["version"] == obj["modified"]
    # Key order and whitespace do not make a different object.
    reordered = dict(reversed(list(obj.items())))
    response = w.client.post(
        w.objects_url(),
        content=orjson.dumps({"objects": [reordered]}, option=orjson.OPT_INDENT_2),
        headers=w.headers(**{"Content-Type": TAXII_21}),
    )
    assert response.json()["success_count"] == 1
    assert _stored(w) == [(obj["id"], obj["modified"])]


def test_duplicate_within_one_envelope(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    body = w.post([obj, obj]).json()
    assert (body["success_count"], body["failure_count"]) == (2, 0)
    assert _stored(w) == [(obj["id"], obj["modified"])]


def test_same_id_and_version_with_other_content_is_a_failure(
    world: World, stix: StixFactory
) -> None:
    w = world
    obj = stix.indicator()
    w.post_ok([obj])
    clash = {**obj, "name": "Something else"}
    body = w.post([clash, stix.note()]).json()
    _check_status(body)
    assert (body["success_count"], body["failure_count"]) == (1, 1)
    (failure,) = body["failures"]
    assert failure["id"] == obj["id"]
    assert failure["version"] == obj["modified"]
    assert "different object" in failure["message"]
    served = w.get(w.object_url(obj["id"])).json()["objects"]
    assert served == [obj]


def test_clash_within_one_envelope(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    body = w.post([obj, {**obj, "name": "other"}]).json()
    assert (body["success_count"], body["failure_count"]) == (1, 1)
    assert w.get(w.object_url(obj["id"])).json()["objects"] == [obj]


# --- STIX validation: failures are listed and not stored ---------------------------------


def _invalid_objects(stix: StixFactory) -> list[tuple[str, dict[str, Any], str]]:
    """(case, object, expected message fragment)."""
    mismatch = stix.indicator()
    mismatch["type"] = "malware"
    no_spec = stix.indicator()
    del no_spec["spec_version"]
    no_pattern = stix.indicator()
    del no_pattern["pattern"]
    return [
        (
            "non-RFC-4122 uuid",
            stix.indicator(id="indicator--00000000-0000-0000-0000-000000000000"),
            "id",
        ),
        ("type mismatch", mismatch, "must start with its type"),
        ("bad type", {**stix.indicator(), "type": "Indicator!"}, "'type'"),
        ("invalid date", stix.indicator(created="2026-13-01T00:00:00.000Z"), "created"),
        ("not a timestamp", stix.indicator(modified="last tuesday"), "modified"),
        ("offset timestamp", stix.indicator(created="2026-01-01T00:00:00+01:00"), "created"),
        ("number timestamp", stix.indicator(created=1767225600), "created"),
        ("modified < created", stix.indicator(created=T2, modified=T1), "earlier than"),
        ("spec_version 2.0", stix.indicator(spec_version="2.0"), "spec_version"),
        ("no spec_version", no_spec, "spec_version"),
        ("broken pattern", stix.indicator(pattern="[ipv4-addr:value = "), "pattern"),
        ("unknown pattern object", stix.indicator(pattern="[x:y = 'z'] AND"), "pattern"),
        ("missing pattern", no_pattern, "pattern"),
        (
            "bad indicator_types",
            stix.indicator(indicator_types="malicious-activity"),
            "indicator_types",
        ),
        ("bad custom property", stix.indicator(**{"X-Bad": 1}), "X-Bad"),
        ("short custom property", stix.indicator(ab=1), "'ab'"),
        ("upper-case custom property", stix.indicator(x_Acme_score=1), "x_Acme_score"),
        ("custom object, bad name", stix.custom(**{"x-bad-name": 1}), "x-bad-name"),
        ("custom object, short name", stix.custom(xy=1), "'xy'"),
        (
            "custom object, no spec_version",
            {k: v for k, v in stix.custom().items() if k != "spec_version"},
            "spec_version",
        ),
        ("sco with bad value", {**stix.sco(), "value": 42}, "value"),
    ]


def test_invalid_objects_fail_and_valid_siblings_are_stored(
    world: World, stix: StixFactory
) -> None:
    w = world
    cases = _invalid_objects(stix)
    assert len(cases) == INVALID_CASES
    good = [stix.indicator(), stix.custom(), stix.sco(), stix.marking()]
    envelope = [
        good[0],
        *[obj for _, obj, _ in cases[:10]],
        good[1],
        good[2],
        *[obj for _, obj, _ in cases[10:]],
        good[3],
    ]
    response = w.post(envelope)
    assert response.status_code == 202
    body = response.json()
    _check_status(body)
    assert body["total_count"] == len(envelope)
    assert body["success_count"] == len(good)
    assert body["failure_count"] == len(cases)
    assert [s["id"] for s in body["successes"]] == [o["id"] for o in good]
    # Failures are listed in envelope order, each with a message saying why.
    assert [f["id"] for f in body["failures"]] == [obj["id"] for _, obj, _ in cases]
    for (case, _, fragment), failure in zip(cases, body["failures"], strict=True):
        assert fragment in failure["message"], (case, failure["message"])
        assert len(failure["message"]) <= 300
        assert isinstance(failure["version"], str)
    stored_ids = {i for i, _ in _stored(w)}
    assert stored_ids == {o["id"] for o in good}
    for _, obj, _ in cases:
        w.assert_error(w.get(w.object_url(obj["id"])), 404)


@pytest.mark.parametrize("index", range(INVALID_CASES))
def test_each_invalid_object_alone(sqlite_world: World, stix: StixFactory, index: int) -> None:
    w = sqlite_world
    case, obj, fragment = _invalid_objects(stix)[index]
    body = w.post([obj]).json()
    assert (body["success_count"], body["failure_count"]) == (0, 1), case
    assert fragment in body["failures"][0]["message"]
    assert _stored(w) == []


def test_failure_version_follows_modified_created_rule(
    sqlite_world: World, stix: StixFactory
) -> None:
    """§4.3.1 status-details: version is modified, else created, else a server value."""
    w = sqlite_world
    with_modified = stix.indicator(created=T1, modified=T2, pattern="[")
    created_only = stix.marking(created=T1)
    created_only["definition_type"] = "nonsense"
    created_only["definition"] = "x"
    sco = {**stix.sco(), "value": 42}
    body = w.post([with_modified, created_only, sco]).json()
    versions = [f["version"] for f in body["failures"]]
    assert versions[:2] == [T2, T1]
    assert versions[2] == body["request_timestamp"]


def test_valid_custom_content_is_stored(world: World, stix: StixFactory) -> None:
    """§7.1: well-named custom properties and custom objects are kept as sent."""
    w = world
    objects = [
        stix.indicator(x_acme_score=3, x_acme_tags=["a"]),
        stix.custom(x_trend_window="Q3"),
        stix.custom(**{"x_" + "a" * 248: 1}),
    ]
    w.post_ok(objects)
    served = w.get(w.objects_url()).json()["objects"]
    assert served == objects


def test_unversioned_sco_gets_a_consistent_version(world: World, stix: StixFactory) -> None:
    """§3.4.1/§5.3.1: neither modified nor created: a server-consistent version."""
    w = world
    sco = stix.sco()
    first = w.post_ok([sco])
    version = first["successes"][0]["version"]
    assert TAXII_TIMESTAMP.match(version)
    (record,) = w.get(w.manifest_url()).json()["objects"]
    assert record["version"] == version == record["date_added"]
    assert w.get(w.versions_url(sco["id"])).json()["versions"] == [version]
    # Re-posting it is a duplicate with the same version, not a second version.
    again = w.post_ok([sco])
    assert again["successes"] == [
        {"id": sco["id"], "version": version, "message": "Already stored."}
    ]
    assert _stored(w) == [(sco["id"], version)]
    # The version can be asked for like any other.
    matched = w.get(w.objects_url(), params={"match[version]": version}).json()
    assert matched["objects"] == [sco]
    # The same id with other content is a clash.
    clash = w.post([{**sco, "value": "192.0.2.1"}]).json()
    assert clash["failure_count"] == 1
    assert clash["failures"][0]["version"] == version


def test_date_added_strictly_increases_within_a_request(world: World, stix: StixFactory) -> None:
    w = world
    objects = [stix.indicator() for _ in range(60)] + [stix.sco(f"192.0.2.{i}") for i in range(20)]
    w.post_ok(objects)
    more = [stix.note() for _ in range(5)]
    w.post_ok(more)
    records = w.get(w.manifest_url()).json()["objects"]
    assert [r["id"] for r in records] == [o["id"] for o in objects + more]
    added = [parse_timestamp_micros(r["date_added"]) for r in records]
    assert all(a < b for a, b in itertools.pairwise(added))
    # Unversioned observables in one request still get distinct versions.
    sco_versions = [r["version"] for r in records[60:80]]
    assert len(set(sco_versions)) == 20


# --- envelopes that are refused as a whole ----------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        [],
        "objects",
        42,
        None,
        {},
        {"more": False},
        {"objects": None},
        {"objects": {}},
        {"objects": "x"},
        {"objects": []},
        {"objects": [42]},
        {"objects": [{"type": "indicator"}]},
        {"objects": [{"id": "indicator--not-a-uuid", "type": "indicator"}]},
        {"objects": [{"id": 7}]},
        {"type": "bundle", "id": "bundle--6ba7b810-9dad-41d1-80b4-00c04fd430c8", "objects": []},
    ],
)
def test_not_an_acceptable_envelope_is_422(sqlite_world: World, document: object) -> None:
    w = sqlite_world
    response = w.client.post(
        w.objects_url(),
        content=orjson.dumps(document),
        headers=w.headers(**{"Content-Type": TAXII_21}),
    )
    body = w.assert_error(response, 422)
    assert body["title"] == "Unprocessable Content"
    assert _stored(w) == []


def test_one_malformed_id_refuses_the_whole_envelope(
    sqlite_world: World, stix: StixFactory
) -> None:
    """Without a well-formed id an object cannot be named in the status: the envelope is 422."""
    w = sqlite_world
    good = stix.indicator()
    bad = {**stix.indicator(), "id": "indicator--XYZ"}
    w.assert_error(w.post([good, bad]), 422)
    assert _stored(w) == []


def test_too_many_objects_is_422(backend: str, make_world: Any, stix: StixFactory) -> None:
    w = make_world(backend, max_objects_per_envelope=3)
    body = w.assert_error(w.post([stix.indicator() for _ in range(4)]), 422)
    assert "at most 3" in body["description"]
    assert _stored(w) == []
    w.post_ok([stix.indicator() for _ in range(3)])
    assert len(_stored(w)) == 3


def _exact_body(objects: list[dict[str, Any]], size: int) -> bytes:
    body = orjson.dumps({"objects": objects})
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_body_over_max_content_length_is_413(
    backend: str, make_world: Any, stix: StixFactory
) -> None:
    limit = 2000
    w = make_world(backend, max_content_length=limit)
    assert w.get(w.url()).json()["max_content_length"] == limit
    headers = w.headers(**{"Content-Type": TAXII_21})
    over = _exact_body([stix.indicator()], limit + 1)
    body = w.assert_error(w.client.post(w.objects_url(), content=over, headers=headers), 413)
    assert body["title"] == "Payload Too Large"
    assert str(limit) in body["description"]
    assert _stored(w) == []
    # §4.2.1: a request no larger than max_content_length is not refused.
    obj = stix.indicator()
    exact = _exact_body([obj], limit)
    response = w.client.post(w.objects_url(), content=exact, headers=headers)
    assert response.status_code == 202
    assert _stored(w) == [(obj["id"], obj["modified"])]


def test_streamed_body_over_max_content_length_is_413(make_world: Any, stix: StixFactory) -> None:
    """No Content-Length (chunked): the limit is enforced while reading."""
    limit = 2000
    w = make_world("sqlite", max_content_length=limit)
    payload = _exact_body([stix.indicator()], limit + 500)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 256):
            yield payload[start : start + 256]

    request = w.client.build_request(
        "POST", w.objects_url(), content=chunks(), headers=w.headers(**{"Content-Type": TAXII_21})
    )
    assert "content-length" not in request.headers
    w.assert_error(w.client.send(request), 413)
    assert _stored(w) == []


def test_malformed_content_length_is_400(sqlite_world: World, stix: StixFactory) -> None:
    w = sqlite_world
    request = w.client.build_request(
        "POST",
        w.objects_url(),
        content=orjson.dumps({"objects": [stix.indicator()]}),
        headers=w.headers(**{"Content-Type": TAXII_21}),
    )
    request.headers["Content-Length"] = "12a"
    w.assert_error(w.client.send(request), 400)
    assert _stored(w) == []


def test_permission_is_checked_before_the_body(sqlite_world: World) -> None:
    """A member without write access learns nothing from the body's fate."""
    w = sqlite_world
    headers = w.headers("reader", **{"Content-Type": TAXII_21})
    w.assert_error(w.client.post(w.objects_url(), content=b"{nope", headers=headers), 403)
    headers = w.headers("outsider", **{"Content-Type": TAXII_21})
    w.assert_error(w.client.post(w.objects_url(), content=b"{nope", headers=headers), 404)


def test_a_large_envelope_validated_in_processes_gives_the_same_status(
    world: World, stix: StixFactory
) -> None:
    """From 64 objects on, validation runs in a pool of processes: the status still
    lists every failure in envelope order with its reason, and stores the rest."""
    w = world
    w.hub.validator.processes = 2
    cases = _invalid_objects(stix)
    good = [stix.indicator() for _ in range(240)]
    envelope: list[dict[str, Any]] = []
    for i, obj in enumerate(good):
        envelope.append(obj)
        if i % 10 == 0 and i // 10 < len(cases):
            envelope.append(cases[i // 10][1])
    try:
        body = w.post(envelope).json()
        assert w.hub.validator._pool is not None  # the pool did the work
    finally:
        w.hub.validator.close()
    _check_status(body)
    assert (body["success_count"], body["failure_count"]) == (len(good), len(cases))
    assert [s["id"] for s in body["successes"]] == [o["id"] for o in good]
    assert [f["id"] for f in body["failures"]] == [obj["id"] for _, obj, _ in cases]
    for (case, _, fragment), failure in zip(cases, body["failures"], strict=True):
        assert fragment in failure["message"], (case, failure["message"])
    assert {i for i, _ in _stored(w)} == {o["id"] for o in good}
