"""The ``pms-connect`` command: ``demo``, ``check``, ``sandbox`` and ``vault``.

``demo`` is the README's main job: it runs the SDK against the embedded sandbox, offline, in virtual time
(so a writeback that takes the practice 90 seconds completes at once). ``check`` is the scripted
connection test for real credentials; ``sandbox`` serves the fake Sikka on loopback.

A user's mistake (a bad flag value, missing credentials) prints one line on stderr and exits 2; a failed
check or demo exits 1; Ctrl-C exits 130. ``sikka_settings()`` reads the ``PMS_CONNECT_SIKKA_*`` variables
for ``check`` and for scripts such as ``examples/connection_test.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from pms_connect import __version__
from pms_connect.errors import InvalidArgumentError, PmsError
from pms_connect.models import ConnectionCheck, FeatureSet, MatchStatus, ProviderKind

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

    from pms_connect.sikka import SikkaCredentials, SikkaProvider

__all__ = ["SikkaSettings", "main", "sikka_settings"]

ENV_PREFIX = "PMS_CONNECT_SIKKA_"
_CREDENTIAL_FIELDS = ("app_id", "app_key", "office_id", "secret_key", "practice_id")
_SETTINGS = (*_CREDENTIAL_FIELDS, "timezone", "base_url")
DEFAULT_TIMEZONE = "America/Chicago"

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _console(no_color: bool, file: TextIO | None = None) -> Console:
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise SystemExit("the pms-connect command needs its extra: pip install 'pms-connect[cli]'") from None
    console = Console(file=file, no_color=no_color, highlight=False)  # the width: COLUMNS, or the terminal's
    console.soft_wrap = not console.is_terminal  # a terminal's lines wrap at its width; a file's stay whole
    return console


def _sandbox_class() -> Any:
    try:
        from pms_connect.testing import SikkaSandbox
    except ImportError as exc:  # its message names the extra to install
        raise PmsError(str(exc)) from None
    return SikkaSandbox


def _report(command: str, message: str) -> None:
    """The one line on stderr that every failure prints."""
    print(f"pms-connect {command}: error: {message}", file=sys.stderr)


# -- settings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SikkaSettings:
    """What a Sikka connection needs besides code: credentials, the practice's time zone, the base URL."""

    credentials: SikkaCredentials
    timezone: str
    base_url: str

    @property
    def host(self) -> str:
        """The base URL's host and port: all that a message shows of it (no credentials, path or query)."""
        import httpx

        return httpx.URL(self.base_url).netloc.decode("ascii")

    def provider(self, **kwargs: Any) -> SikkaProvider:
        """A ``SikkaProvider`` for these settings; ``kwargs`` go to it as they are."""
        from pms_connect.sikka import SikkaProvider

        return SikkaProvider(self.credentials, timezone=self.timezone, base_url=self.base_url, **kwargs)


def sikka_settings(
    given: Mapping[str, str | None] | None = None, *, environ: Mapping[str, str] | None = None
) -> SikkaSettings:
    """The settings from ``given`` values (``pms-connect check``'s flags: ``app_id``, ..., ``timezone``,
    ``base_url``), else the ``PMS_CONNECT_SIKKA_*`` environment variables, else the defaults (practice 1,
    America/Chicago, Sikka's production URL). Raises ``InvalidArgumentError`` for missing credentials, an
    unknown time zone or a base URL that is not a URL."""
    given = given or {}
    environ = os.environ if environ is None else environ
    return SikkaSettings(_credentials(given, environ), _timezone(given, environ), _base_url(given, environ))


def _setting(name: str, given: Mapping[str, str | None], environ: Mapping[str, str]) -> str | None:
    return given.get(name) or environ.get(ENV_PREFIX + name.upper()) or None


def _credentials(given: Mapping[str, str | None], environ: Mapping[str, str]) -> SikkaCredentials:
    from pydantic import ValidationError

    from pms_connect.sikka import SikkaCredentials

    values = {name: value for name in _CREDENTIAL_FIELDS if (value := _setting(name, given, environ))}
    missing = [n for n in _CREDENTIAL_FIELDS[:4] if n not in values]
    if missing:
        env = ", ".join(ENV_PREFIX + n.upper() for n in missing)
        flags = " ".join(f"--{n.replace('_', '-')}" for n in missing)
        raise InvalidArgumentError(f"missing credentials: set {env} (pms-connect check also takes {flags})")
    try:
        return SikkaCredentials(**values)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise InvalidArgumentError(f"invalid credentials: {fields}") from None


