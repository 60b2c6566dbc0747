"""The sandbox's shared state: world, keys, rate limit, writeback queue, faults and the request log.

One object that the Starlette app, the in-process transport and the Python face all hold, so that a test can
flip a fault or inspect the world between two requests and the next request sees it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError
from pms_connect.sikka.sandbox.auth import KeyStore, RateVerdict, RequestKey, SandboxRateLimit
from pms_connect.sikka.sandbox.data import Office, SandboxApp, World
from pms_connect.sikka.sandbox.writebacks import UtilityStatus, WritebackQueue

__all__ = ["ANSWER_LOSS_MODES", "UNDELIVERED_FAULTS", "Ctx", "RequestRecord", "SandboxFaults", "SandboxState"]

#: the ways ``write_answer_loss`` loses a write's answer, and the ``RequestRecord.fault`` each logs
ANSWER_LOSS_MODES = {"drop": "answer_dropped", "timeout": "answer_timeout", "error": "answer_error"}

#: faults after which the client did not get the app's real answer
UNDELIVERED_FAULTS = frozenset({"connect_error", "dropped", *ANSWER_LOSS_MODES.values()})


@dataclass
class RequestRecord:
    """One HTTP request as the sandbox saw it; ``status`` is None when no answer was produced.

    ``fault`` names an injected fault (``"connect_error"``: never reached the app, ``"dropped"``: the app
    answered but the client never heard, ``"error"``: an injected 5xx, ``"rate_limit_storm"``: an injected 429).
    A write that was queued but whose answer was lost (``write_answer_loss``) is logged with its real
    ``status`` and ``"answer_dropped"`` (connection broken), ``"answer_timeout"`` (answer held back) or
    ``"answer_error"`` (answered 500 instead; ``status`` is then 500).
    """

    method: str
    path: str
    params: dict[str, str]
    at: dt.datetime
    status: int | None = None
    fault: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the client received the answer (``status`` set, and no fault that lost it)."""
        return self.status is not None and self.fault not in UNDELIVERED_FAULTS


