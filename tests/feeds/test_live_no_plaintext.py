"""End to end: a sealed report published with ``feeds publish`` leaves no plaintext at the hub.

A writer publishes, to a real hub process, a bundle whose indicator carries a
unique marker (as name and description), a fresh object id and a unique
domain in its pattern. Then the hub is stopped and none of those strings, nor
their base64 forms, may appear in the hub's log, in any file of its home, or
in its database: every SQLite file (database, ``-wal``, ``-shm``) read as
bytes, or a real ``pg_dump`` of its PostgreSQL database. The sealed report's
own id must be there, so the scans are not vacuous.

The hub has no log-level setting (``exchange serve`` runs uvicorn at
``info``), so its process is started with a ``sitecustomize`` that sends
every logger's records, DEBUG and up, to its captured output.

Runs on SQLite, and on PostgreSQL too when ``EXCHANGE_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from exchange.settings import HubSettings
from tests.conftest import BACKENDS
from tests.feeds.live_feeds import FeedsRunner
from tests.integration.live import HubHome, http_client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"
PASSPHRASE = "quartz meadow lantern 9"
FEED = "trends-sealed"
PG_DUMP = Path("/usr/bin/pg_dump")
DEBUG_CANARY = "trend-exchange-test: root logging at DEBUG"
SITECUSTOMIZE = f"""\
import logging

logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("tests.debug").debug({DEBUG_CANARY!r})
"""


def base64_cores(needle: bytes) -> list[bytes]:
    """The base64 text ``needle`` encodes to wherever it starts (3 alignments, 2 alphabets).

    Only the characters that depend on ``needle``'s bytes alone are kept.
    """
    cores = []
    for skip in range(3):
        encoded = base64.b64encode(bytes(skip) + needle)
        core = encoded[4 if skip else 0 : 4 * ((skip + len(needle)) // 3)]
        cores += [core, core.replace(b"+", b"-").replace(b"/", b"_")]
    return cores


def leaks(haystack: bytes, needles: dict[str, bytes]) -> list[str]:
    """The names of the ``needles`` found in ``haystack``, as is or base64-encoded."""
    return [
        name
        for name, needle in needles.items()
        if any(form in haystack for form in [needle, *base64_cores(needle)])
    ]


@dataclass(frozen=True, slots=True)
class Plaintext:
    """The bundle published and the strings of it that must never reach the hub."""

    marker: str
    inner_id: str
    domain: str
    bundle_id: str

    @classmethod
    def fresh(cls) -> Plaintext:
        return cls(
            marker=f"MARKER-{uuid.uuid4().hex}",
            inner_id=f"indicator--{uuid.uuid4()}",
            domain=f"c2-{uuid.uuid4().hex}.leak-check.example",
            bundle_id=f"bundle--{uuid.uuid4()}",
        )

    def bundle(self) -> dict[str, object]:
        return {
            "type": "bundle",
            "id": self.bundle_id,
            "objects": [
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": self.inner_id,
                    "created": "2026-01-01T00:00:00.000Z",
                    "modified": "2026-01-01T00:00:00.000Z",
                    "name": self.marker,
                    "description": self.marker,
                    "pattern": f"[domain-name:value = '{self.domain}']",
                    "pattern_type": "stix",
                    "valid_from": "2026-01-01T00:00:00Z",
                }
            ],
        }

    def needles(self) -> dict[str, bytes]:
        return {
            "marker": self.marker.encode(),
            "inner object id": self.inner_id.encode(),
            "inner object uuid": self.inner_id.split("--")[1].encode(),
            "pattern domain": self.domain.encode(),
            "bundle id": self.bundle_id.encode(),
        }


@dataclass(frozen=True, slots=True)
class Published:
    """One publication to a hub, and what the hub left behind once stopped."""

    backend: str
    home: HubHome
    plaintext: Plaintext
    result: dict[str, object]
    cli_output: str = field(repr=False)
    served: str = field(repr=False)  # the hub's answer to a TAXII fetch of the objects
    report_id: str
    log: str = field(repr=False)


@pytest.fixture(scope="module", params=BACKENDS)
def published(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Published]:
    """Per backend: a hub with a sealed feed, one ``feeds publish``, then the hub stopped."""
    backend = str(request.param)
    base = tmp_path_factory.mktemp(f"no-plaintext-{backend}")
    database_url = None
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_databases")()
    home = HubHome(
        backend=backend, home=base / "home", database_url=database_url, auto_policy=False
    )
    shim = base / "debug-logging"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", pythonpath)
        try:
            owner, writer = home.add_members(**{"CERT-EU": "authority", "Vendor": "industry"})
            home.add_feed(FEED, owner="CERT-EU", title="Sealed trends")
            home.grant("Vendor", FEED, read=True, write=True)
            with pytest.MonkeyPatch.context() as debug:  # only the hub logs at DEBUG
                debug.setenv("PYTHONPATH", os.pathsep.join([str(shim), pythonpath]))
                server = home.serve()
            work = base / "work"
            work.mkdir()
            live = FeedsRunner(server, work, {"owner": owner, "writer": writer}, PASSPHRASE)
            for name in live.members:
                live.ok(name, "keys", "init")
                live.ok(name, "keys", "register")
            policy_file = work / "policy.json"
            live.ok("owner", "policy", "init", "--feed", FEED, "--template", "community",
                    "-o", str(policy_file))  # fmt: skip
            document = json.loads(policy_file.read_text())
            document["readers"] = [owner.id, writer.id]
            document["writers"] = [owner.id, writer.id]
            policy_file.write_text(json.dumps(document, indent=2))
            live.ok("owner", "policy", "sign", str(policy_file))
            live.ok("owner", "policy", "publish", str(policy_file), "--feed", FEED)

            plaintext = Plaintext.fresh()
            source = work / "bundle.json"
            source.write_text(json.dumps(plaintext.bundle(), indent=1))
            done = live.feeds("writer", "publish", str(source), "--feed", FEED, "--json")
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout)
            with http_client(server, owner) as taxii:
                read = taxii.get(f"collections/{FEED}/objects/")
                assert read.status_code == 200, read.text
            [stored] = [
                o
                for o in read.json()["objects"]
                if o["envelope"]["header"]["envelope_id"] == result["envelope_id"]
            ]
            home.stop(server)  # flushes the log; SQLite checkpoints and closes
            yield Published(
                backend=backend,
                home=home,
                plaintext=plaintext,
                result=result,
                cli_output=done.stdout + done.stderr,
                served=read.text,
                report_id=str(stored["id"]),
                log=server.log_path.read_text(encoding="utf-8", errors="replace"),
            )
        finally:
            home.stop_all()


def test_the_publication_succeeds_and_the_cli_does_not_echo_the_plaintext(
    published: Published,
) -> None:
    assert published.result["status"] == "success", published.result
    assert published.report_id.startswith("sealed-report--")
    needles = published.plaintext.needles()
    assert leaks(published.cli_output.encode(), needles) == [], published.cli_output
    # What the hub serves back holds the sealed report, and none of the plaintext.
    assert published.report_id in published.served
    assert leaks(published.served.encode(), needles) == []


def test_the_hub_log_holds_no_plaintext(published: Published) -> None:
    log = published.log
    assert DEBUG_CANARY in log  # the hub process really logged at DEBUG
    assert "POST /taxii2/" in log  # ... and logged the publication's request
    assert leaks(log.encode(), published.plaintext.needles()) == [], log


def test_the_hub_home_holds_no_plaintext(published: Published) -> None:
    files = [p for p in published.home.home.rglob("*") if p.is_file()]
    assert files or published.backend != "sqlite"  # on PostgreSQL the home may stay empty
    needles = published.plaintext.needles()
    found = {str(p): leaks(p.read_bytes(), needles) for p in files}
    assert {path: names for path, names in found.items() if names} == {}


def test_the_database_holds_no_plaintext(published: Published) -> None:
    if published.backend == "sqlite":
        contents = sqlite_files(published.home)
    else:
        contents = pg_dump(published.home)
    assert published.report_id.encode() in contents  # the report is there, sealed
    assert leaks(contents, published.plaintext.needles()) == []


def sqlite_files(home: HubHome) -> bytes:
    """The bytes of every file of the hub's SQLite database (database, -wal, -shm)."""
    url = HubSettings(home=home.home).sqlalchemy_url()
    database = Path(url.removeprefix("sqlite:///"))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert database in files
    return b"".join(path.read_bytes() for path in files)


def pg_dump(home: HubHome) -> bytes:
    """A plain-text ``pg_dump`` of the hub's PostgreSQL database, schema and data."""
    assert home.database_url is not None
    dbname = make_url(home.database_url).set(drivername="postgresql")
    done = subprocess.run(
        [str(PG_DUMP), "--dbname", dbname.render_as_string(hide_password=False)],
        capture_output=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"COPY " in done.stdout  # a dump with data, not an empty one
    return done.stdout
