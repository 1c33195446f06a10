"""Policy templates that owners fill in and sign.

Each template fixes the handling (TLP 2.0 level, IEP 2.0 fields, purposes,
retention, public access); :func:`policy_from_template` adds the feed, the
owner, the version chain, the validity window and the readers and writers.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from policies.canonical import canonical_bytes
from policies.document import parse_policy
from policies.errors import PolicySyntaxError
from policies.model import FORMAT, Policy

__all__ = ["policy_from_template", "template_names"]

_FIELDS = {"title", "tlp", "iep", "purposes", "retention_days", "public"}


def template_names() -> list[str]:
    """Return the names of the shipped templates, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


def _load(name: str) -> dict[str, Any]:
    if name not in template_names():
        raise PolicySyntaxError("template", f"no template {name!r}; choose from {template_names()}")
    data: dict[str, Any] = json.loads(
        resources.files(__name__).joinpath(f"{name}.json").read_text()
    )
    assert set(data) == _FIELDS, f"template {name} has fields {sorted(data)}"
    return data


def policy_from_template(
    name: str,
    *,
    feed: str,
    owner: str,
    valid_from: datetime,
    version: int = 1,
    previous: str | None = None,
    readers: tuple[str, ...] | None = None,
    writers: tuple[str, ...] | None = None,
) -> Policy:
    """Return a policy built from template ``name``; readers and writers default to the owner.

    Raises `PolicySyntaxError` for an unknown template or arguments that make no valid
    policy (among them a naive ``valid_from``).
    """
    data = _load(name)
    document = {
        "format": FORMAT,
        "feed": feed,
        "owner": owner,
        "version": version,
        "previous": previous,
        "readers": list(readers if readers is not None else (owner,)),
        "writers": list(writers if writers is not None else (owner,)),
        "tlp": data["tlp"],
        "iep": data["iep"],
        "purposes": data["purposes"],
        "retention_days": data["retention_days"],
        # With its offset, so a naive time is refused and another zone is not read as UTC.
        "valid_from": valid_from.replace(microsecond=0).isoformat(),
        "valid_until": None,
        "public": data["public"],
    }
    return parse_policy(json.loads(canonical_bytes(document)))
