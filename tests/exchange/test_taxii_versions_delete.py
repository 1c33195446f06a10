"""One object: its versions, getting it, deleting it (TAXII 2.1 §5.6, §5.7, §5.8)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.exchange.conftest import StixFactory, World

TAXII_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
T1 = "2026-01-01T00:00:00.000Z"
T2 = "2026-02-01T00:00:00.000Z"
T3 = "2026-03-01T00:00:00.000Z"
MISSING = "indicator--9e4c3e3b-8f6c-4b53-a4f5-0f0f0f0f0f0f"


def _modified(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["modified"] for o in response.json().get("objects", [])]


@pytest.fixture
def three(world: World, stix: StixFactory) -> tuple[World, dict[str, Any], dict[str, Any]]:
    """An indicator in three versions (added in order), and an unrelated note."""
    w = world
    v1 = stix.indicator(created=T1)
    note = stix.note()
    w.post_ok([v1, note])
    w.post_ok([stix.revise(v1, T2, name="v2")])
    w.post_ok([stix.revise(v1, T3, name="v3")])
    return w, v1, note


# --- versions (§5.8) ----------------------------------------------------------------------


def test_versions_lists_every_version_ascending(three: Any) -> None:
    w, v1, _ = three
    response = w.get(w.versions_url(v1["id"]))
    assert response.status_code == 200
    body = response.json()
    assert body == {"more": False, "versions": [T1, T2, T3]}
    assert TAXII_TIMESTAMP.match(response.headers["X-TAXII-Date-Added-First"])
    records = w.get(w.manifest_url(), params={"match[version]": "all"}).json()["objects"]
    dates = [r["date_added"] for r in records if r["id"] == v1["id"]]
    assert response.headers["X-TAXII-Date-Added-First"] == dates[0]
    assert response.headers["X-TAXII-Date-Added-Last"] == dates[-1]


def test_versions_filters_and_paging(three: Any) -> None:
    w, v1, _ = three
    url = w.versions_url(v1["id"])
    page = w.get(url, params={"limit": "2"}).json()
    assert page["versions"] == [T1, T2]
    assert page["more"] is True
    rest = w.get(url, params={"limit": "2", "next": page["next"]}).json()
    assert rest == {"more": False, "versions": [T3]}
    assert w.get(url, params={"match[spec_version]": "2.1"}).json()["versions"] == [T1, T2, T3]
    w.assert_no_such_object(w.get(url, params={"match[spec_version]": "2.0"}))
    first_added = w.get(url).headers["X-TAXII-Date-Added-First"]
    assert w.get(url, params={"added_after": first_added}).json()["versions"] == [T2, T3]
    # match[version] is not a filter of this endpoint: ignored.
    assert w.get(url, params={"match[version]": "first"}).json()["versions"] == [T1, T2, T3]
    for bad in ({"limit": "0"}, {"added_after": "x"}, {"match[spec_version]": "x"}):
        w.assert_error(w.get(url, params=bad), 400)


def test_versions_of_unversioned_objects(world: World, stix: StixFactory) -> None:
    """§5.8: no modified: created is the version; neither: a server-consistent value."""
    w = world
    marking = stix.marking(created=T2)
    sco = stix.sco()
    status = w.post_ok([marking, sco])
    assert w.get(w.versions_url(marking["id"])).json()["versions"] == [T2]
    sco_versions = w.get(w.versions_url(sco["id"])).json()["versions"]
    assert sco_versions == [status["successes"][1]["version"]]


def test_versions_of_unknown_object_is_404(three: Any) -> None:
    w, _, _ = three
    for ref in (MISSING, "not-an-id", "indicator--" + "x" * 300):
        w.assert_error(w.get(w.versions_url(ref)), 404)


# --- getting one object (§5.6) ----------------------------------------------------------


def test_object_endpoint_versions(three: Any) -> None:
    w, v1, _ = three
    url = w.object_url(v1["id"])
    latest = w.get(url)
    assert _modified(latest) == [T3]
    assert latest.json()["objects"][0]["name"] == "v3"
    assert latest.json()["more"] is False
    assert _modified(w.get(url, params={"match[version]": "last"})) == [T3]
    assert _modified(w.get(url, params={"match[version]": "first"})) == [T1]
    assert _modified(w.get(url, params={"match[version]": "all"})) == [T1, T2, T3]
    assert _modified(w.get(url, params={"match[version]": f"{T2},first"})) == [T1, T2]
    assert _modified(w.get(url, params={"match[version]": "2026-02-01T00:00:00Z"})) == [T2]
    # No version matches: 404, though the object is in the collection (§5.6, §5.7).
    w.assert_no_such_object(w.get(url, params={"match[version]": "2026-02-02T00:00:00Z"}))
    w.assert_no_such_object(w.get(url, params={"match[spec_version]": "2.0"}))
    page = w.get(url, params={"match[version]": "all", "limit": "1"}).json()
    assert page["more"] is True
    rest = w.get(url, params={"match[version]": "all", "limit": "5", "next": page["next"]})
    assert _modified(rest) == [T2, T3]
    # match[id]/match[type] do not apply to this endpoint and are ignored.
    assert _modified(w.get(url, params={"match[type]": "note"})) == [T3]


def test_object_endpoint_for_unknown_objects_is_404(three: Any) -> None:
    w, v1, note = three
    answers = [
        w.get(w.object_url(MISSING)),
        w.get(w.object_url("not-an-id")),
        w.get(w.object_url(v1["id"], feed="hidden")),
    ]
    for answer in answers:
        w.assert_error(answer, 404)
    # An object of another collection is not in this one.
    assert w.post([note], feed="hidden").status_code == 202
    w.assert_error(w.get(w.object_url(v1["id"], feed="hidden")), 404)


# --- deleting (§5.7) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("reader", 403), ("writer", 403), ("outsider", 404), ("auditor", 404)]
)
def test_delete_permission_table(three: Any, who: str, status: int) -> None:
    """§5.7: r=T,w=F -> 403; r=F,w=T -> 403; r=F,w=F -> 404 (and nothing is deleted)."""
    w, v1, _ = three
    w.assert_error(w.delete(v1["id"], who=who), status)
    assert _modified(w.get(w.object_url(v1["id"]), params={"match[version]": "all"})) == [
        T1,
        T2,
        T3,
    ]


def test_owner_deletes_every_version(three: Any) -> None:
    w, v1, note = three
    response = w.delete(v1["id"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/taxii+json;version=2.1"
    w.assert_error(w.get(w.object_url(v1["id"])), 404)
    for version in ("all", T1, T2, T3):
        w.assert_error(w.get(w.object_url(v1["id"]), params={"match[version]": version}), 404)
    w.assert_error(w.get(w.versions_url(v1["id"])), 404)
    manifest = w.get(w.manifest_url(), params={"match[version]": "all"}).json()["objects"]
    assert [r["id"] for r in manifest] == [note["id"]]
    objects = w.get(w.objects_url(), params={"match[version]": "all"}).json()["objects"]
    assert [o["id"] for o in objects] == [note["id"]]
    # Deleting again: nothing there.
    w.assert_error(w.delete(v1["id"]), 404)


def test_delete_one_version(three: Any) -> None:
    w, v1, _ = three
    url = w.object_url(v1["id"])
    assert w.delete(v1["id"], params={"match[version]": T2}).status_code == 200
    assert _modified(w.get(url, params={"match[version]": "all"})) == [T1, T3]
    w.assert_no_such_object(w.get(url, params={"match[version]": T2}))  # §5.7
    assert w.get(w.versions_url(v1["id"])).json()["versions"] == [T1, T3]
    manifest = w.get(w.manifest_url(), params={"match[version]": "all"}).json()["objects"]
    assert [r["version"] for r in manifest if r["id"] == v1["id"]] == [T1, T3]
    # That version is gone: deleting it again matches nothing.
    w.assert_error(w.delete(v1["id"], params={"match[version]": T2}), 404)


def test_only_a_first_page_is_a_404(three: Any) -> None:
    """A later page (``next``) on which nothing matches any more is an empty 200 (§3.5)."""
    w, v1, _ = three
    versions_url, object_url = w.versions_url(v1["id"]), w.object_url(v1["id"])
    every = {"match[version]": "all", "limit": "2"}
    versions = w.get(versions_url, params={"limit": "2"}).json()
    objects = w.get(object_url, params=every).json()
    assert (versions["more"], objects["more"]) == (True, True)
    assert w.delete(v1["id"], params={"match[version]": T3}).status_code == 200
    for url, params in (
        (versions_url, {"limit": "2", "next": versions["next"]}),
        (object_url, {**every, "next": objects["next"]}),
    ):
        response = w.get(url, params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {"more": False}
    w.assert_no_such_object(w.get(object_url, params={"match[version]": T3}))


def test_after_deleting_the_latest_the_previous_is_latest(three: Any) -> None:
    w, v1, note = three
    url = w.object_url(v1["id"])
    assert w.delete(v1["id"], params={"match[version]": "last"}).status_code == 200
    assert _modified(w.get(url)) == [T2]
    latest = w.get(w.objects_url()).json()["objects"]
    assert [(o["id"], o["modified"]) for o in latest] == [
        (note["id"], note["modified"]),
        (v1["id"], T2),
    ]
    manifest = w.get(w.manifest_url(), params={"match[version]": "last"}).json()["objects"]
    assert [(r["id"], r["version"]) for r in manifest][-1] == (v1["id"], T2)
    assert w.delete(v1["id"], params={"match[version]": T2}).status_code == 200
    assert _modified(w.get(url)) == [T1]
    assert _modified(w.get(url, params={"match[version]": "first"})) == [T1]


def test_after_deleting_the_first_the_next_is_first(three: Any) -> None:
    w, v1, _ = three
    url = w.object_url(v1["id"])
    assert w.delete(v1["id"], params={"match[version]": "first"}).status_code == 200
    assert _modified(w.get(url, params={"match[version]": "first"})) == [T2]
    assert _modified(w.get(url)) == [T3]


def test_a_deleted_version_may_be_added_again(three: Any, stix: StixFactory) -> None:
    w, v1, _ = three
    assert w.delete(v1["id"], params={"match[version]": T3}).status_code == 200
    again = stix.revise(v1, T3, name="v3")
    w.post_ok([again])
    assert _modified(w.get(w.object_url(v1["id"]))) == [T3]
    assert w.get(w.versions_url(v1["id"])).json()["versions"] == [T1, T2, T3]


def test_delete_with_spec_version(three: Any) -> None:
    w, v1, _ = three
    w.assert_error(w.delete(v1["id"], params={"match[spec_version]": "2.0"}), 404)
    assert w.delete(v1["id"], params={"match[spec_version]": "2.1"}).status_code == 200
    w.assert_error(w.get(w.object_url(v1["id"])), 404)


def test_delete_of_unknown_objects_is_404(three: Any) -> None:
    w, _, _ = three
    w.assert_error(w.delete(MISSING), 404)
    w.assert_error(w.delete("not-an-id"), 404)
    w.assert_error(w.delete(MISSING, feed="hidden"), 404)


def test_delete_parameters_are_checked(three: Any) -> None:
    w, v1, _ = three
    for params in (
        {"match[version]": "never"},
        {"match[version]": "all,last"},
        {"match[spec_version]": "x"},
        [("match[version]", T1), ("match[version]", T2)],
    ):
        w.assert_error(w.delete(v1["id"], params=params), 400)
    assert w.get(w.versions_url(v1["id"])).json()["versions"] == [T1, T2, T3]


def test_delete_of_the_only_version_and_hidden_feed(world: World, stix: StixFactory) -> None:
    w = world
    obj = stix.indicator()
    assert w.post([obj], feed="hidden").status_code == 202
    w.post_ok([obj])
    assert w.delete(obj["id"], feed="hidden").status_code == 200
    # The same object in another collection is untouched.
    assert _modified(w.get(w.object_url(obj["id"]))) == [obj["modified"]]
    w.assert_error(w.get(w.object_url(obj["id"], feed="hidden")), 404)


# --- versions added out of order --------------------------------------------------------


def test_versions_added_out_of_order(world: World, stix: StixFactory) -> None:
    """first/last follow the STIX versions, not the order of adding."""
    w = world
    t = [f"2026-0{m}-01T00:00:00.000Z" for m in range(1, 7)]
    v = [stix.indicator(created=t[0])]
    v += [stix.revise(v[0], t[i], name=f"v{i}") for i in range(1, 6)]
    iid = v[0]["id"]
    url = w.object_url(iid)

    def first_last() -> tuple[list[str], list[str]]:
        return (
            _modified(w.get(url, params={"match[version]": "first"})),
            _modified(w.get(url, params={"match[version]": "last"})),
        )

    w.post_ok([v[3], v[2], v[4]])  # one envelope, out of order
    assert first_last() == ([t[2]], [t[4]])
    w.post_ok([v[1], v[5], v[1]])  # an older and a newer one (and a duplicate)
    assert first_last() == ([t[1]], [t[5]])
    w.post_ok([v[0]])
    assert first_last() == ([t[0]], [t[5]])
    # versions lists them in the order they were added.
    assert w.get(w.versions_url(iid)).json()["versions"] == [t[3], t[2], t[4], t[1], t[5], t[0]]
    # The default views show exactly one version of the object.
    assert _modified(w.get(w.objects_url())) == [t[5]]
    latest = w.get(w.manifest_url()).json()["objects"]
    assert [r["version"] for r in latest] == [t[5]]
    both = w.get(w.manifest_url(), params={"match[version]": "first,last"}).json()["objects"]
    assert sorted(r["version"] for r in both) == [t[0], t[5]]
    # Deleting the extremes moves the flags inwards.
    assert w.delete(iid, params={"match[version]": f"{t[0]},{t[5]}"}).status_code == 200
    assert first_last() == ([t[1]], [t[4]])


def test_new_first_and_last_in_one_envelope_with_stored_versions(
    world: World, stix: StixFactory
) -> None:
    w = world
    mid = stix.indicator(created="2026-01-01T00:00:00.000Z", modified=T2)
    w.post_ok([mid])
    older = stix.revise(mid, "2026-01-15T00:00:00.000Z")
    newer = stix.revise(mid, T3)
    newest = stix.revise(mid, "2026-04-01T00:00:00.000Z")
    w.post_ok([newer, older, newest])
    url = w.object_url(mid["id"])
    assert _modified(w.get(url, params={"match[version]": "first"})) == [older["modified"]]
    assert _modified(w.get(url)) == [newest["modified"]]
    everything = _modified(w.get(url, params={"match[version]": "all"}))
    assert sorted(everything) == sorted(
        [mid["modified"], older["modified"], T3, newest["modified"]]
    )
