"""What every part of the sandbox shares: the practice, keys, throttle, switches, faults and the request log.

One object that the Starlette app, the in-process transport, the control endpoint and the Python face all
hold, so that a test can flip a switch or look at the data between two requests and the next request sees it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError
from pms_connect.opendental.sandbox.keys import ApiKeyEntry, CustomerThrottle, KeyTable
from pms_connect.opendental.sandbox.records import PracticeData
from pms_connect.opendental.sandbox.wire import JsonBody, QueryArgs

__all__ = [
    "DUPLICATE_POLICIES",
    "ERROR_BODIES",
    "LOSS_MODES",
    "SANDBOX_MODES",
    "THROTTLE_ANSWERS",
    "Call",
    "LoggedRequest",
    "OpenDentalFaults",
    "ServerState",
]

SANDBOX_MODES = ("remote", "service", "local")
"""Remote (through Open Dental HQ and the office's eConnector), the API Service, the Local API (OD-modes)."""
THROTTLE_ANSWERS = ("429", "400", "delay")
"""What an over-rate request gets (undocumented, OD-impl): 429 or 400 with a text, or a wait, then service."""
DUPLICATE_POLICIES = ("reject", "existing", "allow")
"""What Patients POST does with a duplicate (undocumented, OD-pats): 400, the existing patient (200), or
create it."""
ERROR_BODIES = ("text", "json")
"""How an error's explanation is sent (undocumented, OD-impl): plain text, or a JSON string."""
#: the ways ``write_answer_loss`` loses a write's answer, and the ``LoggedRequest.fault`` each logs
LOSS_MODES = {"drop": "answer_dropped", "timeout": "answer_timeout", "error": "answer_error"}
#: faults after which the client did not get the app's real answer
UNDELIVERED = frozenset({"connect_error", "dropped", *LOSS_MODES.values()})


@dataclass
class LoggedRequest:
    """One HTTP request as the sandbox saw it; ``status`` is None when no answer was produced.

    ``key`` names the customer key that sent it (``"full"``, ``"read_only"``, or a name given to
    [add_key][pms_connect.opendental.sandbox.OpenDentalSandbox.add_key]; None when it named no known key).
    ``body`` is the parsed JSON body of a write (None for a GET). ``fault`` names an injected fault:
    ``"connect_error"`` (never reached the server), ``"dropped"`` (answered, but the client never heard),
    ``"error"`` (an injected 500/504), ``"econnector"`` (the injected eConnector outage), ``"refused"`` (a
    write refused by ``refuse_next_writes``), or, for a write that was applied but whose answer was lost,
    ``"answer_dropped"``, ``"answer_timeout"`` or ``"answer_error"`` (a 504 instead of the answer).
    ``throttled`` is true for a request refused (or delayed) by the per-key throttle.
    """

    method: str
    path: str
    params: dict[str, str]
    at: dt.datetime
    key: str | None = None
    body: Any = None
    status: int | None = None
    fault: str | None = None
    throttled: bool = False

    @property
    def delivered(self) -> bool:
        """Whether the client received the app's answer (a status, and no fault that lost it)."""
        return self.status is not None and self.fault not in UNDELIVERED


class OpenDentalFaults:
    """Switchable misbehaviour, deterministic from the sandbox's seed. Everything is off by default.

    Reach it as ``sandbox.faults``; the control endpoint (``/_sandbox/faults``) switches the same object.

    ``write_answer_loss`` is the probability that a write (POST/PUT) is applied exactly as without the fault,
    but its answer does not reach the client, as ``write_answer_loss_mode`` says: ``"drop"`` (the connection
    breaks: ``httpx.RemoteProtocolError``), ``"timeout"`` (``httpx.ReadTimeout`` in process; served, the answer
    is held back ``answer_hold`` seconds of real time) or ``"error"`` (a 504 "Gateway Time-out", which Open
    Dental sends when a call runs past 60 seconds, OD-impl). Refused writes (4xx) answer as usual.
    """

    def __init__(self, seed: int) -> None:
        self.latency: dt.timedelta = dt.timedelta(0)
        """Added to every request, on the sandbox clock (a FakeClock skips it; a real clock waits)."""
        self.error_rate: float = 0.0
        """The probability that a request is answered 500 or 504 (half each) instead of being served."""
        self.drop_rate: float = 0.0
        """The probability that the in-process transport drops a request's connection: before it reaches the
        server (``httpx.ConnectError``, nothing done) or after (``httpx.RemoteProtocolError``), half each."""
        self.econnector_down: bool = False
        """Remote mode: the office's eConnector is not running, so every authenticated request gets 400
        (OD-setup, OD-impl). The API Service and the Local API do not go through it."""
        self.write_answer_loss: float = 0.0
        """The probability that an applied write's answer is lost (see ``write_answer_loss_mode``)."""
        self._write_answer_loss_mode = "drop"
        self.answer_hold: float = 5.0
        """Seconds a served ``"timeout"`` answer is held back (real time; in process nothing waits)."""
        self._refusals: list[tuple[int, str]] = []
        self._error_rng = random.Random(seed * 6271 + 1)  # noqa: S311 - fault draws, not secrets
        self._drop_rng = random.Random(seed * 6271 + 2)  # noqa: S311
        self._loss_rng = random.Random(seed * 6271 + 3)  # noqa: S311

    @property
    def write_answer_loss_mode(self) -> str:
        """How a lost write answer is lost: ``"drop"``, ``"timeout"`` or ``"error"``."""
        return self._write_answer_loss_mode

    @write_answer_loss_mode.setter
    def write_answer_loss_mode(self, mode: str) -> None:
        if mode not in LOSS_MODES:
            raise InvalidArgumentError(f"write_answer_loss_mode must be one of {', '.join(LOSS_MODES)}")
        self._write_answer_loss_mode = mode

    @property
    def pending_refusals(self) -> list[tuple[int, str]]:
        """The ``(status, explanation)`` answers ``refuse_next_writes`` still has in store, next first."""
        return list(self._refusals)

    def refuse_next_writes(
        self, n: int = 1, *, status: int = 400, message: str = "The office's database refused the change."
    ) -> None:
        """Refuse the next ``n`` writes (POST/PUT) with ``status`` and ``message``, applying nothing."""
        if n < 0:
            raise InvalidArgumentError("n must not be negative")
        if not 400 <= status <= 599:
            raise InvalidArgumentError("status must be a 4xx or 5xx")
        self._refusals.extend([(status, message)] * n)

    def refuse_next_write(
        self, *, status: int = 400, message: str = "The office's database refused the change."
    ) -> None:
        """Refuse the next write (one ``refuse_next_writes``)."""
        self.refuse_next_writes(1, status=status, message=message)

    def reset(self) -> None:
        """Switch every fault off again, so that one test's faults do not leak into the next."""
        self.latency = dt.timedelta(0)
        self.error_rate = 0.0
        self.drop_rate = 0.0
        self.econnector_down = False
        self.write_answer_loss = 0.0
        self._write_answer_loss_mode = "drop"
        self.answer_hold = 5.0
        self._refusals.clear()

    # draws used by the app and the transport
    def take_refusal(self) -> tuple[int, str] | None:
        return self._refusals.pop(0) if self._refusals else None

    def draw_error(self) -> int | None:
        if self.error_rate <= 0:
            return None
        if self._error_rng.random() < self.error_rate:
            return 500 if self._error_rng.random() < 0.5 else 504
        return None

    def draw_answer_loss(self) -> str | None:
        if self.write_answer_loss <= 0:
            return None
        if self._loss_rng.random() < self.write_answer_loss:
            return LOSS_MODES[self._write_answer_loss_mode]
        return None

    def draw_drop(self) -> str | None:
        if self.drop_rate <= 0:
            return None
        if self._drop_rng.random() < self.drop_rate:
            return "after" if self._drop_rng.random() < 0.5 else "before"
        return None


@dataclass
class ServerState:
    clock: Clock
    zone: ZoneInfo
    data: PracticeData
    keys: KeyTable
    faults: OpenDentalFaults
    mode: str
    base_url: str
    throttle: CustomerThrottle = field(default_factory=CustomerThrottle)
    requests: list[LoggedRequest] = field(default_factory=list)
    # switches (see the package docstring)
    throttling: bool = True
    throttle_answer: str = "429"
    reject_overlaps: bool = False
    duplicate_patients: str = "reject"
    error_body: str = "text"
    require_content_type: bool = True
    broken_appointment_procedures: bool = False

    def local_now(self) -> dt.datetime:
        """The office server's wall clock, naive, to the second (what ``serverDateTime`` shows)."""
        return self.clock.now().astimezone(self.zone).replace(tzinfo=None, microsecond=0)

    def today(self) -> dt.date:
        return self.local_now().date()

    def server_time(self) -> str:
        return self.local_now().strftime("%Y-%m-%d %H:%M:%S")

    def page_cap(self, enterprise: bool) -> int:
        """Items per request: 100 remote, 1000 Local API and API Service (OD-impl); Enterprise 1000 and 10,000
        (OD-perms)."""
        if self.mode == "remote":
            return 1000 if enterprise else 100
        return 10000 if enterprise else 1000


@dataclass
class Call:
    """What an endpoint handler sees: the state, the authenticated key, and the parsed request."""

    state: ServerState
    key: ApiKeyEntry
    query: QueryArgs
    body: JsonBody
    path: dict[str, str]
    base: str
    """The API root as the client reached it (``http://host/api/v1``), for ``location`` headers."""

    @property
    def data(self) -> PracticeData:
        return self.state.data

    @property
    def cap(self) -> int:
        return self.state.page_cap(self.key.enterprise)

    def path_num(self, name: str) -> int | None:
        """A primary key from the path, or None if it is not a number (answered as not found)."""
        raw = self.path.get(name, "")
        return int(raw) if raw.isdigit() else None
