"""Smoke run of the log benchmark: every figure is produced (no timing is asserted)."""

from __future__ import annotations

from tests.benchmarks.log_proofs import run, table


def test_the_log_benchmark_produces_every_figure() -> None:
    rows = run([100, 2_000], repeat=5)
    assert {r["leaves"] for r in rows} == {100, 2_000}
    for row in rows:
        for key in ("append_leaves_per_s", "inclusion_ms", "consistency_ms", "root_ms"):
            assert row[key] > 0
    text = table(rows)
    assert "2,000 / 100 leaves" in text
