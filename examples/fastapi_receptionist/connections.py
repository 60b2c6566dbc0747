"""One live PMS connection per practice, opened from its sealed credentials on first use.

A connection is long-lived on purpose: its request key, rate budget and writeback poller are per practice,
and the poller must outlive the request that booked, to text the caller when the booking lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pms_connect import CredentialVault, PmsError, PmsProvider
from pms_connect.sikka import SikkaCredentials

from .db import Practice

__all__ = ["PmsConnections", "PmsFactory"]

logger = logging.getLogger("examples.fastapi_receptionist.connections")

PmsFactory = Callable[[SikkaCredentials, str], PmsProvider]
"""Builds a provider from a practice's credentials and IANA time zone (tests point it at the sandbox)."""


class PmsConnections:
    def __init__(self, vault: CredentialVault, factory: PmsFactory) -> None:
        self._vault = vault
        self._factory = factory
        self._live: dict[str, tuple[str, PmsProvider]] = {}
        self._retired: list[PmsProvider] = []
        self._lock = asyncio.Lock()

    def build(self, credentials: SikkaCredentials, timezone: str) -> PmsProvider:
        """A new provider, not yet shared (setup tests it before adopting it)."""
        return self._factory(credentials, timezone)

    def open_credentials(self, practice: Practice) -> SikkaCredentials:
        """The practice's credentials; the envelope only opens under its own account id."""
        return self._vault.open(practice.sealed_credentials, context=practice.account_id, model=SikkaCredentials)

    async def get(self, practice: Practice) -> PmsProvider:
        """The practice's provider, rebuilt when its stored credentials changed (e.g. by another worker)."""
        async with self._lock:
            live = self._live.get(practice.account_id)
            if live is not None and live[0] == practice.sealed_credentials:
                return live[1]
            provider = self.build(self.open_credentials(practice), practice.timezone)
            self._adopt(practice, provider)
            return provider

    async def replace(self, practice: Practice, provider: PmsProvider) -> None:
        """Use ``provider`` (already tested by setup) from now on for the practice."""
        async with self._lock:
            self._adopt(practice, provider)

    def _adopt(self, practice: Practice, provider: PmsProvider) -> None:
        previous = self._live.get(practice.account_id)
        if previous is not None:
            # Not closed now: its poller may still be following bookings whose callers await a text.
            self._retired.append(previous[1])
        self._live[practice.account_id] = (practice.sealed_credentials, provider)

    async def aclose(self) -> None:
        async with self._lock:
            providers = [p for _, p in self._live.values()] + self._retired
            self._live.clear()
            self._retired.clear()
        for provider in providers:
            with contextlib.suppress(PmsError):
                await provider.aclose()
