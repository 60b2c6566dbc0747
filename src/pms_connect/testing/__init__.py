"""Test helpers: a virtual clock, and the public import of each provider's sandbox.

``SikkaSandbox`` (and its ``SandboxFaults``) live with the Sikka provider, in [pms_connect.sikka.sandbox][];
``OpenDentalSandbox`` with the Open Dental provider, in [pms_connect.opendental.sandbox][]. They need the
``sandbox`` extra (Starlette, uvicorn) and are imported from there on first use, so that ``FakeClock`` works
without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pms_connect.testing.clock import FakeClock

if TYPE_CHECKING:
    from pms_connect.opendental.sandbox import OpenDentalSandbox
    from pms_connect.sikka.sandbox import SandboxFaults, SikkaSandbox

__all__ = ["FakeClock", "OpenDentalSandbox", "SandboxFaults", "SikkaSandbox"]

_SANDBOXES = {
    "SikkaSandbox": "pms_connect.sikka.sandbox",
    "SandboxFaults": "pms_connect.sikka.sandbox",
    "OpenDentalSandbox": "pms_connect.opendental.sandbox",
}


def __getattr__(name: str) -> Any:
    home = _SANDBOXES.get(name)
    if home is not None:
        try:
            sandbox = importlib.import_module(home)
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"{name} needs the sandbox extra ({exc.name} is missing): pip install 'pms-connect[sandbox]'",
                name=exc.name,
            ) from exc
        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
