"""``SikkaProvider``: one practice at Sikka ONE, behind the provider-neutral
[PmsProvider][pms_connect.protocol.PmsProvider] surface."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import httpx

from pms_connect import windows
from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError, NotFoundError, PmsError
from pms_connect.http import RetryPolicy
from pms_connect.models import Capability, ConnectionCheck, FeatureSet, Operatory, Provider
from pms_connect.ratelimit import RateLimit, RateLimiter
from pms_connect.sikka import _wire as w
from pms_connect.sikka._client import DEFAULT_BASE_URL, MAX_PAGE_SIZE, SikkaClient, read_page
from pms_connect.sikka._pms_rules import PmsRules, rules_for
from pms_connect.sikka._resources import (
    Appointments,
    Insurance,
    Operatories,
    Patients,
    Payments,
    Practices,
    Providers,
)
from pms_connect.sikka._writebacks import SikkaWritebackSource
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.sikka.options import SikkaWriteOptions

if TYPE_CHECKING:
    from pms_connect.protocol import PmsProvider
    from pms_connect.scheduling import PracticeHours
    from pms_connect.sikka._writes import SikkaWrites
from pms_connect.booking import BookingGuard
from pms_connect.reference import ReferenceCache
from pms_connect.statuses import practice_status
from pms_connect.stores import MemoryStore, Store
from pms_connect.writeback import BoundWritebacks, PollSchedule, WritebackPoller

T = TypeVar("T")

__all__ = ["SikkaProvider"]

# Read capabilities and the request-key scope entries that grant them. Only names that Sikka's own scope
# example (gs.txt) lists are judged by the scope: that example, a full plan, leaves out operatories,
# subscribers and practice_schedule, so a scope without them proves nothing (a refused read still raises
# PermissionDeniedError).
_READ_SCOPES: dict[Capability, tuple[str, ...]] = {
    Capability.READ_PRACTICES: ("practices",),
    Capability.READ_PROVIDERS: ("providers",),
    Capability.READ_OPERATORIES: (),
    Capability.READ_APPOINTMENTS: ("appointments",),
    Capability.READ_PATIENTS: ("patients",),
    Capability.READ_INSURANCE: ("insurance_companies",),
    Capability.READ_PAYMENTS: ("transactions",),
    Capability.READ_SCHEDULES: (),
}
# Write capabilities and the ``supported_pmses`` column that says the PMS accepts them.
_WRITE_COLUMNS: dict[Capability, str] = {
    Capability.BOOK_APPOINTMENT: "new_appointment_writeback",
    Capability.RESCHEDULE_APPOINTMENT: "new_appointment_writeback",
    Capability.CHANGE_APPOINTMENT_STATUS: "appointment_status_writeback",
    Capability.CREATE_PATIENT: "new_patient_writeback",
    Capability.POST_PAYMENT: "payment_writeback",
}
_NOT_AVAILABLE = {"", "no", "false", "n", "na", "n/a", "not available", "unavailable"}


@dataclass(frozen=True)
class PracticeInfo:
    """What the SDK needs to know about the practice itself; cached per provider instance."""

    practice_id: str
    name: str | None
    cust_id: str | None
    pms_name: str | None
    pms_version: str | None


class SikkaProvider:
    """A practice at Sikka ONE.

    ``timezone`` is the practice's IANA zone: Sikka sends wall-clock times without one.

    ``store`` is what the deployment's workers share (request keys, the rate budget, the write journal, slot
    claims, the booking lock): the default [MemoryStore][pms_connect.stores.MemoryStore] serves one process,
    [SqliteStore][pms_connect.stores.SqliteStore] the processes of a host,
    [RedisStore][pms_connect.stores.RedisStore] a fleet.

    The connection: a ``transport`` (e.g. the sandbox's) or an ``http_client`` you own (it is not closed by
    [aclose][pms_connect.sikka.SikkaProvider.aclose], and its own timeouts apply: passing ``timeout`` or
    ``transport`` with it is an error, not silently ignored). ``timeout`` is seconds or an ``httpx.Timeout``
    (30 s by default); ``retry`` a [RetryPolicy][pms_connect.http.RetryPolicy]; ``rate_limit`` requests per
    minute, a [RateLimit][pms_connect.ratelimit.RateLimit], or a shared
    [RateLimiter][pms_connect.ratelimit.RateLimiter] so that several providers spend one budget.

    ``reference_ttl`` is how long providers, chairs, hours, statuses and features are cached;
    ``page_size`` how many rows a list asks for per page.

    ``poller`` is a [PollSchedule][pms_connect.writeback.PollSchedule] for this provider's own writeback
    poller, or one [WritebackPoller][pms_connect.writeback.WritebackPoller] shared by many providers (say,
    every practice a worker serves: it tracks all their writes together, one request a round per Sikka app).
    ``writes`` is a [SikkaWriteOptions][pms_connect.sikka.SikkaWriteOptions]: the practice's status names and
    required fields, the payment sign, ``check_spu``, the reconcile window.
    """

    def __init__(
        self,
        credentials: SikkaCredentials,
        *,
        timezone: str | tzinfo,
        store: Store | None = None,
        clock: Clock | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: int | RateLimit | RateLimiter | None = None,
        page_size: int = MAX_PAGE_SIZE,
        reference_ttl: timedelta = timedelta(minutes=15),
        poller: PollSchedule | WritebackPoller | None = None,
        writes: SikkaWriteOptions | None = None,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if writes is not None and not isinstance(writes, SikkaWriteOptions):
            raise InvalidArgumentError("writes must be a SikkaWriteOptions")
        if poller is not None and not isinstance(poller, PollSchedule | WritebackPoller):
            raise InvalidArgumentError("poller must be a PollSchedule or a shared WritebackPoller")
        self.credentials = credentials
        """The app and practice credentials this provider authenticates with."""
        self.timezone = windows.resolve_zone(timezone)
        """The practice's zone (a ``ZoneInfo``): Sikka's wall-clock times are read, and written, in it."""
        self.store: Store = store if store is not None else MemoryStore()
        """What the deployment's workers share: request keys, the write journal, slot claims, locks."""
        self.client = SikkaClient(
            credentials,
            base_url=base_url,
            http_client=http_client,
            transport=transport,
            token_store=self.store.tokens,
            budget=self.store.budget,
            rate_limit=rate_limit,
            clock=clock,
            retry=retry,
            timeout=timeout,
        )
        """The Sikka HTTP client (request keys, rate limit, retries) the resources send through; internal."""
        self.clock = self.client.clock
        """The time source (the system clock unless one was given): every cache, deadline and poll uses it."""
        self.page_size = page_size
        """How many rows a list asks Sikka for per page."""
        self.write_options = writes if writes is not None else SikkaWriteOptions()
        """How writes are sent to the practice ([SikkaWriteOptions][pms_connect.sikka.SikkaWriteOptions])."""
        self.reference = ReferenceCache(self.clock, reference_ttl)
        """The [ReferenceCache][pms_connect.reference.ReferenceCache] of providers, chairs, hours, statuses,
        features and the practice itself."""
        self.practices = Practices(self)
        """[Practices][pms_connect.sikka._resources.Practices]: the practices the credentials reach."""
        self.providers = Providers(self)
        """[Providers][pms_connect.sikka._resources.Providers]: the practice's providers."""
        self.operatories = Operatories(self)
        """[Operatories][pms_connect.sikka._resources.Operatories]: the practice's chairs."""
        self.appointments = Appointments(self)
        """[Appointments][pms_connect.sikka._resources.Appointments]: the book, open slots, appointment writes."""
        self.patients = Patients(self)
        """[Patients][pms_connect.sikka._resources.Patients]: charts, search, caller matching, new patients."""
        self.insurance = Insurance(self)
        """[Insurance][pms_connect.sikka._resources.Insurance]: carriers and coverage."""
        self.payments = Payments(self)
        """[Payments][pms_connect.sikka._resources.Payments]: the ledger and payment posting."""
        self.writeback_source = SikkaWritebackSource(self, reconcile_window=self.write_options.reconcile_window)
        """How the poller asks Sikka about this practice's writes (its writeback log and status); internal."""
        shared = poller if isinstance(poller, WritebackPoller) else None
        if shared is not None and shared.journal is not self.store.journal:
            raise InvalidArgumentError("a shared poller must use this provider's store's journal")
        own_schedule = poller if isinstance(poller, PollSchedule) else None
        self.writebacks = BoundWritebacks(
            shared
            or WritebackPoller(
                journal=self.store.journal, clock=self.clock, schedule=own_schedule, leases=self.store
            ),
            self.writeback_source,
            practice=self.practice_key,
            owns_poller=shared is None,
        )
        """[BoundWritebacks][pms_connect.writeback.BoundWritebacks]: following this practice's writes to their
        outcome (``status``, ``wait``, ``cancel``, ``on_complete``)."""
        self.guard = BookingGuard(self.store, practice=self.practice_key, clock=self.clock)
        """The [BookingGuard][pms_connect.booking.BookingGuard] that checks and claims a slot for every write
        that books or moves an appointment."""

    @functools.cached_property
    def writes(self) -> SikkaWrites:
        """The writes behind the resources' write methods (validated, journaled, sent once); internal."""
        # Made on first use: the write path's modules (its checks, its bodies) are not imported by a process
        # that only reads, which keeps ``import pms_connect.sikka`` light.
        from pms_connect.sikka._writes import SikkaWrites

        return SikkaWrites(self)

    @property
    def practice_id(self) -> str:
        """The practice of the office this provider reads and writes (from the credentials)."""
        return self.credentials.practice_id

    @property
    def practice_key(self) -> str:
        """The practice's key in the store: its locks, slot claims and journal entries."""
        return f"sikka:{self.credentials.office_id}:{self.practice_id}"

    def now(self) -> datetime:
        """The current time in the practice's zone."""
        return self.clock.now().astimezone(self.timezone)

    def today(self) -> date:
        """Today in the practice's zone: what "today" means for its book, whatever the server's zone."""
        return self.now().date()

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop following writes (their journal entries stay open for the next worker to resume) and close
        the HTTP client, unless it was passed in as ``http_client``."""
        await self.writebacks.aclose()
        await self.client.aclose()

    async def __aenter__(self) -> SikkaProvider:
        """Resume following the writes this practice's journal holds open (left by a previous or crashed
        worker)."""
        await self.writebacks.resume()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """[aclose][pms_connect.sikka.SikkaProvider.aclose]."""
        await self.aclose()

    # -- the practice -------------------------------------------------------------------------------------

    async def _authorized_practice(self) -> w.AuthorizedPractice | None:
        response = await self.client.app_call("GET", "authorized_practices", params={"show": "all"})
        summary = self.client.summary("GET", "authorized_practices")
        envelope = read_page(response, w.AuthorizedPractice, summary)
        rows = envelope.items if envelope else []
        office = [r for r in rows if r.office_id == self.credentials.office_id]
        exact = [r for r in office if r.practice_id == self.practice_id]
        matches = exact or office
        return matches[0] if matches else None

    async def practice_info(self, *, refresh: bool = False) -> PracticeInfo:
        """The practice's name, ``cust_id`` and PMS, cached with the reference data."""
        return await self.reference.get("practice", self._read_practice_info, refresh=refresh)

    async def _read_practice_info(self) -> PracticeInfo:
        params = {"practice_id": self.practice_id}
        rows = (await self.client.fetch_page("practices", params, w.PracticeRow, index=0, page_size=1)).rows
        summary = self.client.summary("GET", "practices")
        if not rows:
            raise NotFoundError("the practice id is not known to this office", request=summary)
        authorized = await self._authorized_practice()
        return PracticeInfo(
            practice_id=rows[0].practice_id,
            name=rows[0].name,
            cust_id=rows[0].cust_id,
            pms_name=authorized.practice_management_system if authorized else None,
            pms_version=authorized.practice_management_system_version if authorized else None,
        )

    async def _cached(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        return await self.reference.get(name, load)

    def clear_cache(self) -> None:
        """Forget cached reference data (after the practice changes providers, operatories or schedules)."""
        self.reference.clear()

    async def known_providers(self) -> list[Provider]:
        """Every provider of the practice, cached for ``reference_ttl``: slot searches and writes check ids
        against it without a request each time."""
        return await self._cached("providers", self.providers.list().all)

    async def schedules(self) -> PracticeHours:
        """The practice's working hours (``practice_schedule``), cached for ``reference_ttl``."""
        from pms_connect.sikka._slots import load_schedules  # on first use, as Appointments.find_slots says

        return await self._cached("practice_schedule", lambda: load_schedules(self))

    async def known_operatories(self) -> list[Operatory]:
        """Every visible chair of the practice, cached for ``reference_ttl``, for the same reason."""
        return await self._cached("operatories", self.operatories.list().all)

    async def pms_rules(self) -> PmsRules:
        """What the practice's PMS requires beyond Sikka's common write bodies."""
        return rules_for((await self.practice_info()).pms_name)

    async def features(self) -> FeatureSet:
        """[get_features][pms_connect.sikka.SikkaProvider.get_features], cached for ``reference_ttl``: what
        every write checks first, so that a refused write costs no request."""
        return await self._cached("features", self.get_features)

    async def payment_types(self) -> dict[str, str]:
        """The practice's payment type codes and their descriptions."""

        async def load() -> dict[str, str]:
            params = {"practice_id": self.practice_id}
            pager = self.client.pager("payment_types", params, w.RawRow, lambda r: r.model_dump(), page_size=500)
            return {
                str(r.get("code")): str(r.get("description") or "") for r in await pager.all() if r.get("code")
            }

        return await self._cached("payment_types", load)

    async def appointment_status_values(self) -> list[str]:
        """The practice's legal appointment statuses (``practice_variables``, else ``appointment_statuses``)."""

        async def load() -> list[str]:
            params = {"practice_id": self.practice_id, "service_name": "Appointment Status"}
            pager = self.client.pager(
                "practice_variables", params, w.RawRow, lambda r: r.model_dump(), page_size=500
            )
            values = [str(r.get("value")) for r in await pager.all() if r.get("value")]
            if not values:
                pager = self.client.pager(
                    "appointment_statuses", {"practice_id": self.practice_id}, w.RawRow, lambda r: r.model_dump()
                )
                values = [str(r.get("status")) for r in await pager.all() if r.get("status")]
            return values

        return await self._cached("appointment_statuses", load)

    async def status_value(self, meaning: str) -> str:
        """The practice's own status for ``meaning`` ("cancel" or "confirm"): ``writes.status_values`` when given
        (it must be one of the practice's legal values), else the legal value whose name says so
        ([practice_status][pms_connect.statuses.practice_status])."""
        return practice_status(
            meaning, await self.appointment_status_values(), named=self.write_options.status_values
        )

    async def test_connection(self) -> ConnectionCheck:
        """Authenticate, then read the practice; never raises. ``latency_ms`` is the whole check's time."""
        started = time.perf_counter()
        try:
            await self.client.tokens.get()
            info = await self.practice_info(refresh=True)
        except PmsError as exc:
            return ConnectionCheck(ok=False, latency_ms=_elapsed_ms(started), error=str(exc))
        except Exception as exc:  # a check reports, it does not raise
            return ConnectionCheck(
                ok=False, latency_ms=_elapsed_ms(started), error=f"unexpected {type(exc).__name__}"
            )
        return ConnectionCheck(
            ok=True, practice_name=info.name, pms_name=info.pms_name, latency_ms=_elapsed_ms(started)
        )

    async def get_features(self) -> FeatureSet:
        """Reads from the request key's scope; writes from ``supported_pmses`` for the practice's PMS."""
        token = await self.client.tokens.get()
        scope = {s.lower() for s in token.scope}
        capabilities = {cap for cap, needs in _READ_SCOPES.items() if all(n in scope for n in needs)}
        info = await self.practice_info()
        pms = (info.pms_name or "").strip()
        if rules_for(pms).native_slots and "appointments_available_slots" in scope:
            capabilities.add(Capability.NATIVE_OPEN_SLOTS)
        if pms:
            capabilities |= await self._write_capabilities(pms, info.pms_version)
        return FeatureSet(pms_name=info.pms_name, capabilities=frozenset(capabilities))

    async def _write_capabilities(self, pms: str, version: str | None) -> set[Capability]:
        params = {"practice_management_system": pms}
        page = await self.client.fetch_page(
            "supported_pmses", params, w.SupportedPmsRow, index=0, page_size=500, app_level=True
        )
        rows = [r for r in page.rows if (r.practice_management_system or "").lower() == pms.lower()]
        if version:
            rows = [r for r in rows if r.practice_management_system_version == version] or rows
        found: set[Capability] = set()
        for row in rows:
            for capability, column in _WRITE_COLUMNS.items():
                value = getattr(row, column) or ""
                if value.strip().lower() not in _NOT_AVAILABLE:
                    found.add(capability)
        return found

    def __repr__(self) -> str:
        """Office, practice and zone only: no credentials, so a provider can be logged."""
        return (
            f"SikkaProvider(office_id={self.credentials.office_id!r}, practice_id={self.practice_id!r}, "
            f"timezone={self.timezone.key!r})"
        )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


if TYPE_CHECKING:  # mypy proves here that SikkaProvider implements the provider-neutral protocol

    def _implements_the_protocol(pms: SikkaProvider) -> PmsProvider:
        return pms
