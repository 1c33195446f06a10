"""Running real hub processes for the integration tests, and typed helpers to talk to them.

A `HubHome` is one hub's data (an ``EXCHANGE_HOME`` and, on PostgreSQL, its own
database). Its operator commands run the ``exchange`` console script as a
subprocess, and `HubHome.serve` starts ``exchange serve`` on a free loopback
port and waits (bounded) until it answers. Every process a home started is
stopped by `HubHome.stop_all`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from exchange.db.session import read_transaction
from exchange.services.hub import Hub
from exchange.settings import HubSettings
from tests.policy_kit import OwnerKeys, sync_policy

__all__ = [
    "API_ROOT",
    "EXAMPLES",
    "EXCHANGE",
    "STIX_21",
    "TAXII_21",
    "HubHome",
    "Member",
    "ServerProcess",
    "assert_taxii_error",
    "envelope_bytes",
    "http_client",
    "identity",
    "indicator",
    "load_bundle",
    "stix_id",
]

EXCHANGE = Path(sys.executable).parent / "exchange"
"""The operator's console script of the interpreter running the tests."""
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "stix-examples"
"""The OASIS example bundles, in the shared folder beside the checkout."""
TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"
API_ROOT = "trends"

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0
_CLI_TIMEOUT = 120.0

JsonObject = dict[str, Any]
_T = TypeVar("_T")


# --------------------------------------------------------------------------- STIX content


def stix_id(stix_type: str, seed: str) -> str:
    """Return a fixed ``<type>--<uuid4>`` derived from ``seed`` (same seed, same id)."""
    digest = hashlib.sha256(f"{stix_type}:{seed}".encode()).digest()[:16]
    return f"{stix_type}--{uuid.UUID(bytes=digest, version=4)}"


def identity(seed: str, *, modified: str = "2026-01-01T00:00:00.000Z") -> JsonObject:
    """Return a valid STIX 2.1 identity with a fixed id."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": stix_id("identity", seed),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"Organisation {seed}",
        "identity_class": "organization",
    }


def indicator(seed: str, *, modified: str = "2026-01-01T00:00:00.000Z") -> JsonObject:
    """Return a valid STIX 2.1 indicator with a fixed id; ``modified`` picks the version."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id("indicator", seed),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": f"Indicator {seed} as of {modified}",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def load_bundle(name: str) -> list[JsonObject]:
    """Return the objects of the example bundle ``name`` (a file in `EXAMPLES`)."""
    document = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    objects: list[JsonObject] = document["objects"]
    return objects


# --------------------------------------------------------------------------- HTTP checks


def assert_taxii_error(response: httpx.Response, status: int) -> JsonObject:
    """Assert ``response`` is a TAXII error resource with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII_21
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("title"), str)
    assert body["title"]
    assert body.get("http_status") == str(status)
    return body


def http_client(server: ServerProcess, member: Member | None = None) -> httpx.Client:
    """An httpx client on ``server``'s API root, as ``member`` (HTTP Basic), accepting TAXII 2.1.

    Paths are relative to the API root, e.g. ``collections/``. Close it after use.
    """
    return httpx.Client(
        base_url=server.api_root_url,
        auth=None if member is None else member.auth,
        headers={"Accept": TAXII_21},
        timeout=30.0,
    )


def envelope_bytes(objects: list[JsonObject]) -> bytes:
    """The JSON body of an envelope holding ``objects``."""
    return json.dumps({"objects": objects}).encode()


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True, slots=True)
class Member:
    """A member admitted with the CLI: its id (the Basic user name) and API token."""

    name: str
    id: str
    token: str

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials (member id, token)."""
        return (self.id, self.token)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(eq=False)
