"""End to end, through the real ``feeds`` console script against a real hub process:
``feeds publish``, ``feeds pull`` and ``feeds open`` (issue 4, items 2, 4 and 6).

The operator admits owner, reader, writer and a newcomer and creates the feed;
each member runs ``feeds keys init`` and ``keys register``; the owner publishes a
policy (the community template's TLP, so only sealed reports go in) naming
owner, reader and writer as readers and owner and writer as writers. The
newcomer is not a reader.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select

from exchange.db import tables
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.ids import CollectionId
from exchange.services.stix import validate_object
from feeds.crypto.envelope import open_report, seal_report
from feeds.crypto.keystore import Keystore
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import fetch_feed_policy
from feeds.publishing import recipient_keys
from feeds.pulling import SOURCE_SUFFIX, STATE_FILE, Outcome, pull_feed
from feeds.trust import verify_key_chain
from tests.feeds.live_feeds import FeedsRunner
from tests.integration.live import HubHome, Member, ServerProcess, http_client, indicator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"
PASSPHRASE = "lantern orbit tangerine 7"
FEED = "trends-sealed"


class Hub(FeedsRunner):
    """The running hub, the members and their keystores."""

    def __init__(
        self, server: ServerProcess, work: Path, members: dict[str, Member], home: HubHome
    ) -> None:
        super().__init__(server, work, members, PASSPHRASE)
        self.home = home


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    base = tmp_path_factory.mktemp("publish-flow")
    home = HubHome(backend="sqlite", home=base / "home", auto_policy=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        try:
            owner, reader, writer, newcomer = home.add_members(
                **{
                    "CERT-EU": "authority",
                    "Uni Lab": "research",
                    "Vendor": "industry",
                    "Newcomer": "industry",
                }
            )
            home.add_feed(FEED, owner="CERT-EU", title="Sealed trends")
            home.grant("Uni Lab", FEED, read=True)
            home.grant("Vendor", FEED, read=True, write=True)
            work = base / "work"
            work.mkdir()
            members = {"owner": owner, "reader": reader, "writer": writer, "newcomer": newcomer}
            live = Hub(home.serve(), work, members, home)
            for name in live.members:
                live.ok(name, "keys", "init")
                live.ok(name, "keys", "register")
            policy_file = work / "policy.json"
            live.ok("owner", "policy", "init", "--feed", FEED, "--template", "community",
                    "-o", str(policy_file))  # fmt: skip
            document = json.loads(policy_file.read_text())
            document["readers"] = [owner.id, reader.id, writer.id]  # not the newcomer
            document["writers"] = [owner.id, writer.id]
            policy_file.write_text(json.dumps(document, indent=2))
            live.ok("owner", "policy", "sign", str(policy_file))
            live.ok("owner", "policy", "publish", str(policy_file), "--feed", FEED)
            yield live
        finally:
            home.stop_all()


def test_a_writer_publishes_and_a_reader_opens_the_bundle(hub: Hub) -> None:
    bundle = {"type": "bundle", "id": "bundle--7d7c7a9e-3f55-4b0a-9d43-0c3c0f1d2e11",
              "objects": [indicator("sealed")]}  # fmt: skip
    source = hub.work / "bundle.json"
    source.write_text(json.dumps(bundle, indent=1))
    out = json.loads(hub.ok("writer", "publish", str(source), "--feed", FEED, "--json"))
    members = hub.members
    assert out["status"] == "success", out
    readers = ("owner", "reader", "writer")
    assert sorted(out["recipients"]) == sorted(members[r].id for r in readers)
    # The reader fetches the stored object over plain TAXII and opens it.
    with http_client(hub.server, members["reader"]) as taxii:
        read = taxii.get(f"collections/{FEED}/objects/")
        assert read.status_code == 200, read.text
    [stored] = read.json()["objects"]
    assert stored["envelope"]["header"]["envelope_id"] == out["envelope_id"]
    reader = members["reader"]
    with httpx.Client() as http, ExchangeApi(hub.server.url, SecretStr(reader.token), http) as api:
        policy = fetch_feed_policy(api, FEED, now=datetime.now(UTC), pins=None)
        resolved = recipient_keys(api, policy.current, members["writer"].id)
        expected = {r.member: {r.key_id} for r in resolved}
        writer_keys = verify_key_chain(api.key_bundles(members["writer"].id), members["writer"].id)
    generations = list(Keystore(hub.keystore("reader")).load(PASSPHRASE).generations.values())
    _report, plaintext = open_report(
        stored,
        me=reader.id,
        feed=policy.collection.id,
        generations=generations,
        publisher_keys=writer_keys.keys.signing_keys(),
        wrapper_keys=writer_keys.keys.signing_keys(),
        expected_recipients=expected,
    )
    assert plaintext == source.read_bytes()
    # Human output names the envelope, the recipients and the status.
    text = hub.ok("writer", "publish", str(source), "--feed", FEED)
    assert "envelope:" in text
    assert "status: success" in text


def test_a_member_who_is_not_a_writer_is_refused(hub: Hub) -> None:
    source = hub.work / "one.json"
    source.write_text(json.dumps(indicator("refused")))
    done = hub.feeds("reader", "publish", str(source), "--feed", FEED)
    assert done.returncode != 0
    assert done.stdout == ""
    message = " ".join(done.stderr.split())
    assert "does not name you" in message, done.stderr
    assert "as a writer" in message, done.stderr


def _publish(hub: Hub, seed: str) -> tuple[str, bytes]:
    """The writer publishes a fresh bundle; return its envelope id and the bytes sealed."""
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator(seed)]}
    source = hub.work / f"{seed}.json"
    source.write_text(json.dumps(bundle))
    out = json.loads(hub.ok("writer", "publish", str(source), "--feed", FEED, "--json"))
    assert out["status"] == "success", out
    return str(out["envelope_id"]), source.read_bytes()


def _pull(hub: Hub, who: str, out: Path, *, code: int = 0) -> dict[str, Any]:
    done = hub.feeds(who, "pull", "--feed", FEED, "--out", str(out), "--json")
    assert done.returncode == code, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def _opened_files(out: Path) -> dict[str, int]:
    """The bundles a pull wrote (not its cursor or provenance files), with their mtimes."""
    return {
        p.name: p.stat().st_mtime_ns
        for p in out.glob("[!.]*.json")
        if not p.name.endswith(SOURCE_SUFFIX)
    }


def _stored(hub: Hub, envelope_id: str) -> dict[str, Any]:
    """The sealed report as the hub stores it (what a curious operator can read)."""
    local = hub.home.local_hub()
    o = tables.stix_object
    query = select(o.c.body).where(o.c.stix_id == f"sealed-report--{envelope_id}")
    with read_transaction(local.engine) as conn:
        bodies: list[dict[str, Any]] = [json.loads(b) for b in conn.execute(query).scalars()]
    return bodies[-1]


def test_pull_opens_each_new_report_once_and_resumes_from_its_cursor(hub: Hub) -> None:
    first, first_bytes = _publish(hub, "pull-1")
    out = hub.work / "reader-pulled"
    summary = _pull(hub, "reader", out)
    assert summary["refused"] == 0, summary
    assert summary["opened"] >= 1
    assert (out / f"{first}.json").read_bytes() == first_bytes
    assert stat.S_IMODE((out / f"{first}.json").stat().st_mode) == 0o600
    # Incremental: nothing new, nothing fetched again.
    again = _pull(hub, "reader", out)
    assert (again["opened"], again["unchanged"], again["refused"]) == (0, 0, 0), again
    second, second_bytes = _publish(hub, "pull-2")
    third = _pull(hub, "reader", out)
    assert (third["opened"], third["unchanged"]) == (1, 0), third
    assert (out / f"{second}.json").read_bytes() == second_bytes
    # Idempotent: without its cursor, a pull rewrites nothing.
    (out / STATE_FILE).unlink()
    before = _opened_files(out)
    fresh = _pull(hub, "reader", out)
    assert fresh["opened"] == 0, fresh
    assert fresh["unchanged"] == len(before) >= 2
    assert _opened_files(out) == before
    # Human output: one line per report (no terminal: plain lines) and a summary.
    text = hub.ok("reader", "pull", "--feed", FEED, "--out", str(hub.work / "human"))
    assert f"opened: sealed-report--{first}" in text
    assert "refused" in text.splitlines()[-1] or "0 refused" in text


def test_an_interrupted_pull_resumes_where_it_stopped(hub: Hub) -> None:
    """Pages of one object; the pull is interrupted after the second; the next run
    fetches only the rest, and the two runs together open every report once."""
    for seed in ("resume-1", "resume-2", "resume-3"):
        _publish(hub, seed)
    reader = hub.members["reader"]
    generations = list(Keystore(hub.keystore("reader")).load(PASSPHRASE).generations.values())
    out = hub.work / "resumed"
    seen: list[str] = []

    def interrupt(outcome: Outcome) -> None:
        seen.append(outcome.stix_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    token = SecretStr(reader.token)
    with httpx.Client() as http, ExchangeApi(hub.server.url, token, http) as api:
        pull = functools.partial(
            pull_feed, api, token, FEED, out, generations=generations, now=datetime.now(UTC),
            pins=None, per_request=1,
        )  # fmt: skip
        with pytest.raises(KeyboardInterrupt):
            pull(progress=interrupt)
        assert len(_opened_files(out)) == 2  # both written before the interruption
        rest = pull()
    # The first page was done and saved; the second is redone (idempotently).
    assert rest.outcomes[0].stix_id == seen[1]
    assert rest.outcomes[0].result == "unchanged"
    assert seen[0] not in {o.stix_id for o in rest.outcomes}
    everything = {seen[0], *(o.stix_id for o in rest.outcomes)}
    assert len(_opened_files(out)) == len(everything)
    assert all(o.result in ("opened", "unchanged") for o in rest.outcomes)


def test_open_verifies_and_opens_one_report_file(hub: Hub) -> None:
    envelope_id, sealed_bytes = _publish(hub, "open-1")
    with http_client(hub.server, hub.members["reader"]) as taxii:
        read = taxii.get(f"collections/{FEED}/objects/sealed-report--{envelope_id}/")
        assert read.status_code == 200, read.text
    path = hub.work / "one-report.json"
    path.write_text(json.dumps(read.json()))  # a TAXII envelope holding the report
    target = hub.work / "opened" / "one.json"
    out = json.loads(hub.ok("reader", "open", str(path), "-o", str(target), "--json"))
    assert out["envelope_id"] == envelope_id
    assert target.read_bytes() == sealed_bytes
    source = json.loads((target.parent / f"one{SOURCE_SUFFIX}").read_text())
    assert source["envelope_id"] == envelope_id
    assert source["publisher"] == hub.members["writer"].id
    assert hub.ok("reader", "open", str(path)).encode() == sealed_bytes
    # Told the wrong feed, it refuses (a replay).
    done = hub.feeds("reader", "open", str(path), "--feed", "no-such-feed")
    assert done.returncode != 0


def test_a_member_the_policy_leaves_out_cannot_open_even_with_the_operators_help(
    hub: Hub,
) -> None:
    """Item 6: the operator grants the newcomer the feed; the signed policy still does not
    name it, so the hub serves it nothing; and the report the operator then hands over
    from the database does not open with the newcomer's keys."""
    envelope_id, _ = _publish(hub, "outsider-1")
    hub.home.grant("Newcomer", FEED, read=True)
    with http_client(hub.server, hub.members["newcomer"]) as taxii:
        read = taxii.get(f"collections/{FEED}/objects/")
    assert read.status_code in (403, 404), read.text
    handed = hub.work / "handed-over.json"
    handed.write_text(json.dumps(_stored(hub, envelope_id)))
    done = hub.feeds("newcomer", "open", str(handed))
    assert done.returncode == 1, done.stdout
    assert "not addressed to your keys" in done.stderr
    assert done.stdout == ""


