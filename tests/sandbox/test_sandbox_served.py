"""The sandbox served by a real uvicorn on loopback, driven over HTTP only: the control endpoint and lost
write answers as a remote client sees them (a broken connection, a timeout, a 500), the write queued each time.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pms_connect.testing import SikkaSandbox

from ..served import serve


@pytest.fixture
def served() -> Iterator[tuple[SikkaSandbox, str]]:
    for served in serve(SikkaSandbox(seed=7)):
        yield served.sandbox, served.root


def test_lost_write_answers_over_a_real_connection(served: tuple[SikkaSandbox, str]) -> None:
    sandbox, root = served
    creds = sandbox.credentials
    with httpx.Client(base_url=root, timeout=10) as http:
        control = f"{root}/_sandbox"
        assert http.get(f"{control}/health").json() == {"status": "ok"}
        grant = {
            "grant_type": "request_key",
            "office_id": creds.office_id,
            "secret_key": creds.secret_key.get_secret_value(),
            "app_id": creds.app_id,
            "app_key": creds.app_key.get_secret_value(),
        }
        key = http.post("/v4/request_key", json=grant).json()["request_key"]
        headers = {"Request-Key": key}

        def write(first: str, timeout: float = 10) -> httpx.Response:
            body = {"firstname": first, "lastname": "Served", "provider_id": "DMD1", "practice_id": "1"}
            return http.post("/v4/patient", json=body, headers=headers, timeout=timeout)

        def queued() -> list[str]:
            return [w["body"]["firstname"] for w in http.get(f"{control}/writebacks").json()]

        def set_faults(**settings: object) -> None:
            response = http.post(f"{control}/faults", json=settings)
            assert response.status_code == 200, response.text

        set_faults(write_answer_loss=1.0, write_answer_loss_mode="drop")
        with pytest.raises(httpx.TransportError) as dropped:
            write("Dropped")
        assert isinstance(dropped.value, (httpx.RemoteProtocolError, httpx.ReadError))
        assert queued() == ["Dropped"]

        set_faults(write_answer_loss_mode="timeout", answer_hold_s=5.0)
        with pytest.raises(httpx.ReadTimeout):
            write("Held", timeout=0.2)  # the client gives up long before the server would answer
        assert queued() == ["Dropped", "Held"]

        set_faults(answer_hold_s=0.05)
        patient = write("Late", timeout=5)  # a patient client gets the real answer once it is released
        assert (patient.status_code, patient.json()["error_code"]) == (201, "API2016")

        set_faults(write_answer_loss_mode="error")
        failed = write("Errored")
        assert failed.status_code == 500
        assert failed.json()["error_code"] == "API2001"

        assert queued() == ["Dropped", "Held", "Late", "Errored"]
        writebacks = http.get(f"{control}/writebacks").json()
        assert {w["state"] for w in writebacks} == {"pending"}
        log = [r for r in http.get(f"{control}/requests").json() if r["path"] == "/v4/patient"]
        assert [(r["status"], r["fault"], r["delivered"]) for r in log] == [
            (201, "answer_dropped", False),
            (201, "answer_timeout", False),
            (201, "answer_timeout", False),
            (500, "answer_error", False),
        ]
        # after a reset the same write is answered normally, and the connection pool recovered
        assert http.post(f"{control}/reset").json()["write_answer_loss"] == 0.0
        assert write("Normal").status_code == 201
        assert http.post(f"{control}/run_writebacks").json() == {"completed": []}  # 90 s of real time: not due
