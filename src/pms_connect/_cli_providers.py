"""The PMS providers the ``pms-connect`` command knows, by ``--provider`` name: a small registry.

An entry (a [CliProvider][pms_connect.cli.CliProvider]) knows its name, its settings (each a flag of
``check`` and a ``PMS_CONNECT_<PROVIDER>_*`` environment variable), how to build its credentials and
provider from them, and its sandbox: in process for ``check --sandbox`` and ``demo``, on loopback for
``sandbox``. Whatever a command does with the provider afterwards goes through
[PmsProvider][pms_connect.protocol.PmsProvider] alone, so another provider is one more entry and one
``register_provider`` call.

An entry imports its provider's public names when a command needs them, so that ``--help`` and ``vault`` load
no provider (and no sandbox extra).
"""

from __future__ import annotations

import abc
import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pms_connect.errors import InvalidArgumentError, PmsError

if TYPE_CHECKING:
    from pms_connect.clock import Clock
    from pms_connect.opendental import OpenDentalCredentials, OpenDentalMode
    from pms_connect.protocol import PmsProvider
    from pms_connect.sikka import SikkaCredentials, SikkaProvider
    from pms_connect.testing import OpenDentalSandbox, SikkaSandbox

__all__ = [
    "DEFAULT_PROVIDER",
    "CliProvider",
    "LocalSandbox",
    "OpenDentalCli",
    "SandboxOptions",
    "Setting",
    "Settings",
    "SikkaCli",
    "SikkaSettings",
    "Target",
    "get_provider",
    "provider_names",
    "register_provider",
    "registered_providers",
    "sikka_settings",
    "unregister_provider",
]

DEFAULT_PROVIDER = "sikka"
"""The provider of ``check``, ``demo`` and ``sandbox`` without ``--provider``."""

_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_SETTING = re.compile(r"[a-z][a-z0-9_]*\Z")
# The commands' own options: a setting with one of these names would take their flag or their dest.
_RESERVED = frozenset({"command", "handler", "help", "json", "no_color", "provider", "sandbox", "seed"})


