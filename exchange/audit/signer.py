"""The hub's log key: its only private key, which signs log checkpoints and nothing else.

The key is an Ed25519 key and an ML-DSA-44 key, kept as two 32-byte seeds in
``<EXCHANGE_HOME>/log-key.json`` (``hub-log-key/1``, mode 0600). The first
``exchange serve`` creates it; every hub process of one deployment must hold
the same file. It decrypts nothing: member content is sealed to members'
keys only. A key file that other users can read is refused.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.protocol.checkpoint import (
    ED25519_TYPE,
    MLDSA44_TYPE,
    LogPublicKey,
    checkpoint_text,
    cosigned_message,
    key_id,
)

__all__ = ["KEY_FILE", "LogKey", "LogKeyError"]

KEY_FILE = "log-key.json"
_FORMAT = "hub-log-key/1"


class LogKeyError(Exception):
    """The log key file cannot be used; the message says why (never the key)."""


class LogKey:
    """The hub's log-signing key."""

    def __init__(self, ed25519_seed: bytes, mldsa44_seed: bytes) -> None:
        self._ed25519 = ed25519.Ed25519PrivateKey.from_private_bytes(ed25519_seed)
        self._mldsa44 = mldsa.MLDSA44PrivateKey.from_seed_bytes(mldsa44_seed)
        self.public = LogPublicKey(
            ed25519=self._ed25519.public_key().public_bytes_raw(),
            ml_dsa_44=self._mldsa44.public_key().public_bytes_raw(),
        )

    def __repr__(self) -> str:
        return f"LogKey({self.public.fingerprint()})"

    @classmethod
    def generate(cls) -> LogKey:
        """A fresh key (tests and first start)."""
        return cls(os.urandom(32), os.urandom(32))

    @classmethod
    def load_or_create(cls, home: Path) -> tuple[LogKey, bool]:
        """Return the key in ``home`` and whether it was just created.

        Creating is atomic (``O_EXCL``), so processes starting together agree
        on one key. Raises `LogKeyError` if the file is readable or writable by
        others, or is not a ``hub-log-key/1`` file.
        """
        path = home / KEY_FILE
        if path.exists():
            return cls._load(path), False
        seeds = {"ed25519": os.urandom(32), "ml-dsa-44": os.urandom(32)}
        document = {"format": _FORMAT} | {k: base64.b64encode(v).decode() for k, v in seeds.items()}
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: its key is the key
            return cls._load(path), False
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream)
            stream.flush()
            os.fsync(stream.fileno())
        return cls._load(path), True

    @classmethod
    def _load(cls, path: Path) -> LogKey:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise LogKeyError(
                f"{path} is readable or writable by other users (mode {stat.S_IMODE(mode):o});"
                f" run: chmod 600 {path}"
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != _FORMAT:
                raise ValueError
            seeds = [base64.b64decode(document[k], validate=True) for k in ("ed25519", "ml-dsa-44")]
            if any(len(seed) != 32 for seed in seeds):
                raise ValueError
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LogKeyError(f"{path} is not a {_FORMAT} key file") from exc
        return cls(*seeds)

    def sign_checkpoint(
        self, origin: str, size: int, root: bytes, *, timestamp: int | None = None
    ) -> str:
        """Return the checkpoint of log ``origin`` at ``size`` with ``root``, signed with
        Ed25519 (a note signature) and ML-DSA-44 (a ``subtree/v1`` cosignature)."""
        when = int(time.time()) if timestamp is None else timestamp
        text = checkpoint_text(origin, size, root)
        ed_sig = self._ed25519.sign(text.encode())
        ml_sig = struct.pack(">Q", when) + self._mldsa44.sign(
            cosigned_message(origin, when, origin, size, root)
        )
        lines = [
            (key_id(origin, ED25519_TYPE, self.public.ed25519), ed_sig),
            (key_id(origin, MLDSA44_TYPE, self.public.ml_dsa_44), ml_sig),
        ]
        signatures = "".join(
            f"\u2014 {origin} {base64.b64encode(kid + sig).decode()}\n" for kid, sig in lines
        )
        return f"{text}\n{signatures}"
