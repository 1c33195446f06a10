"""The operator CLI, ``exchange``, driven through Typer's CliRunner on a SQLite hub in tmp_path.

Each test gets its own ``EXCHANGE_HOME``; ``get_settings`` is cached, so the
fixture clears it around every test. Checks: ``--json`` prints exactly one JSON
object on stdout; a token is shown once and only its SHA-256 is stored; every
error goes to stderr with a non-zero exit and leaves the database as it was;
every command has a working ``--help``; the data directory is private.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from exchange.cli import app
from exchange.settings import get_settings
from tests.db.test_migrations import head_revision

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, not yet created ``EXCHANGE_HOME``; no other EXCHANGE_* setting leaks in."""
    for name in list(os.environ):
        if name.startswith("EXCHANGE_"):
            monkeypatch.delenv(name)
    path = tmp_path / "hub-home"
    monkeypatch.setenv("EXCHANGE_HOME", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def run(*args: str) -> Any:
    """Invoke ``exchange <args>``; any exception other than an exit is a bug."""
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def ok_json(*args: str) -> dict[str, Any]:
    """Run ``exchange <args> --json``; assert success and exactly one JSON object on stdout."""
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("\n")
    assert result.stdout.count("\n") == 1, result.stdout
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    return payload


def fails(*args: str, code: int | None = None, match: str) -> str:
    """Run ``exchange <args> --json``; assert it fails with ``match`` on stderr only."""
    result = run(*args, "--json")
    assert result.exit_code != 0, result.stdout
    if code is not None:
        assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert match in result.stderr, result.stderr
    return str(result.stderr)


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the hub's SQLite database (read-only)."""
    with sqlite3.connect(f"file:{home / 'exchange.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def counts(home: Path) -> dict[str, int]:
    """Row counts of the operator's tables."""
    tables = ("member", "token", "feed", "feed_grant")
    return {t: query(home, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


# --------------------------------------------------------------------------- migrate, files


def test_migrate_creates_a_private_home_and_database(home: Path) -> None:
    payload = ok_json("migrate")
    assert payload["migrated"] is True
    assert payload["database"] == f"sqlite:///{(home / 'exchange.db').resolve()}"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "exchange.db").stat().st_mode) == 0o600
    assert counts(home) == {"member": 0, "token": 0, "feed": 0, "feed_grant": 0}


def test_migrate_is_idempotent(home: Path) -> None:
    ok_json("migrate")
    ok_json("migrate")
    assert query(home, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_every_file_in_the_home_is_private_after_writes(home: Path) -> None:
    ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    ok_json("admin", "feed", "add", "reports", "--title", "Reports", "--owner", "CERT-EU")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = sorted(p for p in home.iterdir())
    assert files, "the home holds the database"
    for path in files:  # the database and its -wal/-shm files
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_migrate_human_output_names_the_database(home: Path) -> None:
    result = run("migrate")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("migrated sqlite:///")


# --------------------------------------------------------------------------- members, tokens


def test_member_add_shows_the_token_once_and_stores_only_its_hash(home: Path) -> None:
    added = ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    token = added["token"]
    assert added["name"] == "CERT-EU"
    assert added["kind"] == "authority"
    assert added["disabled"] is False
    assert added["id"].startswith("identity--")
    assert token.startswith("tx_")
    assert len(token) >= 40

    rows = query(home, "SELECT hash, member_id, revoked_at FROM token")
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), added["id"], None)]
    # The token itself is nowhere on disk: not in the database, not in its WAL.
    for path in home.iterdir():
        assert token.encode() not in path.read_bytes(), path.name

    listed = ok_json("admin", "member", "list")
    assert listed == {
        "members": [{k: v for k, v in added.items() if k != "token"}],
    }
    assert token not in json.dumps(listed)


def test_member_add_human_output_shows_id_and_token(home: Path) -> None:
    result = run("admin", "member", "add", "CERT-EU", "--kind", "authority")
    assert result.exit_code == 0, result.stderr
    (token_line,) = [line for line in result.stdout.splitlines() if "token" in line]
    token = token_line.rsplit(" ", 1)[1]
    stored = query(home, "SELECT hash FROM token")
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]


