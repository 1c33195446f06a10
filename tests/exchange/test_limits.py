"""Request limits enforced before routing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from exchange.api.limits import CallerLimits
from exchange.api.pages import PAGE_LIMIT_HEADER as PAGE_LIMIT
from exchange.db import tables
from exchange.db.session import read_transaction
from exchange.errors import TooManyRequests
from exchange.protocol.media import TAXII_21
from exchange.settings import HubSettings
from tests.exchange.conftest import ROOT, StixFactory, World
from tests.exchange.test_public_feeds import open_to_all
from tests.exchange.test_sealed_ingest import green_feed


def test_query_string_at_the_limit_passes_and_one_more_octet_is_refused(
    make_world: Callable[..., World],
) -> None:
    world = make_world("sqlite", max_query_length=64)
    base = f"{ROOT}/collections/reports/objects/?match[type]="
    fits = "x" * (64 - len("match[type]="))
    response = world.client.get(base + fits, headers=world.headers())
    assert response.status_code == 200, response.text
    refused = world.client.get(base + fits + "y", headers=world.headers())
    body = World.assert_error(refused, 400)
    assert "longer than 64 octets" in body["description"]


# --- page size ----------------------------------------------------------------------------


def test_a_page_at_the_cap_is_whole_and_one_more_is_lowered_to_it(
    make_world: Callable[..., World], stix: StixFactory
) -> None:
    w = make_world("sqlite", max_page_size=3)
    w.post_ok([stix.indicator() for _ in range(5)])
    at_cap = w.get(w.objects_url(), params={"limit": "3"})
    assert len(at_cap.json()["objects"]) == 3
    assert PAGE_LIMIT not in at_cap.headers
    over = w.get(w.objects_url(), params={"limit": "4"})
    assert len(over.json()["objects"]) == 3
    assert over.headers[PAGE_LIMIT] == "3"


# --- recipients per sealed report ---------------------------------------------------------


@pytest.mark.parametrize(("limit", "accepted"), [(3, True), (2, False)])
def test_recipients_at_the_limit_pass_and_one_more_is_refused(
    make_world: Callable[..., World], limit: int, accepted: bool
) -> None:
    """The sealed report is wrapped for three: owner, reader and writer."""
    sealed = green_feed(make_world("sqlite", max_recipients_per_envelope=limit))
    report = sealed.seal()
    assert len(report["envelope"]["recipients"]) == 3
    if accepted:
        sealed.w.post_ok([report], who="writer")
    else:
        sealed.refused(report, "wrapped for 3 recipients, more than the hub's limit of 2")


# --- request rate -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limits(w: World) -> CallerLimits:
    limits = w.client.app.state.limits  # type: ignore[attr-defined]
    assert isinstance(limits, CallerLimits)
    return limits


def _leaves(w: World) -> int:
    with read_transaction(w.hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(tables.log_leaf)).scalar_one())


def test_the_burst_passes_and_one_more_is_429_with_retry_after(
    make_world: Callable[..., World],
) -> None:
    w = make_world("sqlite", rate_limit=0.25, rate_burst=3)
    clock = _limits(w).clock = FakeClock()
    url = w.url("collections/")
    for _ in range(3):
        assert w.get(url).status_code == 200
    leaves = _leaves(w)
    refused = w.get(url)
    body = World.assert_error(refused, 429)
    assert body["title"] == "Too Many Requests"
    assert "at most 3 at once, then 0.25 per second" in body["description"]
    assert refused.headers["Retry-After"] == "4"  # one request's worth at 0.25/s
    assert _leaves(w) == leaves  # a throttled request costs no log commit
    # Other callers have their own allowance.
    assert w.get(url, who="reader").status_code == 200
    # Not quite a token later: still refused, and told the rest of the wait.
    clock.now += 3.0
    assert w.get(url).headers["Retry-After"] == "1"
    clock.now += 1.0
    assert w.get(url).status_code == 200
    World.assert_error(w.get(url), 429)


def test_anonymous_callers_are_limited_by_address(make_world: Callable[..., World]) -> None:
    w = make_world("sqlite", rate_limit=1, rate_burst=1)
    open_to_all(w)
    _limits(w).clock = FakeClock()
    feed = w.url("collections/reports/")
    assert w.get(feed, who=None).status_code == 200
    World.assert_error(w.get(feed, who=None), 429)
    assert w.get(feed, who="owner").status_code == 200


def test_failed_authentications_count_against_the_address(
    make_world: Callable[..., World],
) -> None:
    """Guessing tokens gets a cheap 429 past the rate, not a 401 and a log commit each."""
    w = make_world("sqlite", rate_limit=1, rate_burst=2)
    _limits(w).clock = FakeClock()
    url = w.url("collections/")
    wrong = {"Authorization": "Bearer " + "A" * 43}
    for _ in range(2):
        World.assert_error(w.client.get(url, headers=wrong), 401)
    leaves = _leaves(w)
    throttled = w.client.get(url, headers=wrong)
    World.assert_error(throttled, 429)
    assert "WWW-Authenticate" not in throttled.headers
    assert _leaves(w) == leaves
    # A member with valid credentials from the same address has its own allowance.
    assert w.get(url).status_code == 200


def test_zero_lifts_the_limits(make_world: Callable[..., World]) -> None:
    w = make_world("sqlite", rate_limit=0, max_concurrent_requests=0)
    assert not _limits(w).enabled
    for _ in range(300):
        assert w.get(f"{ROOT}/").status_code == 200


def test_default_limits_are_documented() -> None:
    settings = HubSettings()
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in (
        "max_content_length",
        "max_objects_per_envelope",
        "max_recipients_per_envelope",
        "max_page_size",
        "max_query_length",
        "max_concurrent_requests",
        "rate_limit",
        "rate_burst",
    ):
        value = getattr(settings, name)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert f"| `EXCHANGE_{name.upper()}` | `{shown}` |" in readme, name


# --- requests in flight -------------------------------------------------------------------


def test_requests_in_flight_at_the_limit_pass_and_one_more_is_429(
    make_world: Callable[..., World], stix: StixFactory
) -> None:
    """Two POSTs whose bodies are held back stay in flight; a third request is refused
    until they end."""
    w = make_world("sqlite", max_concurrent_requests=2)
    envelope = orjson.dumps({"objects": [stix.indicator()]})
    headers = w.headers(**{"Content-Type": TAXII_21})

    async def scenario() -> None:
        gate = asyncio.Event()
        started = [asyncio.Event(), asyncio.Event()]

        async def held_body(started: asyncio.Event) -> AsyncIterator[bytes]:
            yield envelope[:10]
            started.set()  # the route is reading the body: the request was admitted
            await gate.wait()
            yield envelope[10:]

        transport = httpx.ASGITransport(app=w.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            posts = [
                asyncio.create_task(
                    client.post(w.objects_url(), content=held_body(event), headers=headers)
                )
                for event in started
            ]
            for event in started:
                await asyncio.wait_for(event.wait(), 30)
            third = await client.get(w.url("collections/"), headers=w.headers())
            World.assert_error(third, 429)
            assert third.headers["Retry-After"] == "1"
            assert "at most 2 at a time" in third.json()["description"]
            # Another member is not held up by this one's requests.
            other = await client.get(w.url("collections/"), headers=w.headers("reader"))
            assert other.status_code == 200
            gate.set()
            for post in posts:
                assert (await post).status_code == 202
            after = await client.get(w.url("collections/"), headers=w.headers())
            assert after.status_code == 200

    asyncio.run(scenario())


# --- the limiter on its own ---------------------------------------------------------------


def test_recipients_are_bounded_by_what_an_envelope_may_name() -> None:
    assert HubSettings(max_recipients_per_envelope=10_000).max_recipients_per_envelope == 10_000
    with pytest.raises(ValidationError):
        HubSettings(max_recipients_per_envelope=10_001)


def test_without_a_rate_a_failed_attempt_leaves_nothing_behind() -> None:
    limits = CallerLimits(rate=0, burst=1, concurrent=4, clock=FakeClock())
    for _ in range(3):
        limits.charge("address 192.0.2.1")
    assert limits._callers == {}


def test_a_refused_request_does_not_count_in_flight() -> None:
    limits = CallerLimits(rate=1, burst=1, concurrent=1, clock=FakeClock())
    limits.admit("a")
    with pytest.raises(TooManyRequests) as refused:
        limits.admit("a")
    assert refused.value.retry_after == 1
    limits.release("a")
    limits.release("a")  # a stray release never goes below zero
    with pytest.raises(TooManyRequests):
        limits.admit("a")  # in flight is free, but the token is spent


def test_busy_callers_raise_the_next_sweep() -> None:
    limits = CallerLimits(rate=0, burst=1, concurrent=1, clock=FakeClock())
    for n in range(CallerLimits._SWEEP_AT + 1):
        limits.admit(f"busy {n}")  # none is released: nothing can be forgotten
    assert len(limits._callers) == CallerLimits._SWEEP_AT + 1
    assert limits._sweep_at == 2 * CallerLimits._SWEEP_AT


def test_idle_callers_are_forgotten_and_busy_ones_kept() -> None:
    clock = FakeClock()
    limits = CallerLimits(rate=10, burst=2, concurrent=4, clock=clock)
    limits.admit("busy")
    for n in range(CallerLimits._SWEEP_AT - 1):
        limits.admit(f"idle {n}")
        limits.release(f"idle {n}")
    clock.now += 1.0  # every bucket has refilled
    limits.admit("newcomer")
    assert set(limits._callers) == {"busy", "newcomer"}
