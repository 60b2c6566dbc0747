"""``OpenDentalSandbox``: the Python face of the fake Open Dental API, and its in-process transport.

Example:

    sandbox = OpenDentalSandbox(seed=7, clock=FakeClock())
    headers = {"Authorization": sandbox.credentials.authorization, "Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=sandbox.base_url) as client:
        providers = (await client.get("/providers", headers=headers)).json()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from pms_connect.clock import Clock, SystemClock
from pms_connect.errors import InvalidArgumentError
from pms_connect.opendental.credentials import OpenDentalCredentials
from pms_connect.opendental.sandbox.app import API_PREFIX, CARRIED, make_app
from pms_connect.opendental.sandbox.control import CONTROL_PATH, is_control
from pms_connect.opendental.sandbox.keys import (
    DEMO_DEVELOPER_KEY,
    FULL_PERMISSIONS,
    PERMISSION_AREAS,
    READ_ONLY_PERMISSIONS,
    ApiKeyEntry,
    KeyTable,
)
from pms_connect.opendental.sandbox.records import PracticeData
from pms_connect.opendental.sandbox.seed import build_practice
from pms_connect.opendental.sandbox.state import (
    DUPLICATE_POLICIES,
    ERROR_BODIES,
    SANDBOX_MODES,
    THROTTLE_ANSWERS,
    LoggedRequest,
    OpenDentalFaults,
    ServerState,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from pms_connect.opendental import OpenDentalProvider

__all__ = ["IN_PROCESS_URL", "OpenDentalSandbox", "OpenDentalTransport"]

IN_PROCESS_URL = "http://opendental-sandbox.test" + API_PREFIX
FULL_CUSTOMER_KEY = "odSbxFullAccess1"
READ_ONLY_CUSTOMER_KEY = "odSbxReadOnly001"


class OpenDentalTransport(httpx.AsyncBaseTransport):
    """The app behind an ASGI transport, plus the faults only a network can produce.

    ``drop_rate``: the connection drops before the request reaches Open Dental (``httpx.ConnectError``:
    nothing was done) or after it was served (``httpx.RemoteProtocolError``: a write may have been applied),
    half the time each. A write whose answer the app marked lost raises ``httpx.RemoteProtocolError``
    (``write_answer_loss_mode="drop"``) or ``httpx.ReadTimeout`` (``"timeout"``, at once) after it was applied.
    """

    def __init__(self, state: ServerState, app: Starlette) -> None:
        self._state = state
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Serve ``request`` in process, or raise the network error a drawn fault calls for."""
        if is_control(request.url.path):
            return await self._inner.handle_async_request(request)
        drop = self._state.faults.draw_drop()
        if drop == "before":
            self._state.requests.append(
                LoggedRequest(
                    method=request.method,
                    path=request.url.path,
                    params=dict(request.url.params),
                    at=self._state.clock.now(),
                    fault="connect_error",
                )
            )
            raise httpx.ConnectError("Sandbox fault: connection refused before sending.", request=request)
        carried: list[LoggedRequest] = []
        token = CARRIED.set(carried)
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            CARRIED.reset(token)
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
                "Sandbox fault: the write was applied, then the server disconnected before its answer.",
                request=request,
            )
        if "answer_timeout" in lost:
            await response.aread()
            raise httpx.ReadTimeout("Sandbox fault: the write was applied, its answer timed out.", request=request)
        return response

    async def aclose(self) -> None:
        """Close the ASGI transport underneath (httpx calls it when the client closes)."""
        await self._inner.aclose()


def _check(value: str, options: Iterable[str], name: str) -> str:
    allowed = tuple(options)
    if value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(allowed)}")
    return value


