"""The ``pms-connect`` command: ``demo``, ``check``, ``sandbox`` and ``vault``.

``demo`` is the README's main job: it runs the SDK against the embedded sandbox, offline, in virtual time
(so a writeback that takes the practice 90 seconds completes at once). ``check`` is the scripted
connection test for real credentials; ``sandbox`` serves the provider's fake on loopback.

``check``, ``demo`` and ``sandbox`` take ``--provider NAME`` (default: ``sikka``). The providers are the
entries of a small registry (``_cli_providers``: ``register_provider``, ``CliProvider``): an entry builds
its provider and sandboxes from its settings (its ``PMS_CONNECT_<PROVIDER>_*`` variables, or ``check``'s
flags); past that, the commands use the provider-neutral [PmsProvider][pms_connect.protocol.PmsProvider]
only.

A user's mistake (a bad flag value, missing credentials, an unknown provider) prints one line on stderr and
exits 2; a failed check or demo exits 1; Ctrl-C exits 130. ``sikka_settings()`` reads the
``PMS_CONNECT_SIKKA_*`` variables as ``check`` does, for scripts such as ``examples/connection_test.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TextIO

from pms_connect import __version__
from pms_connect._cli_providers import (
    DEFAULT_PROVIDER,
    CliProvider,
    LocalSandbox,
    SandboxOptions,
    Setting,
    Settings,
    SikkaSettings,
    Target,
    get_provider,
    provider_names,
    register_provider,
    registered_providers,
    sikka_settings,
    unregister_provider,
)
from pms_connect.errors import InvalidArgumentError, PmsError
from pms_connect.models import ConnectionCheck, FeatureSet, MatchStatus, Patient, ProviderKind

if TYPE_CHECKING:
    from rich.console import Console

    from pms_connect.protocol import PmsProvider

__all__ = [
    "DEFAULT_PROVIDER",
    "CliProvider",
    "LocalSandbox",
    "SandboxOptions",
    "Setting",
    "Settings",
    "SikkaSettings",
    "Target",
    "build_parser",
    "get_provider",
    "main",
    "provider_names",
    "register_provider",
    "registered_providers",
    "sikka_settings",
    "unregister_provider",
]

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


def _report(command: str, message: str) -> None:
    """The one line on stderr that every failure prints."""
    print(f"pms-connect {command}: error: {message}", file=sys.stderr)


# -- check ------------------------------------------------------------------------------------------------


async def _run_check(target: Target) -> tuple[ConnectionCheck, FeatureSet | None, int | None]:
    async with target.provider() as pms:
        check = await pms.test_connection()
        if not check.ok:
            return check, None, None
        try:
            features = await pms.get_features()
            providers = len(await pms.providers.list().all())
        except PmsError as exc:
            return ConnectionCheck(ok=False, practice_name=check.practice_name, error=str(exc)), None, None
    return check, features, providers


def _setting_names() -> list[str]:
    """Every registered provider's settings, once each: ``check``'s flags."""
    return list(dict.fromkeys(s.name for entry in registered_providers() for s in entry.settings))


def _check_settings(args: argparse.Namespace, entry: CliProvider) -> Settings:
    """The selected provider's settings from ``check``'s flags (and its variables); a flag of another
    provider is a usage error rather than silently ignored."""
    own = {s.name for s in entry.settings}
    given = {name: getattr(args, name, None) for name in _setting_names()}
    foreign = [name for name, value in given.items() if value and name not in own]
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise InvalidArgumentError(f"{flags}: not a setting of --provider {entry.name}")
    return Settings(entry, {name: value for name, value in given.items() if name in own})


def cmd_check(args: argparse.Namespace, entry: CliProvider, out: TextIO) -> int:
    settings = _check_settings(args, entry)
    target = entry.sandbox_target(settings, seed=args.seed) if args.sandbox else entry.target(settings)
    check, features, providers = asyncio.run(_run_check(target))
    capabilities = sorted(c.value for c in features.capabilities) if features else []
    if args.json:
        payload = {
            "ok": check.ok,
            "host": target.host,
            "timezone": target.timezone,
            "practice_name": check.practice_name,
            "pms_name": check.pms_name,
            "latency_ms": check.latency_ms,
            "error": check.error,
            "capabilities": capabilities,
            "providers": providers,
        }
        out.write(json.dumps(payload) + "\n")
    if not check.ok:
        _report(args.command, f"the connection check of {target.host} failed: {check.error}")
        return EXIT_FAILED
    if not args.json:
        console = _console(args.no_color, out)
        console.print(
            f"[green]Connected[/green] to {check.practice_name} ({check.pms_name}) at {target.host} "
            f"in {check.latency_ms} ms"
        )
        console.print(f"Time zone: {target.timezone}")
        console.print("Capabilities: " + ", ".join(capabilities))
        console.print(f"Providers: {providers}")
    return 0


# -- demo -------------------------------------------------------------------------------------------------


def _masked(first: str, last: str) -> str:
    """Even sandbox names are shown the way a careful UI shows PHI: first name and an initial."""
    return f"{first} {last[:1]}." if last else first


async def _demo(console: Console, entry: CliProvider, seed: int) -> int:
    from rich.table import Table

    from pms_connect.models import BookingRequest
    from pms_connect.testing import FakeClock

    clock = FakeClock(start=datetime.now(timezone.utc).replace(microsecond=0))
    provider = entry.demo_provider(seed=seed, clock=clock)
    console.rule(f"pms_connect demo: the embedded {entry.label} sandbox (offline, virtual time)")
    async with provider as pms:
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
        settled = await pms.writebacks.status(handle)
        if settled.status.terminal:
            console.print(f"6. Booking sent: {entry.label} applied it at once ({settled.status.value})")
        elif handle.acknowledged:
            console.print(f"6. Booking sent: {entry.label} queued it as writeback {handle.writeback_id}")
        else:
            console.print(f"6. Booking sent, its answer lost: following it in {entry.label}'s writeback log")
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
        dentist = names.get(booked.provider_id or "", booked.provider_id)
        console.print(
            f"7. In the PMS now: appointment {booked.id} on {booked.start:%a %b %d %H:%M} "
            f"with {dentist} in operatory {booked.operatory}"
        )
    console.rule("done")
    return 0


async def _a_caller(pms: PmsProvider) -> Patient | None:
    """A patient with a cell phone, preferring one who shares the phone with a household member."""
    page = await pms.patients.list()
    with_phone = [p for p in page.items if p.cell_phone and p.birthdate]
    by_phone: dict[str, list[Patient]] = {}
    for p in with_phone:
        by_phone.setdefault("".join(c for c in p.cell_phone or "" if c.isdigit())[-10:], []).append(p)
    shared = [group[0] for group in by_phone.values() if len(group) > 1]
    candidates = shared or with_phone
    return candidates[0] if candidates else None


def cmd_demo(args: argparse.Namespace, entry: CliProvider, out: TextIO) -> int:
    return asyncio.run(_demo(_console(args.no_color, out), entry, args.seed))


# -- sandbox ----------------------------------------------------------------------------------------------


def cmd_sandbox(args: argparse.Namespace, entry: CliProvider, out: TextIO) -> int:
    import contextlib
    import shlex

    if args.writeback_delay < 0:
        raise InvalidArgumentError("--writeback-delay must not be negative")
    local = entry.local_sandbox(
        SandboxOptions(
            host=args.host,
            port=args.port,
            seed=args.seed,
            writeback_delay=timedelta(seconds=args.writeback_delay),
            reject_overlaps=args.reject_overlaps,
        )
    )
    width = max([11, *(len(label) for label, _ in local.details)])
    out.write(
        f"{entry.label} sandbox on loopback. It accepts these demo credentials (they open nothing real):\n"
        + "".join(f"  {label:<{width}} {value}\n" for label, value in local.details)
        + f"\nFor `{entry.check_command}` and your own code, paste:\n"
        + "".join(f"export {entry.variable(name)}={shlex.quote(value)}\n" for name, value in local.exports.items())
        + "\nCtrl-C stops the sandbox.\n"
    )
    out.flush()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn stopped gracefully; no traceback
        local.serve()
    out.write("Sandbox stopped.\n")
    return 0


# -- parser -----------------------------------------------------------------------------------------------


def _providers_help(*, variables: bool) -> str:
    """The ``--help`` epilog: each provider, and with ``variables`` its environment variables."""
    lines = [f"providers (--provider NAME; default: {DEFAULT_PROVIDER}):"]
    for entry in registered_providers():
        lines.append(f"  {entry.name}: {entry.summary}")
        if not variables:
            continue
        width = max(len(entry.variable(s.name)) for s in entry.settings)
        for setting in entry.settings:
            notes = "required" if setting.required else f"default: {setting.default}" if setting.default else ""
            lines.append(
                f"    {entry.variable(setting.name):<{width}}  {setting.help}" + (f" ({notes})" if notes else "")
            )
    return "\n".join(lines)


def _flag_help(name: str) -> str:
    """A ``check`` flag's help: what it is, and the variable of each provider that has it."""
    having = [(entry, s) for entry in registered_providers() for s in entry.settings if s.name == name]
    _, first = having[0]
    defaults = []
    for entry, setting in having:
        default = f"${entry.variable(name)}" + (f" or {setting.default}" if setting.default else "")
        defaults.append(default if len(having) == 1 else f"{default} ({entry.name})")
    return f"{first.help}; default: {', '.join(defaults)}"


