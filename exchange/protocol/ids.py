"""Identifier types shared by the hub and its clients."""

from __future__ import annotations

import re
from typing import NewType

__all__ = ["CollectionId", "MemberId", "StatusId", "StixId", "is_stix_id"]

MemberId = NewType("MemberId", str)
"""A member's id, ``identity--<uuid4>``; also its STIX identity id."""
CollectionId = NewType("CollectionId", str)
"""A TAXII collection (feed) id, a uuid4."""
StixId = NewType("StixId", str)
"""A STIX object id, ``<type>--<uuid>``."""
StatusId = NewType("StatusId", str)
"""A TAXII status resource id, a uuid4."""

_STIX_ID = re.compile(
    r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)


def is_stix_id(value: str) -> bool:
    """Return True if ``value`` has the form of a STIX identifier (STIX 2.1 §2.9)."""
    return _STIX_ID.match(value) is not None
