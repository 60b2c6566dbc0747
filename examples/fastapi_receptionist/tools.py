"""The assistant's four tools: check_availability, get_patient_info, book_appointment, transfer_to_human.

Each tool is a few SDK calls and a sentence: slots, matching, slot re-checks and writeback tracking all
live in pms_connect. What is decided here is what a phone caller may hear: nothing about a chart until
the caller is identified unambiguously, and a booking answered at once, confirmed later by text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from pms_connect import (
    BookingRequest,
    InvalidArgumentError,
    MatchStatus,
    Patient,
    PmsError,
    PmsProvider,
    ProviderKind,
    SlotUnavailableError,
    TimeSlot,
    UnsupportedOperationError,
    WritebackResult,
    WritebackState,
)

from .db import CallChanges, PhoneNumber, Practice
from .services import Services
from .vapi import ToolCall, ToolResult, compact_json, describe

__all__ = ["TOOL_NAMES", "CallContext", "Receptionist", "spoken_time"]

logger = logging.getLogger("examples.fastapi_receptionist.tools")

TOOL_NAMES = ("check_availability", "get_patient_info", "book_appointment", "transfer_to_human")


@dataclass(frozen=True)
class CallContext:
    """Who is calling which practice, from the Vapi message."""

    call_id: str | None
    caller: str | None
    number: PhoneNumber | None

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
    date: dt.date | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    provider_kind: Kind | None = None
    provider_id: str | None = Field(default=None, max_length=64)
    duration_minutes: int | None = Field(default=None, ge=5, le=480)


class PatientArgs(_Args):
    birthdate: dt.date | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)


class BookingArgs(PatientArgs):
    start: datetime
    provider_id: str | None = Field(default=None, max_length=64)
    provider_kind: Kind | None = None
    duration_minutes: int | None = Field(default=None, ge=5, le=480)
    reason: str | None = Field(default=None, max_length=200)


class TransferArgs(_Args):
    reason: str = Field(default="", max_length=500)
    summary: str = Field(default="", max_length=1000)


# -- who is calling -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    status: MatchStatus
    patient: Patient | None = None
    ask_for: str | None = None


_AMBIGUOUS = "Several patients match this caller. Ask for their {ask} to confirm who they are; share nothing else."
_UNKNOWN = (
    "No patient record matches this caller. Ask for their first and last name and date of birth, "
    "or offer to transfer them to the front desk."
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
            return ToolResult(
                tool.id, tool.name, error=f"unknown tool '{tool.name[:64]}'; this server handles {known}"
            )
        try:
            return ToolResult(tool.id, tool.name, result=await handler(call, tool.arguments))
        except ToolFailure as exc:
            error = str(exc)
        except ValidationError as exc:
            error = f"invalid arguments: {describe(exc)}"
        except (InvalidArgumentError, UnsupportedOperationError) as exc:
            error = exc.message  # the SDK's messages carry no PHI
        except PmsError as exc:
            logger.warning("tool %s: the PMS failed (%s %s)", name, type(exc).__name__, exc.code or "")
            error = "The practice's system did not answer. Offer to take a message or transfer to the front desk."
        except Exception as exc:  # an answer must still go back, in its place among the results
            logger.error("tool %s failed unexpectedly: %s", name, type(exc).__name__)
            error = "internal error in the receptionist server; offer to transfer to the front desk"
        return ToolResult(tool.id, tool.name, error=error)

    # -- the tools ------------------------------------------------------------------------------------

    async def check_availability(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = AvailabilityArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        zone = ZoneInfo(practice.timezone)
        today = self._s.now().astimezone(zone).date()
        first = args.date or args.start_date or today
        last = args.date or args.end_date or first + timedelta(days=self._s.settings.search_days - 1)
        if last < today:
            raise ToolFailure("that date has passed; ask for a later one")
        first = max(first, today)
        if last < first:
            raise ToolFailure("endDate is before startDate")
        if (last - first).days > 31:
            raise ToolFailure("ask for at most 31 days at a time")
        duration = self._duration(args.duration_minutes)
        slots = await pms.appointments.find_slots(
            start=first,
            end=last,
            duration=duration,
            provider_id=args.provider_id,
            kinds=_kinds(args.provider_kind),
            limit=200,
        )
        if not slots:
            return (
                f"No open times from {spoken_day(first)} to {spoken_day(last)}. "
                "Offer other dates or a call back from the front desk."
            )
        names = await _provider_names(pms)
        offers = "; ".join(_offer(slot, names) for slot in spread(slots, self._s.settings.slots_offered))
        return f"Open times: {offers}."

    async def get_patient_info(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = PatientArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        identity = await self._identify(pms, call, args)
        if identity.status is MatchStatus.AMBIGUOUS:
            message = _AMBIGUOUS.format(ask=identity.ask_for)
            return compact_json({"status": "ambiguous", "askFor": identity.ask_for, "message": message})
        if identity.patient is None:
            return compact_json({"status": "not_found", "message": _UNKNOWN})
        patient = identity.patient
        verified = args.birthdate is not None and patient.birthdate == args.birthdate
        answer: dict[str, Any] = {
            "status": "found",
            "firstName": patient.preferred_name or patient.first_name,
            "verified": verified,
        }
        if verified:
            answer["upcomingAppointments"] = await self._upcoming(pms, practice, patient)
        else:
            answer["message"] = (
                "Confirm the caller's date of birth before discussing appointments or their account."
            )
        return compact_json(answer)

    async def book_appointment(self, call: CallContext, raw: dict[str, Any]) -> str:
        args = BookingArgs.model_validate(raw)
        practice, pms = await self._practice(call)
        zone = ZoneInfo(practice.timezone)
        # A time without an offset is the practice's wall clock, as the caller said it.
        start = args.start.astimezone(zone) if args.start.tzinfo else args.start.replace(tzinfo=zone)
        if start <= self._s.now():
            raise ToolFailure("that time has passed; ask for a later one")
        identity = await self._identify(pms, call, args)
        if identity.status is MatchStatus.AMBIGUOUS:
            return (
                "Not booked yet. " + _AMBIGUOUS.format(ask=identity.ask_for) + " Then call book_appointment again."
            )
        if identity.patient is None:
            return "Not booked. " + _UNKNOWN + " New patients are registered by the front desk."
        duration = self._duration(args.duration_minutes)
        kinds = _kinds(args.provider_kind)
        provider_id, operatory = args.provider_id, None
        if provider_id is None:
            free = await pms.appointments.find_slots(
                start=start, end=_after(start, duration), duration=duration, kinds=kinds
            )
            slot = next((s for s in free if s.start == start), None)
            if slot is None or slot.provider_id is None:
                return await self._alternatives(pms, start, duration, args, "That time is not available.")
            provider_id, operatory = slot.provider_id, slot.operatory
        request = BookingRequest(
            patient_id=identity.patient.id,
            provider_id=provider_id,
            start=start,
            duration=duration,
            operatory=operatory,
            reason=args.reason,
        )
        with_whom = (await _provider_names(pms)).get(provider_id, "our team")  # before: nothing may fail after
        try:
            handle = await pms.appointments.book(request)
        except SlotUnavailableError:
            return await self._alternatives(pms, start, duration, args, "That time was just taken.")
        # The request is on its way to the PMS: from here on the caller must hear that it was sent.
        # The PMS's tracking id when it acknowledged the write; the SDK's journal id while its answer is lost.
        tracking_id = handle.writeback_id or handle.id
        await self._log(
            call, CallChanges(booking_writeback_id=tracking_id, booking_status=WritebackState.PENDING.value)
        )
        pms.writebacks.on_complete(handle, self._confirm_by_text(call, practice, start))
        return (
            f"I've sent the request for {spoken_time(start)} with {with_whom} and will text you the confirmation."
        )

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
        """Log the request, text the staff, and return the number to transfer to (None: no transfer)."""
        number = call.number
        if number is None:
            raise ToolFailure("this call's phone number is not set up with a practice")
        destination = number.staff_forward_number if number.transfer_enabled else None
        await self._log(
            call,
            CallChanges(transfer_requested=True, transfer_reason=reason or None, transfer_summary=summary or None),
        )
        if destination is None:
            return None
        text = (
            f"Call transfer from {call.caller or 'an unknown number'}. "
            f"Reason: {reason or 'not given'}. Summary: {summary or 'none'}."
        )
        self._s.spawn(self._s.text(number.staff_sms_target, text, purpose="transfer"), name="sms-transfer")
        return destination

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

    def _duration(self, minutes: int | None) -> timedelta:
        return timedelta(minutes=minutes or self._s.settings.visit_minutes)

    async def _identify(self, pms: PmsProvider, call: CallContext, args: PatientArgs) -> Identity:
        """The caller's chart: by caller id (birthdate and name break ties), else by name and birthdate."""
        if call.caller:
            match = await pms.patients.match(
                phone=call.caller, first_name=args.first_name, last_name=args.last_name, birthdate=args.birthdate
            )
            if match.status is MatchStatus.EXACT:
                return Identity(MatchStatus.EXACT, match.patient)
            if match.status is MatchStatus.AMBIGUOUS:
                return Identity(MatchStatus.AMBIGUOUS, ask_for=_what_to_ask(args))
        name = " ".join(part for part in (args.first_name, args.last_name) if part)
        if args.birthdate is not None and name:
            found = await pms.patients.search(name=name, birthdate=args.birthdate)
            if len(found) == 1:
                return Identity(MatchStatus.EXACT, found[0])
            if found:
                return Identity(MatchStatus.AMBIGUOUS, ask_for=_what_to_ask(args))
        return Identity(MatchStatus.NONE)

    async def _upcoming(self, pms: PmsProvider, practice: Practice, patient: Patient) -> list[str]:
        today = self._s.now().astimezone(ZoneInfo(practice.timezone)).date()
        appointments = await pms.appointments.list(
            start=today, end=today + timedelta(days=180), patient_id=patient.id
        ).all()
        names = await _provider_names(pms)
        upcoming = sorted(
            (a for a in appointments if not a.cancelled and a.start > self._s.now()), key=lambda a: a.start
        )
        return [f"{spoken_time(a.start)} with {names.get(a.provider_id or '', 'our team')}" for a in upcoming[:3]]

    async def _alternatives(
        self, pms: PmsProvider, start: datetime, duration: timedelta, args: BookingArgs, lead: str
    ) -> str:
        slots = await pms.appointments.find_slots(
            start=start,
            end=start + timedelta(days=self._s.settings.search_days),
            duration=duration,
            provider_id=args.provider_id,
            kinds=_kinds(args.provider_kind),
            limit=200,
        )
        if not slots:
            return f"{lead} There are no other open times soon; offer a call back from the front desk."
        names = await _provider_names(pms)
        offers = "; ".join(_offer(slot, names) for slot in spread(slots, self._s.settings.slots_offered))
        return f"{lead} Not booked. The next open times are: {offers}. Ask which one suits the caller."

    def _confirm_by_text(
        self, call: CallContext, practice: Practice, start: datetime
    ) -> Callable[[WritebackResult], Awaitable[None]]:
        """What happens when the PMS has applied (or refused) the booking: texts and the call log."""
        office = practice.practice_name or "Your dental office"
        when = spoken_time(start)
        staff = call.number.staff_sms_target if call.number is not None else None

        async def confirm(result: WritebackResult) -> None:
            await self._log(
                call, CallChanges(booking_status=result.status.value, booked_appointment_id=result.created_id)
            )
            if result.status is WritebackState.WRITTEN:
                await self._s.text(
                    call.caller,
                    f"{office}: your appointment on {when} is booked. See you then!",
                    purpose="booking",
                )
                return
            await self._s.text(
                call.caller,
                f"{office}: we could not confirm your appointment request for {when}. "
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


def _what_to_ask(args: PatientArgs) -> str:
    if args.birthdate is None:
        return "date of birth"
    if not (args.first_name and args.last_name):
        return "first and last name"
    return "full name and date of birth again, or transfer them to the front desk"


def _kinds(kind: Kind | None) -> list[ProviderKind] | None:
    return None if kind in (None, "any") else [ProviderKind(kind)]


def _after(start: datetime, duration: timedelta) -> datetime:
    """``duration`` of elapsed time after ``start`` (wall-clock addition is an hour off across DST)."""
    return (start.astimezone(timezone.utc) + duration).astimezone(start.tzinfo)


async def _provider_names(pms: PmsProvider) -> dict[str, str]:
    """How to name each provider to a caller: "Dr. Ana Lee" for a dentist, "hygienist Ana Ruiz"."""
    names = {}
    for provider in await pms.providers.list(active_only=True).all():
        if provider.kind is ProviderKind.DENTIST:
            names[provider.id] = f"Dr. {provider.display_name}"
        elif provider.kind is ProviderKind.HYGIENIST:
            names[provider.id] = f"hygienist {provider.display_name}"
        else:
            names[provider.id] = provider.display_name
    return names


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
