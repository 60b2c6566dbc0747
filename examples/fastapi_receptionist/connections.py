"""One live PMS connection per practice, opened from its sealed credentials on first use.

A connection is long-lived on purpose: its writeback poller must outlive the request that booked, to text
the caller when the booking lands. Every provider of the process shares one store (``Settings.store_url``),
and through it the other worker processes: request keys, the write journal, slot claims, the booking lock,
the rate budget and the poller lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from pms_connect import CredentialVault, PmsError, PmsProvider
from pms_connect.sikka import SikkaCredentials
from pms_connect.stores import Store

from .db import Practice

__all__ = ["PmsConnections", "PmsFactory"]

logger = logging.getLogger("examples.fastapi_receptionist.connections")

CredentialsT = TypeVar("CredentialsT", bound=BaseModel)
PmsFactory = Callable[[CredentialsT, str, Store], PmsProvider]
"""Builds a provider from a practice's credentials (any provider's credentials model; this service seals
``SikkaCredentials``, so it uses ``PmsFactory[SikkaCredentials]``), IANA time zone and the process's store,
which the provider must use (``SikkaProvider(..., store=store)``): without it, each worker process would hold
its own slot claims and two workers could each book one slot. Tests point it at the sandbox."""


class PmsConnections:
    def __init__(self, vault: CredentialVault, factory: PmsFactory[SikkaCredentials]) -> None:
        self._vault = vault
        self._factory = factory
        self._live: dict[str, tuple[str, PmsProvider]] = {}
        self._retired: list[PmsProvider] = []
        self._lock = asyncio.Lock()
        self._store: Store | None = None

    def open(self, store: Store) -> None:
        """Start (the app's lifespan does this): every provider built from now on shares ``store``. The
        caller owns the store and closes it after ``aclose``."""
        self._store = store

    @property
    def store(self) -> Store:
        """The process's store; only between ``open`` and ``aclose``."""
        if self._store is None:
            raise RuntimeError("the PMS connections are not open: start the app (its lifespan) first")
        return self._store

    def build(self, credentials: SikkaCredentials, timezone: str) -> PmsProvider:
        """A new provider on the shared store, not yet shared itself (setup tests it before adopting it)."""
        return self._factory(credentials, timezone, self.store)

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
        """Close every provider (their pollers stop); the store is left to its owner to close after."""
        async with self._lock:
            providers = [p for _, p in self._live.values()] + self._retired
            self._live.clear()
            self._retired.clear()
            self._store = None
        for provider in providers:
            with contextlib.suppress(PmsError):
                await provider.aclose()
