"""An error has the media type of the routes its path belongs to, whoever raised it.

Regression (found by schemathesis, issue 8, item 2): a request FastAPI failed to
validate, an over-long query string, a 404 or a 405 on the exchange's own API
(``/exchange/``, ``/.well-known/``) answered ``application/taxii+json`` while its
other errors, and its OpenAPI document, said ``application/json``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.protocol.media import TAXII_21
from tests.exchange.conftest import ROOT, World

JSON = "application/json"

CASES = [
    # (method, path, status, media type)
    ("GET", "/exchange/v1/logs/access/entries?until=-1", 400, JSON),  # FastAPI's validation
    ("GET", "/exchange/v1/logs/no-such-log/entries", 400, JSON),
    ("GET", "/exchange/v1/feeds/reports/policy/versions/0", 400, JSON),
    ("GET", "/exchange/v1/no-such-route", 404, JSON),
    ("PUT", "/exchange/v1/whoami", 405, JSON),
    ("PUT", "/.well-known/trend-exchange/log-key", 405, JSON),
    ("GET", f"{ROOT}/collections/reports/objects/?limit=0", 400, TAXII_21),
    ("GET", "/taxii2/no/such/route/", 404, TAXII_21),
    ("PUT", "/taxii2/", 405, TAXII_21),
]


@pytest.mark.parametrize(("method", "path", "status", "media_type"), CASES)
def test_errors_take_the_media_type_of_their_path(
    sqlite_world: World, method: str, path: str, status: int, media_type: str
) -> None:
    response = sqlite_world.client.request(method, path, headers=sqlite_world.headers())
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == media_type
    assert response.json()["http_status"] == str(status)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/exchange/v1/whoami", JSON),
        ("/.well-known/trend-exchange/log-key", JSON),
        ("/taxii2/", TAXII_21),
    ],
)
def test_an_over_long_query_string_takes_the_media_type_of_its_path(
    make_world: Callable[..., World], path: str, media_type: str
) -> None:
    world = make_world("sqlite", max_query_length=16)
    response = world.client.get(f"{path}?x={'y' * 16}", headers=world.headers())
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == media_type
    assert "longer than 16 octets" in response.json()["description"]
