"""``feeds policy init|sign|verify|publish|show`` against a fake hub."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from feeds.cli._session import Session
from feeds.crypto.keys import MemberSecrets
from policies import parse_signed_policy, template_names
from tests.feeds.cli_helpers import Cli, connect_sessions_to
from tests.feeds.fake_hub import FakeHub
from tests.feeds.keymaker import chain, make_keystore, make_policy, publish_raw, register_raw


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub()
    fake.add_feed("reports", "Trend reports")
    monkeypatch.setattr(Session, "hub", connect_sessions_to(fake))
    return fake


@pytest.fixture
def owner(tmp_path: Path, hub: FakeHub) -> Cli:
    """The feed's owner, keys registered."""
    make_keystore(tmp_path / "owner-keys")
    cli = Cli(tmp_path / "owner-keys", hub.add_member("owner"))
    cli.ok("keys", "register")
    return cli


@pytest.fixture
def reader(tmp_path: Path, hub: FakeHub) -> Cli:
    """Another member, without keys (a subscriber only pins)."""
    return Cli(tmp_path / "reader-keys", hub.add_member("reader"), passphrase=None)


def feed_id(hub: FakeHub, alias: str = "reports") -> str:
    return next(f for f, c in hub.feeds.items() if c["alias"] == alias)


def draft(owner: Cli, path: Path, *readers: str) -> Path:
    """``policy init`` into ``path``, then add ``readers`` the way an owner edits the file."""
    owner.ok("policy", "init", "--feed", "reports", "--template", "community", "-o", str(path))
    document = json.loads(path.read_text())
    document["readers"] += list(readers)
    path.write_text(json.dumps(document, indent=4))
    return path


@pytest.fixture
def signed_file(owner: Cli, reader: Cli, tmp_path: Path) -> Path:
    assert reader.member is not None
    path = draft(owner, tmp_path / "reports.policy.json", reader.member.id)
    owner.ok("policy", "sign", str(path))
    return path


def tamper_one_byte(path: Path, old: str, new: str) -> None:
    data = path.read_bytes()
    index = data.index(old.encode())
    assert len(old) == len(new) == 1 or old.encode() in data
    path.write_bytes(data[:index] + new.encode() + data[index + len(old) :])


# ---------------------------------------------------------------------- init


