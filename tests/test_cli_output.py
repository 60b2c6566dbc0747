"""What pms-connect prints: ``--version``, lines as wide as the terminal (whole lines in a file), the time
zone ``check`` used."""

from __future__ import annotations

import io
import json
import re

import pytest

import pms_connect
from pms_connect.cli import SikkaSettings, main
from pms_connect.testing import SikkaSandbox

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def auto_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich decides from the file and COLUMNS alone: no variable forces a terminal or turns color off."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("TIMEZONE", "BASE_URL"):
        monkeypatch.delenv(f"PMS_CONNECT_SIKKA_{name}", raising=False)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"pms-connect {pms_connect.__version__}\n"


@pytest.mark.parametrize("columns", [60, 100, 300])
def test_lines_fit_the_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    terminal = Terminal()
    assert main(["check", "--sandbox"], out=terminal) == 0
    lines = ESCAPE.sub("", terminal.getvalue()).splitlines()
    assert max(len(line) for line in lines) <= columns
    capabilities = [i for i, line in enumerate(lines) if line.startswith("Capabilities: ")]
    assert capabilities
    # Wrapped at the terminal's width, not at a fixed one: one line where it fits.
    assert lines[capabilities[0]].endswith("reschedule_appointment") == (columns == 300)


def test_no_color_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    colored, plain = Terminal(), Terminal()
    assert main(["check", "--sandbox"], out=colored) == 0
    assert main(["check", "--sandbox", "--no-color"], out=plain) == 0
    assert "\x1b[" in colored.getvalue()
    assert "\x1b[" not in plain.getvalue()


@pytest.mark.parametrize("argv", [["check", "--sandbox"], ["demo"]], ids=lambda argv: argv[0])
def test_output_to_a_file_is_plain_whole_lines(argv: list[str]) -> None:
    file = io.StringIO()
    assert main(argv, out=file) == 0
    text = file.getvalue()
    assert "\x1b" not in text
    assert "\r" not in text
    (capabilities,) = [line for line in text.splitlines() if "book_appointment" in line]
    assert capabilities.endswith("reschedule_appointment")


@pytest.mark.parametrize("zone", ["America/Denver", "Asia/Tokyo"])
def test_check_sandbox_honours_the_time_zone(zone: str) -> None:
    out = io.StringIO()
    assert main(["check", "--sandbox", "--json", "--timezone", zone], out=out) == 0
    payload = json.loads(out.getvalue())
    assert payload["ok"] is True
    assert payload["timezone"] == zone
    human = io.StringIO()
    assert main(["check", "--sandbox", "--timezone", zone], out=human) == 0
    assert f"Time zone: {zone}\n" in human.getvalue()


def test_check_sandbox_takes_the_time_zone_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMS_CONNECT_SIKKA_TIMEZONE", "Europe/Berlin")
    out = io.StringIO()
    assert main(["check", "--sandbox", "--json"], out=out) == 0
    assert json.loads(out.getvalue())["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.sikkasoft.com/v4", "api.sikkasoft.com"),
        ("http://user:CANARY@127.0.0.1:8765/v4?key=CANARY#CANARY", "127.0.0.1:8765"),
        ("http://[::1]:8765/v4", "[::1]:8765"),
    ],
)
def test_a_settings_host_is_the_host_and_port_only(url: str, host: str) -> None:
    assert SikkaSettings(SikkaSandbox().credentials, "America/Chicago", url).host == host