class SandboxFaults:
    """Switchable misbehaviour, deterministic from the sandbox seed. Everything is off by default.

    Reach it as ``sandbox.faults`` (the sandbox makes it); it is also what the control endpoint switches.

    ``write_answer_loss`` is the probability that a write (a POST/PUT/PATCH writeback request) is handled
    and queued exactly as without the fault, but its answer does not reach the client, in the way
    ``write_answer_loss_mode`` says: ``"drop"`` (the connection breaks), ``"timeout"`` (in process
    ``httpx.ReadTimeout``; served, the answer is held back ``answer_hold`` seconds of real time) or
    ``"error"`` (a 500 with Sikka's API2001 body instead of the real answer). Refused writes (4xx) answer
    as usual. ``log_delay`` is how long after submission a writeback shows in ``GET writebacks`` and
    ``GET writeback_status`` (before that it is left out, and its status answers 204).
    """

    def __init__(self, seed: int, keys: KeyStore, queue: WritebackQueue, utility: UtilityStatus) -> None:
        self.latency: dt.timedelta = dt.timedelta(0)
        """Added to every request, on the sandbox clock (a FakeClock skips it; a real clock waits)."""
        self.error_rate: float = 0.0
        """The probability that a request is answered 500 or 503 (half each) instead of being served."""
        self.drop_rate: float = 0.0
        """The probability that the transport drops a request's connection (see ``SandboxTransport``)."""
        self.data_insert_in_progress: bool = False
        self.rate_limit_headers: bool = True
        """Whether answers carry ``X-Rate-Limit-*`` (gs.txt shows them; a client must keep the budget without)."""
        """Answer reads with ``Data-Insert: in progress``, as Sikka does while it reloads a practice's data."""
        self.write_answer_loss: float = 0.0
        """The probability that a queued write's answer is lost (see ``write_answer_loss_mode``)."""
        self._write_answer_loss_mode = "drop"
        self.answer_hold: float = 5.0
        """Seconds a served "timeout" answer is held back (real time; in process nothing waits)."""
        self._keys = keys
        self._queue = queue
        self._utility = utility
        self._storm = 0
        self._error_rng = random.Random(seed * 7919 + 1)
        self._drop_rng = random.Random(seed * 7919 + 2)
        self._answer_loss_rng = random.Random(seed * 7919 + 3)

    @property
    def write_answer_loss_mode(self) -> str:
        """How a lost write answer is lost: ``"drop"``, ``"timeout"`` or ``"error"``."""
        return self._write_answer_loss_mode

    @write_answer_loss_mode.setter
    def write_answer_loss_mode(self, mode: str) -> None:
        if mode not in ANSWER_LOSS_MODES:
            raise InvalidArgumentError(f"write_answer_loss_mode must be one of {', '.join(ANSWER_LOSS_MODES)}")
        self._write_answer_loss_mode = mode

    @property
    def log_delay(self) -> dt.timedelta:
        """How long after submission a writeback shows in Sikka's writeback log; applies to later writes."""
        return self._queue.log_delay

    @log_delay.setter
    def log_delay(self, delay: dt.timedelta) -> None:
        if delay < dt.timedelta(0):
            raise InvalidArgumentError("log_delay must not be negative")
        self._queue.log_delay = delay

    @property
    def pending_storm(self) -> int:
        """How many of the next requests ``rate_limit_storm`` still answers with 429."""
        return self._storm

    @property
    def pending_failures(self) -> list[str]:
        """The reasons ``fail_next_writebacks`` still has in store, next first."""
        return list(self._queue.fail_reasons)

    @property
    def utility_online(self) -> bool:
        """Whether the practice's Sikka utility is running; while offline, writebacks stay pending."""
        return self._utility.online

    @utility_online.setter
    def utility_online(self, online: bool) -> None:
        self._utility.set(online)

    def expire_keys(self) -> None:
        """Force every request key issued so far to expire now (refresh keys stay valid)."""
        self._keys.expire_all()

    def rate_limit_storm(self, n: int) -> None:
        """Answer the next ``n`` requests with 429, whatever the real budget says."""
        self._storm += n

    def fail_next_writebacks(
        self, n: int, reason: str = "Writeback failed in the practice management system."
    ) -> None:
        """Make the next ``n`` writebacks that complete fail with ``reason`` instead of applying."""
        self._queue.fail_reasons.extend([reason] * n)

    def reset(self) -> None:
        """Switch every fault off again, so that one test's faults do not leak into the next."""
        self.latency = dt.timedelta(0)
        self.error_rate = 0.0
        self.drop_rate = 0.0
        self.data_insert_in_progress = False
        self.rate_limit_headers = True
        self.write_answer_loss = 0.0
        self._write_answer_loss_mode = "drop"
        self.answer_hold = 5.0
        self._queue.log_delay = dt.timedelta(0)
        self._storm = 0
        self._queue.fail_reasons.clear()
        self._utility.set(True)

    # draws used by the app and the transport
    def take_storm(self) -> bool:
        """Whether this request is one of a ``rate_limit_storm``'s (counting it): the app asks once a request."""
        if self._storm > 0:
            self._storm -= 1
            return True
        return False

    def draw_error(self) -> int | None:
        """The 5xx status to inject for this request (by ``error_rate``), or None: the app asks once a
        request."""
        if self.error_rate <= 0:
            return None
        if self._error_rng.random() < self.error_rate:
            return 500 if self._error_rng.random() < 0.5 else 503
        return None

    def draw_answer_loss(self) -> str | None:
        """For a write the app queued: the ``RequestRecord.fault`` naming how its answer is lost, or None."""
        if self.write_answer_loss <= 0:
            return None
        if self._answer_loss_rng.random() < self.write_answer_loss:
            return ANSWER_LOSS_MODES[self._write_answer_loss_mode]
        return None

    def draw_drop(self) -> str | None:
        """``"before"`` (the request never arrives), ``"after"`` (the answer is lost), or None."""
        if self.drop_rate <= 0:
            return None
        if self._drop_rng.random() < self.drop_rate:
            return "after" if self._drop_rng.random() < 0.5 else "before"
        return None


@dataclass
class SandboxState:
    clock: Clock
    zone: ZoneInfo
    world: World
    keys: KeyStore
    limiter: SandboxRateLimit
    queue: WritebackQueue
    utility: UtilityStatus
    faults: SandboxFaults
    pms_name: str
    base_url: str
    requests: list[RequestRecord] = field(default_factory=list)
    page_cap: int | None = None

    def today(self) -> dt.date:
        return self.clock.now().astimezone(self.zone).date()

    def set_reject_overlaps(self, reject: bool) -> None:
        """Switch overlap rejection: writebacks already due complete under the old rule, later ones the new."""
        self.queue.process()
        self.queue.reject_overlaps = reject

    def local_now(self) -> dt.datetime:
        return self.clock.now().astimezone(self.zone).replace(tzinfo=None, microsecond=0)

    def practice_ids(self, office_id: str) -> list[str]:
        office = self.world.offices.get(office_id)
        return list(office.practice_ids) if office else []


@dataclass
class Ctx:
    """What a handler knows about its request after authentication."""

    state: SandboxState
    method: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    path_params: Mapping[str, str]
    app: SandboxApp | None = None
    key: RequestKey | None = None
    office: Office | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    rate: RateVerdict | None = None

    @property
    def base(self) -> str:
        return self.state.base_url

    @property
    def world(self) -> World:
        return self.state.world

    def office_practices(self) -> list[str]:
        return self.state.practice_ids(self.office.office_id) if self.office else []
