"""Checkpoints: C2SP signed notes with an Ed25519 and an ML-DSA-44 signature, both required."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from exchange.audit.signer import LogKey
from exchange.protocol.checkpoint import (
    ED25519_TYPE,
    MLDSA44_TYPE,
    checkpoint_text,
    key_id,
    parse_checkpoint,
    verify_checkpoint,
    vkey,
)
from exchange.protocol.errors import ProofError

ORIGIN = "hub.example/access"
ROOT = hashlib.sha256(b"root").digest()
KEY = LogKey.generate()
NOTE = KEY.sign_checkpoint(ORIGIN, 42, ROOT, timestamp=1_764_000_000)

# The example of golang.org/x/mod/sumdb/note, which C2SP signed-note follows.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


def test_key_ids_vkeys_and_note_signatures_match_the_reference_example() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(GO_SEED)
    public = private.public_key().public_bytes_raw()
    assert vkey("PeterNeumann", ED25519_TYPE, public) == GO_VKEY
    blob = key_id("PeterNeumann", ED25519_TYPE, public) + private.sign(GO_TEXT.encode())
    assert base64.b64encode(blob).decode() == GO_SIGNATURE


def test_a_signed_checkpoint_verifies_and_says_what_it_holds() -> None:
    assert NOTE.startswith(checkpoint_text(ORIGIN, 42, ROOT) + "\n\u2014 ")
    checkpoint = verify_checkpoint(NOTE, ORIGIN, KEY.public)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 42, ROOT)
    assert checkpoint.timestamp == 1_764_000_000
    assert checkpoint.text == NOTE
    assert KEY.public.fingerprint().startswith("sha256:")
    assert "seed" not in repr(KEY)
    assert KEY.public.fingerprint() in repr(KEY)


def test_other_signatures_and_extension_lines_are_ignored() -> None:
    text, _, signatures = NOTE.partition("\n\n")
    other = LogKey.generate().sign_checkpoint(ORIGIN, 42, ROOT).partition("\n\n")[2]
    stranger = "\u2014 witness.example/w1 " + base64.b64encode(b"\x00" * 68).decode() + "\n"
    note = f"{text}\nextension line\n\n{other}{stranger}{signatures}"
    with pytest.raises(ProofError, match="Ed25519 signature does not verify"):
        # Extension lines are part of the signed text: the hub's signature no longer fits.
        verify_checkpoint(note, ORIGIN, KEY.public)
    assert verify_checkpoint(f"{text}\n\n{other}{stranger}{signatures}", ORIGIN, KEY.public)
    assert parse_checkpoint(note)[1] == 42


def _sig_lines(note: str) -> list[str]:
    return note.partition("\n\n")[2].splitlines(keepends=True)


def _with_signatures(*lines: str) -> str:
    return NOTE.partition("\n\n")[0] + "\n\n" + "".join(lines)


def _replace_signature(line: str, raw: bytes) -> str:
    name = line.split(" ")[1]
    return f"\u2014 {name} {base64.b64encode(raw).decode()}\n"


def _raw(line: str) -> bytes:
    return base64.b64decode(line.split(" ")[2])


ED_LINE, ML_LINE = _sig_lines(NOTE)


def _retimed(timestamp: int) -> str:
    """The ML-DSA-44 line with its timestamp replaced (its signature kept)."""
    raw = _raw(ML_LINE)
    return _replace_signature(ML_LINE, raw[:4] + timestamp.to_bytes(8, "big") + raw[12:])


@pytest.mark.parametrize(
    ("note", "match"),
    [
        (NOTE[:-1], "ending in a newline"),
        ("x" * 70_000 + "\n", "ending in a newline"),
        (checkpoint_text(ORIGIN, 42, ROOT), "no signature lines"),
        (NOTE.replace(ORIGIN + "\n", " bad\n", 1), "origin line"),
        ("origin\n42\n\n" + ED_LINE, "origin line"),
        (NOTE.replace("\n42\n", "\n042\n", 1), "not a decimal"),
        (NOTE.replace(base64.b64encode(ROOT).decode(), "!!!!", 1), "root is not base64"),
        (NOTE.replace(base64.b64encode(ROOT).decode(), "AAAA", 1), "not 32 bytes"),
        (_with_signatures(*([ED_LINE] * 65)), "too many signature lines"),
        (_with_signatures("- name sig\n"), "malformed"),
        (_with_signatures("\u2014 name !!!!\n"), "signature is not base64"),
        (_with_signatures("\u2014 name AAAA\n"), "too short"),
        (NOTE.replace(ORIGIN, "hub.example/directory"), "not 'hub.example/access'"),
        (_with_signatures(ED_LINE, ED_LINE, ML_LINE), "two signatures by one key"),
        (_with_signatures(ED_LINE), "lacks"),
        (_with_signatures(ML_LINE), "lacks"),
        (_with_signatures(_replace_signature(ED_LINE, _raw(ED_LINE)[:-1]), ML_LINE), "wrong size"),
        (
            _with_signatures(_replace_signature(ED_LINE, _raw(ED_LINE)[:4] + bytes(64)), ML_LINE),
            "Ed25519 signature does not verify",
        ),
        (
            _with_signatures(ED_LINE, _replace_signature(ML_LINE, _raw(ML_LINE)[:-1] + b"\x00")),
            "ML-DSA-44 signature does not verify",
        ),
        (_with_signatures(ED_LINE, _retimed(2**64 - 1)), "time is out of range"),
        # Another time under the same signature: the cosigned message differs.
        (_with_signatures(ED_LINE, _retimed(1)), "ML-DSA-44 signature does not verify"),
    ],
)
def test_every_flaw_is_refused_with_its_reason(note: str, match: str) -> None:
    with pytest.raises(ProofError, match=match):
        verify_checkpoint(note, ORIGIN, KEY.public)


def test_another_key_or_log_does_not_verify() -> None:
    with pytest.raises(ProofError, match="lacks"):
        verify_checkpoint(NOTE, ORIGIN, LogKey.generate().public)
    directory = KEY.sign_checkpoint("hub.example/directory", 42, ROOT)
    swapped = _with_signatures(*_sig_lines(directory))
    with pytest.raises(ProofError, match="lacks"):
        verify_checkpoint(swapped, ORIGIN, KEY.public)  # key ids are bound to the log's name


def test_the_size_and_root_are_what_is_signed() -> None:
    for edited in (
        NOTE.replace("\n42\n", "\n43\n", 1),
        NOTE.replace(base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode(), 1),
    ):
        with pytest.raises(ProofError, match="does not verify"):
            verify_checkpoint(edited, ORIGIN, KEY.public)


def test_the_mldsa_signature_alone_binds_size_and_root() -> None:
    """With the Ed25519 line re-made by a forger who knows no key, nothing verifies; and
    the ML-DSA-44 cosignature is over size and root too (not only the note text)."""
    forged_text = checkpoint_text(ORIGIN, 43, ROOT)
    forger = ed25519.Ed25519PrivateKey.generate()
    assert forger.public_key().public_bytes_raw() != KEY.public.ed25519
    assert MLDSA44_TYPE != ED25519_TYPE
    note = forged_text + "\n" + ED_LINE + ML_LINE
    with pytest.raises(ProofError):
        verify_checkpoint(note, ORIGIN, KEY.public)
