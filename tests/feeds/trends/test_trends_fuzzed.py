"""The member side's parsers of untrusted files, fuzzed (issue 8, item 7): trend reports
in a pulled bundle (and the provenance sidecar beside it), a merged document, the
privacy ledger. Whatever is in the file, each returns or raises its documented error;
merging never raises for a bad input file, it lists it as refused."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from feeds.errors import DocumentError
from feeds.trends.merge import merge_reports, read_merged, write_merged
from feeds.trends.privacy import ledger_entries
from feeds.trends.report import trend_bundle, trend_reports
from tests.feeds.trends._reports import AUTHORITY, cell, extension, report, write_opened
from tests.fuzz_kit import FUZZ, json_values, mutated, raises_only

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BUNDLE: dict[str, Any] = trend_bundle(
    report(
        extension(
            "2026-Q3",
            [
                cell("DE", "computer-related-fraud", 40, enablers=["dark-web-markets"]),
                cell("FR", "computer-related-fraud", None),
                cell("DE", None, 120),
            ],
        ),
        AUTHORITY,
    )
)
SIDECAR: dict[str, Any] = {
    "envelope_id": "sealed-envelope--1",
    "sealed_report": "sealed-report--0be0a12e-feb0-4007-b810-40692c3849c7",
    "version": "2026-11-01T00:00:00.000Z",
    "publisher": AUTHORITY,
    "wrapped_by": AUTHORITY,
    "policy": {"feed": "trends", "version": 3, "digest": "sha256:ab"},
}
"""The provenance `feeds pull` writes beside a bundle (as `write_opened` does)."""
LEDGER: dict[str, Any] = {
    "version": 1,
    "releases": [
        {
            "report": "report--6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
            "period": "2026-07-01T00:00:00+00:00/2026-10-01T00:00:00+00:00",
            "epsilon": 1.0,
            "time": "2026-10-02T08:00:00+00:00",
        }
    ],
}


def _merged_sample() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        pulled = Path(tmp) / "pulled"
        write_opened(pulled, *BUNDLE["objects"][1:], publisher=AUTHORITY)
        merged = merge_reports([pulled], now=NOW)
        assert merged.refused == ()
        write_merged(merged, Path(tmp) / "merged.json")
        document: dict[str, Any] = json.loads((Path(tmp) / "merged.json").read_text())
        return document


MERGED = _merged_sample()


def test_the_samples_are_valid() -> None:
    assert len(trend_reports(BUNDLE)) == 1
    assert len(ledger_entries_of(json.dumps(LEDGER))) == 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "merged.json"
        path.write_text(json.dumps(MERGED))
        assert read_merged(path).rows


def ledger_entries_of(text: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "privacy-ledger.json"
        path.write_text(text)
        return raises_only((DocumentError,), ledger_entries, path)


@FUZZ
@given(mutated(BUNDLE, changes=4))
def test_a_changed_trend_bundle(document: Any) -> None:
    if isinstance(document, dict):
        raises_only((ValueError,), trend_reports, document)


@FUZZ
@given(mutated(BUNDLE, changes=4), mutated(SIDECAR))
def test_merging_a_changed_bundle_and_sidecar_never_raises(bundle: Any, sidecar: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pulled = Path(tmp)
        (pulled / "sealed-envelope--1.json").write_text(json.dumps(bundle))
        (pulled / "sealed-envelope--1.source.json").write_text(json.dumps(sidecar))
        merged = merge_reports([pulled], now=NOW)
        assert len(merged.sources) + len(merged.refused) + len(merged.ignored) >= 1


@FUZZ
@given(mutated(MERGED, changes=4) | json_values)
def test_a_changed_merged_document(document: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "merged.json"
        path.write_text(json.dumps(document))
        raises_only((DocumentError,), read_merged, path)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_a_merged_document(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "merged.json"
        path.write_bytes(data)
        raises_only((DocumentError,), read_merged, path)


@FUZZ
@given(mutated(LEDGER, changes=3).map(json.dumps) | st.text(max_size=200))
def test_a_changed_privacy_ledger(text: str) -> None:
    ledger_entries_of(text)
