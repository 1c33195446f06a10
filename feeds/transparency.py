"""Checking the hub's directory log before relying on what the hub serves.

A key bundle or a policy version the hub shows only to one member (a key it
substituted, a policy version it made up) is the attack a directory log
defeats: before a member seals to keys or trusts a policy, `DirectoryCheck`
proves that each is a leaf of the directory log, in a checkpoint the hub
signed, and that this checkpoint extends the one the member saw last.

- The hub's log key is pinned on first use (its fingerprint, in the
  keystore's public state, per hub); a different key later is refused.
- Each checkpoint must verify with that key (Ed25519 and ML-DSA-44), and be
  consistent with the pinned one (RFC 9162 consistency proof): a smaller log,
  another root at the same size, or a proof that fails is a fork, and fatal.
- Each document's leaf (`exchange.protocol.directory`) must have an index in
  that tree and an inclusion proof that verifies; a document the log does not
  hold is refused by name. A checkpoint is issued right after every
  directory write, so a miss is retried briefly against a newer checkpoint.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exchange.protocol.checkpoint import LogPublicKey, SignedCheckpoint, verify_checkpoint
from exchange.protocol.directory import key_bundle_leaf, policy_version_leaf
from exchange.protocol.errors import ProofError
from exchange.protocol.keys import SignedKeyBundle
from exchange.protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from feeds.crypto.keystore import Keystore
from feeds.errors import KeyFileCorrupted, TrustError, UnexpectedResponse
from feeds.exchange_api import ExchangeApi
from feeds.identity import read_state
from policies import SignedPolicy

__all__ = ["DIRECTORY", "DirectoryCheck", "LogPin"]

DIRECTORY = "directory"
_RETRIES = 3
_RETRY_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class LogPin:
    """What a member remembers of a hub's directory log: the log key and the last
    checkpoint it verified."""

    fingerprint: str
    size: int
    root: str  # base64

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "size": self.size, "root": self.root}


class DirectoryCheck:
    """Proves documents are in the hub's directory log, for one member's session."""

    def __init__(
        self,
        api: ExchangeApi,
        keystore: Keystore | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api
        self._keystore = keystore
        self._sleep = sleep
        self._key: tuple[LogPublicKey, str] | None = None
        self._checkpoint: SignedCheckpoint | None = None
        self._proven: set[bytes] = set()

    # ------------------------------------------------------------------ pins

    def _pin(self) -> LogPin | None:
        if self._keystore is None:
            return None
        raw = read_state(self._keystore).get("logs", {}).get(self._api.hub)
        if raw is None:
            return None
        try:
            return LogPin(str(raw["fingerprint"]), int(raw["size"]), str(raw["root"]))
        except (KeyError, TypeError, ValueError) as exc:
            where = str(self._keystore.path / "state.json")
            raise KeyFileCorrupted(where, "bad directory-log pin") from exc

    def _save(self, pin: LogPin) -> None:
        if self._keystore is None:
            return
        state = read_state(self._keystore)
        state.setdefault("logs", {})[self._api.hub] = pin.to_json()
        self._keystore.save_state(state)

    # ------------------------------------------------------------------ key and checkpoint

    def log_key(self) -> tuple[LogPublicKey, str]:
        """The hub's log key and the directory log's origin, checked against the pin."""
        if self._key is None:
            document = self._api.log_key_document()
            try:
                key = LogPublicKey(
                    base64.b64decode(document["ed25519"], validate=True),
                    base64.b64decode(document["ml-dsa-44"], validate=True),
                )
                origin = str(document["logs"][DIRECTORY]["origin"])
            except (KeyError, TypeError, ValueError) as exc:
                raise UnexpectedResponse(self._api.hub, "the log key does not parse") from exc
            pin = self._pin()
            if pin is not None and pin.fingerprint != key.fingerprint():
                raise TrustError(
                    "the hub's log key",
                    f"it is not the key pinned on first use (pinned {pin.fingerprint},"
                    f" served {key.fingerprint()})",
                )
            self._key = (key, origin)
        return self._key

    def checkpoint(self, *, refresh: bool = False) -> SignedCheckpoint:
        """The newest directory checkpoint, verified and consistent with the pinned one
        (which it then replaces). Raises `TrustError` naming a fork or a bad signature."""
        if self._checkpoint is not None and not refresh:
            return self._checkpoint
        key, origin = self.log_key()
        note = self._api.checkpoint(DIRECTORY)
        try:
            checkpoint = verify_checkpoint(note, origin, key)
        except ProofError as exc:
            raise TrustError("the directory log's checkpoint", str(exc)) from exc
        pin = self._pin()
        if pin is not None:
            self._consistent(pin, checkpoint)
        self._save(LogPin(key.fingerprint(), checkpoint.size, _b64(checkpoint.root)))
        self._checkpoint = checkpoint
        return checkpoint

    def _consistent(self, pin: LogPin, checkpoint: SignedCheckpoint) -> None:
        what = "the directory log"
        old_root = base64.b64decode(pin.root)
        if checkpoint.size < pin.size:
            raise TrustError(
                what,
                f"it shrank from {pin.size} entries (pinned) to {checkpoint.size}:"
                " entries were removed, or the hub shows you a fork",
            )
        if checkpoint.size == pin.size:
            if checkpoint.root != old_root:
                raise TrustError(what, f"it forked: another root at the pinned size {pin.size}")
            return
        if pin.size == 0:
            return
        proof = self._api.consistency_proof(DIRECTORY, pin.size, checkpoint.size)
        try:
            verify_consistency(pin.size, checkpoint.size, old_root, checkpoint.root, proof)
        except ProofError as exc:
            raise TrustError(
                what,
                f"it forked: the checkpoint of {checkpoint.size} entries does not extend the"
                f" pinned one of {pin.size} ({exc})",
            ) from exc

    # ------------------------------------------------------------------ documents

    def require(self, leaves: Mapping[str, bytes]) -> SignedCheckpoint:
        """Prove every named leaf is in the directory log; return the checkpoint used.

        ``leaves`` maps a description ("the key bundle 2 of identity--…") to the
        document's leaf bytes. Raises `TrustError` naming the first document the
        log does not hold, or whose inclusion proof fails.
        """
        names = [n for n in leaves if leaf_hash(leaves[n]) not in self._proven]
        hashes = [leaf_hash(leaves[name]) for name in names]
        checkpoint = self.checkpoint()
        if not names:
            return checkpoint
        for attempt in range(_RETRIES + 1):
            answers = self._api.leaf_proofs(DIRECTORY, checkpoint.size, hashes)
            missing = [n for n, (index, _) in zip(names, answers, strict=True) if index is None]
            if not missing:
                break
            if attempt == _RETRIES:
                raise TrustError(
                    missing[0],
                    f"it is not in the hub's directory log (checkpoint of {checkpoint.size}"
                    " entries): the hub may be showing it to you alone",
                )
            self._sleep(_RETRY_DELAY)
            checkpoint = self.checkpoint(refresh=True)
        for name, digest, (index, proof) in zip(names, hashes, answers, strict=True):
            assert index is not None
            try:
                verify_inclusion(digest, index, checkpoint.size, proof, checkpoint.root)
            except ProofError as exc:
                raise TrustError(
                    name, f"its inclusion proof in the directory log does not verify ({exc})"
                ) from exc
        self._proven.update(hashes)
        return checkpoint

    def require_bundles(self, member: str, bundles: Sequence[SignedKeyBundle]) -> None:
        """Prove each of ``member``'s key bundles is in the directory log."""
        self.require(
            {
                f"key bundle {b.keys.sequence} of {member}": key_bundle_leaf(
                    member, b.keys.sequence, b.digest
                )
                for b in bundles
            }
        )

    def require_policies(self, feed: str, versions: Sequence[SignedPolicy]) -> None:
        """Prove each policy version of ``feed`` is in the directory log."""
        self.require(
            {
                f"policy version {v.policy.version} of feed {feed}": policy_version_leaf(
                    feed, v.policy.version, v.digest
                )
                for v in versions
            }
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
