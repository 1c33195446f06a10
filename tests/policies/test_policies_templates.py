"""The shipped policy templates (policies/templates/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import pytest

from feeds.crypto.keys import MemberSecrets, sign_document
from policies import (
    POLICY_LABEL,
    PolicySyntaxError,
    TlpLevel,
    parse_signed_policy,
    policy_document,
    policy_from_template,
    template_names,
    verify_policy,
    verify_successor,
)

OWNER = "identity--0b3a6f2e-9c1d-4e5f-8a7b-1c2d3e4f5a6b"
READER = "identity--7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"
FEED = "5f0c1a2b-3c4d-4e5f-9a0b-1c2d3e4f5a6b"
START = datetime(2025, 1, 1, tzinfo=UTC)

LEVELS = {
    "public": TlpLevel.CLEAR,
    "community": TlpLevel.GREEN,
    "authorities-and-industry": TlpLevel.AMBER,
    "authorities-only": TlpLevel.AMBER_STRICT,
}


def test_the_shipped_templates() -> None:
    assert template_names() == sorted(LEVELS)


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_each_template_builds_a_valid_policy_with_its_tlp_level(name: str) -> None:
    policy = policy_from_template(name, feed=FEED, owner=OWNER, valid_from=START)
    assert policy.tlp_level is LEVELS[name]
    assert policy.public is (LEVELS[name] is TlpLevel.CLEAR)
    assert (policy.feed, policy.owner, policy.version, policy.previous) == (FEED, OWNER, 1, None)
    assert policy.valid_from == START
    assert policy.valid_until is None


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_each_template_file_is_complete_and_titled_with_its_level(name: str) -> None:
    text = resources.files("policies.templates").joinpath(f"{name}.json").read_text()
    data = json.loads(text)
    assert set(data) == {"title", "tlp", "iep", "purposes", "retention_days", "public"}
    assert f"({LEVELS[name].value})" in data["title"]
    assert set(data["iep"]) == {
        "permitted_actions",
        "affected_party_notifications",
        "attribution",
        "unmodified_resale",
        "encrypt_in_transit",
    }


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_readers_and_writers_default_to_the_owner(name: str) -> None:
    policy = policy_from_template(name, feed=FEED, owner=OWNER, valid_from=START)
    assert policy.readers == (OWNER,)
    assert policy.writers == (OWNER,)


def test_readers_and_writers_may_be_given() -> None:
    policy = policy_from_template(
        "community", feed=FEED, owner=OWNER, valid_from=START, readers=(OWNER, READER), writers=()
    )
    assert policy.readers == (OWNER, READER)
    assert policy.writers == ()


@pytest.mark.parametrize("name", ["", "Public", "public.json", "../model", "secret", "__init__"])
def test_an_unknown_template_is_refused(name: str) -> None:
    with pytest.raises(
        PolicySyntaxError, match=r"^template: no template .* choose from \["
    ) as info:
        policy_from_template(name, feed=FEED, owner=OWNER, valid_from=START)
    assert info.value.location == "template"


def test_bad_arguments_are_refused_naming_the_field() -> None:
    with pytest.raises(PolicySyntaxError, match=r"^feed: .*is not a feed id"):
        policy_from_template("community", feed="nope", owner=OWNER, valid_from=START)
    with pytest.raises(PolicySyntaxError, match=r"^readers: .*more than once"):
        policy_from_template(
            "community", feed=FEED, owner=OWNER, valid_from=START, readers=(READER, READER)
        )
    with pytest.raises(PolicySyntaxError, match=r"^previous: .*must be null exactly for version 1"):
        policy_from_template("community", feed=FEED, owner=OWNER, valid_from=START, version=2)


def test_a_later_version_from_a_template() -> None:
    previous = "sha256:" + "ab" * 32
    policy = policy_from_template(
        "community", feed=FEED, owner=OWNER, valid_from=START, version=2, previous=previous
    )
    assert (policy.version, policy.previous) == (2, previous)


def test_a_naive_valid_from_is_refused() -> None:
    with pytest.raises(PolicySyntaxError, match=r"^valid_from: .*timezone"):
        policy_from_template("community", feed=FEED, owner=OWNER, valid_from=datetime(2025, 1, 1))


def test_valid_from_in_another_zone_is_the_same_instant() -> None:
    # 09:00 in UTC+02:00 is 07:00Z, not 09:00Z.
    local = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    policy = policy_from_template("community", feed=FEED, owner=OWNER, valid_from=local)
    assert policy.valid_from == local
    assert policy_document(policy)["valid_from"] == "2025-03-01T07:00:00Z"


def test_valid_from_is_whole_seconds() -> None:
    policy = policy_from_template(
        "community", feed=FEED, owner=OWNER, valid_from=START.replace(microsecond=999_999)
    )
    assert policy.valid_from == START


def test_a_template_policy_signs_verifies_and_starts_a_chain() -> None:
    secrets = MemberSecrets.generate()
    policy = policy_from_template("authorities-only", feed=FEED, owner=OWNER, valid_from=START)
    document = policy_document(policy)
    signed = parse_signed_policy(
        {"policy": document, "signatures": sign_document(secrets, POLICY_LABEL, document)}
    )
    verify_policy(signed, secrets.signing_keys())
    verify_successor(None, signed)
    assert signed.policy == policy
