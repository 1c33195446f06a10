"""``exchange``: the operator's command line.

``exchange serve`` runs the hub; ``exchange admin …`` acts on the hub's database
directly, so no server needs to run. Every admin command takes ``--json`` and
then prints exactly one JSON object on stdout. Errors go to stderr with a
non-zero exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from exchange.audit import cli as audit_cli
from exchange.audit.signer import LogKey, LogKeyError
from exchange.db.records import FeedRecord, MemberKind, MemberRecord
from exchange.db.session import make_engine, migrate
from exchange.errors import ExchangeError
from exchange.protocol.timestamps import format_timestamp
from exchange.services import admin
from exchange.services.hub import Hub
from exchange.settings import HubSettings, get_settings
from exchange.tls import harden

__all__ = ["app", "main"]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
MemberArg = Annotated[str, typer.Argument(help="Member id (identity--…) or name.")]
FeedArg = Annotated[str, typer.Argument(help="Feed id or alias.")]


def _typer(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )


app = _typer("Run and administer a Trend Exchange hub.")
admin_app = _typer("Admit members, issue tokens, create feeds and grant access (no server needed).")
member_app = _typer("Members: organisations admitted to the hub.")
token_app = _typer("API tokens (shown once, stored only as hashes).")
feed_app = _typer("Feeds: TAXII collections.")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_cli.app, name="audit")
admin_app.add_typer(member_app, name="member")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(feed_app, name="feed")


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(f"error: {escape(message)}")
    raise typer.Exit(code)


def _settings() -> HubSettings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError
        _fail(f"invalid EXCHANGE_* setting: {str(exc).splitlines()[0]}", 2)


def _where(settings: HubSettings) -> str:
    try:
        return make_url(settings.sqlalchemy_url()).render_as_string(hide_password=True)
    except ArgumentError:  # never echo an unparseable URL: it may hold a password
        return "EXCHANGE_DATABASE_URL (which does not parse as a SQLAlchemy URL)"


@contextmanager
def _hub() -> Iterator[Hub]:
    settings = _settings()
    try:
        hub = Hub.open(settings)
    except ExchangeError as exc:
        _fail(exc.message)
    except Exception as exc:  # cannot reach or migrate the database
        _fail(f"cannot open the hub database at {_where(settings)}: {type(exc).__name__}")
    try:
        yield hub
    except ExchangeError as exc:
        _fail(exc.message)
    finally:
        hub.close()


def _emit(as_json: bool, payload: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(payload).decode() + "\n")
    else:
        human()


def _member_json(member: MemberRecord) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "kind": member.kind.value,
        "disabled": member.disabled,
        "created": format_timestamp(member.created_at),
    }


def _feed_json(feed: FeedRecord) -> dict[str, Any]:
    return {
        "id": feed.id,
        "alias": feed.alias,
        "title": feed.title,
        "description": feed.description,
        "owner": feed.owner_id,
        "public": feed.public,
        "created": format_timestamp(feed.created_at),
    }


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 6100,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request line.")] = True,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate chain: serve HTTPS (TAXII requires it).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
) -> None:
    """Run the hub: create or migrate its database, then serve TAXII 2.1.

    TAXII 2.1 requires HTTPS: give --tls-cert and --tls-key, or put a TLS
    proxy in front of a hub that listens on loopback only.
    """
    import uvicorn

    if (tls_cert is None) != (tls_key is None):
        _fail("give both --tls-cert and --tls-key, or neither", 2)
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            _fail(f"no such file: {path}", 2)
    settings = _settings()
    try:
        engine = make_engine(settings)
        migrate(engine)
        engine.dispose()
    except Exception as exc:
        _fail(f"cannot open the hub database at {_where(settings)}: {type(exc).__name__}: {exc}")
    try:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        key, created = LogKey.load_or_create(settings.home)
    except (LogKeyError, OSError) as exc:
        _fail(f"cannot use the log key: {exc}")
    shown_host = f"[{host}]" if ":" in host else host
    scheme = "http" if tls_cert is None else "https"
    base = f"{scheme}://{shown_host}:{port}"
    stdout.print(f"Trend Exchange hub: discovery at {base}/taxii2/")
    stdout.print(f"data: {_where(settings)}")
    stdout.print(
        f"log key{' (new)' if created else ''}: {key.public.fingerprint()}"
        f" (public half at {base}/.well-known/trend-exchange/log-key)"
    )
    uvicorn.run(
        "exchange.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level,
        server_header=False,
        ssl_certfile=None if tls_cert is None else str(tls_cert),
        ssl_keyfile=None if tls_key is None else str(tls_key),
        ssl_context_factory=None if tls_cert is None else harden,
    )


@app.command("migrate")
def migrate_command(as_json: JsonOpt = False) -> None:
    """Create the hub database or migrate it to the current schema, then exit."""
    with _hub() as hub:
        where = _where(hub.settings)
    _emit(as_json, {"database": where, "migrated": True}, lambda: stdout.print(f"migrated {where}"))


@member_app.command("add")
def member_add(
    name: Annotated[str, typer.Argument(help="The organisation's name (unique).")],
    kind: Annotated[MemberKind, typer.Option(help="What kind of member this is.")],
    as_json: JsonOpt = False,
) -> None:
    """Admit a member; prints its id and its first API token (shown only this once)."""
    with _hub() as hub:
        member, token = admin.add_member(hub, name, kind)

    def human() -> None:
        stdout.print(f"member {escape(member.name)}: {member.id}")
        stdout.print(f"token (shown once, store it now): {token}")

    _emit(as_json, {**_member_json(member), "token": token}, human)


@member_app.command("list")
def member_list(as_json: JsonOpt = False) -> None:
    """List every member."""
    with _hub() as hub:
        members = admin.list_members(hub)

    def human() -> None:
        table = Table("id", "name", "kind", "state")
        for m in members:
            table.add_row(
                m.id, escape(m.name), m.kind.value, "disabled" if m.disabled else "active"
            )
        stdout.print(table)

    _emit(as_json, {"members": [_member_json(m) for m in members]}, human)


@member_app.command("disable")
def member_disable(member: MemberArg, as_json: JsonOpt = False) -> None:
    """Disable a member: every request it makes is refused from now on, on every process."""
    with _hub() as hub:
        record = admin.disable_member(hub, member)
    _emit(as_json, _member_json(record), lambda: stdout.print(f"disabled {escape(record.name)}"))


@token_app.command("issue")
def token_issue(member: MemberArg, as_json: JsonOpt = False) -> None:
    """Issue an additional API token for a member (shown only this once)."""
    with _hub() as hub:
        record, token = admin.issue_token(hub, member)
    _emit(
        as_json,
        {"member": record.id, "token": token},
        lambda: stdout.print(f"token for {escape(record.name)} (shown once): {token}"),
    )


@token_app.command("revoke")
def token_revoke(member: MemberArg, as_json: JsonOpt = False) -> None:
    """Revoke every token of a member; they stop working at once."""
    with _hub() as hub:
        record, count = admin.revoke_tokens(hub, member)
    _emit(
        as_json,
        {"member": record.id, "revoked": count},
        lambda: stdout.print(f"revoked {count} token(s) of {escape(record.name)}"),
    )


@feed_app.command("add")
def feed_add(
    alias: Annotated[str, typer.Argument(help="Short name usable in place of the id in URLs.")],
    title: Annotated[str, typer.Option(help="Human-readable title.")],
    description: Annotated[str | None, typer.Option(help="What the feed carries.")] = None,
    owner: Annotated[
        str | None, typer.Option(help="Owning member (id or name); granted read and write.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a feed: a TAXII collection with a fresh uuid4 id."""
    with _hub() as hub:
        feed = admin.add_feed(hub, alias, title, description, owner)
    _emit(
        as_json,
        _feed_json(feed),
        lambda: stdout.print(f"feed {escape(feed.alias)}: {feed.id}"),
    )


