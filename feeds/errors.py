"""Errors of the member-side client. They carry fields; the CLI turns them into messages.

::

    FeedsError
    ├── SettingsError              a required setting is missing or malformed
    ├── DocumentError              a local document (a policy file) cannot be read, parsed
    │                              or written, or does not fit the command
    │   └── NoValidRecords         an incident-record file has no valid row in the period
    ├── PrivacyBudgetExceeded      a differentially private release would exceed the
    │                              member's epsilon budget for the period
    ├── InvalidParameter           a command parameter (k, epsilon, a metric, bounds)
    │                              is out of range or unknown
    ├── KeystoreError              the keystore is missing, already exists, or is unusable
    │   ├── WeakPassphrase         the passphrase would not protect the keys
    │   ├── KeyFileCorrupted       a key file is truncated, altered or not a key file
    │   └── WrongPassphrase        the passphrase does not open the key file
    ├── TrustError                 something the hub served does not verify: a policy, a
    │                              key bundle, a pinned owner
    │   └── EnvelopeRefused        a sealed report fails a check (signature, recipients,
    │                              commitment, decryption); ``reason`` says which
    ├── NotARecipient              a sealed report is not addressed to this member's keys
    └── HubError                   talking to the hub failed
        ├── HubUnreachable         no connection: refused, unknown host, TLS failure, timeout
        ├── CredentialsRejected    the hub answered 401 or 403 to our token
        ├── RequestRefused         the hub understood the request and refused it (4xx),
        │                          saying why in ``description``
        └── UnexpectedResponse     the hub answered, but not with what TAXII 2.1 promises

No error ever carries the API token or any other secret.
"""

from __future__ import annotations

__all__ = [
    "CredentialsRejected",
    "DocumentError",
    "EnvelopeRefused",
    "FeedsError",
    "HubError",
    "HubUnreachable",
    "InvalidParameter",
    "KeyFileCorrupted",
    "KeystoreError",
    "NoValidRecords",
    "NotARecipient",
    "PrivacyBudgetExceeded",
    "RequestRefused",
    "SettingsError",
    "TrustError",
    "UnexpectedResponse",
    "WeakPassphrase",
    "WrongPassphrase",
]


class FeedsError(Exception):
    """Base class of every error raised by :mod:`feeds`. ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(FeedsError):
    """Raised when setting ``name`` is missing or malformed; ``hint`` says how to give it."""

    def __init__(self, name: str, reason: str, hint: str) -> None:
        super().__init__(f"{name}: {reason} ({hint})")
        self.name = name
        self.reason = reason
        self.hint = hint


class DocumentError(FeedsError):
    """Raised when the local document at ``path`` cannot be read, parsed or written, or is
    not what the command needs; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class HubError(FeedsError):
    """Raised when a request to the hub at ``url`` fails."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url


class HubUnreachable(HubError):
    """Raised when no HTTP exchange with the hub at ``url`` completes.

    ``reason`` names the failure class (say ``ConnectionError``), never its details,
    which may echo request headers.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, f"cannot reach the hub at {url} ({reason})")
        self.reason = reason


class CredentialsRejected(HubError):
    """Raised when the hub answers ``status`` 401 or 403: a wrong, revoked or disabled token."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(
            url,
            f"the hub at {url} rejected the API token (HTTP {status});"
            " check EXCHANGE_TOKEN, or ask the operator whether it was revoked",
        )
        self.status = status


class RequestRefused(HubError):
    """Raised when the hub refuses a request with a 4xx ``status`` other than 401.

    ``description`` is the hub's own explanation (the TAXII error's ``description``),
    cleaned of control characters and shortened; it is shown to the user as is.
    """

    def __init__(self, url: str, status: int, description: str) -> None:
        super().__init__(url, f"the hub refused the request (HTTP {status}): {description}")
        self.status = status
        self.description = description


class UnexpectedResponse(HubError):
    """Raised when the hub's answer is an HTTP error or not a valid TAXII 2.1 resource.

    ``status`` is the HTTP status when there was one; ``reason`` says what was wrong.
    """

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        shown = f"HTTP {status}: " if status is not None else ""
        super().__init__(url, f"unexpected answer from the hub at {url}: {shown}{reason}")
        self.reason = reason
        self.status = status


class KeystoreError(FeedsError):
    """Raised when the keystore at ``path`` is missing, already initialised, or unusable."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class WeakPassphrase(KeystoreError):
    """Raised when a new passphrase is empty, short or trivially guessable."""

    def __init__(self, reason: str) -> None:
        super().__init__("", f"the passphrase is too weak: {reason}")
        self.reason = reason


class KeyFileCorrupted(KeystoreError):
    """Raised when a key file is truncated, altered, of another format, or too costly to open."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, f"the key file {path} is unusable: {reason}")
        self.reason = reason


class WrongPassphrase(KeystoreError):
    """Raised when the passphrase does not open a key file (or the file was altered)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            path, f"the passphrase does not open {path} (wrong passphrase, or the file was altered)"
        )


class TrustError(FeedsError):
    """Raised when something served by the hub fails verification; ``what`` names it."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"refusing {what}: {reason}")
        self.what = what
        self.reason = reason


class EnvelopeRefused(TrustError):
    """Raised when a sealed report fails verification or opening; ``reason`` says which check.

    Decryption and commitment failures share one reason, so that opening is no oracle.
    """

    def __init__(self, envelope: str, reason: str) -> None:
        super().__init__(f"sealed report {envelope}", reason)
        self.envelope = envelope


class NotARecipient(FeedsError):
    """Raised when a sealed report holds no content key for any of this member's keys."""

    def __init__(self, envelope: str) -> None:
        super().__init__(f"sealed report {envelope} is not addressed to your keys")
        self.envelope = envelope


class NoValidRecords(DocumentError):
    """Raised when the incident-record file at ``path`` has no valid row in the period.

    ``problems`` lists every bad row as ``(line, reason)``; ``outside_period`` counts the
    valid rows dated outside the period.
    """

    def __init__(
        self, path: str, problems: tuple[tuple[int, str], ...], outside_period: int
    ) -> None:
        if problems:
            first = problems[0]
            reason = (
                f"no valid incident record in the period ({len(problems)} bad rows, the first"
                f" on line {first[0]}: {first[1]}; {outside_period} outside the period)"
            )
        else:
            reason = f"no incident record in the period ({outside_period} outside the period)"
        super().__init__(path, reason)
        self.problems = problems
        self.outside_period = outside_period


class PrivacyBudgetExceeded(FeedsError):
    """Raised before any noise is drawn when a release of ``epsilon`` would bring the
    member's cumulative epsilon for the period (``spent`` so far) above ``budget``."""

    def __init__(self, epsilon: float, spent: float, budget: float) -> None:
        super().__init__(
            f"a release with epsilon {epsilon:g} would bring the epsilon spent on this period's"
            f" records to {spent + epsilon:g}, above the budget of {budget:g}"
            f" ({spent:g} already spent)"
        )
        self.epsilon = epsilon
        self.spent = spent
        self.budget = budget


class InvalidParameter(FeedsError):
    """Raised when parameter ``name`` (``k``, ``epsilon``, a metric, bounds) is out of
    range or unknown; ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
