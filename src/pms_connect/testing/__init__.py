"""Test helpers: a virtual clock, and the public import of each provider's sandbox.

``SikkaSandbox`` (and its ``SandboxFaults``) live with the Sikka provider, in
[pms_connect.sikka.sandbox][]; they need the ``sandbox`` extra (Starlette, uvicorn) and are imported from there
on first use, so that ``FakeClock`` works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pms_connect.testing.clock import FakeClock

if TYPE_CHECKING:
    from pms_connect.sikka.sandbox import SandboxFaults, SikkaSandbox

__all__ = ["FakeClock", "SandboxFaults", "SikkaSandbox"]


def __getattr__(name: str) -> Any:
    if name in ("SikkaSandbox", "SandboxFaults"):
        try:
            from pms_connect.sikka import sandbox
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"{name} needs the sandbox extra ({exc.name} is missing): pip install 'pms-connect[sandbox]'",
                name=exc.name,
            ) from exc
        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
