"""TAXII 2.1 media types and content negotiation (TAXII 2.1 §1.6.8, §3.1, App. B).

The server answers every request with :data:`TAXII_21`. A request is acceptable
when its ``Accept`` header names, with a non-zero ``q``, the TAXII media type
with or without ``version=2.1`` (or its deprecated ``application/vnd.oasis``
alias), or a wildcard that covers it. Parameters may be separated by spaces and
appear in any order; the ``q`` weight and ``charset`` are honoured and ignored
respectively.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "STIX_21",
    "TAXII_21",
    "MediaRange",
    "accepts",
    "is_taxii_content_type",
    "parse_media_ranges",
]

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"

_TAXII_TYPES = frozenset({"application/taxii+json", "application/vnd.oasis.taxii+json"})
_STIX_TYPES = frozenset({"application/stix+json", "application/vnd.oasis.stix+json"})


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of an ``Accept`` or ``Content-Type`` header."""

    type: str
    params: tuple[tuple[str, str], ...]
    q: float

    def param(self, name: str) -> str | None:
        """Return the value of parameter ``name`` (lower-cased), or None if absent."""
        for key, value in self.params:
            if key == name:
                return value
        return None


def _parse_one(element: str) -> MediaRange | None:
    parts = element.split(";")
    media_type = parts[0].strip().lower()
    if "/" not in media_type:
        return None
    params: list[tuple[str, str]] = []
    q = 1.0
    for raw in parts[1:]:
        key, sep, value = raw.partition("=")
        key = key.strip().lower()
        value = value.strip().strip('"').lower()
        if not key or not sep:
            continue
        if key == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
            if not 0.0 <= q <= 1.0:
                q = 0.0
            continue
        params.append((key, value))
    return MediaRange(media_type, tuple(params), q)


def parse_media_ranges(header: str) -> list[MediaRange]:
    """Parse an ``Accept`` header into media ranges; elements that do not parse are skipped."""
    ranges = []
    for element in header.split(","):
        parsed = _parse_one(element)
        if parsed is not None:
            ranges.append(parsed)
    return ranges


def _version_ok(media: MediaRange) -> bool:
    version = media.param("version")
    return version is None or version == "2.1"


def accepts(header: str | None, *, allow_stix: bool = False) -> bool:
    """Return True if an ``Accept`` header admits a TAXII 2.1 response.

    ``allow_stix`` also admits the STIX 2.1 media type, which the manifest
    endpoint lists beside the TAXII one (§5.3).
    """
    if not header:
        return False
    for media in parse_media_ranges(header):
        if media.q <= 0.0:
            continue
        if media.type in ("*/*", "application/*"):
            return True
        if media.type in _TAXII_TYPES and _version_ok(media):
            return True
        if allow_stix and media.type in _STIX_TYPES and _version_ok(media):
            return True
    return False


def is_taxii_content_type(header: str | None) -> bool:
    """Return True if a request ``Content-Type`` is the TAXII 2.1 media type (or its alias)."""
    if not header:
        return False
    parsed = _parse_one(header)
    return parsed is not None and parsed.type in _TAXII_TYPES and _version_ok(parsed)
