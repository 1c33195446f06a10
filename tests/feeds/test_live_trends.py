"""End to end, issue 6: two members turn their own incident files into trend
reports, share them sealed, and a reader merges both and charts them.

Everything runs through the real ``feeds`` console script against a real hub
process: ``trends generate`` → ``trends build`` (the authority with
differential privacy) → ``publish`` (sealed) → the reader's ``pull`` →
``trends merge`` → ``trends chart``. Then every number of the merged table is
traced back to the report its member built, and the reader's HTML report to
its sources and disclosure notes. A distinctive value in a column of the raw
incident file must never leave the member's machine.
"""

from __future__ import annotations

import csv
import html
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exchange.db import tables
from exchange.db.session import read_transaction
from feeds.trends.report import EXTENSION_ID
from tests.feeds.live_feeds import ROOT, FeedsRunner
from tests.integration.live import HubHome

pytestmark = pytest.mark.integration

PASSPHRASE = "harbour quill meridian 4"
FEED = "cybercrime-trends"
QUARTERS = ("2026-Q1", "2026-Q2")
WRITERS = {"authority": ("authority", 11), "company": ("industry", 12)}


class Trends(FeedsRunner):
    def __init__(self, home: HubHome, work: Path, members: dict[str, Any]) -> None:
        super().__init__(home.serve(), work, members, PASSPHRASE)
        self.home = home
        self.case_ref = f"CASE-{uuid.uuid4()}"
        """A value planted in the raw incident files: it must never leave them."""


@pytest.fixture(scope="module")
def trends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trends]:
    base = tmp_path_factory.mktemp("trends-flow")
    home = HubHome(backend="sqlite", home=base / "home", auto_policy=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(ROOT))
        try:
            authority, company, reader = home.add_members(
                **{"Cybercrime unit": "authority", "Vendor": "industry", "Uni Lab": "research"}
            )
            home.add_feed(FEED, owner="Cybercrime unit", title="Cybercrime trends")
            home.grant("Vendor", FEED, read=True, write=True)
            home.grant("Uni Lab", FEED, read=True)
            work = base / "work"
            work.mkdir()
            members = {"authority": authority, "company": company, "reader": reader}
            live = Trends(home, work, members)
            for name in members:
                live.ok(name, "keys", "init")
                live.ok(name, "keys", "register")
            policy = work / "policy.json"
            live.ok("authority", "policy", "init", "--feed", FEED, "--template", "community",
                    "-o", str(policy))  # fmt: skip
            document = json.loads(policy.read_text())
            document["readers"] = [authority.id, company.id, reader.id]
            document["writers"] = [authority.id, company.id]
            policy.write_text(json.dumps(document, indent=2))
            live.ok("authority", "policy", "sign", str(policy))
            live.ok("authority", "policy", "publish", str(policy), "--feed", FEED)
            yield live
        finally:
            home.stop_all()


def _plant(path: Path, value: str) -> None:
    """Add a local-only column (a case reference) to every row of an incident file."""
    with path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    rows[0].append("case_ref")
    for row in rows[1:]:
        row.append(value)
    with path.open("w", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)


@pytest.fixture(scope="module")
def built(trends: Trends) -> dict[str, list[dict[str, Any]]]:
    """Each writer's incident file, its quarterly reports (as built), all published sealed."""
    reports: dict[str, list[dict[str, Any]]] = {}
    for name, (kind, seed) in WRITERS.items():
        incidents = trends.work / f"{name}-incidents.csv"
        trends.ok(name, "trends", "generate", "-o", str(incidents), "--period", "2026-H1",
                  "--rate", "25", "--profile", kind, "--seed", str(seed))  # fmt: skip
        _plant(incidents, trends.case_ref)
        reports[name] = []
        for quarter in QUARTERS:
            out = trends.work / f"{name}-{quarter}.json"
            dp = ("--epsilon", "1") if name == "authority" else ()
            summary = json.loads(
                trends.ok(
                    name,
                    "trends",
                    "build",
                    str(incidents),
                    "--period",
                    quarter,
                    "--reporter-kind",
                    kind,
                    *dp,
                    "-o",
                    str(out),
                    "--json",
                )
            )
            assert summary["ignored_columns"] == ["case_ref"]
            assert summary["suppressed_primary"] > 0
            published = json.loads(trends.ok(name, "publish", str(out), "--feed", FEED, "--json"))
            assert published["status"] == "success", published
            reports[name].append(json.loads(out.read_text()))
    return reports