def test_token_issue_adds_a_second_token_and_revoke_revokes_all(home: Path) -> None:
    added = ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    issued = ok_json("admin", "token", "issue", "CERT-EU")
    assert issued["member"] == added["id"]
    assert issued["token"] != added["token"]
    hashes = {h for (h,) in query(home, "SELECT hash FROM token")}
    assert hashes == {
        hashlib.sha256(t.encode()).hexdigest() for t in (added["token"], issued["token"])
    }

    revoked = ok_json("admin", "token", "revoke", added["id"])
    assert revoked == {"member": added["id"], "revoked": 2}
    assert query(home, "SELECT count(*) FROM token WHERE revoked_at IS NULL") == [(0,)]
    assert ok_json("admin", "token", "revoke", "CERT-EU")["revoked"] == 0


def test_member_disable(home: Path) -> None:
    added = ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    disabled = ok_json("admin", "member", "disable", "CERT-EU")
    assert disabled["id"] == added["id"]
    assert disabled["disabled"] is True
    assert ok_json("admin", "member", "list")["members"][0]["disabled"] is True
    assert query(home, "SELECT disabled FROM member") == [(1,)]


# --------------------------------------------------------------------------- feeds, grants


def test_feed_add_grant_list_revoke(home: Path) -> None:
    owner = ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    reader = ok_json("admin", "member", "add", "Uni Lab", "--kind", "research")
    feed = ok_json(
        "admin", "feed", "add", "reports", "--title", "Reports", "--description", "Q trends",
        "--owner", "CERT-EU",
    )  # fmt: skip
    assert feed["alias"] == "reports"
    assert feed["title"] == "Reports"
    assert feed["description"] == "Q trends"
    assert feed["owner"] == owner["id"]

    granted = ok_json("admin", "grant", "Uni Lab", "reports", "--read")
    assert granted == {
        "member": reader["id"],
        "feed": feed["id"],
        "alias": "reports",
        "read": True,
        "write": False,
    }
    (listed,) = ok_json("admin", "feed", "list")["feeds"]
    assert listed["id"] == feed["id"]
    assert sorted(listed["grants"], key=lambda g: g["member"]) == sorted(
        [
            {"member": owner["id"], "read": True, "write": True},
            {"member": reader["id"], "read": True, "write": False},
        ],
        key=lambda g: g["member"],
    )

    revoked = ok_json("admin", "revoke", reader["id"], feed["id"])
    assert (revoked["read"], revoked["write"]) == (False, False)
    assert query(home, "SELECT member_id FROM feed_grant") == [(owner["id"],)]


def test_grant_sets_exactly_the_rights_given(home: Path) -> None:
    ok_json("admin", "member", "add", "Uni Lab", "--kind", "research")
    ok_json("admin", "feed", "add", "reports", "--title", "Reports")
    ok_json("admin", "grant", "Uni Lab", "reports", "--read", "--write")
    ok_json("admin", "grant", "Uni Lab", "reports", "--write")
    assert query(home, "SELECT can_read, can_write FROM feed_grant") == [(0, 1)]


def test_feed_list_human_output(home: Path) -> None:
    ok_json("admin", "feed", "add", "reports", "--title", "Reports")
    result = run("admin", "feed", "list")
    assert result.exit_code == 0, result.stderr
    assert "reports" in result.stdout


# --------------------------------------------------------------------------- errors


def test_unknown_member_is_an_error(home: Path) -> None:
    ok_json("migrate")
    before = counts(home)
    for args in (
        ("admin", "member", "disable", "nobody"),
        ("admin", "token", "issue", "nobody"),
        ("admin", "token", "revoke", "nobody"),
        ("admin", "grant", "nobody", "reports", "--read"),
        ("admin", "feed", "add", "reports", "--title", "Reports", "--owner", "nobody"),
    ):
        fails(*args, code=1, match="No member with id or name 'nobody'")
    assert counts(home) == before


def test_unknown_feed_is_an_error(home: Path) -> None:
    ok_json("admin", "member", "add", "Uni Lab", "--kind", "research")
    before = counts(home)
    fails("admin", "grant", "Uni Lab", "nope", "--read", code=1, match="No such collection")
    fails("admin", "revoke", "Uni Lab", "nope", code=1, match="No such collection")
    assert counts(home) == before


def test_duplicate_member_name_is_an_error_and_writes_nothing(home: Path) -> None:
    ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    before = counts(home)
    fails("admin", "member", "add", "CERT-EU", "--kind", "industry", code=1, match="already exists")
    fails("admin", "member", "add", "  CERT-EU ", "--kind", "industry", match="already exists")
    assert counts(home) == before == {"member": 1, "token": 1, "feed": 0, "feed_grant": 0}


