"""pms-connect's failures: no traceback, one line on stderr; exit 2 for a usage error, 1 for a failed check,
130 for Ctrl-C; ``check --json`` prints JSON on stdout whatever happens."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from pms_connect.cli import main
from pms_connect.sikka import SikkaProvider

K1 = "k1:" + "A" * 43 + "="


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def one_error_line(self) -> str:
        assert self.err.count("\n") == 1, self.err
        assert "Traceback" not in self.err
        return self.err


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment (the test's own, never the developer's), so that each case fails for
    the one reason it is about."""
    for name in ("TIMEZONE", "BASE_URL", "PRACTICE_ID"):
        monkeypatch.delenv(f"PMS_CONNECT_SIKKA_{name}", raising=False)
    for name in ("APP_ID", "APP_KEY", "OFFICE_ID", "SECRET_KEY"):
        monkeypatch.setenv(f"PMS_CONNECT_SIKKA_{name}", f"test-{name.lower()}")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> Result:
        out = io.StringIO()
        code = main(list(argv), out=out)
        return Result(code, out.getvalue(), capsys.readouterr().err)

    return run


@pytest.mark.parametrize("sandbox", [[], ["--sandbox"]], ids=["real", "sandbox"])
def test_an_unknown_time_zone_is_one_line_naming_it(cli: Run, sandbox: list[str]) -> None:
    result = cli("check", *sandbox, "--timezone", "Mars/Olympus")
    assert result.code == 2
    assert result.out == ""
    assert "'Mars/Olympus'" in result.one_error_line()


def test_an_unknown_time_zone_in_the_environment_too(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMS_CONNECT_SIKKA_TIMEZONE", "Mars/Olympus")
    result = cli("check")
    assert result.code == 2
    assert "'Mars/Olympus'" in result.one_error_line()


@pytest.mark.parametrize(
    "url", ["notaurl", "api.sikkasoft.com/v4", "ftp://host/v4", "http://", "http://h:port/v4"]
)
def test_a_base_url_that_is_not_a_url_is_a_usage_error(cli: Run, url: str) -> None:
    result = cli("check", "--base-url", url)
    assert result.code == 2
    assert result.out == ""
    assert "is not a URL like https://host/v4" in result.one_error_line()


def test_a_failed_check_is_one_line_on_stderr_naming_the_host(cli: Run) -> None:
    result = cli("check", "--sandbox", "--secret-key", "CANARY-wrong-3f1")
    assert result.code == 1
    assert result.out == ""
    line = result.one_error_line()
    assert "the connection check of sikka-sandbox.test failed: Sikka refused the credentials" in line
    assert "CANARY" not in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sandbox", "--timezone", "Mars/Olympus"], "'Mars/Olympus'"),
        (["--timezone", "Mars/Olympus"], "'Mars/Olympus'"),
        (["--base-url", "notaurl"], "is not a URL"),
    ],
)
def test_check_json_reports_usage_errors_as_json(cli: Run, argv: list[str], message: str) -> None:
    result = cli("check", "--json", *argv)
    payload = json.loads(result.out)
    assert result.code == 2
    assert payload == {"ok": False, "error": payload["error"]}
    assert message in payload["error"]
    assert message in result.one_error_line()


def test_check_json_reports_missing_credentials_as_json(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMS_CONNECT_SIKKA_APP_KEY")
    result = cli("check", "--json")
    payload = json.loads(result.out)
    assert result.code == 2
    assert payload["ok"] is False
    assert "PMS_CONNECT_SIKKA_APP_KEY" in payload["error"]
    assert "PMS_CONNECT_SIKKA_APP_KEY" in result.one_error_line()


def test_check_json_on_a_failed_check(cli: Run) -> None:
    result = cli("check", "--sandbox", "--json", "--secret-key", "wrong")
    assert result.code == 1
    payload = json.loads(result.out)
    assert payload["ok"] is False
    assert payload["host"] == "sikka-sandbox.test"
    assert "refused the credentials" in payload["error"]
    result.one_error_line()


async def _interrupted(self: SikkaProvider) -> None:
    raise KeyboardInterrupt


class _InterruptedStdin(io.StringIO):
    def read(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    "argv",
    [["demo"], ["check", "--sandbox"], ["check", "--sandbox", "--json"], ["vault", "seal", "--context", "a"]],
    ids=lambda argv: " ".join(argv),
)
def test_ctrl_c_exits_130_with_one_line(cli: Run, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setattr(SikkaProvider, "test_connection", _interrupted)
    monkeypatch.setattr(sys, "stdin", _InterruptedStdin())
    monkeypatch.setenv("PMS_CONNECT_VAULT_KEYS", K1)
    try:
        result = cli(*argv)
    except KeyboardInterrupt:  # left alone, it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped main()")
    assert result.code == 130
    assert result.err == "pms-connect: interrupted\n"


def test_an_unexpected_exception_is_a_bug_and_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: SikkaProvider) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(SikkaProvider, "test_connection", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["check", "--sandbox"], out=io.StringIO())


def _without_starlette(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import starlette`` fails, as without the sandbox extra."""
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", f"import sys; sys.modules['starlette'] = None\n{code}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_sandbox_without_its_extra_names_the_fix() -> None:
    result = _without_starlette("from pms_connect.testing import SikkaSandbox")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: SikkaSandbox needs the sandbox extra")
    assert last.endswith("pip install 'pms-connect[sandbox]'")


def test_the_fake_clock_needs_no_extra() -> None:
    result = _without_starlette("from pms_connect.testing import FakeClock; FakeClock()")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_the_cli_without_the_sandbox_extra_says_one_line(json_flag: list[str]) -> None:
    argv = ["check", "--sandbox", *json_flag]
    result = _without_starlette(f"from pms_connect.cli import main; sys.exit(main({argv!r}))")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'pms-connect[sandbox]'" in result.stderr
    if json_flag:
        payload = json.loads(result.stdout)
        assert payload["ok"] is False
        assert "pip install 'pms-connect[sandbox]'" in payload["error"]
