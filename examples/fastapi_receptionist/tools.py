"""The assistant's four tools: check_availability, get_patient_info, book_appointment, transfer_to_human.

Each tool is a few SDK calls and a sentence: slots, matching, slot re-checks and writeback tracking all
live in pms_connect. What is decided here is what a phone caller may hear:

* **nothing about a chart, and no booking, before the caller is verified**: the calling number only finds
  candidates (caller ID can be spoofed); a second factor must match one chart: the first and last name and
  the date of birth (``Settings.verification = "name_and_birthdate"``, the default) or the date of birth of
  a chart with the calling number (``"birthdate"``). The answer says what to ask for, and never whether
  the number belongs to a patient. Once verified, the call log keeps the chart's id sealed for the rest of
  the call, so the caller is not asked twice;
* **"sent" only for a request the PMS acknowledged**: when its answer was lost, the caller hears that the
  request is not confirmed yet; the text that follows says what really happened;
* **fast**: a booking's reads go out together (identification, the slot search when the time was not one
  offered in this call, the provider names from the SDK's reference cache), then the SDK's booking.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from pms_connect import (
    BookingRequest,
    InvalidArgumentError,
    Patient,
    PmsError,
    PmsProvider,
    Provider,
    ProviderKind,
    SlotUnavailableError,
    TimeSlot,
    UnsupportedOperationError,
    VaultError,
    WritebackResult,
    WritebackState,
)
from pms_connect.matching import normalize_phone, patient_matches

from .db import CallChanges, CallLog, PhoneNumber, Practice
from .services import Services
from .vapi import ToolCall, ToolResult, compact_json, describe

__all__ = ["TOOL_NAMES", "CallContext", "Receptionist", "spoken_time"]

logger = logging.getLogger("examples.fastapi_receptionist.tools")

TOOL_NAMES = ("check_availability", "get_patient_info", "book_appointment", "transfer_to_human")

T = TypeVar("T")


@dataclass(frozen=True)
class CallContext:
    """Who is calling which practice, from the Vapi message, and the call's log row as it was then."""

    call_id: str | None
    caller: str | None
    number: PhoneNumber | None
    log: CallLog | None = None

    @property
    def practice(self) -> Practice | None:
        return self.number.practice if self.number is not None else None


class ToolFailure(Exception):
    """A tool cannot do what was asked; the text goes back to the assistant as the call's ``error``."""


# -- arguments (camelCase or snake_case, extra keys ignored) ------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", str_strip_whitespace=True
    )


Kind = Literal["dentist", "hygienist", "any"]


class AvailabilityArgs(_Args):
    """Open appointment times. Give one day (date) or a range (startDate, endDate); no date: the coming week."""

    date: dt.date | None = Field(default=None, description="One day, YYYY-MM-DD.")
    start_date: dt.date | None = Field(default=None, description="First day of a range, YYYY-MM-DD.")
    end_date: dt.date | None = Field(default=None, description="Last day of a range, YYYY-MM-DD.")
    provider_kind: Kind | None = Field(default=None, description="Who the visit is with.")
    provider_id: str | None = Field(default=None, max_length=64, description="A provider's id, if one was named.")
    duration_minutes: int | None = Field(default=None, ge=5, le=480, description="Length of the visit.")


class PatientArgs(_Args):
    """Identify the caller. Ask for their first and last name and date of birth first, and pass them: nothing
    about a patient is shared until they match."""

    birthdate: dt.date | None = Field(default=None, description="The caller's date of birth, YYYY-MM-DD.")
    first_name: str | None = Field(default=None, max_length=100, description="The caller's first name.")
    last_name: str | None = Field(default=None, max_length=100, description="The caller's last name.")


class BookingArgs(PatientArgs):
    """Book one of the offered times for the caller (verified by name and date of birth, passed here too
    unless get_patient_info already verified them in this call)."""

    start: datetime = Field(description="The practice's local time, YYYY-MM-DDTHH:MM.")
    provider_id: str | None = Field(default=None, max_length=64, description="A provider's id, if one was named.")
    provider_kind: Kind | None = Field(default=None, description="Who the visit is with.")
    duration_minutes: int | None = Field(default=None, ge=5, le=480, description="Length of the visit.")
    reason: str | None = Field(default=None, max_length=200, description="Why the caller is coming in.")


class TransferArgs(_Args):
    """Hand the call to the front desk; the staff are texted the reason and a short summary."""

    reason: str = Field(default="", max_length=500, description="Why the caller wants a person.")
    summary: str = Field(default="", max_length=1000, description="A one-sentence summary of the call so far.")


