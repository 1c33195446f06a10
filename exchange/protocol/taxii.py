"""TAXII 2.1 resources as frozen wire models (TAXII 2.1 §3.6–§5).

These models document the contract (they feed the OpenAPI document) and
parse what a client receives. The hub renders its hot paths (envelopes and
manifests) straight from stored bytes, in exactly these shapes.
Optional properties are omitted when absent or empty, as TAXII requires of
lists (§2: a list is never empty).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiRoot",
    "Collection",
    "Collections",
    "Discovery",
    "Envelope",
    "Manifest",
    "ManifestRecord",
    "Status",
    "StatusDetails",
    "TaxiiError",
    "Versions",
]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    def to_json_dict(self) -> dict[str, Any]:
        """Return the resource as a JSON-ready dict, without absent optional properties."""
        return self.model_dump(exclude_none=True)


class TaxiiError(_Wire):
    """The TAXII ``error`` resource (§3.6.1)."""

    title: str
    description: str | None = None
    error_id: str | None = None
    error_code: str | None = None
    http_status: str | None = None
    external_details: str | None = None
    details: dict[str, Any] | None = None


class Discovery(_Wire):
    """The ``discovery`` resource (§4.1.1)."""

    title: str
    description: str | None = None
    contact: str | None = None
    default: str | None = None
    api_roots: list[str] | None = None


class ApiRoot(_Wire):
    """The ``api-root`` resource (§4.2.1)."""

    title: str
    description: str | None = None
    versions: list[str]
    max_content_length: int = Field(gt=0)


class StatusDetails(_Wire):
    """One ``status-details`` entry (§4.3.1)."""

    id: str
    version: str
    message: str | None = None


class Status(_Wire):
    """The ``status`` resource (§4.3.1)."""

    id: str
    status: Literal["complete", "pending"]
    request_timestamp: str | None = None
    total_count: int = Field(ge=0)
    success_count: int = Field(ge=0)
    successes: list[StatusDetails] | None = None
    failure_count: int = Field(ge=0)
    failures: list[StatusDetails] | None = None
    pending_count: int = Field(ge=0)
    pendings: list[StatusDetails] | None = None


class Collection(_Wire):
    """The ``collection`` resource (§5.2.1)."""

    id: str
    title: str
    description: str | None = None
    alias: str | None = None
    can_read: bool
    can_write: bool
    media_types: list[str] | None = None


class Collections(_Wire):
    """The ``collections`` resource (§5.1.1); ``collections`` is omitted when empty."""

    collections: list[Collection] | None = None


class ManifestRecord(_Wire):
    """One ``manifest-record`` (§5.3.1)."""

    id: str
    date_added: str
    version: str
    media_type: str | None = None


class Manifest(_Wire):
    """The ``manifest`` resource (§5.3.1)."""

    more: bool | None = None
    next: str | None = None
    objects: list[ManifestRecord] | None = None


class Envelope(_Wire):
    """The ``envelope`` resource (§3.7): a page of STIX objects."""

    more: bool | None = None
    next: str | None = None
    objects: list[dict[str, Any]] | None = None


class Versions(_Wire):
    """The ``versions`` resource (§5.8.1); ``versions`` is omitted when empty."""

    more: bool | None = None
    next: str | None = None
    versions: list[str] | None = None
