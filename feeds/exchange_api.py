"""The hub's own API (``/exchange/v1/``) and feed lookup, over an injected ``httpx.Client``.

`ExchangeApi` asks the hub who we are, reads and registers key bundles, reads
and publishes a feed's signed policy versions, and resolves a feed alias to
its collection id through TAXII discovery. Every answer is parsed into a
model before it leaves this module; documents the hub serves on behalf of
members (key bundles, policies) are parsed but *not* verified here: that is
:mod:`feeds.trust`'s job, since the hub is not trusted.

Every ``httpx`` failure and every hub error is wrapped into the
:mod:`feeds.errors` tree here, at the boundary. The token travels as a
`SecretStr`, only to the hub's origin (no redirects are followed), and is
never part of a message.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import quote, urljoin

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from exchange.protocol import TAXII_21, Collection, Discovery
from exchange.protocol.errors import MalformedPayload
from exchange.protocol.keys import SignedKeyBundle, parse_key_bundle
from feeds._http import HubTransport, same_origin
from feeds.errors import TrustError, UnexpectedResponse
from feeds.settings import ClientSettings
from policies import PolicyError, SignedPolicy, parse_signed_policy

__all__ = ["ExchangeApi", "MemberInfo", "PolicyVersionRef", "Published", "Registered"]

_JSON = "application/json"
_M = TypeVar("_M", bound=BaseModel)


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class MemberInfo(_Wire):
    """The authenticated member, as ``GET /exchange/v1/whoami`` describes it."""

    id: str
    name: str
    kind: str


class PolicyVersionRef(_Wire):
    """One entry of a feed's policy version list: its number and digest."""

    version: int
    digest: str


class _Versions(_Wire):
    versions: list[PolicyVersionRef]


class _Bundles(_Wire):
    member: str
    bundles: list[dict[str, Any]]


class Registered(_Wire):
    """The hub's receipt for a registered key bundle."""

    member: str
    sequence: int
    digest: str


class Published(_Wire):
    """The hub's receipt for a published policy version."""

    feed: str
    version: int
    digest: str


@dataclass(frozen=True, slots=True)
class _Call:
    url: str
    accept: str


