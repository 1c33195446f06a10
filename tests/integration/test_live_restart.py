"""State outlives the process: status resources (§4.3) and ``next`` tokens survive a restart.

A hub process takes a POST and hands out a ``next`` token, is stopped, and a
new process on the same ``EXCHANGE_HOME`` (or database) answers for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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

OBJECTS = [identity(f"restart-{n}") for n in range(3)]
INVALID = {**identity("restart-invalid"), "spec_version": "2.0"}


@dataclass(frozen=True)
class BeforeRestart:
    """What the first process said, and the process that answers now."""

    status: dict[str, Any]
    first_page: dict[str, Any]
    server: ServerProcess
    owner: Member
    other: Member


@pytest.fixture(scope="module")
def restarted(hub_home: HubHome) -> BeforeRestart:
    owner, other = hub_home.add_members(owner="industry", other="industry")
    hub_home.add_feed("reports", owner="owner")
    hub_home.grant("other", "reports", read=True, write=True)

    first = hub_home.serve()
    with http_client(first, owner) as client:
        posted = client.post(
            "collections/reports/objects/",
            content=envelope_bytes([*OBJECTS, INVALID]),
            headers={"Content-Type": TAXII_21},
        )
        assert posted.status_code == 202, posted.text
        status = posted.json()
        assert client.get(f"status/{status['id']}/").json() == status
        page = client.get("collections/reports/objects/", params={"limit": "1"}).json()
    hub_home.stop(first)
    assert not first.running()

    second = hub_home.serve()
    return BeforeRestart(status, page, second, owner, other)


@pytest.fixture(scope="module")
def owner(restarted: BeforeRestart) -> Iterator[httpx.Client]:
    with http_client(restarted.server, restarted.owner) as client:
        yield client


def test_status_was_complete_with_its_details(restarted: BeforeRestart) -> None:
    status = restarted.status
    assert status["status"] == "complete"
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (4, 3, 1)
    assert status["pending_count"] == 0
    assert [s["id"] for s in status["successes"]] == [o["id"] for o in OBJECTS]
    assert [f["id"] for f in status["failures"]] == [INVALID["id"]]


def test_status_survives_restart(restarted: BeforeRestart, owner: httpx.Client) -> None:
    response = owner.get(f"status/{restarted.status['id']}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII_21
    assert response.json() == restarted.status


def test_status_stays_private_after_restart(restarted: BeforeRestart) -> None:
    with http_client(restarted.server, restarted.other) as other:
        assert_taxii_error(other.get(f"status/{restarted.status['id']}/"), 404)


def test_objects_and_next_survive_restart(restarted: BeforeRestart, owner: httpx.Client) -> None:
    assert restarted.first_page["objects"] == OBJECTS[:1]
    assert restarted.first_page["more"] is True
    response = owner.get(
        "collections/reports/objects/",
        params={"limit": "5", "next": restarted.first_page["next"]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"more": False, "objects": OBJECTS[1:]}
