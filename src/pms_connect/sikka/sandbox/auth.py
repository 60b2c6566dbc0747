"""Request keys, refresh keys and the per-minute rate limit of the fake Sikka.

Key semantics follow Sikka's getting-started guide: a ``request_key`` grant returns the office's current
key while it is still active (the guide's example answers ``expires_in`` below 24 h), a ``refresh_key`` grant
issues a new request key and a new refresh key and retires the refresh key it used, refresh keys otherwise
live until deleted. Older request keys keep working until their own end time, so concurrent workers that
still hold one are not cut off mid-flight.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from pms_connect.clock import Clock

__all__ = ["KeyStore", "RateVerdict", "RequestKey", "SandboxRateLimit"]


@dataclass
class RequestKey:
    key: str
    app_id: str
    office_id: str
    start: dt.datetime
    end: dt.datetime
    scope: tuple[str, ...]
    refresh_key: str
    request_count: int = 0
    revoked: bool = False

    def state(self, now: dt.datetime) -> str:
        """``active``, ``expired`` (by time) or ``inactive`` (deleted)."""
        if self.revoked:
            return "inactive"
        return "active" if now < self.end else "expired"


@dataclass
class _Session:
    """What Sikka keeps per (app, office): the current request key and the live refresh key."""

    current: RequestKey | None = None
    refresh_key: str = ""


class KeyStore:
    def __init__(self, clock: Clock, lifetime: dt.timedelta, rng: random.Random) -> None:
        self._clock = clock
        self.lifetime = lifetime
        self._rng = rng
        self._keys: dict[str, RequestKey] = {}
        self._sessions: dict[tuple[str, str], _Session] = {}
        self._refresh_owner: dict[str, tuple[str, str]] = {}

    def _new_token(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _now(self) -> dt.datetime:
        return self._clock.now().replace(microsecond=0)

    def _mint(self, app_id: str, office_id: str, scope: tuple[str, ...], session: _Session) -> RequestKey:
        now = self._now()
        key = RequestKey(
            self._new_token(), app_id, office_id, now, now + self.lifetime, scope, session.refresh_key
        )
        self._keys[key.key] = key
        session.current = key
        return key

    def _new_refresh(self, app_id: str, office_id: str, session: _Session) -> None:
        if session.refresh_key:
            self._refresh_owner.pop(session.refresh_key, None)
        session.refresh_key = self._new_token()
        self._refresh_owner[session.refresh_key] = (app_id, office_id)

    def grant(self, app_id: str, office_id: str, scope: tuple[str, ...]) -> RequestKey:
        """The ``request_key`` grant: the office's active key, or a new one when there is none."""
        session = self._sessions.setdefault((app_id, office_id), _Session())
        if not session.refresh_key:
            self._new_refresh(app_id, office_id, session)
        current = session.current
        if current is not None and current.state(self._now()) == "active" and current.scope == scope:
            return current
        return self._mint(app_id, office_id, scope, session)

    def refresh(self, app_id: str, refresh_key: str, scope: tuple[str, ...]) -> RequestKey | None:
        """The ``refresh_key`` grant: a new request key and a new refresh key; the used one dies."""
        owner = self._refresh_owner.get(refresh_key)
        if owner is None or owner[0] != app_id:
            return None
        session = self._sessions[owner]
        self._new_refresh(owner[0], owner[1], session)
        return self._mint(owner[0], owner[1], scope, session)

    def lookup(self, key: str) -> RequestKey | None:
        return self._keys.get(key)

    def revoke(self, key: RequestKey) -> None:
        key.revoked = True
        key.end = min(key.end, self._now())

    def delete_refresh(self, app_id: str, refresh_key: str) -> bool:
        owner = self._refresh_owner.get(refresh_key)
        if owner is None or owner[0] != app_id:
            return False
        del self._refresh_owner[refresh_key]
        self._sessions[owner].refresh_key = ""
        return True

    def expire_all(self) -> None:
        """Fault hook: every issued request key reaches its end time now."""
        now = self._now()
        for key in self._keys.values():
            key.end = min(key.end, now)

    @property
    def issued(self) -> list[RequestKey]:
        return list(self._keys.values())


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset),
        }


@dataclass
class SandboxRateLimit:
    """Fixed 60-second windows per budget (an app and office pair, or an app for app-level calls)."""

    clock: Clock
    limit: int
    window: float = 60.0
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def hit(self, budget: str) -> RateVerdict:
        now = self.clock.monotonic()
        started, count = self._windows.get(budget, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        reset = max(1, math.ceil(started + self.window - now))
        if count >= self.limit:
            self._windows[budget] = (started, count)
            return RateVerdict(False, self.limit, 0, reset)
        count += 1
        self._windows[budget] = (started, count)
        return RateVerdict(True, self.limit, self.limit - count, reset)

    def peek(self, budget: str) -> RateVerdict:
        """The headers a budget would show now, without spending from it (for injected 429s)."""
        now = self.clock.monotonic()
        started, count = self._windows.get(budget, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        reset = max(1, math.ceil(started + self.window - now))
        return RateVerdict(False, self.limit, max(0, self.limit - count), reset)
