"""Reading incident records: every bad row with its line number and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.errors import DocumentError, NoValidRecords
from feeds.trends.periods import parse_period
from feeds.trends.records import RowProblem, read_incidents

Q3 = parse_period("2026-Q3")
GOOD = "2026-07-14,DE,computer-related-fraud"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_bad_rows_each_with_line_and_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "incidents.csv",
        "date,region,offence_category,sector,enablers,victims,loss,currency,takedowns,note\n"
        f"{GOOD},banking,ransomware-as-a-service,3,100.50,EUR,1,keep\n"  # 2 valid
        "2026-07-15,XX,computer-related-fraud,,,,,,,\n"  # 3
        "2026-07-16,DE,computer-related-fraud,,,-3,,,,\n"  # 4
        "2026-07-16,DE,computer-related-fraud,,,,5,,,\n"  # 5
        "2026-07-16,DE,no-such-offence,,,,,,,\n"  # 6
        "2026-07-16,DE,illegal-access,,foo,,,,,\n"  # 7
        '2026-07-16,DE,illegal-access,,,,"1,5",EUR,,"two\n'  # 8 (a quoted field spans 9)
        'lines"\n'
        "2026-07-16,DE,illegal-access,,,,,eur,,\n"  # 10
        "2026-07-16,DE,illegal-access,farming,,,,,,\n"  # 11
        "2026-07-16,DE,illegal-access\n"  # 12
        "\n"  # 13 blank: not a row
        "2026-13-01,DE,illegal-access,,,,,,,\n"  # 14
        "2026-07-01T10:00:00,DE,illegal-access,,,,,,,\n"  # 15
        ",DE,illegal-access,,,,,,,\n"  # 16
        "2026-07-16,DE,illegal-access,,,,,,x2,\n"  # 17
        "2026-06-30,DE,illegal-access,,,,,,,\n"  # 18 outside the period
        "2026-10-01T00:00:00Z,XX,illegal-access,,,,,,,\n"  # 19 outside (not checked further)
        "2026-09-30T23:59:59Z,FR,illegal-access,,,1,2.345,USD,,\n",  # 20 valid
    )
    records = read_incidents(path, Q3)
    assert records.problems == (
        RowProblem(3, "region 'XX' is not in the taxonomy"),
        RowProblem(4, "victims '-3' is not a non-negative integer"),
        RowProblem(5, "loss without currency"),
        RowProblem(6, "offence_category 'no-such-offence' is not in the taxonomy"),
        RowProblem(7, "enabler 'foo' is not in the taxonomy"),
        RowProblem(8, "loss '1,5' is not a non-negative decimal amount"),
        RowProblem(10, "currency 'eur' is not an upper-case ISO 4217 code"),
        RowProblem(11, "sector 'farming' is not in the taxonomy"),
        RowProblem(12, "3 fields where the header has 10"),
        RowProblem(14, "date '2026-13-01' is not an ISO 8601 date or UTC instant"),
        RowProblem(15, "date '2026-07-01T10:00:00' has no time zone (give UTC, ending in Z)"),
        RowProblem(16, "required column date is empty"),
        RowProblem(17, "takedowns 'x2' is not a non-negative integer"),
    )
    assert records.rows == 17
    assert records.outside_period == 2
    assert len(records) == 2
    assert records.ignored_columns == ("note",)
    assert "victims" in records.columns
    assert "arrests" not in records.columns
    assert records.keys == (("DE", "computer-related-fraud"), ("FR", "illegal-access"))
    assert list(records.loss) == [10050, 234]  # cents, rounded half to even
    assert [records.currencies[c] for c in records.currency] == ["EUR", "USD"]
    assert list(records.victims) == [3, 1]
    assert list(records.takedowns) == [1, 0]
    assert records.enablers[0] == 1
    assert records.enablers[1] == 0


def test_jsonl_bad_rows_each_with_line_and_reason(tmp_path: Path) -> None:
    good = {"date": "2026-07-14", "region": "150", "offence_category": "illegal-access"}
    lines = [
        json.dumps(good | {"enablers": ["dark-web-markets"], "extra": 1}),  # 1 valid
        "[1, 2]",  # 2
        "{not json",  # 3
        json.dumps({"region": "DE", "offence_category": "illegal-access"}),  # 4
        "",  # 5 blank
        json.dumps(good | {"enablers": "dark-web-markets"}),  # 6
        json.dumps(good | {"victims": 2.5}),  # 7
        json.dumps(good | {"victims": True}),  # 8
        json.dumps(good | {"loss": -1, "currency": "EUR"}),  # 9
        json.dumps(good | {"loss": "NaN", "currency": "EUR"}),  # 10
        json.dumps(good | {"region": None}),  # 11
        json.dumps(good | {"date": "2026-08-01T12:00:00+02:00", "loss": 10, "currency": "CHF"}),
        json.dumps(good | {"date": "2027-01-01"}),  # 13 outside
        json.dumps(good | {"victims": "4", "arrests": 2, "other": "x"}),  # 14 valid
    ]
    path = write(tmp_path, "incidents.jsonl", "\n".join(lines) + "\n")
    records = read_incidents(path, Q3)
    assert records.problems == (
        RowProblem(2, "not a JSON object"),
        RowProblem(
            3, "not valid JSON (Expecting property name enclosed in double quotes at column 2)"
        ),
        RowProblem(4, "missing required column date"),
        RowProblem(6, "enablers 'dark-web-markets' is not a JSON list"),
        RowProblem(7, "victims '2.5' is not a non-negative integer"),
        RowProblem(8, "victims 'true' is not a non-negative integer"),
        RowProblem(9, "loss '-1' is not a non-negative decimal amount"),
        RowProblem(10, "loss 'NaN' is not a non-negative decimal amount"),
        RowProblem(11, "required column region is empty"),
    )
    assert len(records) == 3
    assert records.outside_period == 1
    assert records.ignored_columns == ("extra", "other")
    assert list(records.victims) == [0, 0, 4]
    assert list(records.arrests) == [0, 0, 2]
    assert list(records.loss) == [0, 1000, 0]
    assert records.currencies == ("CHF",)


def test_breakdown_by_sector_requires_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "incidents.csv",
        f"date,region,offence_category,sector\n{GOOD},health\n{GOOD},\n",
    )
    records = read_incidents(path, Q3, dimensions=("region", "offence_category", "sector"))
    assert records.keys == (("DE", "computer-related-fraud", "health"),)
    assert records.problems == (
        RowProblem(3, "missing sector (required when breaking down by sector)"),
    )


def test_no_valid_row_is_an_error_carrying_the_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "incidents.csv",
        "date,region,offence_category\n2026-07-14,XX,illegal-access\n2025-01-01,DE,illegal-access\n",
    )
    with pytest.raises(NoValidRecords) as caught:
        read_incidents(path, Q3)
    assert caught.value.problems == ((2, "region 'XX' is not in the taxonomy"),)
    assert caught.value.outside_period == 1
    assert isinstance(caught.value, DocumentError)
    assert "line 2" in caught.value.message


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("incidents.xlsx", b"x", "unsupported extension '.xlsx'"),
        ("incidents", b"x", "unsupported extension '(none)'"),
        ("incidents.csv", b"", "the file is empty"),
        ("incidents.csv", b"date,region\n", "the header has no offence_category column"),
        ("incidents.csv", b"date,region,date,offence_category\n", "names column 'date' twice"),
        (
            "incidents.csv",
            "date,region,offence_category\n2026-07-01,DE,\xe9\n".encode("latin-1"),
            "not UTF-8",
        ),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError) as caught:
        read_incidents(path, Q3)
    assert reason in caught.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        read_incidents(tmp_path / "absent.csv", Q3)


def test_large_losses_in_currencies_of_many_units_are_plausible(tmp_path: Path) -> None:
    """A billion euros in naira (1.6e12 units) is a record, not a typo; 1e14 is a typo."""
    text = (
        "date,region,offence_category,loss,currency\n"
        "2026-07-14,NG,computer-related-fraud,1600000000000.00,NGN\n"
        "2026-07-15,NG,computer-related-fraud,22188349695.77,NGN\n"
        "2026-07-16,NG,computer-related-fraud,100000000000000,NGN\n"
    )
    records = read_incidents(write(tmp_path, "big.csv", text), Q3)
    assert len(records.cell) == 2
    assert [(p.line, p.reason) for p in records.problems] == [
        (4, "loss '100000000000000' is implausibly large")
    ]
    assert sorted(records.loss) == [2218834969577, 160000000000000]
