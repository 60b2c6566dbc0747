"""``SikkaSandbox``: a faithful, in-process fake of Sikka ONE v4 for tests, demos and benchmarks.

It is strict where Sikka is strict (string-only bodies, page-index offsets, 204 on empty, key expiry, scope,
rate limits, asynchronous writebacks), so that code which passes against it works against Sikka. Time comes
from an injectable clock: with a [FakeClock][pms_connect.testing.FakeClock], keys expire and writebacks complete
without anyone waiting.

Example:

    sandbox = SikkaSandbox(seed=7, clock=FakeClock())
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        ...
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import InvalidArgumentError
from pms_connect.sikka.credentials import SikkaCredentials
from pms_connect.sikka.sandbox.app import CURRENT_RECORD, build_app
from pms_connect.sikka.sandbox.auth import KeyStore, SandboxRateLimit
from pms_connect.sikka.sandbox.catalog import DEMO_APP, DEMO_OFFICE_ID
from pms_connect.sikka.sandbox.control import CONTROL_PREFIX
from pms_connect.sikka.sandbox.data import World
from pms_connect.sikka.sandbox.seed import build_world
from pms_connect.sikka.sandbox.state import RequestRecord, SandboxFaults, SandboxState
from pms_connect.sikka.sandbox.writebacks import UtilityStatus, WritebackQueue, WritebackRecord

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from pms_connect.sikka import SikkaProvider

__all__ = ["RequestRecord", "SandboxFaults", "SandboxTransport", "SikkaSandbox", "WritebackRecord"]

IN_PROCESS_BASE_URL = "http://sikka-sandbox.test/v4"


class SandboxTransport(httpx.AsyncBaseTransport):
    """The app behind an ASGI transport, plus the faults only a network can produce: dropped connections.

    A drop happens either before the request reaches Sikka (``httpx.ConnectError``: nothing was done) or
    after Sikka processed it (``httpx.RemoteProtocolError``: a write may be queued although the client never
    heard), half the time each. A write whose answer the app marked lost (``write_answer_loss``) raises
    ``httpx.RemoteProtocolError`` (mode ``"drop"``) or ``httpx.ReadTimeout`` (mode ``"timeout"``, at once:
    nothing waits in process) after the app queued it.
    """

    def __init__(self, state: SandboxState, app: Starlette) -> None:
        self._state = state
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Serve ``request`` in process, or raise the network error a drawn fault calls for."""
        path = request.url.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return await self._inner.handle_async_request(request)  # the control endpoint is not Sikka
        drop = self._state.faults.draw_drop()
        if drop == "before":
            self._state.requests.append(
                RequestRecord(
                    method=request.method,
                    path=request.url.path,
                    params=dict(request.url.params),
                    at=self._state.clock.now(),
                    fault="connect_error",
                )
            )
            raise httpx.ConnectError("Sandbox fault: connection refused before sending.", request=request)
        carried: list[RequestRecord] = []
        token = CURRENT_RECORD.set(carried)
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            CURRENT_RECORD.reset(token)
        if drop == "after":
            await response.aread()
            for record in carried:
                record.fault = "dropped"
            raise httpx.RemoteProtocolError(
                "Sandbox fault: server disconnected without a response.", request=request
            )
        lost = {record.fault for record in carried}
        if "answer_dropped" in lost:
            await response.aread()
            raise httpx.RemoteProtocolError(
                "Sandbox fault: the write was queued, then the server disconnected before its answer.",
                request=request,
            )
        if "answer_timeout" in lost:
            await response.aread()
            raise httpx.ReadTimeout("Sandbox fault: the write was queued, its answer timed out.", request=request)
        return response

    async def aclose(self) -> None:
        """Close the ASGI transport underneath (httpx calls it when the client closes)."""
        await self._inner.aclose()


