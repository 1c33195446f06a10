"""``feeds collections`` against a real hub process, driven through Typer's CliRunner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from feeds.cli.main import app
from feeds.settings import get_settings
from tests.feeds.live_hub import LiveHub

pytestmark = pytest.mark.integration

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``feeds <args>`` with ``env``; any exception other than an exit is a bug."""
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def as_member(live: LiveHub, token: str) -> dict[str, str]:
    return {"EXCHANGE_HUB": live.url, "EXCHANGE_TOKEN": token}


def listed(live: LiveHub, token: str) -> dict[str, Any]:
    result = invoke("collections", "--json", env=as_member(live, token))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_owner_sees_both_feeds_with_full_rights(live_hub: LiveHub) -> None:
    payload = listed(live_hub, live_hub.owner.token)
    assert payload["hub"] == live_hub.url
    api_root = f"{live_hub.url}/taxii2/trends/"
    assert sorted(payload["collections"], key=lambda c: c["alias"]) == [
        {
            "api_root": api_root,
            "id": live_hub.hidden,
            "alias": "hidden",
            "title": "Hidden feed",
            "can_read": True,
            "can_write": True,
        },
        {
            "api_root": api_root,
            "id": live_hub.reports,
            "alias": "reports",
            "title": "Trend reports",
            "can_read": True,
            "can_write": True,
        },
    ]


def test_reader_sees_only_its_granted_feed_read_only(live_hub: LiveHub) -> None:
    payload = listed(live_hub, live_hub.reader.token)
    assert [(c["alias"], c["can_read"], c["can_write"]) for c in payload["collections"]] == [
        ("reports", True, False)
    ]


def test_outsider_sees_nothing(live_hub: LiveHub) -> None:
    assert listed(live_hub, live_hub.outsider.token)["collections"] == []
    result = invoke("collections", env=as_member(live_hub, live_hub.outsider.token))
    assert result.exit_code == 0, result.stderr
    assert "no feeds visible to you" in result.stdout


def test_human_output_is_a_table(live_hub: LiveHub) -> None:
    result = invoke("collections", env=as_member(live_hub, live_hub.reader.token))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    for text in ("/taxii2/trends/", "reports", "Trend reports", "yes", "no"):
        assert text in result.stdout
    assert live_hub.reader.token not in result.stdout


def test_options_override_the_environment(live_hub: LiveHub) -> None:
    env = {"EXCHANGE_HUB": "http://127.0.0.1:1", "EXCHANGE_TOKEN": "tx_wrong"}
    result = invoke(
        "collections", "--json", "--hub", live_hub.url + "/", "--token", live_hub.reader.token,
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [c["alias"] for c in json.loads(result.stdout)["collections"]] == ["reports"]


def test_a_wrong_token_is_rejected_without_echoing_it(live_hub: LiveHub) -> None:
    token = "tx_this-is-not-a-valid-token-0123456789abcdefgh"
    result = invoke("collections", "--json", env=as_member(live_hub, token))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "rejected the API token (HTTP 401)" in result.stderr
    assert token not in result.stderr


def test_a_revoked_token_and_a_disabled_member_are_rejected(live_hub: LiveHub) -> None:
    revoked = live_hub.home.add_member("Revoked Co", "industry")
    live_hub.home.revoke_tokens("Revoked Co")
    disabled = live_hub.home.add_member("Disabled Co", "industry")
    live_hub.home.cli("admin", "member", "disable", "Disabled Co")
    for member in (revoked, disabled):
        result = invoke("collections", env=as_member(live_hub, member.token))
        assert result.exit_code == 1
        assert "rejected the API token (HTTP 401)" in result.stderr
        assert member.token not in result.stdout + result.stderr
