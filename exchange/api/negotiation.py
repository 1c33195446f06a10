"""Content negotiation dependencies (TAXII 2.1 §1.6.8, §3.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from exchange.errors import NotAcceptable, UnsupportedMediaType
from exchange.protocol.media import STIX_21, TAXII_21, accepts, is_taxii_content_type

__all__ = ["AcceptsManifest", "AcceptsTaxii", "TaxiiBody"]


async def _accept_taxii(
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    if not accepts(accept):
        raise NotAcceptable(TAXII_21)


async def _accept_manifest(
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    if not accepts(accept, allow_stix=True):
        raise NotAcceptable(f"{TAXII_21} (or {STIX_21})")


async def _taxii_body(
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    if not is_taxii_content_type(content_type):
        raise UnsupportedMediaType(content_type)


AcceptsTaxii = Annotated[None, Depends(_accept_taxii)]
"""The request's ``Accept`` admits a TAXII 2.1 response; else 406."""
AcceptsManifest = Annotated[None, Depends(_accept_manifest)]
"""As `AcceptsTaxii`, also admitting the STIX media type the manifest lists (§5.3)."""
TaxiiBody = Annotated[None, Depends(_taxii_body)]
"""The request body's ``Content-Type`` is TAXII 2.1; else 415."""
