"""``feeds.client`` pieces that need no hub: the Bearer auth hook and URLs."""

from __future__ import annotations

import requests
from pydantic import SecretStr

from feeds.client import BearerAuth, discovery_url


def test_bearer_auth_sets_the_authorization_header() -> None:
    request = requests.Request("GET", "https://hub.example/taxii2/").prepare()
    BearerAuth(SecretStr("tx_abc"))(request)
    assert request.headers["Authorization"] == "Bearer tx_abc"


def test_bearer_auth_repr_hides_the_token() -> None:
    assert "tx_abc" not in repr(BearerAuth(SecretStr("tx_abc")))


def test_discovery_url() -> None:
    assert discovery_url("https://hub.example") == "https://hub.example/taxii2/"
    assert discovery_url("https://hub.example/") == "https://hub.example/taxii2/"