def test_a_ghost_recipient_slipped_in_by_the_hub_is_reported_and_refused(hub: Hub) -> None:
    """A compromised hub (here: its database) serves a report that a colluding publisher
    sealed to an extra member: readers check recipients against the signed policy."""
    members = hub.members
    writer = Keystore(hub.keystore("writer")).load(PASSPHRASE).current
    token = SecretStr(members["reader"].token)
    with httpx.Client() as http, ExchangeApi(hub.server.url, token, http) as api:
        policy = fetch_feed_policy(api, FEED, now=datetime.now(UTC), pins=None)
        recipients = recipient_keys(api, policy.current, members["writer"].id)
        ghost = recipient_keys(api, policy.current, members["newcomer"].id)
    ghost_key = next(r for r in ghost if r.member == members["newcomer"].id)
    report = seal_report(
        b'{"type":"bundle","id":"bundle--0f4b8c1e-2d3a-4b5c-8d6e-7f8091a2b3c4","objects":[]}',
        feed=policy.collection.id,
        publisher=members["writer"].id,
        policy_version=policy.current.policy.version,
        policy_digest=policy.current.digest,
        tlp_marking=policy.current.policy.tlp,
        recipients=[*recipients, ghost_key],
        signer=writer,
    )
    local = hub.home.local_hub()
    with write_transaction(local.engine) as conn:
        stored = validate_object(report, stix_id=report["id"])
        now = int(time.time() * 1_000_000)
        local.objects.add(conn, CollectionId(policy.collection.id), [stored], now=now)
    out = hub.work / "ghost-pull"
    summary = _pull(hub, "reader", out, code=3)
    [refusal] = [r for r in summary["refusals"] if r["id"] == report["id"]]
    assert "ghost recipient" in refusal["reason"]
    assert members["newcomer"].id in refusal["reason"]
    assert not (out / f"{report['envelope']['header']['envelope_id']}.json").exists()
    # The operator cleans up, so that the tests after this one see an honest hub.
    o = tables.stix_object
    with write_transaction(local.engine) as conn:
        conn.execute(delete(o).where(o.c.stix_id == report["id"]))