ARGUMENTS: dict[str, type[_Args]] = {
    "check_availability": AvailabilityArgs,
    "get_patient_info": PatientArgs,
    "book_appointment": BookingArgs,
    "transfer_to_human": TransferArgs,
}
"""Each tool's arguments: what the tool definitions given to Vapi are generated from (``definitions.py``)."""

_DATE_FIELDS = {"date", "startDate", "endDate", "start_date", "end_date", "start", "birthdate"}


# -- who is calling -----------------------------------------------------------------------------------


class Verification(str, enum.Enum):
    VERIFIED = "verified"
    NEEDS = "needs_verification"
    AMBIGUOUS = "ambiguous"
    MISMATCH = "not_verified"


@dataclass(frozen=True)
class Identity:
    status: Verification
    patient_id: str | None = None
    first_name: str | None = None
    ask_for: str | None = None
    remember: CallChanges | None = None
    """What the call log should keep of a fresh verification (written alongside the next PMS request)."""


_MISMATCH = (
    "The details given do not match a patient record: share nothing about any patient. Ask the caller to "
    "repeat their first and last name and date of birth once; otherwise offer to transfer them to the front desk "
    "(new patients are registered by the front desk)."
)
_AMBIGUOUS = (
    "More than one patient record matches these details: share nothing and offer to transfer the caller to "
    "the front desk."
)

Handler = Callable[[CallContext, dict[str, Any]], Awaitable[str]]


