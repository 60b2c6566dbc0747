"""The sandbox served by a real uvicorn on loopback: its base URL, the control endpoint, and a lost write answer
as a remote client sees it (a broken connection), the write applied all the same."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from pms_connect.testing import OpenDentalSandbox

from .conftest import headers_for


@pytest.fixture
def served() -> Iterator[tuple[OpenDentalSandbox, str]]:
    import uvicorn

    sandbox = OpenDentalSandbox(seed=7, mode="service")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield sandbox, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
    assert not thread.is_alive()


def test_served_reads_writes_and_a_lost_answer(served: tuple[OpenDentalSandbox, str]) -> None:
    sandbox, root = served
    headers = headers_for(sandbox.credentials)
    with httpx.Client(base_url=f"{root}/api/v1", timeout=10) as http:
        assert http.get(f"{root}/_sandbox/health").json() == {"status": "ok"}
        assert http.get("/operatories", headers=headers).status_code == 200
        http.post(f"{root}/_sandbox/faults", json={"write_answer_loss": 1.0, "write_answer_loss_mode": "drop"})
        before = len(sandbox.data.appointments)
        booking = {"PatNum": 21, "Op": 6, "AptDateTime": "2026-12-09 05:00:00"}
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.post("/appointments", headers=headers, json=booking)
        assert len(sandbox.data.appointments) == before + 1
        assert sandbox.requests[-1].fault == "answer_dropped"
        http.post(f"{root}/_sandbox/reset")
        created = http.post("/appointments", headers=headers, json=booking)
        assert created.status_code == 201
        assert created.headers["location"] == f"{root}/api/v1/appointments/{created.json()['AptNum']}"
