"""Talking to a Trend Exchange hub over TAXII 2.1, as a member.

The hub is reached with `taxii2-client <https://github.com/oasis-open/cti-taxii-client>`_
(which speaks HTTP through ``requests``); every answer is parsed into the hub's
published wire models (:mod:`exchange.protocol`) before it leaves this module,
and every foreign exception is wrapped into the :mod:`feeds.errors` tree here,
at the boundary.

The hub authenticates members with ``Authorization: Bearer <token>``; the token
travels as a `SecretStr` and is never part of an error message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pydantic
import requests
from pydantic import SecretStr
from requests.auth import AuthBase
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Server

from exchange.protocol import Collection
from feeds.errors import CredentialsRejected, HubUnreachable, UnexpectedResponse

__all__ = ["ApiRootCollections", "BearerAuth", "discovery_url", "hub_errors", "list_collections"]


class BearerAuth(AuthBase):
    """A ``requests`` auth hook that sends ``Authorization: Bearer <token>``."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=SecretStr('**********'))"


@dataclass(frozen=True, slots=True)
class ApiRootCollections:
    """The collections (feeds) that one API root lets the member see."""

    api_root: str
    collections: tuple[Collection, ...]


def discovery_url(hub: str) -> str:
    """Return the TAXII 2.1 discovery URL of the hub whose base URL is ``hub``."""
    return f"{hub.rstrip('/')}/taxii2/"


@contextmanager
def hub_errors(url: str) -> Iterator[None]:
    """Wrap what requests, taxii2-client and pydantic raise, most specific first."""
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        where = exc.response.url if exc.response is not None else url
        if status in (401, 403):
            raise CredentialsRejected(where, status) from exc
        reason = exc.response.reason if exc.response is not None else "HTTP error"
        raise UnexpectedResponse(where, str(reason), status) from exc
    except requests.Timeout as exc:
        raise HubUnreachable(url, "timed out") from exc
    except requests.ConnectionError as exc:
        raise HubUnreachable(url, type(exc).__name__) from exc
    except requests.RequestException as exc:
        raise UnexpectedResponse(url, type(exc).__name__) from exc
    except TAXIIServiceException as exc:
        raise UnexpectedResponse(url, f"not a TAXII 2.1 resource ({type(exc).__name__})") from exc
    except pydantic.ValidationError as exc:
        raise UnexpectedResponse(url, "a collection resource does not parse") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        # taxii2-client indexes into the JSON it received without checking its shape.
        raise UnexpectedResponse(url, "malformed TAXII resource") from exc


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _parse_collection(collection: object) -> Collection:
    """Re-parse a taxii2-client ``Collection`` through the published wire model."""
    fields = ("id", "title", "description", "alias", "can_read", "can_write", "media_types")
    values = {name: getattr(collection, name) for name in fields}
    return Collection.model_validate({k: v for k, v in values.items() if v is not None})


def list_collections(hub: str, token: SecretStr) -> list[ApiRootCollections]:
    """Return, for every API root the hub's discovery lists, the collections the member sees.

    ``hub`` is the hub's base URL (discovery is at ``<hub>/taxii2/``). Raises
    `HubUnreachable` if no connection completes, `CredentialsRejected` if the hub
    refuses ``token`` and `UnexpectedResponse` for any answer that is not TAXII 2.1,
    or for a discovery that lists an API root on another origin (the token is only
    ever sent to the hub it was issued by).
    """
    url = discovery_url(hub)
    with ExitStack() as stack:
        server = stack.enter_context(Server(url, auth=BearerAuth(token)))
        with hub_errors(url):
            roots = list(server.api_roots)
        listings: list[ApiRootCollections] = []
        for root in roots:
            stack.enter_context(root)
            if _origin(root.url) != _origin(url):
                raise UnexpectedResponse(
                    url, "discovery lists an API root on another origin; the token stays home"
                )
            with hub_errors(root.url):
                parsed = tuple(_parse_collection(c) for c in root.collections)
            listings.append(ApiRootCollections(root.url, parsed))
        return listings
