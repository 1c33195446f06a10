"""Good and bad policy vectors for every field of the model (DESIGN.md §3, STYLE 11-12).

Each bad vector changes exactly one field of a valid document and must raise
`PolicySyntaxError` whose ``location`` names that field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policies import (
    TLP_MARKINGS,
    Iep,
    Policy,
    PolicySyntaxError,
    Purpose,
    TlpLevel,
    parse_policy,
    policy_document,
    tlp_level,
)

OTHER = "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"
THIRD = "identity--c4d5e6f7-a8b9-4c0d-ae1f-2a3b4c5d6e7f"
DIGEST = "sha256:" + "0123456789abcdef" * 4
MISSING = object()

# The STIX 2.1 TLP 1.0 marking definitions: a different standard, refused.
TLP_1_0 = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

IEP_VALUES = {
    "permitted_actions": [
        "NONE",
        "CONTACT FOR INSTRUCTION",
        "INTERNALLY VISIBLE ACTIONS",
        "EXTERNALLY VISIBLE INDIRECT ACTIONS",
        "EXTERNALLY VISIBLE DIRECT ACTIONS",
    ],
    "affected_party_notifications": ["MAY", "MUST NOT"],
    "attribution": ["MAY", "MUST", "MUST NOT"],
    "unmodified_resale": ["MAY", "MUST NOT"],
    "encrypt_in_transit": ["MAY", "MUST"],
}


def _change(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return document


def _refused(document: dict[str, Any], location: str, reason: str = "") -> PolicySyntaxError:
    with pytest.raises(PolicySyntaxError, match=rf"^{location}: .*{reason}") as info:
        parse_policy(document)
    assert info.value.location == location
    return info.value


# -- good vectors ------------------------------------------------------------------------------

GOOD = [
    pytest.param({}, id="fixture"),
    pytest.param({"version": 2, "previous": DIGEST}, id="version-2"),
    pytest.param({"version": 2**53 - 1, "previous": DIGEST}, id="version-max"),
    pytest.param({"readers": []}, id="readers-empty"),
    pytest.param({"readers": [OTHER, THIRD]}, id="readers-without-owner"),
    pytest.param({"writers": []}, id="writers-empty"),
    pytest.param({"writers": [OTHER, THIRD]}, id="writers-two"),
    pytest.param({"purposes": [p.value for p in Purpose]}, id="purposes-all"),
    pytest.param({"retention_days": 1}, id="retention-min"),
    pytest.param({"retention_days": 36_500}, id="retention-max"),
    pytest.param({"valid_until": None}, id="valid-until-null"),
    pytest.param({"valid_until": "2025-01-01T00:00:01Z"}, id="valid-until-one-second-later"),
    pytest.param({"valid_from": "0001-01-01T00:00:00Z"}, id="valid-from-year-1"),
    pytest.param({"valid_until": "9999-12-31T23:59:59Z"}, id="valid-until-year-9999"),
    pytest.param({"tlp": TLP_MARKINGS[TlpLevel.CLEAR], "public": True}, id="public-clear"),
]


@pytest.mark.parametrize("changes", GOOD)
def test_good_vector_parses_and_round_trips(
    document: dict[str, Any], changes: dict[str, Any]
) -> None:
    document.update(changes)
    policy = parse_policy(document)
    assert policy_document(policy) == document


@pytest.mark.parametrize("level", list(TlpLevel))
def test_each_tlp_2_0_marking_is_accepted_verbatim(
    document: dict[str, Any], level: TlpLevel
) -> None:
    document["tlp"] = TLP_MARKINGS[level]
    policy = parse_policy(document)
    assert policy.tlp == TLP_MARKINGS[level]
    assert policy.tlp_level is level
    assert tlp_level(TLP_MARKINGS[level]) is level


def test_the_tlp_2_0_marking_ids_are_the_oasis_ones() -> None:
    # The OASIS STIX 2.1 TLP 2.0 extension, verbatim.
    assert {level.value: marking for level, marking in TLP_MARKINGS.items()} == {
        "TLP:CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }


@pytest.mark.parametrize("marking", [*TLP_1_0.values(), "TLP:GREEN", "garbage"])
def test_tlp_level_refuses_other_ids(marking: str) -> None:
    with pytest.raises(KeyError):
        tlp_level(marking)


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in IEP_VALUES.items() for v in values]
)
def test_each_iep_field_accepts_each_allowed_value(
    document: dict[str, Any], field: str, value: str
) -> None:
    document["iep"][field] = value
    assert getattr(parse_policy(document).iep, field) == value


def test_encrypt_in_transit_defaults_to_must(document: dict[str, Any]) -> None:
    del document["iep"]["encrypt_in_transit"]
    assert parse_policy(document).iep.encrypt_in_transit == "MUST"


@pytest.mark.parametrize("purpose", list(Purpose))
def test_each_purpose_is_accepted_alone(document: dict[str, Any], purpose: Purpose) -> None:
    document["purposes"] = [purpose.value]
    assert parse_policy(document).purposes == (purpose,)


def test_defaulted_fields_take_their_defaults(document: dict[str, Any]) -> None:
    del document["valid_until"]
    del document["public"]
    policy = parse_policy(document)
    assert policy.valid_until is None
    assert policy.public is False


def test_timestamps_with_an_offset_are_the_same_instant(document: dict[str, Any]) -> None:
    document["valid_from"] = "2025-01-01T02:00:00+02:00"
    policy = parse_policy(document)
    assert policy.valid_from == datetime(2025, 1, 1, tzinfo=UTC)
    assert policy_document(policy)["valid_from"] == "2025-01-01T00:00:00Z"


def test_the_model_is_frozen(document: dict[str, Any]) -> None:
    policy = parse_policy(document)
    with pytest.raises(ValueError, match="frozen"):
        policy.version = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        policy.iep.attribution = "MAY"  # type: ignore[misc]


def test_the_model_is_strict_in_python_too() -> None:
    # Constructing the model directly (not from JSON) is just as strict.
    with pytest.raises(ValueError, match="permitted_actions"):
        Iep.model_validate(
            {
                "permitted_actions": "none",
                "affected_party_notifications": "MAY",
                "attribution": "MAY",
                "unmodified_resale": "MAY",
            }
        )


def test_in_force_is_the_half_open_validity_window(document: dict[str, Any]) -> None:
    policy = parse_policy(document)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    assert not policy.in_force(start - timedelta(microseconds=1))
    assert policy.in_force(start)
    assert policy.in_force(end - timedelta(microseconds=1))
    assert not policy.in_force(end)
    document["valid_until"] = None
    assert parse_policy(document).in_force(datetime(9999, 1, 1, tzinfo=UTC))


# -- bad vectors: one field changed, the error names it ---------------------------------------

BAD: list[Any] = [
    # format
    ("format", "exchange-policy/2", "Input should be"),
    ("format", "", "Input should be"),
    ("format", 1, "Input should be"),
    ("format", None, "Input should be"),
    ("format", MISSING, "Field required"),
    # feed
    ("feed", "5F0C1A2B-3C4D-4E5F-9A0B-1C2D3E4F5A6B", "is not a feed id"),
    ("feed", "5f0c1a2b-3c4d-1e5f-9a0b-1c2d3e4f5a6b", "is not a feed id"),  # a uuid1
    ("feed", "5f0c1a2b-3c4d-4e5f-ca0b-1c2d3e4f5a6b", "is not a feed id"),  # wrong variant
    ("feed", "5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b\n", "is not a feed id"),
    ("feed", "collection--5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b", "is not a feed id"),
    ("feed", "", "is not a feed id"),
    ("feed", 7, "Input should be a valid string"),
    ("feed", MISSING, "Field required"),
    # owner
    ("owner", "0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b", "is not a member id"),
    ("owner", "identity--0B3A6F2E-9C1D-4E5F-8A7B-1C2D3E4F5A6B", "is not a member id"),
    ("owner", "identity--0b3a6f2e-9c1d-1e5f-8a7b-1c2d3e4f5a6b", "is not a member id"),
    ("owner", "identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b\n", "is not a member id"),
    ("owner", "user--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b", "is not a member id"),
    ("owner", ["identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"], "valid string"),
    ("owner", MISSING, "Field required"),
    # version
    ("version", 0, "greater than or equal to 1"),
    ("version", -1, "greater than or equal to 1"),
    ("version", 2**53, "RFC 8785"),  # beyond I-JSON: no canonical form
    ("version", "1", "valid integer"),
    ("version", True, "valid integer"),
    ("version", 1.5, "valid integer"),
    ("version", None, "valid integer"),
    ("version", MISSING, "Field required"),
    # previous (version 1 of the fixture: must be null)
    ("previous", DIGEST, "must be null exactly for version 1"),
    ("previous", MISSING, "Field required"),
    ("previous", 1, "valid string"),
    # tlp
    *[("tlp", marking, "OASIS TLP 2.0") for marking in TLP_1_0.values()],
    ("tlp", "TLP:AMBER", "OASIS TLP 2.0"),
    ("tlp", "marking-definition--55D920B0-5E8B-4F79-9EE9-91F868D9B421", "OASIS TLP 2.0"),
    ("tlp", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421 ", "OASIS TLP 2.0"),
    ("tlp", "garbage", "OASIS TLP 2.0"),
    ("tlp", "", "OASIS TLP 2.0"),
    ("tlp", 2, "valid string"),
    ("tlp", MISSING, "Field required"),
    # iep
    ("iep", "TLP:AMBER", "an object"),
    ("iep", None, "an object"),
    ("iep", MISSING, "Field required"),
    # purposes
    ("purposes", [], "at least 1 item"),
    ("purposes", ["research", "research"], "more than once"),
    ("purposes", ["research", "trend-analysis", "research"], "more than once"),
    ("purposes", "research", "valid array"),
    ("purposes", None, "valid array"),
    ("purposes", MISSING, "Field required"),
    # retention_days
    ("retention_days", 0, "greater than or equal to 1"),
    ("retention_days", -30, "greater than or equal to 1"),
    ("retention_days", 36_501, "less than or equal to 36500"),
    ("retention_days", "365", "valid integer"),
    ("retention_days", True, "valid integer"),
    ("retention_days", 30.5, "valid integer"),
    ("retention_days", None, "valid integer"),
    ("retention_days", MISSING, "Field required"),
    # valid_from
    ("valid_from", "2025-01-01T00:00:00", "timezone"),  # naive
    ("valid_from", "2025-01-01 00:00:00", "timezone"),  # naive
    ("valid_from", "2025-01-01", "valid datetime"),
    ("valid_from", "yesterday", "valid datetime"),
    ("valid_from", 1_735_689_600, "valid datetime"),
    ("valid_from", None, "valid datetime"),
    ("valid_from", "0001-01-01T00:00:00+01:00", "outside the years 1 to 9999"),
    ("valid_from", MISSING, "Field required"),
    # valid_until
    ("valid_until", "2026-01-01T00:00:00", "timezone"),  # naive
    ("valid_until", "2025-01-01T00:00:00Z", "later than valid_from"),  # equal
    ("valid_until", "2025-01-01T01:00:00+01:00", "later than valid_from"),  # equal instant
    ("valid_until", "2024-12-31T23:59:59Z", "later than valid_from"),  # before
    ("valid_until", "9999-12-31T23:59:59-01:00", "outside the years 1 to 9999"),
    ("valid_until", 1_767_225_600, "valid datetime"),
    # public (the fixture is TLP:AMBER)
    ("public", True, "only a TLP:CLEAR policy may be public"),
    ("public", "true", "valid boolean"),
    ("public", 1, "valid boolean"),
    ("public", 0, "valid boolean"),
    ("public", None, "valid boolean"),
]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [pytest.param(f, v, r, id=f"{f}={v!r:.40}") for f, v, r in BAD],
)
def test_bad_vector_names_the_field(
    document: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    _refused(_change(document, field, value), field, reason)


@pytest.mark.parametrize("previous", [None, MISSING])
def test_a_later_version_must_name_its_previous(document: dict[str, Any], previous: object) -> None:
    document["version"] = 2
    _change(document, "previous", previous)
    reason = "must be null exactly for version 1" if previous is None else "Field required"
    _refused(document, "previous", reason)


@pytest.mark.parametrize(
    "previous",
    [
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:" + "A" * 64,
        "sha512:" + "0" * 64,
        "0" * 64,
        "sha256:" + "0" * 64 + "\n",
        "",
    ],
)
def test_previous_must_be_a_sha256_digest(document: dict[str, Any], previous: str) -> None:
    document.update(version=2, previous=previous)
    _refused(document, "previous", "is not a digest")


@pytest.mark.parametrize("level", [TlpLevel.GREEN, TlpLevel.AMBER_STRICT, TlpLevel.RED])
def test_only_clear_may_be_public(document: dict[str, Any], level: TlpLevel) -> None:
    document.update(tlp=TLP_MARKINGS[level], public=True)
    _refused(document, "public", "only a TLP:CLEAR policy may be public")


@pytest.mark.parametrize("field", ["readers", "writers"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["identity--bad"], "is not a member id"),
        ([OTHER, "OTHER"], "is not a member id"),
        ([OTHER + "\n"], "is not a member id"),
        ([OTHER.upper()], "is not a member id"),
        ([OTHER, OTHER], "more than once"),
        ([OTHER, THIRD, OTHER], "more than once"),
        (OTHER, "valid array"),
        ([1], "valid string"),
        (None, "valid array"),
        (MISSING, "Field required"),
    ],
)
def test_member_lists(document: dict[str, Any], field: str, value: object, reason: str) -> None:
    location = field + ".0" if value == [1] else field
    _refused(_change(document, field, value), location, reason)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("permitted_actions", "EXTERNALLY VISIBLE ACTIONS"),
        ("permitted_actions", "none"),
        ("affected_party_notifications", "MUST"),
        ("attribution", "SHOULD"),
        ("unmodified_resale", "MUST"),
        ("encrypt_in_transit", "MUST NOT"),
        ("attribution", "may"),
        ("attribution", True),
    ],
)
def test_iep_unknown_values_are_refused(
    document: dict[str, Any], field: str, value: object
) -> None:
    document["iep"][field] = value
    _refused(document, f"iep.{field}", "Input should be")


@pytest.mark.parametrize(
    "field",
    ["permitted_actions", "affected_party_notifications", "attribution", "unmodified_resale"],
)
def test_iep_required_fields(document: dict[str, Any], field: str) -> None:
    del document["iep"][field]
    _refused(document, f"iep.{field}", "Field required")


@pytest.mark.parametrize("extra", ["tlp", "external_reference", "Attribution", "sharing"])
def test_iep_extra_fields_are_refused(document: dict[str, Any], extra: str) -> None:
    document["iep"][extra] = "MAY"
    _refused(document, f"iep.{extra}", "Extra inputs are not permitted")


def test_purposes_unknown_value_names_its_index(document: dict[str, Any]) -> None:
    document["purposes"] = ["research", "marketing"]
    _refused(document, "purposes.1", "Input should be")


@pytest.mark.parametrize("extra", ["comment", "Feed", "signatures", "resharing", "__proto__"])
def test_unknown_top_level_fields_are_refused(document: dict[str, Any], extra: str) -> None:
    document[extra] = None
    _refused(document, extra, "Extra inputs are not permitted")


@pytest.mark.parametrize("value", [[], "policy", 1, None, [("format", "exchange-policy/1")]])
def test_a_policy_is_a_json_object(value: object) -> None:
    with pytest.raises(PolicySyntaxError, match=r"^policy: must be a JSON object$"):
        parse_policy(value)


def test_deep_nesting_in_a_field_is_refused(document: dict[str, Any]) -> None:
    # The JSON parser of pydantic stops long before Python's recursion limit.
    nested: Any = []
    for _ in range(300):
        nested = [nested]
    document["iep"] = nested
    _refused(document, "policy", "recursion limit")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 2**64),
        ("retention_days", -(2**60)),
        ("retention_days", float("inf")),
        ("retention_days", float("nan")),
        ("feed", "\ud800"),  # a lone surrogate
        ("readers", {OTHER}),  # a set is no JSON type
        ("valid_from", datetime(2025, 1, 1, tzinfo=UTC)),  # neither is a datetime
    ],
)
def test_values_without_a_canonical_form_name_their_field(
    document: dict[str, Any], field: str, value: object
) -> None:
    document[field] = value
    _refused(document, field, "RFC 8785")


def test_non_string_keys_have_no_canonical_form(document: dict[str, Any]) -> None:
    document[1] = "one"  # type: ignore[index]
    _refused(document, "1", "RFC 8785")


def test_an_integral_float_is_the_same_json_number(document: dict[str, Any]) -> None:
    # RFC 8785 numbers are IEEE doubles: 365.0 and 365 have one encoding and one digest.
    document["retention_days"] = 365.0
    assert parse_policy(document).retention_days == 365


def test_errors_report_the_first_offending_field(document: dict[str, Any]) -> None:
    document.update(format="x", retention_days=0)
    _refused(document, "format")


def test_invariant_checks_skip_fields_that_already_failed(document: dict[str, Any]) -> None:
    # A broken version, valid_from or tlp is reported as itself, not as a broken invariant.
    document.update(version=0, previous=DIGEST)
    _refused(document, "version", "greater than or equal to 1")
    document.update(version=1, previous=None, valid_from="x", valid_until="2020-01-01T00:00:00Z")
    _refused(document, "valid_from", "valid datetime")
    document.update(valid_from="2025-01-01T00:00:00Z", valid_until=None, tlp="x", public=True)
    error = _refused(document, "tlp", "OASIS TLP 2.0")
    assert error.reason.endswith("is not an OASIS TLP 2.0 marking-definition id")


def test_policy_fields_are_typed(document: dict[str, Any]) -> None:
    policy = parse_policy(document)
    assert isinstance(policy, Policy)
    assert policy.readers == tuple(document["readers"])
    assert policy.purposes == (Purpose.SITUATIONAL_AWARENESS, Purpose.TREND_ANALYSIS)
    assert policy.valid_from.utcoffset() == timedelta(0)
