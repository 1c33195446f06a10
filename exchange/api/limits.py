"""Request limits: query-string length before routing; each caller's rate and requests in
flight once it is known."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.api.errors import error_response
from exchange.errors import TooManyRequests

__all__ = ["CallerLimits", "QueryLengthLimit"]


class QueryLengthLimit:
    """ASGI middleware: a query string longer than ``limit`` octets is a 400 TAXII error."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse over-long query strings; pass everything else on."""
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.limit:
            response = error_response(
                400,
                "Bad Request",
                f"The query string is longer than {self.limit} octets.",
                path=scope["path"],
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class _Caller:
    tokens: float  # requests the caller may still start now (a token bucket)
    refilled: float  # clock reading when ``tokens`` was last brought up to date
    in_flight: int = 0


class CallerLimits:
    """Each caller's request rate and requests in flight, in this process.

    The rate is a token bucket: ``burst`` requests at once, then ``rate`` per second;
    ``concurrent`` requests may be in flight at a time. Over either, `admit` raises
    `TooManyRequests` with the seconds to wait; each admitted request must be given back
    with `release` when it ends. `charge` counts a request against the rate alone (a
    failed authentication). A ``rate`` or ``concurrent`` of 0 lifts that limit. Callers
    are keys (a member id, or a client address); idle ones are forgotten.

    Used only on the event loop's thread, so it needs no lock.
    """

    _SWEEP_AT = 4096  # callers remembered before the idle ones are forgotten

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        concurrent: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.concurrent = concurrent
        self.clock = clock
        self._callers: dict[str, _Caller] = {}
        self._sweep_at = self._SWEEP_AT

    @property
    def enabled(self) -> bool:
        """Whether any limit applies."""
        return self.rate > 0 or self.concurrent > 0

    def admit(self, key: str) -> None:
        """Count a request of ``key`` in; raise `TooManyRequests` if it is over a limit."""
        caller = self._caller(key)
        if self.concurrent and caller.in_flight >= self.concurrent:
            raise TooManyRequests(
                f"Too many requests in flight: at most {self.concurrent} at a time.", 1
            )
        self._take(caller)
        caller.in_flight += 1

    def charge(self, key: str) -> None:
        """Count a request of ``key`` against its rate alone (it is over at once)."""
        if self.rate:
            self._take(self._caller(key))

    def release(self, key: str) -> None:
        """Count an admitted request of ``key`` out."""
        caller = self._callers.get(key)
        if caller is not None and caller.in_flight > 0:
            caller.in_flight -= 1

    def _caller(self, key: str) -> _Caller:
        caller = self._callers.get(key)
        if caller is None:
            now = self.clock()
            if len(self._callers) >= self._sweep_at:
                self._sweep(now)
                # Sweep again only once as many more have come: O(1) per caller even
                # when few are idle.
                self._sweep_at = max(self._SWEEP_AT, 2 * len(self._callers))
            caller = self._callers[key] = _Caller(tokens=float(self.burst), refilled=now)
        return caller

    def _take(self, caller: _Caller) -> None:
        # One token from the caller's bucket, refilled for the time since it last was.
        if not self.rate:
            return
        now = self.clock()
        caller.tokens = min(float(self.burst), caller.tokens + (now - caller.refilled) * self.rate)
        caller.refilled = now
        if caller.tokens < 1.0:
            raise TooManyRequests(
                f"Too many requests: at most {self.burst} at once, then {self.rate:g} per second.",
                max(1, math.ceil((1.0 - caller.tokens) / self.rate)),
            )
        caller.tokens -= 1.0

    def _sweep(self, now: float) -> None:
        # A caller with nothing in flight and a full bucket is as good as new.
        full = float(self.burst)
        for key, caller in list(self._callers.items()):
            refilled = caller.tokens + (now - caller.refilled) * self.rate
            if caller.in_flight == 0 and (not self.rate or refilled >= full):
                del self._callers[key]