class ExchangeApi:
    """A member's session with one hub: ``Authorization: Bearer <token>`` on every request.

    ``http`` is injected (a plain ``httpx.Client``, one on an ``httpx.MockTransport``
    or a Starlette ``TestClient``); `from_settings` builds one. Use it as a context
    manager to close a client it built.
    """

    def __init__(self, hub: str, token: SecretStr, http: httpx.Client) -> None:
        self.hub = hub.rstrip("/")
        self._transport = HubTransport(http, token)
        self._owned: httpx.Client | None = None
        self._api_root: str | None = None

    @classmethod
    def from_settings(cls, settings: ClientSettings, *, timeout: float = 30.0) -> ExchangeApi:
        """Return a session with the configured hub and token, on a client it owns.

        Raises `SettingsError` if the hub URL or the token is missing.
        """
        hub, token = settings.require_hub(), settings.require_token()
        http = httpx.Client(timeout=timeout, follow_redirects=False)
        api = cls(hub, token, http)
        api._owned = http
        return api

    def close(self) -> None:
        """Close the HTTP client if this session built it."""
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _call(self, path: str, accept: str = _JSON) -> _Call:
        return _Call(self.hub + path, accept)

    def _get(self, call: _Call) -> Any:
        return self._transport.json("GET", call.url, call.accept)

    def _post(self, call: _Call, body: dict[str, Any]) -> Any:
        content = json.dumps(body, ensure_ascii=False).encode()
        return self._transport.json("POST", call.url, call.accept, content, _JSON)

    @staticmethod
    def _model(kind: type[_M], url: str, data: Any, what: str) -> _M:
        try:
            return kind.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedResponse(url, f"{what} does not parse") from exc

    # ------------------------------------------------------------------ identity and keys

    def whoami(self) -> MemberInfo:
        """Return the member the token authenticates.

        Raises `HubError` (`CredentialsRejected` for a refused token).
        """
        call = self._call("/exchange/v1/whoami")
        return self._model(MemberInfo, call.url, self._get(call), "the whoami answer")

    def key_bundles(self, member: str) -> list[SignedKeyBundle]:
        """Return every key bundle ``member`` registered, oldest first (none: empty list).

        The bundles are parsed, not verified (see `feeds.trust.verify_key_chain`).
        Raises `HubError`, or `TrustError` if a bundle is not a well-formed key bundle.
        """
        call = self._call(f"/exchange/v1/members/{quote(member, safe='')}/keys")
        data = self._transport.json("GET", call.url, call.accept, missing_ok=True)
        if data is None:
            return []
        listing = self._model(_Bundles, call.url, data, "the key bundle list")
        if listing.member != member:
            raise UnexpectedResponse(call.url, "the key bundle list is for another member")
        bundles = []
        for number, document in enumerate(listing.bundles, start=1):
            try:
                bundles.append(parse_key_bundle(document))
            except MalformedPayload as exc:
                raise TrustError(f"key bundle {number} of {member}", str(exc)) from exc
        return bundles

    def register_key_bundle(self, bundle: SignedKeyBundle) -> Registered:
        """Register ``bundle`` for its member (the caller); return the hub's receipt.

        Raises `HubError` (`RequestRefused` naming what the hub found wrong).
        """
        member = bundle.keys.member
        call = self._call(f"/exchange/v1/members/{quote(member, safe='')}/keys")
        answer = self._post(call, bundle.model_dump(mode="json"))
        return self._model(Registered, call.url, answer, "the registration receipt")

    # ------------------------------------------------------------------ policies

    def _policy_path(self, feed: str) -> str:
        return f"/exchange/v1/feeds/{quote(feed, safe='')}/policy"

    def policy_versions(self, feed: str) -> list[PolicyVersionRef]:
        """Return the numbers and digests of every version of ``feed``'s policy, oldest first.

        Raises `HubError` (`RequestRefused` with status 404 for a feed we cannot see).
        """
        call = self._call(self._policy_path(feed) + "/versions")
        return list(self._model(_Versions, call.url, self._get(call), "the version list").versions)

    def policy_version(self, feed: str, version: int) -> SignedPolicy:
        """Return version ``version`` of ``feed``'s policy, parsed but not verified.

        Raises `HubError`, or `TrustError` if it is not a signed policy in normal form.
        """
        call = self._call(f"{self._policy_path(feed)}/versions/{version}")
        response = self._transport.request("GET", call.url, call.accept)
        assert response is not None  # only missing_ok requests answer None
        try:
            # The raw bytes, so that the strict parser sees duplicate keys and the like.
            return parse_signed_policy(response.content)
        except PolicyError as exc:
            raise TrustError(f"policy version {version} of feed {feed}", exc.message) from exc

    def publish_policy(self, feed: str, signed: SignedPolicy) -> Published:
        """Publish ``signed`` as the next version of ``feed``'s policy; return the receipt.

        Raises `HubError` (`RequestRefused` naming what the hub found wrong).
        """
        call = self._call(self._policy_path(feed))
        answer = self._post(call, signed.to_json())
        return self._model(Published, call.url, answer, "the publication receipt")

    # ------------------------------------------------------------------ TAXII lookups

    def api_root(self) -> str:
        """Return the URL of the hub's default TAXII API root (from discovery, cached).

        Raises `HubError`, also when discovery names no default root or one on
        another origin (the token is only ever sent to the hub).
        """
        if self._api_root is None:
            call = self._call("/taxii2/", TAXII_21)
            discovery = self._model(Discovery, call.url, self._get(call), "discovery")
            if not discovery.default:
                raise UnexpectedResponse(call.url, "discovery names no default API root")
            root = urljoin(call.url, discovery.default)
            if not same_origin(root, call.url):
                raise UnexpectedResponse(
                    call.url, "the default API root is on another origin; the token stays home"
                )
            self._api_root = root if root.endswith("/") else root + "/"
        return self._api_root

    def resolve_feed(self, ref: str) -> Collection:
        """Return the collection of the feed ``ref`` (its alias or id).

        Raises `HubError` (`RequestRefused` with status 404 when no such feed is
        visible to us), or `UnexpectedResponse` if the hub answers with another feed.
        """
        url = f"{self.api_root()}collections/{quote(ref, safe='')}/"
        collection = self._model(Collection, url, self._get(_Call(url, TAXII_21)), "a collection")
        if ref not in (collection.id, collection.alias):
            raise UnexpectedResponse(url, "the hub answered with another collection")
        return collection

    # ------------------------------------------------------------------ logs

    def log_key_document(self) -> dict[str, Any]:
        """Return the hub's published log key (``/.well-known/trend-exchange/log-key``).

        Raises `HubError`.
        """
        call = self._call("/.well-known/trend-exchange/log-key")
        data = self._get(call)
        if not isinstance(data, dict):
            raise UnexpectedResponse(call.url, "the log key document is not a JSON object")
        return data

    def checkpoint(self, log: str) -> str:
        """Return the newest signed checkpoint of ``log`` (a signed note, not verified).

        Raises `HubError`.
        """
        call = self._call(f"/exchange/v1/logs/{log}/checkpoint", "text/plain")
        response = self._transport.request("GET", call.url, call.accept)
        assert response is not None
        return response.text

    def consistency_proof(self, log: str, old: int, new: int) -> list[bytes]:
        """Return the consistency proof of ``log`` from size ``old`` to ``new`` (not verified).

        Raises `HubError`.
        """
        call = self._call(f"/exchange/v1/logs/{log}/proofs/consistency?old={old}&new={new}")
        return _hashes(call.url, self._get(call))

    def leaf_proofs(
        self, log: str, size: int, leaf_hashes: list[bytes]
    ) -> list[tuple[int | None, list[bytes]]]:
        """For each leaf hash, its index in the tree of ``size`` and its inclusion proof
        (``None`` and no proof when the hub says the tree does not hold it). Not verified.

        Raises `HubError`.
        """
        call = self._call(f"/exchange/v1/logs/{log}/proofs/leaves")
        encoded = [base64.b64encode(h).decode() for h in leaf_hashes]
        data = self._post(call, {"size": size, "leaf_hashes": encoded})
        proofs = data.get("proofs") if isinstance(data, dict) else None
        if not isinstance(proofs, list) or len(proofs) != len(leaf_hashes):
            raise UnexpectedResponse(call.url, "the leaf proofs do not answer the question")
        answers: list[tuple[int | None, list[bytes]]] = []
        for asked, proof in zip(encoded, proofs, strict=True):
            index = proof.get("index") if isinstance(proof, dict) else None
            if not isinstance(proof, dict) or proof.get("leaf_hash") != asked:
                raise UnexpectedResponse(call.url, "the leaf proofs do not answer the question")
            if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
                raise UnexpectedResponse(call.url, "a leaf index is not a number")
            answers.append((index, _hashes(call.url, proof)))
        return answers


def _hashes(url: str, data: Any) -> list[bytes]:
    hashes = data.get("hashes") if isinstance(data, dict) else None
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise UnexpectedResponse(url, "a proof is not a list of base64 hashes")
    try:
        return [base64.b64decode(h, validate=True) for h in hashes]
    except ValueError as exc:
        raise UnexpectedResponse(url, "a proof hash is not base64") from exc
