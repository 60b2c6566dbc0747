"""API keys, their permissions, and the per-customer-key throttle.

Every request carries ``Authorization: ODFHIR {DeveloperKey}/{CustomerKey}`` (OD-setup). Permissions belong to
the key and are named by area (OD-perms): ``ReadAll`` (every GET), ``Appointments`` (Appointments POST/PUT),
``Comm`` (Appointments PUT Break/Confirm/Note), ``Patients`` (POST/PUT), ``Payments`` (POST/PUT), and the
others. A call without its permission gets 401 "Invalid Permissions" (OD-impl).

Throttling is per customer key (OD-impl): a key with ``ReadAll`` only gets one request per five seconds, a key
with any other permission one a second, ``Enterprise`` one each 500 ms (OD-perms); "This time includes the
execution of the request itself", so the interval runs from a request's arrival. The Local API and the API
Service are not throttled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pms_connect.opendental.sandbox.wire import OdRefusal

__all__ = [
    "DEMO_DEVELOPER_KEY",
    "FULL_PERMISSIONS",
    "PERMISSION_AREAS",
    "READ_ONLY_PERMISSIONS",
    "ApiKeyEntry",
    "CustomerThrottle",
    "KeyTable",
]

#: every permission area of (OD-perms); ``TextingASAP`` and ``Enterprise`` are the "special" ones
PERMISSION_AREAS = (
    "ReadAll",
    "AllOthers",
    "Comm",
    "Documents",
    "Queries",
    "Appointments",
    "InsuranceSimple",
    "Insurance",
    "Patients",
    "Payments",
    "PayPlans",
    "ProcedureLogs",
    "Setup",
    "TextingASAP",
    "Enterprise",
)
#: "All except Special": what the sandbox's own credentials hold
FULL_PERMISSIONS = frozenset(PERMISSION_AREAS) - {"TextingASAP", "Enterprise"}
READ_ONLY_PERMISSIONS = frozenset({"ReadAll"})

DEMO_DEVELOPER_KEY = "odSbxDeveloper01"
"""The sandbox developer's key (a fixed demo value, handled as a secret all the same)."""


@dataclass
class ApiKeyEntry:
    """One customer key: the developer it belongs to, its permissions, and whether the office enabled it."""

    name: str
    developer_key: str
    customer_key: str
    permissions: frozenset[str]
    enabled: bool = True

    @property
    def interval(self) -> float:
        """Seconds between two requests of this key in remote mode (OD-impl, OD-perms)."""
        if "Enterprise" in self.permissions:
            return 0.5
        if self.permissions <= READ_ONLY_PERMISSIONS:
            return 5.0
        return 1.0

    @property
    def enterprise(self) -> bool:
        return "Enterprise" in self.permissions


@dataclass
class KeyTable:
    """The keys Open Dental HQ knows: developer keys and the customer keys issued under them."""

    developers: set[str] = field(default_factory=set)
    customers: dict[str, ApiKeyEntry] = field(default_factory=dict)

    def add(self, name: str, developer_key: str, customer_key: str, permissions: Iterable[str]) -> ApiKeyEntry:
        granted = frozenset(permissions)
        unknown = sorted(granted - set(PERMISSION_AREAS))
        if unknown:
            raise ValueError(f"unknown permission {unknown[0]!r}; known: {', '.join(PERMISSION_AREAS)}")
        self.developers.add(developer_key)
        entry = ApiKeyEntry(name, developer_key, customer_key, granted)
        self.customers[customer_key] = entry
        return entry

    def authenticate(self, header: str | None) -> ApiKeyEntry:
        """The key an ``Authorization`` header names, or a 401 with Open Dental's kind of explanation."""
        if not header or not header.strip():
            raise OdRefusal(
                401, "Authorization header is missing. Use: Authorization: ODFHIR {DeveloperKey}/{CustomerKey}"
            )
        scheme, _, credentials = header.strip().partition(" ")
        developer, slash, customer = credentials.strip().partition("/")
        if scheme != "ODFHIR" or not slash or not developer or not customer:
            raise OdRefusal(
                401, "Invalid Authorization header format. Use: Authorization: ODFHIR {DeveloperKey}/{CustomerKey}"
            )
        if developer not in self.developers:
            raise OdRefusal(401, "Invalid Credentials: the Developer key is invalid or has been disabled.")
        entry = self.customers.get(customer)
        if entry is None or entry.developer_key != developer:
            raise OdRefusal(
                401, "Invalid Credentials: the Customer key is invalid or is not assigned to this developer."
            )
        if not entry.enabled:
            raise OdRefusal(401, "Invalid Credentials: the Customer key has been disabled by the office.")
        return entry


@dataclass
class CustomerThrottle:
    """When each customer key may next be served (the clock's monotonic seconds)."""

    next_allowed: dict[str, float] = field(default_factory=dict)

    def wait(self, key: ApiKeyEntry, now: float) -> float:
        """Seconds until ``key`` may be served (0: now)."""
        return max(0.0, self.next_allowed.get(key.customer_key, float("-inf")) - now)

    def admit(self, key: ApiKeyEntry, now: float) -> None:
        """Serve a request of ``key`` arriving at ``now``: the next one waits a whole interval from here."""
        self.next_allowed[key.customer_key] = now + key.interval

    def clear(self) -> None:
        self.next_allowed.clear()
