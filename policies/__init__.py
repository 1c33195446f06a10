"""``policies``: the signed sharing-policy language of Trend Exchange, and its evaluation.

A feed owner signs a policy naming who may read and write the feed, its TLP
2.0 level and FIRST IEP 2.0 handling, permitted purposes, retention and
validity window. Hub and members verify it with the owner's public keys
(Ed25519 *and* ML-DSA-65) and evaluate it, denying by default. The package is
pure: no I/O, no HTTP, no database, and it imports nothing else from this project.
"""

from policies.canonical import canonical_bytes, digest
from policies.document import (
    POLICY_LABEL,
    SignedPolicy,
    load_json,
    parse_policy,
    parse_signed_policy,
    policy_document,
    verify_policy,
    verify_successor,
)
from policies.errors import PolicyChainError, PolicyError, PolicySignatureError, PolicySyntaxError
from policies.evaluate import Action, Decision, Request, evaluate
from policies.model import FORMAT, TLP_MARKINGS, Iep, Policy, Purpose, TlpLevel, tlp_level
from policies.signature import (
    ALGORITHMS,
    Signature,
    SigningKeys,
    key_id,
    signed_message,
    verify_signatures,
)
from policies.templates import policy_from_template, template_names

__all__ = [
    "ALGORITHMS",
    "FORMAT",
    "POLICY_LABEL",
    "TLP_MARKINGS",
    "Action",
    "Decision",
    "Iep",
    "Policy",
    "PolicyChainError",
    "PolicyError",
    "PolicySignatureError",
    "PolicySyntaxError",
    "Purpose",
    "Request",
    "Signature",
    "SignedPolicy",
    "SigningKeys",
    "TlpLevel",
    "canonical_bytes",
    "digest",
    "evaluate",
    "key_id",
    "load_json",
    "parse_policy",
    "parse_signed_policy",
    "policy_document",
    "policy_from_template",
    "signed_message",
    "template_names",
    "tlp_level",
    "verify_policy",
    "verify_signatures",
    "verify_successor",
]
