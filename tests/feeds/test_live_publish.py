"""End to end: a writer publishes a sealed bundle with ``feeds publish`` to a real hub process.

The operator admits owner, reader and writer and creates the feed; each member
runs the real ``feeds`` console script (keys init and register); the owner
publishes a policy (the community template's TLP, so only sealed reports go
in) naming all three as readers and owner and writer as writers. The writer
publishes a bundle; the reader fetches the stored object over plain TAXII and
opens it to the very bytes published. The reader's own ``feeds publish`` is
refused by the client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from feeds.crypto.envelope import open_report
from feeds.crypto.keystore import Keystore
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import fetch_feed_policy
from feeds.publishing import recipient_keys
from feeds.trust import verify_key_chain
from tests.integration.live import HubHome, Member, ServerProcess, http_client, indicator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"
PASSPHRASE = "lantern orbit tangerine 7"
FEED = "trends-sealed"


class Hub:
    """The running hub, the members and their keystores."""

    def __init__(self, server: ServerProcess, work: Path, members: dict[str, Member]) -> None:
        self.server, self.work, self.members = server, work, members

    def keystore(self, name: str) -> Path:
        return self.work / f"{name}-keys"

    def feeds(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        member = self.members[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        env |= {
            "EXCHANGE_HUB": self.server.url,
            "EXCHANGE_TOKEN": member.token,
            "EXCHANGE_KEYSTORE": str(self.keystore(name)),
            "EXCHANGE_PASSPHRASE": PASSPHRASE,
        }
        done = subprocess.run(
            [str(FEEDS), *args],
            env=env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stderr
        assert member.token not in done.stdout + done.stderr
        return done

    def ok(self, name: str, *args: str) -> str:
        done = self.feeds(name, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    base = tmp_path_factory.mktemp("publish-flow")
    home = HubHome(backend="sqlite", home=base / "home", auto_policy=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        try:
            owner, reader, writer = home.add_members(
                **{"CERT-EU": "authority", "Uni Lab": "research", "Vendor": "industry"}
            )
            home.add_feed(FEED, owner="CERT-EU", title="Sealed trends")
            home.grant("Uni Lab", FEED, read=True)
            home.grant("Vendor", FEED, read=True, write=True)
            work = base / "work"
            work.mkdir()
            live = Hub(home.serve(), work, {"owner": owner, "reader": reader, "writer": writer})
            for name in live.members:
                live.ok(name, "keys", "init")
                live.ok(name, "keys", "register")
            policy_file = work / "policy.json"
            live.ok("owner", "policy", "init", "--feed", FEED, "--template", "community",
                    "-o", str(policy_file))  # fmt: skip
            document = json.loads(policy_file.read_text())
            document["readers"] = [owner.id, reader.id, writer.id]
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
    assert sorted(out["recipients"]) == sorted(m.id for m in members.values())
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
