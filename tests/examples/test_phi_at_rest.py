"""No PHI at rest unless sealed: after a day's work with canary values, the adapter's database file (and
the SDK store beside it) hold none of them in the clear; what staff need is there, sealed for its call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pms_connect.matching import normalize_phone

from .test_vapi_tools import free_slot, local_iso

EMAIL = "canary.patient@example.org"


def files_of(database: Path) -> bytes:
    """Every byte of a SQLite database: the file and its journal or WAL, if any."""
    found = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        path = Path(str(database) + suffix)
        if path.exists():
            found += path.read_bytes()
    return found


async def test_the_database_holds_no_patient_data_in_the_clear(connected: Any, people: Any) -> None:
    h = connected
    known = people.known
    summary = (
        f"{known.firstname} {known.lastname}, born {known.birthdate.isoformat()}, {people.known_phone}, {EMAIL}"
    )
    reason = f"CANARY-REASON for {known.lastname}"
    verified = await h.tool("get_patient_info", people.details(), caller=people.known_phone)
    assert json.loads(verified["result"])["verified"] is True
    await h.tool("check_availability", {"date": h.weekday(2).isoformat()}, caller=people.known_phone)
    slot = await free_slot(h)
    await h.tool(
        "book_appointment", {"start": local_iso(slot.start), "reason": "CANARY-BOOKING"}, caller=people.known_phone
    )
    await h.eventually(lambda: len(h.texts()) == 1, "the confirmation")
    await h.tool("transfer_to_human", {"reason": reason, "summary": summary}, caller=people.known_phone)
    await h.eventually(lambda: len(h.texts()) == 2, "the staff text")
    await h.services.drain()

    log = await h.call_log()
    # What staff need is kept, sealed for this call: the reason and summary, the chart the caller was verified as.
    assert h.services.open_for_call(h.call_id, log.sealed_transfer) == {"reason": reason, "summary": summary}
    assert h.services.open_for_call(h.call_id, log.sealed_identity)["patientId"] == known.patient_id
    assert log.caller_key == h.services.caller_key(people.known_phone)
    assert log.booking_status == "written"

    h.services.db.dispose()  # flush everything to the file
    stored = files_of(h.database)
    assert b"call_log" in stored  # the right file
    digits = normalize_phone(people.known_phone) or ""
    canaries = {
        "first name": known.firstname,
        "last name": known.lastname,
        "birthdate": known.birthdate.isoformat(),
        "phone": people.known_phone,
        "phone digits": digits,
        "email": EMAIL,
        "transfer reason": "CANARY-REASON",
    }
    leaked = {what: value for what, value in canaries.items() if value.encode() in stored}
    assert leaked == {}
    store = files_of(h.database.with_suffix(".pms.db"))  # the SDK's store: request bodies are sealed there
    assert b"CREATE TABLE" in store
    assert {what: value for what, value in canaries.items() if value.encode() in store} == {}
    assert b"CANARY-BOOKING" not in store
