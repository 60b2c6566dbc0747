"""``--provider``: sikka by default and by name, an unknown name refused, the providers and their variables in
``--help``, and a second provider registered here (through ``register_provider``) selectable by every command,
running on nothing but the ``PmsProvider`` protocol."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import pytest

from pms_connect.cli import (
    CliProvider,
    LocalSandbox,
    SandboxOptions,
    Setting,
    Settings,
    Target,
    main,
    provider_names,
    register_provider,
    unregister_provider,
)
from pms_connect.clock import Clock
from pms_connect.errors import InvalidArgumentError
from pms_connect.protocol import PmsProvider
from pms_connect.testing import OpenDentalSandbox, SikkaSandbox

SIKKA_VARIABLES = [
    f"PMS_CONNECT_SIKKA_{name}"
    for name in ("APP_ID", "APP_KEY", "OFFICE_ID", "SECRET_KEY", "PRACTICE_ID", "TIMEZONE", "BASE_URL")
]
PROTOCOL = {name for name in vars(PmsProvider) if not name.startswith("_")}


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
    """No provider variable of the developer's reaches these tests."""
    for name in SIKKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("TOKEN", "TIMEZONE"):
        monkeypatch.delenv(f"PMS_CONNECT_FAKE_{name}", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # whole lines in --help


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> Result:
        out = io.StringIO()
        code = main(list(argv), out=out)
        return Result(code, out.getvalue(), capsys.readouterr().err)

    return run


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


# -- sikka, the default -----------------------------------------------------------------------------------


def without_latency(text: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(text)
    payload.pop("latency_ms")
    return payload


def test_sikka_is_the_default_provider() -> None:
    assert "sikka" in provider_names()


def test_check_with_provider_sikka_is_check_without(cli: Run) -> None:
    default = cli("check", "--sandbox", "--json")
    explicit = cli("check", "--provider", "sikka", "--sandbox", "--json")
    assert (default.code, explicit.code) == (0, 0)
    assert without_latency(explicit.out) == without_latency(default.out)


def test_demo_with_provider_sikka_is_demo_without(cli: Run) -> None:
    default = cli("demo", "--no-color")
    explicit = cli("demo", "--provider=sikka", "--no-color")
    assert (default.code, explicit.code) == (0, 0)
    assert explicit.out == default.out
    assert "the embedded Sikka sandbox" in default.out


def test_sandbox_with_provider_sikka_is_sandbox_without(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SikkaSandbox, "serve", lambda self, host, port: None)
    default = cli("sandbox")
    explicit = cli("sandbox", "--provider", "sikka")
    assert (default.code, explicit.code) == (0, 0)
    assert explicit.out == default.out
    assert "For `pms-connect check` and your own code, paste:" in default.out


def test_missing_credentials_with_provider_sikka(cli: Run) -> None:
    result = cli("check", "--provider", "sikka")
    assert result.code == 2
    line = result.one_error_line()
    assert "PMS_CONNECT_SIKKA_APP_ID" in line
    assert "(pms-connect check also takes --app-id" in line


# -- an unknown provider ----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["check"], ["check", "--sandbox"], ["demo"], ["sandbox"]], ids=" ".join)
def test_an_unknown_provider_is_a_usage_error_naming_the_known_ones(cli: Run, argv: list[str]) -> None:
    result = cli(*argv, "--provider", "dentrixx")
    assert result.code == 2
    assert result.out == ""
    line = result.one_error_line()
    assert f"pms-connect {argv[0]}: error: unknown provider 'dentrixx'; known providers: sikka, opendental" in line


def test_an_unknown_provider_with_json_is_json(cli: Run) -> None:
    result = cli("check", "--provider", "dentrixx", "--json")
    assert result.code == 2
    assert json.loads(result.out) == {
        "ok": False,
        "error": "unknown provider 'dentrixx'; known providers: sikka, opendental",
    }
    result.one_error_line()


# -- --help -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["check"]], ids=["pms-connect", "check"])
def test_help_lists_the_providers_and_their_variables(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    text = help_text(capsys, *argv)
    assert "providers (--provider NAME; default: sikka):" in text
    assert "  sikka: Sikka ONE" in text
    for variable in SIKKA_VARIABLES:
        assert variable in text


@pytest.mark.parametrize("command", ["check", "demo", "sandbox"])
def test_each_command_takes_provider(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = help_text(capsys, command)
    assert "--provider NAME" in text
    assert "  sikka: Sikka ONE" in text


# -- a second provider, registered here ---------------------------------------------------------------------


class OnlyTheProtocol:
    """A provider's ``PmsProvider`` surface and nothing else: a command reaching past the protocol (a Sikka-only
    attribute) meets an AttributeError."""

    def __init__(self, inner: PmsProvider) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in PROTOCOL:
            raise AttributeError(f"{name!r} is not part of the PmsProvider protocol")
        return getattr(self._inner, name)

    async def __aenter__(self) -> OnlyTheProtocol:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)


class FakeCli(CliProvider):
    """A second provider: its own name, variables, flag and sandbox (a Sikka sandbox running "Open Dental",
    behind nothing but the protocol)."""

    name = "fake"
    label = "Fake PMS"
    summary = "a provider registered by the tests"
    env_prefix = "PMS_CONNECT_FAKE_"
    settings = (
        Setting("token", "the fake's API token", required=True),
        Setting("timezone", "the practice's zone", default="Asia/Tokyo"),
    )

    def __init__(self) -> None:
        self.seen: list[dict[str, str | None]] = []
        self.served: list[SandboxOptions] = []

    def _provider(self, sandbox: SikkaSandbox) -> Callable[[], PmsProvider]:
        return lambda: OnlyTheProtocol(sandbox.provider())  # type: ignore[return-value]

    def target(self, settings: Settings) -> Target:
        settings.require()
        self.seen.append({"token": settings.get("token"), "timezone": settings.get("timezone")})
        zone = settings.get("timezone") or "Asia/Tokyo"
        sandbox = SikkaSandbox(seed=3, pms_name="Open Dental", timezone=zone)
        return Target("fake.test", zone, self._provider(sandbox))

    def sandbox_target(self, settings: Settings, *, seed: int) -> Target:
        sandbox = SikkaSandbox(seed=seed, pms_name="Open Dental", timezone="Asia/Tokyo")
        return Target("fake-sandbox.test", sandbox.timezone, self._provider(sandbox))

    def demo_provider(self, *, seed: int, clock: Clock) -> PmsProvider:
        sandbox = SikkaSandbox(seed=seed, clock=clock, pms_name="Open Dental")
        return OnlyTheProtocol(sandbox.provider())  # type: ignore[return-value]

    def local_sandbox(self, options: SandboxOptions) -> LocalSandbox:
        return LocalSandbox(
            details=[("url", options.root), ("token", "demo-token"), ("a-longer-label", "x")],
            exports={"token": "demo-token", "timezone": "Asia/Tokyo"},
            serve=lambda: self.served.append(options),
        )


@pytest.fixture
def fake() -> Iterator[FakeCli]:
    entry = FakeCli()
    register_provider(entry)
    try:
        yield entry
    finally:
        unregister_provider(entry.name)


def test_the_fake_is_a_known_provider(fake: FakeCli, cli: Run) -> None:
    assert provider_names() == ["sikka", "opendental", "fake"]
    result = cli("check", "--provider", "nope")
    assert "known providers: sikka, opendental, fake" in result.one_error_line()


def test_check_with_the_fake_reads_its_variables(fake: FakeCli, cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMS_CONNECT_FAKE_TOKEN", "from-env")
    monkeypatch.setenv("PMS_CONNECT_SIKKA_TIMEZONE", "Europe/Berlin")  # another provider's: not read
    result = cli("check", "--provider", "fake", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert (payload["ok"], payload["host"], payload["timezone"]) == (True, "fake.test", "Asia/Tokyo")
    assert payload["pms_name"] == "Open Dental"
    assert fake.seen == [{"token": "from-env", "timezone": None}]


def test_check_with_the_fake_takes_its_flags_over_its_variables(
    fake: FakeCli, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMS_CONNECT_FAKE_TOKEN", "from-env")
    result = cli(
        "check", "--provider", "fake", "--token", "from-flag", "--timezone", "America/Denver", "--no-color"
    )
    assert result.code == 0, result.err
    assert "Connected to Maplewood Family Dental (Open Dental) at fake.test" in result.out
    assert "Time zone: America/Denver" in result.out
    assert fake.seen == [{"token": "from-flag", "timezone": "America/Denver"}]


def test_check_with_the_fake_names_its_missing_variable(fake: FakeCli, cli: Run) -> None:
    result = cli("check", "--provider", "fake")
    assert result.code == 2
    line = result.one_error_line()
    assert "missing credentials: set PMS_CONNECT_FAKE_TOKEN" in line
    assert "(pms-connect check --provider fake also takes --token)" in line


@pytest.mark.parametrize(
    ("argv", "flag"),
    [(["--provider", "fake", "--app-id", "x"], "--app-id"), (["--token", "x"], "--token")],
    ids=["sikka flag to fake", "fake flag to sikka"],
)
def test_another_providers_flag_is_a_usage_error(fake: FakeCli, cli: Run, argv: list[str], flag: str) -> None:
    result = cli("check", *argv)
    assert result.code == 2
    assert f"{flag}: not a setting of --provider" in result.one_error_line()
    assert fake.seen == []


def test_check_sandbox_with_the_fake(fake: FakeCli, cli: Run) -> None:
    result = cli("check", "--provider", "fake", "--sandbox", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert (payload["host"], payload["pms_name"]) == ("fake-sandbox.test", "Open Dental")


def test_demo_with_the_fake_runs_on_the_protocol_alone(fake: FakeCli, cli: Run) -> None:
    result = cli("demo", "--provider", "fake", "--no-color")
    assert result.code == 0, result.err
    assert "the embedded Fake PMS sandbox" in result.out
    assert "on Open Dental" in result.out
    assert "6. Booking sent: Fake PMS queued it as writeback" in result.out
    assert "7. In the PMS now: appointment" in result.out


def test_sandbox_with_the_fake_prints_its_variables(fake: FakeCli, cli: Run) -> None:
    result = cli("sandbox", "--provider", "fake", "--port", "8801", "--seed", "5")
    assert result.code == 0, result.err
    assert result.out.startswith("Fake PMS sandbox on loopback.")
    assert "  url            http://127.0.0.1:8801\n" in result.out  # labels padded to the longest
    assert "For `pms-connect check --provider fake` and your own code, paste:" in result.out
    assert "export PMS_CONNECT_FAKE_TOKEN=demo-token\nexport PMS_CONNECT_FAKE_TIMEZONE=Asia/Tokyo\n" in result.out
    assert result.out.endswith("Sandbox stopped.\n")
    (options,) = fake.served
    assert (options.port, options.seed, options.writeback_delay.total_seconds()) == (8801, 5, 90)


def test_help_lists_the_fake_and_shares_common_flags(fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert "  fake: a provider registered by the tests" in text
    assert "PMS_CONNECT_FAKE_TOKEN" in text
    check = " ".join(help_text(capsys, "check").split())
    assert "--token TOKEN the fake's API token; default: $PMS_CONNECT_FAKE_TOKEN" in check
    assert "$PMS_CONNECT_SIKKA_TIMEZONE or America/Chicago (sikka)" in check
    assert "$PMS_CONNECT_FAKE_TIMEZONE or Asia/Tokyo (fake)" in check


# -- registration -----------------------------------------------------------------------------------------


def test_a_name_is_registered_once(fake: FakeCli) -> None:
    with pytest.raises(InvalidArgumentError, match="registered already"):
        register_provider(FakeCli())
    replacement = FakeCli()
    register_provider(replacement, replace=True)
    assert provider_names() == ["sikka", "opendental", "fake"]


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("Bad Name", (), "lowercase letters"),
        ("ok", (Setting("seed", "clashes with --seed"),), "cannot be a setting name"),
        ("ok", (Setting("Token", "not lowercase"),), "cannot be a setting name"),
        ("ok", (Setting("token", "a"), Setting("token", "b")), "declared twice"),
    ],
)
def test_a_malformed_entry_is_refused(name: str, settings: tuple[Setting, ...], message: str) -> None:
    entry = FakeCli()
    entry.name = name
    entry.settings = settings
    with pytest.raises(InvalidArgumentError, match=message):
        register_provider(entry)
    assert provider_names() == ["sikka", "opendental"]


# -- opendental, the second built-in provider --------------------------------------------------------------


def test_the_demo_runs_offline_against_the_open_dental_sandbox(cli: Run) -> None:
    result = cli("demo", "--provider", "opendental", "--no-color")
    assert result.code == 0, result.err
    assert "the embedded Open Dental sandbox" in result.out
    assert "6. Booking sent: Open Dental applied it at once (written)" in result.out
    assert "7. In the PMS now: appointment" in result.out


def test_check_against_the_open_dental_sandbox(cli: Run) -> None:
    result = cli("check", "--provider", "opendental", "--sandbox", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["ok"] is True
    assert payload["pms_name"] == "Open Dental"


def test_open_dental_settings_are_its_own_variables(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = cli("check", "--provider", "opendental")
    assert missing.code != 0
    line = missing.one_error_line()
    assert "PMS_CONNECT_OPENDENTAL_DEVELOPER_KEY" in line
    assert "PMS_CONNECT_OPENDENTAL_CUSTOMER_KEY" in line
    monkeypatch.setenv("PMS_CONNECT_OPENDENTAL_DEVELOPER_KEY", "dev")
    monkeypatch.setenv("PMS_CONNECT_OPENDENTAL_CUSTOMER_KEY", "cust")
    monkeypatch.setenv("PMS_CONNECT_OPENDENTAL_MODE", "cloudy")
    wrong_mode = cli("check", "--provider", "opendental")
    assert "remote, service, local, waterfall" in wrong_mode.one_error_line()
    assert "cust" not in wrong_mode.err + wrong_mode.out


def test_the_open_dental_sandbox_is_served_as_the_api_service(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[str, int, str]] = []

    def serve(self: OpenDentalSandbox, host: str = "127.0.0.1", port: int = 30223) -> None:
        served.append((host, port, self.mode))

    monkeypatch.setattr(OpenDentalSandbox, "serve", serve)
    result = cli("sandbox", "--provider", "opendental", "--port", "30299")
    assert result.code == 0, result.err
    assert "export PMS_CONNECT_OPENDENTAL_BASE_URL=http://127.0.0.1:30299/api/v1\n" in result.out
    assert "export PMS_CONNECT_OPENDENTAL_MODE=service\n" in result.out
    assert "export PMS_CONNECT_OPENDENTAL_CUSTOMER_KEY=" in result.out
    assert served == [("127.0.0.1", 30299, "service")]