# -- what an entry declares and returns -------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting of a provider: the flag ``--app-id`` of ``check`` and the variable ``<prefix>APP_ID``."""

    name: str
    """``app_id``: the flag's and the variable's name (lowercase, underscores)."""
    help: str
    """What it is, for ``--help``."""
    required: bool = False
    """Whether ``check`` (without ``--sandbox``) refuses to run without it."""
    default: str | None = None
    """The default as ``--help`` shows it (the entry applies it), or None."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Target:
    """What ``check`` connects to: what a message may show of it, and the provider, built on demand (inside
    the command's event loop)."""

    host: str
    """The host and port only: no credential, path or query."""
    timezone: str
    provider: Callable[[], PmsProvider]


@dataclass(frozen=True)
class SandboxOptions:
    """``pms-connect sandbox``'s options, for the entry to build its local sandbox with."""

    host: str
    port: int
    seed: int
    writeback_delay: timedelta
    reject_overlaps: bool

    @property
    def root(self) -> str:
        """``http://host:port`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class LocalSandbox:
    """A sandbox ready to serve on loopback, and what ``pms-connect sandbox`` prints about it."""

    details: Sequence[tuple[str, str]]
    """``(label, value)`` lines: the demo credentials it accepts, its URLs, its behaviour."""
    exports: Mapping[str, str]
    """Setting name to value: printed as ``export`` lines of the provider's variables, for ``check``."""
    serve: Callable[[], None]
    """Serve until Ctrl-C (which raises ``KeyboardInterrupt`` once the server stopped)."""


class Settings:
    """One provider's settings as a command line gives them: each from its flag, else from its variable."""

    def __init__(
        self,
        entry: CliProvider,
        flags: Mapping[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.entry = entry
        self._known = {s.name for s in entry.settings}
        unknown = sorted(set(flags or {}) - self._known)
        if unknown:
            raise InvalidArgumentError(f"not settings of {entry.name}: {', '.join(unknown)}")
        self._flags = {name: value for name, value in (flags or {}).items() if value}
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        """The setting's value from its flag, else its variable; None when neither is set (or empty)."""
        if name not in self._known:
            raise KeyError(name)
        return self._flags.get(name) or self._environ.get(self.entry.variable(name)) or None

    def values(self, names: Sequence[str]) -> dict[str, str]:
        """Those of ``names`` that are set, with their values."""
        return {name: value for name in names if (value := self.get(name))}

    def flagged(self, *names: str) -> bool:
        """Whether any of ``names`` came from a flag."""
        return any(name in self._flags for name in names)

    def require(self) -> None:
        """Raise ``InvalidArgumentError`` naming the variables (and flags) of the required settings not set."""
        missing = [s for s in self.entry.settings if s.required and not self.get(s.name)]
        if missing:
            env = ", ".join(self.entry.variable(s.name) for s in missing)
            flags = " ".join(s.flag for s in missing)
            command = self.entry.check_command
            raise InvalidArgumentError(f"missing credentials: set {env} ({command} also takes {flags})")


class CliProvider(abc.ABC):
    """One PMS provider as ``pms-connect`` knows it. A subclass sets the class attributes and builds the
    provider and its sandboxes; [register_provider][pms_connect.cli.register_provider] makes it a
    ``--provider`` choice."""

    name: str
    """The ``--provider`` value: lowercase letters, digits and dashes."""
    label: str
    """How messages name it: "Sikka"."""
    summary: str
    """One line for ``--help``."""
    env_prefix: str
    """Its variables' prefix: ``PMS_CONNECT_SIKKA_``."""
    settings: tuple[Setting, ...]
    """Its settings, in the order ``--help`` lists them."""

    def variable(self, name: str) -> str:
        """The environment variable of the setting ``name``."""
        return self.env_prefix + name.upper()

    @property
    def check_command(self) -> str:
        """``pms-connect check``, with ``--provider`` unless this is the default provider."""
        return "pms-connect check" + ("" if self.name == DEFAULT_PROVIDER else f" --provider {self.name}")

    @abc.abstractmethod
    def target(self, settings: Settings) -> Target:
        """``check``'s target from real settings; ``InvalidArgumentError`` for missing or malformed ones."""

    @abc.abstractmethod
    def sandbox_target(self, settings: Settings, *, seed: int) -> Target:
        """``check --sandbox``'s target: the in-process sandbox seeded with ``seed``; ``settings`` may shape
        it (a time zone) or carry credentials to try on it."""

    @abc.abstractmethod
    def demo_provider(self, *, seed: int, clock: Clock) -> PmsProvider:
        """A provider wired to an in-process sandbox seeded with ``seed`` that runs on ``clock`` (the demo's
        virtual time: the sandbox's writebacks complete as the clock jumps)."""

    @abc.abstractmethod
    def local_sandbox(self, options: SandboxOptions) -> LocalSandbox:
        """The sandbox ``pms-connect sandbox`` serves."""


# -- the registry -----------------------------------------------------------------------------------------

_REGISTRY: dict[str, CliProvider] = {}


def register_provider(entry: CliProvider, *, replace: bool = False) -> None:
    """Make ``entry`` a ``--provider`` choice; ``replace`` lets it take the place of one of the same name."""
    for attribute in ("name", "label", "summary", "env_prefix", "settings"):
        if not hasattr(entry, attribute):
            raise InvalidArgumentError(f"{type(entry).__name__} sets no {attribute}")
    if not _NAME.match(entry.name):
        raise InvalidArgumentError(f"provider name {entry.name!r}: lowercase letters, digits and dashes")
    if entry.name in _REGISTRY and not replace:
        raise InvalidArgumentError(f"a provider named {entry.name!r} is registered already")
    names = [s.name for s in entry.settings]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"{entry.name}: a setting is declared twice")
    for name in names:
        if not _SETTING.match(name) or name in _RESERVED:
            raise InvalidArgumentError(f"{entry.name}: {name!r} cannot be a setting name")
    _REGISTRY[entry.name] = entry


def unregister_provider(name: str) -> None:
    """Remove the provider ``name`` (a test's fake, say); nothing happens if there is none."""
    _REGISTRY.pop(name, None)


def registered_providers() -> list[CliProvider]:
    """The registered providers, in registration order."""
    return list(_REGISTRY.values())


def provider_names() -> list[str]:
    """The ``--provider`` choices, in registration order."""
    return list(_REGISTRY)


def get_provider(name: str) -> CliProvider:
    """The provider ``name``; ``InvalidArgumentError`` naming the known ones if there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY) or "none"
        raise InvalidArgumentError(f"unknown provider {name!r}; known providers: {known}") from None


# -- helpers for entries ----------------------------------------------------------------------------------


def checked_timezone(zone: str) -> str:
    """``zone`` if it is an IANA zone, else ``InvalidArgumentError`` naming it."""
    from pms_connect.windows import resolve_zone

    resolve_zone(zone)
    return zone


def checked_url(url: str, *, what: str, example: str) -> str:
    """``url`` if it is an http(s) URL with a host, else ``InvalidArgumentError`` (which does not echo it: a
    mistyped URL may hold a credential). ``what`` names where it came from."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(f"{what} is not a URL like {example}")
    return url


def url_host(url: str) -> str:
    """A URL's host and port: all that a message shows of it (no credentials, path or query)."""
    import httpx

    return httpx.URL(url).netloc.decode("ascii")


# -- Sikka ------------------------------------------------------------------------------------------------

DEFAULT_TIMEZONE = "America/Chicago"
_SIKKA_CREDENTIALS = ("app_id", "app_key", "office_id", "secret_key", "practice_id")


@dataclass(frozen=True)
class SikkaSettings:
    """What a Sikka connection needs besides code: credentials, the practice's time zone, the base URL."""

    credentials: SikkaCredentials
    timezone: str
    base_url: str

    @property
    def host(self) -> str:
        """The base URL's host and port: all that a message shows of it (no credentials, path or query)."""
        return url_host(self.base_url)

    def provider(self, **kwargs: Any) -> SikkaProvider:
        """A ``SikkaProvider`` for these settings; ``kwargs`` go to it as they are."""
        from pms_connect.sikka import SikkaProvider

        return SikkaProvider(self.credentials, timezone=self.timezone, base_url=self.base_url, **kwargs)


def _sikka_sandbox() -> type[SikkaSandbox]:
    try:
        from pms_connect.testing import SikkaSandbox
    except ImportError as exc:  # its message names the extra to install
        raise PmsError(str(exc)) from None
    return SikkaSandbox


class SikkaCli(CliProvider):
    """Sikka ONE: ``PMS_CONNECT_SIKKA_*``, [SikkaProvider][pms_connect.sikka.SikkaProvider] and
    [SikkaSandbox][pms_connect.testing.SikkaSandbox]."""

    name = "sikka"
    label = "Sikka"
    summary = "Sikka ONE, which reaches Dentrix, Eaglesoft, Open Dental and other PMSs"
    env_prefix = "PMS_CONNECT_SIKKA_"
    settings = (
        Setting("app_id", "the Sikka app's id", required=True),
        Setting("app_key", "the Sikka app's key", required=True),
        Setting("office_id", "the practice's office id, from authorized_practices", required=True),
        Setting("secret_key", "the office's secret key", required=True),
        Setting("practice_id", "which practice of the office", default="1"),
        Setting("timezone", "the practice's IANA time zone", default=DEFAULT_TIMEZONE),
        Setting("base_url", "the API's base URL", default="Sikka's production URL"),
    )

    def sikka_settings(self, settings: Settings) -> SikkaSettings:
        """Credentials, time zone and base URL from ``settings``, checked."""
        return SikkaSettings(self.credentials(settings), self.timezone(settings), self.base_url(settings))

    def credentials(self, settings: Settings) -> SikkaCredentials:
        from pydantic import ValidationError

        from pms_connect.sikka import SikkaCredentials

        settings.require()
        try:
            return SikkaCredentials(**settings.values(_SIKKA_CREDENTIALS))
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise InvalidArgumentError(f"invalid credentials: {fields}") from None

    def timezone(self, settings: Settings) -> str:
        return checked_timezone(settings.get("timezone") or DEFAULT_TIMEZONE)

    def base_url(self, settings: Settings) -> str:
        from pms_connect.sikka import DEFAULT_BASE_URL

        return checked_url(
            settings.get("base_url") or DEFAULT_BASE_URL,
            what=f"the base URL (--base-url or {self.variable('base_url')})",
            example="https://host/v4",
        )

    def target(self, settings: Settings) -> Target:
        sikka = self.sikka_settings(settings)
        return Target(sikka.host, sikka.timezone, sikka.provider)

    def sandbox_target(self, settings: Settings, *, seed: int) -> Target:
        sandbox = _sikka_sandbox()(seed=seed, timezone=self.timezone(settings))
        # With credential flags, check those credentials against the sandbox (e.g. to see a refusal).
        flagged = settings.flagged(*_SIKKA_CREDENTIALS)
        credentials = self.credentials(settings) if flagged else sandbox.credentials
        sikka = SikkaSettings(credentials, sandbox.timezone, sandbox.base_url)
        return Target(sikka.host, sikka.timezone, functools.partial(sikka.provider, transport=sandbox.transport))

    def demo_provider(self, *, seed: int, clock: Clock) -> PmsProvider:
        return _sikka_sandbox()(seed=seed, clock=clock).provider()

    def local_sandbox(self, options: SandboxOptions) -> LocalSandbox:
        sandbox = _sikka_sandbox()(
            seed=options.seed, writeback_delay=options.writeback_delay, reject_overlaps=options.reject_overlaps
        )
        creds = sandbox.credentials
        exports = {
            "app_id": creds.app_id,
            "app_key": creds.app_key.get_secret_value(),
            "office_id": creds.office_id,
            "secret_key": creds.secret_key.get_secret_value(),
            "practice_id": creds.practice_id,
            "timezone": sandbox.timezone,
            "base_url": f"{options.root}/v4",
        }
        overlaps = "refused (--reject-overlaps)" if options.reject_overlaps else "accepted"
        delay = options.writeback_delay.total_seconds()
        details = [
            ("base_url", exports["base_url"]),
            *((name, exports[name]) for name in _SIKKA_CREDENTIALS),
            ("timezone", sandbox.timezone),
            ("writebacks", f"complete {delay:g} s after submission; overlapping bookings {overlaps}"),
            (
                "control",
                f"{options.root}/_sandbox  (faults, request log, writebacks, world; loopback clients only)",
            ),
        ]
        return LocalSandbox(
            details=details,
            exports=exports,
            serve=lambda: sandbox.serve(host=options.host, port=options.port),
        )


SIKKA = SikkaCli()
register_provider(SIKKA)


def sikka_settings(
    given: Mapping[str, str | None] | None = None, *, environ: Mapping[str, str] | None = None
) -> SikkaSettings:
    """The settings from ``given`` values (``pms-connect check``'s flags: ``app_id``, ..., ``timezone``,
    ``base_url``), else the ``PMS_CONNECT_SIKKA_*`` environment variables, else the defaults (practice 1,
    America/Chicago, Sikka's production URL). Raises ``InvalidArgumentError`` for missing credentials, an
    unknown time zone or a base URL that is not a URL."""
    known = {s.name for s in SIKKA.settings}
    flags = {name: value for name, value in (given or {}).items() if name in known}
    return SIKKA.sikka_settings(Settings(SIKKA, flags, environ))


# -- Open Dental ------------------------------------------------------------------------------------------

_OD_CREDENTIALS = ("developer_key", "customer_key", "clinic_num")


class OpenDentalCli(CliProvider):
    """Open Dental's API: ``PMS_CONNECT_OPENDENTAL_*``,
    [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider] and
    [OpenDentalSandbox][pms_connect.testing.OpenDentalSandbox]."""

    name = "opendental"
    label = "Open Dental"
    summary = "Open Dental's own API: remote (through the eConnector), the API Service or the Local API"
    env_prefix = "PMS_CONNECT_OPENDENTAL_"
    settings = (
        Setting("developer_key", "the developer's key, from Open Dental's Developer Portal", required=True),
        Setting("customer_key", "the practice's customer key (Setup > Advanced Setup > API)", required=True),
        Setting("clinic_num", "one clinic of a practice that uses clinics"),
        Setting("timezone", "the practice's IANA time zone", default=DEFAULT_TIMEZONE),
        Setting("mode", "remote, service, local, or waterfall (service, then remote)", default="remote"),
        Setting("base_url", "the API's base URL", default="the mode's"),
    )

    def credentials(self, settings: Settings) -> OpenDentalCredentials:
        from pydantic import ValidationError

        from pms_connect.opendental import OpenDentalCredentials

        settings.require()
        try:
            return OpenDentalCredentials(**settings.values(_OD_CREDENTIALS))
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise InvalidArgumentError(f"invalid credentials: {fields}") from None

    def _connection(self, settings: Settings) -> tuple[str, OpenDentalMode, str | None]:
        from pms_connect.opendental import MODES

        zone = checked_timezone(settings.get("timezone") or DEFAULT_TIMEZONE)
        given_mode = settings.get("mode") or "remote"
        mode = next((m for m in MODES if m == given_mode), None)
        if mode is None:
            raise InvalidArgumentError(f"the mode must be one of {', '.join(MODES)}")
        given = settings.get("base_url")
        what = f"the base URL (--base-url or {self.variable('base_url')})"
        url = checked_url(given, what=what, example="https://host/api/v1") if given else None
        return zone, mode, url

    def target(self, settings: Settings) -> Target:
        from pms_connect.opendental import BASE_URLS, OpenDentalProvider

        credentials = self.credentials(settings)
        zone, mode, url = self._connection(settings)
        host = url_host(url or BASE_URLS.get(mode, BASE_URLS["service"]))
        return Target(
            host,
            zone,
            lambda: OpenDentalProvider(credentials, timezone=zone, mode=mode, base_url=url),
        )

    def sandbox_target(self, settings: Settings, *, seed: int) -> Target:
        zone = checked_timezone(settings.get("timezone") or DEFAULT_TIMEZONE)
        sandbox = _opendental_sandbox()(seed=seed, timezone=zone)
        flagged = settings.flagged(*_OD_CREDENTIALS)
        credentials = self.credentials(settings) if flagged else sandbox.credentials
        return Target(
            url_host(sandbox.base_url),
            zone,
            lambda: sandbox.provider(credentials=credentials),
        )

    def demo_provider(self, *, seed: int, clock: Clock) -> PmsProvider:
        return _opendental_sandbox()(seed=seed, clock=clock).provider()

    def local_sandbox(self, options: SandboxOptions) -> LocalSandbox:
        # Served as the API Service would be (port 30223's behaviour: no throttle, pages of up to 1,000).
        sandbox = _opendental_sandbox()(seed=options.seed, mode="service", reject_overlaps=options.reject_overlaps)
        creds = sandbox.credentials
        exports = {
            "developer_key": creds.developer_key.get_secret_value(),
            "customer_key": creds.customer_key.get_secret_value(),
            "timezone": sandbox.timezone,
            "mode": "service",
            "base_url": f"{options.root}/api/v1",
        }
        overlaps = "refused (--reject-overlaps)" if options.reject_overlaps else "accepted, as the docs imply"
        details = [
            ("base_url", exports["base_url"]),
            ("developer_key", exports["developer_key"]),
            ("customer_key", exports["customer_key"]),
            ("timezone", sandbox.timezone),
            ("writes", f"applied at once (Open Dental's are synchronous); overlapping bookings {overlaps}"),
        ]
        return LocalSandbox(
            details=details,
            exports=exports,
            serve=lambda: sandbox.serve(host=options.host, port=options.port),
        )


def _opendental_sandbox() -> type[OpenDentalSandbox]:
    try:
        from pms_connect.testing import OpenDentalSandbox
    except ImportError as exc:  # its message names the extra to install
        raise PmsError(str(exc)) from None
    return OpenDentalSandbox


OPENDENTAL = OpenDentalCli()
register_provider(OPENDENTAL)