class Receptionist:
    """Runs tool calls for one app; never raises: every failure becomes the call's ``error`` line."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._handlers: dict[str, Handler] = {
            "check_availability": self.check_availability,
            "get_patient_info": self.get_patient_info,
            "book_appointment": self.book_appointment,
            "transfer_to_human": self.transfer_to_human,
        }

    async def run(self, call: CallContext, tool: ToolCall, *, as_tool: str | None = None) -> ToolResult:
        """Answer one call. ``as_tool`` is set by the per-tool routes, whose URL names the tool."""
        name = as_tool or tool.name.strip().lower().replace("-", "_")
        if tool.problem is not None:
            return ToolResult(tool.id, tool.name, error=tool.problem)
        handler = self._handlers.get(name)
        if handler is None:
            known = ", ".join(TOOL_NAMES)
            return ToolResult(tool.id, tool.name, error=f"unknown tool '{tool.name}'; this server handles {known}")
        try:
            return ToolResult(tool.id, tool.name, result=await handler(call, tool.arguments))
        except ToolFailure as exc:
            error = str(exc)
        except ValidationError as exc:
            error = _invalid_arguments(exc)
        except (InvalidArgumentError, UnsupportedOperationError) as exc:
            error = exc.message  # the SDK's messages carry no PHI
        except PmsError as exc:
            logger.warning(
                "call %s: tool %s: the PMS failed (%s %s)", call.call_id, name, type(exc).__name__, exc.code or ""
            )
            error = "The practice's system did not answer. Offer to take a message or transfer to the front desk."
        except Exception as exc:  # an answer must still go back, in its place among the results
            logger.error("call %s: tool %s failed unexpectedly: %s", call.call_id, name, type(exc).__name__)
            error = "internal error in the receptionist server; offer to transfer to the front desk"
        return ToolResult(tool.id, tool.name, error=error)

    # -- the tools ------------------------------------------------------------------------------------

    async def check_availability(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = AvailabilityArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        today = self._today(practice)
        horizon = self._horizon(today)
        first = args.date or args.start_date or today
        if first > horizon:
            return self._too_far(horizon)
        last = args.date or args.end_date or min(first + timedelta(days=self._s.settings.search_days - 1), horizon)
        if last < today:
            raise ToolFailure("that date has passed; ask for a later one")
        first, last = max(first, today), min(last, horizon)
        if last < first:
            raise ToolFailure("endDate is before startDate")
        if (last - first).days > 31:
            raise ToolFailure("ask for at most 31 days at a time")
        duration = self._duration(args.duration_minutes)
        slots, providers = await asyncio.gather(
            pms.appointments.find_slots(
                start=first,
                end=last,
                duration=duration,
                provider_id=args.provider_id,
                kinds=_kinds(args.provider_kind),
                limit=200,
            ),
            _providers(pms),
        )
        if not slots:
            return (
                f"No open times from {spoken_day(first)} to {spoken_day(last)}. "
                "Offer other dates or a call back from the front desk."
            )
        offered = spread(slots, self._s.settings.slots_offered)
        await self._remember_offers(call, offered, providers)
        names = _names(providers)
        return f"Open times: {'; '.join(_offer(slot, names) for slot in offered)}."

    async def get_patient_info(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = PatientArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        identity = await self._identify(pms, call, args)
        if identity.status is Verification.NEEDS:
            return compact_json(
                {
                    "status": identity.status.value,
                    "askFor": identity.ask_for,
                    "message": f"Before sharing anything, ask the caller for their {identity.ask_for}, "
                    "then call get_patient_info again with it.",
                }
            )
        if identity.status is Verification.AMBIGUOUS:
            return compact_json({"status": identity.status.value, "message": _AMBIGUOUS})
        if identity.status is Verification.MISMATCH or identity.patient_id is None:
            return compact_json({"status": Verification.MISMATCH.value, "message": _MISMATCH})
        upcoming, _ = await asyncio.gather(
            self._upcoming(pms, practice, identity.patient_id), self._remember(call, identity)
        )
        return compact_json(
            {
                "status": "found",
                "verified": True,
                "firstName": identity.first_name,
                "upcomingAppointments": upcoming,
            }
        )

    async def book_appointment(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = BookingArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        zone = ZoneInfo(practice.timezone)
        horizon = self._horizon(self._today(practice))
        if args.start.date() > horizon:  # before any arithmetic: year 9999 plus a zone offset overflows
            return "Not booked. " + self._too_far(horizon)
        # A time without an offset is the practice's wall clock, as the caller said it.
        start = args.start.astimezone(zone) if args.start.tzinfo else args.start.replace(tzinfo=zone)
        if start <= self._s.now():
            raise ToolFailure("that time has passed; ask for a later one")
        duration = self._duration(args.duration_minutes)
        kinds = _kinds(args.provider_kind)
        provider_id, operatory = args.provider_id, None
        offered = None if provider_id is not None else _offered(call, start, args.provider_kind)
        search = provider_id is None and offered is None
        # Everything the booking needs to know, read at once: one round trip instead of three in a row.
        identity, free, providers = await asyncio.gather(
            self._identify(pms, call, args),
            pms.appointments.find_slots(start=start, end=_after(start, duration), duration=duration, kinds=kinds)
            if search
            else _nothing(list[TimeSlot]()),
            _providers(pms),
        )
        if identity.status is Verification.NEEDS:
            return (
                f"Not booked yet. To book, I need the caller's {identity.ask_for}: ask for it, then call "
                "book_appointment again with it."
            )
        if identity.status is Verification.AMBIGUOUS:
            return "Not booked. " + _AMBIGUOUS
        if identity.status is Verification.MISMATCH or identity.patient_id is None:
            return "Not booked. " + _MISMATCH
        if offered is not None:
            provider_id, operatory = offered
        elif search:
            slot = next((s for s in free if s.start == start), None)
            if slot is None or slot.provider_id is None:
                return await self._alternatives(pms, start, duration, args, "That time is not available.")
            provider_id, operatory = slot.provider_id, slot.operatory
        assert provider_id is not None
        request = BookingRequest(
            patient_id=identity.patient_id,
            provider_id=provider_id,
            start=start,
            duration=duration,
            operatory=operatory,
            reason=args.reason,
        )
        with_whom = _names(providers).get(provider_id, "our team")
        try:
            handle, _ = await asyncio.gather(pms.appointments.book(request), self._remember(call, identity))
        except SlotUnavailableError:
            return await self._alternatives(pms, start, duration, args, "That time was just taken.")
        # The request may be on its way to the PMS: from here on nothing may fail the answer.
        # The PMS's tracking id when it acknowledged the write; the SDK's journal id while its answer is lost.
        tracking_id = handle.writeback_id or handle.id
        pms.writebacks.on_complete(handle, self._confirm_by_text(call, practice, start, with_whom))
        await self._log(
            call,
            CallChanges(
                booking_writeback_id=tracking_id,
                booking_status=WritebackState.PENDING.value if handle.acknowledged else "unconfirmed",
                caller_key=self._s.caller_key(call.caller),
            ),
        )
        when = spoken_time(start)
        if not handle.acknowledged:
            return (
                f"The practice's system did not confirm that it received the request for {when} with {with_whom}. "
                "Do not tell the caller it is booked: say we are checking and will text them within a few "
                "minutes whether it went through."
            )
        return f"I've sent the request for {when} with {with_whom} and will text you the confirmation."

    async def transfer_to_human(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = TransferArgs.model_validate(raw)
        destination = await self.request_transfer(call, reason=args.reason, summary=args.summary)
        if destination is None:
            return compact_json(
                {
                    "transfer": False,
                    "message": "Transfers are not available now: offer to take a message for the front desk.",
                }
            )
        return compact_json(
            {"transfer": True, "destination": destination, "message": "Connecting you with our front desk now."}
        )

    async def request_transfer(self, call: CallContext, *, reason: str, summary: str) -> str | None:
        """Log the request (its reason and summary sealed), text the staff once per call, and return the
        number to transfer to (None: no transfer). A second request in the same call keeps the first one's
        reason and sends no second text."""
        number = call.number
        if number is None:
            raise ToolFailure("this call's phone number is not set up with a practice")
        destination = number.staff_forward_number if number.transfer_enabled else None
        first = True
        if call.call_id:
            sealed = (
                self._s.seal_for_call(call.call_id, {"reason": reason, "summary": summary})
                if reason or summary
                else None
            )
            try:
                await self._s.db.record_call(call.call_id, self._s.now())
                first = await self._s.db.claim_transfer(call.call_id, self._s.now(), sealed)
            except Exception as exc:  # the staff text matters more than the log
                logger.error("call %s: the transfer could not be logged (%s)", call.call_id, type(exc).__name__)
        if destination is None:
            return None
        if first:
            text = (
                f"Call transfer from {call.caller or 'an unknown number'}. "
                f"Reason: {reason or 'not given'}. Summary: {summary or 'none'}."
            )
            self._s.spawn(self._s.text(number.staff_sms_target, text, purpose="transfer"), name="sms-transfer")
        else:
            logger.info("call %s: transfer asked for again; the staff were texted already", call.call_id)
        return destination

    # -- who is calling -------------------------------------------------------------------------------

    async def _identify(self, pms: PmsProvider, call: CallContext, args: PatientArgs) -> Identity:
        """Verify the caller by the policy in ``Settings.verification`` (see the module docstring)."""
        given = args.birthdate is not None or bool(args.first_name) or bool(args.last_name)
        earlier = self._verified_earlier(call)
        if earlier is not None and not given:
            return earlier
        ask = self._missing_factors(call, args)
        if ask is not None:
            return Identity(Verification.NEEDS, ask_for=ask)
        birthdate = args.birthdate
        name = " ".join(part for part in (args.first_name, args.last_name) if part) or None

        def fits(patient: Patient) -> bool:
            return patient.birthdate == birthdate and (name is None or patient_matches(patient, name=name))

        # The calling number's charts first: one light request, and the usual caller is among them. Only a
        # caller from another number (or a number several charts share) needs the search by name and date
        # of birth, which reads far more.
        by_phone = await pms.patients.search(phone=call.caller) if normalize_phone(call.caller) else []
        pool = [p for p in by_phone if fits(p)]
        if len(pool) != 1 and name:
            by_details = [p for p in await pms.patients.search(name=name, birthdate=birthdate) if fits(p)]
            if self._s.settings.verification == "birthdate":
                pool = pool or by_details
            else:
                with_number = [p for p in by_details if any(q.id == p.id for q in by_phone)]
                pool = with_number if len(by_details) > 1 and with_number else by_details
        if len(pool) > 1:
            return Identity(Verification.AMBIGUOUS)
        if not pool:
            return Identity(Verification.MISMATCH)
        patient = pool[0]
        first_name = patient.preferred_name or patient.first_name
        remember = None
        if call.call_id:
            kept = {"patientId": patient.id, "firstName": first_name, "caller": normalize_phone(call.caller) or ""}
            remember = CallChanges(sealed_identity=self._s.seal_for_call(call.call_id, kept))
        return Identity(Verification.VERIFIED, patient.id, first_name, remember=remember)

    async def _remember(self, call: CallContext, identity: Identity) -> None:
        if identity.remember is not None:
            await self._log(call, identity.remember)

    def _missing_factors(self, call: CallContext, args: PatientArgs) -> str | None:
        """What the caller must still say, in words the assistant can use, or None."""
        by_number = self._s.settings.verification == "birthdate" and normalize_phone(call.caller) is not None
        needs_name = not by_number and not (args.first_name and args.last_name)
        if needs_name and args.birthdate is None:
            return "first and last name and date of birth"
        if needs_name:
            return "first and last name"
        if args.birthdate is None:
            return "date of birth"
        return None

    def _verified_earlier(self, call: CallContext) -> Identity | None:
        """The chart this caller was verified as earlier in the call (same call, same number), if any."""
        if call.log is None or not call.log.sealed_identity or not call.call_id:
            return None
        try:
            kept = self._s.open_for_call(call.call_id, call.log.sealed_identity)
        except VaultError:
            return None
        if kept.get("caller", "") != (normalize_phone(call.caller) or ""):
            return None
        return Identity(Verification.VERIFIED, str(kept["patientId"]), kept.get("firstName"))

    # -- helpers --------------------------------------------------------------------------------------

    async def _practice(self, call: CallContext) -> tuple[Practice, PmsProvider]:
        practice = call.practice
        if practice is None:
            raise ToolFailure("this call's phone number is not set up with a practice; offer a transfer")
        return practice, await self._s.connections.get(practice)

    async def _log(self, call: CallContext, changes: CallChanges) -> None:
        """Update the call log; a database failure is logged, never allowed to change what the caller hears."""
        if not call.call_id:
            return
        try:
            await self._s.db.record_call(call.call_id, self._s.now(), changes)
        except Exception as exc:
            logger.error("call %s: the call log could not be updated (%s)", call.call_id, type(exc).__name__)

    def _today(self, practice: Practice) -> dt.date:
        return self._s.now().astimezone(ZoneInfo(practice.timezone)).date()

    def _horizon(self, today: dt.date) -> dt.date:
        return today + timedelta(days=self._s.settings.booking_horizon_days)

    def _too_far(self, horizon: dt.date) -> str:
        return (
            f"That date is too far ahead: the practice books up to {spoken_day(horizon)}, {horizon.year}. "
            "Ask the caller for an earlier date."
        )

    def _duration(self, minutes: int | None) -> timedelta:
        return timedelta(minutes=minutes or self._s.settings.visit_minutes)

    async def _remember_offers(
        self, call: CallContext, slots: Sequence[TimeSlot], providers: dict[str, Provider]
    ) -> None:
        """The times read out, so that booking one of them needs no second slot search."""
        if not call.call_id:
            return
        earlier = list(call.log.offered or []) if call.log is not None else []
        offers = [
            {
                "start": slot.start.isoformat(),
                "providerId": slot.provider_id or "",
                "operatory": slot.operatory or "",
                "kind": providers[slot.provider_id].kind.value if slot.provider_id in providers else "",
            }
            for slot in slots
            if slot.provider_id
        ]
        await self._log(call, CallChanges(offered=(earlier + offers)[-20:]))

    async def _upcoming(self, pms: PmsProvider, practice: Practice, patient_id: str) -> list[str]:
        today = self._today(practice)
        appointments, providers = await asyncio.gather(
            pms.appointments.list(start=today, end=today + timedelta(days=180), patient_id=patient_id).all(),
            _providers(pms),
        )
        names = _names(providers)
        upcoming = sorted(
            (a for a in appointments if not a.cancelled and a.start > self._s.now()), key=lambda a: a.start
        )
        return [f"{spoken_time(a.start)} with {names.get(a.provider_id or '', 'our team')}" for a in upcoming[:3]]

    async def _alternatives(
        self, pms: PmsProvider, start: datetime, duration: timedelta, args: BookingArgs, lead: str
    ) -> str:
        slots, providers = await asyncio.gather(
            pms.appointments.find_slots(
                start=start,
                end=start + timedelta(days=self._s.settings.search_days),
                duration=duration,
                provider_id=args.provider_id,
                kinds=_kinds(args.provider_kind),
                limit=200,
            ),
            _providers(pms),
        )
        if not slots:
            return f"{lead} There are no other open times soon; offer a call back from the front desk."
        names = _names(providers)
        offers = "; ".join(_offer(slot, names) for slot in spread(slots, self._s.settings.slots_offered))
        return f"{lead} Not booked. The next open times are: {offers}. Ask which one suits the caller."

    def _confirm_by_text(
        self, call: CallContext, practice: Practice, start: datetime, with_whom: str
    ) -> Callable[[WritebackResult], Awaitable[None]]:
        """What happens when the PMS has applied (or refused) the booking: texts and the call log. The text
        says what really happened, whatever the caller was told on the phone."""
        office = practice.practice_name or "Your dental office"
        when = spoken_time(start)
        staff = call.number.staff_sms_target if call.number is not None else None

        async def confirm(result: WritebackResult) -> None:
            written = result.status is WritebackState.WRITTEN
            await self._log(
                call,
                CallChanges(
                    booking_status=result.status.value,
                    booked_appointment_id=result.created_id,
                    booked_at=self._s.now() if written else None,
                ),
            )
            if written:
                await self._s.text(
                    call.caller,
                    f"{office}: your appointment on {when} with {with_whom} is booked. Reply C to confirm it, "
                    "or reply with anything else and we will call you.",
                    purpose="booking",
                )
                return
            await self._s.text(
                call.caller,
                f"{office}: we could not book your appointment request for {when}. "
                "Our team will call you to find a time.",
                purpose="booking",
            )
            await self._s.text(
                staff,
                f"A booking the assistant requested for {when} was not applied ({result.status.value}). "
                f"Please call the patient back at {call.caller or 'the number in the call log'}.",
                purpose="booking failure",
            )

        return confirm


async def _nothing(value: T) -> T:
    return value


def _invalid_arguments(exc: ValidationError) -> str:
    """A sentence the assistant can act on; a date it could not read is named as such."""
    errors = exc.errors(include_input=False, include_url=False)
    dates = [
        str(e["loc"][0]) for e in errors if e["loc"] and e["loc"][0] in _DATE_FIELDS and e["type"] != "missing"
    ]
    if dates:
        shape = "YYYY-MM-DDTHH:MM" if dates[0] == "start" else "YYYY-MM-DD"
        return f"I could not read {dates[0]} as a date: ask the caller again, and pass it as {shape}."
    return f"invalid arguments: {describe(exc)}"


def _offered(call: CallContext, start: datetime, kind: Kind | None) -> tuple[str, str | None] | None:
    """The provider and chair of a time offered earlier in this call at ``start`` (of ``kind``), if any."""
    if call.log is None or not call.log.offered:
        return None
    for offer in reversed(call.log.offered):
        try:
            same = datetime.fromisoformat(offer["start"]) == start
        except (KeyError, ValueError, TypeError):
            continue
        if same and offer.get("providerId") and kind in (None, "any", offer.get("kind")):
            return offer["providerId"], offer.get("operatory") or None
    return None


async def _providers(pms: PmsProvider) -> dict[str, Provider]:
    """The practice's active providers, from the provider's reference cache (no request while it is warm)."""
    return {p.id: p for p in await pms.known_providers() if p.active}


def _names(providers: dict[str, Provider]) -> dict[str, str]:
    """How to name each provider to a caller: "Dr. Ana Lee" for a dentist, "hygienist Ana Ruiz"."""
    names = {}
    for provider in providers.values():
        if provider.kind is ProviderKind.DENTIST:
            names[provider.id] = f"Dr. {provider.display_name}"
        elif provider.kind is ProviderKind.HYGIENIST:
            names[provider.id] = f"hygienist {provider.display_name}"
        else:
            names[provider.id] = provider.display_name
    return names


def _kinds(kind: Kind | None) -> list[ProviderKind] | None:
    return None if kind in (None, "any") else [ProviderKind(kind)]


def _after(start: datetime, duration: timedelta) -> datetime:
    """``duration`` of elapsed time after ``start`` (wall-clock addition is an hour off across DST)."""
    return (start.astimezone(timezone.utc) + duration).astimezone(start.tzinfo)


def spread(slots: Sequence[TimeSlot], count: int) -> list[TimeSlot]:
    """A few options a caller can choose between: the earliest, then times at least two hours apart (or
    on another day), then whatever distinct times are left."""
    picked: list[TimeSlot] = []
    for slot in slots:
        if len(picked) == count:
            return picked
        if all(
            slot.start.date() != p.start.date() or abs(slot.start - p.start) >= timedelta(hours=2) for p in picked
        ):
            picked.append(slot)
    for slot in slots:
        if len(picked) == count:
            break
        if all(slot.start != p.start for p in picked):
            picked.append(slot)
    return sorted(picked, key=lambda s: s.start)


def _offer(slot: TimeSlot, names: dict[str, str]) -> str:
    return f"{spoken_time(slot.start)} with {names.get(slot.provider_id or '', 'our team')}"


def spoken_day(day: dt.date) -> str:
    return f"{day:%A, %B} {day.day}"


def spoken_time(moment: datetime) -> str:
    """``Thursday, December 3 at 9:30 AM``: how a receptionist says it (portable: no ``%-d``)."""
    hour = moment.hour % 12 or 12
    return f"{spoken_day(moment.date())} at {hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
