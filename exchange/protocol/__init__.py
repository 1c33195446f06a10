"""The hub's published contract: TAXII wire models, media types and timestamps.

Pure (standard library and pydantic only), so that member-side code may import it.
"""

from exchange.protocol.errors import MalformedPayload, ProofError, ProtocolError
from exchange.protocol.media import STIX_21, TAXII_21, accepts, is_taxii_content_type
from exchange.protocol.taxii import (
    ApiRoot,
    Collection,
    Collections,
    Discovery,
    Envelope,
    Manifest,
    ManifestRecord,
    Status,
    StatusDetails,
    TaxiiError,
    Versions,
)
from exchange.protocol.timestamps import format_timestamp, parse_timestamp_micros, version_key

__all__ = [
    "STIX_21",
    "TAXII_21",
    "ApiRoot",
    "Collection",
    "Collections",
    "Discovery",
    "Envelope",
    "MalformedPayload",
    "Manifest",
    "ManifestRecord",
    "ProofError",
    "ProtocolError",
    "Status",
    "StatusDetails",
    "TaxiiError",
    "Versions",
    "accepts",
    "format_timestamp",
    "is_taxii_content_type",
    "parse_timestamp_micros",
    "version_key",
]