@pytest.fixture(scope="module")
def merged(trends: Trends, built: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    inbox = trends.work / "reader-inbox"
    pulled = json.loads(trends.ok("reader", "pull", "--feed", FEED, "--out", str(inbox), "--json"))
    assert pulled["opened"] == 4
    assert pulled["refused"] == 0
    out = trends.work / "merged.json"
    trends.ok("reader", "trends", "merge", str(inbox), "-o", str(out))
    trends.ok("reader", "trends", "chart", str(out), "-o", str(trends.work / "trends.html"))
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _cells(report: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    extension = report["objects"][1]["extensions"][EXTENSION_ID]
    return {
        (c["region"], c["offence_category"], c["metric"], c["unit"]): c for c in extension["cells"]
    }


def test_every_merged_value_traces_to_the_report_its_member_built(
    trends: Trends, built: dict[str, list[dict[str, Any]]], merged: dict[str, Any]
) -> None:
    ids = {name: trends.members[name].id for name in WRITERS}
    assert merged["refused"] == []
    assert len(merged["sources"]) == 4
    assert all(source["verified"] for source in merged["sources"])
    assert {source["member"] for source in merged["sources"]} == set(ids.values())
    by_report = {
        report["objects"][1]["id"]: (name, report)
        for name, reports in built.items()
        for report in reports
    }
    assert {source["report"] for source in merged["sources"]} == set(by_report)
    traced = 0
    for row in merged["rows"]:
        name, report = by_report[row["source"]["report"]]
        assert row["source"]["member"] == ids[name]
        cell = _cells(report)[row["region"], row["offence_category"], row["metric"], row["unit"]]
        assert row["suppressed"] == cell["suppressed"]
        assert row["value"] == cell["value"]
        disclosure = report["objects"][1]["extensions"][EXTENSION_ID]["disclosure"]
        assert row["disclosure"]["k"] == disclosure["k"] == 10
        noised = disclosure["differential_privacy"] is not None
        assert noised == (name == "authority")
        assert (row["disclosure"]["epsilon"] is not None) == noised
        traced += 1
    assert traced == sum(len(_cells(r)) for reports in built.values() for r in reports)


def test_combined_values_never_un_suppress(merged: dict[str, Any]) -> None:
    rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in merged["rows"]:
        key = (row["period"], row["region"], row["offence_category"], row["metric"], row["unit"])
        rows.setdefault(key, []).append(row)
    suppressed = 0
    for combined in merged["combined"]:
        key = (combined["period"], combined["region"], combined["offence_category"],
               combined["metric"], combined["unit"])  # fmt: skip
        parts = rows[key]
        if any(part["suppressed"] for part in parts):
            assert combined["suppressed"]
            assert combined["value"] is None
            suppressed += 1
        else:
            assert combined["value"] == pytest.approx(sum(part["value"] for part in parts))
    assert suppressed > 0


def test_the_html_report_names_every_source_and_its_disclosure(
    trends: Trends, merged: dict[str, Any]
) -> None:
    page = (trends.work / "trends.html").read_text()
    assert "<svg" in page
    for source in merged["sources"]:
        assert source["member"] in page
        assert source["report"] in page
        for note in source["disclosure"]["notes"]:
            assert html.escape(note) in page


def test_the_raw_incident_records_never_leave_the_members_machines(
    trends: Trends, built: dict[str, list[dict[str, Any]]], merged: dict[str, Any]
) -> None:
    planted = trends.case_ref.encode()
    assert planted in (trends.work / "authority-incidents.csv").read_bytes()  # not vacuous
    for path in (trends.work / "reader-inbox").iterdir():
        assert planted not in path.read_bytes()
    for reports in built.values():
        for report in reports:
            assert planted not in json.dumps(report).encode()
    assert planted not in (trends.work / "merged.json").read_bytes()
    local = trends.home.local_hub()
    with read_transaction(local.engine) as conn:
        bodies = conn.execute(select(tables.stix_object.c.body)).scalars().all()
    assert len(bodies) >= 4
    assert not any(planted in (b if isinstance(b, bytes) else str(b).encode()) for b in bodies)