def _timezone(given: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    from pms_connect.windows import resolve_zone

    zone = _setting("timezone", given, environ) or DEFAULT_TIMEZONE
    resolve_zone(zone)  # an unknown zone raises InvalidArgumentError naming it
    return zone


def _base_url(given: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    import httpx

    from pms_connect.sikka import DEFAULT_BASE_URL

    url = _setting("base_url", given, environ) or DEFAULT_BASE_URL
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        # Not echoed: a mistyped URL may hold a credential.
        raise InvalidArgumentError(
            f"the base URL (--base-url or {ENV_PREFIX}BASE_URL) is not a URL like https://host/v4"
        )
    return url


# -- check ------------------------------------------------------------------------------------------------


async def _run_check(
    settings: SikkaSettings, transport: httpx.AsyncBaseTransport | None
) -> tuple[ConnectionCheck, FeatureSet | None, int | None]:
    async with settings.provider(transport=transport) as pms:
        check = await pms.test_connection()
        if not check.ok:
            return check, None, None
        try:
            features = await pms.get_features()
            providers = len(await pms.providers.list().all())
        except PmsError as exc:
            return ConnectionCheck(ok=False, practice_name=check.practice_name, error=str(exc)), None, None
    return check, features, providers


def _check_target(args: argparse.Namespace) -> tuple[SikkaSettings, httpx.AsyncBaseTransport | None]:
    """The settings ``check`` connects with, and the transport (the embedded sandbox's, for --sandbox)."""
    given = {name: getattr(args, name) for name in _SETTINGS}
    if not args.sandbox:
        return sikka_settings(given), None
    sandbox = _sandbox_class()(seed=args.seed, timezone=_timezone(given, os.environ))
    # With credential flags, check those credentials against the sandbox (e.g. to see a refusal).
    flagged = any(given[name] for name in _CREDENTIAL_FIELDS)
    credentials = _credentials(given, os.environ) if flagged else sandbox.credentials
    return SikkaSettings(credentials, sandbox.timezone, sandbox.base_url), sandbox.transport


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    settings, transport = _check_target(args)
    check, features, providers = asyncio.run(_run_check(settings, transport))
    capabilities = sorted(c.value for c in features.capabilities) if features else []
    if args.json:
        payload = {
            "ok": check.ok,
            "host": settings.host,
            "timezone": settings.timezone,
            "practice_name": check.practice_name,
            "pms_name": check.pms_name,
            "latency_ms": check.latency_ms,
            "error": check.error,
            "capabilities": capabilities,
            "providers": providers,
        }
        out.write(json.dumps(payload) + "\n")
    if not check.ok:
        _report(args.command, f"the connection check of {settings.host} failed: {check.error}")
        return EXIT_FAILED
    if not args.json:
        console = _console(args.no_color, out)
        console.print(
            f"[green]Connected[/green] to {check.practice_name} ({check.pms_name}) at {settings.host} "
            f"in {check.latency_ms} ms"
        )
        console.print(f"Time zone: {settings.timezone}")
        console.print("Capabilities: " + ", ".join(capabilities))
        console.print(f"Providers: {providers}")
    return 0


# -- demo -------------------------------------------------------------------------------------------------


def _masked(first: str, last: str) -> str:
    """Even sandbox names are shown the way a careful UI shows PHI: first name and an initial."""
    return f"{first} {last[:1]}." if last else first


async def _demo(console: Console, seed: int) -> int:
    from rich.table import Table

    from pms_connect.models import BookingRequest
    from pms_connect.testing.clock import FakeClock

    clock = FakeClock(start=datetime.now(timezone.utc).replace(microsecond=0))
    sandbox = _sandbox_class()(seed=seed, clock=clock)
    console.rule("pms_connect demo: the embedded Sikka sandbox (offline, virtual time)")
    async with sandbox.provider() as pms:
        check = await pms.test_connection()
        if not check.ok:
            raise PmsError(f"the connection check failed: {check.error}")
        console.print(f"1. Connection check: [green]ok[/green], {check.practice_name} on {check.pms_name}")

        features = await pms.get_features()
        console.print("2. Features: " + ", ".join(sorted(c.value for c in features.capabilities)))

        providers = [p for p in await pms.providers.list(active_only=True).all() if not p.hidden]
        table = Table(title="3. Providers")
        for column in ("id", "name", "kind", "specialty"):
            table.add_column(column)
        for p in providers:
            table.add_row(p.id, p.display_name, p.kind.value, p.specialty or "")
        console.print(table)

        caller = await _a_caller(pms)
        if caller is None:
            raise PmsError("the sandbox has no patient with a cell phone")
        digits = "".join(ch for ch in caller.cell_phone or "" if ch.isdigit())[-10:]
        spoken = f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        match = await pms.patients.match(phone=spoken)
        console.print(f"4. Caller {spoken}: match is [bold]{match.status.value}[/bold]", end="")
        if match.status is MatchStatus.AMBIGUOUS:
            console.print(f" ({len(match.candidates)} patients share this phone); asking for the birthdate")
            match = await pms.patients.match(phone=spoken, birthdate=caller.birthdate)
            console.print(f"   with the birthdate: [bold]{match.status.value}[/bold]", end="")
        patient = match.patient
        console.print(f" -> {_masked(patient.first_name, patient.last_name)}" if patient else "")
        if patient is None:
            raise PmsError("no patient matched the caller")

        today = pms.today()
        slots = await pms.appointments.find_slots(
            start=today + timedelta(days=1),
            end=today + timedelta(days=14),
            duration=timedelta(minutes=30),
            kinds=[ProviderKind.DENTIST],
            limit=6,
        )
        names = {p.id: p.display_name for p in providers}
        table = Table(title="5. The first open 30-minute slots with a dentist, next two weeks")
        for column in ("start", "end", "dentist", "operatory"):
            table.add_column(column)
        for slot in slots:
            table.add_row(
                slot.start.strftime("%a %b %d %H:%M"),
                slot.end.strftime("%H:%M"),
                names.get(slot.provider_id or "", slot.provider_id or ""),
                slot.operatory or "",
            )
        console.print(table)
        if not slots:
            raise PmsError("no open slots in the next two weeks")

        slot = slots[0]
        handle = await pms.appointments.book(
            BookingRequest(
                patient_id=patient.id,
                provider_id=slot.provider_id or "",
                start=slot.start,
                duration=timedelta(minutes=30),
                operatory=slot.operatory,
                reason="Cleaning",
            )
        )
        if handle.acknowledged:
            console.print(f"6. Booking sent: Sikka queued it as writeback {handle.writeback_id}")
        else:
            console.print("6. Booking sent, its answer lost: following it in Sikka's writeback log")
        started = clock.now()
        waiting = asyncio.ensure_future(pms.writebacks.wait(handle, timeout=600))
        with console.status("   waiting for the practice to apply it") as status:
            while not waiting.done():
                elapsed = int((clock.now() - started).total_seconds())
                status.update(f"   waiting for the practice to apply it ({elapsed} s simulated)")
                await asyncio.sleep(0.02)
        result = waiting.result()
        elapsed = int((clock.now() - started).total_seconds())
        console.print(f"   writeback {result.status.value} after {elapsed} s (simulated): {result.message or ''}")
        if result.created_id is None:
            raise PmsError(f"the booking was not applied (writeback {result.status.value})")
        booked = await pms.appointments.get(result.created_id)
        console.print(
            f"7. In the PMS now: appointment {booked.id} on {booked.start:%a %b %d %H:%M} "
            f"with {booked.provider_id} in {booked.operatory}"
        )
    console.rule("done")
    return 0


async def _a_caller(pms: SikkaProvider) -> Any:
    """A patient with a cell phone, preferring one who shares the phone with a household member."""
    page = await pms.patients.list()
    with_phone = [p for p in page.items if p.cell_phone and p.birthdate]
    by_phone: dict[str, list[Any]] = {}
    for p in with_phone:
        by_phone.setdefault("".join(c for c in p.cell_phone or "" if c.isdigit())[-10:], []).append(p)
    shared = [group[0] for group in by_phone.values() if len(group) > 1]
    return (shared or with_phone or [None])[0]


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    return asyncio.run(_demo(_console(args.no_color, out), args.seed))


# -- sandbox ----------------------------------------------------------------------------------------------


def cmd_sandbox(args: argparse.Namespace, out: TextIO) -> int:
    import contextlib
    import shlex

    if args.writeback_delay < 0:
        raise InvalidArgumentError("--writeback-delay must not be negative")
    sandbox = _sandbox_class()(
        seed=args.seed,
        writeback_delay=timedelta(seconds=args.writeback_delay),
        reject_overlaps=args.reject_overlaps,
    )
    creds = sandbox.credentials
    host = f"[{args.host}]" if ":" in args.host else args.host
    root = f"http://{host}:{args.port}"
    base_url = f"{root}/v4"
    out.write(
        "Sikka sandbox on loopback. It accepts these demo credentials (they open nothing real):\n"
        f"  base_url    {base_url}\n"
        f"  app_id      {creds.app_id}\n"
        f"  app_key     {creds.app_key.get_secret_value()}\n"
        f"  office_id   {creds.office_id}\n"
        f"  secret_key  {creds.secret_key.get_secret_value()}\n"
        f"  practice_id {creds.practice_id}\n"
        f"  timezone    {sandbox.timezone}\n"
    )
    overlaps = "refused (--reject-overlaps)" if args.reject_overlaps else "accepted"
    exports = {
        "APP_ID": creds.app_id,
        "APP_KEY": creds.app_key.get_secret_value(),
        "OFFICE_ID": creds.office_id,
        "SECRET_KEY": creds.secret_key.get_secret_value(),
        "PRACTICE_ID": creds.practice_id,
        "TIMEZONE": sandbox.timezone,
        "BASE_URL": base_url,
    }
    out.write(
        f"  writebacks  complete {args.writeback_delay:g} s after submission; overlapping bookings {overlaps}\n"
        f"  control     {root}/_sandbox  (faults, request log, writebacks, world; loopback clients only)\n"
        "\nFor `pms-connect check` and your own code, paste:\n"
        + "".join(f"export {ENV_PREFIX}{name}={shlex.quote(value)}\n" for name, value in exports.items())
        + "\nCtrl-C stops the sandbox.\n"
    )
    out.flush()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn stopped gracefully; no traceback
        sandbox.serve(host=args.host, port=args.port)
    out.write("Sandbox stopped.\n")
    return 0


# -- parser -----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pms-connect", description="Dental PMS integrations, from the shell.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="walk through the SDK against the embedded sandbox (offline)")
    demo.add_argument("--seed", type=int, default=7, help="the sandbox practice's seed")
    demo.add_argument("--no-color", action="store_true")
    demo.set_defaults(handler=cmd_demo)

    check = sub.add_parser("check", help="test a connection: real credentials, or --sandbox")
    check.add_argument("--sandbox", action="store_true", help="check the embedded sandbox instead")
    check.add_argument("--seed", type=int, default=7)
    for name in _CREDENTIAL_FIELDS:
        check.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"default: ${ENV_PREFIX}{name.upper()}")
    check.add_argument(
        "--timezone", help=f"the practice's IANA time zone; default: ${ENV_PREFIX}TIMEZONE or {DEFAULT_TIMEZONE}"
    )
    check.add_argument("--base-url", help=f"default: ${ENV_PREFIX}BASE_URL or Sikka's production URL")
    check.add_argument("--json", action="store_true", help="one JSON object on stdout, also on failure")
    check.add_argument("--no-color", action="store_true")
    check.set_defaults(handler=cmd_check)

    serve = sub.add_parser("sandbox", help="serve the fake Sikka on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument(
        "--writeback-delay",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="how long after submission a writeback completes (default: 90)",
    )
    serve.add_argument(
        "--reject-overlaps",
        action="store_true",
        help='fail bookings and moves into an operatory already taken ("Operatory double-booked")',
    )
    serve.set_defaults(handler=cmd_sandbox)

    try:
        from pms_connect._cli_vault import add_vault_commands
    except ImportError:  # pragma: no cover
        pass
    else:
        add_vault_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``pms-connect`` with ``argv``, writing to ``out`` (default: stdout); the exit status."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        if args.command == "vault":
            from pms_connect._cli_vault import run_vault_args

            return run_vault_args(args, stdout=out)
        result: int = args.handler(args, out)
    except KeyboardInterrupt:
        print("pms-connect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PmsError as exc:
        if getattr(args, "json", False):
            out.write(json.dumps({"ok": False, "error": str(exc)}) + "\n")
        _report(args.command, str(exc))
        return EXIT_USAGE if isinstance(exc, InvalidArgumentError) else EXIT_FAILED
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