def _add_provider_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider",
        default=DEFAULT_PROVIDER,
        metavar="NAME",
        help=f"the PMS provider: {', '.join(provider_names())} (default: {DEFAULT_PROVIDER})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``pms-connect`` parser, with a ``--provider`` choice for each registered provider."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="pms-connect",
        description="Dental PMS integrations, from the shell.",
        epilog=_providers_help(variables=True),
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="walk through the SDK against the embedded sandbox (offline)",
        epilog=_providers_help(variables=False),
        formatter_class=formatter,
    )
    _add_provider_option(demo)
    demo.add_argument("--seed", type=int, default=7, help="the sandbox practice's seed")
    demo.add_argument("--no-color", action="store_true")
    demo.set_defaults(handler=cmd_demo)

    check = sub.add_parser(
        "check",
        help="test a connection: real credentials, or --sandbox",
        epilog=_providers_help(variables=True),
        formatter_class=formatter,
    )
    _add_provider_option(check)
    check.add_argument("--sandbox", action="store_true", help="check the embedded sandbox instead")
    check.add_argument("--seed", type=int, default=7)
    settings = check.add_argument_group("settings", "each overrides the selected provider's variable")
    for name in _setting_names():
        settings.add_argument("--" + name.replace("_", "-"), dest=name, help=_flag_help(name))
    check.add_argument("--json", action="store_true", help="one JSON object on stdout, also on failure")
    check.add_argument("--no-color", action="store_true")
    check.set_defaults(handler=cmd_check)

    serve = sub.add_parser(
        "sandbox",
        help="serve the provider's fake on loopback",
        epilog=_providers_help(variables=False),
        formatter_class=formatter,
    )
    _add_provider_option(serve)
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
        result: int = args.handler(args, get_provider(args.provider), out)
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
