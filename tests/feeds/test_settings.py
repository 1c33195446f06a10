"""``feeds.settings.ClientSettings``: URL rules, secrets, and how overrides combine."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from feeds.errors import SettingsError
from feeds.settings import ClientSettings, get_settings, load_settings


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://hub.example/", "https://hub.example"),
        ("https://hub.example:8443/base/", "https://hub.example:8443/base"),
        ("http://localhost:6100", "http://localhost:6100"),
        ("http://127.0.0.1:6100/", "http://127.0.0.1:6100"),
        ("http://[::1]:6100", "http://[::1]:6100"),
        ("  ", None),
    ],
)
def test_hub_url_is_normalised(given: str, kept: str | None) -> None:
    assert ClientSettings(hub=given).hub == kept


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="must use https://"):
        ClientSettings(hub="http://hub.example")


def test_secrets_stay_out_of_repr() -> None:
    settings = ClientSettings(token=SecretStr("tx_secret"), passphrase=SecretStr("pass-secret"))
    assert "tx_secret" not in repr(settings)
    assert "pass-secret" not in repr(settings)
    assert settings.require_token().get_secret_value() == "tx_secret"


def test_keystore_expands_the_home_directory() -> None:
    assert ClientSettings(keystore=Path("~/keys")).keystore == Path.home() / "keys"


def test_require_hub_and_token() -> None:
    empty = ClientSettings()
    with pytest.raises(SettingsError, match=r"hub: no hub URL is set \(set EXCHANGE_HUB"):
        empty.require_hub()
    with pytest.raises(SettingsError, match="token: no API token is set"):
        empty.require_token()


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_HUB", "https://one.example")
    assert get_settings().hub == "https://one.example"
    monkeypatch.setenv("EXCHANGE_HUB", "https://two.example")
    assert get_settings().hub == "https://one.example"
    get_settings.cache_clear()
    assert get_settings().hub == "https://two.example"


def test_load_settings_overrides_take_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_HUB", "https://env.example")
    monkeypatch.setenv("EXCHANGE_TOKEN", "tx_env")
    monkeypatch.setenv("EXCHANGE_PASSPHRASE", "from-env")
    settings = load_settings(hub="https://cli.example")
    assert settings.hub == "https://cli.example"
    assert settings.require_token().get_secret_value() == "tx_env"
    assert settings.passphrase is not None
    assert settings.passphrase.get_secret_value() == "from-env"
    assert load_settings() is get_settings()


def test_a_malformed_variable_is_a_settings_error_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXCHANGE_HUB", "gopher://secret-host.example")
    with pytest.raises(SettingsError, match="hub: Value error, must be an http") as raised:
        get_settings()
    assert "secret-host" not in raised.value.message
    assert raised.value.name == "hub"
