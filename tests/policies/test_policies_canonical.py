"""RFC 8785 canonical bytes and digests (policies/canonical.py), and every module's doctests."""

from __future__ import annotations

import doctest
import hashlib
import importlib
import json
import pkgutil
import struct
from types import ModuleType
from typing import Any

import pytest

import policies
from policies import canonical_bytes, digest, parse_policy, policy_document

MODULES = sorted(
    ["policies", *(m.name for m in pkgutil.walk_packages(policies.__path__, "policies."))]
)


def _double(bits: int) -> float:
    value: float = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    return value


# -- RFC 8785 examples -------------------------------------------------------------------------


def test_rfc8785_section_3_2_2_sample() -> None:
    # RFC 8785 §3.2.2: whitespace removed, keys sorted, numbers and strings normalized.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(json.loads(text)) == expected


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 (a surrogate pair,
    # 0xD83D...) sorts before U+FB33 although its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_bytes(value) == expected.encode()


@pytest.mark.parametrize(
    ("bits", "text"),
    [
        # RFC 8785 Appendix B: IEEE 754 doubles and their ECMAScript serialization.
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),  # -0
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7FEFFFFFFFFFFFFF, "1.7976931348623157e+308"),
        (0xFFEFFFFFFFFFFFFF, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xC340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44B52D02C7E14AF5, "9.999999999999997e+22"),
        (0x44B52D02C7E14AF6, "1e+23"),
        (0x44B52D02C7E14AF7, "1.0000000000000001e+23"),
        (0x444B1AE4D6E2EF4E, "999999999999999700000"),
        (0x444B1AE4D6E2EF4F, "999999999999999900000"),
        (0x444B1AE4D6E2EF50, "1e+21"),
        (0x3EB0C6F7A0B5ED8C, "9.999999999999997e-7"),
        (0x3EB0C6F7A0B5ED8D, "0.000001"),
        (0x41B3DE4355555553, "333333333.3333332"),
        (0x41B3DE4355555554, "333333333.33333325"),
        (0x41B3DE4355555555, "333333333.3333333"),
        (0x41B3DE4355555556, "333333333.3333334"),
        (0x41B3DE4355555557, "333333333.33333343"),
        (0xBECBF647612F3696, "-0.0000033333333333333333"),
        (0x43143FF3C1CB0959, "1424953923781206.2"),
    ],
)
def test_rfc8785_appendix_b_numbers(bits: int, text: str) -> None:
    assert canonical_bytes(_double(bits)) == text.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e30, "1e+30"),
        (-0.0, "0"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (365.0, "365"),
        (2**53 - 1, "9007199254740991"),
        (-(2**53 - 1), "-9007199254740991"),
        (True, "true"),
        (None, "null"),
        ("\u2028\u2029", '"\u2028\u2029"'),
        ("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),
        ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
        ("/<>&", '"/<>&"'),
        ("é", '"é"'),
        ((1, "a"), '[1,"a"]'),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_canonical_values(value: Any, text: str) -> None:
    assert canonical_bytes(value) == text.encode()


@pytest.mark.parametrize(
    "value",
    [2**53, -(2**53), float("nan"), float("inf"), -float("inf"), "\ud800", {1: "x"}, {1, 2}, b"x"],
)
def test_values_without_a_canonical_form_raise_value_error(value: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - rfc8785 subclasses ValueError per case
        canonical_bytes(value)
    with pytest.raises(ValueError):  # noqa: PT011
        digest(value)


def test_nested_keys_are_sorted_and_arrays_keep_their_order() -> None:
    value = {"b": [3, 1, 2], "a": {"z": 1, "y": {"x": None, "w": False}}}
    assert canonical_bytes(value) == b'{"a":{"y":{"w":false,"x":null},"z":1},"b":[3,1,2]}'


# -- digests -----------------------------------------------------------------------------------


def test_digest_is_sha256_over_the_canonical_bytes() -> None:
    value = {"b": 1, "a": "€"}
    expected = hashlib.sha256('{"a":"€","b":1}'.encode()).hexdigest()
    assert digest(value) == "sha256:" + expected


def test_digest_does_not_depend_on_key_order_or_spelling() -> None:
    assert digest(json.loads('{"a": 1.0, "b": [1e2]}')) == digest({"b": [100], "a": 1})


def test_policy_digest_known_answer(document: dict[str, Any]) -> None:
    # The fixture policy, in normal form, byte for byte.
    canonical = (
        b'{"feed":"5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b","format":"exchange-policy/1",'
        b'"iep":{"affected_party_notifications":"MUST NOT","attribution":"MUST NOT",'
        b'"encrypt_in_transit":"MUST","permitted_actions":"INTERNALLY VISIBLE ACTIONS",'
        b'"unmodified_resale":"MUST NOT"},'
        b'"owner":"identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b","previous":null,'
        b'"public":false,"purposes":["situational-awareness","trend-analysis"],'
        b'"readers":["identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b",'
        b'"identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"],"retention_days":365,'
        b'"tlp":"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",'
        b'"valid_from":"2025-01-01T00:00:00Z","valid_until":"2026-01-01T00:00:00Z",'
        b'"version":1,"writers":["identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"]}'
    )
    normal = policy_document(parse_policy(document))
    assert canonical_bytes(normal) == canonical
    assert digest(normal) == "sha256:" + hashlib.sha256(canonical).hexdigest()


# -- doctests ----------------------------------------------------------------------------------


def test_every_module_is_found() -> None:
    assert MODULES == [
        "policies",
        "policies.canonical",
        "policies.document",
        "policies.errors",
        "policies.evaluate",
        "policies.model",
        "policies.signature",
        "policies.templates",
    ]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0


@pytest.mark.parametrize("name", ["policies.canonical", "policies.document", "policies.signature"])
def test_modules_with_examples_have_doctests(name: str) -> None:
    module = importlib.import_module(name)
    assert doctest.testmod(module).attempted > 0
