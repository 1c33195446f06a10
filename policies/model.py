"""The sharing policy: a strict, frozen model of DESIGN.md §3.

A policy names its feed, its owner, its version and the digest of the version
before it; the member ids that may read and write; the TLP 2.0 level (as the
OASIS marking-definition id, verbatim); the FIRST IEP 2.0 handling fields;
the purposes the data may serve; how long objects are kept; and the window in
which the policy is in force. Unknown fields are errors, not extensions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

__all__ = [
    "FORMAT",
    "TLP_MARKINGS",
    "Iep",
    "Policy",
    "Purpose",
    "TlpLevel",
    "tlp_level",
]

FORMAT = "exchange-policy/1"

_MEMBER = re.compile(
    r"identity--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
)
_FEED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


class TlpLevel(StrEnum):
    """The TLP 2.0 levels."""

    CLEAR = "TLP:CLEAR"
    GREEN = "TLP:GREEN"
    AMBER = "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    RED = "TLP:RED"


TLP_MARKINGS: dict[TlpLevel, str] = {
    TlpLevel.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TlpLevel.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TlpLevel.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TlpLevel.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TlpLevel.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
"""The OASIS TLP 2.0 marking-definition ids (STIX 2.1 TLP 2.0 extension), verbatim."""

_LEVELS = {marking: level for level, marking in TLP_MARKINGS.items()}


def tlp_level(marking_id: str) -> TlpLevel:
    """Return the TLP level of an OASIS TLP 2.0 marking-definition id.

    Raises KeyError for any other id.
    """
    return _LEVELS[marking_id]


class Purpose(StrEnum):
    """What shared data may be used for."""

    SITUATIONAL_AWARENESS = "situational-awareness"
    TREND_ANALYSIS = "trend-analysis"
    THREAT_INTELLIGENCE = "threat-intelligence"
    LAW_ENFORCEMENT = "law-enforcement"
    RESEARCH = "research"
    POLICY_MAKING = "policy-making"
    PUBLIC_REPORTING = "public-reporting"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Iep(_Strict):
    """The FIRST Information Exchange Policy 2.0 handling fields."""

    permitted_actions: Literal[
        "NONE",
        "CONTACT FOR INSTRUCTION",
        "INTERNALLY VISIBLE ACTIONS",
        "EXTERNALLY VISIBLE INDIRECT ACTIONS",
        "EXTERNALLY VISIBLE DIRECT ACTIONS",
    ]
    affected_party_notifications: Literal["MAY", "MUST NOT"]
    attribution: Literal["MAY", "MUST", "MUST NOT"]
    unmodified_resale: Literal["MAY", "MUST NOT"]
    encrypt_in_transit: Literal["MAY", "MUST"] = "MUST"


def _unique_members(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if _MEMBER.match(value) is None:
            raise ValueError(f"{value!r} is not a member id (identity--<uuid4>)")
    if len(set(values)) != len(values):
        raise ValueError("lists a member more than once")
    return values


def _unique(values: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
    if len(set(values)) != len(values):
        raise ValueError("lists a purpose more than once")
    return values


def _pattern(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if pattern.match(value) is None:
            raise ValueError(f"is not {what}")
        return value

    return AfterValidator(check)


def _tlp_marking(value: str) -> str:
    if value not in _LEVELS:
        raise ValueError("is not an OASIS TLP 2.0 marking-definition id")
    return value


def _utc_representable(value: datetime) -> datetime:
    # The normal form writes every timestamp in UTC; one that has no UTC form
    # (0001-01-01T00:00:00+01:00) would otherwise break it with OverflowError.
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("lies outside the years 1 to 9999 in UTC") from exc
    return value


MemberList = Annotated[tuple[str, ...], AfterValidator(_unique_members)]
Timestamp = Annotated[AwareDatetime, AfterValidator(_utc_representable)]


class Policy(_Strict):
    """One version of a feed's sharing policy, as its owner signs it."""

    format: Literal["exchange-policy/1"]
    feed: Annotated[str, _pattern(_FEED, "a feed id (uuid4)")]
    owner: Annotated[str, _pattern(_MEMBER, "a member id (identity--<uuid4>)")]
    version: int = Field(ge=1, le=2**53 - 1)
    previous: Annotated[str, _pattern(_DIGEST, "a digest (sha256:<64 hex>)")] | None
    readers: MemberList
    writers: MemberList
    tlp: Annotated[str, AfterValidator(_tlp_marking)]
    iep: Iep
    purposes: Annotated[tuple[Purpose, ...], Field(min_length=1), AfterValidator(_unique)]
    retention_days: int = Field(ge=1, le=36_500)
    valid_from: Timestamp
    valid_until: Timestamp | None = None
    public: bool = False

    # Invariants across fields are checked on the later field, so that an error names it.
    # Fields are validated in order; one that failed is absent from ``info.data``.

    @field_validator("previous")
    @classmethod
    def _previous_iff_first(cls, value: str | None, info: ValidationInfo) -> str | None:
        version = info.data.get("version")
        if version is not None and (version == 1) != (value is None):
            raise ValueError("must be null exactly for version 1")
        return value

    @field_validator("valid_until")
    @classmethod
    def _after_valid_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        valid_from = info.data.get("valid_from")
        if value is not None and valid_from is not None and value <= valid_from:
            raise ValueError("must be later than valid_from")
        return value

    @field_validator("public")
    @classmethod
    def _public_only_clear(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("tlp") != TLP_MARKINGS[TlpLevel.CLEAR]:
            raise ValueError("only a TLP:CLEAR policy may be public")
        return value

    @property
    def tlp_level(self) -> TlpLevel:
        """The policy's TLP level."""
        return _LEVELS[self.tlp]

    def in_force(self, now: datetime) -> bool:
        """Return True if ``now`` lies within the validity window."""
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)
