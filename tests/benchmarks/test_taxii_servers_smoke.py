"""Smoke run of the side-by-side TAXII benchmark: every figure is produced from answers
that were checked (the harness raises on any wrong status, page or count); no timing is
asserted."""

from __future__ import annotations

import json
import math

from tests.benchmarks.taxii_servers import Config, main, run, table
from tests.conftest import PG_URL


def _positive(value: object) -> bool:
    return isinstance(value, float | int) and value > 0 and math.isfinite(value)


def test_the_taxii_benchmark_produces_every_figure() -> None:
    config = Config.smoke()
    results = run(config)

    backends = [o["backend"] for o in results["ours"]]
    assert backends == (["sqlite", "postgresql"] if PG_URL else ["sqlite"])
    medallion = results["medallion"]
    assert all(_positive(medallion["ingest"][size]) for size in ("100", "1000"))
    assert [row["size"] for row in medallion["poll"]] == config.medallion_sizes
    for ours in results["ours"]:
        assert all(_positive(v) for v in ours["ingest"].values())
        assert set(ours["ingest"]) == {"100", "1000", "sealed"}
        assert all(_positive(v) for v in ours["limit_ingest"].values())
        sizes = [row["size"] for row in ours["poll"]]
        assert sizes == [config.compare_size, config.ingest, *config.sizes[1:]]
        for row in ours["poll"]:
            assert set(row["ours"]) == set(row["limit"])
            assert len(row["ours"]) == 5
            for figures in (*row["ours"].values(), *row["limit"].values()):
                assert _positive(figures["p50_ms"])
                assert figures["p99_ms"] >= figures["p50_ms"]
        runs = {(r["workers"], r["clients"]) for r in ours["concurrency"]}
        assert runs == {(w, c) for w in (1, 2) for c in config.clients}
        assert all(r["requests"] > 0 for r in ours["concurrency"])
    assert {(r["suite"], r["recipients"]) for r in results["crypto"]} == {
        (s, n) for s in ("MLKEM768-X25519", "X25519") for n in config.recipients
    }
    assert all(_positive(r["seal_ms"]) and _positive(r["open_ms"]) for r in results["crypto"])

    targets = {t["target"] for t in results["targets"]}
    assert "ingest >= 10x Medallion" in targets
    assert "ingest >= 30% of the storage limit" in targets
    assert "page p50 <= 3x the storage limit" in targets
    assert f"seal + open for {max(config.recipients)} recipients <= 100 ms" in targets
    assert ("2 processes >= 1.6x the requests/s of 1" in targets) == bool(PG_URL)
    assert all(_positive(t["value"]) and t["met"] in (True, False) for t in results["targets"])

    text = table(results)
    for heading in ("INGEST", "POLL", "CONCURRENCY", "CRYPTO", "TARGETS", "Medallion"):
        assert heading in text
    json.dumps(results)  # what --json writes


def test_the_command_line_prints_its_usage() -> None:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    assert "--json" in out.getvalue()
    assert "--smoke" in out.getvalue()
