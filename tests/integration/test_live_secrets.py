"""Secrets hygiene (issue 8, item 6): with the hub logging at DEBUG, the members' real
flows (keys, registration, a signed policy, a sealed publication, a pull, an open) and
hostile requests carrying real tokens in the wrong places leave no API token,
passphrase, member key seed or log-key seed in the hub's log, in any error body, or
in any ``feeds`` output, in any usual encoding.

(Permissions are tested where the files are made: the hub's home and database in
``tests/exchange/test_cli.py``, key files in ``tests/feeds/test_keyfile.py``, and a
log key others can read stopping the hub in ``test_live_audit.py``.)
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from feeds.crypto.keystore import Keystore
from tests.feeds.live_feeds import ROOT, FeedsRunner, run_feeds
from tests.integration.live import TAXII_21, HubHome, Member, ServerProcess, identity

pytestmark = pytest.mark.integration

FEED = "secret-trends"
PASSPHRASE = "planted passphrase 7c1e-never-logged-4d2a"


@dataclass
class Flows:
    """A hub at DEBUG after the flows ran, and every text they produced."""

    home: HubHome
    server: ServerProcess
    runner: FeedsRunner
    members: dict[str, Member]
    outputs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flows]:
    base = tmp_path_factory.mktemp("secrets")
    home = HubHome(backend="sqlite", home=base / "home", auto_policy=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        try:
            owner, reader = home.add_members(**{"CERT-Secret": "authority", "Lab": "research"})
            home.add_feed(FEED, owner="CERT-Secret")
            home.grant("Lab", FEED, read=True)
            members = {"owner": owner, "reader": reader}
            work = base / "work"
            work.mkdir()
            server = home.serve(LOG_LEVEL="debug")
            runner = FeedsRunner(server, work, members, PASSPHRASE)
            f = Flows(home, server, runner, members)
            yield f
        finally:
            home.stop_all()


def _run(f: Flows) -> None:
    ok = f.runner.ok
    for name in f.members:
        f.outputs.append(ok(name, "keys", "init"))
        f.outputs.append(ok(name, "keys", "register"))
    policy = f.runner.work / "policy.json"
    f.outputs.append(
        ok("owner", "policy", "init", "--feed", FEED, "--template", "community", "-o", str(policy))
    )
    document = json.loads(policy.read_text())
    document["readers"] = [m.id for m in f.members.values()]
    policy.write_text(json.dumps(document))
    f.outputs.append(ok("owner", "policy", "sign", str(policy)))
    f.outputs.append(ok("owner", "policy", "publish", str(policy), "--feed", FEED))
    source = f.runner.work / "bundle.json"
    bundle = {"type": "bundle", "id": "bundle--2b1e0c9d-8a7f-4e6d-9c5b-4a3f2e1d0c9b"}
    source.write_text(json.dumps({**bundle, "objects": [identity("secret-flow")]}))
    f.outputs.append(ok("owner", "publish", str(source), "--feed", FEED))
    pulled = f.runner.work / "pulled"
    f.outputs.append(ok("reader", "pull", "--feed", FEED, "--out", str(pulled)))
    for path in sorted(pulled.glob("sealed-envelope--*.json")):
        if not path.name.endswith(".source.json"):
            f.outputs.append(ok("reader", "open", str(path)))
    # A refusal printed by the CLI, too: a wrong passphrase (which holds the right one).
    done = run_feeds(
        f.server.url,
        "pull",
        "--feed",
        FEED,
        "--out",
        str(f.runner.work / "refused"),
        token=f.members["reader"].token,
        keystore=f.runner.keystore("reader"),
        passphrase=f"wrong {PASSPHRASE}",
        cwd=f.runner.work,
    )
    assert done.returncode != 0
    f.outputs.append(done.stdout + done.stderr)


def _hostile(f: Flows) -> None:
    """Real tokens where they do not belong; every answer's body is kept."""
    owner, reader = f.members["owner"], f.members["reader"]
    url = f"{f.server.url}/taxii2/trends/collections/{FEED}/objects/"
    basic = base64.b64encode(f"{reader.id}:{owner.token}".encode()).decode()
    attempts = [
        {"Authorization": f"Basic {basic}"},  # another member's token under one's name
        {"Authorization": f"Bearer {owner.token}x"},
        {"Authorization": f"Bearer {owner.token} {reader.token}"},
        {"Authorization": f"Basic {owner.token}"},  # not base64 of id:token
        {"Authorization": f"Token {owner.token}"},
        {"Authorization": f"Bearer {PASSPHRASE}"},
    ]
    with httpx.Client(headers={"Accept": TAXII_21}, timeout=30) as client:
        for headers in attempts:
            response = client.get(url, headers=headers)
            assert response.status_code == 401
            f.outputs.append(response.text + json.dumps(dict(response.headers)))
        bad_body = client.post(
            url,
            content=b'{"objects": [' + owner.token.encode() + b"]",
            headers={"Authorization": f"Bearer {owner.token}", "Content-Type": TAXII_21},
        )
        assert bad_body.status_code in (400, 422)
        f.outputs.append(bad_body.text)


def _encodings(secret: bytes) -> list[str]:
    b64 = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    return [secret.hex(), b64, b64.rstrip("="), urlsafe, urlsafe.rstrip("=")]


def _secrets(f: Flows) -> dict[str, list[str]]:
    planted: dict[str, list[str]] = {"passphrase": [PASSPHRASE]}
    for name, member in f.members.items():
        planted[f"{name}'s token"] = [member.token]
        keyring = Keystore(f.runner.keystore(name)).load(PASSPHRASE)
        for number, secrets in keyring.generations.items():
            for seed_name in ("xwing_seed", "ed25519_seed", "mldsa65_seed", "x25519_seed"):
                seed = getattr(secrets, seed_name)
                if seed is not None:
                    planted[f"{name}'s {seed_name} ({number})"] = _encodings(seed)
    log_key = json.loads((f.home.home / "log-key.json").read_text())
    for algorithm in ("ed25519", "ml-dsa-44"):
        seed = base64.b64decode(log_key[algorithm])
        planted[f"log key {algorithm}"] = _encodings(seed)
    return planted


def test_no_secret_reaches_a_log_an_error_body_or_the_cli_at_debug(flows: Flows) -> None:
    f = flows
    _run(f)
    _hostile(f)
    log = f.server.log()
    assert "DEBUG:     exchange.services.auth: authentication refused" in log  # at DEBUG
    assert "Traceback" not in log
    texts = {"the hub's log": log} | {f"output {i}": text for i, text in enumerate(f.outputs)}
    for what, forms in _secrets(f).items():
        for form in forms:
            for where, text in texts.items():
                assert form not in text, f"{what} appears in {where}"
