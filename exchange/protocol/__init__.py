"""The hub's published contract: TAXII wire models, media types and timestamps.

Also the RFC 9162 Merkle hashing and proof verifiers members use to audit the hub's log.
Pure (standard library and pydantic only), so that member-side code may import it.
"""

from exchange.protocol.errors import MalformedPayload, ProofError, ProtocolError
from exchange.protocol.media import STIX_21, TAXII_21, accepts, is_taxii_content_type
from exchange.protocol.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
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
    "EMPTY_ROOT",
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
    "leaf_hash",
    "node_hash",
    "parse_timestamp_micros",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
    "version_key",
]
