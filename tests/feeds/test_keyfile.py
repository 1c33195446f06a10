"""``feeds.crypto.keyfile`` and ``keystore``: each step of opening a key file, made to fail."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from feeds.crypto.keyfile import KdfParams, check_passphrase, open_keyfile, seal_keyfile
from feeds.crypto.keys import MemberSecrets
from feeds.crypto.keystore import Keystore
from feeds.errors import KeyFileCorrupted, KeystoreError, WeakPassphrase, WrongPassphrase
from tests.feeds.keymaker import CHEAP_KDF, PASSPHRASE


@pytest.fixture(scope="module")
def secrets() -> MemberSecrets:
    return MemberSecrets.generate(classical=True)


@pytest.fixture(scope="module")
def sealed(secrets: MemberSecrets) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        seal_keyfile(secrets, PASSPHRASE, generation=1, kdf=CHEAP_KDF)
    )
    return document


def altered(document: dict[str, Any], *path: str, value: Any) -> bytes:
    copy = json.loads(json.dumps(document))
    target = copy
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return json.dumps(copy).encode()


def test_a_sealed_file_opens_with_its_passphrase(secrets, sealed) -> None:
    opened = open_keyfile(json.dumps(sealed).encode(), PASSPHRASE)
    assert opened.public_json() == secrets.public_json()
    assert opened.x25519_seed == secrets.x25519_seed


# Step 0: form and costs.


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b'{"header": {}}', b"\xff\xfe", b"[" * 100_000],
    ids=["empty", "truncated", "list", "no-fields", "not-utf8", "deep"],
)
def test_step0_malformed_files(data: bytes) -> None:
    with pytest.raises(KeyFileCorrupted, match="truncated or malformed"):
        open_keyfile(data, PASSPHRASE, path="k.json")


def test_step0_another_format(sealed) -> None:
    with pytest.raises(KeyFileCorrupted, match="not a hub-key/1 key file"):
        open_keyfile(altered(sealed, "header", "v", value="hub-key/2"), PASSPHRASE)


@pytest.mark.parametrize(("name", "value"), [("t", 11), ("m", (1 << 20) + 1), ("p", 17), ("m", 7)])
def test_step0_costs_out_of_range_are_refused_before_deriving(sealed, name, value) -> None:
    data = altered(sealed, "header", "kdf", name, value=value)
    with pytest.raises(KeyFileCorrupted, match="key-derivation costs are out of range"):
        open_keyfile(data, PASSPHRASE)


@pytest.mark.parametrize(("name", "value"), [("t", True), ("m", 0), ("p", "4"), ("salt", 7)])
def test_step0_malformed_costs(sealed, name, value) -> None:
    with pytest.raises(KeyFileCorrupted, match="truncated or malformed"):
        open_keyfile(altered(sealed, "header", "kdf", name, value=value), PASSPHRASE)


def test_step0_a_short_salt_or_nonce(sealed) -> None:
    with pytest.raises(KeyFileCorrupted, match="truncated or malformed"):
        open_keyfile(altered(sealed, "header", "kdf", "salt", value="AAAA"), PASSPHRASE)
    with pytest.raises(KeyFileCorrupted, match="truncated or malformed"):
        open_keyfile(altered(sealed, "nonce", value="AAAA"), PASSPHRASE)


def test_step0_a_header_without_canonical_form_regression(sealed) -> None:
    # Regression: an integer beyond 2**53 in the header made canonical_bytes raise a
    # bare ValueError out of open_keyfile (a traceback in the CLI).
    data = altered(sealed, "header", "generation", value=2**60)
    with pytest.raises(KeyFileCorrupted, match="truncated or malformed"):
        open_keyfile(data, PASSPHRASE)


# Step 1: decrypt and authenticate.


def test_step1_a_wrong_passphrase(sealed) -> None:
    with pytest.raises(WrongPassphrase, match=r"the passphrase does not open k\.json"):
        open_keyfile(json.dumps(sealed).encode(), "another passphrase 123", path="k.json")


@pytest.mark.parametrize(
    "path",
    [("header", "generation"), ("header", "public", "signing", 0, "key_id")],
)
def test_step1_an_altered_header_does_not_open(sealed, path) -> None:
    copy = json.loads(json.dumps(sealed))
    target = copy
    for name in path[:-1]:
        target = target[name]
    last = path[-1]
    target[last] = 2 if last == "generation" else "sha256:" + "0" * 64
    with pytest.raises(WrongPassphrase):
        open_keyfile(json.dumps(copy).encode(), PASSPHRASE)


def test_step1_an_altered_ciphertext_does_not_open(sealed) -> None:
    ct = sealed["ct"]
    flipped = ("B" if ct[0] == "A" else "A") + ct[1:]
    with pytest.raises(WrongPassphrase):
        open_keyfile(altered(sealed, "ct", value=flipped), PASSPHRASE)


# Step 2: the seeds give the listed public keys.


def test_step2_seeds_that_do_not_match_the_header(
    secrets: MemberSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = MemberSecrets.generate().public_json()
    monkeypatch.setattr(MemberSecrets, "public_json", lambda self: other)
    data = seal_keyfile(secrets, PASSPHRASE, generation=1, kdf=CHEAP_KDF)
    monkeypatch.undo()
    with pytest.raises(KeyFileCorrupted, match="the seeds do not match the public keys"):
        open_keyfile(data, PASSPHRASE)


# Passphrases and the keystore.


@pytest.mark.parametrize(
    ("passphrase", "match"),
    [
        ("", "it is empty"),
        ("elevenchars", "at least 12 characters"),
        ("abababababab", "6 different characters"),
        ("password", "at least 12"),
        ("Correct Horse Battery Staple", "well-known"),
    ],
)
def test_weak_passphrases(passphrase: str, match: str) -> None:
    with pytest.raises(WeakPassphrase, match=match):
        check_passphrase(passphrase)


def test_a_keystore_keeps_every_generation_private(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "ks")
    first = keystore.create(PASSPHRASE, kdf=CHEAP_KDF)
    second = MemberSecrets.generate()
    assert keystore.add_generation(second, PASSPHRASE, kdf=CHEAP_KDF) == 2
    assert keystore.generations() == [1, 2]
    assert stat.S_IMODE(os.stat(keystore.path).st_mode) == 0o700
    for number in (1, 2):
        assert stat.S_IMODE(os.stat(keystore.path / f"keys-000{number}.json").st_mode) == 0o600
    keyring = keystore.load(PASSPHRASE)
    assert keyring.current_generation == 2
    assert keyring.generations[1].public_json() == first.public_json()
    assert keystore.public() == second.public_json()
    assert keystore.public(1) == first.public_json()
    with pytest.raises(KeystoreError, match="already holds keys"):
        keystore.create(PASSPHRASE, kdf=CHEAP_KDF)


def test_a_keystore_without_keys_or_with_a_broken_state(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "none")
    with pytest.raises(KeystoreError, match="create them with `feeds keys init`"):
        keystore.load(PASSPHRASE)
    assert keystore.state() == {"member": None, "pins": {}}
    keystore.path.mkdir()
    (keystore.path / "state.json").write_text("{")
    with pytest.raises(KeyFileCorrupted, match=r"state\.json is unusable: not JSON"):
        keystore.state()


def test_the_costs_in_a_file_are_the_ones_used(tmp_path: Path) -> None:
    data = seal_keyfile(MemberSecrets.generate(), PASSPHRASE, generation=1, kdf=KdfParams(1, 64, 2))
    assert json.loads(data)["header"]["kdf"] | {"salt": ""} == {
        "alg": "argon2id",
        "v": 19,
        "t": 1,
        "m": 64,
        "p": 2,
        "salt": "",
    }
