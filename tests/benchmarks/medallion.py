"""Medallion 3.0.0 (the OASIS reference TAXII 2.1 server) on loopback, for side-by-side runs.

Medallion runs its memory backend from a data file naming one API root and
the collections it will serve; it is Flask's development server (one
process, ``Connection: close``). Its quirks that a fair client must respect:
``next`` needs ``limit`` and is consumed by use, ``added_after`` must end in
``Z``, and a POST needs a ``Content-Length``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.live import TAXII_21, ServerProcess

__all__ = ["MEDALLION", "MedallionServer", "start_medallion"]

MEDALLION = Path(sys.executable).parent / "medallion"
"""Medallion's console script, from the ``bench`` extra (``medallion==3.0.0``)."""
API_ROOT = "bench"
USER = ("bench", "bench-password")
_START_TIMEOUT = 30.0


@dataclass(eq=False)
class MedallionServer:
    """One running Medallion process and the ids of its (initially empty) collections."""

    process: ServerProcess
    collections: dict[str, str]  # name -> collection id

    @property
    def api_root_url(self) -> str:
        """The API root every collection lives under."""
        return f"{self.process.url}/{API_ROOT}/"

    def stop(self) -> None:
        """Terminate the process and reap it."""
        self.process.stop()


def _data(port: int, collections: dict[str, str]) -> dict[str, object]:
    root = f"http://127.0.0.1:{port}/{API_ROOT}/"
    return {
        "/discovery": {
            "title": "Medallion (benchmark)",
            "description": "The OASIS reference TAXII 2.1 server, memory backend.",
            "default": root,
            "api_roots": [root],
        },
        API_ROOT: {
            "information": {
                "title": "Benchmark",
                "description": "Side-by-side benchmark collections.",
                "versions": [TAXII_21],
                "max_content_length": 1_000_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": collection_id,
                    "title": name,
                    "description": name,
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
                for name, collection_id in collections.items()
            ],
        },
    }


def start_medallion(workdir: Path, port: int, names: list[str]) -> MedallionServer:
    """Start Medallion on ``port`` with one empty collection per name; wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    collections = {name: str(uuid.uuid4()) for name in names}
    data_file = workdir / "medallion-data.json"
    data_file.write_text(json.dumps(_data(port, collections)), encoding="utf-8")
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_file),
        },
        "users": {USER[0]: USER[1]},
        "taxii": {"max_page_size": 1000},
    }
    config_file = workdir / "medallion-config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    log_path = workdir / "medallion.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(MEDALLION),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARN",
            str(config_file),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = MedallionServer(ServerProcess(port, process, log_path, log), collections)
    deadline = time.monotonic() + _START_TIMEOUT
    with httpx.Client(auth=USER, headers={"Accept": TAXII_21}, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                server.stop()
                raise RuntimeError(
                    f"medallion exited with {process.returncode}:\n{server.process.log()}"
                )
            try:
                if client.get(f"http://127.0.0.1:{port}/taxii2/").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"medallion did not answer within {_START_TIMEOUT:.0f} s")
            time.sleep(0.1)