def test_duplicate_alias_is_an_error_and_writes_nothing(home: Path) -> None:
    ok_json("admin", "member", "add", "CERT-EU", "--kind", "authority")
    ok_json("admin", "feed", "add", "reports", "--title", "Reports", "--owner", "CERT-EU")
    before = counts(home)
    fails(
        "admin", "feed", "add", "reports", "--title", "Other", "--owner", "CERT-EU",
        code=1, match="alias 'reports' already exists",
    )  # fmt: skip
    assert counts(home) == before
    assert query(home, "SELECT title FROM feed") == [("Reports",)]


@pytest.mark.parametrize(
    ("alias", "reason"),
    [("Bad Alias", "An alias is"), ("0f8fad5b-d9cb-469f-a165-70867728950e", "not itself a uuid")],
)
def test_malformed_alias_is_an_error(home: Path, alias: str, reason: str) -> None:
    fails("admin", "feed", "add", alias, "--title", "T", code=1, match=reason)
    assert counts(home)["feed"] == 0


def test_grant_without_read_or_write_is_a_usage_error(home: Path) -> None:
    ok_json("admin", "member", "add", "Uni Lab", "--kind", "research")
    ok_json("admin", "feed", "add", "reports", "--title", "Reports")
    before = counts(home)
    fails("admin", "grant", "Uni Lab", "reports", code=2, match="give --read, --write or both")
    assert counts(home) == before


def test_revoke_without_a_grant_is_an_error(home: Path) -> None:
    ok_json("admin", "member", "add", "Uni Lab", "--kind", "research")
    ok_json("admin", "feed", "add", "reports", "--title", "Reports")
    fails("admin", "revoke", "Uni Lab", "reports", code=1, match="has no grant on reports")


def test_bad_kind_is_a_usage_error_and_touches_nothing(home: Path) -> None:
    fails("admin", "member", "add", "CERT-EU", "--kind", "wizard", code=2, match="--kind")
    assert not home.exists()


def test_member_name_that_looks_like_an_id_is_refused(home: Path) -> None:
    fails("admin", "member", "add", "identity--x", "--kind", "industry", code=1, match="member id")
    assert counts(home)["member"] == 0


def test_bad_setting_is_reported_without_a_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_API_ROOT", "Not Valid!")
    get_settings.cache_clear()
    stderr = fails("migrate", code=2, match="invalid EXCHANGE_* setting")
    assert "Traceback" not in stderr


def test_unreachable_database_is_reported_without_the_password(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "EXCHANGE_DATABASE_URL", "postgresql+psycopg://hub:s3cret-pw@127.0.0.1:1/nowhere"
    )
    get_settings.cache_clear()
    stderr = fails("admin", "member", "list", code=1, match="cannot open the hub database")
    assert "s3cret-pw" not in stderr


def test_unparseable_database_url_is_reported_without_a_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_DATABASE_URL", "not a url, pw=s3cret-pw")
    get_settings.cache_clear()
    stderr = fails("migrate", code=1, match="does not parse as a SQLAlchemy URL")
    assert "s3cret-pw" not in stderr
    assert "Traceback" not in stderr


# --------------------------------------------------------------------------- help


# Typer 0.29 vendors Click (typer._click), so walk the tree by its shape, not by Click's types.
def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*prefix, name))
    return paths


ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = _command_paths(ROOT_COMMAND)


def _command_at(path: tuple[str, ...]) -> Any:
    command: Any = ROOT_COMMAND
    for name in path:
        command = command.commands[name]
    return command


DATA_COMMANDS = [p for p in COMMANDS if p != ("serve",) and not hasattr(_command_at(p), "commands")]


def test_the_command_tree_is_complete() -> None:
    assert set(COMMANDS) >= {
        ("serve",),
        ("migrate",),
        ("admin", "member", "add"),
        ("admin", "member", "list"),
        ("admin", "member", "disable"),
        ("admin", "token", "issue"),
        ("admin", "token", "revoke"),
        ("admin", "feed", "add"),
        ("admin", "feed", "list"),
        ("admin", "grant"),
        ("admin", "revoke"),
        ("audit", "verify"),
        ("audit", "log"),
        ("audit", "export"),
    }


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "exchange")
def test_every_command_has_help(home: Path, path: tuple[str, ...]) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    assert not home.exists(), "--help must not create the hub's data"


@pytest.mark.parametrize("path", DATA_COMMANDS, ids=" ".join)
def test_every_data_command_takes_json(path: tuple[str, ...]) -> None:
    assert any("--json" in p.opts for p in _command_at(path).params)
