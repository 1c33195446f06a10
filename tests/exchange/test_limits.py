"""Request limits enforced before routing."""

from __future__ import annotations

from collections.abc import Callable

from tests.exchange.conftest import ROOT, World


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
