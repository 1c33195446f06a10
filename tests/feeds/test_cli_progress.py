"""How long commands show progress: a bar on a terminal, lines otherwise, nothing for --json."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from feeds.cli import _progress


def _describe(outcome: str) -> str:
    return f"line for {outcome}"


def test_a_terminal_gets_a_bar_and_the_loud_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(_progress, "stderr", terminal)
    with _progress.report_progress(True, "pulling", _describe, lambda o: o == "bad") as tick:
        assert tick is not None
        for outcome in ("good", "bad", "good"):
            tick(outcome)
    shown = screen.getvalue()
    assert "pulling" in shown
    assert "reports" in shown
    assert "line for bad" in shown
    assert "line for good" not in shown


def test_elsewhere_one_plain_line_per_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_progress, "stderr", Console(file=io.StringIO(), force_terminal=False))
    monkeypatch.setattr(_progress, "stdout", Console(force_terminal=False, width=200))
    with _progress.report_progress(True, "pulling", _describe, lambda o: False) as tick:
        assert tick is not None
        tick("one")
        tick("two")
    assert capsys.readouterr().out.splitlines() == ["line for one", "line for two"]


def test_json_output_gets_no_progress() -> None:
    with _progress.report_progress(False, "pulling", _describe, lambda o: True) as tick:
        assert tick is None
