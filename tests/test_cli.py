"""The pms-connect command: demo, check (in-process and against the sandbox served on loopback), sandbox,
and examples/connection_test.py, which reads the same variables as check."""

from __future__ import annotations

import io
import json
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pms_connect.cli import main
from pms_connect.testing import SikkaSandbox

from .served import serve


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_demo_walks_through_every_step_and_exits_zero() -> None:
    code, text = run("demo", "--no-color")
    assert code == 0, text
    for step in ("1. Connection check: ok", "2. Features:", "3. Providers", "4. Caller", "5. The first open"):
        assert step in text
    assert "6. Booking sent: Sikka queued it as writeback" in text
    assert "writeback written after" in text
    assert "7. In the PMS now: appointment" in text


def test_check_sandbox_exits_zero_and_reports_the_practice() -> None:
    code, text = run("check", "--sandbox", "--no-color")
    assert code == 0, text
    assert "Connected to Maplewood Family Dental (Dentrix)" in text
    assert "Providers: " in text


def test_check_json_is_one_object() -> None:
    code, text = run("check", "--sandbox", "--json")
    assert code == 0
    payload = json.loads(text)
    assert payload["ok"] is True
    assert "book_appointment" in payload["capabilities"]
    assert payload["providers"] >= 6


def test_check_with_wrong_credentials_exits_non_zero_with_the_reason() -> None:
    good = SikkaSandbox().credentials
    code, text = run(
        "check",
        "--sandbox",
        "--json",
        f"--app-id={good.app_id}",
        f"--app-key={good.app_key.get_secret_value()}",
        f"--office-id={good.office_id}",
        "--secret-key=not-the-secret-canary",
    )
    assert code == 1
    payload = json.loads(text)
    assert payload["ok"] is False
    assert "refused the credentials" in payload["error"]
    assert "not-the-secret-canary" not in text


def test_check_with_missing_credentials_names_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("APP_ID", "APP_KEY", "OFFICE_ID", "SECRET_KEY"):
        monkeypatch.delenv(f"PMS_CONNECT_SIKKA_{name}", raising=False)
    code, text = run("check")
    assert code == 2
    assert text == ""
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "PMS_CONNECT_SIKKA_APP_ID" in err


@pytest.fixture
def served_sandbox() -> Iterator[tuple[SikkaSandbox, str]]:
    for served in serve(SikkaSandbox(seed=7)):
        yield served.sandbox, served.base_url


def test_check_against_the_sandbox_served_on_loopback(
    served_sandbox: tuple[SikkaSandbox, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, base_url = served_sandbox
    export_credentials(monkeypatch, sandbox)
    code, text = run("check", "--json", f"--base-url={base_url}")
    assert code == 0, text
    assert json.loads(text)["practice_name"] == "Maplewood Family Dental"
    monkeypatch.setenv("PMS_CONNECT_SIKKA_SECRET_KEY", "wrong")
    code, text = run("check", "--json", f"--base-url={base_url}")
    assert code == 1
    assert json.loads(text)["ok"] is False


def export_credentials(monkeypatch: pytest.MonkeyPatch, sandbox: SikkaSandbox) -> None:
    creds = sandbox.credentials
    monkeypatch.setenv("PMS_CONNECT_SIKKA_APP_ID", creds.app_id)
    monkeypatch.setenv("PMS_CONNECT_SIKKA_APP_KEY", creds.app_key.get_secret_value())
    monkeypatch.setenv("PMS_CONNECT_SIKKA_OFFICE_ID", creds.office_id)
    monkeypatch.setenv("PMS_CONNECT_SIKKA_SECRET_KEY", creds.secret_key.get_secret_value())


def test_sandbox_command_prints_the_credentials_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(SikkaSandbox, "serve", lambda self, host, port: served.append((host, port)))
    code, text = run("sandbox", "--port", "8799")
    creds = SikkaSandbox().credentials
    assert code == 0
    assert served == [("127.0.0.1", 8799)]
    assert "http://127.0.0.1:8799/v4" in text
    for value in (
        creds.app_id,
        creds.app_key.get_secret_value(),
        creds.office_id,
        creds.secret_key.get_secret_value(),
    ):
        assert value in text


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "connection_test.py"


def run_example(monkeypatch: pytest.MonkeyPatch, *argv: str) -> object:
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), *argv])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    return exit_.value.code


def test_the_connection_test_example_runs_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_example(monkeypatch, "--sandbox") == 0


def test_the_connection_test_example_honours_the_base_url(
    served_sandbox: tuple[SikkaSandbox, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, base_url = served_sandbox
    host = base_url.removeprefix("http://").removesuffix("/v4")
    export_credentials(monkeypatch, sandbox)
    monkeypatch.setenv("PMS_CONNECT_SIKKA_BASE_URL", base_url)
    assert run_example(monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"connection to {host}: ok" in out
    assert "practice: Maplewood Family Dental" in out


def test_a_failed_example_check_names_the_host_only(
    served_sandbox: tuple[SikkaSandbox, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, base_url = served_sandbox
    host = base_url.removeprefix("http://").removesuffix("/v4")
    export_credentials(monkeypatch, sandbox)
    monkeypatch.setenv("PMS_CONNECT_SIKKA_SECRET_KEY", "CANARY-secret-5e1")
    monkeypatch.setenv("PMS_CONNECT_SIKKA_BASE_URL", f"http://CANARY-user:CANARY-pass@{host}/v4?CANARY-query=1")
    assert run_example(monkeypatch) == 1
    out = capsys.readouterr().out
    assert f"connection to {host}: FAILED" in out
    assert "CANARY" not in out
