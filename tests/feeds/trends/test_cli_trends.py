"""``feeds trends generate|build|merge|chart`` through the command line, in-process.

The library underneath is tested in the other files of this package; this
checks the commands: their outputs, ``--json``, and that every bad input is a
message on stderr with the right exit code and leaves nothing half-written.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from feeds.trends.report import trend_reports
from tests.feeds.cli_helpers import Cli

MEMBER = "identity--0d6f1a7e-3c2b-4e8d-9a1f-5b7c3e2d1a40"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(keystore=tmp_path / "keys", passphrase=None)


@pytest.fixture
def incidents(cli: Cli, tmp_path: Path) -> Path:
    path = tmp_path / "incidents.csv"
    cli.ok("trends", "generate", "-o", str(path), "--period", "2026-H1", "--rate", "30",
           "--seed", "7")  # fmt: skip
    return path


def test_generate_is_seeded_and_reports_progress_in_plain_lines(cli: Cli, tmp_path: Path) -> None:
    out = cli.ok("trends", "generate", "-o", str(tmp_path / "a.jsonl"), "--count", "5000")
    assert "generating: 5,000 of 5,000" in out
    assert "wrote 5,000 synthetic incident records" in out
    again = cli.json("trends", "generate", "-o", str(tmp_path / "b.jsonl"), "--count", "5000")
    assert again["records"] == 5000
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert stat.S_IMODE((tmp_path / "a.jsonl").stat().st_mode) == 0o600


def test_build_merge_chart(cli: Cli, incidents: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for quarter in ("2026-Q1", "2026-Q2"):
        summary = cli.json(
            "trends", "build", str(incidents), "--period", quarter, "--reporter-kind",
            "authority", "--member", MEMBER, "-o", str(reports / f"{quarter}.json"),
        )  # fmt: skip
        assert summary["period_label"] == quarter
        assert summary["valid"] > 0
        assert summary["outside_period"] > 0
        assert summary["problems"] == []
        assert summary["suppressed_primary"] > 0
        [report] = trend_reports(json.loads((reports / f"{quarter}.json").read_text()))
        assert report.created_by == MEMBER
        assert report.extension.disclosure.k == 10
    merged = cli.json("trends", "merge", str(reports), "-o", str(tmp_path / "merged.json"))
    assert merged["output"] == str(tmp_path / "merged.json")
    text = cli.ok("trends", "chart", str(tmp_path / "merged.json"), "-o", str(tmp_path / "t.html"))
    assert "chart(s)" in text
    assert "<svg" in (tmp_path / "t.html").read_text()
    png = cli.json("trends", "chart", str(tmp_path / "merged.json"), "-o", str(tmp_path / "t.png"))
    assert png["format"] == "png"
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_build_with_differential_privacy_keeps_a_ledger(
    cli: Cli, incidents: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.json"
    args = ("trends", "build", str(incidents), "--period", "2026-Q1", "--reporter-kind",
            "authority", "--ledger", str(ledger), "--epsilon-budget", "1.5")  # fmt: skip
    first = cli.json(*args, "--epsilon", "1", "-o", str(tmp_path / "r1.json"))
    assert 0 < first["epsilon"] <= 1
    assert first["cumulative_epsilon"] == pytest.approx(first["epsilon"])
    assert {noise["metric"] for noise in first["noise"]} >= {"incidents"}
    before = ledger.read_bytes()
    cli.fails(*args, "--epsilon", "1", "-o", str(tmp_path / "r2.json"), code=1, match="budget")
    assert ledger.read_bytes() == before
    assert not (tmp_path / "r2.json").exists()


def test_the_default_ledger_lives_in_the_keystore_directory(
    cli: Cli, incidents: Path, tmp_path: Path
) -> None:
    cli.keystore.mkdir(mode=0o700)
    cli.json("trends", "build", str(incidents), "--period", "2026-Q2", "--reporter-kind",
             "research", "--epsilon", "0.5", "-o", str(tmp_path / "r.json"))  # fmt: skip
    assert (cli.keystore / "privacy-ledger.json").exists()


def test_bad_rows_are_listed_with_their_lines(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    rows = ["date,region,offence_category"]
    rows += ["2026-02-01,DE,computer-related-fraud"] * 12
    rows += ["2026-02-02,XX,computer-related-fraud", "2026-02-03,DE,murder"]
    path.write_text("\n".join(rows) + "\n")
    args = ("trends", "build", str(path), "--period", "2026-Q1", "--reporter-kind", "authority",
            "-o", str(tmp_path / "r.json"))  # fmt: skip
    result = cli.run(*args)
    assert result.exit_code == 0, result.stderr
    assert "line 14: " in result.stderr
    assert "line 15: " in result.stderr
    assert "XX" in result.stderr
    assert "2 bad (listed above, skipped)" in result.stdout
    (tmp_path / "r.json").unlink()
    cli.fails(*args, "--strict", code=1, match="2 bad row(s)")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("args", "code", "match"),
    [
        (("--period", "2026-Q5"), 2, "period"),
        (("--period", "2026-Q1", "--reporter-kind", "journalist"), 2, "reporter"),
        (("--period", "2026-Q1", "--bound", "loss=zero:10"), 2, "METRIC=LOW:HIGH"),
        (("--period", "2026-Q1", "--metric", "murders"), 2, "murders"),
        (("--period", "2027-Q1"), 1, "no incident record in the period"),
        (("--period", "2026-Q1", "--member", "CERT-EU"), 2, "not a member id"),
        (("--period", "2026-Q1", "--k", "2"), 2, "protects nothing"),
    ],
)
def test_bad_build_arguments(
    cli: Cli, incidents: Path, tmp_path: Path, args: tuple[str, ...], code: int, match: str
) -> None:
    base = ("--reporter-kind", "authority") if "--reporter-kind" not in args else ()
    cli.fails("trends", "build", str(incidents), *base, *args, "-o", str(tmp_path / "r.json"),
              code=code, match=match)  # fmt: skip
    assert not (tmp_path / "r.json").exists()


def test_bad_files(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "incidents.txt"
    text.write_text("date,region\n")
    cli.fails("trends", "build", str(text), "--period", "2026", "--reporter-kind", "authority",
              "-o", str(tmp_path / "r.json"), code=1, match=".csv")  # fmt: skip
    cli.fails("trends", "build", str(tmp_path / "absent.csv"), "--period", "2026",
              "--reporter-kind", "authority", "-o", str(tmp_path / "r.json"), code=1,
              match="absent.csv")  # fmt: skip
    cli.fails("trends", "generate", "-o", str(tmp_path / "x.xlsx"), code=1, match="csv")
    cli.fails("trends", "generate", "-o", str(tmp_path / "x.csv"), "--count", "1", "--rate", "2",
              code=2, match="not both")  # fmt: skip
    cli.fails("trends", "merge", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.json"),
              code=1, match="nowhere")  # fmt: skip
    garbage = tmp_path / "merged.json"
    garbage.write_text('{"format": "something else"}')
    cli.fails("trends", "chart", str(garbage), "-o", str(tmp_path / "t.html"), code=1,
              match="merged")  # fmt: skip
    assert not (tmp_path / "t.html").exists()
    assert not (tmp_path / "r.json").exists()


def test_a_long_build_reports_progress_in_plain_lines(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    cli.ok("trends", "generate", "-o", str(path), "--count", "100000", "--period", "2026")
    out = cli.ok("trends", "build", str(path), "--period", "2026", "--reporter-kind",
                 "authority", "-o", str(tmp_path / "r.json"))  # fmt: skip
    assert "reading records: 100,000" in out
    assert "read 100,000 rows: 100,000 records in 2026" in out
