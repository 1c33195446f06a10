"""Pulling a feed: fetch what is new over TAXII, verify and open each sealed report, write it.

`pull_feed` pages through the feed's objects with taxii2-client from the
cursor saved for this feed (``added_after``: the ``X-TAXII-Date-Added-Last``
of the last page done), opens each sealed report (`feeds.opening`) and writes
its inner bundle to ``DIR/<envelope id>.json`` (owner-only, replaced
atomically). The cursor is saved in ``DIR/.feeds-pull.json`` after every
page, so an interrupted pull resumes where it stopped, and pulling again
writes nothing twice: a report already opened with the same content is
``unchanged``.

Each report ends in one outcome: ``opened``, ``unchanged``, ``refused`` (with
the reason: a bad signature, a ghost recipient, ...), ``not-addressed`` (no
entry for our keys, such as reports sealed before we became a reader), or
``plain`` (an unsealed STIX object of a TLP:CLEAR feed, left alone).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import SecretStr
from taxii2client.v21 import Collection as TaxiiCollection
from taxii2client.v21 import as_pages

from exchange.protocol.envelope import ENVELOPE_TYPE
from feeds.client import BearerAuth, hub_errors
from feeds.crypto.keys import MemberSecrets
from feeds.errors import DocumentError, EnvelopeRefused, NotARecipient
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import FeedPolicy, fetch_feed_policy
from feeds.opening import Opened, ReportOpener
from feeds.pinning import PinStore
from feeds.transparency import DirectoryCheck

__all__ = [
    "SOURCE_SUFFIX",
    "STATE_FILE",
    "Outcome",
    "PullSummary",
    "feed_pages",
    "prepare_directory",
    "provenance",
    "pull_feed",
    "write_opened",
    "write_private_file",
]

STATE_FILE = ".feeds-pull.json"
_STATE_FORMAT = "feeds-pull/1"
_DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"

Result = Literal["opened", "unchanged", "refused", "not-addressed", "plain"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one object of the feed."""

    stix_id: str
    version: str | None
    result: Result
    reason: str | None = None
    path: Path | None = None


@dataclass(slots=True)
class PullSummary:
    """Every outcome of one pull, and the cursor it left."""

    feed: str
    alias: str | None
    outcomes: list[Outcome] = field(default_factory=list)
    cursor: str | None = None

    def count(self, result: Result) -> int:
        """How many objects ended in ``result``."""
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def refused(self) -> list[Outcome]:
        """The refused reports, each with its reason."""
        return [o for o in self.outcomes if o.result == "refused"]


class _State:
    """The per-feed cursors kept in ``DIR/.feeds-pull.json``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STATE_FILE
        self.data: dict[str, Any] = {"format": _STATE_FORMAT, "feeds": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise DocumentError(str(self.path), "is not a readable pull state") from exc
            if not isinstance(loaded, dict) or loaded.get("format") != _STATE_FORMAT:
                raise DocumentError(str(self.path), f"is not a {_STATE_FORMAT} pull state")
            if not isinstance(loaded.get("feeds"), dict):
                raise DocumentError(str(self.path), "has no feeds")
            self.data = loaded

    def cursor(self, feed: str, member: str) -> str | None:
        entry = self.data["feeds"].get(feed)
        if not isinstance(entry, dict) or entry.get("member") != member:
            return None
        cursor = entry.get("added_after")
        return cursor if isinstance(cursor, str) else None

    def save(self, feed: str, member: str, cursor: str) -> None:
        self.data["feeds"][feed] = {"member": member, "added_after": cursor}
        write_private_file(self.path, json.dumps(self.data, indent=2).encode() + b"\n")


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) by replacing it: never half-written."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


SOURCE_SUFFIX = ".source.json"
"""The suffix of an opened bundle's provenance file: ``<envelope id>.source.json``."""


def provenance(opened: Opened) -> dict[str, Any]:
    """What an opened bundle's provenance file says: who sealed it, which version of
    the sealed report it came from, and the policy version that version was wrapped
    under. Every field was checked by `ReportOpener` (signatures, policy history)."""
    report = opened.report
    return {
        "envelope_id": report.envelope.header.envelope_id,
        "sealed_report": report.id,
        "version": report.modified,
        "publisher": report.publisher,
        "wrapped_by": report.wrapped_by,
        "policy": {
            "feed": report.envelope.header.feed,
            "version": report.envelope.policy.version,
            "digest": report.envelope.policy.digest,
        },
    }


