"""**Hazardous**: the passphrase-protected key file ``hub-key/1`` (crypto-notes §4.3).

::

    {"header": {"v": "hub-key/1",
                "kdf": {"alg": "argon2id", "v": 19, "t": 3, "m": 65536, "p": 4, "salt": b64},
                "aead": "A256GCM", "generation": n, "public": {...public keys and ids...}},
     "nonce": b64, "ct": b64}

``ct`` is AES-256-GCM, under the Argon2id key of the passphrase, of the
canonical JSON of the seeds, with the canonical header as associated data: a
wrong passphrase and any change to the header or the ciphertext fail alike.
KDF costs read from a file are capped, so a hostile file cannot make opening
it take minutes or gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from feeds.crypto.keys import MemberSecrets
from feeds.errors import KeyFileCorrupted, WeakPassphrase, WrongPassphrase
from policies.canonical import canonical_bytes

__all__ = ["DEFAULT_KDF", "KdfParams", "check_passphrase", "open_keyfile", "seal_keyfile"]

_FORMAT = "hub-key/1"
_MAX_T, _MAX_M, _MAX_P = 10, 1 << 20, 16  # iterations, KiB (1 GiB), lanes
_COMMON = frozenset(
    {"password", "passphrase", "correcthorsebatterystaple", "letmein", "qwertyuiop", "123456789012"}
)


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id costs: ``t`` iterations, ``m`` KiB of memory, ``p`` lanes."""

    t: int = 3
    m: int = 65_536
    p: int = 4


DEFAULT_KDF = KdfParams()
"""RFC 9106 §4, second recommended setting (about 130 ms here)."""


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase that would not protect the keys.

    Raises `WeakPassphrase` if it is shorter than 12 characters, uses fewer
    than 6 distinct characters, or is a well-known one.
    """
    if not passphrase:
        raise WeakPassphrase("it is empty")
    if len(passphrase) < 12:
        raise WeakPassphrase("use at least 12 characters (a few random words work well)")
    if len(set(passphrase)) < 6:
        raise WeakPassphrase("use at least 6 different characters")
    if passphrase.lower().replace(" ", "") in _COMMON:
        raise WeakPassphrase("it is a well-known passphrase")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _derive(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    return Argon2id(salt=salt, length=32, iterations=kdf.t, lanes=kdf.p, memory_cost=kdf.m).derive(
        passphrase.encode("utf-8")
    )


def seal_keyfile(
    secrets: MemberSecrets, passphrase: str, *, generation: int, kdf: KdfParams = DEFAULT_KDF
) -> bytes:
    """Return the key file of ``secrets`` protected by ``passphrase``.

    Raises `WeakPassphrase` for a weak passphrase.
    """
    check_passphrase(passphrase)
    salt = os.urandom(16)
    header = {
        "v": _FORMAT,
        "kdf": {"alg": "argon2id", "v": 19, "t": kdf.t, "m": kdf.m, "p": kdf.p, "salt": _b64(salt)},
        "aead": "A256GCM",
        "generation": generation,
        "public": secrets.public_json(),
    }
    seeds = {
        "xwing_seed": _b64(secrets.xwing_seed),
        "ed25519_seed": _b64(secrets.ed25519_seed),
        "mldsa65_seed": _b64(secrets.mldsa65_seed),
        "x25519_seed": None if secrets.x25519_seed is None else _b64(secrets.x25519_seed),
    }
    nonce = os.urandom(12)
    key = _derive(passphrase, salt, kdf)
    ciphertext = AESGCM(key).encrypt(nonce, canonical_bytes(seeds), canonical_bytes(header))
    document = {"header": header, "nonce": _b64(nonce), "ct": _b64(ciphertext)}
    return json.dumps(document, indent=2).encode() + b"\n"


def _field(document: Any, *path: str) -> Any:
    value = document
    for name in path:
        if not isinstance(value, dict) or name not in value:
            raise KeyError(".".join(path))
        value = value[name]
    return value


def _int(document: Any, *path: str) -> int:
    value = _field(document, *path)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(".".join(path))
    return value


def open_keyfile(data: bytes, passphrase: str, *, path: str = "key file") -> MemberSecrets:
    """Return the seeds in key file ``data``.

    Steps:
    0. the file parses as a ``hub-key/1`` document with sane, capped KDF costs;
    1. the passphrase's key decrypts and authenticates seeds and header;
    2. the seeds give the public keys the header lists.

    Raises `KeyFileCorrupted` (steps 0, 2) or `WrongPassphrase` (step 1).
    """
    # 0. Form and costs.
    try:
        document = json.loads(data)
        header = _field(document, "header")
        if _field(header, "v") != _FORMAT or _field(header, "kdf", "alg") != "argon2id":
            raise KeyFileCorrupted(path, f"not a {_FORMAT} key file")
        kdf = KdfParams(
            t=_int(header, "kdf", "t"), m=_int(header, "kdf", "m"), p=_int(header, "kdf", "p")
        )
        salt = base64.b64decode(_field(header, "kdf", "salt"), validate=True)
        nonce = base64.b64decode(_field(document, "nonce"), validate=True)
        ciphertext = base64.b64decode(_field(document, "ct"), validate=True)
        # The associated data; a header with no canonical form (say an integer beyond
        # 2**53, which only an altered file has) is malformed, not a crash.
        associated = canonical_bytes(header)
    except KeyFileCorrupted:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError) as exc:
        raise KeyFileCorrupted(path, "truncated or malformed") from exc
    if kdf.t > _MAX_T or kdf.m > _MAX_M or kdf.p > _MAX_P or kdf.m < 8 * kdf.p:
        raise KeyFileCorrupted(path, "its key-derivation costs are out of range")
    if len(salt) < 16 or len(nonce) != 12:
        raise KeyFileCorrupted(path, "truncated or malformed")
    # 1. Decrypt and authenticate.
    try:
        key = _derive(passphrase, salt, kdf)
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag as exc:
        raise WrongPassphrase(path) from exc
    # 2. Seeds match the public keys.
    try:
        seeds = json.loads(plaintext)
        classical = seeds["x25519_seed"]
        secrets = MemberSecrets(
            xwing_seed=base64.b64decode(seeds["xwing_seed"], validate=True),
            ed25519_seed=base64.b64decode(seeds["ed25519_seed"], validate=True),
            mldsa65_seed=base64.b64decode(seeds["mldsa65_seed"], validate=True),
            x25519_seed=None if classical is None else base64.b64decode(classical, validate=True),
        )
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise KeyFileCorrupted(path, "the decrypted seeds are malformed") from exc
    if secrets.public_json() != header["public"]:
        raise KeyFileCorrupted(path, "the seeds do not match the public keys")
    return secrets