class SikkaSandbox:
    """A fake Sikka tenant: one office with two practices, seeded deterministically from ``seed``.

    * ``seed`` drives every generated record and every fault draw.
    * ``clock`` is the time source; pass a ``FakeClock`` in tests. Defaults to the system clock.
    * ``writeback_delay``: how long after submission a writeback completes (while the utility is online).
    * ``page_cap``: the page size a licence allows below Sikka's 5,000 (the docs: "Maximum 5000 records fetch
      available as per Sikka API license"); a larger ``limit`` is answered with this many rows and the
      envelope's ``limit`` says so. None (the default) means 5,000.
    * ``reject_overlaps``: fail, at completion, a writeback that books or moves an appointment into an
      operatory already taken at that time ("Operatory double-booked: ..."). Off by default: many PMSs
      (Dentrix, Eaglesoft, Open Dental) accept overlapping appointments through their APIs, and the sandbox
      then holds both. One provider in two chairs at once is always accepted.
    * ``key_lifetime``: how long a request key lives.
    * ``rate_limit``: requests per 60-second window, per app and office.
    * ``rate_window``: the length of that window: Sikka's is 60 seconds; a shorter one lets a test of the
      budget across processes run in seconds on the real clock (a switch, not a behaviour of Sikka).
    * ``pms_name``: the practice's PMS, which decides the supported writebacks and native open slots.
    * ``timezone``: the practices' IANA time zone; "today" for the seed is taken in this zone.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        clock: Clock | None = None,
        writeback_delay: dt.timedelta = dt.timedelta(seconds=90),
        reject_overlaps: bool = False,
        page_cap: int | None = None,
        key_lifetime: dt.timedelta = dt.timedelta(hours=24),
        rate_limit: int = 250,
        rate_window: dt.timedelta = dt.timedelta(seconds=60),
        pms_name: str = "Dentrix",
        timezone: str = "America/Chicago",
    ) -> None:
        for name, value in (("writeback_delay", writeback_delay), ("key_lifetime", key_lifetime)):
            if not isinstance(value, dt.timedelta):
                raise InvalidArgumentError(f"{name} must be a timedelta")
        if writeback_delay < dt.timedelta(0):
            raise InvalidArgumentError("writeback_delay must not be negative")
        if key_lifetime <= dt.timedelta(0):
            raise InvalidArgumentError("key_lifetime must be positive")
        if rate_limit < 1:
            raise InvalidArgumentError("rate_limit must be at least 1")
        if rate_window <= dt.timedelta(0):
            raise InvalidArgumentError("rate_window must be positive")
        if page_cap is not None and not 1 <= page_cap <= 5000:
            raise InvalidArgumentError("page_cap must be between 1 and 5000")
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self.timezone = timezone
        zone = ZoneInfo(timezone)
        today = self.clock.now().astimezone(zone).date()
        world = build_world(seed, today, pms_name)
        utility = UtilityStatus(self.clock)
        keys = KeyStore(self.clock, key_lifetime, random.Random(seed * 104729 + 17))
        queue = WritebackQueue(world, self.clock, writeback_delay, zone, utility)
        queue.reject_overlaps = reject_overlaps
        self._state = SandboxState(
            clock=self.clock,
            zone=zone,
            world=world,
            keys=keys,
            limiter=SandboxRateLimit(self.clock, rate_limit, rate_window.total_seconds()),
            queue=queue,
            utility=utility,
            faults=SandboxFaults(seed, keys, queue, utility),
            pms_name=pms_name,
            base_url=IN_PROCESS_BASE_URL,
            page_cap=page_cap,
        )
        self.app: Starlette = build_app(self._state)
        self.transport = SandboxTransport(self._state, self.app)

    # ------------------------------------------------------------------------------------------ properties
    @property
    def page_cap(self) -> int | None:
        """The licence's page size cap (None: Sikka's 5,000), settable: a ``limit`` above it is answered
        with ``page_cap`` rows and ``"limit": "<page_cap>"``, offsets counting pages of that size."""
        return self._state.page_cap

    @page_cap.setter
    def page_cap(self, cap: int | None) -> None:
        if cap is not None and not 1 <= cap <= 5000:
            raise InvalidArgumentError("page_cap must be between 1 and 5000")
        self._state.page_cap = cap

    @property
    def base_url(self) -> str:
        """``http://sikka-sandbox.test/v4`` in process; ``http://host:port/v4`` once
        [serve][pms_connect.sikka.sandbox.SikkaSandbox.serve] runs."""
        return self._state.base_url

    @property
    def credentials(self) -> SikkaCredentials:
        """The demo app's credentials for practice "1" (fixed demo values; the keys are secrets all the same)."""
        office = self.world.offices[DEMO_OFFICE_ID]
        return SikkaCredentials(
            app_id=DEMO_APP.app_id,
            app_key=SecretStr(DEMO_APP.app_key),
            office_id=office.office_id,
            secret_key=SecretStr(office.secret_key),
            practice_id="1",
        )

    @property
    def world(self) -> World:
        """The sandbox's data (offices, practices, patients, appointments...), to arrange or inspect a test's
        state directly instead of through requests."""
        return self._state.world

    @property
    def faults(self) -> SandboxFaults:
        """The switchable faults, to test how code copes with a misbehaving Sikka."""
        return self._state.faults

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request the sandbox saw, in order (clear it with ``sandbox.requests.clear()``)."""
        return self._state.requests

    @property
    def writebacks(self) -> list[WritebackRecord]:
        """Every writeback submitted so far (including deleted ones, flagged ``deleted``)."""
        return list(self._state.queue.records.values())

    @property
    def writeback_delay(self) -> dt.timedelta:
        """How long after submission writebacks complete; settable, applies to writes submitted later."""
        return self._state.queue.delay

    @writeback_delay.setter
    def writeback_delay(self, delay: dt.timedelta) -> None:
        if delay < dt.timedelta(0):
            raise InvalidArgumentError("writeback_delay must not be negative")
        self._state.queue.delay = delay

    @property
    def reject_overlaps(self) -> bool:
        """Whether a booking or move into a taken operatory fails at completion; settable at run time.

        Writebacks already due when it changes complete under the old setting; later ones under the new.
        """
        return self._state.queue.reject_overlaps

    @reject_overlaps.setter
    def reject_overlaps(self, reject: bool) -> None:
        self._state.set_reject_overlaps(bool(reject))

    @property
    def control_url(self) -> str:
        """The test-control endpoint (``/_sandbox``) beside ``base_url``; answers loopback clients only."""
        return self._state.base_url.removesuffix("/v4") + CONTROL_PREFIX

    @property
    def pms_name(self) -> str:
        """The PMS the sandbox's practices run: it decides their supported writebacks and native slots."""
        return self._state.pms_name

    @property
    def today(self) -> dt.date:
        """Today in the practice's zone, by the sandbox clock."""
        return self._state.today()

    # ------------------------------------------------------------------------------------------- actions
    async def run_writebacks(self) -> list[WritebackRecord]:
        """Complete every writeback that is due by now (requests do this lazily too); returns those completed."""
        return self._state.queue.process()

    def enqueue_writeback(
        self, kind: str, body: dict[str, str], *, delay: dt.timedelta | None = None
    ) -> WritebackRecord:
        """Queue a writeback as if the demo app had sent it (no HTTP request, no rate budget spent).

        For benchmarks and tests that need many writebacks at once. ``kind`` is one of ``new_appointment``,
        ``update_appointment``, ``appointment_status``, ``new_patient``, ``payment``; ``delay`` overrides
        ``writeback_delay`` for this one.
        """
        queue = self._state.queue
        office = self.world.offices[DEMO_OFFICE_ID]
        record = queue.submit(
            app_id=DEMO_APP.app_id,
            office_id=office.office_id,
            practice_id=body.get("practice_id", "1"),
            method="POST" if kind.startswith("new_") or kind == "payment" else "PATCH",
            kind=kind,
            body=body,
            target_id=body.get("appointment_sr_no", ""),
            patient_id=body.get("patient_id", ""),
            request_key="",
        )
        if delay is not None:
            if delay < dt.timedelta(0):
                raise InvalidArgumentError("delay must not be negative")
            record.due = record.submitted + delay
        return record

    def provider(self, **kw: Any) -> SikkaProvider:
        """A [SikkaProvider][pms_connect.sikka.SikkaProvider] wired to this sandbox (its transport, clock and
        zone)."""
        from pms_connect.sikka import SikkaProvider

        return SikkaProvider(
            self.credentials,
            timezone=self.timezone,
            base_url=self.base_url,
            transport=self.transport,
            clock=self.clock,
            **kw,
        )

    def serve(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Serve the same app over HTTP with uvicorn (blocking); ``base_url`` becomes ``http://host:port/v4``.

        ``drop_rate`` is an in-process fault only; every other fault applies to served requests too (a lost
        write answer breaks the real connection, or holds the answer back ``faults.answer_hold`` seconds).
        The test-control endpoint is at ``http://host:port/_sandbox`` (``control_url``).
        """
        import uvicorn

        shown = f"[{host}]" if ":" in host else host
        self._state.base_url = f"http://{shown}:{port}/v4"
        try:
            uvicorn.run(self.app, host=host, port=port, log_level="info")
        finally:
            self._state.base_url = IN_PROCESS_BASE_URL