class ServerProcess:
    """One running ``exchange serve`` process on a loopback port."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    @property
    def url(self) -> str:
        """The server's base URL (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        """The TAXII discovery endpoint."""
        return f"{self.url}/taxii2/"

    @property
    def api_root_url(self) -> str:
        """The hub's API root."""
        return f"{self.url}/taxii2/{API_ROOT}/"

    def log(self) -> str:
        """Return what the process wrote to stdout and stderr so far."""
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL if it lingers) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def wait_ready(self) -> None:
        """Poll until the server answers; fail with its output if it dies or takes too long.

        Ready means uvicorn logged that *it* listens on the port (so an answer
        cannot come from some other process that took the port) and the
        discovery URL answers.
        """
        deadline = time.monotonic() + _START_TIMEOUT
        bound = f"Uvicorn running on {self.url}"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise ServerDied(self.process.returncode, self.log())
                if bound in self.log():
                    try:
                        client.get(self.discovery_url, headers={"Accept": TAXII_21})
                        return
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"exchange serve did not answer on port {self.port} within"
                        f" {_START_TIMEOUT:.0f} s; its output:\n{self.log()}"
                    )
                time.sleep(0.05)


class ServerDied(Exception):
    """Raised when ``exchange serve`` exits while starting."""

    def __init__(self, code: int, log: str) -> None:
        super().__init__(f"exchange serve exited with status {code}; its output:\n{log}")
        self.code = code
        self.log = log


def _side_by_side(call: Callable[[str], _T], items: list[str]) -> list[_T]:
    """``[call(i) for i in items]``, a few at a time (each is a CLI process, mostly CPU)."""
    workers = max(2, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, items))


