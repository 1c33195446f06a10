"""``feeds keys init|show|register|rotate`` against a fake hub."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from exchange.protocol.keys import parse_key_bundle
from feeds.cli import _session
from feeds.cli._session import Session
from feeds.crypto.keys import MemberSecrets
from feeds.crypto.keystore import Keystore
from feeds.identity import known_member, local_identity
from tests.feeds.cli_helpers import Cli, connect_sessions_to
from tests.feeds.fake_hub import FakeHub
from tests.feeds.keymaker import PASSPHRASE, chain, make_keystore, register_raw


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub()
    monkeypatch.setattr(Session, "hub", connect_sessions_to(fake))
    return fake


@pytest.fixture
def cli(tmp_path: Path, hub: FakeHub) -> Cli:
    """The owner, with a (cheaply sealed) keystore."""
    make_keystore(tmp_path / "keys")
    return Cli(tmp_path / "keys", hub.add_member("owner"))


# ---------------------------------------------------------------------- init


def test_init_creates_generation_1_and_prints_key_ids_and_fingerprint(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "new")
    out = cli.ok("keys", "init")
    identity = local_identity(Keystore(tmp_path / "new"))
    for key_id in identity.current.key_ids.values():
        assert key_id in out
    assert f"fingerprint: {identity.fingerprint}" in out
    assert "feeds keys register" in out
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "keys-0001.json").st_mode) == 0o600
    assert "X25519" not in identity.current.key_ids


def test_init_classical_json(tmp_path: Path) -> None:
    out = Cli(tmp_path / "new").json("keys", "init", "--classical")
    assert out["generation"] == 1
    assert set(out["generations"][0]["key_ids"]) == {
        "MLKEM768-X25519",
        "X25519",
        "ed25519",
        "ml-dsa-65",
    }
    assert len(out["fingerprint"].split()) == 4


@pytest.mark.parametrize(
    ("passphrase", "match"),
    [
        ("", "the passphrase is too weak: it is empty"),
        ("short", "use at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "use at least 6 different characters"),
        ("Correct Horse Battery Staple", "well-known passphrase"),
    ],
)
def test_init_refuses_a_weak_passphrase(tmp_path: Path, passphrase: str, match: str) -> None:
    Cli(tmp_path / "new", passphrase=passphrase).fails("keys", "init", code=1, match=match)
    assert not Keystore(tmp_path / "new").exists()


def test_init_refuses_to_overwrite_keys(cli: Cli) -> None:
    before = (cli.keystore / "keys-0001.json").read_bytes()
    cli.fails("keys", "init", code=1, match="already holds keys; use `feeds keys rotate`")
    assert (cli.keystore / "keys-0001.json").read_bytes() == before


def test_init_without_passphrase_or_terminal(tmp_path: Path) -> None:
    Cli(tmp_path / "new", passphrase=None).fails(
        "keys", "init", code=2, match="no passphrase is set and there is no terminal"
    )


def test_init_asks_twice_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_session, "_interactive", lambda: True)
    cli = Cli(tmp_path / "new", passphrase=None)
    result = cli.run("keys", "init", input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.stderr
    assert "Keystore passphrase" in result.stderr  # the prompt goes to stderr
    assert "fingerprint" in result.stdout
    Keystore(tmp_path / "new").load(PASSPHRASE)


def test_the_keystore_option_wins_over_the_environment(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "env")
    cli.ok("keys", "init", "--keystore", str(tmp_path / "opt"))
    assert Keystore(tmp_path / "opt").exists()
    assert not Keystore(tmp_path / "env").exists()


# ---------------------------------------------------------------------- show


def test_show_needs_no_passphrase(cli: Cli) -> None:
    cli.passphrase = None
    out = cli.json("keys", "show")
    identity = local_identity(Keystore(cli.keystore))
    assert out["fingerprint"] == identity.fingerprint
    assert out["member"] is None
    assert out["generations"] == [{"generation": 1, "key_ids": identity.current.key_ids}]
    assert "generation 1 (current, signs)" in cli.ok("keys", "show")


def test_show_without_keys(tmp_path: Path) -> None:
    Cli(tmp_path / "none").fails("keys", "show", code=1, match="create them with `feeds keys init`")


def test_show_with_a_corrupted_key_file(cli: Cli) -> None:
    (cli.keystore / "keys-0001.json").write_text('{"header": {"public": {"signing": []}}}')
    cli.fails("keys", "show", code=1, match="keys-0001.json is unusable")


# ---------------------------------------------------------------------- register


def test_register_uploads_once_and_remembers_the_member(cli: Cli, hub: FakeHub) -> None:
    assert cli.member is not None
    out = cli.json("keys", "register")
    assert out["uploaded"] is True
    assert (out["member"], out["sequence"], out["generation"]) == (cli.member.id, 1, 1)
    stored = parse_key_bundle(hub.bundles[cli.member.id][0])
    assert out["digest"] == stored.digest
    assert known_member(Keystore(cli.keystore)) == cli.member.id
    # A second run finds the keys there and needs no passphrase.
    cli.passphrase = None
    assert "nothing to do" in cli.ok("keys", "register")
    assert len(hub.bundles[cli.member.id]) == 1


def test_register_with_a_wrong_passphrase(cli: Cli, hub: FakeHub) -> None:
    cli.passphrase = "not the passphrase at all"
    cli.fails("keys", "register", code=1, match="the passphrase does not open")
    assert cli.member is not None
    assert cli.member.id not in hub.bundles


def test_register_with_a_corrupted_key_file(cli: Cli) -> None:
    path = cli.keystore / "keys-0001.json"
    document = json.loads(path.read_text())
    document["ct"] = document["ct"][:-8] + "AAAAAAA="
    path.write_text(json.dumps(document))
    cli.fails("keys", "register", code=1, match="wrong passphrase, or the file was altered")
    path.write_text(path.read_text()[:50])
    cli.fails("keys", "register", code=1, match="is unusable: truncated or malformed")


def test_register_refuses_a_keystore_of_another_member(cli: Cli, hub: FakeHub) -> None:
    Keystore(cli.keystore).save_state({"member": "identity--someone-else", "pins": {}})
    cli.fails("keys", "register", code=1, match="belongs to member identity--someone-else")


def test_register_refuses_when_the_hub_holds_foreign_keys(cli: Cli, hub: FakeHub) -> None:
    assert cli.member is not None
    register_raw(hub, cli.member, chain(cli.member.id, MemberSecrets.generate()))
    cli.fails("keys", "register", code=3, match="holds keys that are not in this keystore")


def test_register_refuses_a_forged_chain_on_the_hub(cli: Cli, hub: FakeHub) -> None:
    assert cli.member is not None
    bundles = chain(cli.member.id, MemberSecrets.generate(), MemberSecrets.generate())
    register_raw(hub, cli.member, bundles[1:])
    cli.fails("keys", "register", code=3, match="bundle 1 breaks the chain")


def test_register_needs_a_token(cli: Cli) -> None:
    cli.fails("keys", "register", code=2, match="no API token is set", EXCHANGE_TOKEN=None)


def test_register_with_a_revoked_token(cli: Cli, hub: FakeHub) -> None:
    hub.members.clear()
    cli.fails("keys", "register", code=1, match="rejected the API token (HTTP 401)")


# ---------------------------------------------------------------------- rotate


def test_rotate_adds_an_endorsed_generation(cli: Cli, hub: FakeHub) -> None:
    assert cli.member is not None
    cli.ok("keys", "register")
    before = local_identity(Keystore(cli.keystore))
    out = cli.json("keys", "rotate")
    after = local_identity(Keystore(cli.keystore))
    assert (out["sequence"], out["generation"]) == (2, 2)
    assert out["fingerprint"] == after.fingerprint != before.fingerprint
    assert [g.number for g in after.generations] == [1, 2]
    stored = [parse_key_bundle(b) for b in hub.bundles[cli.member.id]]
    assert stored[1].keys.previous == stored[0].digest
    assert stored[1].endorsements
    Keystore(cli.keystore).load(PASSPHRASE)  # both generations open
    shown = cli.ok("keys", "show")
    assert "generation 1:" in shown
    assert "generation 2 (current, signs)" in shown


def test_rotate_before_register_is_refused(cli: Cli, hub: FakeHub) -> None:
    cli.fails("keys", "rotate", code=1, match="run `feeds keys register` first")
    assert Keystore(cli.keystore).generations() == [1]


def test_a_failed_rotation_upload_is_finished_by_register(
    cli: Cli, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.member is not None
    cli.ok("keys", "register")
    original = hub._post_bundle
    monkeypatch.setattr(
        hub, "_post_bundle", lambda *a: httpx.Response(503, json={"description": "Later."})
    )
    cli.fails("keys", "rotate", code=1, match="saved as generation 2: run `feeds keys register`")
    assert Keystore(cli.keystore).generations() == [1, 2]
    monkeypatch.setattr(hub, "_post_bundle", original)
    out = cli.json("keys", "register")
    assert (out["uploaded"], out["sequence"], out["generation"]) == (True, 2, 2)
    stored = [parse_key_bundle(b) for b in hub.bundles[cli.member.id]]
    assert stored[1].endorsements  # endorsed by generation 1, which the hub held


def test_show_with_a_key_id_that_is_not_its_keys(cli: Cli) -> None:
    path = cli.keystore / "keys-0001.json"
    document = json.loads(path.read_text())
    document["header"]["public"]["signing"][0]["key_id"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(document))
    cli.fails("keys", "show", code=1, match="the ed25519 key id is not the id of its key")
