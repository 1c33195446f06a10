"""The validator's pool of processes gives exactly what validating in place gives."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from exchange.db.records import NewObject
from exchange.services.stix import InvalidObject, Validator

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "stix-examples"


def _objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.json")):
        objects += json.loads(path.read_text(encoding="utf-8"))["objects"]
    broken = [
        {**objects[0], "created": "2026-13-01T00:00:00.000Z"},
        {**objects[1], "spec_version": "2.0"},
        {**objects[2], "X-Bad": 1},
    ]
    return objects + broken


def _outcome(result: NewObject | InvalidObject) -> object:
    if isinstance(result, InvalidObject):
        return ("invalid", result.stix_id, result.version, result.reason)
    return result


def test_the_pool_gives_the_in_place_results_in_order() -> None:
    objects = _objects()
    assert len(objects) >= 200
    in_place = [_outcome(r) for r in Validator(1).validate(objects)]
    assert sum(isinstance(o, tuple) for o in in_place) >= 3
    pooled = Validator(2)
    try:
        assert [_outcome(r) for r in pooled.validate(objects)] == in_place
        assert pooled._pool is not None
    finally:
        pooled.close()


def test_small_envelopes_stay_in_place() -> None:
    validator = Validator(2)
    validator.validate(_objects()[:10])
    assert validator._pool is None


def test_a_broken_pool_falls_back_to_validating_in_place() -> None:
    objects = _objects()
    validator = Validator(2)
    try:
        validator.validate(objects)
        pool = validator._pool
        assert pool is not None
        for pid in list(pool._processes):  # a pool process dies (OOM killer, operator)
            os.kill(pid, signal.SIGKILL)
        expected = [_outcome(r) for r in Validator(1).validate(objects)]
        assert [_outcome(r) for r in validator.validate(objects)] == expected
        assert [_outcome(r) for r in validator.validate(objects)] == expected  # a new pool
    finally:
        validator.close()


def test_start_brings_the_pool_up_before_the_first_envelope() -> None:
    validator = Validator(2)
    try:
        validator.start()
        assert validator._pool is not None
        objects = _objects()
        expected = [_outcome(r) for r in Validator(1).validate(objects)]
        assert [_outcome(r) for r in validator.validate(objects)] == expected
    finally:
        validator.close()
    Validator(1).start()  # in place: nothing to start


_HOST = """
import sys, time
from exchange.services.stix import Validator, _validate_chunk
if __name__ == "__main__":
    validator = Validator(2)
    pool = validator._executor()
    list(pool.map(_validate_chunk, [[], []]))
    print(" ".join(str(pid) for pid in pool._processes), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split(")")[1].split()[0] != "Z"


def test_pool_processes_exit_when_the_hub_is_killed(tmp_path: Path) -> None:
    """A hub killed with SIGKILL cannot stop its pool: the pool processes notice and exit."""
    import subprocess
    import sys
    import time

    script = tmp_path / "host.py"
    script.write_text(_HOST, encoding="utf-8")
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        children = [int(pid) for pid in host.stdout.readline().split()]
        assert len(children) == 2
        assert all(_alive(pid) for pid in children)
    finally:
        host.kill()
        host.wait()
        if host.stdout is not None:
            host.stdout.close()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def test_a_pool_shut_down_meanwhile_falls_back_to_validating_in_place() -> None:
    """Another request's `close` may shut the pool down between `_executor` and `map`."""
    objects = _objects()
    validator = Validator(2)
    try:
        validator._executor().shutdown(wait=True)  # _pool still names the closed pool
        expected = [_outcome(r) for r in Validator(1).validate(objects)]
        assert [_outcome(r) for r in validator.validate(objects)] == expected
    finally:
        validator.close()
