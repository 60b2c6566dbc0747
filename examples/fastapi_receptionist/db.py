"""The adapter's own database (SQLAlchemy 2.0; SQLite by default): practices, phone numbers, call log.

PMS credentials are stored only as ``pms_connect.CredentialVault`` envelopes. Nothing that identifies a
patient is stored in the clear: the call log keeps ids, statuses and times offered; what the caller asked a
human for, and the chart a caller was verified as, are vault envelopes bound to the call
(``sealed_transfer``, ``sealed_identity``); the caller's number only as a keyed digest (``caller_key``) that
finds the call again when the caller answers the confirmation text, and cannot be reversed without the key.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, String, Text, create_engine, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

__all__ = [
    "CallChanges",
    "CallLog",
    "CallStatus",
    "Database",
    "IntegrationMethod",
    "PhoneNumber",
    "Practice",
]

T = TypeVar("T")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class IntegrationMethod(str, enum.Enum):
    """How the practice's calls reach Twilio: its number ported in, forwarded by its carrier, or SIP."""

    PORTED = "ported"
    FORWARDED = "forwarded"
    SIP = "sip"


class CallStatus(str, enum.Enum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"


class Base(DeclarativeBase):
    pass


class Practice(Base):
    """One account: a practice whose PMS the assistant reads and writes, through ``provider`` (``"sikka"`` or
    ``"opendental"``: which model ``sealed_credentials`` opens as, and which factory builds its connection)."""

    __tablename__ = "practices"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), default="sikka", server_default="sikka")
    practice_name: Mapped[str | None] = mapped_column(String(200))
    pms_name: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    sealed_credentials: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    connection_ok: Mapped[bool] = mapped_column(default=False)
    last_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_check_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PhoneNumber(Base):
    """A practice's phone line and how calls to it are routed (the original backend's per-number settings)."""

    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("practices.account_id"), index=True)
    twilio_number: Mapped[str] = mapped_column(String(32), unique=True)
    original_phone_number: Mapped[str | None] = mapped_column(String(32), index=True)
    vapi_phone_number_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    vapi_assistant_id: Mapped[str | None] = mapped_column(String(128))
    integration_method: Mapped[IntegrationMethod] = mapped_column(
        Enum(IntegrationMethod, native_enum=False, values_callable=lambda e: [m.value for m in e]),
        default=IntegrationMethod.FORWARDED,
    )
    sip_uri: Mapped[str | None] = mapped_column(String(300))
    ai_enabled: Mapped[bool] = mapped_column(default=True)
    transfer_enabled: Mapped[bool] = mapped_column(default=True)
    staff_forward_number: Mapped[str | None] = mapped_column(String(32))
    staff_sms_number: Mapped[str | None] = mapped_column(String(32))
    practice: Mapped[Practice] = relationship(lazy="joined")

    @property
    def staff_sms_target(self) -> str | None:
        """Where staff texts go: a dedicated mobile if set, else the forwarding number."""
        return self.staff_sms_number or self.staff_forward_number


class CallLog(Base):
    """One row per Vapi call: its status, whether a human was asked for, and the booking it made.

    ``sealed_transfer`` (the reason and summary given for a transfer) and ``sealed_identity`` (the chart the
    caller was verified as, and their number) are vault envelopes for the context ``call:<call_id>``;
    ``caller_key`` is a keyed digest of the caller's number; ``offered`` the times (and providers) read out
    to the caller; ``reply_status`` what the caller's answer to the confirmation text did."""

    __tablename__ = "call_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("practices.account_id"), index=True)
    phone_number_id: Mapped[int | None] = mapped_column(ForeignKey("phone_numbers.id"))
    provider_call_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[CallStatus] = mapped_column(
        Enum(CallStatus, native_enum=False, values_callable=lambda e: [m.value for m in e]),
        default=CallStatus.IN_PROGRESS,
    )
    ended_reason: Mapped[str | None] = mapped_column(String(200))
    caller_key: Mapped[str | None] = mapped_column(String(64), index=True)
    sealed_identity: Mapped[str | None] = mapped_column(Text)
    offered: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    transfer_requested: Mapped[bool] = mapped_column(default=False)
    sealed_transfer: Mapped[str | None] = mapped_column(Text)
    booking_writeback_id: Mapped[str | None] = mapped_column(String(64))
    booking_status: Mapped[str | None] = mapped_column(String(32))
    booked_appointment_id: Mapped[str | None] = mapped_column(String(64))
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_status: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class CallChanges:
    """Fields to set on a call's log row; None leaves a field as it is."""

    account_id: str | None = None
    phone_number_id: int | None = None
    provider_call_id: str | None = None
    status: CallStatus | None = None
    ended_reason: str | None = None
    ended_at: datetime | None = None
    caller_key: str | None = None
    sealed_identity: str | None = None
    offered: list[dict[str, str]] | None = None
    transfer_requested: bool | None = None
    sealed_transfer: str | None = None
    booking_writeback_id: str | None = None
    booking_status: str | None = None
    booked_appointment_id: str | None = None
    booked_at: datetime | None = None
    reply_status: str | None = None

    def apply(self, row: CallLog) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                setattr(row, field.name, value)


