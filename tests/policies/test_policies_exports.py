"""The public surface of `policies` and its error tree."""

from __future__ import annotations

import importlib

import pytest

import policies
from policies import PolicyChainError, PolicyError, PolicySignatureError, PolicySyntaxError

HOMES = {
    "ALGORITHMS": "signature",
    "FORMAT": "model",
    "POLICY_LABEL": "document",
    "TLP_MARKINGS": "model",
    "Action": "evaluate",
    "Decision": "evaluate",
    "Iep": "model",
    "Policy": "model",
    "PolicyChainError": "errors",
    "PolicyError": "errors",
    "PolicySignatureError": "errors",
    "PolicySyntaxError": "errors",
    "Purpose": "model",
    "Request": "evaluate",
    "Signature": "signature",
    "SignedPolicy": "document",
    "SigningKeys": "signature",
    "TlpLevel": "model",
    "canonical_bytes": "canonical",
    "digest": "canonical",
    "evaluate": "evaluate",
    "key_id": "signature",
    "load_json": "document",
    "parse_policy": "document",
    "parse_signed_policy": "document",
    "policy_document": "document",
    "policy_from_template": "templates",
    "signed_message": "signature",
    "template_names": "templates",
    "tlp_level": "model",
    "verify_policy": "document",
    "verify_signatures": "signature",
    "verify_successor": "document",
}


def test_all_is_exactly_the_public_api() -> None:
    assert sorted(policies.__all__) == sorted(HOMES)
    assert len(set(policies.__all__)) == len(policies.__all__)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_export_is_the_object_of_its_module(name: str) -> None:
    module = importlib.import_module(f"policies.{HOMES[name]}")
    assert name in module.__all__
    assert getattr(policies, name) is getattr(module, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from policies import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(policies.__all__)


def test_constants() -> None:
    assert policies.FORMAT == "exchange-policy/1"
    assert policies.POLICY_LABEL == "trend-exchange/policy/1"
    assert policies.ALGORITHMS == ("ed25519", "ml-dsa-65")


def test_each_public_callable_and_class_is_documented() -> None:
    for name in policies.__all__:
        value = getattr(policies, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), name


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [PolicySyntaxError, PolicySignatureError, PolicyChainError])
def test_one_error_tree(error: type[PolicyError]) -> None:
    assert issubclass(error, PolicyError)
    assert issubclass(PolicyError, Exception)
    assert not issubclass(error, ValueError)


def test_syntax_error_carries_location_and_reason() -> None:
    error = PolicySyntaxError("iep.attribution", "Field required")
    assert (error.location, error.reason) == ("iep.attribution", "Field required")
    assert error.message == str(error) == "iep.attribution: Field required"


def test_syntax_error_without_location_is_just_the_reason() -> None:
    error = PolicySyntaxError("", "the document is not valid JSON")
    assert error.message == str(error) == "the document is not valid JSON"


@pytest.mark.parametrize("error", [PolicyError, PolicySignatureError, PolicyChainError])
def test_other_errors_carry_their_message(error: type[PolicyError]) -> None:
    with pytest.raises(error, match=r"^safe to show$") as info:
        raise error("safe to show")
    assert info.value.message == "safe to show"
