"""``feeds.exchange_api``: requests, parsing, and every failure mapped into ``feeds.errors``."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from feeds.crypto.keys import MemberSecrets
from feeds.errors import (
    CredentialsRejected,
    HubUnreachable,
    RequestRefused,
    SettingsError,
    TrustError,
    UnexpectedResponse,
)
from feeds.exchange_api import ExchangeApi
from feeds.settings import ClientSettings
from tests.feeds.fake_hub import HUB_URL, FakeHub
from tests.feeds.keymaker import chain, make_policy, register_raw

TOKEN = "tx_SECRET-token-never-shown-0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def api_with(handler: Handler, hub: str = HUB_URL) -> ExchangeApi:
    return ExchangeApi(hub, SecretStr(TOKEN), httpx.Client(transport=httpx.MockTransport(handler)))


def answer(status: int, body: object = None, *, content: bytes | None = None) -> Handler:
    def handle(_request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content)
        return httpx.Response(status, json=body)

    return handle


def raising(exc: Exception) -> Handler:
    def handle(_request: httpx.Request) -> httpx.Response:
        raise exc

    return handle


def no_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc)
    assert TOKEN not in repr(exc.args)


# ---------------------------------------------------------------------- requests


def test_whoami_sends_the_bearer_token_and_parses_the_member() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "identity--x", "name": "CERT", "kind": "authority"})

    me = api_with(handle).whoami()
    assert (me.id, me.name, me.kind) == ("identity--x", "CERT", "authority")
    assert str(seen[0].url) == f"{HUB_URL}/exchange/v1/whoami"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["accept"] == "application/json"


def test_path_parameters_are_quoted() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"versions": []})

    assert api_with(handle).policy_versions("../../whoami?x=1") == []
    assert seen == ["/exchange/v1/feeds/..%2F..%2Fwhoami%3Fx%3D1/policy/versions"]


def test_the_api_root_comes_from_discovery_and_a_feed_resolves_to_its_id() -> None:
    hub = FakeHub()
    feed = hub.add_feed("reports", "Trend reports")
    member = hub.add_member("m")
    api = hub.api(member)
    assert api.api_root() == f"{HUB_URL}/taxii2/trends/"
    assert api.resolve_feed("reports").id == feed
    assert api.resolve_feed(feed).alias == "reports"
    discoveries = [r for r in hub.requests if r.url.path == "/taxii2/"]
    assert len(discoveries) == 1  # cached
    assert discoveries[0].headers["accept"] == "application/taxii+json;version=2.1"


def test_an_unknown_feed_is_refused_with_the_hubs_description() -> None:
    hub = FakeHub()
    with pytest.raises(RequestRefused, match=r"HTTP 404\): No such collection\.") as caught:
        hub.api(hub.add_member("m")).resolve_feed("nope")
    assert caught.value.status == 404


def test_a_hub_answering_with_another_collection_is_refused() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/taxii2/":
            return httpx.Response(200, json={"title": "t", "default": "/taxii2/trends/"})
        other = {"id": "0000", "title": "Other", "alias": "other", "can_read": True}
        return httpx.Response(200, json={**other, "can_write": False})

    with pytest.raises(UnexpectedResponse, match="answered with another collection"):
        api_with(handle).resolve_feed("reports")


@pytest.mark.parametrize(
    ("discovery", "match"),
    [
        ({"title": "t"}, "discovery names no default API root"),
        ({"title": "t", "default": "https://evil.test/taxii2/x/"}, "another origin"),
        ({"title": "t", "default": "http://hub.test/taxii2/x/"}, "another origin"),
        ({"no": "title"}, "discovery does not parse"),
    ],
)
def test_discovery_must_name_a_default_root_on_the_hub(discovery, match) -> None:
    with pytest.raises(UnexpectedResponse, match=match):
        api_with(answer(200, discovery)).api_root()


def test_no_redirect_is_followed() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://evil.test/steal"})

    with pytest.raises(UnexpectedResponse, match="HTTP 302"):
        api_with(handle).whoami()
    assert len(seen) == 1


# ---------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("exc", "kind", "match"),
    [
        (httpx.ConnectError("refused"), HubUnreachable, r"\(ConnectError\)"),
        (httpx.ReadTimeout("slow"), HubUnreachable, r"\(timed out\)"),
        (httpx.RemoteProtocolError("bad"), HubUnreachable, "RemoteProtocolError"),
        (httpx.TooManyRedirects("loop"), UnexpectedResponse, "TooManyRedirects"),
        (httpx.InvalidURL("bad url"), UnexpectedResponse, "InvalidURL"),
    ],
)
def test_transport_failures_are_wrapped(exc, kind, match) -> None:
    with pytest.raises(kind, match=match) as caught:
        api_with(raising(exc)).whoami()
    assert caught.value.__cause__ is exc
    no_token(caught.value)


def test_a_rejected_token_is_credentials_rejected() -> None:
    with pytest.raises(CredentialsRejected, match="rejected the API token") as caught:
        api_with(answer(401, {"title": "Unauthorized"})).whoami()
    no_token(caught.value)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 422])
def test_refusals_carry_the_hubs_description(status: int) -> None:
    body = {"title": "T", "description": f"You may not do that ({status}).", "http_status": "x"}
    with pytest.raises(RequestRefused, match=rf"\(HTTP {status}\): You may not do that") as caught:
        api_with(answer(status, body)).whoami()
    assert caught.value.status == status
    assert caught.value.description == f"You may not do that ({status})."


def test_a_description_is_cleaned_and_shortened() -> None:
    body = {"description": "line one\nline\x1b[31m two " + "x" * 1000}
    with pytest.raises(RequestRefused) as caught:
        api_with(answer(409, body)).whoami()
    description = caught.value.description
    assert "\n" not in description
    assert "\x1b" not in description
    assert description.startswith("line one line[31m two")
    assert len(description) == 300


def test_a_refusal_without_a_body_names_the_status_phrase() -> None:
    with pytest.raises(RequestRefused, match="Conflict"):
        api_with(answer(409, content=b"<html>")).whoami()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unexpected(status: int) -> None:
    body = {"description": "The server could not complete the request."}
    with pytest.raises(UnexpectedResponse, match=f"HTTP {status}: The server could not"):
        api_with(answer(status, body)).whoami()


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (answer(200, content=b"not json"), "the answer is not JSON"),
        (answer(200, ["a", "list"]), "the whoami answer does not parse"),
        (answer(200, {"id": 1, "name": "n", "kind": "k"}), "the whoami answer does not parse"),
    ],
)
def test_malformed_answers_are_unexpected(handler: Handler, match: str) -> None:
    with pytest.raises(UnexpectedResponse, match=match):
        api_with(handler).whoami()


def test_from_settings_needs_a_hub_and_a_token() -> None:
    with pytest.raises(SettingsError, match="no hub URL"):
        ExchangeApi.from_settings(ClientSettings(token=SecretStr(TOKEN)))
    with pytest.raises(SettingsError, match="no API token"):
        ExchangeApi.from_settings(ClientSettings(hub=HUB_URL))
    with ExchangeApi.from_settings(ClientSettings(hub=HUB_URL, token=SecretStr(TOKEN))) as api:
        assert api.hub == HUB_URL
        assert TOKEN not in repr(vars(api))


# ---------------------------------------------------------------------- key directory


def test_key_bundles_round_trip_and_a_member_without_keys_has_none() -> None:
    hub = FakeHub()
    member = hub.add_member("m")
    api = hub.api(member)
    assert api.key_bundles(member.id) == []
    bundle = chain(member.id, MemberSecrets.generate())[0]
    receipt = api.register_key_bundle(bundle)
    assert (receipt.member, receipt.sequence, receipt.digest) == (member.id, 1, bundle.digest)
    posted = hub.requests[-1]
    assert posted.method == "POST"
    assert posted.headers["content-type"] == "application/json"
    assert [b.digest for b in api.key_bundles(member.id)] == [bundle.digest]


def test_a_key_bundle_list_for_another_member_is_refused() -> None:
    listing = {"member": "identity--other", "bundles": []}
    with pytest.raises(UnexpectedResponse, match="the key bundle list is for another member"):
        api_with(answer(200, listing)).key_bundles("identity--me")


def test_a_malformed_key_bundle_is_untrusted() -> None:
    listing = {"member": "identity--me", "bundles": [{"bundle": {}, "signatures": []}]}
    with pytest.raises(TrustError, match="refusing key bundle 1 of identity--me: key bundle"):
        api_with(answer(200, listing)).key_bundles("identity--me")


def test_a_refused_registration_names_the_reason() -> None:
    hub = FakeHub()
    member, other = hub.add_member("m"), hub.add_member("o")
    bundle = chain(other.id, MemberSecrets.generate())[0]
    with pytest.raises(RequestRefused, match=r"HTTP 403.*register keys for another member"):
        hub.api(member).register_key_bundle(bundle)


# ---------------------------------------------------------------------- policies


def test_policy_versions_round_trip() -> None:
    hub = FakeHub()
    owner = hub.add_member("owner")
    feed = hub.add_feed("reports")
    secrets = MemberSecrets.generate()
    register_raw(hub, owner, chain(owner.id, secrets))
    v1 = make_policy(secrets, feed=feed, owner=owner.id)
    api = hub.api(owner)
    receipt = api.publish_policy(feed, v1)
    assert (receipt.feed, receipt.version, receipt.digest) == (feed, 1, v1.digest)
    assert [(r.version, r.digest) for r in api.policy_versions("reports")] == [(1, v1.digest)]
    assert api.policy_version(feed, 1).digest == v1.digest


def test_a_served_policy_that_does_not_parse_is_untrusted() -> None:
    hub = FakeHub()
    owner = hub.add_member("owner")
    feed = hub.add_feed("reports")
    secrets = MemberSecrets.generate()
    v1 = make_policy(secrets, feed=feed, owner=owner.id)
    document = json.dumps(v1.to_json())
    hub.policies[feed].append(document.replace('"version": 1', '"version": 1, "extra": 1').encode())
    with pytest.raises(TrustError, match=f"policy version 1 of feed {feed}: .*extra"):
        hub.api(owner).policy_version(feed, 1)
    hub.policies[feed][0] = b'{"policy": {}, "policy": {}, "signatures": []}'
    with pytest.raises(TrustError, match="appears twice"):
        hub.api(owner).policy_version(feed, 1)