def _next_policy(hub: Hub, readers: list[str], name: str) -> None:
    """The owner drafts, signs and publishes the next policy version naming ``readers``."""
    path = hub.work / f"{name}.policy.json"
    hub.ok("owner", "policy", "init", "--feed", FEED, "--template", "community", "-o", str(path))
    document = json.loads(path.read_text())
    document["readers"] = [hub.members[r].id for r in readers]
    document["writers"] = [hub.members["owner"].id, hub.members["writer"].id]
    path.write_text(json.dumps(document, indent=2))
    hub.ok("owner", "policy", "sign", str(path))
    hub.ok("owner", "policy", "publish", str(path), "--feed", FEED)


def test_grant_re_wraps_earlier_reports_for_a_reader_the_owner_adds(hub: Hub) -> None:
    """Item 5: the owner adds the newcomer; the writer's ``feeds grant`` re-wraps every
    earlier report (same ciphertext, new STIX version) and the newcomer's pull opens them.
    Then the owner removes the reader: the hub stops serving it, and new reports leave
    it out, while what it pulled before stays on its disk."""
    envelope_id, sealed_bytes = _publish(hub, "grant-1")
    before = _stored(hub, envelope_id)
    _next_policy(hub, ["owner", "reader", "writer", "newcomer"], "add-newcomer")
    # Before the grant, the newcomer is served the reports but cannot open them.
    early = _pull(hub, "newcomer", hub.work / "newcomer-early")
    assert early["opened"] == 0
    assert early["not_addressed"] >= 1
    granted = json.loads(hub.ok("writer", "grant", "--feed", FEED, "--json"))
    assert granted["rewrapped"] >= 1, granted
    assert (granted["refused"], granted["failed"]) == (0, 0), granted
    after = _stored(hub, envelope_id)
    assert after["modified"] > before["modified"]
    assert after["envelope"]["ciphertext"] == before["envelope"]["ciphertext"]
    assert after["envelope"]["wrapped_by"] == hub.members["writer"].id
    assert hub.members["newcomer"].id in {r["member"] for r in after["envelope"]["recipients"]}
    # The newcomer now opens what was published before it was added.
    out = hub.work / "newcomer-pulled"
    pulled = _pull(hub, "newcomer", out)
    assert pulled["refused"] == 0, pulled
    assert (out / f"{envelope_id}.json").read_bytes() == sealed_bytes
    # A second grant has nothing left to do.
    again = json.loads(hub.ok("writer", "grant", "--feed", FEED, "--json"))
    assert again["rewrapped"] == 0, again
    # The reader pulling again gets the re-wrapped versions: same content, unchanged.
    reader_out = hub.work / "reader-after-grant"
    _pull(hub, "reader", reader_out)
    assert (reader_out / f"{envelope_id}.json").read_bytes() == sealed_bytes
    # The owner removes the reader: no longer served, no longer sealed to.
    _next_policy(hub, ["owner", "writer", "newcomer"], "remove-reader")
    later, _ = _publish(hub, "grant-2")
    assert hub.members["reader"].id not in {
        r["member"] for r in _stored(hub, later)["envelope"]["recipients"]
    }
    done = hub.feeds("reader", "pull", "--feed", FEED, "--out", str(reader_out))
    assert done.returncode == 1, done.stdout
    assert (reader_out / f"{envelope_id}.json").read_bytes() == sealed_bytes  # kept
