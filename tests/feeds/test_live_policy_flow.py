"""End to end: an owner's keys and signed policy govern a feed on a real hub process.

The operator admits owner, reader, writer and outsider and creates the feed;
the owner runs the real ``feeds`` console script (subprocesses, like a person
would): keys init, register, policy init from the community template, an edit
of readers, writers and TLP (CLEAR, so plain STIX is accepted), sign, publish,
show. Then the policy is seen to rule the feed over plain TAXII (httpx), a
tampered policy file is refused by the client while the hub keeps serving the
policy in force, and the key file's failure modes end in clear errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import TLP_MARKINGS, TlpLevel, parse_signed_policy
from tests.feeds.live_feeds import run_feeds
from tests.integration.live import (
    TAXII_21,
    HubHome,
    Member,
    ServerProcess,
    envelope_bytes,
    http_client,
    indicator,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"
PASSPHRASE = "lantern orbit tangerine 7"
FEED = "trends-eu"


@dataclass
class Flow:
    """The running hub, its members, the owner's keystore and signed policy file."""

    home: HubHome
    server: ServerProcess
    owner: Member
    reader: Member
    writer: Member
    outsider: Member
    feed_id: str
    keystore: Path
    policy_file: Path
    published: dict[str, Any]
    work: Path

    def feeds(
        self,
        *args: str,
        member: Member | None = None,
        keystore: Path | None = None,
        passphrase: str | None = PASSPHRASE,
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``feeds`` console script as ``member`` (default the owner)."""
        done = run_feeds(
            self.server.url,
            *args,
            token=(member or self.owner).token,
            keystore=keystore or self.keystore,
            passphrase=passphrase,
            cwd=self.work,
        )
        assert PASSPHRASE not in done.stdout + done.stderr
        return done

    def ok(self, *args: str, **kwargs: Any) -> str:
        done = self.feeds(*args, **kwargs)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def fails(self, *args: str, code: int, match: str, **kwargs: Any) -> str:
        done = self.feeds(*args, **kwargs)
        assert done.returncode == code, (done.stdout, done.stderr)
        assert done.stdout == ""
        assert match in " ".join(done.stderr.split()), done.stderr
        return done.stderr


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    base = tmp_path_factory.mktemp("policy-flow")
    home = HubHome(backend="sqlite", home=base / "home", auto_policy=False)
    with pytest.MonkeyPatch.context() as patch:
        # `exchange serve` must import this worktree's code, not the editable install's.
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        try:
            yield _owner_publishes(home, base)
        finally:
            home.stop_all()


def _owner_publishes(home: HubHome, base: Path) -> Flow:
    # The operator admits the members and creates the feed.
    kinds = {"CERT-EU": "authority", "Uni Lab": "research", "Vendor": "industry", "Out": "industry"}
    owner, reader, writer, outsider = home.add_members(**kinds)
    feed_id = home.add_feed(FEED, owner="CERT-EU", title="EU cybercrime trends")
    home.grant("Uni Lab", FEED, read=True)
    home.grant("Vendor", FEED, read=True, write=True)
    server = home.serve()
    work = base / "work"
    work.mkdir()
    flow = Flow(home, server, owner, reader, writer, outsider, feed_id, base / "keys",
                work / f"{FEED}.policy.json", {}, work)  # fmt: skip

    # The owner: keys, registration, a policy from the template, edited, signed, published.
    flow.ok("keys", "init")
    assert "registered key generation 1" in flow.ok("keys", "register")
    drafted = flow.ok("policy", "init", "--feed", FEED, "--template", "community")
    assert f"wrote {FEED}.policy.json: version 1" in drafted
    document = json.loads(flow.policy_file.read_text())
    document["readers"] = [owner.id, reader.id, writer.id]
    document["writers"] = [owner.id, writer.id]
    # Plain STIX goes only into TLP:CLEAR feeds (sealed reports into the others).
    document["tlp"] = TLP_MARKINGS[TlpLevel.CLEAR]
    flow.policy_file.write_text(json.dumps(document, indent=2))
    flow.ok("policy", "sign", str(flow.policy_file))
    flow.published = json.loads(
        flow.ok("policy", "publish", str(flow.policy_file), "--feed", FEED, "--json")
    )
    return flow


def test_the_subprocesses_run_this_worktree(flow: Flow) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import feeds, exchange; print(feeds.__file__, exchange.__file__)"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [
        str(ROOT / "feeds" / "__init__.py"),
        str(ROOT / "exchange" / "__init__.py"),
    ]


def test_the_owner_published_version_1(flow: Flow) -> None:
    signed = parse_signed_policy(flow.policy_file.read_bytes())
    assert flow.published == {"feed": flow.feed_id, "version": 1, "digest": signed.digest}
    shown = json.loads(flow.ok("policy", "show", "--feed", FEED, "--json"))
    assert (shown["version"], shown["digest"], shown["owner"]) == (1, signed.digest, flow.owner.id)
    assert shown["readers"] == [flow.owner.id, flow.reader.id, flow.writer.id]
    assert shown["writers"] == [flow.owner.id, flow.writer.id]
    assert shown["tlp"]["level"] == "TLP:CLEAR"
    keys = json.loads(flow.ok("keys", "show", "--json", passphrase=None))
    assert shown["owner_fingerprint"] == keys["fingerprint"]
    assert keys["member"] == flow.owner.id


def test_a_reader_verifies_pins_and_reads_the_policy(flow: Flow) -> None:
    keystore = flow.work / "reader-keys"
    text = flow.ok("policy", "show", "--feed", FEED, member=flow.reader, keystore=keystore,
                   passphrase=None)  # fmt: skip
    for expected in (
        "Policy of feed trends-eu: EU cybercrime trends",
        "TLP:CLEAR",
        "permitted actions: EXTERNALLY VISIBLE DIRECT ACTIONS",
        f"{flow.reader.id} (you)",
        f"{flow.owner.id} (owner)",
        "365 days",
        f"owner {flow.owner.id}: pinned now (first use)",
    ):
        assert expected in text
    pins = json.loads((keystore / "state.json").read_text())["pins"]
    assert pins[flow.feed_id]["owner"] == flow.owner.id
    # The reader can also check the owner's signed file against the hub's key directory.
    verified = flow.ok("policy", "verify", str(flow.policy_file), member=flow.reader,
                       keystore=keystore, passphrase=None)  # fmt: skip
    assert "registered key bundle 1 (in force)" in verified


def test_the_policy_rules_the_feed(flow: Flow) -> None:
    objects = f"collections/{FEED}/objects/"
    post_headers = {"Content-Type": TAXII_21}
    with http_client(flow.server, flow.writer) as writer:
        added = writer.post(
            objects, content=envelope_bytes([indicator("e2e")]), headers=post_headers
        )
        assert added.status_code == 202, added.text
        assert added.json()["success_count"] == 1
    with http_client(flow.server, flow.reader) as reader:
        read = reader.get(objects)
        assert read.status_code == 200, read.text
        assert [o["id"] for o in read.json()["objects"]] == [indicator("e2e")["id"]]
        refused = reader.post(
            objects, content=envelope_bytes([indicator("r")]), headers=post_headers
        )
        assert refused.status_code == 403, refused.text
    with http_client(flow.server, flow.outsider) as outsider:
        assert outsider.get(f"collections/{FEED}/").status_code == 404
        assert outsider.get(objects).status_code == 404
    with httpx.Client(base_url=flow.server.url, auth=flow.outsider.auth) as outsider:
        assert outsider.get(f"/exchange/v1/feeds/{FEED}/policy").status_code == 404


def test_a_tampered_policy_is_refused_and_the_hub_keeps_the_one_in_force(flow: Flow) -> None:
    v2 = flow.work / "v2.policy.json"
    flow.ok("policy", "init", "--feed", FEED, "--template", "community", "-o", str(v2))
    flow.ok("policy", "sign", str(v2))
    data = v2.read_bytes()
    at = data.index(b'"retention_days": 365') + len(b'"retention_days": 36')
    v2.write_bytes(data[:at] + b"6" + data[at + 1 :])  # one byte: 365 -> 366 days
    for command in (("verify", str(v2)), ("publish", str(v2), "--feed", FEED)):
        stderr = flow.fails(
            "policy", *command, code=3, match="the ed25519 signature does not verify"
        )
        assert stderr.startswith("error: verification failed, refusing policy version 2")
    # Sent anyway, behind the client's back, the hub refuses it as well.
    with httpx.Client(base_url=flow.server.url, auth=flow.owner.auth) as owner:
        direct = owner.post(f"/exchange/v1/feeds/{FEED}/policy", content=v2.read_bytes())
        assert direct.status_code == 422, direct.text
        versions = owner.get(f"/exchange/v1/feeds/{FEED}/policy/versions").json()["versions"]
    assert versions == [{"version": 1, "digest": flow.published["digest"]}]
    shown = json.loads(flow.ok("policy", "show", "--feed", FEED, "--json"))
    assert (shown["version"], shown["digest"]) == (1, flow.published["digest"])


def test_key_file_failures_end_in_clear_errors(flow: Flow) -> None:
    unsigned = flow.work / "unsigned.json"
    flow.ok("policy", "init", "--feed", FEED, "--template", "community", "-o", str(unsigned))
    before = unsigned.read_bytes()
    flow.fails("policy", "sign", str(unsigned), code=1, match="the passphrase does not open",
               passphrase="not my passphrase at all")  # fmt: skip
    assert unsigned.read_bytes() == before
    # A corrupted copy of the keystore.
    broken = flow.work / "broken-keys"
    broken.mkdir(mode=0o700)
    key_file = (flow.keystore / "keys-0001.json").read_text()
    (broken / "keys-0001.json").write_text(key_file[: len(key_file) // 2])
    flow.fails("policy", "sign", str(unsigned), code=1, match="is unusable: truncated or malformed",
               keystore=broken)  # fmt: skip
    flow.fails("keys", "show", code=1, match="is unusable", keystore=broken)
    # A weak passphrase never creates keys.
    fresh = flow.work / "fresh-keys"
    flow.fails("keys", "init", code=1, match="the passphrase is too weak: use at least 12",
               keystore=fresh, passphrase="hunter2")  # fmt: skip
    assert not fresh.exists() or not any(fresh.iterdir())
    # No passphrase and no terminal: told how to give one.
    flow.fails("policy", "sign", str(unsigned), code=2, match="set EXCHANGE_PASSPHRASE",
               passphrase=None)  # fmt: skip
