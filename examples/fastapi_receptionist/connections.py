"""One live PMS connection per practice, opened from its sealed credentials on first use.

A connection is long-lived on purpose: its writeback poller must outlive the request that booked, to text
the caller when the booking lands. Every provider of the process shares one store (``Settings.store_url``),
and through it the other worker processes: request keys, the write journal, slot claims, the booking lock,
the rate budget and the poller lease.

A practice is served by one of ``PROVIDERS`` (``Practice.provider``): Sikka ONE (``SikkaCredentials``) or
Open Dental's API (``OpenDentalConnection``: its ``OpenDentalCredentials`` and where to reach it). Each has
its own factory (``PmsFactories``); the tools see only the ``PmsProvider`` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal, TypedDict, TypeVar, get_args

from pydantic import BaseModel

from pms_connect import CredentialVault, PmsError, PmsProvider
from pms_connect.opendental import OpenDentalCredentials, OpenDentalMode
from pms_connect.sikka import SikkaCredentials
from pms_connect.stores import Store

from .db import Practice

__all__ = [
    "PROVIDERS",
    "OpenDentalConnection",
    "PmsConnections",
    "PmsCredentials",
    "PmsFactories",
    "PmsFactory",
    "ProviderName",
    "provider_name",
]

logger = logging.getLogger("examples.fastapi_receptionist.connections")

ProviderName = Literal["sikka", "opendental"]
"""The PMS integrations a practice can be set up with (``Practice.provider``)."""
PROVIDERS: tuple[ProviderName, ...] = get_args(ProviderName)


class OpenDentalConnection(OpenDentalCredentials):
    """What is sealed for an Open Dental practice: its ``OpenDentalCredentials`` (the envelope opens as
    that model too) plus how to reach it, ``mode`` and ``base_url``. The address is sealed with the keys, so
    that whoever can write the database cannot send the practice's keys to a server of their choosing."""

    mode: OpenDentalMode = "remote"
    base_url: str | None = None

    @property
    def credentials(self) -> OpenDentalCredentials:
        """The SDK's credentials model alone (what ``OpenDentalProvider`` takes)."""
        return OpenDentalCredentials(
            developer_key=self.developer_key, customer_key=self.customer_key, clinic_num=self.clinic_num
        )


PmsCredentials = SikkaCredentials | OpenDentalConnection
"""What the vault seals for a practice, by its provider."""

_MODELS: dict[str, type[PmsCredentials]] = {
    "sikka": SikkaCredentials,
    "opendental": OpenDentalConnection,
}

CredentialsT = TypeVar("CredentialsT", bound=BaseModel)
PmsFactory = Callable[[CredentialsT, str, Store], PmsProvider]
"""Builds a provider from a practice's credentials (one provider's model), IANA time zone and the process's
store, which the provider must use (``SikkaProvider(..., store=store)``): without it, each worker process
would hold its own slot claims and two workers could each book one slot. Tests point it at a sandbox."""


class PmsFactories(TypedDict, total=False):
    """One factory per provider name; ``create_app`` fills in the real one for any left out."""

    sikka: PmsFactory[SikkaCredentials]
    opendental: PmsFactory[OpenDentalConnection]


def provider_name(credentials: PmsCredentials) -> ProviderName:
    """The provider whose credentials these are."""
    return "opendental" if isinstance(credentials, OpenDentalConnection) else "sikka"


class PmsConnections:
    def __init__(self, vault: CredentialVault, factories: PmsFactories) -> None:
        self._vault = vault
        self._factories = factories
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

    def build(self, credentials: PmsCredentials, timezone: str) -> PmsProvider:
        """A new provider of the credentials' kind on the shared store, not yet shared itself (setup tests it
        before adopting it)."""
        store = self.store
        if isinstance(credentials, OpenDentalConnection):
            opendental = self._factories.get("opendental")
            if opendental is not None:
                return opendental(credentials, timezone, store)
        else:
            sikka = self._factories.get("sikka")
            if sikka is not None:
                return sikka(credentials, timezone, store)
        raise PmsError(f"no {provider_name(credentials)} factory is configured")

    def open_credentials(self, practice: Practice) -> PmsCredentials:
        """The practice's credentials, as its provider's model; the envelope only opens under its own account
        id."""
        model = _MODELS.get(practice.provider)
        if model is None:
            raise PmsError("the practice's provider is not one this service connects to; set it up again")
        return self._vault.open(practice.sealed_credentials, context=practice.account_id, model=model)

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