@dataclass(eq=False)
class HubHome:
    """One hub's data: an ``EXCHANGE_HOME`` and maybe a PostgreSQL database URL."""

    backend: str
    home: Path
    database_url: str | None = None
    auto_policy: bool = True
    """Keep each feed's policy naming exactly its grant holders (the owner signs with
    keys made here); off for tests that publish policies themselves."""
    servers: list[ServerProcess] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)  # alias -> collection id
    _local: Hub | None = None
    _owner_keys: dict[str, OwnerKeys] = field(default_factory=dict)  # member id -> keys
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def env(self, **settings: str) -> dict[str, str]:
        """The environment of a hub process: ours minus any EXCHANGE_*, plus this hub's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
        env["EXCHANGE_HOME"] = str(self.home)
        if self.database_url is not None:
            env["EXCHANGE_DATABASE_URL"] = self.database_url
        for name, value in settings.items():
            env[f"EXCHANGE_{name.upper()}"] = value
        return env

    # ------------------------------------------------------------------ operator CLI

    def cli(self, *args: str) -> JsonObject:
        """Run ``exchange <args> --json``; return the JSON object it prints."""
        command = [str(EXCHANGE), *args, "--json"]
        done = subprocess.run(
            command,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=_CLI_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(args)} exited with {done.returncode}:\n{done.stderr}{done.stdout}"
            )
        result: JsonObject = json.loads(done.stdout)
        return result

    def add_member(self, name: str, kind: str = "industry") -> Member:
        """Admit a member; remember and return its id and token."""
        out = self.cli("admin", "member", "add", name, "--kind", kind)
        member = Member(name=name, id=out["id"], token=out["token"])
        self.members[name] = member
        return member

    def add_feed(self, alias: str, *, owner: str, title: str | None = None) -> str:
        """Create a feed owned (read and write) by ``owner``, with the owner's signed policy;
        return its collection id."""
        out = self.cli("admin", "feed", "add", alias, "--title", title or alias, "--owner", owner)
        feed_id: str = out["id"]
        self.feeds[alias] = feed_id
        if self.auto_policy:
            self.sync_policy(feed_id)
        return feed_id

    def local_hub(self) -> Hub:
        """This hub's database, opened in the test process (for what no CLI command does)."""
        with self._lock:
            if self._local is None:
                self._local = Hub.open(
                    HubSettings(
                        home=self.home,
                        database_url=None
                        if self.database_url is None
                        else SecretStr(self.database_url),
                    )
                )
            return self._local

    def sync_policy(self, feed: str) -> None:
        """As the feed's owner, publish the next policy version naming exactly its grant
        holders (the owner's keys are generated and registered on first use)."""
        hub = self.local_hub()
        with read_transaction(hub.engine) as conn:
            record = hub.feeds.find(conn, feed)
            assert record is not None, feed
            assert record.owner_id is not None, feed
            owner = hub.members.find(conn, record.owner_id)
            assert owner is not None
        with self._lock:
            keys = self._owner_keys.setdefault(owner.id, OwnerKeys(owner))
            keys.register(hub)
        sync_policy(hub, record.id, keys)

    def owner_keys(self, member_id: str) -> OwnerKeys:
        """The keys this home generated and registered for a feed owner (see `sync_policy`)."""
        with self._lock:
            return self._owner_keys[member_id]

    def add_members(self, **kinds: str) -> list[Member]:
        """Admit several members (name=kind), running the commands side by side."""
        return _side_by_side(lambda name: self.add_member(name, kinds[name]), list(kinds))

    def add_feeds(self, aliases: list[str], *, owner: str) -> list[str]:
        """Create several feeds owned by ``owner``, running the commands side by side."""
        return _side_by_side(lambda alias: self.add_feed(alias, owner=owner), aliases)

    def grant(self, member: str, feed: str, *, read: bool = False, write: bool = False) -> None:
        """Set ``member``'s rights on ``feed`` to exactly ``read``/``write``."""
        flags = [f for f, on in (("--read", read), ("--write", write)) if on]
        out = self.cli("admin", "grant", member, feed, *flags)
        assert (out["read"], out["write"]) == (read, write)
        if self.auto_policy:
            self.sync_policy(feed)

    def revoke_tokens(self, member: str) -> int:
        """Revoke every API token of ``member``; return how many."""
        count: int = self.cli("admin", "token", "revoke", member)["revoked"]
        return count

    # ------------------------------------------------------------------ servers

    def serve(self, *, workers: int = 1, **settings: str) -> ServerProcess:
        """Start ``exchange serve`` on a free loopback port and wait until it answers.

        ``workers`` is its number of processes; ``settings`` become
        ``EXCHANGE_<NAME>`` variables of that process only. The per-member rate and
        requests in flight are unlimited unless ``settings`` say otherwise: live tests
        page and post as fast as loopback allows (taxii2-client, say, does not wait
        out a 429), and `tests/exchange/test_limits.py` tests the limits.
        A start that loses its port to another process is retried on a new one.
        """
        settings = {"rate_limit": "0", "max_concurrent_requests": "0", **settings}
        for _attempt in range(3):
            server = self._spawn(settings, workers)
            try:
                server.wait_ready()
            except ServerDied as died:
                server.stop()
                if "address already in use" in died.log.lower():
                    continue
                pytest.fail(str(died))
            except BaseException:
                server.stop()
                raise
            self.servers.append(server)
            return server
        pytest.fail("exchange serve could not bind a free loopback port in 3 attempts")

    def _spawn(self, settings: dict[str, str], workers: int = 1) -> ServerProcess:
        port = _free_port()
        logs = self.home.parent / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"serve-{port}-{len(self.servers)}.log"
        log = log_path.open("wb")
        command = [str(EXCHANGE), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        process = subprocess.Popen(
            command,
            env=self.env(**settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return ServerProcess(port=port, process=process, log_path=log_path, _log=log)

    def stop(self, server: ServerProcess) -> None:
        """Stop one server this home started."""
        server.stop()
        self.servers.remove(server)

    def stop_all(self) -> None:
        """Stop every server this home started (all are signalled before any is awaited)."""
        for server in self.servers:
            if server.running():
                server.process.terminate()
        while self.servers:
            self.stop(self.servers[-1])
        if self._local is not None:
            self._local.close()
            self._local = None