class Database:
    """Blocking SQLAlchemy work, offered as coroutines that run it in a worker thread so that the event
    loop (and so every other call in flight) never waits on the database."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            options["connect_args"] = {"check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                options["poolclass"] = StaticPool  # one shared in-memory database, not one per connection
        self.engine = create_engine(url, **options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self, *, attempts: int | None = None) -> None:
        """Create the missing tables and indexes. Safe when several workers start on one empty database:
        each checks what exists and then creates the rest, so a worker that loses the race between the check
        and its ``CREATE`` gets "already exists" (an OperationalError on SQLite, a ProgrammingError or an
        IntegrityError on PostgreSQL) and checks again. Each lost race means another worker created one more
        table or index, so there are at most as many as the schema has; an error that persists beyond that
        (a read-only file, a wrong URL) is raised."""
        schema = Base.metadata.sorted_tables
        attempts = attempts or 1 + len(schema) + sum(len(table.indexes) for table in schema)
        for attempt in range(1, attempts + 1):
            try:
                Base.metadata.create_all(self.engine)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == attempts:
                    raise

    def dispose(self) -> None:
        self.engine.dispose()

    async def ping(self) -> None:
        """One round trip, for the health check."""
        await self._run(lambda s: s.execute(text("SELECT 1")))

    async def _run(self, work: Callable[[Session], T]) -> T:
        def transaction() -> T:
            with self._sessions.begin() as session:
                return work(session)

        return await asyncio.to_thread(transaction)

    # -- practices ------------------------------------------------------------------------------------

    async def get_practice(self, account_id: str) -> Practice | None:
        return await self._run(lambda s: s.get(Practice, account_id))

    async def save_practice(self, practice: Practice) -> Practice:
        """Insert or replace a practice (its credentials, features and last check)."""
        return await self._run(lambda s: s.merge(practice))

    async def record_check(self, account_id: str, *, ok: bool, error: str | None, at: datetime) -> None:
        def work(session: Session) -> None:
            row = session.get(Practice, account_id)
            if row is not None:
                row.connection_ok, row.last_check_error, row.last_check_at, row.updated_at = ok, error, at, at

        await self._run(work)

    # -- phone numbers --------------------------------------------------------------------------------

    async def save_phone_number(self, values: dict[str, Any]) -> PhoneNumber:
        """Insert or update the number ``values["twilio_number"]``."""

        def work(session: Session) -> PhoneNumber:
            row = session.scalar(select(PhoneNumber).where(PhoneNumber.twilio_number == values["twilio_number"]))
            if row is None:
                row = PhoneNumber()
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            session.refresh(row)  # loads the practice relationship before the session closes
            return row

        return await self._run(work)

    async def find_phone_number(
        self, *, vapi_phone_number_id: str | None = None, number: str | None = None
    ) -> PhoneNumber | None:
        """By Vapi's id for the number, else by the number dialled (the Twilio number or the practice's own)."""

        def work(session: Session) -> PhoneNumber | None:
            if vapi_phone_number_id:
                row = session.scalar(
                    select(PhoneNumber).where(PhoneNumber.vapi_phone_number_id == vapi_phone_number_id)
                )
                if row is not None:
                    return row
            if number:
                row = session.scalar(select(PhoneNumber).where(PhoneNumber.twilio_number == number))
                if row is None:
                    row = session.scalars(
                        select(PhoneNumber).where(PhoneNumber.original_phone_number == number)
                    ).first()
                return row
            return None

        return await self._run(work)

    # -- call log -------------------------------------------------------------------------------------

    async def record_call(self, call_id: str, at: datetime, changes: CallChanges | None = None) -> CallLog:
        """Create the call's row if it is new, then apply ``changes``; the row as it now is."""
        changes = changes or CallChanges()

        def work(session: Session) -> CallLog:
            row = session.scalar(select(CallLog).where(CallLog.call_id == call_id))
            if row is None:
                row = CallLog(call_id=call_id, started_at=at, status=CallStatus.IN_PROGRESS)
                session.add(row)
            changes.apply(row)
            row.updated_at = at
            session.flush()
            return row

        try:
            return await self._run(work)
        except IntegrityError:  # another message of the same call created the row meanwhile
            return await self._run(work)

    async def claim_transfer(self, call_id: str, at: datetime, sealed: str | None) -> bool:
        """Mark the call's transfer as requested, once: True for the first request of the call only (in one
        UPDATE, so two messages of one call racing, even on two workers, cannot both win). The first
        request's reason and summary are kept."""

        def work(session: Session) -> bool:
            claimed = session.execute(
                update(CallLog)
                .where(CallLog.call_id == call_id, CallLog.transfer_requested.is_(False))
                .values(transfer_requested=True, sealed_transfer=sealed, updated_at=at)
            )
            return bool(claimed.rowcount)  # type: ignore[attr-defined]

        return await self._run(work)

    async def booking_to_confirm(self, caller_key: str, account_id: str) -> CallLog | None:
        """The caller's latest written booking at the practice that no reply has settled yet."""

        def work(session: Session) -> CallLog | None:
            return session.scalars(
                select(CallLog)
                .where(
                    CallLog.caller_key == caller_key,
                    CallLog.account_id == account_id,
                    CallLog.booking_status == "written",
                    CallLog.booked_appointment_id.is_not(None),
                    CallLog.reply_status.is_(None),
                )
                .order_by(CallLog.booked_at.desc(), CallLog.id.desc())
            ).first()

        return await self._run(work)

    async def get_call(self, call_id: str) -> CallLog | None:
        return await self._run(lambda s: s.scalar(select(CallLog).where(CallLog.call_id == call_id)))
