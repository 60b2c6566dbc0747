"""Fast on the phone: how many PMS round trips a caller waits for, one after another (requests made
together count once). A transport in front of the sandbox records when each request starts and ends, in
the order of events (no clock), and lets every request that is ready start before any is answered; the
round trips of a tool call are the longest chain of its requests each starting after the previous ended."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .test_vapi_tools import free_slot, local_iso

BACKGROUND = ("/v4/writebacks", "/v4/writeback_status")  # the poller's, not the caller's


@dataclass
class Recording(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    events: itertools.count[int] = field(default_factory=itertools.count)
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(50):  # requests started together (asyncio.gather) are all in flight before one ends
            await asyncio.sleep(0)
        started = next(self.events)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        for _ in range(50):
            await asyncio.sleep(0)
        self.spans.append((started, next(self.events), f"{request.method} {request.url.path}"))
        return response

    def round_trips(self) -> int:
        """The longest chain of requests, each started after the one before it ended (greedy by end)."""
        chain, last_end = 0, -1
        for start, end, _ in sorted((s for s in self.spans if not s[2].endswith(BACKGROUND)), key=lambda s: s[1]):
            if start > last_end:
                chain, last_end = chain + 1, end
        return chain


@pytest.fixture
async def measured(open_harness: Any, sandbox: Any) -> AsyncIterator[tuple[Any, Recording]]:
    recording = Recording(sandbox.transport)
    # A MemoryStore: a SqliteStore's work runs in threads, whose timing would decide whether two requests
    # made together happen to overlap at the transport (with a real PMS's latency, they always do).
    async with open_harness(transport=recording, store_url="memory://") as h:
        await h.connect()
        yield h, recording


async def warm(h: Any, people: Any) -> None:
    """The SDK's reference caches (providers, chairs, schedules, features) filled, as after the first
    booking of the day."""
    h.call_id = "call-warm"
    slot = await free_slot(h, days_ahead=5)
    booked = await h.tool(
        "book_appointment", {"start": local_iso(slot.start), **people.details()}, caller=people.known_phone
    )
    assert booked["result"].startswith("I've sent the request")
    h.call_id = "call-measured"


async def trips_of(recording: Recording, h: Any, name: str, args: dict[str, Any], caller: str) -> tuple[int, Any]:
    recording.spans.clear()
    result = await h.tool(name, args, caller=caller)
    return recording.round_trips(), result


async def test_availability_is_one_round_trip(measured: Any, people: Any) -> None:
    """Provider names come from the SDK's cached reference reads, not a providers request each time."""
    h, recording = measured
    await warm(h, people)
    args = {"date": h.weekday(2).isoformat()}
    trips, result = await trips_of(recording, h, "check_availability", args, people.known_phone)
    assert result["result"].startswith("Open times: ")
    assert [s[2] for s in recording.spans if not s[2].endswith(BACKGROUND)] == ["GET /v4/appointments"]
    assert trips == 1


async def test_patient_lookup_is_two_round_trips(measured: Any, people: Any) -> None:
    h, recording = measured
    await warm(h, people)
    trips, result = await trips_of(recording, h, "get_patient_info", people.details(), people.known_phone)
    assert json.loads(result["result"])["verified"] is True
    assert trips == 2  # the two searches together, then the patient's upcoming appointments


async def test_a_booking_in_a_call_that_verified_the_caller_is_two_round_trips(measured: Any, people: Any) -> None:
    """The usual call: identified, told the open times, books one of them. Only the SDK's booking is left:
    its checks and the slot's appointments together, then the write."""
    h, recording = measured
    await warm(h, people)
    await h.tool("get_patient_info", people.details(), caller=people.known_phone)
    slot = await free_slot(h, days_ahead=3)
    offered = await h.tool(
        "check_availability", {"date": slot.start.date().isoformat()}, caller=people.known_phone
    )
    assert offered["result"].startswith("Open times: ")
    first_offer = (await h.call_log()).offered[0]
    start = local_iso(slot.start.fromisoformat(first_offer["start"]))
    trips, result = await trips_of(recording, h, "book_appointment", {"start": start}, people.known_phone)
    assert result["result"].startswith("I've sent the request")
    assert trips == 2


async def test_a_booking_from_scratch_reads_everything_at_once(measured: Any, people: Any) -> None:
    """Identification, the slot search and the provider names in one round trip, then the SDK's two."""
    h, recording = measured
    await warm(h, people)
    slot = await free_slot(h, days_ahead=4)
    args = {"start": local_iso(slot.start), **people.details()}
    trips, result = await trips_of(recording, h, "book_appointment", args, people.known_phone)
    assert result["result"].startswith("I've sent the request")
    assert trips == 3
