"""The member's keystore: a directory (mode 0700) of key files, one per generation.

::

    <keystore>/keys-0001.json   generation 1 (hub-key/1, mode 0600)
    <keystore>/keys-0002.json   generation 2, after one rotation
    <keystore>/state.json       public state: member id, registered bundles, pinned owners

The newest generation signs; every generation stays to open old envelopes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feeds.crypto.keyfile import DEFAULT_KDF, KdfParams, open_keyfile, seal_keyfile
from feeds.crypto.keys import MemberSecrets
from feeds.errors import KeyFileCorrupted, KeystoreError

__all__ = ["Keystore", "MemberKeyring"]

_KEYFILE = re.compile(r"keys-(\d{4,})\.json\Z")


@dataclass(frozen=True, slots=True)
class MemberKeyring:
    """Every generation of a member's keys; signs with the newest. Never empty."""

    generations: dict[int, MemberSecrets] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.generations:
            raise ValueError("a keyring needs at least one generation")

    @property
    def current_generation(self) -> int:
        """The newest generation's number."""
        return max(self.generations)

    @property
    def current(self) -> MemberSecrets:
        """The newest generation: the one that signs."""
        return self.generations[self.current_generation]


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Keystore:
    """A member's key directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _files(self) -> dict[int, Path]:
        if not self.path.is_dir():
            return {}
        found = {}
        for entry in self.path.iterdir():
            match = _KEYFILE.match(entry.name)
            if match:
                found[int(match.group(1))] = entry
        return found

    def exists(self) -> bool:
        """True if the keystore holds at least one key file."""
        return bool(self._files())

    def generations(self) -> list[int]:
        """The generation numbers present, oldest first."""
        return sorted(self._files())

    def _require(self) -> dict[int, Path]:
        files = self._files()
        if not files:
            raise KeystoreError(
                str(self.path), f"no keys in {self.path}; create them with `feeds keys init`"
            )
        return files

    def public(self, generation: int | None = None) -> dict[str, Any]:
        """The public keys of a generation (default the newest), read without the passphrase.

        Raises `KeystoreError` or `KeyFileCorrupted`.
        """
        files = self._require()
        number = max(files) if generation is None else generation
        try:
            header = json.loads(files[number].read_bytes())["header"]
            public: dict[str, Any] = header["public"]
        except (KeyError, ValueError, TypeError) as exc:
            raise KeyFileCorrupted(str(files[number]), "truncated or malformed") from exc
        return public

    def create(
        self, passphrase: str, *, classical: bool = False, kdf: KdfParams = DEFAULT_KDF
    ) -> MemberSecrets:
        """Generate generation 1 and save it. Raises `KeystoreError` if keys already exist."""
        if self.exists():
            raise KeystoreError(
                str(self.path), f"{self.path} already holds keys; use `feeds keys rotate`"
            )
        secrets = MemberSecrets.generate(classical=classical)
        self._save(secrets, 1, passphrase, kdf)
        return secrets

    def add_generation(
        self, secrets: MemberSecrets, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF
    ) -> int:
        """Save ``secrets`` as the next generation; return its number."""
        number = max(self._require()) + 1
        self._save(secrets, number, passphrase, kdf)
        return number

    def _save(self, secrets: MemberSecrets, number: int, passphrase: str, kdf: KdfParams) -> None:
        data = seal_keyfile(secrets, passphrase, generation=number, kdf=kdf)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        _write_private(self.path / f"keys-{number:04d}.json", data)

    def load(self, passphrase: str) -> MemberKeyring:
        """Open every generation with ``passphrase``.

        Raises `KeystoreError`, `KeyFileCorrupted` or `WrongPassphrase`.
        """
        files = self._require()
        return MemberKeyring(
            {n: open_keyfile(p.read_bytes(), passphrase, path=str(p)) for n, p in files.items()}
        )

    # Public state: who we are on the hub, and whom we pinned.

    def _state_path(self) -> Path:
        return self.path / "state.json"

    def state(self) -> dict[str, Any]:
        """The keystore's public state (an empty one if none was saved)."""
        try:
            loaded: dict[str, Any] = json.loads(self._state_path().read_bytes())
        except FileNotFoundError:
            return {"member": None, "pins": {}}
        except ValueError as exc:
            raise KeyFileCorrupted(str(self._state_path()), "not JSON") from exc
        return loaded

    def save_state(self, state: dict[str, Any]) -> None:
        """Replace the keystore's public state."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(self._state_path(), json.dumps(state, indent=2, sort_keys=True).encode())
