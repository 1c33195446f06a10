"""The hub's log key file: created once, owner-only, refused when others can read it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from exchange.audit.signer import KEY_FILE, LogKey, LogKeyError
from exchange.protocol.checkpoint import verify_checkpoint


def test_the_first_start_creates_the_key_and_later_starts_load_it(tmp_path: Path) -> None:
    key, created = LogKey.load_or_create(tmp_path)
    assert created
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = LogKey.load_or_create(tmp_path)
    assert not created_again
    assert again.public == key.public
    note = again.sign_checkpoint("hub/access", 3, bytes(32))
    assert verify_checkpoint(note, "hub/access", key.public).size == 3


def test_processes_starting_together_agree_on_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser of the O_EXCL race loads the winner's key."""
    (tmp_path / "elsewhere").mkdir()
    winner, _ = LogKey.load_or_create(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / KEY_FILE).rename(tmp_path / KEY_FILE)
    real_exists = Path.exists
    monkeypatch.setattr(
        Path, "exists", lambda self: False if self.name == KEY_FILE else real_exists(self)
    )
    loser, created = LogKey.load_or_create(tmp_path)
    assert not created
    assert loser.public == winner.public


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_key_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    LogKey.load_or_create(tmp_path)
    os.chmod(tmp_path / KEY_FILE, mode)
    with pytest.raises(LogKeyError, match="chmod 600"):
        LogKey.load_or_create(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": "hub-log-key/1", "ed25519": "AAAA", "ml-dsa-44": "AAAA"}),
        json.dumps({"format": "hub-log-key/1"}),
        json.dumps(["hub-log-key/1"]),
    ],
)
def test_a_malformed_key_file_is_refused_without_showing_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(LogKeyError, match="is not a hub-log-key/1 key file") as caught:
        LogKey.load_or_create(tmp_path)
    assert content not in str(caught.value) or content == "not json"