class OpenDentalSandbox:
    """A fake Open Dental office behind the API, seeded deterministically from ``seed``.

    * ``seed`` drives every generated record and every fault draw.
    * ``clock`` is the time source (pass a ``FakeClock`` in tests): "today" for the seed, ``serverDateTime``,
      ``DateTStamp`` of writes, latency and the throttle all run on it. Defaults to the system clock.
    * ``timezone``: the office's IANA zone; the API's times are naive wall-clock times in it.
    * ``mode``: ``"remote"`` (Open Dental's cloud endpoint: pages of 100, throttled per customer key, the
      eConnector in the way), ``"service"`` (the API Service) or ``"local"`` (the Local API): pages of 1000,
      never throttled (OD-impl, OD-modes).
    * ``clinics``: seed two clinics (off: ``GET /clinics`` is ``[]`` and ``ClinicNum`` is 0 everywhere, which is
      how an office without clinics answers, OD-clinics).
    * ``reject_overlaps``: refuse (400) an appointment POST or PUT that overlaps an occupying appointment in the
      same operatory. Off by default: nothing in the docs says Open Dental refuses one.
    * ``duplicate_patients``: what Patients POST does with a duplicate: ``"reject"`` (400), ``"existing"``
      (200 with the existing patient) or ``"allow"`` (a second record).
    * ``error_body``: ``"text"`` (plain text) or ``"json"`` (the same explanation as a JSON string).
    * ``throttle``: throttle in remote mode (off: a remote sandbox that never throttles, for demos).
    * ``throttle_answer``: what an over-rate request gets: ``"429"`` or ``"400"`` with a text, or ``"delay"``
      (it waits, on the clock, for its turn and is then served).
    * ``require_content_type``: refuse (400) a request without ``Content-Type: application/json``, which
      "All API requests require" (OD-impl).
    * ``broken_appointment_procedures``: the office set a broken-appointment procedure type, so that Break
      accepts ``breakType`` (off: it is "None" and ``breakType`` is refused (OD-appts)).

    Every switch is also an attribute, settable between requests.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        clock: Clock | None = None,
        timezone: str = "America/Chicago",
        mode: str = "remote",
        clinics: bool = False,
        reject_overlaps: bool = False,
        duplicate_patients: str = "reject",
        error_body: str = "text",
        throttle: bool = True,
        throttle_answer: str = "429",
        require_content_type: bool = True,
        broken_appointment_procedures: bool = False,
    ) -> None:
        _check(mode, SANDBOX_MODES, "mode")
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self.timezone = timezone
        zone = ZoneInfo(timezone)
        now = self.clock.now().astimezone(zone).replace(tzinfo=None, microsecond=0)
        data = build_practice(seed, now.date(), now, timezone, clinics=clinics)
        keys = KeyTable()
        keys.add("full", DEMO_DEVELOPER_KEY, FULL_CUSTOMER_KEY, FULL_PERMISSIONS)
        keys.add("read_only", DEMO_DEVELOPER_KEY, READ_ONLY_CUSTOMER_KEY, READ_ONLY_PERMISSIONS)
        self._state = ServerState(
            clock=self.clock,
            zone=zone,
            data=data,
            keys=keys,
            faults=OpenDentalFaults(seed),
            mode=mode,
            base_url=IN_PROCESS_URL,
        )
        self.reject_overlaps = reject_overlaps
        self.duplicate_patients = duplicate_patients
        self.error_body = error_body
        self.throttle = throttle
        self.throttle_answer = throttle_answer
        self.require_content_type = require_content_type
        self.broken_appointment_procedures = broken_appointment_procedures
        self.app: Starlette = make_app(self._state)
        self.transport = OpenDentalTransport(self._state, self.app)

    # ------------------------------------------------------------------------------------------ the office
    @property
    def mode(self) -> str:
        """``"remote"``, ``"service"`` or ``"local"``, as constructed."""
        return self._state.mode

    @property
    def base_url(self) -> str:
        """``http://opendental-sandbox.test/api/v1`` in process; ``http://host:port/api/v1`` once
        [serve][pms_connect.opendental.sandbox.OpenDentalSandbox.serve] runs."""
        return self._state.base_url

    @property
    def control_url(self) -> str:
        """The test-control endpoint (``/_sandbox``) beside ``base_url``; answers loopback clients only."""
        return self._state.base_url.removesuffix(API_PREFIX) + CONTROL_PATH

    @property
    def credentials(self) -> OpenDentalCredentials:
        """Credentials with every permission but the special ones (fixed demo keys, secrets all the same)."""
        return self._credentials_for(FULL_CUSTOMER_KEY)

    @property
    def read_only_credentials(self) -> OpenDentalCredentials:
        """Credentials with ``ReadAll`` only: throttled to one request per five seconds in remote mode, and
        every write answered 401 "Invalid Permissions"."""
        return self._credentials_for(READ_ONLY_CUSTOMER_KEY)

    @property
    def data(self) -> PracticeData:
        """The office's database (patients, appointments, schedules...), to arrange or inspect a test's state
        directly instead of through requests."""
        return self._state.data

    @property
    def faults(self) -> OpenDentalFaults:
        """The switchable faults, to test how code copes with a misbehaving Open Dental."""
        return self._state.faults

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every API request the sandbox saw, in order (clear it with ``sandbox.requests.clear()``)."""
        return self._state.requests

    @property
    def today(self) -> dt.date:
        """Today in the office's zone, by the sandbox clock."""
        return self._state.today()

    # ---------------------------------------------------------------------------------------------- switches
    @property
    def reject_overlaps(self) -> bool:
        """Whether an appointment overlapping another in its operatory is refused (400); settable."""
        return self._state.reject_overlaps

    @reject_overlaps.setter
    def reject_overlaps(self, value: bool) -> None:
        self._state.reject_overlaps = bool(value)

    @property
    def duplicate_patients(self) -> str:
        """``"reject"``, ``"existing"`` or ``"allow"``: what Patients POST does with a duplicate; settable."""
        return self._state.duplicate_patients

    @duplicate_patients.setter
    def duplicate_patients(self, value: str) -> None:
        self._state.duplicate_patients = _check(value, DUPLICATE_POLICIES, "duplicate_patients")

    @property
    def error_body(self) -> str:
        """``"text"`` or ``"json"``: how an error's explanation is sent; settable."""
        return self._state.error_body

    @error_body.setter
    def error_body(self, value: str) -> None:
        self._state.error_body = _check(value, ERROR_BODIES, "error_body")

    @property
    def throttle(self) -> bool:
        """Whether remote mode throttles each customer key; settable."""
        return self._state.throttling

    @throttle.setter
    def throttle(self, value: bool) -> None:
        self._state.throttling = bool(value)

    @property
    def throttle_answer(self) -> str:
        """``"429"``, ``"400"`` or ``"delay"``: what an over-rate request gets; settable."""
        return self._state.throttle_answer

    @throttle_answer.setter
    def throttle_answer(self, value: str) -> None:
        self._state.throttle_answer = _check(value, THROTTLE_ANSWERS, "throttle_answer")

    @property
    def require_content_type(self) -> bool:
        """Whether a request without ``Content-Type: application/json`` is refused (400); settable."""
        return self._state.require_content_type

    @require_content_type.setter
    def require_content_type(self, value: bool) -> None:
        self._state.require_content_type = bool(value)

    @property
    def broken_appointment_procedures(self) -> bool:
        """Whether Break accepts ``breakType`` (the office set a broken-appointment procedure); settable."""
        return self._state.broken_appointment_procedures

    @broken_appointment_procedures.setter
    def broken_appointment_procedures(self, value: bool) -> None:
        self._state.broken_appointment_procedures = bool(value)

    # -------------------------------------------------------------------------------------------------- keys
    def add_key(self, name: str, permissions: Iterable[str]) -> OpenDentalCredentials:
        """Issue another customer key under the sandbox developer, with ``permissions`` (areas of
        (OD-perms): ``ReadAll``, ``Appointments``, ``Comm``, ``Patients``, ``Payments``, ``Enterprise``, ...).

        Each key has its own throttle; ``name`` is what ``requests`` log for it.
        """
        granted = set(permissions)
        unknown = sorted(granted - set(PERMISSION_AREAS))
        if unknown:
            raise InvalidArgumentError(f"unknown permission {unknown[0]!r}")
        if not name or any(entry.name == name for entry in self._state.keys.customers.values()):
            raise InvalidArgumentError("name must be new and not empty")
        customer = f"odSbxKey{len(self._state.keys.customers):04d}{self.seed % 10000:04d}"
        self._state.keys.add(name, DEMO_DEVELOPER_KEY, customer, granted)
        return self._credentials_for(customer)

    def set_permissions(self, credentials: OpenDentalCredentials, permissions: Iterable[str]) -> None:
        """Change what a key may do (as a developer does in the portal; effective at once here)."""
        entry = self._entry(credentials)
        granted = frozenset(permissions)
        unknown = sorted(granted - set(PERMISSION_AREAS))
        if unknown:
            raise InvalidArgumentError(f"unknown permission {unknown[0]!r}")
        entry.permissions = granted

    def disable_key(self, credentials: OpenDentalCredentials, *, disabled: bool = True) -> None:
        """Disable (or, with ``disabled=False``, enable again) a customer key, as an office does in its API
        setup: its requests get 401."""
        self._entry(credentials).enabled = not disabled

    def _entry(self, credentials: OpenDentalCredentials) -> ApiKeyEntry:
        entry = self._state.keys.customers.get(credentials.customer_key.get_secret_value())
        if entry is None:
            raise InvalidArgumentError("these credentials are not the sandbox's")
        return entry

    def _credentials_for(self, customer_key: str) -> OpenDentalCredentials:
        return OpenDentalCredentials(
            developer_key=SecretStr(DEMO_DEVELOPER_KEY), customer_key=SecretStr(customer_key)
        )

    # ----------------------------------------------------------------------------------------------- running
    def provider(self, **kw: Any) -> OpenDentalProvider:
        """An [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider] wired to this sandbox: its
        credentials, zone, mode, base URL, transport and clock, and the key's permissions declared (any of them
        overridable through ``kw``, ``credentials=`` included)."""
        from pms_connect.opendental import OpenDentalProvider

        options: dict[str, Any] = {
            "timezone": self.timezone,
            "mode": self.mode,
            "base_url": self.base_url,
            "transport": self.transport,
            "clock": self.clock,
        }
        options.update(kw)
        credentials = options.pop("credentials", self.credentials)
        if "permissions" not in options:  # an unknown key may still be given its permissions explicitly
            options["permissions"] = sorted(self._entry(credentials).permissions)
        return OpenDentalProvider(credentials, **options)

    def serve(self, host: str = "127.0.0.1", port: int = 30223) -> None:
        """Serve the same app over HTTP with uvicorn (blocking); ``base_url`` becomes ``http://host:port/api/v1``.

        ``drop_rate`` is an in-process fault only; every other fault applies to served requests too (a lost
        write answer breaks the real connection, or holds the answer back ``faults.answer_hold`` seconds). The
        default port is the API Service's, 30223 (OD-modes). The control endpoint is at ``control_url``.
        """
        import uvicorn

        shown = f"[{host}]" if ":" in host else host
        self._state.base_url = f"http://{shown}:{port}{API_PREFIX}"
        try:
            uvicorn.run(self.app, host=host, port=port, log_level="info")
        finally:
            self._state.base_url = IN_PROCESS_URL
