"""``pms-connect sandbox``: its new options, the control URL and export lines it prints, a clean Ctrl-C."""

from __future__ import annotations

import datetime as dt
import io
import os
import shlex
import signal
import socket
import subprocess
import sys
from typing import Any

import pytest

from pms_connect.cli import main
from pms_connect.testing import SikkaSandbox


def run_sandbox(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, list[SikkaSandbox]]:
    served: list[SikkaSandbox] = []

    def fake_serve(self: SikkaSandbox, host: str, port: int) -> None:
        served.append(self)

    monkeypatch.setattr(SikkaSandbox, "serve", fake_serve)
    out = io.StringIO()
    code = main(["sandbox", *argv], out=out)
    return code, out.getvalue(), served


def exports(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (found[name],) = shlex.split(value)
    return found


def test_defaults_and_what_it_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    code, text, served = run_sandbox(monkeypatch, "--port", "8799")
    assert code == 0
    (sandbox,) = served
    assert sandbox.writeback_delay == dt.timedelta(seconds=90)
    assert sandbox.reject_overlaps is False
    creds = SikkaSandbox().credentials
    assert "  base_url    http://127.0.0.1:8799/v4\n" in text  # the old lines are kept
    assert "  control     http://127.0.0.1:8799/_sandbox" in text
    assert exports(text) == {
        "PMS_CONNECT_SIKKA_APP_ID": creds.app_id,
        "PMS_CONNECT_SIKKA_APP_KEY": creds.app_key.get_secret_value(),
        "PMS_CONNECT_SIKKA_OFFICE_ID": creds.office_id,
        "PMS_CONNECT_SIKKA_SECRET_KEY": creds.secret_key.get_secret_value(),
        "PMS_CONNECT_SIKKA_PRACTICE_ID": "1",
        "PMS_CONNECT_SIKKA_TIMEZONE": "America/Chicago",
        "PMS_CONNECT_SIKKA_BASE_URL": "http://127.0.0.1:8799/v4",
    }


def test_the_exported_names_are_the_ones_check_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    _, text, _ = run_sandbox(monkeypatch)
    for name, value in exports(text).items():
        monkeypatch.setenv(name, value)
    from pms_connect.cli import sikka_settings

    settings = sikka_settings()  # what check reads without flags
    assert settings.credentials == SikkaSandbox().credentials
    assert settings.base_url == "http://127.0.0.1:8765/v4"
    assert settings.timezone == "America/Chicago"


def test_writeback_delay_and_reject_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    code, text, served = run_sandbox(monkeypatch, "--writeback-delay", "2.5", "--reject-overlaps")
    assert code == 0
    (sandbox,) = served
    assert sandbox.writeback_delay == dt.timedelta(seconds=2.5)
    assert sandbox.reject_overlaps is True
    assert "complete 2.5 s after submission; overlapping bookings refused" in text


def test_a_negative_writeback_delay_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, served = run_sandbox(monkeypatch, "--writeback-delay", "-1")
    assert (code, text, served) == (2, "", [])
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--writeback-delay must not be negative" in err


def test_ctrl_c_in_process_returns_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: Any, host: str, port: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SikkaSandbox, "serve", interrupted)
    out = io.StringIO()
    assert main(["sandbox"], out=out) == 0
    assert out.getvalue().endswith("Sandbox stopped.\n")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_stops_the_real_server_without_a_traceback() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "pms_connect.cli", "sandbox", "--port", str(port), "--writeback-delay", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stderr is not None
        seen = []
        for line in child.stderr:  # blocks until uvicorn says it listens (or the child dies)
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        assert any("Uvicorn running on" in line for line in seen), "".join(seen)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert f"control     http://127.0.0.1:{port}/_sandbox" in out
    assert out.rstrip().endswith("Sandbox stopped.")
