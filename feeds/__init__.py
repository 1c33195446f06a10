"""``feeds``: the member side of Trend Exchange.

The only package that holds member private keys and decrypts reports (in
``feeds.crypto``). It talks to the hub over TAXII 2.1
(``feeds.client``) and imports nothing from the hub but its published
contract, :mod:`exchange.protocol`.

This namespace re-exports only the light pieces, the error tree and the
settings, so that ``from feeds import FeedsError`` anywhere (notably in
``feeds.trends``, which must never reach the network or the keys, even
indirectly) does not pull in the client or the crypto code.
"""

from feeds.errors import (
    CredentialsRejected,
    DocumentError,
    FeedsError,
    HubError,
    HubUnreachable,
    KeyFileCorrupted,
    KeystoreError,
    RequestRefused,
    SettingsError,
    TrustError,
    UnexpectedResponse,
    WeakPassphrase,
    WrongPassphrase,
)
from feeds.settings import ClientSettings, get_settings, load_settings

__all__ = [
    "ClientSettings",
    "CredentialsRejected",
    "DocumentError",
    "FeedsError",
    "HubError",
    "HubUnreachable",
    "KeyFileCorrupted",
    "KeystoreError",
    "RequestRefused",
    "SettingsError",
    "TrustError",
    "UnexpectedResponse",
    "WeakPassphrase",
    "WrongPassphrase",
    "get_settings",
    "load_settings",
]
