"""The auditor's check of a hub's log: download, recompute, verify, compare with last time.

`verify_log` fetches the hub's log key (pinned on first use), the newest
checkpoint and every entry of the log; it recomputes the tree from the
entries, checks the checkpoint's two signatures, that its root is the root of
the entries served, and that it extends the checkpoint verified last time
(an RFC 9162 consistency proof). The leaf hashes seen last time are kept in
the state directory, so a change is reported precisely: the index and its
kind, one of ``modified``, ``removed``, ``reordered``, ``inserted``,
``truncated``, ``forked`` or ``bad signature``. State is saved only when
everything verifies.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from exchange.protocol.checkpoint import LogPublicKey, SignedCheckpoint, verify_checkpoint
from exchange.protocol.errors import ProofError
from exchange.protocol.merkle import MemoryTree, leaf_hash, verify_consistency
from policies.canonical import canonical_bytes

__all__ = ["AuditClient", "AuditError", "Finding", "Report", "verify_log"]

_PAGE = 5_000


class AuditError(Exception):
    """The hub could not be asked, or answered nonsense; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found wrong: where, what kind, and a sentence about it."""

    index: int | None
    kind: str
    detail: str


@dataclass(slots=True)
class Report:
    """What a verification established."""

    log: str
    size: int = 0
    root: str = ""
    previous_size: int | None = None
    new_entries: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything verified."""
        return not self.findings


