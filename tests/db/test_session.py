"""Transactions: on SQLite a process's writers queue on the engine's own lock, so they
wait for each other without SQLite's busy handler, which sleeps in steps of up to 100 ms."""

from __future__ import annotations

import threading

from exchange.db import session
from exchange.db.session import read_transaction, write_transaction
from exchange.services.hub import Hub


def _try_lock(lock: threading.RLock) -> bool:
    """Whether another thread could take ``lock`` now (released again at once)."""
    got: list[bool] = []

    def attempt() -> None:
        taken = lock.acquire(blocking=False)
        if taken:
            lock.release()
        got.append(taken)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return got[0]


def test_a_sqlite_write_holds_the_engines_writer_lock(sqlite_hub: Hub) -> None:
    lock = session._SQLITE_WRITERS[sqlite_hub.engine]
    assert _try_lock(lock)
    with write_transaction(sqlite_hub.engine):
        assert not _try_lock(lock)  # a second writer of this process waits here
    assert _try_lock(lock)
    with read_transaction(sqlite_hub.engine):
        assert _try_lock(lock)  # readers never wait for it
