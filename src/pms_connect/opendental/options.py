"""The settings an [OpenDentalProvider][pms_connect.opendental.OpenDentalProvider] takes: where it reaches
Open Dental (the mode) and what the key may do (its API permissions).

Modes (Open Dental's "API Modes - Local, Service, and Cloud"):

* ``"remote"``: Open Dental's cloud endpoint, routed through Open Dental's servers to the office's
  eConnector; throttled per customer key.
* ``"service"``: the API Service on the office's eConnector server (port 30223), reachable from the office's
  network; not throttled, 1000 rows a page.
* ``"local"``: the Local API inside a running Open Dental program on one workstation (port 30222); not
  throttled, 1000 rows a page.
* ``"waterfall"``: Open Dental's recommendation: the API Service when it answers, else the remote API.

Permissions are the API permission groups of the developer key, as Open Dental's permissions table names
them (``"ReadAll"``, ``"Appointments"``, ``"Comm"``, ``"Patients"``, ``"Payments"``...). The API does not
report a customer key's permissions, so they are declared, from the Developer Portal, when known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, get_args

from pms_connect.errors import InvalidArgumentError

__all__ = [
    "BASE_URLS",
    "LOCAL_URL",
    "MODES",
    "PERMISSIONS",
    "REMOTE_URL",
    "SERVICE_URL",
    "OpenDentalMode",
]

OpenDentalMode = Literal["remote", "service", "local", "waterfall"]
"""How the provider reaches Open Dental: ``"remote"``, ``"service"``, ``"local"`` or ``"waterfall"``."""

MODES: tuple[OpenDentalMode, ...] = get_args(OpenDentalMode)
"""Every mode name, in the order above."""

REMOTE_URL = "https://api.opendental.com/api/v1"
"""Open Dental's remote (cloud) API."""
SERVICE_URL = "http://localhost:30223/api/v1"
"""The API Service on this machine; from another machine of the office use the server's address
(``http://{server IP}:30223/api/v1``) as ``base_url``."""
LOCAL_URL = "http://localhost:30222/api/v1"
"""The Local API of the Open Dental program running on this workstation."""

BASE_URLS: Mapping[str, str] = {"remote": REMOTE_URL, "service": SERVICE_URL, "local": LOCAL_URL}
"""The default base URL of each single-server mode (``"waterfall"`` tries the service's, then the remote)."""

PERMISSIONS: frozenset[str] = frozenset(
    {
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
    }
)
"""Open Dental's API permission groups (its "API Permissions" table, spaces removed)."""

_BY_FOLDED = {name.casefold(): name for name in PERMISSIONS}


def parse_permissions(permissions: Iterable[str] | None) -> frozenset[str] | None:
    """``permissions`` as Open Dental's group names (case and spaces ignored: ``"Read All"`` is
    ``"ReadAll"``); ``ReadAll`` is implied, since every key reads. None stays None (not declared)."""
    if permissions is None:
        return None
    if isinstance(permissions, str):
        raise InvalidArgumentError("permissions must be a collection of permission names, not one string")
    names: set[str] = {"ReadAll"}
    for value in permissions:
        if not isinstance(value, str):
            raise InvalidArgumentError("permissions must be strings")
        name = _BY_FOLDED.get("".join(value.split()).casefold())
        if name is None:
            raise InvalidArgumentError(
                f"unknown Open Dental API permission; use one of {', '.join(sorted(PERMISSIONS))}"
            )
        names.add(name)
    return frozenset(names)
