"""The auditor's tools end to end: ``exchange serve`` makes and shows its log key and
checkpoints its logs; ``exchange audit verify|log|export`` run against it; an entry the
operator edits in the database is named; a log key others can read stops the hub."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from exchange.audit.signer import KEY_FILE
from exchange.db import tables
from exchange.db.session import write_transaction
from tests.integration.live import (
    EXCHANGE,
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    envelope_bytes,
    http_client,
    indicator,
)

pytestmark = pytest.mark.integration
FEED = "audited"


class Audited:
    def __init__(self, home: HubHome, server: ServerProcess, members: dict[str, Member]) -> None:
        self.home, self.server, self.members = home, server, members

    def audit(self, *args: str, code: int = 0) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
        env["EXCHANGE_TOKEN"] = self.members["auditor"].token
        done = subprocess.run(
            [str(EXCHANGE), "audit", *args, "--hub", self.server.url],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, done.stdout + done.stderr
        assert self.members["auditor"].token not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    base = tmp_path_factory.mktemp("audit")
    home = HubHome(backend="sqlite", home=base / "home")
    try:
        owner, auditor = home.add_members(**{"CERT-EU": "authority", "Audit Office": "auditor"})
        home.add_feed(FEED, owner="CERT-EU")
        server = home.serve(CHECKPOINT_INTERVAL="0.2")
        with http_client(server, owner) as taxii:
            posted = taxii.post(
                f"collections/{FEED}/objects/",
                content=envelope_bytes([indicator("audit-1"), indicator("audit-2")]),
                headers={"Content-Type": TAXII_21},
            )
            assert posted.status_code == 202, posted.text
        yield Audited(home, server, {"owner": owner, "auditor": auditor})
    finally:
        home.stop_all()


def _verify(a: Audited, state: Path, code: int = 0) -> dict[str, Any]:
    time.sleep(0.5)  # let the hub checkpoint what was just logged
    out: dict[str, Any] = json.loads(a.audit("verify", "--state", str(state), "--json", code=code))
    return out


def test_serve_made_and_shows_its_log_key(audited: Audited) -> None:
    key = httpx.get(f"{audited.server.url}/.well-known/trend-exchange/log-key").json()
    assert f"log key (new): {key['fingerprint']}" in audited.server.log()
    path = audited.home.home / KEY_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_verify_passes_then_names_an_edited_entry(audited: Audited, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = _verify(audited, state)
    assert first["ok"], first
    assert {r["log"] for r in first["logs"]} == {"access", "directory"}
    assert all(r["size"] > 0 for r in first["logs"])
    again = _verify(audited, state)
    assert again["ok"], again
    access = next(r for r in again["logs"] if r["log"] == "access")
    assert access["previous_size"] is not None
    # The operator edits entry 1 of the access log in the database.
    local = audited.home.local_hub()
    leaf = tables.log_leaf
    with write_transaction(local.engine) as conn:
        conn.execute(
            update(leaf).where(leaf.c.log == "access", leaf.c.idx == 1).values(data=b'{"x":1}')
        )
    tampered = _verify(audited, state, code=3)
    access = next(r for r in tampered["logs"] if r["log"] == "access")
    assert access["findings"][0] == {
        "index": 1,
        "kind": "modified",
        "detail": "entry 1 differs from the one seen last time",
    }
    human = audited.audit("verify", "--state", str(state), "--log", "access", code=3)
    assert "access log: TAMPERED" in human
    assert "modified at index 1" in human


def test_log_and_export_filter_and_format(audited: Audited, tmp_path: Path) -> None:
    rows = json.loads(audited.audit("log", "--action", "objects.add", "--json"))["entries"]
    assert rows
    assert {r["action"] for r in rows} == {"objects.add"}
    assert rows[0]["member"] == audited.members["owner"].id
    table = audited.audit("log", "--action", "objects.add")
    assert "objects.add" in table
    exported = list(csv.DictReader(io.StringIO(audited.audit("export", "--format", "csv"))))
    assert exported
    assert {"index", "time", "action", "member", "decision", "objects"} <= set(exported[0])
    out = tmp_path / "log.jsonl"
    summary = json.loads(
        audited.audit("export", "--format", "jsonl", "-o", str(out), "--json",
                      "--since", "2000-01-01T00:00:00Z")
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) >= len(exported)
    assert summary == {"format": "jsonl", "entries": len(lines), "output": str(out)}
    assert audited.audit("export", "--json", code=2) == ""
    assert audited.audit("export", "--format", "xml", code=2) == ""


def test_a_log_key_others_can_read_stops_the_hub(tmp_path: Path) -> None:
    home = HubHome(backend="sqlite", home=tmp_path / "home")
    home.cli("migrate")
    home.home.mkdir(exist_ok=True)
    server = home.serve()
    home.stop(server)
    os.chmod(home.home / KEY_FILE, 0o644)
    done = subprocess.run(
        [str(EXCHANGE), "serve", "--port", "1"], env=home.env(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "chmod 600" in done.stderr