def test_init_drafts_version_1_with_the_owner_as_reader_and_writer(
    owner: Cli, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert owner.member is not None
    monkeypatch.chdir(tmp_path)
    out = owner.ok("policy", "init", "--feed", "reports", "--template", "community")
    document = json.loads((tmp_path / "reports.policy.json").read_text())
    assert document["version"] == 1
    assert document["previous"] is None
    assert document["feed"] == feed_id(hub)
    assert document["readers"] == document["writers"] == [owner.member.id]
    assert 'edit "readers" and "writers"' in out
    assert "feeds policy sign reports.policy.json" in out
    assert "feeds policy publish reports.policy.json --feed reports" in out


def test_init_does_not_overwrite_without_force(owner: Cli, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("keep me")
    args = ("policy", "init", "--feed", "reports", "--template", "public", "-o", str(path))
    owner.fails(*args, code=1, match="already exists; pass --force")
    assert path.read_text() == "keep me"
    assert owner.json(*args, "--force")["version"] == 1
    assert json.loads(path.read_text())["public"] is True


def test_init_with_an_unknown_template(owner: Cli, tmp_path: Path) -> None:
    result = owner.run("policy", "init", "--feed", "reports", "--template", "nope")
    assert result.exit_code == 2
    for name in template_names():
        assert name in result.stderr


def test_init_for_an_unknown_feed(owner: Cli) -> None:
    owner.fails(
        "policy", "init", "--feed", "nope", "--template", "community", code=1,
        match="refused the request (HTTP 404): No such collection.",
    )  # fmt: skip


def test_init_next_version_keeps_readers(owner: Cli, signed_file: Path, tmp_path: Path) -> None:
    owner.ok("policy", "publish", str(signed_file), "--feed", "reports")
    path = tmp_path / "v2.json"
    owner.ok("policy", "init", "--feed", "reports", "--template", "community", "-o", str(path))
    document = json.loads(path.read_text())
    first = parse_signed_policy(signed_file.read_bytes())
    assert (document["version"], document["previous"]) == (2, first.digest)
    assert document["readers"] == list(first.policy.readers)


# ---------------------------------------------------------------------- sign and verify


def test_sign_writes_the_signed_normal_form(owner: Cli, signed_file: Path) -> None:
    signed = parse_signed_policy(signed_file.read_bytes())
    assert len(signed.signatures) == 2
    out = owner.ok("policy", "verify", str(signed_file))
    assert "verified: version 1" in out
    assert "key bundle 1 (in force)" in out
    assert signed.digest in out
    offline = owner.json("policy", "verify", "--offline", str(signed_file), EXCHANGE_HUB=None)
    assert offline["signed_by"] == "key generation 1 of this keystore"
    assert offline["digest"] == signed.digest


def test_sign_to_another_file_and_re_sign(owner: Cli, signed_file: Path, tmp_path: Path) -> None:
    before = signed_file.read_bytes()
    out = owner.json("policy", "sign", str(signed_file), "-o", str(tmp_path / "copy.json"))
    assert signed_file.read_bytes() == before
    assert out["digest"] == parse_signed_policy(before).digest  # same policy, same digest


def test_sign_refuses_a_policy_owned_by_another_member(
    owner: Cli, reader: Cli, tmp_path: Path
) -> None:
    assert reader.member is not None
    path = draft(owner, tmp_path / "p.json")
    document = json.loads(path.read_text())
    document["owner"] = reader.member.id
    path.write_text(json.dumps(document))
    owner.fails("policy", "sign", str(path), code=1, match=f"its owner is {reader.member.id}")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "the document is not valid JSON"),
        ('{"format": "exchange-policy/1"}', "feed: Field required"),
        ('{"a": 1, "a": 2}', "a: appears twice"),
    ],
)
def test_sign_refuses_a_broken_file(owner: Cli, tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    owner.fails("policy", "sign", str(path), code=1, match=f"{path}: {match}")


def test_sign_a_missing_file(owner: Cli, tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    owner.fails("policy", "sign", str(path), code=1, match=f"{path}: cannot read it")


def test_sign_with_a_wrong_passphrase(owner: Cli, tmp_path: Path) -> None:
    path = draft(owner, tmp_path / "p.json")
    before = path.read_bytes()
    owner.passphrase = "a wrong passphrase!"
    owner.fails("policy", "sign", str(path), code=1, match="the passphrase does not open")
    assert path.read_bytes() == before


def test_a_tampered_byte_fails_verify_and_publish(
    owner: Cli, signed_file: Path, hub: FakeHub
) -> None:
    tamper_one_byte(signed_file, "365", "366")  # retention_days
    for args in (("verify", str(signed_file)), ("publish", str(signed_file), "--feed", "reports")):
        stderr = owner.fails("policy", *args, code=3, match="the ed25519 signature does not verify")
        assert stderr.startswith("error: verification failed, refusing policy version 1")
    owner.fails(
        "policy", "verify", "--offline", str(signed_file), code=3,
        match="the ed25519 signature does not verify",
    )  # fmt: skip
    assert hub.policies[feed_id(hub)] == []


def test_verify_an_unsigned_file(owner: Cli, tmp_path: Path) -> None:
    path = draft(owner, tmp_path / "p.json")
    owner.fails("policy", "verify", str(path), code=1, match='a signed policy is {"policy"')


def test_verify_offline_only_for_our_own_policies(
    owner: Cli, reader: Cli, signed_file: Path
) -> None:
    reader.fails(
        "policy", "verify", "--offline", str(signed_file), code=1,
        match="create them with `feeds keys init`",
    )  # fmt: skip
    make_keystore(reader.keystore)
    reader.fails(
        "policy", "verify", "--offline", str(signed_file), code=3,
        match="member id is not known yet",
    )  # fmt: skip
    # Online, anyone can verify it against the owner's registered keys.
    assert reader.json("policy", "verify", str(signed_file))["verified"] is True


def test_verify_a_policy_signed_by_someone_else(
    owner: Cli, signed_file: Path, hub: FakeHub
) -> None:
    assert owner.member is not None
    document = json.loads(signed_file.read_text())
    forger = MemberSecrets.generate()
    forged = make_policy(forger, feed=feed_id(hub), owner=owner.member.id)
    document["signatures"] = forged.to_json()["signatures"]
    signed_file.write_text(json.dumps(document))
    owner.fails(
        "policy", "verify", str(signed_file), code=3,
        match=f"not signed by the registered keys of its owner {owner.member.id}",
    )  # fmt: skip


# ---------------------------------------------------------------------- publish and show


def test_publish_then_show(owner: Cli, reader: Cli, signed_file: Path, hub: FakeHub) -> None:
    assert owner.member is not None
    assert reader.member is not None
    digest = parse_signed_policy(signed_file.read_bytes()).digest
    out = owner.ok("policy", "publish", str(signed_file), "--feed", "reports")
    assert "published version 1" in out
    assert digest in out
    shown = reader.json("policy", "show", "--feed", "reports")
    assert shown["version"] == 1
    assert shown["digest"] == digest
    assert shown["tlp"] == {
        "level": "TLP:GREEN",
        "marking": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    }
    assert shown["readers"] == [owner.member.id, reader.member.id]
    assert shown["writers"] == [owner.member.id]
    assert shown["iep"]["unmodified_resale"] == "MUST NOT"
    assert shown["retention_days"] == 365
    assert shown["pin"]["new"] is True
    assert shown["pin"]["owner"] == owner.member.id
    text = reader.ok("policy", "show", "--feed", "reports")
    for expected in (
        "TLP:GREEN",
        "365 days",
        "EXTERNALLY VISIBLE DIRECT ACTIONS",
        "trend-analysis",
        f"{reader.member.id} (you)",
        f"{owner.member.id} (owner)",
        "matches the pinned owner",
    ):
        assert expected in text


def test_publish_twice_shows_the_hubs_reason(owner: Cli, signed_file: Path) -> None:
    owner.ok("policy", "publish", str(signed_file), "--feed", "reports")
    owner.fails(
        "policy", "publish", str(signed_file), "--feed", "reports", code=1,
        match="(HTTP 409): The policy was refused: expected version 2",
    )  # fmt: skip


def test_publish_to_another_feed(owner: Cli, signed_file: Path, hub: FakeHub) -> None:
    hub.add_feed("other")
    owner.fails(
        "policy", "publish", str(signed_file), "--feed", "other", code=1,
        match=f"the policy is for feed {feed_id(hub)}",
    )  # fmt: skip


def test_show_escapes_what_the_hub_says(owner: Cli, signed_file: Path, hub: FakeHub) -> None:
    owner.ok("policy", "publish", str(signed_file), "--feed", "reports")
    hub.feeds[feed_id(hub)]["title"] = "[bold red]ALERT[/bold red] [link=https://evil.test]x[/link]"
    text = owner.ok("policy", "show", "--feed", "reports")
    assert "[bold red]ALERT[/bold red]" in text
    assert "[link=https://evil.test]x[/link]" in text


def test_show_refuses_an_owner_switch_against_the_pin(
    owner: Cli, reader: Cli, signed_file: Path, hub: FakeHub
) -> None:
    assert owner.member is not None
    owner.ok("policy", "publish", str(signed_file), "--feed", "reports")
    reader.ok("policy", "show", "--feed", "reports")
    # The hub hands the feed to an intruder with a fresh, valid-looking history.
    intruder = hub.add_member("intruder")
    keys = MemberSecrets.generate()
    register_raw(hub, intruder, chain(intruder.id, keys))
    hub.policies[feed_id(hub)] = []
    publish_raw(hub, feed_id(hub), make_policy(keys, feed=feed_id(hub), owner=intruder.id))
    stderr = reader.fails(
        "policy", "show", "--feed", "reports", code=3, match="THE FEED'S OWNER CHANGED"
    )
    assert f"pinned owner {owner.member.id}" in stderr
    assert f"presented owner {intruder.id}" in stderr
    repinned = reader.json("policy", "show", "--feed", "reports", "--repin")
    assert repinned["owner"] == intruder.id


def test_show_a_feed_without_policy(reader: Cli) -> None:
    reader.fails("policy", "show", "--feed", "reports", code=3, match="the feed has no policy yet")


def test_verify_offline_step_by_step(owner: Cli, reader: Cli, signed_file: Path) -> None:
    assert owner.member is not None
    assert reader.member is not None
    # 0. Not ours: the reader's keystore belongs to the reader.
    make_keystore(reader.keystore)
    reader.passphrase = owner.passphrase
    reader.ok("keys", "register")
    reader.fails(
        "policy", "verify", "--offline", str(signed_file), code=3,
        match=f"its owner is {owner.member.id}, not this keystore's member {reader.member.id}",
    )  # fmt: skip
    # 1. Ours, but signed by keys this keystore never had.
    document = json.loads(signed_file.read_text())
    forged = make_policy(
        MemberSecrets.generate(), feed=document["policy"]["feed"], owner=owner.member.id
    )
    document["signatures"] = forged.to_json()["signatures"]
    signed_file.write_text(json.dumps(document))
    owner.fails(
        "policy", "verify", "--offline", str(signed_file), code=3,
        match="not signed by any key generation of this keystore",
    )  # fmt: skip


def test_sign_into_a_directory_that_does_not_exist(owner: Cli, tmp_path: Path) -> None:
    path = draft(owner, tmp_path / "p.json")
    target = tmp_path / "missing" / "signed.json"
    owner.fails(
        "policy", "sign", str(path), "-o", str(target), code=1, match=f"{target}: cannot write it"
    )


def test_a_receipt_for_another_version_is_unexpected(
    owner: Cli, signed_file: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lying(*_args: object) -> httpx.Response:
        return httpx.Response(201, json={"feed": feed_id(hub), "version": 1, "digest": "sha256:0"})

    monkeypatch.setattr(hub, "_post_policy", lying)
    owner.fails(
        "policy", "publish", str(signed_file), "--feed", "reports", code=1,
        match="the hub's receipt names another policy version",
    )  # fmt: skip
