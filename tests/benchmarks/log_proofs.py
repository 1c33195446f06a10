"""How the Merkle log store scales: appends, and proofs at 10^3 and 10^6 leaves.

Builds a log of each size on a fresh database (SQLite, and PostgreSQL when
``EXCHANGE_TEST_DATABASE_URL`` is set), then times inclusion proofs, consistency
proofs and roots (p50 over many random queries, each in its own read
transaction, the way the hub serves them) and prints them side by side with
the ratio of the largest size to the smallest: O(log n) proofs keep it near 1.

    python -m tests.benchmarks.log_proofs [--sizes 1000,1000000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import create_engine, text

from exchange.db.logs import LogName, NewLeaf
from exchange.db.session import read_transaction, write_transaction
from exchange.protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from exchange.services.hub import Hub
from exchange.settings import HubSettings

__all__ = ["main", "measure"]

LOG = LogName.ACCESS
_BATCH = 10_000


def _leaf(n: int) -> NewLeaf:
    data = json.dumps({"n": n, "action": "objects.read", "feed": "f" * 36}).encode()
    return NewLeaf(time=n, action="objects.read", member_id="m", feed_id="f", data=data)


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def _timed(hub: Hub, call: Callable[[Any], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        with read_transaction(hub.engine) as conn:
            call(conn)
        samples.append(time.perf_counter() - started)
    return _p50(samples)


def measure(hub: Hub, size: int, *, repeat: int = 200, seed: int = 7) -> dict[str, float]:
    """Fill ``hub``'s access log to ``size`` leaves; return append rate and proof p50s (ms)."""
    started = time.perf_counter()
    for first in range(0, size, _BATCH):
        with write_transaction(hub.engine) as conn:
            hub.logs.append(conn, LOG, [_leaf(n) for n in range(first, min(size, first + _BATCH))])
    append_seconds = time.perf_counter() - started
    rng = random.Random(seed)
    logs = hub.logs
    with read_transaction(hub.engine) as conn:
        root = logs.root(conn, LOG, size)
        # The figures are of correct proofs: a sample verifies.
        for _ in range(20):
            index = rng.randrange(size)
            proof = logs.inclusion_proof(conn, LOG, index, size)
            verify_inclusion(leaf_hash(_leaf(index).data), index, size, proof, root)
            old = rng.randrange(1, size) if size > 1 else 1
            verify_consistency(
                old, size, logs.root(conn, LOG, old), root,
                logs.consistency_proof(conn, LOG, old, size),
            )  # fmt: skip
    indices = [rng.randrange(size) for _ in range(repeat)]
    olds = [rng.randrange(1, size) if size > 1 else 1 for _ in range(repeat)]
    picks = iter(range(10**9))
    return {
        "leaves": size,
        "append_leaves_per_s": round(size / append_seconds),
        "inclusion_ms": _timed(
            hub, lambda c: logs.inclusion_proof(c, LOG, indices[next(picks) % repeat], size), repeat
        ),
        "consistency_ms": _timed(
            hub, lambda c: logs.consistency_proof(c, LOG, olds[next(picks) % repeat], size), repeat
        ),
        "root_ms": _timed(hub, lambda c: logs.root(c, LOG, size), repeat),
    }


def _backends() -> list[tuple[str, str | None]]:
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    admin_url = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    if admin_url:
        backends.append(("postgresql", admin_url))
    return backends


def _open(backend: str, admin_url: str | None, home: Path) -> tuple[Hub, Callable[[], None]]:
    if admin_url is None:
        hub = Hub.open(HubSettings(home=home))
        return hub, hub.close
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    hub = Hub.open(HubSettings(home=home, database_url=SecretStr(url)))

    def close() -> None:
        hub.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return hub, close


def run(sizes: list[int], *, repeat: int = 200) -> list[dict[str, Any]]:
    """Measure every size on every backend; return one row per (backend, size)."""
    rows = []
    for backend, admin_url in _backends():
        for size in sizes:
            with tempfile.TemporaryDirectory() as home:
                hub, close = _open(backend, admin_url, Path(home))
                try:
                    rows.append({"backend": backend, **measure(hub, size, repeat=repeat)})
                finally:
                    close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The figures; per backend, the largest size's proof times over the smallest's."""
    lines = [
        f"{'backend':<11}{'leaves':>10}{'append/s':>11}{'inclusion':>11}{'consistency':>13}"
        f"{'root':>8}   (p50, ms)"
    ]
    for row in rows:
        lines.append(
            f"{row['backend']:<11}{row['leaves']:>10,}{row['append_leaves_per_s']:>11,}"
            f"{row['inclusion_ms']:>11.3f}{row['consistency_ms']:>13.3f}{row['root_ms']:>8.3f}"
        )
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        small, large = mine[0], mine[-1]
        if large["leaves"] > small["leaves"]:
            ratio = {k: large[k] / small[k] for k in ("inclusion_ms", "consistency_ms", "root_ms")}
            lines.append(
                f"{backend}: {large['leaves']:,} / {small['leaves']:,} leaves:"
                f" inclusion x{ratio['inclusion_ms']:.2f},"
                f" consistency x{ratio['consistency_ms']:.2f}, root x{ratio['root_ms']:.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], repeat=args.repeat)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