def write_opened(directory: Path, opened: Opened) -> tuple[Result, Path]:
    """Write an opened report's bundle to ``directory/<envelope id>.json``, and its
    `provenance` beside it (``<envelope id>.source.json``), which `feeds trends merge`
    reads to name each value's verified source.

    Returns ``unchanged`` if that file already holds the same bytes, else
    ``opened``. Raises `EnvelopeRefused` if it holds other content (the same
    envelope must always open to the same bundle), leaving the file as it was.
    A later version of the same report (re-wrapped by ``feeds grant``) leaves the
    bundle as it is and updates its provenance.
    """
    envelope_id = opened.report.envelope.header.envelope_id
    path = directory / f"{envelope_id}.json"
    result: Result = "opened"
    if path.exists():
        if path.read_bytes() != opened.plaintext:
            raise EnvelopeRefused(
                opened.report.id, f"it opens to other content than {path.name}, opened before"
            )
        result = "unchanged"
    source = directory / f"{envelope_id}{SOURCE_SUFFIX}"
    described = json.dumps(provenance(opened), indent=2, sort_keys=True).encode() + b"\n"
    if not source.exists() or source.read_bytes() != described:
        write_private_file(source, described)
    if result == "opened":
        write_private_file(path, opened.plaintext)
    return result, path


def prepare_directory(directory: Path) -> None:
    """Create ``directory`` (mode 0700) if it does not exist. Raises `DocumentError`."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DocumentError(str(directory), exc.strerror or "cannot be created") from exc
    if not directory.is_dir():
        raise DocumentError(str(directory), "is not a directory")


@dataclass(slots=True)
class _Page:
    objects: list[dict[str, Any]]
    date_added_last: str | None


def feed_pages(
    url: str, token: SecretStr, *, added_after: str | None, per_request: int
) -> Iterator[_Page]:
    """Yield the pages of the feed's objects (latest versions) added after ``added_after``.

    Uses taxii2-client's paging (``more`` and ``next``); each page carries the
    ``X-TAXII-Date-Added-Last`` header the hub sent with it. Raises `HubError`.
    """
    with hub_errors(url):
        collection = TaxiiCollection(url, auth=BearerAuth(token))
    last: list[str | None] = [None]

    def remember(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        last[0] = response.headers.get(_DATE_ADDED_LAST)

    # taxii2-client returns bodies only; a requests hook sees each response's headers.
    collection._conn.session.hooks["response"].append(remember)
    try:
        filters = {"added_after": added_after} if added_after else {}
        pages = as_pages(collection.get_objects, per_request=per_request, **filters)
        while True:
            last[0] = None
            with hub_errors(url):
                envelope = next(pages, None)
            if envelope is None:
                return
            objects = envelope.get("objects", []) if isinstance(envelope, dict) else []
            yield _Page([o for o in objects if isinstance(o, dict)], last[0])
    finally:
        collection.close()


def _outcome(opener: ReportOpener, directory: Path, raw: dict[str, Any]) -> Outcome:
    stix_id = str(raw.get("id"))
    version = raw.get("modified") if isinstance(raw.get("modified"), str) else None
    if raw.get("type") != ENVELOPE_TYPE:
        return Outcome(stix_id, version, "plain")
    try:
        opened = opener.open(raw)
        result, path = write_opened(directory, opened)
    except NotARecipient:
        return Outcome(stix_id, version, "not-addressed")
    except EnvelopeRefused as exc:
        return Outcome(stix_id, version, "refused", exc.reason)
    return Outcome(stix_id, version, result, path=path)


def pull_feed(
    api: ExchangeApi,
    token: SecretStr,
    ref: str,
    directory: Path,
    *,
    generations: Sequence[MemberSecrets],
    now: datetime,
    pins: PinStore | None,
    per_request: int = 100,
    progress: Callable[[Outcome], None] | None = None,
    log_check: DirectoryCheck | None = None,
) -> PullSummary:
    """Pull the feed ``ref`` into ``directory``; return what became of each new object.

    Steps:
    0. fetch and verify the feed's policy history (pinned with ``pins``);
    1. page through the objects added after this feed's saved cursor;
    2. open each sealed report (`ReportOpener`) and write its bundle (`write_opened`);
    3. after each page, save the cursor.

    Raises `HubError`, `TrustError` (the policy history does not verify),
    or `DocumentError` (the directory or its pull state).
    """

    # 0. The verified policy history (reports name the version they follow).
    def verified() -> FeedPolicy:
        return fetch_feed_policy(api, ref, now=now, pins=pins, require_in_force=False)

    feed = verified()
    me = api.whoami().id
    opener = ReportOpener(
        api, feed, me=me, generations=generations, refresh=verified, log_check=log_check
    )
    prepare_directory(directory)
    state = _State(directory)
    summary = PullSummary(feed.collection.id, feed.collection.alias)
    cursor = state.cursor(feed.collection.id, me)
    url = f"{api.api_root()}collections/{feed.collection.id}/"
    # 1. New pages.
    for page in feed_pages(url, token, added_after=cursor, per_request=per_request):
        # 2. Each object.
        for raw in page.objects:
            outcome = _outcome(opener, directory, raw)
            summary.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        # 3. The cursor.
        if page.date_added_last is not None:
            cursor = page.date_added_last
            state.save(feed.collection.id, me, cursor)
    summary.cursor = cursor
    return summary
