"""``feeds collections``: the feeds (TAXII collections) the member can see."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from feeds.cli._output import EXIT_USAGE, emit_json, fail, stdout
from feeds.cli.options import HubUrlOpt, JsonOpt, TokenOpt
from feeds.client import ApiRootCollections, list_collections
from feeds.errors import HubError, SettingsError
from feeds.settings import load_settings

__all__ = ["collections"]


def _as_json(hub: str, listings: list[ApiRootCollections]) -> dict[str, Any]:
    return {
        "hub": hub,
        "collections": [
            {
                "api_root": listing.api_root,
                "id": c.id,
                "alias": c.alias,
                "title": c.title,
                "can_read": c.can_read,
                "can_write": c.can_write,
            }
            for listing in listings
            for c in listing.collections
        ],
    }


def _render(listings: list[ApiRootCollections]) -> None:
    for listing in listings:
        if not listing.collections:
            stdout.print(f"{escape(listing.api_root)}: no feeds visible to you")
            continue
        table = Table(title=escape(listing.api_root), title_justify="left")
        for column in ("id", "alias", "title", "read", "write"):
            table.add_column(column, overflow="fold")
        for c in listing.collections:
            table.add_row(
                c.id,
                escape(c.alias or "-"),
                escape(c.title),
                "yes" if c.can_read else "no",
                "yes" if c.can_write else "no",
            )
        stdout.print(table)


def collections(hub: HubUrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List the feeds the hub lets you see, with your read and write rights on each."""
    try:
        settings = load_settings(hub=hub, token=token)
        hub_url = settings.require_hub()
        listings = list_collections(hub_url, settings.require_token())
    except SettingsError as exc:
        fail(exc.message, EXIT_USAGE)
    except HubError as exc:
        fail(exc.message)
    if as_json:
        emit_json(_as_json(hub_url, listings))
    else:
        _render(listings)