class AuditClient:
    """The auditor's session with a hub (``Authorization: Bearer``)."""

    def __init__(self, hub: str, token: str, http: httpx.Client | None = None) -> None:
        self.hub = hub.rstrip("/")
        self._token = token
        self._http = http or httpx.Client(timeout=60.0)

    def __repr__(self) -> str:
        return f"AuditClient({self.hub!r})"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = self._http.get(
                self.hub + path, params=params, headers={"Authorization": f"Bearer {self._token}"}
            )
        except httpx.HTTPError as exc:
            raise AuditError(f"cannot reach {self.hub}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            try:
                reason = str(response.json().get("description", ""))[:300]
            except ValueError:
                reason = ""
            raise AuditError(f"{path}: HTTP {response.status_code} {reason}".rstrip())
        return response

    def log_key(self) -> tuple[LogPublicKey, dict[str, Any]]:
        """The hub's log key and its document (origins per log)."""
        document = self._get("/.well-known/trend-exchange/log-key").json()
        try:
            key = LogPublicKey(
                base64.b64decode(document["ed25519"], validate=True),
                base64.b64decode(document["ml-dsa-44"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError("the hub's log key does not parse") from exc
        return key, document

    def checkpoint(self, log: str) -> str:
        """The newest checkpoint note of ``log``."""
        return self._get(f"/exchange/v1/logs/{log}/checkpoint").text

    def consistency(self, log: str, old: int, new: int) -> list[bytes]:
        """The consistency proof from ``old`` to ``new``."""
        body = self._get(
            f"/exchange/v1/logs/{log}/proofs/consistency", {"old": old, "new": new}
        ).json()
        return [base64.b64decode(h) for h in body.get("hashes", [])]

    def entries(
        self, log: str, start: int, end: int | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """The entries with ``start <= index < end`` (and the filters), in order. Without
        ``end``, up to the log's size at the first page (reading the log grows it)."""
        position = start
        while end is None or position < end:
            params = {"start": position, "end": end, "limit": _PAGE} | {
                k: v for k, v in filters.items() if v is not None
            }
            body = self._get(
                f"/exchange/v1/logs/{log}/entries",
                {k: v for k, v in params.items() if v is not None},
            ).json()
            if end is None:
                end = int(body["size"])
            page = body["entries"]
            if not page:
                return
            yield from page
            position = int(page[-1]["index"]) + 1

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


def _classify(old: list[bytes], new: list[bytes]) -> Finding | None:
    """The first difference between the leaves seen before and those served now."""
    seen, served = set(old), set(new)
    for i, before in enumerate(old):
        if i >= len(new):
            return Finding(i, "truncated", f"the log ends at {len(new)}; entry {i} was there")
        now = new[i]
        if now == before:
            continue
        if now in seen and before in served:
            return Finding(i, "reordered", f"entry {i} is an entry seen at another index")
        if now not in seen and i + 1 < len(new) and new[i + 1] == before:
            return Finding(i, "inserted", f"an entry was inserted before the old entry {i}")
        if before not in served and i + 1 < len(old) and old[i + 1] == now:
            return Finding(i, "removed", f"entry {i} was removed; the next one took its place")
        return Finding(i, "modified", f"entry {i} differs from the one seen last time")
    return None


def _load_state(state: Path | None, hub: str, log: str) -> tuple[dict[str, Any], list[bytes]]:
    if state is None:
        return {}, []
    meta_path = state / "audit-state.json"
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    except ValueError as exc:
        raise AuditError(f"{meta_path} is not an audit state file") from exc
    pinned: dict[str, Any] = meta.get(hub, {})
    hashes_path = state / f"{_slug(hub)}-{log}.hashes"
    raw = hashes_path.read_bytes() if hashes_path.exists() else b""
    hashes = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    if len(hashes) != pinned.get(log, {}).get("size", 0):
        raise AuditError(f"{hashes_path} does not match {meta_path}")
    return pinned, hashes


def _slug(hub: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in hub)[:80]


def _save_state(
    state: Path,
    hub: str,
    log: str,
    fingerprint: str,
    checkpoint: SignedCheckpoint,
    hashes: list[bytes],
) -> None:
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    meta_path = state / "audit-state.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    entry = meta.setdefault(hub, {})
    entry["fingerprint"] = fingerprint
    entry[log] = {
        "size": checkpoint.size,
        "root": base64.b64encode(checkpoint.root).decode(),
        "checkpoint": checkpoint.text,
    }
    _replace(state / f"{_slug(hub)}-{log}.hashes", b"".join(hashes))
    _replace(meta_path, json.dumps(meta, indent=2).encode())


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".part")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def verify_log(
    client: AuditClient,
    log: str,
    state: Path | None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Verify ``log`` of the hub (see the module docstring); return the report.

    Raises `AuditError` if the hub cannot be asked or the state is unreadable.
    """
    report = Report(log)
    pinned, old = _load_state(state, client.hub, log)
    key, document = client.log_key()
    # The log key, pinned on first use.
    if pinned.get("fingerprint") not in (None, key.fingerprint()):
        report.findings.append(
            Finding(None, "bad signature", "the hub's log key is not the one pinned last time")
        )
        return report
    origin = str(document.get("logs", {}).get(log, {}).get("origin", ""))
    # The checkpoint's signatures.
    try:
        checkpoint = verify_checkpoint(client.checkpoint(log), origin, key)
    except ProofError as exc:
        report.findings.append(Finding(None, "bad signature", str(exc)))
        return report
    report.size, report.root = checkpoint.size, base64.b64encode(checkpoint.root).decode()
    previous = pinned.get(log)
    report.previous_size = None if previous is None else int(previous["size"])
    # Every entry, recomputed into the tree.
    tree = MemoryTree()
    new: list[bytes] = []
    for entry in client.entries(log, 0, checkpoint.size):
        if int(entry["index"]) != len(new):
            detail = f"the hub served entry {entry['index']} where entry {len(new)} belongs"
            report.findings.append(Finding(len(new), "removed", detail))
            return report
        data = canonical_bytes(entry["event"])
        new.append(leaf_hash(data))
        tree.append(data)
        if progress is not None:
            progress(len(new), checkpoint.size)
    finding = _classify(old, new)
    if finding is not None:
        report.findings.append(finding)
    if len(new) != checkpoint.size or tree.root() != checkpoint.root:
        report.findings.append(
            Finding(None, "forked", "the entries served do not hash to the signed root")
        )
    # The checkpoint extends the one verified last time.
    if previous is not None and not report.findings:
        old_size, old_root = int(previous["size"]), base64.b64decode(previous["root"])
        if checkpoint.size < old_size:
            report.findings.append(Finding(checkpoint.size, "truncated", "the log shrank"))
        elif old_size > 0:
            try:
                proof = (
                    []
                    if old_size == checkpoint.size
                    else client.consistency(log, old_size, checkpoint.size)
                )
                verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, proof)
            except ProofError as exc:
                detail = f"not an extension of the checkpoint verified last time ({exc})"
                report.findings.append(Finding(None, "forked", detail))
    report.new_entries = max(0, len(new) - len(old))
    if report.ok and state is not None:
        _save_state(state, client.hub, log, key.fingerprint(), checkpoint, new)
    return report