@feed_app.command("public")
def feed_public(
    feed: FeedArg,
    public: Annotated[
        bool, typer.Option("--on/--off", help="Allow or stop anonymous reading.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Consent (or withdraw consent) to anonymous reading of a feed.

    Anonymous reading needs the owner's signed public TLP:CLEAR policy too.
    """
    with _hub() as hub:
        record = admin.set_public(hub, feed, public)
    state = "may be read anonymously under a public TLP:CLEAR policy" if public else "is not public"
    _emit(
        as_json,
        _feed_json(record),
        lambda: stdout.print(f"{escape(record.alias)} {state}"),
    )


@feed_app.command("list")
def feed_list(as_json: JsonOpt = False) -> None:
    """List every feed with its grants."""
    with _hub() as hub:
        feeds = admin.list_feeds(hub)

    def grants_json(grants: list[tuple[str, bool, bool]]) -> list[dict[str, Any]]:
        return [{"member": m, "read": r, "write": w} for m, r, w in grants]

    def human() -> None:
        table = Table("id", "alias", "title", "grants")
        for feed, grants in feeds:
            shown = ", ".join(f"{m} ({'r' if r else ''}{'w' if w else ''})" for m, r, w in grants)
            table.add_row(feed.id, escape(feed.alias), escape(feed.title), shown or "-")
        stdout.print(table)

    payload = {"feeds": [{**_feed_json(f), "grants": grants_json(list(g))} for f, g in feeds]}
    _emit(as_json, payload, human)


def _grant_json(record: admin.GrantRecord) -> dict[str, Any]:
    return {
        "member": record.member.id,
        "feed": record.feed.id,
        "alias": record.feed.alias,
        "read": record.can_read,
        "write": record.can_write,
    }


@admin_app.command("grant")
def grant_command(
    member: MemberArg,
    feed: FeedArg,
    read: Annotated[bool, typer.Option("--read", help="May read objects.")] = False,
    write: Annotated[bool, typer.Option("--write", help="May add objects.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a member's rights on a feed to exactly the ones given."""
    if not (read or write):
        _fail("give --read, --write or both (use 'exchange admin revoke' to remove access)", 2)
    with _hub() as hub:
        record = admin.grant(hub, member, feed, read=read, write=write)
    rights = " and ".join(r for r, on in (("read", read), ("write", write)) if on)
    _emit(
        as_json,
        _grant_json(record),
        lambda: stdout.print(
            f"{escape(record.member.name)} may {rights} {escape(record.feed.alias)}"
        ),
    )


@admin_app.command("revoke")
def revoke_command(member: MemberArg, feed: FeedArg, as_json: JsonOpt = False) -> None:
    """Remove a member's access to a feed; the feed becomes invisible to it."""
    with _hub() as hub:
        record = admin.revoke(hub, member, feed)
    _emit(
        as_json,
        _grant_json(record),
        lambda: stdout.print(
            f"{escape(record.member.name)} no longer has access to {escape(record.feed.alias)}"
        ),
    )


def main() -> None:
    """Entry point of the ``exchange`` console script."""
    app()
