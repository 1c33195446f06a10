"""``feeds demo`` runs the whole flow on its own hub, ends by merging and charting the
trend reports it opened, and leaves nothing behind but that chart."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path(sys.executable).parent / "feeds"


def test_the_demo_proves_each_step_and_leaves_nothing_behind(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    env["TMPDIR"] = str(scratch)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [str(FEEDS), "demo", "--out", "charts", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    steps = result["steps"]
    assert len(steps) == 10
    assert all(step["title"] and step["proved"] for step in steps)
    proved = " ".join(step["proved"] for step in steps)
    for claim in ("ghost", "ciphertext only", "key commitment", "does not open", "never un-"):
        assert claim in proved
    assert re.search(r"HTTP 40[34]", steps[7]["title"])
    # The chart of 2 members x 4 quarters, every source verified, and no network needed.
    charts = tmp_path / "charts"
    assert sorted(p.name for p in charts.iterdir()) == ["merged.json", "trends.html", "trends.png"]
    merged = json.loads((charts / "merged.json").read_text())
    assert len(merged["sources"]) == 8
    assert all(source["verified"] for source in merged["sources"])
    assert {source["reporter_kind"] for source in merged["sources"]} == {"authority", "industry"}
    assert len(merged["periods"]) == 4
    assert merged["refused"] == []
    page = (charts / "trends.html").read_text()
    assert "<svg" in page
    assert re.search(r"(src|href)=[\"']https?:", page) is None
    assert (charts / "trends.png").read_bytes().startswith(b"\x89PNG")
    # Nothing else left: no files, no hub answering where it ran.
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts", "tmp"]
    url = re.search(r"http://127\.0\.0\.1:\d+", steps[0]["title"])
    assert url is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url.group(0)}/taxii2/", timeout=2.0)
