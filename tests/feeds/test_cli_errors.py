"""``feeds`` error paths that need no hub: settings, refused connections, odd servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from feeds.cli.main import app
from feeds.settings import get_settings

runner = CliRunner()
TOKEN = "tx_SECRET-member-token-do-not-print-0123456789"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``feeds <args>`` with ``env``; any exception other than an exit is a bug."""
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def fails(*args: str, env: dict[str, str], code: int, match: str) -> str:
    """Assert ``feeds <args>`` exits with ``code`` and ``match`` on stderr, never the token."""
    result = invoke(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert match in result.stderr
    assert TOKEN not in result.stderr
    assert "Traceback" not in result.stderr
    return str(result.stderr)


def test_no_arguments_shows_help() -> None:
    result = invoke()
    assert "Usage" in result.stdout
    assert "collections" in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["collections", "--help"]])
def test_help_works_and_never_shows_the_token(args: list[str]) -> None:
    result = invoke(*args, env={"EXCHANGE_TOKEN": TOKEN, "EXCHANGE_HUB": "https://hub.example"})
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    assert TOKEN not in result.stdout


def test_collections_help_names_the_environment_variables() -> None:
    result = invoke("collections", "--help")
    assert "EXCHANGE_HUB" in result.stdout
    assert "EXCHANGE_TOKEN" in result.stdout
    assert "--json" in result.stdout


def test_no_hub_url() -> None:
    fails("collections", env={"EXCHANGE_TOKEN": TOKEN}, code=2, match="no hub URL is set")


def test_no_token() -> None:
    env = {"EXCHANGE_HUB": "https://hub.example"}
    stderr = fails("collections", "--json", env=env, code=2, match="no API token is set")
    assert "EXCHANGE_TOKEN" in stderr


def test_blank_token_counts_as_none() -> None:
    env = {"EXCHANGE_HUB": "https://hub.example", "EXCHANGE_TOKEN": "   "}
    fails("collections", env=env, code=2, match="no API token is set")


@pytest.mark.parametrize(
    ("hub", "reason"),
    [
        ("ftp://hub.example", "http:// or https://"),
        ("hub.example", "http:// or https://"),
        ("http://hub.example", "must use https://"),
        ("https://user:pw@hub.example", "must not carry credentials"),
        ("https://hub.example/?x=1", "must not carry credentials"),
    ],
)
def test_malformed_hub_url(hub: str, reason: str) -> None:
    stderr = fails(
        "collections", env={"EXCHANGE_HUB": hub, "EXCHANGE_TOKEN": TOKEN}, code=2, match=reason
    )
    assert "hub:" in stderr
    assert "pw@" not in stderr


def test_connection_refused() -> None:
    env = {"EXCHANGE_HUB": "http://127.0.0.1:1", "EXCHANGE_TOKEN": TOKEN}
    fails(
        "collections", env=env, code=1, match="cannot reach the hub at http://127.0.0.1:1/taxii2/"
    )


# --------------------------------------------------------------------------- odd servers


class _Handler(BaseHTTPRequestHandler):
    """Answers every GET with the (status, content type, body) its path maps to."""

    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}
    seen_authorization: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen_authorization.append(self.headers.get("Authorization"))
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def odd_server() -> Iterator[tuple[str, type[_Handler]]]:
    """A loopback HTTP server whose answers each test sets in ``routes``."""

    class Handler(_Handler):
        routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}
        seen_authorization: ClassVar[list[str | None]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


TAXII = "application/taxii+json;version=2.1"


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def test_the_token_travels_as_a_bearer_header(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (200, TAXII, _json({"title": "Hub", "api_roots": []}))
    result = invoke("collections", "--json", env={"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"hub": url, "collections": []}
    assert handler.seen_authorization == [f"Bearer {TOKEN}"]


def test_forbidden_is_a_rejected_token(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (403, TAXII, _json({"title": "Forbidden"}))
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="rejected the API token (HTTP 403)")


def test_not_a_taxii_server(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (200, "text/html", b"<html>hello</html>")
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="not a TAXII 2.1 resource")


def test_a_server_error(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (500, TAXII, _json({"title": "Oops"}))
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="HTTP 500")


def test_no_discovery_endpoint(odd_server: tuple[str, type[_Handler]]) -> None:
    url, _ = odd_server
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="HTTP 404")


def test_a_collection_that_does_not_parse(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (200, TAXII, _json({"title": "Hub", "api_roots": ["/r/"]}))
    bad = {"id": "x", "title": "T", "can_read": "sometimes", "can_write": False}
    handler.routes["/r/collections/"] = (200, TAXII, _json({"collections": [bad]}))
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="a collection resource does not parse")


def test_malformed_discovery(odd_server: tuple[str, type[_Handler]]) -> None:
    url, handler = odd_server
    handler.routes["/taxii2/"] = (200, TAXII, _json(["not", "an", "object"]))
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="malformed TAXII resource")


def test_the_token_is_never_sent_to_another_origin(
    odd_server: tuple[str, type[_Handler]],
) -> None:
    url, handler = odd_server
    elsewhere = "http://127.0.0.2:9/elsewhere/"
    handler.routes["/taxii2/"] = (200, TAXII, _json({"title": "Hub", "api_roots": [elsewhere]}))
    env = {"EXCHANGE_HUB": url, "EXCHANGE_TOKEN": TOKEN}
    fails("collections", env=env, code=1, match="API root on another origin")
    assert len(handler.seen_authorization) == 1  # discovery only
